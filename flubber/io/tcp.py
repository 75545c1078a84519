"""TCP streams: :class:`TCPClient`, :class:`TCPServer`, :class:`TCPConnection`.

IPv4 and IPv6, host names resolved cooperatively, ``TCP_NODELAY`` on every
connection (requests and replies are small and must not wait for Nagle).
"""
import socket

import gevent.socket

from flubber.io._exceptions import TCPError, translate_os_error
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


class _TCPStream(SocketStream):
    error_class = TCPError

    def _adopt_socket(self, sock):
        _set_nodelay(sock)
        super()._adopt_socket(sock)


class TCPClient(_TCPStream):
    """Class representing a TCP client.

    >>> client = TCPClient()
    >>> client.connect(("127.0.0.1", 8600), timeout=5)   # doctest: +SKIP
    >>> client.write(b"hello\\n")                          # doctest: +SKIP
    >>> client.read_until(b"\\n")                          # doctest: +SKIP
    """

    def connect(self, target, source_address=None, timeout=None):
        """Start an outgoing connection towards *target* and wait until it is up.

        :param target: ``(host, port)`` or ``"host:port"``; host names are
            resolved and each address is tried in turn.
        :param source_address: ``(host, port)`` to bind the local end to,
            else the system picks one.
        :param timeout: seconds for the whole connect (``None``: the OS limit).
        :raises TCPTimeoutError: *timeout* passed before the connection was
            up (a :class:`TCPError` and a :class:`TimeoutError`).
        :raises TCPError: when the connection cannot be made (errno kept).
        :raises StreamClosedError: the client was closed.
        :raises StreamError: the client is already connected.
        """
        host, port = parse_tcp_address(target)
        return connect_socket(self, None, timeout, source_address, TCPError, (host, port))


def connect_tcp(target, timeout=None, source_address=None, **stream_options):
    """Return a connected :class:`TCPClient` (a shortcut for ``TCPClient().connect(...)``)."""
    client = TCPClient(**stream_options)
    return client.connect(target, source_address=source_address, timeout=timeout)


class TCPConnection(_TCPStream, SocketConnection):
    """Class representing a TCP connection handled by a :class:`TCPServer`."""


class TCPServer(StreamServer):
    """Class representing a TCP server.

    ``bind(("127.0.0.1", 0))`` takes a free port; :attr:`sockname` tells which.
    Binding ``"::"`` or ``"::1"`` serves IPv6.
    """

    error_class = TCPError
    connection_class = TCPConnection

    #: Set SO_REUSEADDR so a restarted server can bind its port at once.
    reuse_addr = True

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
        return self.connection_class(sock)

    @property
    def sockname(self):
        """The local address where the server is listening."""
        if self._listener is None:
            raise TCPError("server is not bound: call bind() first")
        return self._sockname
