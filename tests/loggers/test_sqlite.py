"""ContinuousLogger into SQLite, the embedded default (no server needed)."""
import sqlite3

import gevent
import pytest

from flubber.loggers import (
    ContinuousLogger,
    InvalidPointError,
    LoggerConfigurationError,
    LoggerStoppedError,
    QueueFullError,
    TableError,
    UnknownCodenameError,
    create_tables,
)

from tests.loggers.conftest import Ticker, wait_for

T0 = 1700000000.0


def _logger(setup, **kwargs):
    return ContinuousLogger(setup.table, None, None, setup.codenames, url=setup.url, **kwargs)


def _locked(setup):
    """Another connection holding the write lock of the file."""
    conn = sqlite3.connect(setup.path, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN EXCLUSIVE")
    return conn


def test_round_trip_in_order_with_exact_values_and_microsecond_times(sqlite_setup):
    name_a, name_b = sqlite_setup.codenames
    values = [0.1 * i + 1e-12 for i in range(500)]
    with _logger(sqlite_setup) as logger:
        for i, value in enumerate(values):
            logger.enqueue_point(name_a if i % 2 else name_b, (T0 + i * 0.000001 + 0.25, value))
    rows = sqlite_setup.query("SELECT d.codename, t.time, t.value FROM %s t JOIN dateplots_descriptions d "
                              "ON d.id = t.type ORDER BY t.id" % sqlite_setup.table)
    assert [row[2] for row in rows] == values
    assert rows[0] == (name_b, "2023-11-14 22:13:20.250000", values[0])
    assert rows[3][:2] == (name_a, "2023-11-14 22:13:20.250003")


def test_nan_and_infinities_are_stored_as_null(sqlite_setup):
    with _logger(sqlite_setup) as logger:
        for value in (float("nan"), float("inf"), float("-inf"), 1.0):
            logger.enqueue_point(sqlite_setup.codenames[0], (T0, value))
    assert sqlite_setup.values() == [None, None, None, 1.0]


def test_enqueue_point_now_returns_the_time_it_used(sqlite_setup):
    with _logger(sqlite_setup) as logger:
        used = logger.enqueue_point_now(sqlite_setup.codenames[0], 42)
    stored = sqlite_setup.query("SELECT (julianday(time) - 2440587.5) * 86400.0 FROM %s" % sqlite_setup.table)
    assert abs(stored[0][0] - used) < 1e-3


def test_the_embedded_default_is_an_sqlite_file_named_after_the_database(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    create_tables("dateplots_dummy", ["dummy_sine_one"])
    logger = ContinuousLogger(table="dateplots_dummy", username="dummy", password="dummy",
                              measurement_codenames=["dummy_sine_one"])
    logger.start()
    logger.enqueue_point_now("dummy_sine_one", 0.5)
    assert logger.stop() == 0
    assert logger.status()["target"] == "sqlite:///cinfdata.sqlite3"
    conn = sqlite3.connect(str(tmp_path / "cinfdata.sqlite3"))
    assert conn.execute("SELECT value FROM dateplots_dummy").fetchall() == [(0.5,)]


def test_create_tables_option_makes_tables_and_descriptions(tmp_path):
    path = tmp_path / "new.sqlite3"
    logger = ContinuousLogger("dateplots_new", None, None, ["x"], sqlite_path=str(path),
                              create_tables={"x": "the x sensor"})
    with logger:
        logger.enqueue_point("x", (T0, 1.0))
    conn = sqlite3.connect(str(path))
    assert conn.execute("SELECT codename, description FROM dateplots_descriptions").fetchall() == [
        ("x", "the x sensor")]
    assert conn.execute("SELECT value FROM dateplots_new").fetchall() == [(1.0,)]


def test_create_tables_is_idempotent_and_returns_type_ids(tmp_path):
    url = "sqlite:///%s" % (tmp_path / "x.sqlite3")
    first = create_tables("dateplots_a", ["a1", "a2"], url=url)
    assert create_tables("dateplots_a", ["a2", "a3"], url=url) == {"a2": first["a2"], "a3": 3}


def test_an_unknown_codename_is_an_error_at_enqueue(sqlite_setup):
    with _logger(sqlite_setup) as logger:
        with pytest.raises(UnknownCodenameError, match="nope"):
            logger.enqueue_point("nope", (T0, 1.0))
        with pytest.raises(KeyError):  # as PyExpLabSys raised
            logger.enqueue_point_now("nope", 1.0)


def test_a_codename_missing_from_the_descriptions_is_an_error_at_start(sqlite_setup):
    logger = ContinuousLogger(sqlite_setup.table, None, None, ["ghost"], url=sqlite_setup.url)
    with pytest.raises(UnknownCodenameError, match="'ghost' .0 rows."):
        logger.start()
    assert logger.status()["state"] == "failed"
    with pytest.raises(LoggerStoppedError):
        logger.enqueue_point("ghost", (T0, 1.0))


def test_a_missing_table_is_an_error_at_start(sqlite_setup):
    logger = ContinuousLogger("dateplots_nothere", None, None, sqlite_setup.codenames, url=sqlite_setup.url)
    with pytest.raises(TableError, match="does not exist"):
        logger.start()


def test_a_database_file_that_cannot_be_opened_is_an_error_at_start(tmp_path):
    from flubber.loggers import DatabaseError
    logger = ContinuousLogger("dateplots_x", None, None, ["x"], sqlite_path=str(tmp_path / "no" / "dir.db"))
    with pytest.raises(DatabaseError, match="unable to open"):
        logger.start()


@pytest.mark.parametrize("point", [(T0,), (T0, "1.5"), (T0, None), ("now", 1.0), (0, 1.0), 5])
def test_bad_points_are_refused_at_enqueue_and_never_queued(sqlite_setup, point):
    with _logger(sqlite_setup) as logger:
        with pytest.raises(InvalidPointError):
            logger.enqueue_point(sqlite_setup.codenames[0], point)
        assert logger.status()["queued"] == 0
    assert sqlite_setup.count() == 0


def test_enqueue_outside_start_and_stop_is_refused(sqlite_setup):
    logger = _logger(sqlite_setup)
    with pytest.raises(LoggerStoppedError, match="not started"):
        logger.enqueue_point_now(sqlite_setup.codenames[0], 1.0)
    logger.start()
    logger.stop()
    with pytest.raises(LoggerStoppedError, match="stopped"):
        logger.enqueue_point_now(sqlite_setup.codenames[0], 1.0)


@pytest.mark.parametrize("kwargs", [{"full_policy": "drop"}, {"max_queue": 0}, {"max_batch": 1.5},
                                    {"stop_timeout": -1}, {"url": "sqlite:///x", "host": "db"}])
def test_bad_arguments_are_refused_by_the_constructor(sqlite_setup, kwargs):
    kwargs.setdefault("url", sqlite_setup.url)
    with pytest.raises(LoggerConfigurationError):
        ContinuousLogger(sqlite_setup.table, None, None, sqlite_setup.codenames, **kwargs)


def test_repeated_codenames_and_bad_table_names_are_refused(sqlite_setup):
    with pytest.raises(LoggerConfigurationError, match="repeats"):
        ContinuousLogger(sqlite_setup.table, None, None, ["a", "a"])
    with pytest.raises(LoggerConfigurationError, match="table name"):
        ContinuousLogger("dateplots; DROP TABLE x", None, None, ["a"])


def test_full_queue_with_raise_policy_raises_and_keeps_what_is_queued(sqlite_setup):
    name = sqlite_setup.codenames[0]
    lock = _locked(sqlite_setup)
    logger = _logger(sqlite_setup, max_queue=5, full_policy="raise").start()
    for i in range(5):
        logger.enqueue_point(name, (T0 + i, float(i)))
    with pytest.raises(QueueFullError, match="max_queue=5"):
        logger.enqueue_point(name, (T0 + 5, 5.0))
    lock.rollback()
    lock.close()
    assert logger.stop() == 0
    assert sqlite_setup.values() == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_full_queue_with_block_policy_waits_for_room(sqlite_setup):
    name = sqlite_setup.codenames[0]
    lock = _locked(sqlite_setup)
    logger = _logger(sqlite_setup, max_queue=3).start()
    for i in range(3):
        logger.enqueue_point(name, (T0 + i, float(i)))
    producer = gevent.spawn(logger.enqueue_point, name, (T0 + 3, 3.0))
    gevent.idle()  # the producer has run as far as it can
    assert not producer.ready()  # blocked: the writer cannot make room
    lock.rollback()
    lock.close()
    producer.get(timeout=30)
    assert logger.stop() == 0
    assert sqlite_setup.values() == [0.0, 1.0, 2.0, 3.0]


def test_full_queue_with_block_timeout_raises(sqlite_setup):
    lock = _locked(sqlite_setup)
    logger = _logger(sqlite_setup, max_queue=1, block_timeout=0.05).start()
    logger.enqueue_point(sqlite_setup.codenames[0], (T0, 0.0))
    with pytest.raises(QueueFullError, match="waited") as info:
        logger.enqueue_point(sqlite_setup.codenames[0], (T0, 1.0))
    assert isinstance(info.value, TimeoutError)
    lock.rollback()
    lock.close()
    assert logger.stop() == 0
    assert sqlite_setup.values() == [0.0]


def test_stop_reports_what_it_could_not_write_and_a_restart_sends_it(sqlite_setup):
    name = sqlite_setup.codenames[0]
    lock = _locked(sqlite_setup)
    logger = _logger(sqlite_setup).start()
    for i in range(10):
        logger.enqueue_point(name, (T0 + i, float(i)))
    assert logger.stop(timeout=0.2) == 10
    assert len(logger.pending()) == 10
    assert logger.status()["queued"] == 10
    lock.rollback()
    lock.close()
    logger.start()
    logger.enqueue_point(name, (T0 + 10, 10.0))
    assert logger.stop() == 0
    assert sqlite_setup.values() == [float(i) for i in range(11)]


def test_other_greenlets_keep_running_while_the_database_is_locked(sqlite_setup):
    """A locked database blocks only the writer's thread-pool call."""
    name = sqlite_setup.codenames[0]
    lock = _locked(sqlite_setup)
    logger = _logger(sqlite_setup).start()
    ticker = Ticker()
    try:
        for i in range(100):
            logger.enqueue_point(name, (T0 + i, float(i)))
        wait_for(lambda: logger.status()["in_flight"] > 0)
        ticker.wait_ticks(50)  # 50 turns of another greenlet while the write hangs
        assert logger.status()["written"] == 0
        lock.rollback()
        lock.close()
        assert logger.flush(timeout=30) == 0
    finally:
        ticker.stop()
    assert logger.stop() == 0
    assert sqlite_setup.count() == 100


def test_status_counts(sqlite_setup):
    with _logger(sqlite_setup) as logger:
        for i in range(7):
            logger.enqueue_point(sqlite_setup.codenames[1], (T0 + i, float(i)))
        assert logger.flush(timeout=30) == 0
        status = logger.status()
    assert status["state"] == "connected"
    assert (status["enqueued"], status["written"], status["queued"], status["duplicates"]) == (7, 7, 0, 0)
    assert status["dedup"] is True and status["backend"] == "sqlite"
    assert logger.status()["state"] == "stopped"


def test_a_legacy_table_without_dedup_columns_works(tmp_path):
    path = tmp_path / "legacy.sqlite3"
    conn = sqlite3.connect(str(path))
    conn.execute("CREATE TABLE dateplots_old (id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT, "
                 "type INTEGER, value REAL)")
    conn.commit()
    create_tables("dateplots_old", ["old"], sqlite_path=str(path))
    with ContinuousLogger("dateplots_old", None, None, ["old"], sqlite_path=str(path)) as logger:
        for i in range(20):
            logger.enqueue_point("old", (T0 + i, float(i)))
        assert logger.flush(timeout=30) == 0
        assert logger.status()["dedup"] is False
    assert [row[0] for row in conn.execute("SELECT value FROM dateplots_old ORDER BY id")] == \
        [float(i) for i in range(20)]


def test_a_point_the_database_refuses_is_rejected_alone(tmp_path):
    """Bad data is isolated by halving the batch; the other points go in, in order."""
    path = tmp_path / "check.sqlite3"
    conn = sqlite3.connect(str(path))
    conn.execute("CREATE TABLE dateplots_chk (id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT, "
                 "type INTEGER, value REAL CHECK (value < 100), origin INTEGER, seq INTEGER, "
                 "UNIQUE (origin, seq))")
    conn.commit()
    create_tables("dateplots_chk", ["chk"], sqlite_path=str(path))
    logger = ContinuousLogger("dateplots_chk", None, None, ["chk"], sqlite_path=str(path)).start()
    values = [float(i) for i in range(50)]
    values[37] = 1000.0
    for i, value in enumerate(values):
        logger.enqueue_point("chk", (T0 + i, value))
    assert logger.stop() == 0
    stored = [row[0] for row in conn.execute("SELECT value FROM dateplots_chk ORDER BY id")]
    assert stored == values[:37] + values[38:]
    assert logger.status()["rejected"] == 1
    assert logger.rejected[0][:3] == ("chk", T0 + 37, 1000.0)


def test_spooled_points_survive_a_stop_and_go_with_the_next_logger(sqlite_setup, tmp_path):
    spool = tmp_path / "points.spool"
    name = sqlite_setup.codenames[0]
    lock = _locked(sqlite_setup)
    first = _logger(sqlite_setup, spool=spool).start()
    for i in range(30):
        first.enqueue_point(name, (T0 + i, float(i)))
    assert first.stop(timeout=0.2) == 30
    lock.rollback()
    lock.close()
    second = _logger(sqlite_setup, spool=spool).start()
    second.enqueue_point(name, (T0 + 30, 30.0))
    assert second.stop() == 0
    assert sqlite_setup.values() == [float(i) for i in range(31)]
    # same origin, increasing seq: one sequence of points
    seqs = sqlite_setup.query("SELECT DISTINCT origin FROM %s" % sqlite_setup.table)
    assert len(seqs) == 1


def test_a_spool_for_another_table_is_refused_at_start(sqlite_setup, tmp_path):
    from flubber.loggers import SpoolError
    spool = tmp_path / "points.spool"
    lock = _locked(sqlite_setup)
    first = _logger(sqlite_setup, spool=spool).start()
    first.enqueue_point(sqlite_setup.codenames[0], (T0, 1.0))
    assert first.stop(timeout=0.1) == 1
    lock.rollback()
    lock.close()
    create_tables("dateplots_other", sqlite_setup.codenames, url=sqlite_setup.url)
    other = ContinuousLogger("dateplots_other", None, None, sqlite_setup.codenames, url=sqlite_setup.url,
                             spool=spool)
    with pytest.raises(SpoolError, match="holds 1 points"):
        other.start()
