"""InstrumentShare: one instrument served to many clients in its own line protocol.

Most instruments accept one connection at a time, and two scripts that
interleave queries on one connection get each other's replies. A share owns
the instrument's :class:`~flubber.instruments.LineInstrument` and listens on
a TCP port where any number of clients (PyVISA, a terminal, a script) talk to
the instrument as if it were theirs::

    flubber share tcp://192.168.1.20:5025 --port 5025

Each line a client sends is forwarded; a query (by default a line whose
command ends in ``?``) waits for the reply, which goes to that client alone.
Requests of all clients (and of the node's own schedule) are served one at a
time, in order. A request that fails gets the reply line
``:FLUBBER:ERROR <what went wrong>`` instead of the instrument's.

Escape lines, answered by the share itself:

``:FLUBBER:LOCK? [SECONDS]``
    Hold the instrument for this client alone until ``:FLUBBER:UNLOCK``;
    replies ``1`` once granted. The lock is taken back when the client sends
    nothing for SECONDS (at most, and by default, the share's
    ``lock_timeout``) or disconnects, so a dead client cannot keep it.
``:FLUBBER:UNLOCK``
    Give the lock back (no reply).
``:FLUBBER:STATS?``
    This client's statistics as one JSON line.

Each client's session ends with an access log line (logger
``flubber.instruments.share``, level INFO)::

    share tcp://127.0.0.1:5025: client 127.0.0.1:51234 left after 12.3 s: 200 queries, 1 writes, 0 errors,
    1 locks, mean 0.8 ms, max 3.1 ms
"""
import json
import logging
import re
import time
from collections import deque

from flubber._config import Where, positive_seconds
from flubber._lifecycle import Service
from flubber.instruments._exceptions import InstrumentError, InstrumentLockError
from flubber.io import StreamError, TCPServer

__all__ = ["InstrumentShare", "ClientStats", "ESCAPE"]

log = logging.getLogger(__name__)

#: The prefix of the lines the share answers itself.
ESCAPE = ":FLUBBER:"

#: The default rule for a query: a command header (or a line) that ends in ``?``.
QUERY_PATTERN = r"\?(\s|$)"


class ClientStats:
    """What one client of a share did (``as_dict()`` for JSON)."""

    def __init__(self, peer):
        #: ``"host:port"`` of the client.
        self.peer = peer
        #: Wall-clock time of the connection (seconds since the epoch).
        self.connected_at = time.time()
        self._started = time.monotonic()
        #: Seconds the client stayed (set when it left).
        self.duration = None
        #: Queries answered by the instrument.
        self.queries = 0
        #: Lines written to the instrument.
        self.writes = 0
        #: Requests that failed.
        self.errors = 0
        #: Locks granted to the client.
        self.locks = 0
        self._latency_sum = 0.0
        #: The longest request, seconds.
        self.latency_max = 0.0

    def record(self, seconds):
        """Count a request that took *seconds*."""
        self._latency_sum += seconds
        if seconds > self.latency_max:
            self.latency_max = seconds

    @property
    def latency_mean(self):
        """Mean seconds of a request (0 before any)."""
        done = self.queries + self.writes + self.errors
        return self._latency_sum / done if done else 0.0

    def as_dict(self):
        """Return the statistics as a dict."""
        return {"peer": self.peer, "connected_at": self.connected_at,
                "seconds": self.duration if self.duration is not None else time.monotonic() - self._started,
                "queries": self.queries, "writes": self.writes, "errors": self.errors, "locks": self.locks,
                "latency_mean": self.latency_mean, "latency_max": self.latency_max}

    def summary(self):
        """One line: what the client did, for the access log."""
        return ("%d queries, %d writes, %d errors, %d locks, mean %.1f ms, max %.1f ms"
                % (self.queries, self.writes, self.errors, self.locks, self.latency_mean * 1e3,
                   self.latency_max * 1e3))


class InstrumentShare(Service):
    """Serves a :class:`~flubber.instruments.LineInstrument` to many TCP clients.

    A :class:`~flubber.Service`: :meth:`start` listens (again on the same
    port after a stop), :meth:`stop` closes every client connection.

    :param instrument: the instrument (started by the share when needed;
        stopping the share leaves it running for its other users).
    :param host: address to listen on (``127.0.0.1``: this machine only).
    :param port: TCP port (0: a free one, see :attr:`port`).
    :param lock_timeout: seconds a client's lock lasts without a request.
    :param query_pattern: a regular expression; a line where it matches is a
        query (waits for a reply), any other line a write.

    Clients end their lines with the instrument's ``write_terminator`` and
    get replies ending in its ``read_terminator``, as they would talking to
    the instrument itself (a ``"\\r"`` before a ``"\\n"`` terminator is
    dropped, for terminal clients).
    """

    #: The longest request line accepted from a client, bytes.
    max_line = 64 * 1024
    #: Clients whose statistics stay in :attr:`finished` after they left.
    keep_finished = 100

    def __init__(self, instrument, host="127.0.0.1", port=5025, lock_timeout=10.0, query_pattern=QUERY_PATTERN):
        #: The shared :class:`~flubber.instruments.LineInstrument`.
        self.instrument = instrument
        self.host = host
        self.port = port
        self.lock_timeout = positive_seconds(lock_timeout, Where(path="lock_timeout"))
        self._is_query = re.compile(query_pattern).search
        self._clients = {}
        #: Statistics of clients that left, newest last.
        self.finished = deque(maxlen=self.keep_finished)
        self._server = None
        terminator = instrument.write_terminator.encode(instrument.encoding)
        self._line_end = terminator
        self._reply_end = instrument.read_terminator.encode(instrument.encoding)

    @property
    def address(self):
        """``(host, port)`` where the share listens (the real port when 0 was asked)."""
        if self._server is None:
            return None
        return tuple(self._server.sockname[:2])

    @property
    def clients(self):
        """Statistics of the connected clients (:class:`ClientStats`)."""
        return list(self._clients.values())

    def _start(self):
        """Listen and serve in the background (the instrument is started too when needed).

        :raises flubber.io.TCPError: the port cannot be bound (in use, or not allowed).
        """
        self.instrument.start()
        server = TCPServer(handler=self._serve_client)
        try:
            server.bind((self.host, self.port))
            server.start()
        except BaseException:
            server.close()
            raise
        self._server = server
        self.port = self.address[1]
        log.info("share of %s on %s:%d", self.instrument.name, self.host, self.port)

    def _stop(self, timeout):
        """Close every client connection and stop listening; the instrument keeps running."""
        server, self._server = self._server, None
        if server is not None:
            server.stop(timeout)

    def status(self):
        """Return a JSON-friendly snapshot: where, the instrument, and every connected client."""
        return {"address": list(self.address) if self.address else None, "instrument": self.instrument.status(),
                "clients": [client.as_dict() for client in self._clients.values()]}

    # -- one client ----------------------------------------------------------------------

    def _serve_client(self, connection):
        try:
            host, port = connection.peername[:2]
            peer = "%s:%d" % (host, port)
        except StreamError:
            peer = "unknown"
        client = ClientStats(peer)
        self._clients[connection] = client
        log.info("share %s:%d: client %s connected", self.host, self.port, peer)
        try:
            self._serve_lines(connection, client)
        finally:
            released = False
            while self.instrument.release():
                released = True
            if released:
                log.info("share %s:%d: client %s left holding the lock; released", self.host, self.port, peer)
            del self._clients[connection]
            client.duration = time.monotonic() - client._started
            self.finished.append(client)
            log.info("share %s:%d: client %s left after %.1f s: %s", self.host, self.port, peer,
                     client.duration, client.summary())

    def _serve_lines(self, connection, client):
        line_end = self._line_end
        while True:
            line = connection.read_until(line_end, max_bytes=self.max_line)
            if not line.endswith(line_end):
                return
            text = line[:-len(line_end)].decode(self.instrument.encoding, "replace")
            if line_end == b"\n" and text.endswith("\r"):
                text = text[:-1]
            if not text.strip():
                continue
            if text.lstrip().upper().startswith(ESCAPE):
                reply = self._escape(text.strip(), client)
            else:
                reply = self._forward(text, client)
            if reply is not None:
                connection.write(reply.encode(self.instrument.encoding, "replace") + self._reply_end)

    def _forward(self, text, client):
        query = self._is_query(text) is not None
        started = time.monotonic()
        try:
            if query:
                reply = self.instrument.query(text)
            else:
                self.instrument.write(text)
                reply = None
        except InstrumentLockError as exc:
            self.instrument.release()  # expired: the client goes on without the lock, and is told
            return self._failed(client, started, exc, query)
        except (InstrumentError, ValueError) as exc:  # ValueError: not in the instrument's encoding
            return self._failed(client, started, exc, query)
        client.record(time.monotonic() - started)
        if query:
            client.queries += 1
        else:
            client.writes += 1
        return reply

    def _failed(self, client, started, exc, query):
        client.errors += 1
        client.record(time.monotonic() - started)
        log.debug("share: request of %s failed: %s", client.peer, exc)
        return "%sERROR %s" % (ESCAPE, str(exc).replace("\n", " ")) if query else None

    def _escape(self, text, client):
        command, _, argument = text[len(ESCAPE):].partition(" ")
        command = command.upper()
        if command == "LOCK?":
            lease = self.lock_timeout
            if argument.strip():
                try:
                    lease = float(argument)
                    if not lease > 0:  # NaN too: min() would keep it and the lock check refuse it
                        raise ValueError
                    lease = min(lease, self.lock_timeout)
                except ValueError:
                    return "%sERROR LOCK? takes a number of seconds > 0, got %r" % (ESCAPE, argument.strip())
            try:
                self.instrument.acquire(lease=lease, owner="share client %s" % client.peer)
            except InstrumentError as exc:
                client.errors += 1
                return "%sERROR %s" % (ESCAPE, exc)
            client.locks += 1
            return "1"
        if command == "UNLOCK":
            while self.instrument.release():
                pass
            return None
        if command == "STATS?":
            return json.dumps(client.as_dict(), sort_keys=True)
        client.errors += 1
        message = "%sERROR unknown escape %r; use %sLOCK? [SECONDS], %sUNLOCK or %sSTATS?" % (
            ESCAPE, text, ESCAPE, ESCAPE, ESCAPE)
        return message if "?" in command else None
