"""LineInstrument: a line-protocol instrument (SCPI or a vendor's ASCII) owned by one greenlet.

Any number of greenlets call :meth:`~LineInstrument.query` and
:meth:`~LineInstrument.write`; their requests wait in one queue and the
instrument's own greenlet sends them one at a time, in order, each reply
going back to the request that asked for it. Nothing a failure leaves
behind reaches the next request:

- a request that gets no reply within its timeout fails with
  :class:`InstrumentTimeoutError`; its reply, if it comes later, is read
  and discarded before the next request is sent (when it does not come
  within :attr:`~LineInstrument.late_reply_wait`, the connection is opened
  anew, so it cannot come at all);
- a connection that breaks fails the request in progress with
  :class:`InstrumentConnectionError`; the next request reconnects, and
  while reconnecting fails the back-off doubles from
  :attr:`~LineInstrument.min_backoff` to :attr:`~LineInstrument.max_backoff`
  (requests meanwhile fail at once, naming the last error).

Everything is counted in :attr:`LineInstrument.stats`.
"""
import contextlib
import logging
import os
import re
import time
from collections import deque

import gevent
import gevent.event
from gevent import getcurrent

from flubber._config import Where, positive_seconds
from flubber._lifecycle import Service
from flubber.instruments._exceptions import (
    InstrumentConnectionError,
    InstrumentError,
    InstrumentLockError,
    InstrumentReplyError,
    InstrumentStoppedError,
    InstrumentTimeoutError,
)
from flubber.instruments.address import parse_address
from flubber.io import StreamError

__all__ = ["LineInstrument", "InstrumentStats"]

log = logging.getLogger(__name__)

# the kinds of request
_WRITE = "write"
_QUERY = "query"
_LOCK = "lock"


class InstrumentStats:
    """Counters of a :class:`LineInstrument` (read them, or :meth:`as_dict` for JSON)."""

    FIELDS = ("requests", "queries", "writes", "errors", "timeouts", "disconnects", "connects",
              "connect_failures", "late_replies", "discarded_bytes", "locks", "locks_expired")

    def __init__(self):
        #: Requests served (writes and queries, failed ones too).
        self.requests = 0
        #: Queries answered.
        self.queries = 0
        #: Writes sent.
        self.writes = 0
        #: Requests that failed (timeouts and connection errors included).
        self.errors = 0
        #: Requests that got no reply in time (or waited too long in line).
        self.timeouts = 0
        #: Connections that broke during a request.
        self.disconnects = 0
        #: Connections opened.
        self.connects = 0
        #: Connection attempts that failed.
        self.connect_failures = 0
        #: Replies that came after their request timed out, read and discarded.
        self.late_replies = 0
        #: Unrequested bytes discarded before sending a request.
        self.discarded_bytes = 0
        #: Locks granted.
        self.locks = 0
        #: Locks taken back because their holder was idle past the lease.
        self.locks_expired = 0

    def as_dict(self):
        """Return the counters as a dict."""
        return {name: getattr(self, name) for name in self.FIELDS}


class _Request:
    __slots__ = ("kind", "data", "text", "hold", "deadline", "timeout", "result", "started", "cancelled")

    def __init__(self, kind, data, text, hold, timeout):
        self.kind = kind
        self.data = data
        self.text = text
        self.hold = hold
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.result = gevent.event.AsyncResult()
        self.started = False
        self.cancelled = False


class _Hold:
    """A lock on the instrument held by one greenlet."""

    __slots__ = ("owner", "lease", "depth", "expired", "last_used")

    def __init__(self, owner, lease):
        self.owner = owner
        self.lease = lease
        self.depth = 1
        self.expired = False
        self.last_used = time.monotonic()


def _check_seconds(name, value, allow_none=False):
    if value is None and allow_none:
        return None
    return positive_seconds(value, Where(path=name))


def _check_terminator(name, value):
    if not isinstance(value, str) or not value:
        raise ValueError("%s must be a non-empty string such as '\\n' or '\\r\\n', got %r" % (name, value))
    return value


class LineInstrument(Service):
    """An instrument that speaks a line protocol, at an address.

    :param address: ``tcp://HOST:PORT``, ``serial:///dev/ttyUSB0?baudrate=9600``,
        ``pipe:///path`` or ``sim://scpi`` (see :mod:`flubber.instruments.address`).
    :param timeout: seconds a request may take, waiting in line included,
        unless the call gives its own.
    :param terminator: ends each request and each reply; *read_terminator*
        and *write_terminator* set one side alone (``"\\r\\n"``, ``"\\r"``, ...).
    :param encoding: of requests and replies (``"latin-1"`` for instruments
        that send a degree sign).
    :param name: for messages and logs (default: the address).
    :param late_reply_wait: seconds to wait for the reply of a request that
        timed out, before the next request goes out; then the connection is
        opened anew (default: that request's timeout on a serial port, where
        reopening cannot stop a late reply, else at most 0.5 s).

    The instrument is a :class:`~flubber.Service`: it starts on
    :meth:`start` (or on its first request) and connects on its first
    request; :meth:`stop` fails the waiting requests and closes the
    connection; ``with LineInstrument(...) as meter:`` starts and stops it.

    >>> meter = LineInstrument("tcp://192.168.1.20:5025", timeout=2).start()   # doctest: +SKIP
    >>> meter.query("*IDN?")                                                   # doctest: +SKIP
    'KEITHLEY INSTRUMENTS,MODEL 2000,...'
    >>> meter.query_float("MEAS:VOLT:DC?")                                     # doctest: +SKIP
    0.012345
    """

    #: Seconds before the first reconnect attempt after a failed one; it doubles each failure.
    min_backoff = 0.1
    #: The longest back-off between reconnect attempts, seconds.
    max_backoff = 10.0
    #: Seconds a connection attempt may take at most (less when the request's timeout is nearer).
    connect_timeout = 5.0
    #: The longest reply accepted, bytes; a longer one breaks the connection (a runaway device).
    max_reply_bytes = 64 * 1024
    #: Seconds :meth:`lock` waits for the instrument when the call gives no timeout.
    lock_wait = 10.0

    def __init__(self, address, timeout=2.0, terminator="\n", read_terminator=None, write_terminator=None,
                 encoding="ascii", name=None, late_reply_wait=None):
        self.address = parse_address(address)
        #: Seconds a request may take unless it says otherwise.
        self.timeout = _check_seconds("timeout", timeout)
        terminator = _check_terminator("terminator", terminator)
        #: What ends a reply.
        self.read_terminator = _check_terminator("read_terminator", read_terminator or terminator)
        #: What ends a request.
        self.write_terminator = _check_terminator("write_terminator", write_terminator or terminator)
        "".encode(encoding)  # an unknown encoding fails here, not at the first request
        #: The text encoding of requests and replies.
        self.encoding = encoding
        #: The name in messages and logs.
        self.name = name or self.address.text
        self.late_reply_wait = _check_seconds("late_reply_wait", late_reply_wait, allow_none=True)
        #: The counters (:class:`InstrumentStats`).
        self.stats = InstrumentStats()
        #: The last error message, or ``None``.
        self.last_error = None
        self._read_bytes = self.read_terminator.encode(encoding)
        self._write_bytes = self.write_terminator.encode(encoding)
        self._queue = deque()
        self._wakeup = gevent.event.Event()
        self._owner = None
        self._stream = None
        self._dirty = False
        self._owed = 0
        self._owed_wait = self.timeout
        self._backoff = 0.0
        self._retry_at = 0.0
        self._hold = None
        self._holds = {}
        self._simulator = None
        self._connect_error = None

    # -- life cycle --------------------------------------------------------------------

    @property
    def connected(self):
        """True while a connection to the instrument is open."""
        return self._stream is not None

    @property
    def simulator(self):
        """The :class:`~flubber.instruments.ScpiSimulator` behind a ``sim://`` address once connected, else ``None``."""
        return self._simulator.simulator if self._simulator is not None else None

    def _start(self):
        """Start the greenlet that owns the connection (the connection opens with the first request)."""
        self._owner = gevent.spawn(self._run)

    def _stop(self, timeout):
        """Fail the waiting requests, end the owning greenlet, close the connection and the simulator."""
        owner, self._owner = self._owner, None
        if owner is not None:
            owner.kill(timeout=timeout)
        queue, self._queue = self._queue, deque()
        for request in queue:
            if not request.result.ready():
                request.result.set_exception(InstrumentStoppedError("%s was stopped" % self.name))
        self._close_stream()
        self._hold = None
        self._holds.clear()
        simulator, self._simulator = self._simulator, None
        if simulator is not None:
            simulator.stop(timeout)

    close = Service.stop

    # -- requests ----------------------------------------------------------------------

    def write(self, text, timeout=None):
        """Send the line *text* (the write terminator is added); return when it is sent.

        :raises InstrumentTimeoutError: it could not be sent within *timeout* seconds.
        :raises InstrumentConnectionError: the instrument cannot be reached.
        """
        self._submit(_WRITE, text, timeout)

    def query(self, text, timeout=None):
        """Send the line *text* and return the reply line (without its terminator).

        :param timeout: seconds for this request, waiting in line included
            (default :attr:`timeout`).
        :raises InstrumentTimeoutError: no reply within *timeout*.
        :raises InstrumentConnectionError: the instrument cannot be reached, or
            closed the connection before replying.
        :raises InstrumentReplyError: the reply is not text in :attr:`encoding`.
        :raises InstrumentLockError: this greenlet's lock expired.
        """
        return self._submit(_QUERY, text, timeout)

    def query_float(self, text, parse=None, timeout=None):
        """Send *text* and return the reply as a float.

        :param parse: a regular expression whose first group (or whole match)
            is the number in the reply: ``r"TEMP=([-+0-9.eE]+)"``. Without
            it, the whole reply must be a number (spaces around it allowed).
        :raises InstrumentReplyError: the reply holds no number (its text is in ``.reply``).
        """
        reply = self.query(text, timeout)
        return parse_number(reply, parse, "%s: the reply %r to %r" % (self.name, reply, text))

    @contextlib.contextmanager
    def lock(self, timeout=None, lease=None, owner=None):
        """Hold the instrument for several requests of this greenlet: ``with meter.lock(): ...``.

        While held, requests of other greenlets wait (their timeouts run).
        Locks nest within one greenlet.

        :param timeout: seconds to wait for the lock (default :attr:`lock_wait`).
        :param lease: seconds of idleness after which the lock is taken back
            (a requester that hangs cannot keep it); ``None``: never.
        :param owner: who holds it, for messages (default: the greenlet).
        :raises InstrumentLockError: not granted within *timeout*.
        """
        self.acquire(timeout=timeout, lease=lease, owner=owner)
        try:
            yield self
        finally:
            self.release()

    def acquire(self, timeout=None, lease=None, owner=None):
        """Take the lock for the calling greenlet (see :meth:`lock`); :meth:`release` gives it back."""
        current = getcurrent()
        hold = self._holds.get(current)
        if hold is not None and not hold.expired:
            hold.depth += 1
            return
        lease = _check_seconds("lease", lease, allow_none=True)
        timeout = self.lock_wait if timeout is None else _check_seconds("timeout", timeout)
        hold = _Hold(owner or repr(current), lease)
        try:
            self._submit(_LOCK, hold, timeout, hold=None)
        except InstrumentTimeoutError:
            holder = self._hold
            raise InstrumentLockError("%s: not locked within %g s; it is held by %s"
                                      % (self.name, timeout, holder.owner if holder else "nobody now")) from None
        self._holds[current] = hold

    def release(self):
        """Give back the calling greenlet's lock; return False when it held none (or it expired)."""
        current = getcurrent()
        hold = self._holds.get(current)
        if hold is None:
            return False
        hold.depth -= 1
        if hold.depth > 0:
            return True
        del self._holds[current]
        if self._hold is hold:
            self._hold = None
            self._wakeup.set()
            return True
        return False

    @property
    def backoff(self):
        """Seconds the last failed connection attempt made the next one wait (0 while connections work)."""
        return self._backoff

    @property
    def holder(self):
        """Who holds the lock (the *owner* given to :meth:`lock`), or ``None``."""
        return self._hold.owner if self._hold is not None else None

    def status(self):
        """Return a JSON-friendly snapshot: address, connection, lock, queue and counters."""
        return {
            "name": self.name,
            "address": self.address.text,
            "state": self.service_state.value,
            "connected": self.connected,
            "holder": self.holder,
            "waiting": len(self._queue),
            "last_error": self.last_error,
            "stats": self.stats.as_dict(),
        }

    def __repr__(self):
        return "<LineInstrument %s %s%s>" % (self.name, self.service_state.value,
                                             ", connected" if self.connected else "")

    def _submit(self, kind, payload, timeout, hold=False):
        if not self.running:
            if self._stop_requested:
                raise InstrumentStoppedError("%s is stopped: start() it again" % self.name)
            self.start()
        timeout = self.timeout if timeout is None else _check_seconds("timeout", timeout)
        if hold is False:
            hold = self._holds.get(getcurrent())
            if hold is not None and hold.expired:
                raise InstrumentLockError("%s: the lock of %s expired after %g s without a request; "
                                          "release() it and lock again" % (self.name, hold.owner, hold.lease))
        if kind == _LOCK:
            request = _Request(kind, payload, "lock", hold, timeout)
        else:
            request = _Request(kind, self._encode(payload), payload, hold, timeout)
        self._queue.append(request)
        self._wakeup.set()
        try:
            request.result.wait(timeout)
        except BaseException:
            request.cancelled = True  # killed or timed out from outside: the owner skips it if not started
            raise
        if not request.result.ready():
            if request.started:
                # the owner is sending it and gives up at the same deadline: take its result
                request.result.wait()
            else:
                request.cancelled = True
                self.stats.requests += kind != _LOCK
                self.stats.errors += kind != _LOCK
                self.stats.timeouts += kind != _LOCK
                reason = ("it is locked by %s" % self._hold.owner) if self._hold is not None else \
                         "the instrument is busy: %d requests waiting" % len(self._queue)
                raise InstrumentTimeoutError("%s: %r waited %g s in line and was not sent (%s)"
                                             % (self.name, request.text, timeout, reason))
        return request.result.get()

    def _encode(self, text):
        if not isinstance(text, str):
            raise TypeError("a request is a str, got %r" % (text,))
        try:
            data = text.encode(self.encoding)
        except UnicodeEncodeError as exc:
            raise ValueError("%r cannot be sent in %s (%s); give the instrument another encoding"
                             % (text, self.encoding, exc.reason)) from None
        if self._write_bytes in data:
            raise ValueError("%r holds the write terminator %r: send one line per request"
                             % (text, self.write_terminator))
        return data + self._write_bytes

    # -- the owning greenlet ---------------------------------------------------------------

    def _run(self):
        request = None
        try:
            while True:
                request = self._next_request()
                request.started = True
                try:
                    value = self._perform(request)
                except InstrumentError as exc:
                    if request.kind != _LOCK:
                        self.stats.errors += 1
                    self.last_error = str(exc)
                    request.result.set_exception(exc)
                except Exception as exc:  # a bug must not kill the owner and leave callers waiting forever
                    log.exception("%s: request %r failed unexpectedly", self.name, request.text)
                    self.stats.errors += 1
                    self._close_stream()
                    request.result.set_exception(InstrumentError("%s: %r failed: %s: %s"
                                                                 % (self.name, request.text, type(exc).__name__,
                                                                    exc)))
                else:
                    request.result.set(value)
                if request.hold is not None:
                    request.hold.last_used = time.monotonic()
                request = None
                if self._owed:
                    self._absorb_late_replies()
        finally:
            if request is not None and not request.result.ready():
                request.result.set_exception(InstrumentStoppedError("%s was stopped" % self.name))

    def _next_request(self):
        """Wait for the next request to serve: the oldest, or the lock holder's oldest."""
        queue = self._queue
        while True:
            while queue and queue[0].cancelled:
                queue.popleft()
            hold = self._hold
            wait = None
            if hold is None:
                if queue:
                    return queue.popleft()
            else:
                for index, request in enumerate(queue):
                    if request.hold is hold and not request.cancelled:
                        del queue[index]
                        return request
                if hold.lease is not None:
                    wait = hold.last_used + hold.lease - time.monotonic()
                    if wait <= 0:
                        self._expire(hold)
                        continue
            self._wakeup.clear()
            self._wakeup.wait(wait)

    def _expire(self, hold):
        hold.expired = True
        self._hold = None
        self.stats.locks_expired += 1
        log.warning("%s: the lock of %s expired after %g s without a request", self.name, hold.owner, hold.lease)

    def _perform(self, request):
        if request.kind == _LOCK:
            self._hold = request.data
            request.data.last_used = time.monotonic()
            self.stats.locks += 1
            return True
        stats = self.stats
        stats.requests += 1
        remaining = request.deadline - time.monotonic()
        if remaining <= 0:
            stats.timeouts += 1
            raise InstrumentTimeoutError("%s: %r waited its %g s in line and was not sent"
                                         % (self.name, request.text, request.timeout))
        stream = self._connection(request.deadline)
        timer = gevent.Timeout(max(0.0, request.deadline - time.monotonic()))
        timer.start()
        try:
            if self._dirty:
                self._discard_pending(stream)
            stream.write(request.data)
            if request.kind == _WRITE:
                stream.flush()
                stats.writes += 1
                return None
            line = stream.read_until(self._read_bytes, max_bytes=self.max_reply_bytes)
        except gevent.Timeout as exc:
            if exc is not timer:
                raise
            stats.timeouts += 1
            if request.kind == _QUERY:
                self._owed += 1
                self._owed_wait = self.late_reply_wait or (
                    request.timeout if self.address.scheme == "serial" else min(request.timeout, 0.5))
                self._dirty = True
                raise InstrumentTimeoutError("%s: no reply to %r within %g s"
                                             % (self.name, request.text, request.timeout)) from None
            self._drop("a write did not go out within %g s" % request.timeout)
            raise InstrumentTimeoutError("%s: %r could not be sent within %g s (the instrument does not take "
                                         "data)" % (self.name, request.text, request.timeout)) from None
        except StreamError as exc:
            stats.disconnects += 1
            self._drop(str(exc))
            raise InstrumentConnectionError("%s: the connection broke during %r: %s; the next request reconnects"
                                            % (self.name, request.text, exc)) from exc
        finally:
            timer.close()
        if not line.endswith(self._read_bytes):
            stats.disconnects += 1
            self._drop("closed by the instrument")
            raise InstrumentConnectionError("%s: the instrument closed the connection before replying to %r; "
                                            "the next request reconnects" % (self.name, request.text))
        data = line[:-len(self._read_bytes)]
        try:
            reply = data.decode(self.encoding)
        except UnicodeDecodeError as exc:
            raise InstrumentReplyError("%s: the reply to %r is not %s text (%s); give the instrument another "
                                       "encoding" % (self.name, request.text, self.encoding, exc.reason),
                                       reply=data) from None
        stats.queries += 1
        return reply

    def _connection(self, deadline):
        """Return the open stream, opening it when needed (with back-off after failures)."""
        if self._stream is not None:
            return self._stream
        now = time.monotonic()
        if now < self._retry_at:
            raise InstrumentConnectionError("%s is unreachable (%s); the next attempt is in %.2g s"
                                            % (self.name, self._connect_error, self._retry_at - now))
        try:
            stream = self._open(max(0.001, min(self.connect_timeout, deadline - now)))
        except (StreamError, OSError, InstrumentError) as exc:
            self.stats.connect_failures += 1
            self._backoff = min(self.max_backoff, self._backoff * 2) if self._backoff else self.min_backoff
            self._retry_at = time.monotonic() + self._backoff
            self._connect_error = str(exc)
            if self.stats.connect_failures in (1, 10, 100) or self.stats.connect_failures % 1000 == 0:
                log.warning("%s: cannot connect (%d failures so far): %s", self.name,
                            self.stats.connect_failures, exc)
            raise InstrumentConnectionError("%s: cannot connect: %s; the next attempt is in %.2g s"
                                            % (self.name, exc, self._backoff)) from exc
        if self.stats.connects:
            log.info("%s: connected again", self.name)
        self.stats.connects += 1
        self._backoff = 0.0
        self._retry_at = 0.0
        self._stream = stream
        self._owed = 0
        # a serial line is the same wire after reopening: a late reply can still come on it
        self._dirty = self._dirty and self.address.scheme == "serial"
        return stream

    def _open(self, timeout):
        if self.address.scheme != "sim":
            return self.address.open(timeout)
        if self._simulator is None:
            from flubber.instruments.scpi import ScpiServer, ScpiSimulator

            server = ScpiServer("pipe://@flubber-sim-%d-%x" % (os.getpid(), id(self)),
                                simulator=ScpiSimulator(**self.address.options), terminator=self.read_terminator)
            self._simulator = server.start()
        return parse_address(self._simulator.address).open(timeout)

    def _discard_pending(self, stream):
        """Read and drop whatever the instrument sent unasked (a reply later than every wait)."""
        timer = gevent.Timeout(0)
        timer.start()
        try:
            while True:
                chunk = stream.read_bytes(self.max_reply_bytes)
                if not chunk:
                    return
                self.stats.discarded_bytes += len(chunk)
                log.info("%s: discarded %d bytes nobody asked for", self.name, len(chunk))
        except gevent.Timeout as exc:
            if exc is not timer:
                raise
        finally:
            timer.close()

    def _absorb_late_replies(self):
        """Read the replies of requests that timed out, so the next request gets its own."""
        stream = self._stream
        timer = gevent.Timeout(self._owed_wait)
        timer.start()
        try:
            while self._owed and stream is not None:
                line = stream.read_until(self._read_bytes, max_bytes=self.max_reply_bytes)
                if not line.endswith(self._read_bytes):
                    self._drop("closed by the instrument")
                    break
                self._owed -= 1
                self.stats.late_replies += 1
                log.info("%s: discarded a late reply %r", self.name, line)
        except gevent.Timeout as exc:
            if exc is not timer:
                raise
            # the reply may still come: only a new connection is sure not to carry it
            self._drop("a reply did not come within %g s after its request timed out" % self._owed_wait)
        except StreamError as exc:
            self._drop(str(exc))
        finally:
            timer.close()
            self._owed = 0

    def _drop(self, reason):
        log.info("%s: connection closed: %s", self.name, reason)
        self._close_stream()

    def _close_stream(self):
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.abort()


def parse_number(reply, parse, what):
    """Return the float in the text *reply*: *parse*'s first group (or whole match), else the whole reply.

    :raises InstrumentReplyError: no number found; *what* starts the message.
    """
    if parse is not None:
        match = re.search(parse, reply)
        if match is None:
            raise InstrumentReplyError("%s does not match parse %r" % (what, getattr(parse, "pattern", parse)),
                                       reply=reply)
        text = match.group(1) if match.re.groups else match.group(0)
    else:
        text = reply
    try:
        return float(text)
    except (TypeError, ValueError):
        hint = "fix the parse regex" if parse is not None else "give a parse regex whose first group is the number"
        raise InstrumentReplyError("%s is not a number; %s" % (what, hint), reply=reply) from None
