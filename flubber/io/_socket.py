"""What TCP and pipe streams share: a non-blocking socket under a BaseStream."""
import functools
import os
import socket

import gevent
import gevent.socket

from flubber.io._exceptions import StreamClosedError, StreamError, timeout_error, translate_os_error
from flubber.io._server import StreamConnection
from flubber.io._stream import BaseStream

__all__ = ["SocketStream", "SocketConnection", "connect_socket"]


class SocketStream(BaseStream):
    """A :class:`~flubber.io.BaseStream` over a connected socket."""

    _sock = None

    def _adopt_socket(self, sock):
        """Take ownership of the connected socket *sock* and mark the stream connected."""
        sock.setblocking(False)
        self._sock = sock
        self._short_read_drains = True  # a short receive empties a stream socket
        fileno = sock.fileno()
        # read(2) and write(2) on a stream socket are recv and send without
        # flags; os.read/os.write parse their arguments for a fraction of
        # what socket.recv/send spend (about 600 instructions a request)
        self._recv = functools.partial(os.read, fileno)
        self._send = functools.partial(os.write, fileno)
        self._set_connected(fileno)

    def _close_transport(self):
        if self._sock is not None:
            # a late call goes to the closed socket (an error), never to a
            # descriptor number the system has given to something else since
            self._recv = self._sock.recv
            self._send = self._sock.send
            self._sock.close()

    def _socket_name(self, getter, what):
        if self._sock is None:
            raise StreamError("the stream is not connected: it has no %s yet" % what)
        try:
            return getter()
        except OSError as exc:
            if self._closed:
                raise StreamClosedError() from exc
            raise translate_os_error(exc, self.error_class, what) from exc

    @property
    def sockname(self):
        """The local address."""
        return self._socket_name(self._sock.getsockname if self._sock else None, "sockname")

    @property
    def peername(self):
        """The remote endpoint's address."""
        return self._socket_name(self._sock.getpeername if self._sock else None, "peername")

    def shutdown_write(self):
        """Send everything written, then tell the peer no more data comes (half close).

        The peer reads end of stream; this side can still read its answer.
        """
        self.flush()
        try:
            self._sock.shutdown(socket.SHUT_WR)
        except OSError as exc:
            raise self._fail(exc, "shutdown") from exc


class SocketConnection(SocketStream, StreamConnection):
    """A connection accepted by a socket server."""

    def __init__(self, sock, **kwargs):
        super().__init__(**kwargs)
        self._pending_sock = sock

    def _set_accepted(self, server):
        self.server = server
        sock, self._pending_sock = self._pending_sock, None
        self._adopt_socket(sock)


def connect_socket(stream, family_address, timeout, source_address, error_class, describe):
    """Connect a new gevent socket cooperatively and hand it to *stream*.

    *family_address* is ``(family, address)`` for a plain connect, or ``None``
    with *describe* a ``(host, port)`` for :func:`gevent.socket.create_connection`.
    """
    if stream.closed:
        raise StreamClosedError()
    if stream.connected:
        raise StreamError("stream is already connected to %r" % (stream.peername,))
    try:
        if family_address is None:
            gsock = gevent.socket.create_connection(describe, timeout=timeout, source_address=source_address)
        else:
            family, address = family_address
            gsock = gevent.socket.socket(family, socket.SOCK_STREAM)
            try:
                gsock.settimeout(timeout)
                gsock.connect(address)
            except BaseException:
                gsock.close()
                raise
    except socket.timeout as exc:
        raise timeout_error(error_class, "connect to %s timed out after %s s" % (describe, timeout)) from exc
    except OSError as exc:
        raise translate_os_error(exc, error_class, "connect to %s" % (describe,)) from exc
    sock = socket.socket(gsock.family, gsock.type, gsock.proto, fileno=gsock.detach())
    stream._adopt_socket(sock)
    return stream
