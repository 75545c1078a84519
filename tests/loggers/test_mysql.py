"""ContinuousLogger into the real MariaDB on 127.0.0.1 (database ``test``).

Outages are real: ``KILL CONNECTION`` from the test's own connection, and a
fault proxy between logger and server (tests/loggers/faultproxy.py) that
resets, refuses, black-holes, or swallows the reply to a COMMIT.
"""
import datetime

import gevent
import pytest

from flubber.io import TCPClient, TCPServer
from flubber.loggers import (
    ContinuousLogger,
    DatabaseError,
    LoggerFailedError,
    TableError,
    UnknownCodenameError,
)

from tests.loggers.conftest import MYSQL_HOST, MYSQL_PORT, Ticker, wait_for
from tests.loggers.faultproxy import FaultProxy

pytestmark = pytest.mark.mariadb

T0 = 1700000000.0
#: The statement whose reply says "committed", per table layout.
COMMITTING = {"flubber": b"INSERT", "legacy": b"COMMIT"}


def _logger(setup, url=None, **kwargs):
    return ContinuousLogger(setup.table, "root", "", setup.codenames, url=url or setup.url, **kwargs)


@pytest.fixture
def proxy(mariadb_available):
    proxy = FaultProxy.launch((MYSQL_HOST, MYSQL_PORT))
    yield proxy
    proxy.close()


def _proxy_url(proxy):
    return "mysql://root:@127.0.0.1:%d/test" % proxy.port


def _produce(logger, codename, count, chunk=1000, start=0):
    """Enqueue values start..start+count-1 in chunks, yielding between chunks."""
    for first in range(start, start + count, chunk):
        for i in range(first, min(first + chunk, start + count)):
            logger.enqueue_point(codename, (T0 + i * 1e-3, float(i)))
        gevent.sleep(0.001)


def _assert_exactly_once_in_order(setup, count):
    values = setup.values()
    assert len(values) == count, "stored %d of %d points" % (len(values), count)
    assert len(set(values)) == count, "%d duplicates" % (count - len(set(values)))
    assert values == [float(i) for i in range(count)], "points out of order"


# -- round trip ---------------------------------------------------------------
def test_round_trip_in_order_with_exact_values_and_microseconds(mysql_setup):
    mysql_setup.create()
    name_a, name_b = mysql_setup.codenames
    values = [0.1 * i + 1e-13 for i in range(3000)]
    with _logger(mysql_setup) as logger:
        for i, value in enumerate(values):
            logger.enqueue_point(name_a if i % 3 else name_b, (T0 + i * 1e-6 + 0.5, value))
        logger.enqueue_point(name_a, (T0, float("nan")))
    rows = mysql_setup.db.query(
        "SELECT d.`codename`, UNIX_TIMESTAMP(t.`time`), t.`value`, DATE_FORMAT(CONVERT_TZ(t.`time`, "
        "@@session.time_zone, '+00:00'), '%%Y-%%m-%%d %%H:%%i:%%s.%%f') FROM `{}` t JOIN "
        "`dateplots_descriptions` d ON d.`id` = t.`type` ORDER BY t.`id`".format(mysql_setup.table), ())
    assert [row[2] for row in rows] == values + [None]
    assert rows[0][0] == name_b and rows[1][0] == name_a
    assert rows[0][3] == "2023-11-14 22:13:20.500000"
    assert rows[7][3] == "2023-11-14 22:13:20.500007"
    assert float(rows[7][1]) == pytest.approx(T0 + 0.500007, abs=1e-6)


def test_create_tables_makes_the_cinfdata_layout_with_microseconds_and_unique_key(mysql_setup):
    ids = mysql_setup.create()
    assert sorted(ids) == sorted(mysql_setup.codenames)
    columns = {row[0]: row[1] for row in mysql_setup.db.query("SHOW COLUMNS FROM `%s`" % mysql_setup.table)}
    assert columns["time"] == "timestamp(6)"
    assert columns["type"].startswith("smallint") and columns["value"] == "double"
    keys = {(row[2], row[4]) for row in mysql_setup.db.query("SHOW INDEX FROM `%s`" % mysql_setup.table)
            if row[1] == 0}
    assert {("origin_seq", "origin"), ("origin_seq", "seq")} <= keys
    assert mysql_setup.create() == ids  # idempotent


def test_pyexplabsys_legacy_table_works_and_is_detected(mysql_setup):
    mysql_setup.create(layout="legacy")
    with _logger(mysql_setup) as logger:
        _produce(logger, mysql_setup.codenames[0], 5000)
        assert logger.flush(timeout=60) == 0
        assert logger.status()["dedup"] is False
    _assert_exactly_once_in_order(mysql_setup, 5000)


def test_a_datetime_time_column_gets_the_server_time_zone_like_from_unixtime(mysql_setup):
    mysql_setup.create(layout="datetime")
    with _logger(mysql_setup) as logger:
        logger.enqueue_point(mysql_setup.codenames[0], (T0 + 0.125, 1.0))
    stored = mysql_setup.db.scalar("SELECT `time` FROM `%s`" % mysql_setup.table)
    expected = mysql_setup.db.scalar("SELECT FROM_UNIXTIME(%s)", (T0 + 0.125,))
    assert stored == expected and stored.microsecond == 125000


# -- errors at start ------------------------------------------------------------
def test_an_unknown_codename_is_an_error_at_start(mysql_setup):
    mysql_setup.create()
    logger = ContinuousLogger(mysql_setup.table, "root", "", ["flubber_no_such_codename"], url=mysql_setup.url)
    with pytest.raises(UnknownCodenameError, match="exactly one row in dateplots_descriptions"):
        logger.start()


def test_a_missing_table_is_an_error_at_start(mysql_setup):
    mysql_setup.create()
    logger = ContinuousLogger("dateplots_flubber_missing", "root", "", mysql_setup.codenames, url=mysql_setup.url)
    with pytest.raises(TableError, match="create_tables"):
        logger.start()


def test_a_refused_account_is_an_error_at_start(mysql_setup):
    mysql_setup.create()
    logger = ContinuousLogger(mysql_setup.table, "flubber_nobody", "wrong", mysql_setup.codenames,
                              host=MYSQL_HOST, database="test")
    with pytest.raises(DatabaseError, match="refuses"):
        logger.start()


def test_create_tables_option_on_mariadb(mysql_setup):
    with _logger(mysql_setup, create_tables=True) as logger:
        logger.enqueue_point(mysql_setup.codenames[1], (T0, 2.0))
    assert mysql_setup.values() == [2.0]


# -- outages --------------------------------------------------------------------
def _kill(setup, logger, reconnects_before):
    """KILL the logger's server connection once it has reconnected, while a
    batch is in flight (the INSERT or the COMMIT is on its way)."""
    wait_for(lambda: logger.status()["reconnects"] >= reconnects_before
             and logger.status()["connection_id"] is not None and logger.status()["in_flight"] > 0,
             interval=0.0005)
    setup.db.query("KILL CONNECTION %s", (logger.status()["connection_id"],))


@pytest.mark.parametrize("layout", ["flubber", "legacy"])
def test_three_killed_connections_during_30000_points_lose_and_repeat_nothing(mysql_setup, layout):
    mysql_setup.create(layout=layout)
    count = 30000
    logger = _logger(mysql_setup, max_batch=500).start()
    producer = gevent.spawn(_produce, logger, mysql_setup.codenames[0], count, 500)
    for outage, at in enumerate((5000, 15000, 25000)):
        wait_for(lambda: logger.status()["written"] >= min(at, logger.status()["enqueued"]) and
                 logger.status()["enqueued"] >= at, timeout=60)
        _kill(mysql_setup, logger, outage)
    producer.get(timeout=60)
    assert logger.stop(timeout=60) == 0
    status = logger.status()
    assert status["reconnects"] >= 3 and status["retried"] >= 3
    _assert_exactly_once_in_order(mysql_setup, count)


@pytest.mark.parametrize("layout", ["flubber", "legacy"])
def test_a_lost_commit_reply_stores_the_batch_once(mysql_setup, proxy, layout):
    """The server commits, the reply never arrives: the batch is in doubt.
    (A flubber table takes each batch as one autocommitted INSERT.)"""
    mysql_setup.create(layout=layout)
    logger = _logger(mysql_setup, url=_proxy_url(proxy)).start()
    name = mysql_setup.codenames[0]
    _produce(logger, name, 100)
    assert logger.flush(timeout=30) == 0
    proxy.drop_replies(COMMITTING[layout])
    _produce(logger, name, 100, start=100)
    _produce(logger, name, 100, start=200)
    assert logger.stop(timeout=60) == 0
    assert proxy.commits_dropped == 1
    status = logger.status()
    assert status["retried"] >= 1
    if layout == "flubber":
        assert status["duplicates"] >= 1  # sent again, the unique key skipped the copies
    _assert_exactly_once_in_order(mysql_setup, 300)


@pytest.mark.parametrize("layout", ["flubber", "legacy"])
def test_a_batch_in_doubt_is_kept_in_the_spool_and_settled_by_the_next_logger(mysql_setup, proxy,
                                                                              tmp_path, layout):
    """The COMMIT reply is lost and the logger stops before it can find out
    (as if the process died): the next logger on the spool settles the doubt."""
    mysql_setup.create(layout=layout)
    spool = tmp_path / "doubt.spool"
    name = mysql_setup.codenames[0]
    first = _logger(mysql_setup, url=_proxy_url(proxy), spool=spool).start()
    _produce(first, name, 100)
    assert first.flush(timeout=30) == 0
    proxy.drop_replies(COMMITTING[layout], then_down=True)
    _produce(first, name, 100, start=100)
    wait_for(lambda: proxy.commits_dropped == 1)
    assert first.stop(timeout=0.3) == 100  # in doubt: kept
    assert mysql_setup.count() == 200  # ... but the server had committed them
    proxy.up()
    second = _logger(mysql_setup, url=_proxy_url(proxy), spool=spool).start()
    assert second.stop(timeout=60) == 0
    _assert_exactly_once_in_order(mysql_setup, 200)


def test_a_server_down_for_a_while_loses_nothing(mysql_setup, proxy):
    mysql_setup.create()
    logger = _logger(mysql_setup, url=_proxy_url(proxy), max_backoff=0.2).start()
    name = mysql_setup.codenames[0]
    _produce(logger, name, 2000)
    proxy.down()
    _produce(logger, name, 2000, start=2000)
    wait_for(lambda: logger.status()["retried"] + logger.status()["state"].count("disconnected") >= 2)
    assert logger.status()["last_error"]
    proxy.up()
    assert logger.stop(timeout=60) == 0
    _assert_exactly_once_in_order(mysql_setup, 4000)


def test_a_black_holed_network_times_out_and_the_stale_session_is_ended(mysql_setup, proxy):
    mysql_setup.create(layout="legacy")
    logger = _logger(mysql_setup, url=_proxy_url(proxy), query_timeout=1, connect_timeout=1,
                     max_backoff=0.2).start()
    name = mysql_setup.codenames[0]
    _produce(logger, name, 500)
    assert logger.flush(timeout=30) == 0
    old_connection = logger.status()["connection_id"]
    proxy.stall()
    _produce(logger, name, 500, start=500)
    wait_for(lambda: logger.status()["retried"] >= 1)
    proxy.resume()
    assert logger.stop(timeout=60) == 0
    _assert_exactly_once_in_order(mysql_setup, 1000)
    gone = mysql_setup.db.query("SELECT `ID` FROM information_schema.PROCESSLIST WHERE `ID` = %s",
                                (old_connection,))
    assert gone == ()


def test_start_while_the_server_is_unreachable_queues_and_sends_later(mysql_setup, proxy):
    mysql_setup.create()
    proxy.down()
    logger = _logger(mysql_setup, url=_proxy_url(proxy), start_timeout=0.2, max_backoff=0.2).start()
    assert logger.status()["state"] in ("connecting", "disconnected")
    _produce(logger, mysql_setup.codenames[0], 1000)
    proxy.up()
    assert logger.stop(timeout=60) == 0
    _assert_exactly_once_in_order(mysql_setup, 1000)


def test_an_unknown_codename_found_after_start_fails_the_logger_and_keeps_points(mysql_setup, proxy):
    mysql_setup.create()
    proxy.down()
    logger = ContinuousLogger(mysql_setup.table, "root", "", ["flubber_no_such_codename"],
                              url=_proxy_url(proxy), start_timeout=0.1, max_backoff=0.1).start()
    logger.enqueue_point_now("flubber_no_such_codename", 1.0)
    proxy.up()
    wait_for(lambda: logger.status()["state"] == "failed")
    with pytest.raises(LoggerFailedError, match="exactly one row"):
        logger.enqueue_point_now("flubber_no_such_codename", 2.0)
    assert logger.stop() == 1
    assert logger.pending()[0][::2] == ("flubber_no_such_codename", 1.0)


# -- the hub stays free ------------------------------------------------------------
class _Echo(TCPServer):
    def handle_connection(self, connection):
        while True:
            line = connection.read_until(b"\n", max_bytes=1024)
            if not line:
                return
            connection.write(line)


def test_other_greenlets_and_sockets_keep_running_while_the_table_is_locked(mysql_setup, db):
    """A held table lock hangs the INSERT in its thread; the hub stays free:
    a ticking greenlet and a TCP echo server in this process keep answering."""
    mysql_setup.create()
    name = mysql_setup.codenames[0]
    logger = _logger(mysql_setup).start()
    locker = type(db)()
    locker.query("LOCK TABLES `%s` WRITE" % mysql_setup.table)
    echo = _Echo()
    echo.bind(("127.0.0.1", 0))
    echo.start()
    ticker = Ticker()
    try:
        _produce(logger, name, 1000)
        wait_for(lambda: logger.status()["in_flight"] > 0)
        client = TCPClient()
        client.connect(("127.0.0.1", echo.sockname[1]), timeout=5)
        for i in range(200):  # 200 round trips through the hub while the INSERT hangs
            client.write(b"ping %d\n" % i)
            assert client.read_until(b"\n") == b"ping %d\n" % i
        client.close()
        ticker.wait_ticks(50)
        _produce(logger, name, 1000, start=1000)  # enqueueing does not block either
        assert logger.status()["written"] == 0 and logger.status()["in_flight"] > 0
        locker.query("UNLOCK TABLES")
        assert logger.flush(timeout=60) == 0
    finally:
        ticker.stop()
        echo.close()
        locker.close()
    assert logger.stop() == 0
    _assert_exactly_once_in_order(mysql_setup, 2000)


def test_stop_gives_up_after_its_timeout_while_the_table_is_locked(mysql_setup, db):
    mysql_setup.create()
    logger = _logger(mysql_setup).start()
    locker = type(db)()
    locker.query("LOCK TABLES `%s` WRITE" % mysql_setup.table)
    try:
        _produce(logger, mysql_setup.codenames[0], 100)
        wait_for(lambda: logger.status()["in_flight"] > 0)
        assert logger.stop(timeout=0.3) == 100
    finally:
        locker.query("UNLOCK TABLES")
        locker.close()
    # the abandoned INSERT was never committed; a restart sends the points once
    logger.start()
    assert logger.stop(timeout=60) == 0
    _assert_exactly_once_in_order(mysql_setup, 100)


def test_server_time_zone_does_not_shift_timestamps(mysql_setup):
    """TIMESTAMP columns get UTC text in a UTC session: the instant is exact."""
    mysql_setup.create()
    with _logger(mysql_setup) as logger:
        logger.enqueue_point(mysql_setup.codenames[0], (T0, 1.0))
    stored = mysql_setup.db.scalar("SELECT UNIX_TIMESTAMP(`time`) FROM `%s`" % mysql_setup.table)
    assert float(stored) == T0
    assert datetime.datetime.utcfromtimestamp(float(stored)) == datetime.datetime(2023, 11, 14, 22, 13, 20)
