"""The writer greenlet of a :class:`~flubber.loggers.ContinuousLogger`, and its state.

One writer per logger takes batches from the head of the queue (memory, or
the spool file), hands each to the database in gevent's thread pool and
removes it from the queue only when the database committed it. A failed
batch stays at the head: order is kept, nothing is dropped, and the writer
reconnects with capped exponential back-off while the experiment script
goes on enqueueing.

How "exactly once" is kept when the reply to a COMMIT is lost (the
connection died after the server committed, or the process was killed):

* tables made by :func:`~flubber.loggers.create_tables` have a unique key on
  ``(origin, seq)``; the batch is simply sent again and the rows already
  there are skipped (counted as ``duplicates`` in the logger's status);
* older cinfdata tables: before COMMIT the writer notes the auto-increment
  id of the batch's first row (in the spool, if any); after reconnecting it
  ends the old server connection (``KILL CONNECTION``, only if it is still
  there under the same account) and reads that row back to learn whether
  the batch is stored.

Where the writer is, is one :class:`WriterState`; a move the table below
does not allow raises :class:`AssertionError` (a bug, never an expected
event)::

    NEW ──start──> CONNECTING ──> CONNECTED <──> DISCONNECTED
                       │              │               │
                       └─────stop─────┴───────────────┴──> STOPPING ──> STOPPED
    any of the four running states ──gives up──> FAILED
    STOPPED, FAILED ──start──> CONNECTING

While STOPPING the writer still connects and writes (it drains the queue):
that does not change the state.
"""
import enum
import logging
import time

import gevent
from gevent.event import Event

from flubber.loggers._backend import BAD_DATA, NEEDS_HUMAN, Session, capture, unwrap
from flubber.loggers._batch import Backoff
from flubber.loggers._exceptions import DatabaseError, LoggerError, TableError, UnknownCodenameError

log = logging.getLogger(__name__)


class WriterState(enum.Enum):
    """Where a logger's writer is; ``status()["state"]`` is its value."""

    #: Constructed, never started.
    NEW = "new"
    #: Started; the first connection is not made yet.
    CONNECTING = "connecting"
    #: Connected; batches go to the database.
    CONNECTED = "connected"
    #: The database went away; reconnecting with back-off, points queue up.
    DISCONNECTED = "disconnected"
    #: ``stop()`` was called; the writer drains the queue (it may still reconnect).
    STOPPING = "stopping"
    #: Stopped; ``start()`` may start it again.
    STOPPED = "stopped"
    #: Gave up on an error retrying cannot fix; ``start()`` may try again.
    FAILED = "failed"

    @property
    def accepting(self):
        """True in the states in which ``enqueue_point`` queues points."""
        return self in _ACCEPTING


_ACCEPTING = frozenset({WriterState.CONNECTING, WriterState.CONNECTED, WriterState.DISCONNECTED})

_ALLOWED = {
    WriterState.NEW: {WriterState.CONNECTING},
    WriterState.CONNECTING: {WriterState.CONNECTED, WriterState.DISCONNECTED, WriterState.STOPPING,
                             WriterState.FAILED},
    WriterState.CONNECTED: {WriterState.DISCONNECTED, WriterState.STOPPING, WriterState.FAILED},
    WriterState.DISCONNECTED: {WriterState.CONNECTED, WriterState.STOPPING, WriterState.FAILED},
    WriterState.STOPPING: {WriterState.STOPPED, WriterState.FAILED},
    WriterState.STOPPED: {WriterState.CONNECTING},
    WriterState.FAILED: {WriterState.CONNECTING},
}


class Writer:
    """The writer of one logger: its greenlet, its state and its counters.

    *logger* is the :class:`~flubber.loggers.ContinuousLogger` whose
    settings (``settings``, ``codenames``, ``max_batch``, back-off and
    timeouts) the writer reads at the moment it needs them, and whose
    ``rejected`` list it appends to. The logger owns the queue and the
    sequence numbers; the writer takes from the queue's head.
    """

    def __init__(self, logger):
        self._logger = logger
        self._pool = gevent.get_hub().threadpool
        #: The :class:`WriterState`.
        self.state = WriterState.NEW
        #: The backend and queue of the current (or last) run.
        self.backend = None
        self.queue = None
        self.greenlet = None
        #: The error that made the writer give up, or None.
        self.failure = None
        #: True while ``start()`` waits for the first connection (it raises a failure itself).
        self.starting = False
        # facts of the current run, not states: the codenames were resolved at
        # the first connection; stop() gave up during a database call
        self._resolved = False
        self._abandoned = False
        self._stale = None
        self._limit = logger.max_batch
        self._prepared = None
        #: Set when points were queued; ``wake_set`` saves setting it for every point.
        self.wake = Event()
        self.wake_set = False
        #: Set whenever the queue got shorter (or the writer ended).
        self.room = Event()
        #: Set at the first connection of a run (or when the writer gave up).
        self.ready = Event()
        #: ``written``, ``duplicates``, ``retried``, ``reconnects``, ``rejected`` since construction.
        self.counts = {"written": 0, "duplicates": 0, "retried": 0, "reconnects": 0, "rejected": 0}
        self.connections = 0
        self.in_flight = 0
        self.last_error = None
        self.last_error_time = None
        self.last_write_time = None
        self.down_since = None

    def __repr__(self):
        return repr(self._logger)

    def _enter(self, state):
        if state is self.state:  # a failed reconnect while disconnected, say
            return
        if state not in _ALLOWED[self.state]:
            raise AssertionError("logger writer: %s -> %s is not a valid move" % (self.state.name, state.name))
        self.state = state

    # -- driven by the logger ---------------------------------------------

    def start(self, backend, queue):
        """Start a run on *backend* taking from *queue* (spawns the greenlet)."""
        self._enter(WriterState.CONNECTING)
        self.backend = backend
        self.queue = queue
        self._stale = queue.session
        self.failure = None
        self._abandoned = False
        self._resolved = False
        self._limit = self._logger.max_batch
        self._prepared = None
        self.ready.clear()
        self.greenlet = gevent.spawn(self._run, backend, queue)

    def stop(self, timeout):
        """Let the writer drain the queue for at most *timeout* seconds, then end it."""
        greenlet = self.greenlet
        if self.state is not WriterState.FAILED:
            self._enter(WriterState.STOPPING)
        self.wake.set()
        self.room.set()
        greenlet.join(timeout)
        if not greenlet.dead:
            log.warning("%s: stop() timed out after %.1f s with %d points not written; stopping the "
                        "writer", self, timeout, len(self.queue))
            greenlet.kill(block=True, timeout=5.0)
        self.greenlet = None
        if self.state is WriterState.STOPPING:
            self._enter(WriterState.STOPPED)

    def give_up_start(self):
        """After a failure at start: wait for the greenlet to end."""
        self.greenlet.join()
        self.greenlet = None

    @property
    def session_id(self):
        """The server connection id while connected (for ``SHOW PROCESSLIST``), else None."""
        backend = self.backend
        session = backend.session if backend is not None else None
        return session.thread_id if session is not None and self.state is WriterState.CONNECTED else None

    # -- the greenlet -----------------------------------------------------
    def _run(self, backend, queue):
        try:
            self._write_loop(backend, queue)
        except gevent.GreenletExit:
            raise
        except Exception as exc:  # a bug, or the spool file failing
            log.exception("%s: the writer failed", self)
            self._fail(exc)
        finally:
            self.in_flight = 0
            if not self._abandoned:
                self._pool.spawn(backend.close).wait(5.0)
            self.room.set()

    def _write_loop(self, backend, queue):
        backoff = Backoff(self._logger.initial_backoff, self._logger.max_backoff)
        connected = False
        while True:
            stopping = self.state is WriterState.STOPPING
            if stopping and not len(queue):
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
                if self.state is WriterState.STOPPING:
                    return
                self.wake_set = False
                self.wake.clear()
                if not len(queue):
                    self.wake.wait()
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
        logger = self._logger
        first = not self._resolved
        try:
            self._call(backend, backend.connect)
            if first:
                if logger._create is not None:
                    self._call(backend, backend.create_tables, logger._create)
                codenames = set(logger.codenames) | queue.codenames()
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
                refused = DatabaseError("%s refuses the logger: %s" % (logger.settings.describe(), exc))
                refused.__cause__ = exc
                exc = refused
            if fatal:
                self._fail(exc)
                return None
            self._note_error(exc, "connecting to")
            self._drop(backend)
            return False
        self.connections += 1
        if self.connections > 1:
            self.counts["reconnects"] += 1
        if self.state is not WriterState.STOPPING:
            self._enter(WriterState.CONNECTED)
        self.ready.set()
        if self.down_since is not None:
            log.warning("%s: database reachable again after %.1f s; %d points queued",
                        self, time.monotonic() - self.down_since, len(queue))
            self.down_since = None
        return True

    def _end_stale_session(self, backend, session):
        timeout = self._logger.stale_session_timeout
        deadline = time.monotonic() + timeout
        while not self._call(backend, backend.end_stale_session, session):
            if time.monotonic() > deadline:
                raise DatabaseError("server connection %s of a failed attempt is still running %.0f s "
                                    "after KILL; not sending again yet" % (session.thread_id, timeout))
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
            self.counts["written"] += len(batch)
            self.room.set()
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
        self.in_flight = len(batch)
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
            self.counts["retried"] += 1
            if backend.classify(exc) == BAD_DATA:
                return self._bad_data(backend, queue, batch, exc)
            self._note_error(exc, "writing to")
            self._drop(backend)
            return False
        finally:
            self.in_flight = 0
        queue.discard(batch)
        counts = self.counts
        counts["written"] += len(batch)
        counts["duplicates"] += len(batch) - inserted
        self.last_write_time = time.time()
        max_batch = self._logger.max_batch
        if self._limit < max_batch:
            self._limit = min(max_batch, self._limit * 2)
        self.room.set()
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
        self._logger.rejected.append((codename, unixtime, value, str(exc)))
        self.counts["rejected"] += 1
        queue.discard(batch)
        self.room.set()
        return True

    def _drop(self, backend):
        """Forget the connection after an error; remember its server session
        so that it is ended before anything is sent again."""
        if backend.session is not None and self._stale is None:  # the oldest one matters
            self._stale = backend.session.as_dict()
        self._call(backend, backend.reset)
        if self.state is not WriterState.STOPPING:
            self._enter(WriterState.DISCONNECTED)

    def _note_error(self, exc, doing):
        describe = self._logger.settings.describe()
        self.last_error = "%s: %s" % (type(exc).__name__, exc)
        self.last_error_time = time.time()
        if self.down_since is None:
            self.down_since = time.monotonic()
            log.warning("%s: %s %s failed (%s); %d points queued, retrying with back-off",
                        self, doing, describe, self.last_error, len(self.queue))
        else:
            log.debug("%s: %s %s failed again: %s", self, doing, describe, self.last_error)

    def _fail(self, exc):
        self.failure = exc
        self.last_error = "%s: %s" % (type(exc).__name__, exc)
        self.last_error_time = time.time()
        self._enter(WriterState.FAILED)
        self.ready.set()
        self.room.set()
        if not self.starting:  # else start() raises it
            log.critical("%s gave up: %s", self, exc)

    def close_queue(self, queue, memory_queue):
        """Close a spool *queue* at the end of a run (the memory queue stays)."""
        if queue is not None and queue is not memory_queue:
            if not self._abandoned and self._stale is None:
                queue.set_session(None)
            queue.close()
