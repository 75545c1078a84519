"""The on-disk spool: the logger's queue in an SQLite file.

With a spool, the file *is* the queue. A point enqueued is written to the
file as soon as the enqueuing greenlet yields to the hub (``gevent.sleep``,
any gevent I/O, a full queue): the hub's next turn writes everything
enqueued since in one transaction, before it waits for anything else. A
script that must know a point is on disk calls ``gevent.sleep(0)`` after
enqueueing it. The writer reads batches from the head
of the file and deletes them only after the database committed them. So a
crash, a ``kill -9`` or a reboot of the logging machine loses nothing that
was spooled, and the next ``start()`` with the same spool sends it: in
order, and -- thanks to the ``origin`` kept in the file and the unique key of
the table -- without storing anything twice.

The file holds::

    meta(key TEXT PRIMARY KEY, value TEXT)     format, target, origin, next_seq,
                                               in_doubt, session
    points(seq INTEGER PRIMARY KEY, codename TEXT, time REAL, value REAL)

It is opened in exclusive locking mode (a second process gets
:class:`~flubber.loggers.SpoolError`), journal mode WAL and
``synchronous=NORMAL``: a committed spool transaction survives the death of
the process; after a power cut the last few may be lost (set
:attr:`SpoolQueue.synchronous` to ``"FULL"`` to fsync every one).

This module does its small, local file I/O in the hub; it never talks to
the network.
"""
import json
import logging
import os
import sqlite3

import gevent

from flubber.loggers._batch import new_origin
from flubber.loggers._exceptions import SpoolError

log = logging.getLogger(__name__)

#: Version of the spool file layout.
SPOOL_FORMAT = "1"


class SpoolQueue:
    """The logger's queue kept in the SQLite file *path* for *target*.

    *target* names the database and table (``"mysql://u@host:3306/db
    table=dateplots_x"``): a spool that still holds points for another target
    is refused, so points never land in the wrong table. Same interface as
    :class:`~flubber.loggers._batch.MemoryQueue`.
    """

    #: SQLite ``synchronous`` setting of the spool: ``"NORMAL"`` survives a
    #: crash of the process, ``"FULL"`` also a power cut (slower).
    synchronous = "NORMAL"

    def __init__(self, path, target):
        self.path = os.fspath(path)
        self.target = target
        self._pending = []
        self._flush_scheduled = False
        self._count = 0
        self.in_doubt = None
        self.session = None
        try:
            conn = sqlite3.connect(self.path, timeout=0, isolation_level=None)
        except sqlite3.Error as exc:
            raise SpoolError("cannot open spool file %s: %s" % (self.path, exc)) from exc
        try:
            self._open(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            if "locked" in str(exc):
                raise SpoolError("spool file %s is in use by another process; one spool serves one "
                                 "logger at a time" % self.path) from exc
            raise SpoolError("%s is not a usable spool file: %s" % (self.path, exc)) from exc
        except SpoolError:
            conn.close()
            raise
        self._conn = conn

    def _open(self, conn):
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=%s" % ("FULL" if self.synchronous.upper() == "FULL" else "NORMAL"))
        conn.execute("BEGIN IMMEDIATE")  # takes the exclusive lock now, or fails
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            conn.execute("CREATE TABLE IF NOT EXISTS points (seq INTEGER PRIMARY KEY, "
                         "codename TEXT NOT NULL, time REAL NOT NULL, value REAL)")
            meta = dict(conn.execute("SELECT key, value FROM meta"))
            self._count = conn.execute("SELECT COUNT(*) FROM points").fetchone()[0]
            if meta.get("format", SPOOL_FORMAT) != SPOOL_FORMAT:
                raise SpoolError("spool file %s has format %s; this flubber reads format %s"
                                 % (self.path, meta["format"], SPOOL_FORMAT))
            if self._count and meta.get("target") not in (None, self.target):
                raise SpoolError(
                    "spool file %s holds %d points for %s, not for %s; start a logger for that "
                    "target to send them, or use another spool file" % (
                        self.path, self._count, meta.get("target"), self.target))
            self.origin = int(meta["origin"]) if "origin" in meta else new_origin()
            max_seq = conn.execute("SELECT MAX(seq) FROM points").fetchone()[0] or 0
            self.next_seq = max(int(meta.get("next_seq", 1)), max_seq + 1)
            self.in_doubt = tuple(json.loads(meta["in_doubt"])) if meta.get("in_doubt") else None
            self.session = json.loads(meta["session"]) if meta.get("session") else None
            self._put_meta(conn, format=SPOOL_FORMAT, target=self.target, origin=str(self.origin),
                           next_seq=str(self.next_seq))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        if self._count:
            log.info("spool %s: %d points from an earlier run will be sent", self.path, self._count)

    @staticmethod
    def _put_meta(conn, **items):
        conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", list(items.items()))

    def __len__(self):
        return self._count + len(self._pending)

    def append(self, point):
        """Queue *point*; it reaches the file at the end of this hub turn."""
        self._pending.append(point)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            gevent.get_hub().loop.run_callback(self._flush_callback)

    def _flush_callback(self):
        try:
            self.flush()
        except sqlite3.Error as exc:  # disk full, ...: the points stay pending
            log.error("spool %s: cannot write %d points: %s", self.path, len(self._pending), exc)

    def flush(self):
        """Write the pending points to the file now, in one transaction."""
        self._flush_scheduled = False
        pending = self._pending
        if not pending or self._conn is None:
            return
        conn = self._conn
        conn.execute("BEGIN")
        try:
            conn.executemany("INSERT INTO points (seq, codename, time, value) VALUES (?, ?, ?, ?)", pending)
            self._put_meta(conn, next_seq=str(pending[-1][0] + 1))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._count += len(pending)
        self._pending = []

    def peek(self, limit, skip=0):
        """Return up to *limit* points after the first *skip* of the file."""
        self.flush()
        return self._conn.execute("SELECT seq, codename, time, value FROM points ORDER BY seq LIMIT ? OFFSET ?",
                                  (limit, skip)).fetchall()

    def discard(self, batch):
        """Delete *batch* (the head) and any in-doubt record, in one transaction."""
        if not batch:
            return
        self.flush()
        conn = self._conn
        conn.execute("BEGIN")
        try:
            cursor = conn.execute("DELETE FROM points WHERE seq <= ?", (batch[-1][0],))
            conn.execute("DELETE FROM meta WHERE key = 'in_doubt'")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._count -= cursor.rowcount
        self.in_doubt = None

    def set_in_doubt(self, record):
        """Keep (or with None clear) the record of a batch whose COMMIT reply
        was lost, so that a restarted logger checks it before sending again."""
        if record is None:
            self._conn.execute("DELETE FROM meta WHERE key = 'in_doubt'")
        else:
            self._put_meta(self._conn, in_doubt=json.dumps(list(record)))
        self.in_doubt = record

    def set_session(self, session):
        """Keep the identity of the open server connection (a dict, or None):
        after a crash, the next run ends it before it resolves a doubt."""
        if session is None:
            self._conn.execute("DELETE FROM meta WHERE key = 'session'")
        else:
            self._put_meta(self._conn, session=json.dumps(session))
        self.session = session

    def codenames(self):
        """Return the set of codenames of the spooled points."""
        self.flush()
        return {row[0] for row in self._conn.execute("SELECT DISTINCT codename FROM points")}

    def pending(self):
        """Return the spooled points as ``(codename, unixtime, value)`` tuples."""
        self.flush()
        return list(self._conn.execute("SELECT codename, time, value FROM points ORDER BY seq"))

    def close(self):
        """Write what is pending and close the file (releasing its lock)."""
        if self._conn is None:
            return
        try:
            self.flush()
        finally:
            self._conn.close()
            self._conn = None


def describe_spool(path):
    """Return what the spool file *path* holds, without changing it.

    A dict: ``target`` (database and table the points are for), ``origin``,
    ``next_seq``, ``queued`` (points waiting), ``first`` and ``last``
    (``(codename, unixtime, value)`` or None), ``in_doubt`` (a batch whose
    COMMIT reply was lost, or None), ``codenames``. Raises
    :class:`~flubber.loggers.SpoolError` if the file is missing, is not a
    spool, or a running logger holds it.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise SpoolError("spool file %s does not exist" % path)
    try:
        conn = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=0)
    except sqlite3.Error as exc:
        raise SpoolError("cannot open spool file %s: %s" % (path, exc)) from exc
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta"))
        queued = conn.execute("SELECT COUNT(*) FROM points").fetchone()[0]
        first = conn.execute("SELECT codename, time, value FROM points ORDER BY seq LIMIT 1").fetchone()
        last = conn.execute("SELECT codename, time, value FROM points ORDER BY seq DESC LIMIT 1").fetchone()
        codenames = sorted(row[0] for row in conn.execute("SELECT DISTINCT codename FROM points"))
    except sqlite3.DatabaseError as exc:
        if "locked" in str(exc):
            raise SpoolError("spool file %s is in use by a running logger" % path) from exc
        raise SpoolError("%s is not a usable spool file: %s" % (path, exc)) from exc
    finally:
        conn.close()
    return {
        "path": path,
        "target": meta.get("target"),
        "origin": int(meta["origin"]) if "origin" in meta else None,
        "next_seq": int(meta.get("next_seq", 1)),
        "queued": queued,
        "first": first,
        "last": last,
        "in_doubt": json.loads(meta["in_doubt"]) if meta.get("in_doubt") else None,
        "codenames": codenames,
    }
