"""Named pipes: Unix domain stream sockets addressed by a path.

A name that starts with ``"\\0"`` or ``"@"`` is a Linux abstract name (no
file is created). A stale socket file that nobody listens on is replaced; a
live one is an error, never stolen.
"""
import errno
import os
import socket
import stat

from flubber.io._exceptions import PipeError, translate_os_error
from flubber.io._server import StreamServer
from flubber.io._socket import SocketConnection, SocketStream, connect_socket

__all__ = ["PipeClient", "PipeServer", "PipeConnection"]


def _socket_address(name):
    """Return the address ``bind``/``connect`` take for pipe *name*."""
    if isinstance(name, bytes):
        name = os.fsdecode(name)
    if not isinstance(name, str) or not name:
        raise ValueError("a pipe name must be a non-empty path, got %r" % (name,))
    if name.startswith("@"):
        return "\0" + name[1:]
    return name


def _is_abstract(address):
    return address.startswith("\0")


class _PipeStream(SocketStream):
    error_class = PipeError


class PipeClient(_PipeStream):
    """Class representing a named pipe client."""

    def connect(self, target, timeout=None):
        """Connect to the named pipe *target* (a path, or ``@name`` for an abstract name).

        :param timeout: seconds for the connect (``None``: no limit).
        :raises PipeTimeoutError: *timeout* passed before the connection was
            up (a :class:`PipeError` and a :class:`TimeoutError`).
        :raises PipeError: when nobody listens there (errno kept).
        :raises StreamClosedError: the client was closed.
        :raises StreamError: the client is already connected.
        """
        address = _socket_address(target)
        return connect_socket(self, (socket.AF_UNIX, address), timeout, None, PipeError, target)


class PipeConnection(_PipeStream, SocketConnection):
    """Class representing a connection to a named pipe server."""


class PipeServer(StreamServer):
    """Class representing a named pipe server.

    ``bind(path)`` creates the socket file (mode set by the umask) and
    :meth:`close` removes it again.
    """

    error_class = PipeError
    connection_class = PipeConnection

    def __init__(self, handler=None, max_connections=None):
        super().__init__(handler, max_connections)
        self._created_path = None
        self._pipename = None

    @property
    def pipename(self):
        """The name of the pipe to which the server is bound (``None`` before bind)."""
        return self._pipename

    def _create_listener(self, name):
        address = _socket_address(name)
        if not _is_abstract(address):
            self._remove_stale(address)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(address)
        except OSError as exc:
            sock.close()
            raise translate_os_error(exc, PipeError, "bind to %r" % (name,)) from exc
        if not _is_abstract(address):
            self._created_path = address
        self._pipename = name
        return sock

    @staticmethod
    def _remove_stale(path):
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(mode):
            raise PipeError("%r exists and is not a socket: choose another path" % (path,),
                            errno=errno.EEXIST)
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except ConnectionRefusedError:
            os.unlink(path)  # stale: its server is gone
            return
        except OSError as exc:
            raise translate_os_error(exc, PipeError, "probe of %r" % (path,)) from exc
        finally:
            probe.close()
        raise PipeError("a server is already listening on %r: stop it or choose another path" % (path,),
                        errno=errno.EADDRINUSE)

    def _make_connection(self, sock, address):
        return self.connection_class(sock)

    def _after_close(self):
        path, self._created_path = self._created_path, None
        if path is not None:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
