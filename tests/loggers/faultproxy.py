"""A TCP proxy in front of the real MariaDB that fails on command.

The logger connects to the proxy instead of the server; the test (or the
benchmark) then breaks the way to the real server as a network or a server
reboot would, without touching the server that other tests share:

* :meth:`FaultProxy.cut` -- reset every open connection (a crash, a cable).
* :meth:`FaultProxy.down` / :meth:`FaultProxy.up` -- while down, new
  connections are closed at once (a server rebooting).
* :meth:`FaultProxy.stall` / :meth:`FaultProxy.resume` -- forward nothing
  while stalled (a black-holed network: only timeouts notice).
* :meth:`FaultProxy.drop_replies` -- forward the next ``COMMIT`` (or
  autocommitted ``INSERT``) to the server, wait for its answer (so the
  server *has* committed), then cut the connection instead of passing the
  answer on: the client cannot know whether its batch is stored.

It speaks MySQL only as far as needed to spot a statement: packets are a
3-byte little-endian length, a sequence byte and the payload; a query is
payload ``0x03`` + SQL text. TLS is not used on loopback.
"""
import gevent
from gevent.event import Event

from flubber.io import StreamError, TCPClient, TCPServer

COM_QUERY = b"\x03"


class _Pair:
    """One client connection and its upstream connection to the server."""

    def __init__(self, client, upstream):
        self.client = client
        self.upstream = upstream
        self.drop_reply = False

    def abort(self):
        self.client.abort()
        self.upstream.abort()


class FaultProxy(TCPServer):
    """Forward 127.0.0.1:<port> to *upstream* ``(host, port)``, failing on command."""

    def __init__(self, upstream):
        super().__init__()
        self.upstream = upstream
        self.pairs = set()
        self._accepting = True
        self._flowing = Event()
        self._flowing.set()
        self._commit_drops = 0
        self._drop_prefix = COM_QUERY + b"COMMIT"
        self._down_after_drop = False
        #: How many replies were swallowed.
        self.commits_dropped = 0
        #: How many connections were accepted.
        self.accepted = 0

    @classmethod
    def launch(cls, upstream):
        """Return a running proxy on an ephemeral loopback port."""
        proxy = cls(upstream)
        proxy.bind(("127.0.0.1", 0))
        proxy.start()
        return proxy

    @property
    def port(self):
        """The port the proxy listens on."""
        return self.sockname[1]

    # -- faults ---------------------------------------------------------
    def cut(self):
        """Reset every open connection."""
        for pair in list(self.pairs):
            pair.abort()

    def down(self):
        """Cut every connection and refuse new ones until :meth:`up`."""
        self._accepting = False
        self.cut()

    def up(self):
        """Accept connections again."""
        self._accepting = True

    def stall(self):
        """Stop forwarding (both ways) until :meth:`resume`."""
        self._flowing.clear()

    def resume(self):
        """Forward again what was held and what comes."""
        self._flowing.set()

    def drop_replies(self, statement=b"COMMIT", count=1, then_down=False):
        """Swallow the server's answer to the next *count* queries that start
        with *statement* (``b"COMMIT"``; ``b"INSERT"`` for autocommitted
        inserts), cutting the connection each time (and with *then_down*
        refusing new ones until :meth:`up`)."""
        self._drop_prefix = COM_QUERY + statement
        self._commit_drops += count
        self._down_after_drop = then_down

    # -- forwarding -------------------------------------------------------
    def handle_connection(self, connection):
        self.accepted += 1
        if not self._accepting:
            connection.abort()
            return
        upstream = TCPClient()
        try:
            upstream.connect(self.upstream, timeout=5.0)
        except StreamError:
            connection.abort()
            return
        pair = _Pair(connection, upstream)
        self.pairs.add(pair)
        down = gevent.spawn(self._pump_down, pair)
        try:
            self._pump_up(pair)
        except StreamError:
            pass
        finally:
            pair.abort()
            down.kill()
            self.pairs.discard(pair)

    def _pump_up(self, pair):
        """Client to server, packet-aware to spot the statement whose reply is dropped."""
        pending = bytearray()
        while True:
            data = pair.client.read_bytes(65536)
            if not data:
                return
            pending += data
            out = bytearray()
            while len(pending) >= 4:
                length = int.from_bytes(pending[:3], "little")
                if len(pending) < 4 + length:
                    break
                packet = bytes(pending[:4 + length])
                del pending[:4 + length]
                if self._commit_drops and packet[4:].startswith(self._drop_prefix):
                    self._commit_drops -= 1
                    pair.drop_reply = True
                out += packet
            if out:
                self._flowing.wait()
                pair.upstream.write(bytes(out))
                pair.upstream.flush()

    def _pump_down(self, pair):
        """Server to client."""
        try:
            while True:
                data = pair.upstream.read_bytes(65536)
                if not data:
                    break
                if pair.drop_reply:
                    self.commits_dropped += 1
                    if self._down_after_drop:
                        self._accepting = False
                    break
                self._flowing.wait()
                pair.client.write(data)
                pair.client.flush()
        except StreamError:
            pass
        pair.abort()
