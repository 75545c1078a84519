"""ContinuousLogger: a greenlet that moves measurement points into a database.

One writer greenlet per logger takes batches from the head of the queue
(memory, or the spool file), hands each to the database in gevent's thread
pool and removes it from the queue only when the database committed it. A
failed batch stays at the head: order is kept, nothing is dropped, and the
writer reconnects with capped exponential back-off while the experiment
script goes on enqueueing.

How "exactly once" is kept when the reply to a COMMIT is lost (the
connection died after the server committed, or the process was killed):

* tables made by :func:`~flubber.loggers.create_tables` have a unique key on
  ``(origin, seq)``; the batch is simply sent again and the rows already
  there are skipped (counted as ``duplicates`` in :meth:`status`);
* older cinfdata tables: before COMMIT the logger notes the auto-increment
  id of the batch's first row (in the spool, if any); after reconnecting it
  ends the old server connection (``KILL CONNECTION``, only if it is still
  there under the same account) and reads that row back to learn whether
  the batch is stored.
"""
import logging
import os
import time
from collections import deque

import gevent
from gevent.event import Event

from flubber._config import Where, positive_number
from flubber.loggers._backend import BAD_DATA, NEEDS_HUMAN, Session, capture, unwrap
from flubber.loggers._batch import (
    TIME_MAX,
    TIME_MIN,
    Backoff,
    MemoryQueue,
    validate_point,
    validate_time,
    validate_value,
)
from flubber.loggers._exceptions import (
    DatabaseError,
    LoggerConfigurationError,
    LoggerError,
    LoggerFailedError,
    LoggerStoppedError,
    QueueFullError,
    QueueFullTimeoutError,
    TableError,
    UnknownCodenameError,
)
from flubber.loggers._settings import check_identifier, resolve_settings
from flubber.loggers._spool import SpoolQueue
from flubber.loggers.tables import DESCRIPTIONS_TABLE, make_backend, normalize_descriptions

log = logging.getLogger(__name__)

#: What ``enqueue_point`` does when the queue holds ``max_queue`` points.
FULL_POLICIES = ("block", "raise")


def _positive(value, name, kind=float):
    return positive_number(value, Where(path=name, error=LoggerConfigurationError), whole=kind is int)


class ContinuousLogger:
    """Log points ``(unixtime, value)`` of named measurements into a
    cinfdata-style table, from a greenlet, without ever losing one.

    :param table: the data table, e.g. ``"dateplots_dummy"``.
    :param username: database user (ignored for SQLite).
    :param password: its password (ignored for SQLite).
    :param measurement_codenames: the codenames this logger may log; each
        must have exactly one row in ``dateplots_descriptions`` (checked at
        :meth:`start`).
    :param url: the database as one URL: ``mysql://user:pw@host:3306/db``
        (or ``mariadb://``), ``sqlite:///relative.db``,
        ``sqlite:////absolute.db``. Excludes *host*, *port*, *database* and
        *sqlite_path*; a user and password in the URL win over the
        arguments.
    :param host: MySQL/MariaDB server (default :attr:`host`). With neither
        *url* nor *host* the points go to the embedded default, SQLite.
    :param port: server port, default 3306.
    :param database: database name, default ``cinfdata``.
    :param sqlite_path: SQLite file of the embedded default, default
        ``<database>.sqlite3`` in the current directory.
    :param spool: path of an SQLite file that holds the queue on disk, so
        that points survive a crash or restart of this process and are sent
        by the next :meth:`start` with the same spool (see
        :func:`~flubber.loggers.describe_spool`). Default: the queue is in memory.
    :param create_tables: True (or a ``{codename: description}`` mapping)
        to create missing tables and description rows at the first
        connection, as :func:`~flubber.loggers.create_tables` does.

    The other keyword arguments override the class attributes of the same
    name below (``max_queue``, ``full_policy``, ``block_timeout``,
    ``max_batch``, ``start_timeout``, ``stop_timeout``, ``connect_timeout``,
    ``query_timeout``, ``max_backoff``). ``reconnect_waittime`` (the
    PyExpLabSys name) sets ``max_backoff``; ``dequeue_timeout`` is accepted
    and ignored.

    The constructor checks everything and opens nothing. Points are
    accepted between :meth:`start` and :meth:`stop`.
    """

    #: Default MySQL/MariaDB server; None means the embedded SQLite default.
    #: A site may set ``ContinuousLogger.host = "db.example.org"`` once.
    host = None
    #: Default server port (None: 3306).
    port = None
    #: Default database name, as in PyExpLabSys.
    database = "cinfdata"
    #: Table of codename -> type id rows.
    descriptions_table = DESCRIPTIONS_TABLE
    #: Most points in one INSERT statement (one transaction).
    max_batch = 2000
    #: Most points queued (in memory, or in the spool file) before
    #: ``enqueue_point`` applies :attr:`full_policy`.
    max_queue = 1000000
    #: ``"block"``: ``enqueue_point`` waits (the calling greenlet only) until
    #: the writer made room, or :attr:`block_timeout` passed, then raises
    #: :class:`~flubber.loggers.QueueFullError`. ``"raise"``: it raises
    #: :class:`~flubber.loggers.QueueFullError` at once. Never is a point
    #: dropped silently.
    full_policy = "block"
    #: Longest wait of a blocked ``enqueue_point`` in seconds (None: no limit).
    block_timeout = None
    #: How long :meth:`start` waits for the first connection. If the database
    #: does not answer in time, ``start()`` returns anyway and the logger
    #: keeps trying in the background while points queue up.
    start_timeout = 10.0
    #: How long :meth:`stop` lets the writer drain the queue by default.
    stop_timeout = 30.0
    #: First retry delay after the immediate one; doubles up to :attr:`max_backoff`.
    initial_backoff = 0.05
    #: Longest delay between two attempts to reach the database.
    max_backoff = 30.0
    #: Seconds a connection attempt to the server may take.
    connect_timeout = 10.0
    #: Seconds any one read or write on the server connection may take
    #: before the call fails and is retried on a new connection.
    query_timeout = 60.0
    #: How long to wait for a stale server connection to end after ``KILL``.
    stale_session_timeout = 10.0
    #: How many rejected points :attr:`rejected` remembers.
    max_rejected = 10000

    def __init__(self, table, username, password, measurement_codenames, *, url=None, host=None,
                 port=None, database=None, sqlite_path=None, spool=None, create_tables=False,
                 max_queue=None, full_policy=None, block_timeout=None, max_batch=None,
                 start_timeout=None, stop_timeout=None, connect_timeout=None, query_timeout=None,
                 max_backoff=None, reconnect_waittime=None, dequeue_timeout=None):
        cls = type(self)
        self.table = check_identifier(table, "table")
        check_identifier(self.descriptions_table, "descriptions table")
        if url is None and host is None:
            host = cls.host
            if host is not None and port is None:
                port = cls.port
        if url is None and database is None:
            database = cls.database
        #: Where the points go (:class:`~flubber.loggers._settings.DatabaseSettings`).
        self.settings = resolve_settings(url=url, host=host, port=port, username=username,
                                         password=password, database=database, sqlite_path=sqlite_path)
        if isinstance(measurement_codenames, str):
            raise LoggerConfigurationError(
                "measurement_codenames must be a list of codenames, not the string %r"
                % measurement_codenames)
        codenames = list(measurement_codenames or ())
        descriptions = normalize_descriptions(codenames)
        if len(descriptions) != len(codenames):
            raise LoggerConfigurationError("measurement_codenames %r repeats a codename" % (codenames,))
        #: The codenames this logger accepts, in the constructor's order.
        self.codenames = tuple(codenames)
        self._codename_set = frozenset(codenames)
        if create_tables and hasattr(create_tables, "items"):
            descriptions.update(normalize_descriptions(create_tables))
        self._create = descriptions if create_tables else None

        self.max_queue = _positive(cls.max_queue if max_queue is None else max_queue, "max_queue", int)
        self.max_batch = _positive(cls.max_batch if max_batch is None else max_batch, "max_batch", int)
        self.full_policy = cls.full_policy if full_policy is None else full_policy
        if self.full_policy not in FULL_POLICIES:
            raise LoggerConfigurationError("full_policy must be 'block' or 'raise', got %r" % (self.full_policy,))
        block_timeout = cls.block_timeout if block_timeout is None else block_timeout
        self.block_timeout = None if block_timeout is None else _positive(block_timeout, "block_timeout")
        self.start_timeout = _positive(cls.start_timeout if start_timeout is None else start_timeout,
                                       "start_timeout")
        self.stop_timeout = _positive(cls.stop_timeout if stop_timeout is None else stop_timeout,
                                      "stop_timeout")
        self.connect_timeout = _positive(cls.connect_timeout if connect_timeout is None else connect_timeout,
                                         "connect_timeout")
        self.query_timeout = _positive(cls.query_timeout if query_timeout is None else query_timeout,
                                       "query_timeout")
        if max_backoff is None:
            max_backoff = cls.max_backoff if reconnect_waittime is None else reconnect_waittime
        self.max_backoff = max(_positive(max_backoff, "max_backoff"), self.initial_backoff)
        del dequeue_timeout  # PyExpLabSys' dequeue_timeout has no meaning here
        self.spool_path = None if spool is None else str(spool)
        # a backend made now checks that its driver is installed, before start()
        make_backend(self.settings, self.table, self.descriptions_table)

        #: The last rejected points, ``(codename, unixtime, value, error)``:
        #: points the database refused on their own (the batch was split
        #: until the one bad point was found). Also logged at ERROR.
        self.rejected = deque(maxlen=self.max_rejected)
        self._memory_queue = None if spool is not None else MemoryQueue()
        self._queue = None
        self._backend = None
        self._greenlet = None
        self._pool = gevent.get_hub().threadpool
        self._accepting = False
        self._stopping = False
        self._resolved = False
        self._failure = None
        self._starting = False
        self._abandoned = False
        self._stale = None
        self._next_seq = 1
        self._limit = self.max_batch
        self._prepared = None
        self._state = "new"
        self._wake = Event()
        self._wake_set = False
        self._room = Event()
        self._ready = Event()
        self._enqueued = 0
        self._counts = {"written": 0, "duplicates": 0, "retried": 0, "reconnects": 0, "rejected": 0}
        self._connections = 0
        self._in_flight = 0
        self._queued_at_stop = 0
        self._last_error = None
        self._last_error_time = None
        self._last_write_time = None
        self._down_since = None

    # -- life cycle -----------------------------------------------------
    def start(self):
        """Open the queue and start the writer greenlet; return ``self``.

        Waits up to :attr:`start_timeout` for the first connection. Raises
        :class:`~flubber.loggers.UnknownCodenameError` when a codename has
        not exactly one row in ``dateplots_descriptions``,
        :class:`~flubber.loggers.TableError` when the table is missing or
        not a dateplots table, :class:`~flubber.loggers.DatabaseError` when
        the server refuses the account or database, and
        :class:`~flubber.loggers.SpoolError` when the spool cannot be used.
        If the database does not answer in time, it logs a warning and
        returns: points queue up and are sent once it does. A stopped
        logger may be started again.
        """
        if self._greenlet is not None:
            raise LoggerError("the logger is already started")
        if self.spool_path is not None:
            target = "%s table=%s" % (self._target_id(), self.table)
            self._queue = SpoolQueue(self.spool_path, target)
        else:
            self._queue = self._memory_queue
        queue = self._queue
        self._backend = make_backend(self.settings, self.table, self.descriptions_table,
                                     connect_timeout=self.connect_timeout, query_timeout=self.query_timeout)
        self._backend.origin = queue.origin
        self._next_seq = max(self._next_seq, queue.next_seq)
        self._stale = queue.session
        self._failure = None
        self._abandoned = False
        self._resolved = False
        self._stopping = False
        self._limit = self.max_batch
        self._prepared = None
        self._ready.clear()
        self._accepting = True
        self._state = "connecting"
        self._greenlet = gevent.spawn(self._run, self._backend, queue)
        self._starting = True
        try:
            self._ready.wait(self.start_timeout)
        finally:
            self._starting = False
        if self._failure is not None:
            failure = self._failure
            self._greenlet.join()
            self._greenlet = None
            self._accepting = False
            self._close_queue()
            raise failure
        if not self._ready.is_set():
            log.warning("%s: no answer from %s within %.1f s (%s); points are queued and sent once "
                        "it answers", self, self.settings.describe(), self.start_timeout,
                        self._last_error or "no error yet")
        return self

    def stop(self, timeout=None):
        """Stop accepting points, let the writer drain the queue, close.

        Waits at most *timeout* seconds (default :attr:`stop_timeout`) for
        every queued point to be written, then stops the writer anyway.
        Returns the number of points not written: with a spool they stay in
        the file for the next :meth:`start`; in memory they stay in this
        object (:meth:`pending`, or a later :meth:`start`) and are lost when
        the process ends. A warning says which. Stopping a logger that is
        not running returns the count and does nothing else.
        """
        greenlet = self._greenlet
        if greenlet is None:
            return len(self._queue) if self._queue is not None else self._queued_at_stop
        timeout = self.stop_timeout if timeout is None else timeout
        self._accepting = False
        self._stopping = True
        self._state = "stopping"
        self._wake.set()
        self._room.set()
        greenlet.join(timeout)
        if not greenlet.dead:
            log.warning("%s: stop() timed out after %.1f s with %d points not written; stopping the "
                        "writer", self, timeout, len(self._queue))
            greenlet.kill(block=True, timeout=5.0)
        self._greenlet = None
        remaining = len(self._queue)
        self._queued_at_stop = remaining
        if self._failure is None:
            self._state = "stopped"
        if remaining:
            where = ("kept in spool %s and sent by the next start()" % self.spool_path if self.spool_path
                     else "still in memory: see pending(); they are lost when this process ends")
            log.warning("%s stopped with %d points not written (%s)", self, remaining, where)
        else:
            log.info("%s stopped; every point written", self)
        self._close_queue()
        return remaining

    def _close_queue(self):
        if self._queue is not None and self._queue is not self._memory_queue:
            if not self._abandoned and self._stale is None:
                self._queue.set_session(None)
            self._queue.close()
            self._queue = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    # -- enqueueing -----------------------------------------------------
    def enqueue_point(self, codename, point):
        """Queue *point* ``(unixtime, value)`` for *codename*.

        Checked here, so a bad point never enters the queue:
        :class:`~flubber.loggers.UnknownCodenameError` for a codename not
        given to the constructor, :class:`~flubber.loggers.InvalidPointError`
        for anything but a pair of a unix time and a real number. NaN and
        infinities are stored as NULL. When the queue is full,
        :attr:`full_policy` applies (blocking only the calling greenlet; do
        not call it from a hub callback then). Raises
        :class:`~flubber.loggers.LoggerStoppedError` outside
        :meth:`start`/:meth:`stop`.
        """
        if codename not in self._codename_set:
            raise self._unknown(codename)
        try:
            unixtime, value = point
        except (TypeError, ValueError):
            unixtime, value = validate_point(point)  # raises the clear error
        # the common case (floats in range) checked inline, the rest by the validators
        if type(unixtime) is not float or not TIME_MIN <= unixtime <= TIME_MAX:
            unixtime = validate_time(unixtime)
        if type(value) is not float or value - value != 0.0:
            value = validate_value(value)
        self._put(codename, unixtime, value)

    def enqueue_point_now(self, codename, value):
        """Queue *value* for *codename* with the current time; return that
        unix time. Checks as :meth:`enqueue_point`."""
        if codename not in self._codename_set:
            raise self._unknown(codename)
        value = validate_value(value)
        unixtime = time.time()
        self._put(codename, unixtime, value)
        return unixtime

    def _unknown(self, codename):
        return UnknownCodenameError("codename %r is not one of this logger's measurement_codenames %s"
                                    % (codename, list(self.codenames)))

    def _put(self, codename, unixtime, value):
        if not self._accepting:
            self._refuse()
        queue = self._queue
        if len(queue) >= self.max_queue:
            self._wait_for_room()
        seq = self._next_seq
        self._next_seq = seq + 1
        queue.append((seq, codename, unixtime, value))
        self._enqueued += 1
        if not self._wake_set:
            self._wake_set = True
            self._wake.set()

    def _refuse(self):
        if self._failure is not None:
            raise LoggerFailedError("the logger gave up: %s" % self._failure) from self._failure
        if self._state == "new":
            raise LoggerStoppedError("the logger is not started: call start() before enqueue_point()")
        raise LoggerStoppedError("the logger is stopped: call start() again to log more points")

    def _wait_for_room(self):
        message = ("the logger's queue holds max_queue=%d points (%s); the database is not taking "
                   "them: %s" % (self.max_queue, self.settings.describe(), self._last_error or "no error"))
        if self.full_policy == "raise":
            raise QueueFullError(message)
        deadline = None if self.block_timeout is None else time.monotonic() + self.block_timeout
        while len(self._queue) >= self.max_queue:
            if not self._accepting:
                self._refuse()
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise QueueFullTimeoutError(message + " (waited %.1f s)" % self.block_timeout)
            self._room.clear()
            self._room.wait(remaining)

    # -- inspection -----------------------------------------------------
    def status(self):
        """Return a dict describing the logger now (JSON-friendly).

        ``state`` (new, connecting, connected, disconnected, stopping,
        stopped, failed), ``backend``, ``target``, ``table``, ``dedup`` (the
        table has the (origin, seq) key), ``queued`` (not yet confirmed,
        including ``in_flight``), ``enqueued`` (since construction),
        ``written`` (confirmed stored), ``duplicates`` (of those, found
        already stored by an earlier attempt and skipped), ``retried``
        (failed attempts), ``reconnects``, ``rejected`` (refused by the
        database, see :attr:`rejected`), ``last_error`` and
        ``last_error_time``, ``last_write_time``, ``connection_id`` (server
        connection id, for ``SHOW PROCESSLIST``) and ``spool``.
        """
        backend = self._backend
        layout = backend.layout if backend is not None else None
        session = backend.session if backend is not None else None
        queued = len(self._queue) if self._queue is not None else self._queued_at_stop
        status = {
            "state": self._state,
            "backend": self.settings.kind,
            "target": self.settings.describe(),
            "table": self.table,
            "dedup": layout.dedup if layout is not None else None,
            "queued": queued,
            "in_flight": self._in_flight,
            "enqueued": self._enqueued,
        }
        status.update(self._counts)
        status.update({
            "last_error": self._last_error,
            "last_error_time": self._last_error_time,
            "last_write_time": self._last_write_time,
            "connection_id": session.thread_id if session is not None and self._state == "connected" else None,
            "spool": self.spool_path,
        })
        return status

    def pending(self):
        """Return the points not yet written, ``(codename, unixtime, value)``,
        in order (``None`` stands for a NaN or infinite value)."""
        if self._queue is not None:
            return self._queue.pending()
        return []

    def flush(self, timeout=None):
        """Wait until every queued point is written (or *timeout* seconds,
        None: no limit); return the number still queued. The logger keeps
        running."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._queue is not None and len(self._queue) and self._greenlet is not None \
                and not self._greenlet.dead:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            self._room.clear()
            self._room.wait(remaining)
        return len(self._queue) if self._queue is not None else self._queued_at_stop

    def __repr__(self):
        return "<ContinuousLogger %s table=%s %s>" % (self.settings.describe(), self.table, self._state)

    def _target_id(self):
        settings = self.settings
        if settings.kind == "sqlite" and settings.path != ":memory:":
            return "sqlite:///" + os.path.abspath(settings.path)
        return "%s://%s:%s/%s" % (settings.kind, settings.host, settings.port, settings.database) \
            if settings.kind == "mysql" else settings.describe()

    # -- the writer greenlet ----------------------------------------------
    def _run(self, backend, queue):
        try:
            self._write_loop(backend, queue)
        except gevent.GreenletExit:
            raise
        except Exception as exc:  # a bug, or the spool file failing
            log.exception("%s: the writer failed", self)
            self._fail(exc)
        finally:
            self._in_flight = 0
            if not self._abandoned:
                self._pool.spawn(backend.close).wait(5.0)
            self._room.set()

    def _write_loop(self, backend, queue):
        backoff = Backoff(self.initial_backoff, self.max_backoff)
        connected = False
        while True:
            if self._stopping and not len(queue):
                return
            if not connected:
                outcome = self._connect(backend, queue)
                if outcome is None:
                    return
                if not outcome:
                    self._pause(backoff.next_delay())
                    continue
                connected = True
            prepared, self._prepared = self._prepared, None
            if prepared is not None:
                batch, rendering = prepared
            else:
                batch, rendering = queue.peek(self._limit), None
            if not batch:
                if self._stopping:
                    return
                self._wake_set = False
                self._wake.clear()
                if not len(queue):
                    self._wake.wait()
                continue
            if self._send(backend, queue, batch, rendering):
                backoff.reset()
            else:
                connected = False
                self._pause(backoff.next_delay())

    def _pause(self, delay):
        if delay > 0:
            gevent.sleep(delay)

    def _call(self, backend, method, *args):
        """Run ``method(*args)`` of *backend* in the thread pool, wait for it."""
        return self._wait(backend, self._pool.spawn(capture, method, *args))

    def _wait(self, backend, result):
        """Wait for the thread-pool *result* of a call on *backend*'s connection."""
        try:
            return unwrap(result.get())
        except gevent.GreenletExit:
            # stop() gave up while the database call still runs in its
            # thread: that connection is closed when the call returns, and
            # its server session is ended before anything is sent again
            self._abandoned = True
            if backend.session is not None and self._stale is None:
                self._stale = backend.session.as_dict()
            pool = self._pool
            result.rawlink(lambda _result: gevent.spawn(pool.apply, backend.close))
            raise

    def _connect(self, backend, queue):
        """Connect (and at the first time resolve codenames and table).

        Returns True when ready to write, False to retry after back-off,
        None when the logger failed for good.
        """
        first = not self._resolved
        try:
            self._call(backend, backend.connect)
            if first:
                if self._create is not None:
                    self._call(backend, backend.create_tables, self._create)
                codenames = set(self.codenames) | queue.codenames()
                self._call(backend, backend.resolve, codenames)
                self._resolved = True
            if self._stale is not None:
                self._end_stale_session(backend, Session.from_dict(self._stale))
                self._stale = None
            queue.set_session(backend.session.as_dict() if backend.session is not None else None)
            if queue.in_doubt is not None:
                self._settle_doubt(backend, queue)
        except gevent.GreenletExit:
            raise
        except Exception as exc:
            fatal = isinstance(exc, (UnknownCodenameError, TableError))
            if first and not fatal and not isinstance(exc, LoggerError) and backend.classify(exc) == NEEDS_HUMAN:
                fatal = True
                refused = DatabaseError("%s refuses the logger: %s" % (self.settings.describe(), exc))
                refused.__cause__ = exc
                exc = refused
            if fatal:
                self._fail(exc)
                return None
            self._note_error(exc, "connecting to")
            self._drop(backend)
            return False
        self._connections += 1
        if self._connections > 1:
            self._counts["reconnects"] += 1
        self._state = "connected"
        self._ready.set()
        if self._down_since is not None:
            log.warning("%s: database reachable again after %.1f s; %d points queued",
                        self, time.monotonic() - self._down_since, len(queue))
            self._down_since = None
        return True

    def _end_stale_session(self, backend, session):
        deadline = time.monotonic() + self.stale_session_timeout
        while not self._call(backend, backend.end_stale_session, session):
            if time.monotonic() > deadline:
                raise DatabaseError("server connection %s of a failed attempt is still running %.0f s "
                                    "after KILL; not sending again yet" % (session.thread_id,
                                                                         self.stale_session_timeout))
            gevent.sleep(0.05)

    def _settle_doubt(self, backend, queue):
        """Find out whether the batch whose COMMIT reply was lost is stored."""
        first_seq, last_seq, marker = queue.in_doubt
        batch = [point for point in queue.peek(last_seq - first_seq + 1) if point[0] <= last_seq]
        if not batch or batch[0][0] != first_seq:
            queue.set_in_doubt(None)
            return
        if self._call(backend, backend.was_committed, tuple(marker)):
            log.info("%s: the batch of %d points whose COMMIT reply was lost is stored; not sending "
                     "it again", self, len(batch))
            queue.discard(batch)
            self._counts["written"] += len(batch)
            self._room.set()
        else:
            log.info("%s: the batch of %d points whose COMMIT reply was lost is not stored; sending "
                     "it again", self, len(batch))
            queue.set_in_doubt(None)

    def _send(self, backend, queue, batch, rendering=None):
        """Write *batch* (*rendering*: its render already under way); True on
        success (or after handling bad data), False to reconnect after back-off.

        While the server stores this batch, the next one is rendered in
        another thread (:meth:`_prepare_next`), so the Python work of batch
        k+1 overlaps the database work of batch k.
        """
        self._in_flight = len(batch)
        pool = self._pool
        try:
            if rendering is not None:
                rendered = unwrap(rendering.get())
            else:
                rendered = self._call(backend, backend.render, batch)
            if backend.layout.dedup:
                writing = pool.spawn(capture, backend.write, rendered)
                self._prepare_next(backend, queue, batch)
                inserted = self._wait(backend, writing)
            else:
                inserting = pool.spawn(capture, backend.insert, rendered, batch)
                self._prepare_next(backend, queue, batch)
                marker = self._wait(backend, inserting)
                queue.set_in_doubt((batch[0][0], batch[-1][0], list(marker)))
                try:
                    self._call(backend, backend.commit)
                except Exception as exc:
                    if not backend.commit_outcome_unknown(exc):
                        queue.set_in_doubt(None)
                    raise
                inserted = len(batch)
        except gevent.GreenletExit:
            self._prepared = None
            raise
        except Exception as exc:
            self._prepared = None
            self._counts["retried"] += 1
            if backend.classify(exc) == BAD_DATA:
                return self._bad_data(backend, queue, batch, exc)
            self._note_error(exc, "writing to")
            self._drop(backend)
            return False
        finally:
            self._in_flight = 0
        queue.discard(batch)
        counts = self._counts
        counts["written"] += len(batch)
        counts["duplicates"] += len(batch) - inserted
        self._last_write_time = time.time()
        if self._limit < self.max_batch:
            self._limit = min(self.max_batch, self._limit * 2)
        self._room.set()
        return True

    def _prepare_next(self, backend, queue, batch):
        """Start rendering the batch that follows *batch* in another thread."""
        following = queue.peek(self._limit, len(batch))
        if following:
            self._prepared = (following, self._pool.spawn(capture, backend.render, following))

    def _bad_data(self, backend, queue, batch, exc):
        """The database refused the data: halve the batch until the bad
        point is alone, then reject that point (and only it)."""
        try:
            self._call(backend, backend.rollback)
        except Exception as rollback_exc:
            self._note_error(rollback_exc, "rolling back on")
            self._drop(backend)
            return False
        if len(batch) > 1:
            self._limit = max(1, len(batch) // 2)
            log.info("%s: the database refuses a batch of %d points (%s); retrying in halves to "
                     "find the bad point", self, len(batch), exc)
            return True
        _seq, codename, unixtime, value = batch[0]
        log.error("%s: the database refuses point %s=(%r, %r) (%s); it is rejected, the others "
                  "go on", self, codename, unixtime, value, exc)
        self.rejected.append((codename, unixtime, value, str(exc)))
        self._counts["rejected"] += 1
        queue.discard(batch)
        self._room.set()
        return True

    def _drop(self, backend):
        """Forget the connection after an error; remember its server session
        so that it is ended before anything is sent again."""
        if backend.session is not None and self._stale is None:  # the oldest one matters
            self._stale = backend.session.as_dict()
        self._call(backend, backend.reset)
        self._state = "disconnected"

    def _note_error(self, exc, doing):
        self._last_error = "%s: %s" % (type(exc).__name__, exc)
        self._last_error_time = time.time()
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning("%s: %s %s failed (%s); %d points queued, retrying with back-off",
                        self, doing, self.settings.describe(), self._last_error, len(self._queue))
        else:
            log.debug("%s: %s %s failed again: %s", self, doing, self.settings.describe(), self._last_error)

    def _fail(self, exc):
        self._failure = exc
        self._last_error = "%s: %s" % (type(exc).__name__, exc)
        self._last_error_time = time.time()
        self._accepting = False
        self._state = "failed"
        self._ready.set()
        self._room.set()
        if not self._starting:  # else start() raises it
            log.critical("%s gave up: %s", self, exc)
