"""/api/series's reading side: the query string, and windows read from SQLite and MariaDB."""
import pytest

from flubber.loggers import ContinuousLogger
from flubber.plot import PlotError
from flubber.web import BadQuery, SeriesSource, parse_series_query
from tests.loggers.conftest import Database, MySQLSetup

pytestmark = pytest.mark.timeout(60)

NOW = 1_800_000_000.0


def _q(**params):
    return parse_series_query({name: [value] for name, value in params.items()}, now=NOW)


def test_codenames_repeat_or_come_comma_separated():
    query = parse_series_query({"codename": ["a,b", "c"]}, now=NOW)
    assert query.codenames == ["a", "b", "c"]


def test_the_default_window_is_the_last_ten_minutes():
    query = _q(codename="a")
    assert (query.since, query.until, query.max_points, query.format) == (NOW - 600, NOW, 2000, "json")


def test_since_and_until_take_unix_times_durations_and_now():
    assert _q(codename="a", since="1799999000", until="now").since == 1799999000.0
    assert _q(codename="a", since="2h").since == NOW - 7200
    assert _q(codename="a", since="90", until="30").until == NOW - 30


@pytest.mark.parametrize("params, phrase", [
    ({}, "codename=NAME"),
    ({"codename": "a", "since": "yesterday"}, "since=yesterday is not a time"),
    ({"codename": "a", "since": "10", "until": "20"}, "must be after"),
    ({"codename": "a", "max_points": "1"}, "max_points must be from 2"),
    ({"codename": "a", "max_points": "lots"}, "not a whole number"),
    ({"codename": "a", "format": "xml"}, "format=json or format=csv"),
    ({"codename": "a", "until": "1e20"}, "until=1e20 is out of range"),     # was a 500 and a logged traceback
    ({"codename": "a", "since": "1e12", "until": "1e308"}, "is out of range"),
    ({"codename": ",".join("c%d" % i for i in range(40))}, "at most"),
])
def test_a_bad_query_says_what_to_send(params, phrase):
    with pytest.raises(BadQuery, match=phrase):
        _q(**params)


def _log(url, table, codenames, points):
    logger = ContinuousLogger(table, None, None, codenames, url=url, create_tables=True).start()
    for codename, point in points:
        logger.enqueue_point(codename, point)
    assert logger.stop(timeout=30) == 0


def _points(start, count, step=1.0):
    return [("a", (start + i * step, float(i % 100))) for i in range(count)] + [("b", (start + 0.5, -1.0))]


def test_a_window_of_an_sqlite_log_is_read_and_decimated(tmp_path):
    url = "sqlite:///%s" % (tmp_path / "log.sqlite")
    _log(url, "dateplots_t", ["a", "b"], _points(NOW - 5000, 5000))
    source = SeriesSource(url, "dateplots_t")
    reply = source.series(_q(codename="a,b", since="1000", max_points="100"))
    a, b = reply["series"]
    assert a["codename"] == "a" and a["raw_points"] == 1000 and a["decimated"]
    assert len(a["points"]) <= 100
    assert all(NOW - 1000 <= t < NOW for t, _ in a["points"])
    assert {v for _, v in a["points"]} >= {0.0, 99.0}   # every bucket's min and max
    assert b["points"] == [] and b["raw_points"] == 0


def test_the_window_is_half_open_to_the_microsecond(tmp_path):
    url = "sqlite:///%s" % (tmp_path / "log.sqlite")
    _log(url, "dateplots_t", ["a"], [("a", (NOW - 10.25, 1.0)), ("a", (NOW - 10.0, 2.0)), ("a", (NOW - 5.5, 3.0))])
    reply = SeriesSource(url, "dateplots_t").series(_q(codename="a", since=str(NOW - 10.25), until=str(NOW - 5.5)))
    assert [v for _, v in reply["series"][0]["points"]] == [1.0, 2.0]


def test_csv_has_one_row_per_point_with_utc_time(tmp_path):
    url = "sqlite:///%s" % (tmp_path / "log.sqlite")
    _log(url, "dateplots_t", ["a"], [("a", (1_799_999_999.5, 1.5))])
    text = SeriesSource(url, "dateplots_t").csv_text(_q(codename="a", since="1000", format="csv"))
    assert text.splitlines() == ["codename,unixtime,utc,value", "a,1799999999.5,2027-01-15 07:59:59.500000,1.5"]


def test_an_unknown_codename_names_the_known_ones(tmp_path):
    url = "sqlite:///%s" % (tmp_path / "log.sqlite")
    _log(url, "dateplots_t", ["a"], [("a", (NOW, 1.0))])
    with pytest.raises(PlotError, match="knows: a"):
        SeriesSource(url, "dateplots_t").series(_q(codename="nope"))


@pytest.fixture
def mysql_setup(mariadb_available):
    database = Database()
    setup = MySQLSetup(database)
    yield setup
    setup.drop()
    database.close()


def test_a_window_of_a_mariadb_log_is_read_and_decimated(mysql_setup):
    a, b = mysql_setup.codenames
    points = [(a, (NOW - 3000 + i, float(i % 50))) for i in range(3000)] + [(a, (NOW - 100.5, 500.0))]
    points.sort(key=lambda item: item[1][0])
    _log(mysql_setup.url, mysql_setup.table, [a, b], points)
    reply = SeriesSource(mysql_setup.url, mysql_setup.table).series(_q(codename=a, since="2000", max_points="40"))
    series = reply["series"][0]
    assert series["raw_points"] == 2001 and len(series["points"]) <= 40
    assert [NOW - 100.5, 500.0] in series["points"]


def test_a_long_mariadb_window_is_streamed_not_loaded_whole(mysql_setup):
    # /api/series is open to whoever reaches the page: "since=1" over a year of points must not hold
    # every row in the node's memory at once (a buffered cursor converts them all at execute)
    import tracemalloc

    from flubber.plot import LogReader

    ids = mysql_setup.create()
    a = mysql_setup.codenames[0]
    mysql_setup.db.query(  # 60000 rows in one statement: 60 x 1000 (a cross join of two counts)
        "INSERT INTO `%s` (type, time, value) WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq "
        "WHERE n < 999) SELECT %%s, FROM_UNIXTIME(%%s + a.n * 1000 + b.n), a.n * 1000 + b.n FROM seq a "
        "JOIN seq b ON a.n < 60" % mysql_setup.table, (ids[a], NOW - 100000))
    with LogReader(mysql_setup.url, mysql_setup.table) as reader:
        reader.fetch_size = 1000
        tracemalloc.start()
        try:
            count = sum(1 for _ in reader.iter_points(a, NOW - 100000, NOW))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert count == 60000
    assert peak < 2_000_000, "%d bytes held at once for 60000 rows read 1000 at a time" % peak
