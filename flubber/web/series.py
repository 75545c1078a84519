"""Logged data for the page's plots: ``/api/series``, read from the logger's database.

:func:`parse_series_query` turns the query string into a :class:`SeriesQuery`
(no I/O); :func:`read_window` reads one codename's points in the window and
decimates them with :class:`~flubber.web.MinMaxDecimator` while they stream
from the cursor. The database calls block, so :class:`SeriesSource` runs them
in gevent's thread pool, at most :attr:`SeriesSource.max_concurrent` at once,
and the node's greenlets keep running meanwhile.
"""
import csv
import io
import logging
import time

import gevent
import gevent.lock

from flubber._threads import call_in_thread
from flubber.plot import LogReader, PlotError, parse_duration, utc_text
from flubber.web._decimate import MinMaxDecimator

__all__ = ["SeriesQuery", "SeriesSource", "BadQuery", "parse_series_query", "parse_time", "read_window",
           "DEFAULT_MAX_POINTS", "MAX_POINTS_LIMIT"]

log = logging.getLogger(__name__)

#: Points per series when the request names no ``max_points``.
DEFAULT_MAX_POINTS = 2000
#: The most points per series a JSON reply carries (``max_points`` above it is refused).
MAX_POINTS_LIMIT = 20000
#: The most codenames one request may name.
MAX_CODENAMES = 16


class BadQuery(ValueError):
    """Raised by :func:`parse_series_query` for a query string that cannot be served;
    the web API answers it with status 400 and this message."""


class SeriesQuery:
    """What ``/api/series`` was asked: codenames, window, resolution, format."""

    def __init__(self, codenames, since, until, max_points, fmt="json"):
        #: Codenames, in the order asked.
        self.codenames = codenames
        #: Start of the window (unix seconds, inclusive).
        self.since = since
        #: End of the window (unix seconds, exclusive).
        self.until = until
        #: Most points per series.
        self.max_points = max_points
        #: ``"json"`` or ``"csv"``.
        self.format = fmt


#: The latest time a query may name (9999-12-31 23:59:59 UTC): later ones cannot be compared in a database.
MAX_TIME = 253402300799.0


def parse_time(text, now, name):
    """Return unix seconds for *text*: a unix time (``1764612000.5``), a duration
    before *now* (``10m``, ``2h``, ``1d``, ``90``), or ``now``; between 1970 and 9999.

    A plain number below 10**9 is a duration in seconds, larger ones are unix times.
    """
    seconds = _parse_time(text, now, name)
    if not 0 <= seconds <= MAX_TIME:
        raise BadQuery("%s=%s is out of range; give a time from 1970 to 9999 (unix seconds up to %d)"
                       % (name, text.strip(), MAX_TIME))
    return seconds


def _parse_time(text, now, name):
    text = text.strip()
    if text == "now":
        return now
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None:
        if number != number or number in (float("inf"), float("-inf")):
            raise BadQuery("%s=%s is not a time; give unix seconds, a duration such as 10m, or now" % (name, text))
        return number if number >= 1e9 else now - number
    try:
        return now - parse_duration(text)
    except PlotError:
        raise BadQuery("%s=%s is not a time; give unix seconds (1764612000), a duration before now "
                       "(90, 10m, 2h, 1d) or now" % (name, text)) from None


def parse_series_query(params, now=None, default_since=600.0):
    """Check the query *params* (``{name: [values]}``, as :func:`urllib.parse.parse_qs` gives).

    ``codename`` may repeat or be comma-separated; ``since`` defaults to
    *default_since* seconds before *now*, ``until`` to *now*; ``max_points``
    to :data:`DEFAULT_MAX_POINTS`; ``format`` is ``json`` or ``csv``.

    :raises BadQuery: with a message that says what to send instead.
    """
    now = time.time() if now is None else now
    codenames = [name for value in params.get("codename", []) for name in value.split(",") if name]
    if not codenames:
        raise BadQuery("name the series: /api/series?codename=NAME (repeat it, or separate names by commas)")
    if len(codenames) > MAX_CODENAMES:
        raise BadQuery("at most %d codenames per request, got %d" % (MAX_CODENAMES, len(codenames)))
    since = parse_time(params["since"][-1], now, "since") if params.get("since") else now - default_since
    until = parse_time(params["until"][-1], now, "until") if params.get("until") else now
    if not until > since:
        raise BadQuery("until (%s) must be after since (%s)" % (until, since))
    fmt = params.get("format", ["json"])[-1]
    if fmt not in ("json", "csv"):
        raise BadQuery("format=%s is unknown; use format=json or format=csv" % fmt)
    max_points = DEFAULT_MAX_POINTS
    if params.get("max_points"):
        text = params["max_points"][-1]
        try:
            max_points = int(text)
        except ValueError:
            raise BadQuery("max_points=%s is not a whole number" % text) from None
        if not 2 <= max_points <= MAX_POINTS_LIMIT:
            raise BadQuery("max_points must be from 2 to %d, got %d" % (MAX_POINTS_LIMIT, max_points))
    return SeriesQuery(codenames, since, until, max_points, fmt)


def read_window(reader, codename, since, until, max_points):
    """Return ``{"codename", "points", "raw_points", "decimated"}`` for one series.

    *reader* is an open :class:`~flubber.plot.LogReader`; the points are
    ``[unixtime, value]`` lists, at most *max_points*.
    """
    decimator = MinMaxDecimator(since, until, max_points)
    for point_time, value in reader.iter_points(codename, since, until):
        decimator.add(point_time, value)
    return {"codename": codename, "points": [list(point) for point in decimator.points()],
            "raw_points": decimator.count, "decimated": decimator.decimated}


class SeriesSource:
    """The logger database a web server plots from.

    :param url: the logger's database URL (``sqlite:///lab.sqlite``, ``mysql://...``).
    :param table: its measurement table (``dateplots_lab``).
    """

    #: Database reads that may run at once (each holds a thread of gevent's pool).
    max_concurrent = 2

    def __init__(self, url, table):
        #: The database URL.
        self.url = url
        #: The measurement table.
        self.table = table
        self._lock = gevent.lock.BoundedSemaphore(self.max_concurrent)

    def _in_thread(self, function, *args):
        with self._lock:
            return call_in_thread(function, *args)

    def series(self, query):
        """Return the JSON reply to *query* (a :class:`SeriesQuery`).

        :raises PlotError: no database file or table, unknown codename.
        """
        def work():
            with LogReader(self.url, self.table) as reader:
                return [read_window(reader, name, query.since, query.until, query.max_points)
                        for name in query.codenames]

        return {"since": query.since, "until": query.until, "max_points": query.max_points,
                "series": self._in_thread(work)}

    def csv_text(self, query):
        """Return the CSV text of *query*: ``codename,unixtime,utc,value``, one row per point."""
        reply = self.series(query)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["codename", "unixtime", "utc", "value"])
        for series in reply["series"]:
            for point_time, value in series["points"]:
                writer.writerow([series["codename"], repr(point_time), utc_text(point_time), repr(value)])
        return out.getvalue()
