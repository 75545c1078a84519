"""Read logged series back from a logger database and draw them (``flubber plot``).

Works on the cinfdata layout :class:`~flubber.loggers.ContinuousLogger`
writes (``dateplots_descriptions`` and ``dateplots_<setup>``), in SQLite or
MySQL/MariaDB::

    from flubber.plot import read_series, plot_series
    series = read_series("sqlite:///lab.sqlite", ["temperature"], since=600)
    plot_series(series, "lab.png")

:func:`origin_stats` counts what each logger (each *origin*) stored in a
table many nodes share (``flubber db stats``).
"""
import datetime
import os
import re
import time

from flubber.loggers import DESCRIPTIONS_TABLE, check_identifier, parse_url

__all__ = ["PlotError", "LogReader", "parse_duration", "read_series", "plot_series", "utc_text", "origin_stats"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class PlotError(Exception):
    """Raised by :func:`read_series` and :func:`plot_series` for a missing table,
    an unknown codename, no data, a bad duration or an output file that cannot
    be written; the message says what to change."""


def parse_duration(text):
    """Return seconds for a duration such as ``"90"``, ``"10m"``, ``"2h"``, ``"1d"`` or ``"1h30m"``."""
    if isinstance(text, (int, float)):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([smhdw]?)", str(text).strip().lower())
    if not parts or re.sub(r"[\d.\ssmhdw]", "", str(text).lower()):
        raise PlotError("duration %r is not understood; write e.g. 90, 90s, 10m, 2h, 1d or 1h30m" % (text,))
    return sum(float(number) * _UNITS[unit or "s"] for number, unit in parts)


def utc_text(unixtime):
    """Return *unixtime* as ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC (how the SQLite logger stores time)."""
    whole, micro = divmod(round(unixtime * 1e6), 1000000)
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(whole)) + ".%06d" % micro


class LogReader:
    """Read-only access to a logger database (the cinfdata layout), SQLite or MySQL/MariaDB.

    :param url: ``sqlite:///FILE`` or ``mysql://user:password@host/database``.
    :param table: the measurement table; ``None``: the only ``dateplots_*`` table.
    :raises PlotError: no SQLite file, no such table (the message lists what exists).

    Every call blocks (a C library call): a server runs it in gevent's
    thread pool, and opens, uses and closes the reader in that one thread.
    Use as a context manager, or call :meth:`close`.
    """

    #: Rows fetched from the cursor at a time by :meth:`iter_points`.
    fetch_size = 5000

    def __init__(self, url, table=None):
        self.settings = parse_url(url)
        self.kind = self.settings.kind
        if self.kind == "sqlite":
            import sqlite3

            if self.settings.path != ":memory:" and not os.path.isfile(self.settings.path):
                raise PlotError("no SQLite file %s (from %s); sqlite:///NAME is relative to the current folder, "
                                "sqlite:////NAME absolute" % (os.path.abspath(self.settings.path), url))
            self.conn = sqlite3.connect("file:%s?mode=ro" % self.settings.path, uri=True) \
                if self.settings.path != ":memory:" else sqlite3.connect(":memory:")
            self.mark = "?"
        else:
            import MySQLdb

            s = self.settings
            self.conn = MySQLdb.connect(host=s.host, port=s.port, user=s.username or "",
                                        password=s.password or "", database=s.database, connect_timeout=10)
            self.mark = "%s"
        try:
            #: The measurement table read.
            self.table = _pick_table(self, table)
            self._time_sql, self._time_kind = self._time_expression()
        except BaseException:
            self.close()
            raise

    def query(self, sql, args=()):
        """Run *sql* (``?`` placeholders) and return every row."""
        cursor = self.conn.cursor()
        try:
            cursor.execute(sql.replace("?", self.mark), args)
            return cursor.fetchall()
        finally:
            cursor.close()

    def tables(self):
        """Return the names of the database's tables, sorted."""
        if self.kind == "sqlite":
            rows = self.query("SELECT name FROM sqlite_master WHERE type = 'table'")
        else:
            rows = self.query("SHOW TABLES")
        return sorted(row[0] for row in rows)

    def codenames(self):
        """Return ``{codename: type id}`` of the descriptions table."""
        return dict(self.query("SELECT codename, id FROM %s" % DESCRIPTIONS_TABLE))

    def _time_expression(self):
        if self.kind == "mysql":
            return "UNIX_TIMESTAMP(time)", "mysql"
        declared = {row[1]: (row[2] or "").upper() for row in self.query("PRAGMA table_info(%s)" % self.table)}
        if declared.get("time", "").startswith(("REAL", "INT", "NUM", "DOUBLE", "FLOAT")):
            return "time", "number"
        # whole seconds and the fraction apart: julianday() arithmetic loses microseconds
        return "CAST(strftime('%s', time) AS INTEGER) + CAST(substr(time, 20) AS REAL)", "utc_text"

    def _bound(self, unixtime):
        """The SQL expression and argument comparing ``time`` with *unixtime* (the (type, time) index serves it)."""
        if self._time_kind == "mysql":
            return "FROM_UNIXTIME(?)", unixtime
        if self._time_kind == "number":
            return "?", unixtime
        return "?", utc_text(unixtime)

    def iter_points(self, codename, start=None, end=None):
        """Yield ``(unixtime, value)`` of *codename* with ``start <= time < end``, in time order.

        A NaN stored as NULL comes as ``None``. Rows are fetched
        :attr:`fetch_size` at a time: memory stays small whatever the range.

        :raises PlotError: unknown codename (the message lists the known ones).
        """
        ids = self.codenames()
        if codename not in ids:
            raise PlotError("unknown codename %s; %s knows: %s" % (codename, self.settings.describe(),
                                                                    ", ".join(sorted(ids)) or "none"))
        sql = "SELECT %s, value FROM %s WHERE type = ?" % (self._time_sql, self.table)
        args = [ids[codename]]
        for value, operator in ((start, ">="), (end, "<")):
            if value is not None:
                expression, argument = self._bound(value)
                sql += " AND time %s %s" % (operator, expression)
                args.append(argument)
        if self.kind == "mysql":  # unbuffered: rows come from the server as fetched, not all at execute
            import MySQLdb.cursors

            cursor = self.conn.cursor(MySQLdb.cursors.SSCursor)
        else:
            cursor = self.conn.cursor()
        try:
            cursor.execute((sql + " ORDER BY time").replace("?", self.mark), args)
            while True:
                rows = cursor.fetchmany(self.fetch_size)
                if not rows:
                    return
                for row in rows:
                    yield float(row[0]), None if row[1] is None else float(row[1])
        finally:
            cursor.close()

    def close(self):
        """Close the database connection."""
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def _pick_table(reader, table):
    tables = reader.tables()
    if table is not None:
        check_identifier(table)
        if table not in tables:
            raise PlotError("no table %r in %s; tables there: %s" % (table, reader.settings.describe(),
                                                                     ", ".join(tables) or "none"))
        return table
    candidates = [name for name in tables if name.startswith("dateplots_") and name != DESCRIPTIONS_TABLE]
    if len(candidates) != 1:
        raise PlotError("%s has %s; name the measurement table with --table" % (
            reader.settings.describe(),
            "the tables %s" % ", ".join(candidates) if candidates else "no dateplots_* table"))
    return candidates[0]


def read_series(url, codenames, since=None, table=None, now=None):
    """Return ``{codename: (unixtimes, values)}`` logged in the database at *url*.

    :param since: only points of the last *since* seconds (a number or a
        duration such as ``"10m"``); ``None``: all.
    :param table: the measurement table; ``None``: the only ``dateplots_*`` table.
    :raises PlotError: no such table or codename (the message lists what exists).
    """
    if not codenames:
        raise PlotError("name at least one codename to plot")
    start = None if since is None else (time.time() if now is None else now) - parse_duration(since)
    with LogReader(url, table) as reader:
        ids = reader.codenames()
        missing = [codename for codename in codenames if codename not in ids]
        if missing:
            raise PlotError("unknown codename %s; %s knows: %s" % (", ".join(missing), reader.settings.describe(),
                                                                    ", ".join(sorted(ids)) or "none"))
        series = {}
        for codename in codenames:
            points = list(reader.iter_points(codename, start=start))
            series[codename] = ([t for t, _ in points], [float("nan") if v is None else v for _, v in points])
        return series


def origin_stats(url, table=None):
    """Return what each logger stored in *table*: ``{"table", "origins": [...], "points", "repeated"}``.

    Loggers write ``origin`` (a random number per logger run) and ``seq``
    (1, 2, ... per origin) with every point, so per origin: ``points``
    stored, ``first_seq`` / ``last_seq``, ``missing`` (numbers up to
    ``last_seq`` that are not there: points lost, or still queued by a
    logger that stopped without draining), ``first`` / ``last`` time and
    the ``codenames`` it logged (in a fleet, they name the node).
    ``repeated`` counts rows whose (codename, time) another row has too: a
    point stored twice under different numbers (the (origin, seq) key
    already makes one number stored twice impossible). Sorted by codenames.

    :raises PlotError: no such table, or a table without ``origin``/``seq``.
    """
    with LogReader(url, table) as reader:
        names = {type_id: codename for codename, type_id in reader.codenames().items()}
        try:
            rows = reader.query("SELECT origin, COUNT(*), MIN(seq), MAX(seq), MIN(%s), MAX(%s) FROM %s "
                                "GROUP BY origin" % (reader._time_sql, reader._time_sql, reader.table))
        except Exception as exc:
            if "origin" in str(exc) or "seq" in str(exc):
                raise PlotError("table %s has no origin/seq columns (an older cinfdata table): flubber's "
                                "loggers number their points only in tables they create" % reader.table) from None
            raise
        types = {}
        for origin, type_id in reader.query("SELECT DISTINCT origin, type FROM %s" % reader.table):
            types.setdefault(origin, []).append(names.get(type_id, "type %s" % type_id))
        repeated = reader.query("SELECT COALESCE(SUM(n), 0) FROM (SELECT COUNT(*) AS n FROM %s GROUP BY type, time "
                                "HAVING COUNT(*) > 1) AS repeats" % reader.table)[0][0]
        origins = []
        for origin, points, first_seq, last_seq, first, last in rows:
            origins.append({
                "origin": None if origin is None else int(origin), "codenames": sorted(types.get(origin, [])),
                "points": int(points), "first_seq": None if first_seq is None else int(first_seq),
                "last_seq": None if last_seq is None else int(last_seq),
                "missing": int(last_seq) - int(points) if last_seq is not None else 0,
                "first": None if first is None else float(first), "last": None if last is None else float(last)})
        origins.sort(key=lambda item: (item["codenames"], item["first"] or 0))
        return {"table": reader.table, "origins": origins, "points": sum(item["points"] for item in origins),
                "repeated": int(repeated)}


def plot_series(series, path, title=None, width=10.0, height=5.0, dpi=100):
    """Draw *series* (from :func:`read_series`) against local time into the PNG file *path*.

    Each codename gets its own y axis scale when their ranges differ by
    more than a factor of 1000 (stacked panels sharing the time axis).
    Returns *path*.
    """
    if not any(times for times, _ in series.values()):
        raise PlotError("no points to plot for %s in that time range; widen --since or check the codenames"
                        % ", ".join(series))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    names = list(series)
    spans = [max((abs(v) for v in series[name][1] if v == v), default=0.0) for name in names]
    separate = len(names) > 1 and max(spans) > 1000 * max(min(spans), 1e-300)
    rows = len(names) if separate else 1
    figure, axes = plt.subplots(rows, 1, figsize=(width, height), dpi=dpi, sharex=True, squeeze=False)
    for index, name in enumerate(names):
        axis = axes[index if separate else 0][0]
        times, values = series[name]
        stamps = [datetime.datetime.fromtimestamp(t) for t in times]
        axis.plot(stamps, values, label=name, linewidth=1.2)
        axis.grid(True, alpha=0.3)
        axis.legend(loc="upper left")
    bottom = axes[-1][0]
    bottom.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
    bottom.set_xlabel("local time")
    figure.suptitle(title or ", ".join(names))
    figure.autofmt_xdate()
    figure.tight_layout()
    try:
        figure.savefig(path)
    except OSError as exc:
        raise PlotError("cannot write the PNG %s: %s; give a writable path with -o"
                        % (path, exc.strerror or exc)) from exc
    finally:
        plt.close(figure)
    return path
