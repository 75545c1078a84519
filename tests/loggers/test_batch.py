"""The logger's plain parts: point checks, time text, queue, back-off, URLs, SQL rendering."""
import datetime
import decimal
import fractions
import math
import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flubber.loggers import InvalidPointError, LoggerConfigurationError
from flubber.loggers._backend import TableLayout
from flubber.loggers._batch import (
    TIME_MAX,
    TIME_MIN,
    Backoff,
    MemoryQueue,
    UTCText,
    validate_point,
    validate_time,
    validate_value,
)
from flubber.loggers._settings import check_identifier, parse_url, resolve_settings


# -- points -----------------------------------------------------------------
@pytest.mark.parametrize("value", [1, 1.5, -2, decimal.Decimal("2.5"), fractions.Fraction(1, 4)])
def test_numbers_are_accepted_as_floats(value):
    assert validate_value(value) == float(value)
    assert type(validate_value(value)) is float


def test_numpy_scalars_are_accepted():
    numpy = pytest.importorskip("numpy")
    assert validate_point((numpy.float64(1.7e9), numpy.float32(0.5))) == (1.7e9, 0.5)
    assert validate_value(numpy.int64(3)) == 3.0


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_infinities_become_null(value):
    assert validate_value(value) is None


@pytest.mark.parametrize("value", ["1.0", None, True, b"1", [1.0], 1j])
def test_a_value_that_is_not_a_number_is_refused(value):
    with pytest.raises(InvalidPointError, match="must be a number"):
        validate_value(value)


def test_a_huge_integer_value_is_refused():
    with pytest.raises(InvalidPointError, match="does not fit"):
        validate_value(10 ** 400)


@pytest.mark.parametrize("point", [1.0, (1.7e9,), (1.7e9, 1.0, 2.0), "abc", None])
def test_a_point_that_is_not_a_pair_is_refused(point):
    with pytest.raises(InvalidPointError, match="pair"):
        validate_point(point)


@pytest.mark.parametrize("unixtime", [0, -1.0, TIME_MAX + 1, float("nan"), float("inf"), 10 ** 400])
def test_a_time_out_of_the_timestamp_range_is_refused(unixtime):
    with pytest.raises(InvalidPointError, match="unix time between"):
        validate_time(unixtime)


@pytest.mark.parametrize("unixtime", ["1700000000", None, True])
def test_a_time_that_is_not_a_number_is_refused(unixtime):
    with pytest.raises(InvalidPointError, match="number"):
        validate_time(unixtime)


def test_the_range_ends_are_accepted():
    assert validate_time(TIME_MIN) == TIME_MIN
    assert validate_time(int(TIME_MAX)) == TIME_MAX


def test_invalid_point_error_is_a_value_error():
    with pytest.raises(ValueError):
        validate_point((1.7e9, "x"))


# -- time text ----------------------------------------------------------------
@given(st.floats(min_value=TIME_MIN, max_value=TIME_MAX - 1))
def test_utc_text_is_the_time_to_the_nearest_microsecond(unixtime):
    text = UTCText()(unixtime)
    parsed = datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f")
    seconds = (parsed - datetime.datetime(1970, 1, 1)) / datetime.timedelta(microseconds=1) / 1e6
    assert abs(seconds - unixtime) <= 0.5e-6 + 1e-15 * unixtime


def test_utc_text_carries_a_rounded_microsecond_into_the_next_second():
    assert UTCText()(1700000000.9999997) == "2023-11-14 22:13:21.000000"


def test_utc_text_cache_follows_the_second():
    text = UTCText()
    assert text(1700000000.25) == "2023-11-14 22:13:20.250000"
    assert text(1700000000.5) == "2023-11-14 22:13:20.500000"
    assert text(1700000061.0) == "2023-11-14 22:14:21.000000"


# -- queue --------------------------------------------------------------------
def test_memory_queue_keeps_order_until_discarded():
    queue = MemoryQueue()
    for seq in range(1, 6):
        queue.append((seq, "a", 1.7e9 + seq, float(seq)))
    head = queue.peek(2)
    assert [point[0] for point in head] == [1, 2]
    assert len(queue) == 5  # peek removes nothing
    queue.discard(head)
    assert [point[0] for point in queue.peek(10)] == [3, 4, 5]
    assert queue.pending() == [("a", 1.7e9 + 3, 3.0), ("a", 1.7e9 + 4, 4.0), ("a", 1.7e9 + 5, 5.0)]


def test_memory_queue_refuses_to_discard_what_is_not_the_head():
    queue = MemoryQueue()
    queue.append((1, "a", 1.7e9, 1.0))
    queue.append((2, "a", 1.7e9, 2.0))
    with pytest.raises(RuntimeError):
        queue.discard([(2, "a", 1.7e9, 2.0)])


def test_origins_are_random_positive_63_bit_numbers():
    origins = {MemoryQueue().origin for _ in range(20)}
    assert len(origins) == 20
    assert all(0 < origin < 2 ** 63 for origin in origins)


# -- back-off -----------------------------------------------------------------
def test_backoff_retries_at_once_then_doubles_up_to_the_cap():
    backoff = Backoff(initial=0.1, maximum=1.0, jitter=0.0)
    delays = [backoff.next_delay() for _ in range(7)]
    assert delays == [0.0, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    backoff.reset()
    assert backoff.next_delay() == 0.0


def test_backoff_jitter_never_passes_the_cap():
    backoff = Backoff(initial=0.1, maximum=1.0, jitter=0.5, rng=lambda: 1.0)
    assert max(backoff.next_delay() for _ in range(30)) == 1.0


def test_backoff_refuses_nonsense():
    with pytest.raises(ValueError):
        Backoff(initial=0, maximum=1)


# -- settings -----------------------------------------------------------------
def test_mysql_url():
    settings = parse_url("mysql://user:p%40ss@db.example.org:3307/lab")
    assert (settings.kind, settings.host, settings.port, settings.database) == ("mysql", "db.example.org", 3307, "lab")
    assert (settings.username, settings.password) == ("user", "p@ss")
    assert settings.describe() == "mysql://user@db.example.org:3307/lab"  # no password


def test_mariadb_url_defaults_port_and_database():
    settings = parse_url("mariadb://db")
    assert (settings.port, settings.database, settings.username) == (3306, "cinfdata", None)


@pytest.mark.parametrize("url, path", [
    ("sqlite:///data.db", "data.db"),
    ("sqlite:////var/lib/lab/data.db", "/var/lib/lab/data.db"),
    ("sqlite:///:memory:", ":memory:"),
    ("sqlite://", ":memory:"),
])
def test_sqlite_urls(url, path):
    settings = parse_url(url)
    assert (settings.kind, settings.path) == ("sqlite", path)


@pytest.mark.parametrize("url", ["postgres://db/x", "mysql:///nohost", "sqlite://host/x.db", 42,
                                 "mysql://db:notaport/x"])
def test_bad_urls_are_refused(url):
    with pytest.raises(LoggerConfigurationError):
        parse_url(url)


def test_url_user_wins_arguments_fill_in():
    settings = resolve_settings(url="mysql://alice@db/x", username="bob", password="secret")
    assert (settings.username, settings.password) == ("alice", "secret")


def test_url_and_host_together_are_refused():
    with pytest.raises(LoggerConfigurationError, match="not both"):
        resolve_settings(url="mysql://db/x", host="other")


def test_no_server_means_the_embedded_sqlite_default():
    settings = resolve_settings()
    assert (settings.kind, settings.path) == ("sqlite", "cinfdata.sqlite3")
    assert resolve_settings(database="lab").path == "lab.sqlite3"
    assert resolve_settings(host="db").kind == "mysql"


@pytest.mark.parametrize("name", ["dateplots_x", "A$1"])
def test_identifiers(name):
    assert check_identifier(name) == name


@pytest.mark.parametrize("name", ["", "a b", "x;DROP TABLE y", "a`b", "x" * 65, None, "é"])
def test_bad_identifiers_are_refused(name):
    with pytest.raises(LoggerConfigurationError):
        check_identifier(name)


# -- SQL rendering (no server needed) -----------------------------------------
def _mysql_backend(dedup, time_kind="utc_text"):
    pytest.importorskip("MySQLdb")
    from flubber.loggers.mysql import MySQLBackend
    backend = MySQLBackend(parse_url("mysql://u@h/db"), "dateplots_x")
    backend.types = {"a": 3, "b": 4}
    backend.layout = TableLayout(dedup, time_kind)
    backend.origin = 77
    backend._prefix = "INSERT INTO `dateplots_x` (...) VALUES "
    return backend


def test_render_dedup_rows_in_order_with_exact_values():
    backend = _mysql_backend(dedup=True)
    value = 0.1 + 0.2  # needs 17 digits
    sql = backend.render([(1, "a", 1700000000.25, value), (2, "b", 1700000001.0, None)])
    assert sql == ("INSERT INTO `dateplots_x` (...) VALUES "
                   "(3,'2023-11-14 22:13:20.250000',%r,77,1),"
                   "(4,'2023-11-14 22:13:21.000000',NULL,77,2)"
                   " ON DUPLICATE KEY UPDATE `seq`=`seq`" % value)
    assert float(repr(value)) == value


def test_render_legacy_rows():
    backend = _mysql_backend(dedup=False)
    assert backend.render([(1, "a", 1700000000.0, 1e300)]).endswith("(3,'2023-11-14 22:13:20.000000',1e+300)")
    backend = _mysql_backend(dedup=False, time_kind="from_unixtime")
    assert backend.render([(1, "b", 1700000000.5, -0.0)]).endswith("(4,FROM_UNIXTIME(1700000000.500000),-0.0)")


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_finite_float_renders_as_a_plain_sql_number(value):
    backend = _mysql_backend(dedup=True)
    rendered = backend.render([(1, "a", 1.7e9, value)])
    literal = rendered.split(",")[-3]
    assert float(literal) == value
    assert set(literal) <= set("0123456789.e+-")
    assert not math.isnan(float(literal))


# -- what database errors mean ---------------------------------------------------
@pytest.mark.parametrize("code, meaning", [
    (2013, "transient"), (2006, "transient"), (1927, "transient"), (1213, "transient"), (1205, "transient"),
    (1045, "needs-human"), (1146, "needs-human"), (1142, "needs-human"),
    (1264, "bad-data"), (1292, "bad-data"), (1048, "bad-data"),
])
def test_mysql_error_codes_are_classified(code, meaning):
    MySQLdb = pytest.importorskip("MySQLdb")
    backend = _mysql_backend(dedup=True)
    assert backend.classify(MySQLdb.OperationalError(code, "x")) == meaning
    assert backend.commit_outcome_unknown(MySQLdb.OperationalError(code, "x"))


@pytest.mark.parametrize("exc, meaning", [
    (sqlite3.OperationalError("database is locked"), "transient"),
    (sqlite3.OperationalError("disk I/O error"), "transient"),
    (sqlite3.OperationalError("no such table: dateplots_x"), "needs-human"),
    (sqlite3.OperationalError("attempt to write a readonly database"), "needs-human"),
    (sqlite3.IntegrityError("CHECK constraint failed"), "bad-data"),
])
def test_sqlite_errors_are_classified(exc, meaning):
    from flubber.loggers.sqlite import SQLiteBackend
    backend = SQLiteBackend(parse_url("sqlite:///x.db"), "dateplots_x")
    assert backend.classify(exc) == meaning
    assert not backend.commit_outcome_unknown(exc)
