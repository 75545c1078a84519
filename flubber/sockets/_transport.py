"""The UDP transport under every pull and push socket: datagrams in and out.

A socket binds its port when it is constructed (so a taken port is an
error at once, as in PyExpLabSys), serves from :meth:`UDPSocketBase.start`
on a :class:`gevent.server.DatagramServer`, and frees the port the moment
:meth:`UDPSocketBase.stop` returns.

The datagram server reads a batch of requests per readiness event in the
hub (its size adapts to the load, at most ``max_accept``) and hands each to
the socket's ``_on_datagram``; no greenlet is spawned per request. Replies are sent with
one non-blocking ``sendto`` each; should the kernel's send buffer be full,
they wait in a bounded outbox that one writer greenlet drains in order.
"""
import collections
import errno
import logging
import socket as stdlib_socket

import gevent
import gevent.socket
from gevent.server import DatagramServer

from flubber._lifecycle import Service
from flubber.sockets._exceptions import PortInUseError
from flubber.sockets._protocol import MAX_REQUEST_SIZE
from flubber.sockets._status import PORTS

LOG = logging.getLogger(__name__)


class Stats:
    """Counters of one socket, for tests, benchmarks and curious users."""

    __slots__ = ("requests", "replies", "errors", "dropped")

    def __init__(self):
        #: Datagrams received.
        self.requests = 0
        #: Replies handed to the kernel.
        self.replies = 0
        #: Requests whose handling raised (a bug; each is logged with its traceback).
        self.errors = 0
        #: Replies that could not be sent (outbox full, or the OS refused them).
        self.dropped = 0

    def as_dict(self):
        """Return the counters as a dict."""
        return {name: getattr(self, name) for name in self.__slots__}

    def __repr__(self):
        return "Stats(%s)" % ", ".join("%s=%d" % item for item in self.as_dict().items())


class _Server(DatagramServer):
    """A :class:`~gevent.server.DatagramServer` that reads whole datagrams in batches.

    The stock server reads 8192 bytes and so silently truncates larger
    requests; this one reads one byte more than the largest request it
    accepts, so an oversized request is seen as such and answered.

    The stock server also returns one datagram per :meth:`do_read` and goes
    through its spawn machinery for each. Here :meth:`do_read` itself hands
    the waiting datagrams straight to the handler and returns None, so a
    readiness event costs one Python loop over ``recvfrom`` calls. The
    handler runs in the hub and must not block or raise.

    How many datagrams one event reads adapts: an empty read (EAGAIN) costs
    a system call as dear as a real one, so after a batch of *n* the next
    event reads at most *n* without probing for more, and a batch that
    filled its budget doubles it (up to ``max_accept``). One polling client
    then costs three system calls per request, as with one thread and
    ``select``; many clients share each wake-up and the empty read.
    """

    #: Never SO_REUSEADDR: on Linux it would let a second UDP socket bind a
    #: taken port and steal its requests. UDP has no TIME_WAIT to wait for.
    reuse_addr = None

    def __init__(self, listener, handle, max_request_size):
        super().__init__(listener, handle=handle, spawn=None)
        self._raw = getattr(listener, "_sock", listener)
        self._read_size = max_request_size + 1
        self._on_datagram = handle
        self._budget = 1

    def do_read(self):
        """Answer every waiting datagram (at most ``max_accept``); return None."""
        receive, size, handle = self._raw.recvfrom, self._read_size, self._on_datagram
        budget = self._budget
        for count in range(budget):
            try:
                request, address = receive(size)
            except (BlockingIOError, InterruptedError):
                # Next time read just as many and skip this empty read.
                self._budget = count or 1
                return None
            except OSError as exc:
                # An ICMP error queued on the socket, say; reading again clears it.
                LOG.debug("recvfrom on %s failed: %s", self.address, exc)
                return None
            handle(request, address)
        self._budget = min(budget * 2, self.max_accept)
        return None


class UDPSocketBase(Service):
    """What every pull and push socket shares: bind, serve, stop, send.

    The lifecycle is flubber's one (:doc:`/lifecycle`); ``join`` and
    ``is_alive`` are kept for scripts written against PyExpLabSys'
    thread-based sockets.

    Subclasses set ``protocol`` (a pull or push protocol object) before
    calling this constructor and implement ``_on_datagram(request,
    address)``, which is called in the hub and must not block.
    """

    #: Largest request accepted; longer ones get the protocol's error reply.
    #: Set it on the class (or a subclass) before constructing a socket.
    max_request_size = MAX_REQUEST_SIZE
    #: Replies that may wait for a full send buffer before new ones are dropped.
    max_pending_replies = 1024
    #: Requests handled per readiness event before other greenlets get a turn.
    max_accept = 100

    def __init__(self, host, port):
        #: Kept for scripts that set it on PyExpLabSys' thread-based sockets; unused.
        self.daemon = True
        self._stats = Stats()
        self._host = host
        self._requested_port = port
        self._socket = None
        self._raw = None
        self._server = None
        self._address = None
        self._outbox = collections.deque()
        self._writer = None
        self._bind()

    # -- lifetime ------------------------------------------------------

    @property
    def stats(self):
        """Counters of this socket: ``requests``, ``replies``, ``errors`` (a bug
        while answering; logged with its traceback) and ``dropped`` replies."""
        return self._stats

    @property
    def port(self):
        """The bound UDP port (the real one when constructed with port 0)."""
        return self._address[1] if self._address else self._requested_port

    @property
    def address(self):
        """The bound ``(host, port)``, or None after :meth:`stop`."""
        return self._address

    def start(self):
        """Start serving requests; return the socket at once.

        Calling it again while serving does nothing. After :meth:`stop` it
        binds the same port again (raising
        :class:`~flubber.sockets.PortInUseError` if it was taken since).
        """
        return super().start()

    def _start(self):
        if self._socket is None:
            self._bind()
        server = _Server(self._socket, self._on_datagram, self.protocol.max_request_size)
        server.max_accept = self.max_accept
        try:
            server.start()
        except BaseException:
            self._release()
            raise
        self._server = server
        self._on_start()
        LOG.info("%s serving on UDP %s:%d", self, *self._address[:2])

    def stop(self, timeout=None):
        """Stop serving and free the port at once.

        Harmless before :meth:`start` (it then just frees the port) and
        when called twice. A new socket can bind the port as soon as this
        returns. *timeout* is accepted for the common lifecycle; nothing
        here waits.
        """
        return super().stop(timeout)

    def _stop(self, timeout):
        self._release()

    def _stop_idle(self):
        self._release()

    def _release(self):
        server, self._server = self._server, None
        sock, self._socket = self._socket, None
        self._raw = None
        try:
            self._on_stop()
        finally:
            if server is not None:
                server.close()
            if sock is not None:
                sock.close()
            if self._writer is not None:
                self._writer.kill(block=False)
                self._writer = None
            self._outbox.clear()
            PORTS.release(self)
            self._address = None
        LOG.info("%s stopped", self)

    @property
    def name(self):
        """The socket's name (the reply to ``name``)."""
        return self.protocol.name

    def __repr__(self):
        return "<%s %r on UDP port %s>" % (type(self).__name__, self.name, self.port)

    def poke(self):
        """Tell the socket there is activity (see ``check_activity``)."""
        self.protocol.activity.poke(self.protocol.clock())

    def status_entry(self):
        """Return this socket's entry of the ``status`` reply."""
        return self.protocol.status_entry()

    def join(self, timeout=None):
        """Wait until the socket is stopped (or *timeout* seconds passed).

        Returns whether it is stopped. For scripts written against
        PyExpLabSys' thread-based sockets; the same as :meth:`wait`.
        """
        return self.wait(timeout)

    def is_alive(self):
        """Return whether the socket is serving (:attr:`running`, PyExpLabSys' name)."""
        return self.running

    def _on_start(self):
        """Hook for subclasses: called when serving started."""

    def _on_stop(self):
        """Hook for subclasses: called first in :meth:`stop`."""

    # -- binding -------------------------------------------------------

    def _bind(self):
        """Bind the port and register it, or raise leaving nothing behind."""
        self._address = PORTS.claim(self, self._bind_socket)
        # A later start() after stop() binds this same port again, not a new ephemeral one.
        self._requested_port = self._address[1]

    def _bind_socket(self):
        host, port = self._host, self._requested_port
        if host in ("", None):
            family, address = stdlib_socket.AF_INET, ("", port)
        else:
            family, _, _, _, address = stdlib_socket.getaddrinfo(
                host, port, 0, stdlib_socket.SOCK_DGRAM)[0]
        sock = gevent.socket.socket(family, stdlib_socket.SOCK_DGRAM)
        try:
            sock.bind(address)
            bound = sock.getsockname()
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE:
                raise self._port_in_use(port, exc) from exc
            raise
        sock.setblocking(False)
        self._socket = sock
        self._raw = getattr(sock, "_sock", sock)
        return bound[:2]

    def _port_in_use(self, port, exc):
        owner = PORTS.owner(port)
        holder = ("by %r in this process; call its stop() first" % owner if owner is not None
                  else "by another process (on Linux `ss -lunp 'sport = :%d'` names it); stop that process" % port)
        return PortInUseError(
            errno.EADDRINUSE, "UDP port %d is already in use %s, or choose another port "
            "for %s (%s)" % (port, holder, type(self).__name__, exc.strerror))

    # -- sending -------------------------------------------------------

    def _send(self, reply, address):
        """Send *reply* to *address* without blocking (queueing if need be)."""
        if self._raw is None:           # stopped while the reply was being made
            self._stats.dropped += 1
            return
        if self._outbox:
            self._queue_reply(reply, address)
            return
        try:
            self._raw.sendto(reply, address)
        except BlockingIOError:
            self._queue_reply(reply, address)
            return
        except OSError as exc:
            self._stats.dropped += 1
            LOG.warning("%s could not send a reply to %s: %s", self, address, exc)
            return
        self._stats.replies += 1

    def _queue_reply(self, reply, address):
        if len(self._outbox) >= self.max_pending_replies:
            self._stats.dropped += 1
            LOG.warning("%s dropped a reply to %s: %d replies already wait for the network",
                        self, address, len(self._outbox))
            return
        self._outbox.append((reply, address))
        if self._writer is None:
            self._writer = gevent.spawn(self._drain_outbox)

    def _drain_outbox(self):
        """Writer greenlet: send queued replies in order as the kernel takes them."""
        try:
            while self._outbox and self._raw is not None:
                gevent.socket.wait_write(self._raw.fileno())
                while self._outbox:
                    reply, address = self._outbox[0]
                    try:
                        self._raw.sendto(reply, address)
                    except BlockingIOError:
                        break
                    except OSError as exc:
                        self._stats.dropped += 1
                        LOG.warning("%s could not send a reply to %s: %s", self, address, exc)
                    else:
                        self._stats.replies += 1
                    self._outbox.popleft()
        finally:
            self._writer = None
