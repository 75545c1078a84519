"""ContinuousLogger: the front end that experiment scripts call.

It checks its arguments, checks each point at ``enqueue_point`` and puts
it in the queue (memory, or the spool file); the writer greenlet of
:mod:`flubber.loggers._writer` moves the points into the database,
batched, in order and exactly once, reconnecting with back-off while the
database is away. :meth:`ContinuousLogger.stop` drains the queue (with a
timeout) and reports what is left.

The logger is a service with flubber's one lifecycle (:doc:`/lifecycle`).
"""
import logging
import os
import time
from collections import deque

from flubber._config import Where, positive_number
from flubber._lifecycle import Service
from flubber.loggers._batch import (
    TIME_MAX,
    TIME_MIN,
    MemoryQueue,
    validate_point,
    validate_time,
    validate_value,
)
from flubber.loggers._exceptions import (
    LoggerConfigurationError,
    LoggerFailedError,
    LoggerStoppedError,
    QueueFullError,
    QueueFullTimeoutError,
    UnknownCodenameError,
)
from flubber.loggers._settings import check_identifier, resolve_settings
from flubber.loggers._spool import SpoolQueue
from flubber.loggers._writer import Writer, WriterState
from flubber.loggers.tables import DESCRIPTIONS_TABLE, make_backend, normalize_descriptions

log = logging.getLogger(__name__)

#: What ``enqueue_point`` does when the queue holds ``max_queue`` points.
FULL_POLICIES = ("block", "raise")


def _positive(value, name, kind=float):
    return positive_number(value, Where(path=name, error=LoggerConfigurationError), whole=kind is int)


class ContinuousLogger(Service):
    """Log points ``(unixtime, value)`` of named measurements into a
    cinfdata-style table, from a greenlet, without ever losing one.

    :param table: the data table, e.g. ``"dateplots_dummy"``.
    :param username: database user (ignored for SQLite); optional, as a
        *url* may carry it: ``ContinuousLogger(url="mysql://user:pw@host/db",
        table="dateplots_lab", measurement_codenames=["temperature"])``.
    :param password: its password (ignored for SQLite); optional likewise.
    :param measurement_codenames: the codenames this logger may log (a
        list; required); each must have exactly one row in
        ``dateplots_descriptions`` (checked at :meth:`start`). The first
        four parameters keep PyExpLabSys' positional order.
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

    def __init__(self, table, username=None, password=None, measurement_codenames=None, *, url=None, host=None,
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
        if measurement_codenames is None:
            raise LoggerConfigurationError(
                "ContinuousLogger needs measurement_codenames, the codenames it may log, e.g. "
                "ContinuousLogger(%r, measurement_codenames=['temperature'], url=...)" % table)
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
        self._next_seq = 1
        self._enqueued = 0
        self._queued_at_stop = 0
        self._writer = Writer(self)

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
        logger may be started again; starting a running one does nothing,
        and starting one that gave up on its own stops it first.
        """
        if self._writer.state is WriterState.FAILED and super().running:
            self.stop(0)
        return super().start()

    def _start(self):
        if self.spool_path is not None:
            target = "%s table=%s" % (self._target_id(), self.table)
            self._queue = SpoolQueue(self.spool_path, target)
        else:
            self._queue = self._memory_queue
        queue = self._queue
        backend = make_backend(self.settings, self.table, self.descriptions_table,
                               connect_timeout=self.connect_timeout, query_timeout=self.query_timeout)
        backend.origin = queue.origin
        self._next_seq = max(self._next_seq, queue.next_seq)
        writer = self._writer
        writer.start(backend, queue)
        writer.starting = True
        try:
            writer.ready.wait(self.start_timeout)
        finally:
            writer.starting = False
        if writer.failure is not None:
            failure = writer.failure
            writer.give_up_start()
            self._close_queue()
            raise failure
        if not writer.ready.is_set():
            log.warning("%s: no answer from %s within %.1f s (%s); points are queued and sent once "
                        "it answers", self, self.settings.describe(), self.start_timeout,
                        writer.last_error or "no error yet")

    @property
    def running(self):
        """True from :meth:`start` until :meth:`stop`, unless the logger gave up on its own."""
        return super().running and self._writer.state is not WriterState.FAILED

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
        return super().stop(timeout)

    def _stop_idle(self):
        return len(self._queue) if self._queue is not None else self._queued_at_stop

    def _stop(self, timeout):
        timeout = self.stop_timeout if timeout is None else timeout
        self._writer.stop(timeout)
        remaining = len(self._queue)
        self._queued_at_stop = remaining
        if remaining:
            where = ("kept in spool %s and sent by the next start()" % self.spool_path if self.spool_path
                     else "still in memory: see pending(); they are lost when this process ends")
            log.warning("%s stopped with %d points not written (%s)", self, remaining, where)
        else:
            log.info("%s stopped; every point written", self)
        self._close_queue()
        return remaining

    def _close_queue(self):
        queue = self._queue
        if queue is not None and queue is not self._memory_queue:
            self._writer.close_queue(queue, self._memory_queue)
            self._queue = None

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
        writer = self._writer
        if not writer.state.accepting:
            self._refuse()
        queue = self._queue
        if len(queue) >= self.max_queue:
            self._wait_for_room()
        seq = self._next_seq
        self._next_seq = seq + 1
        queue.append((seq, codename, unixtime, value))
        self._enqueued += 1
        if not writer.wake_set:
            writer.wake_set = True
            writer.wake.set()

    def _refuse(self):
        failure = self._writer.failure
        if failure is not None:
            raise LoggerFailedError("the logger gave up: %s" % failure) from failure
        if self._writer.state is WriterState.NEW:
            raise LoggerStoppedError("the logger is not started: call start() before enqueue_point()")
        raise LoggerStoppedError("the logger is stopped: call start() again to log more points")

    def _wait_for_room(self):
        writer = self._writer
        message = ("the logger's queue holds max_queue=%d points (%s); the database is not taking "
                   "them: %s" % (self.max_queue, self.settings.describe(), writer.last_error or "no error"))
        if self.full_policy == "raise":
            raise QueueFullError(message)
        deadline = None if self.block_timeout is None else time.monotonic() + self.block_timeout
        while len(self._queue) >= self.max_queue:
            if not writer.state.accepting:
                self._refuse()
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise QueueFullTimeoutError(message + " (waited %.1f s)" % self.block_timeout)
            writer.room.clear()
            writer.room.wait(remaining)

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
        writer = self._writer
        backend = writer.backend
        layout = backend.layout if backend is not None else None
        queued = len(self._queue) if self._queue is not None else self._queued_at_stop
        status = {
            "state": writer.state.value,
            "backend": self.settings.kind,
            "target": self.settings.describe(),
            "table": self.table,
            "dedup": layout.dedup if layout is not None else None,
            "queued": queued,
            "in_flight": writer.in_flight,
            "enqueued": self._enqueued,
        }
        status.update(writer.counts)
        status.update({
            "last_error": writer.last_error,
            "last_error_time": writer.last_error_time,
            "last_write_time": writer.last_write_time,
            "connection_id": writer.session_id,
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
        writer = self._writer
        while self._queue is not None and len(self._queue) and writer.greenlet is not None \
                and not writer.greenlet.dead:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            writer.room.clear()
            writer.room.wait(remaining)
        return len(self._queue) if self._queue is not None else self._queued_at_stop

    def __repr__(self):
        return "<ContinuousLogger %s table=%s %s>" % (self.settings.describe(), self.table,
                                                       self._writer.state.value)

    def _target_id(self):
        settings = self.settings
        if settings.kind == "sqlite" and settings.path != ":memory:":
            return "sqlite:///" + os.path.abspath(settings.path)
        return "%s://%s:%s/%s" % (settings.kind, settings.host, settings.port, settings.database) \
            if settings.kind == "mysql" else settings.describe()
