"""TCP streams: :class:`TCPClient`, :class:`TCPServer`, :class:`TCPConnection`.

IPv4 and IPv6, host names resolved cooperatively, ``TCP_NODELAY`` on every
connection (requests and replies are small and must not wait for Nagle).

TLS: give the server an :class:`ssl.SSLContext` (``TCPServer(...,
ssl_context=ctx)``) and the client one too (``connect_tcp(address,
ssl_context=ctx, server_hostname=NAME)``); the streams then read and write
plain bytes as before, encrypted on the wire. The handshake runs in the
connection's own greenlet, bounded by :attr:`TCPServer.handshake_timeout`:
a client that speaks plain TCP to a TLS port, or nothing at all, costs one
log line and is closed; the server goes on.
"""
import socket
import ssl

import gevent
import gevent.socket

from flubber.io._exceptions import StreamClosedError, StreamError, TCPError, TLSError, TLSTimeoutError, translate_os_error
from flubber.io._server import StreamServer
from flubber.io._socket import SocketConnection, SocketStream, connect_socket

__all__ = ["TCPClient", "TCPServer", "TCPConnection", "parse_tcp_address", "connect_tcp"]


def parse_tcp_address(address, default_host="127.0.0.1"):
    """Return ``(host, port)`` for *address*.

    Accepted forms: ``(host, port)``, ``"host:port"``, ``"[::1]:port"``,
    ``"host"`` with no port is refused, a bare ``port`` (int or digits) means
    *default_host*.
    """
    if isinstance(address, tuple) and len(address) >= 2:
        return address[0], int(address[1])
    if isinstance(address, int):
        return default_host, address
    if isinstance(address, str):
        text = address.strip()
        if text.isdigit():
            return default_host, int(text)
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            port = rest.lstrip(":")
        else:
            host, _, port = text.rpartition(":")
        if port.isdigit():
            return host or default_host, int(port)
    raise ValueError("TCP address must be (host, port), 'host:port' or a port number, got %r" % (address,))


def _set_nodelay(sock):
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:  # pragma: no cover - not every socket supports it
        pass


def _would_block(method):
    """Return *method* (``recv`` or ``send`` of a TLS socket) raising BlockingIOError where TLS must wait.

    A non-blocking TLS socket says "try again" with SSLWantReadError or
    SSLWantWriteError; :class:`~flubber.io.BaseStream` waits on BlockingIOError.
    """
    def call(argument):
        try:
            return method(argument)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise BlockingIOError() from None

    return call


def _wrap(sock, context, server_side, server_hostname=None):
    """Return *sock* wrapped by *context* (handshake not started); close *sock* if that fails."""
    try:
        return context.wrap_socket(sock, server_side=server_side, server_hostname=server_hostname,
                                   do_handshake_on_connect=False)
    except BaseException as exc:
        sock.close()
        if isinstance(exc, (ssl.SSLError, ValueError)):
            raise TLSError("cannot start TLS: %s" % (exc,)) from exc
        raise


def _handshake(tls_socket, timeout, describe):
    """Run the TLS handshake of non-blocking *tls_socket* cooperatively, within *timeout* seconds.

    :raises TLSError: the peer does not speak TLS or its certificate is refused.
    :raises TLSTimeoutError: the handshake did not finish in time.
    """
    fileno = tls_socket.fileno()
    try:
        with gevent.Timeout(timeout, TLSTimeoutError("TLS handshake with %s did not finish within %s s"
                                                     % (describe, timeout))):
            while True:
                try:
                    tls_socket.do_handshake()
                    return
                except ssl.SSLWantReadError:
                    gevent.socket.wait_read(fileno)
                except ssl.SSLWantWriteError:
                    gevent.socket.wait_write(fileno)
    except ssl.SSLCertVerificationError as exc:
        raise TLSError("TLS handshake with %s failed: the certificate is refused (%s); check the CA file "
                       "and the server name" % (describe, exc.verify_message or exc.reason)) from exc
    except ssl.SSLError as exc:
        raise TLSError("TLS handshake with %s failed: %s" % (describe, exc.reason or exc)) from exc
    except TLSTimeoutError:  # an OSError too (a TimeoutError): already ours
        raise
    except OSError as exc:
        raise translate_os_error(exc, TLSError, "TLS handshake with %s" % (describe,)) from exc


class _TCPStream(SocketStream):
    error_class = TCPError

    #: The TLS layer while the stream is encrypted (an :class:`ssl.SSLSocket`), else None.
    _tls = None

    def _adopt_socket(self, sock):
        _set_nodelay(sock)
        super()._adopt_socket(sock)

    def _adopt_tls(self, tls_socket):
        """Take over a TLS socket whose handshake is done: reads and writes go through it."""
        self._tls = tls_socket
        self._adopt_socket(tls_socket)
        # a short read from TLS may leave decrypted bytes in the TLS layer that
        # the socket does not show as readable: the receive is always tried first
        self._short_read_drains = False
        self._recv = _would_block(tls_socket.recv)
        self._send = _would_block(tls_socket.send)

    @property
    def tls_version(self):
        """The TLS version in use (``"TLSv1.3"``), or None on a plain connection."""
        return self._tls.version() if self._tls is not None else None

    def peer_certificate(self):
        """The peer's certificate as :meth:`ssl.SSLSocket.getpeercert` gives it (None without TLS)."""
        return self._tls.getpeercert() if self._tls is not None else None

    def shutdown_write(self):
        """Half close (see :meth:`SocketStream.shutdown_write`); TLS has no half close: refused there."""
        if self._tls is not None:
            raise TLSError("a TLS stream cannot be half closed; close() it instead")
        super().shutdown_write()


class TCPClient(_TCPStream):
    """Class representing a TCP client.

    :param ssl_context: an :class:`ssl.SSLContext` (client side, e.g.
        ``ssl.create_default_context(cafile="ca.pem")``): the connection is
        TLS, its handshake part of :meth:`connect`.
    :param server_hostname: the name the server's certificate must carry
        (default: the host connected to).

    Other keyword arguments are those of :class:`~flubber.io.BaseStream`.

    >>> client = TCPClient()
    >>> client.connect(("127.0.0.1", 8600), timeout=5)   # doctest: +SKIP
    >>> client.write(b"hello\\n")                          # doctest: +SKIP
    >>> client.read_until(b"\\n")                          # doctest: +SKIP
    """

    def __init__(self, ssl_context=None, server_hostname=None, **stream_options):
        super().__init__(**stream_options)
        #: The :class:`ssl.SSLContext` of TLS connections, or None for plain TCP.
        self.ssl_context = ssl_context
        #: The name checked against the server's certificate (None: the host).
        self.server_hostname = server_hostname

    def connect(self, target, source_address=None, timeout=None, ssl_context=None, server_hostname=None):
        """Start an outgoing connection towards *target* and wait until it is up.

        :param target: ``(host, port)`` or ``"host:port"``; host names are
            resolved and each address is tried in turn.
        :param source_address: ``(host, port)`` to bind the local end to,
            else the system picks one.
        :param timeout: seconds for the connect, and as much again for the
            TLS handshake (``None``: the OS limit; no limit on the handshake).
        :param ssl_context: TLS for this connection (default: the constructor's).
        :param server_hostname: as in the constructor.
        :raises TCPTimeoutError: *timeout* passed before the connection was
            up (a :class:`TCPError` and a :class:`TimeoutError`).
        :raises TCPError: when the connection cannot be made (errno kept).
        :raises TLSError: (a :class:`TCPError`) when the TLS handshake fails,
            e.g. the server's certificate is not signed by a CA of *ssl_context*.
        :raises TLSTimeoutError: the handshake took longer than *timeout*.
        :raises StreamClosedError: the client was closed.
        :raises StreamError: the client is already connected.
        """
        host, port = parse_tcp_address(target)
        context = ssl_context if ssl_context is not None else self.ssl_context
        if context is not None and self.closed:
            raise StreamClosedError()
        if context is not None and self.connected:
            raise StreamError("stream is already connected to %r" % (self.peername,))
        if context is None:
            return connect_socket(self, None, timeout, source_address, TCPError, (host, port))
        name = server_hostname or self.server_hostname or host
        raw = connect_socket(_PlainSocket(), None, timeout, source_address, TCPError, (host, port)).sock
        _set_nodelay(raw)
        tls_socket = _wrap(raw, context, server_side=False, server_hostname=name)
        try:
            _handshake(tls_socket, timeout, "%s:%s" % (host, port))
        except BaseException:
            tls_socket.close()
            raise
        self._adopt_tls(tls_socket)
        return self


class _PlainSocket:
    """Receives the connected socket from :func:`connect_socket` before TLS wraps it."""

    closed = False
    connected = False
    sock = None

    def _adopt_socket(self, sock):
        sock.setblocking(False)
        self.sock = sock


def connect_tcp(target, timeout=None, source_address=None, ssl_context=None, server_hostname=None,
                **stream_options):
    """Return a connected :class:`TCPClient` (a shortcut for ``TCPClient().connect(...)``).

    *ssl_context* and *server_hostname* make it a TLS connection (see :class:`TCPClient`).

    :raises TCPTimeoutError: *timeout* passed before the connection was up.
    :raises TCPError: the connection cannot be made (errno kept).
    :raises TLSError: the TLS handshake failed (:class:`TLSTimeoutError`: it took too long).
    """
    client = TCPClient(ssl_context=ssl_context, server_hostname=server_hostname, **stream_options)
    return client.connect(target, source_address=source_address, timeout=timeout)


class TCPConnection(_TCPStream, SocketConnection):
    """Class representing a TCP connection handled by a :class:`TCPServer`.

    On a TLS server the handshake runs when the connection is accepted, in
    its own greenlet, before the handler sees it.
    """

    _ssl_context = None
    _handshake_timeout = None

    def __init__(self, sock, ssl_context=None, handshake_timeout=None, **kwargs):
        super().__init__(sock, **kwargs)
        if ssl_context is not None:  # a plain connection carries two attributes fewer
            self._ssl_context = ssl_context
            self._handshake_timeout = handshake_timeout

    def _set_accepted(self, server):
        if self._ssl_context is None:
            super()._set_accepted(server)
            return
        self.server = server
        sock, self._pending_sock = self._pending_sock, None
        try:
            describe = "%s:%s" % sock.getpeername()[:2]
        except OSError:
            describe = "a client"
        sock.setblocking(False)
        tls_socket = _wrap(sock, self._ssl_context, server_side=True)
        try:
            _handshake(tls_socket, self._handshake_timeout, describe)
        except BaseException:
            tls_socket.close()  # wrapping took the descriptor over: closing sock would do nothing
            self._closed = True
            raise
        self._adopt_tls(tls_socket)


class TCPServer(StreamServer):
    """Class representing a TCP server.

    ``bind(("127.0.0.1", 0))`` takes a free port; :attr:`sockname` tells which.
    Binding ``"::"`` or ``"::1"`` serves IPv6.

    :param handler: as for :class:`~flubber.io.StreamServer`.
    :param max_connections: as for :class:`~flubber.io.StreamServer`.
    :param ssl_context: an :class:`ssl.SSLContext` with the server's
        certificate loaded (``ctx.load_cert_chain(cert, key)``): every
        connection is TLS. A client that fails the handshake is logged in one
        line and closed; its handler never runs.
    """

    error_class = TCPError
    connection_class = TCPConnection

    #: Set SO_REUSEADDR so a restarted server can bind its port at once.
    reuse_addr = True

    #: Seconds a client has to finish the TLS handshake (TLS servers only).
    handshake_timeout = 10.0

    def __init__(self, handler=None, max_connections=None, ssl_context=None):
        super().__init__(handler=handler, max_connections=max_connections)
        #: The :class:`ssl.SSLContext` of a TLS server, or None.
        self.ssl_context = ssl_context

    def _create_listener(self, address):
        host, port = parse_tcp_address(address, default_host="0.0.0.0")
        try:
            infos = gevent.socket.getaddrinfo(host or None, port, socket.AF_UNSPEC, socket.SOCK_STREAM,
                                              0, socket.AI_PASSIVE)
        except OSError as exc:
            raise translate_os_error(exc, TCPError, "resolve %r" % (host,)) from exc
        family, socktype, proto, _, sockaddr = infos[0]
        sock = socket.socket(family, socktype, proto)
        try:
            if self.reuse_addr:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(sockaddr)
        except OSError as exc:
            sock.close()
            raise translate_os_error(exc, TCPError, "bind to %s:%s" % (host, port)) from exc
        return sock

    def _make_connection(self, sock, address):
        if self.ssl_context is None:
            return self.connection_class(sock)
        return self.connection_class(sock, ssl_context=self.ssl_context, handshake_timeout=self.handshake_timeout)

    def _address_to_rebind(self, address):
        # the port really bound, so that a server on port 0 restarts on the same port
        return self._sockname[:2]

    @property
    def sockname(self):
        """The local address where the server is listening."""
        if self._sockname is None:
            raise TCPError("server is not bound: call bind() first")
        return self._sockname
