"""The alarm history: every change of state as a row beside the data tables.

:class:`AlarmHistory` writes into the logger's database (SQLite or
MySQL/MariaDB), table ``alarm_history`` by default, one row per change::

    id, time, node, name, severity, previous, kind, alarm_condition, value,
    acknowledged, message

Rows are written by one greenlet from a bounded queue; the database calls run
in gevent's thread pool so the hub never waits for the disk or the server. A
database that is down is retried with back-off; nothing blocks the node.
"""
import logging
import sqlite3

import gevent
import gevent.queue

from flubber._lifecycle import Service
from flubber._threads import call_in_thread
from flubber.alarms._queue import put_dropping_oldest
from flubber.loggers import check_identifier, parse_url

__all__ = ["AlarmHistory", "HISTORY_TABLE"]

log = logging.getLogger(__name__)

#: The default name of the alarm history table.
HISTORY_TABLE = "alarm_history"

_COLUMNS = ("time", "node", "name", "severity", "previous", "kind", "alarm_condition", "value",
            "acknowledged", "message")

_SQLITE_TABLE = """CREATE TABLE IF NOT EXISTS {table} (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, node TEXT NOT NULL, name TEXT NOT NULL,
    severity TEXT NOT NULL, previous TEXT NOT NULL, kind TEXT NOT NULL, alarm_condition TEXT NOT NULL,
    value REAL, acknowledged INTEGER NOT NULL, message TEXT NOT NULL)"""
_MYSQL_TABLE = """CREATE TABLE IF NOT EXISTS `{table}` (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, time DOUBLE NOT NULL, node VARCHAR(64) NOT NULL,
    name VARCHAR(128) NOT NULL, severity VARCHAR(16) NOT NULL, previous VARCHAR(16) NOT NULL,
    kind VARCHAR(16) NOT NULL, alarm_condition VARCHAR(16) NOT NULL, value DOUBLE NULL,
    acknowledged TINYINT NOT NULL, message VARCHAR(255) NOT NULL, KEY (node, name, time))"""


def row_of(node, change):
    """Return the history row (a tuple in column order) of an :class:`~flubber.alarms.AlarmChange`."""
    snapshot = change.snapshot
    return (change.time, node, snapshot["name"], snapshot["severity"], snapshot["previous"], change.kind,
            snapshot["condition"], snapshot["value"], int(snapshot["acknowledged"]), snapshot["message"][:255])


class AlarmHistory(Service):
    """Write alarm changes into ``table`` of the database at *url*.

    :param url: ``sqlite:///FILE`` or ``mysql://user:password@host/database``.
    :param node: the node name written in every row.
    :param maxsize: rows waiting at most; when full the oldest is dropped (and counted).

    A service with flubber's one lifecycle (:doc:`/lifecycle`).
    """

    #: Seconds :meth:`stop` lets the writer write what is queued, by default.
    stop_timeout = 5.0

    def __init__(self, url, node, table=HISTORY_TABLE, maxsize=10000, backoff=1.0, max_backoff=30.0):
        self.settings = parse_url(url)
        self.node = node
        self.table = check_identifier(table)
        self.backoff, self.max_backoff = backoff, max_backoff
        self._queue = gevent.queue.Queue(maxsize)
        self._greenlet = None
        self._conn = None
        #: Rows written.
        self.written = 0
        #: Rows dropped because the queue was full.
        self.dropped = 0
        #: The last database error, or None.
        self.last_error = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self):
        """Start the writing greenlet; return self."""
        return super().start()

    def _start(self):
        self._greenlet = gevent.spawn(self._run)

    def stop(self, timeout=None):
        """Write what is queued (for at most *timeout* seconds, default :attr:`stop_timeout`), then stop.

        Idempotent; returns the rows left.
        """
        return super().stop(timeout)

    def _stop_idle(self):
        return self._stop(None)

    def _stop(self, timeout):
        timeout = self.stop_timeout if timeout is None else timeout
        greenlet, self._greenlet = self._greenlet, None
        if greenlet is not None:
            deadline = gevent.Timeout(timeout)
            deadline.start()
            try:
                while self._queue.qsize() and not greenlet.dead:
                    gevent.sleep(0.01)
            except gevent.Timeout:
                pass
            finally:
                deadline.close()
            greenlet.kill()
        if self._conn is not None:
            self._call(self._conn.close)
            self._conn = None
        return self._queue.qsize()

    # -- writing ---------------------------------------------------------------------------------

    def record(self, change):
        """Queue one :class:`~flubber.alarms.AlarmChange`; never blocks."""
        row = row_of(self.node, change)
        self.dropped += put_dropping_oldest(self._queue, row)

    def _run(self):
        delay = self.backoff
        while True:
            row = self._queue.peek()
            try:
                self._call(self._write, row)
            except Exception as exc:  # the database is down or refuses: retry, never lose silently
                self.last_error = "%s: %s" % (type(exc).__name__, exc)
                log.warning("alarm history: cannot write to %s (retrying in %g s): %s",
                            self.settings.describe(), delay, self.last_error)
                self._drop_connection()
                gevent.sleep(delay)
                delay = min(delay * 2, self.max_backoff)
                continue
            delay = self.backoff
            self._queue.get()
            self.written += 1
            self.last_error = None

    @staticmethod
    def _call(func, *args):
        return call_in_thread(func, *args)

    def _connect(self):
        settings = self.settings
        if settings.kind == "sqlite":
            conn = sqlite3.connect(settings.path, timeout=5.0, check_same_thread=False)
            conn.execute(_SQLITE_TABLE.format(table=self.table))
            conn.commit()
            return conn
        import MySQLdb

        conn = MySQLdb.connect(host=settings.host, port=settings.port, user=settings.username or "",
                               password=settings.password or "", database=settings.database,
                               connect_timeout=10, autocommit=True)
        cursor = conn.cursor()
        try:
            cursor.execute(_MYSQL_TABLE.format(table=self.table))
        finally:
            cursor.close()
        return conn

    def _write(self, row):
        if self._conn is None:
            self._conn = self._connect()
        mark = "?" if self.settings.kind == "sqlite" else "%s"
        sql = "INSERT INTO %s (%s) VALUES (%s)" % (self.table, ", ".join(_COLUMNS), ", ".join([mark] * len(row)))
        cursor = self._conn.cursor()
        try:
            cursor.execute(sql, row)
        finally:
            cursor.close()
        if self.settings.kind == "sqlite":
            self._conn.commit()

    def _drop_connection(self):
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                self._call(conn.close)
            except Exception:  # already broken
                pass

    def status(self):
        """Counters of the history writer as a dict."""
        return {"database": self.settings.describe(), "table": self.table, "written": self.written,
                "pending": self._queue.qsize(), "dropped": self.dropped, "last_error": self.last_error}
