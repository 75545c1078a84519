"""StreamServer and StreamConnection: one greenlet per accepted connection.

Accepting is gevent's :class:`gevent.server.StreamServer` (its accept loop,
``max_accept`` batching, error back-off and :class:`gevent.pool.Pool` cap);
flubber adds the connection objects, their bookkeeping and the shutdown.
"""
import logging
import socket

import gevent
import gevent.pool
import gevent.server
from gevent import getcurrent

from flubber._accept import AcceptPause
from flubber._lifecycle import Service, ServiceState
from flubber.io._exceptions import StreamError, translate_os_error
from flubber.io._stream import BaseStream

__all__ = ["StreamServer", "StreamConnection"]

log = logging.getLogger(__name__)


class StreamConnection(BaseStream):
    """Base class representing a connection handled by a :class:`StreamServer`."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        #: The :class:`StreamServer` that accepted the connection.
        self.server = None

    def _set_accepted(self, server):
        """Set the connection state to accepted by *server* (internal API)."""
        self.server = server
        self._set_connected()


class _Acceptor(AcceptPause, gevent.server.StreamServer):
    """gevent's accept loop, handing plain non-blocking sockets to flubber.

    When the process runs out of descriptors (EMFILE), accepting pauses for
    :attr:`min_delay`, doubling up to :attr:`max_delay` while it lasts; the
    first time is one warning in the log, no traceback.
    """

    _owner = None

    def do_read(self):
        listener = self.socket
        try:
            fd, address = listener._accept()
        except BlockingIOError:
            return None
        except OSError as exc:
            self._accept_failed(exc, self._owner)
            return None
        self._accepted()
        return socket.socket(listener.family, listener.type, listener.proto, fileno=fd), address

    def do_handle(self, sock, address):
        try:
            self._spawn(self._handle, sock, address)
        except BaseException:
            sock.close()
            raise


class StreamServer(Service):
    """Base class for writing servers which use a stream-like transport.

    Subclasses bind a listening socket (:meth:`_create_listener`) and turn
    accepted sockets into connections (:meth:`_make_connection`). Users either
    subclass and override :meth:`handle_connection`, or pass a *handler*
    callable taking the connection.

    Each accepted connection runs :meth:`handle_connection` in its own
    greenlet. When it returns or raises, the connection is closed and leaves
    :attr:`connections`; an exception is logged and never stops the server.

    The lifecycle is flubber's one (:doc:`/lifecycle`): :meth:`start`
    returns the server, :meth:`stop` (the seed's :meth:`close`) is
    idempotent and safe from any greenlet or signal handler, :attr:`running`
    tells, and a stopped server starts again on the same address (the same
    port, also when it was bound to port 0).

    :param handler: callable ``handler(connection)``, used by the default
        :meth:`handle_connection`.
    :param max_connections: at most this many connections are handled at
        once; further clients wait in the listen backlog (``None``: no cap).
    """

    #: Default length of the listen queue.
    backlog = 1024

    #: Seconds :meth:`close` waits for handlers to return after it closed
    #: their connections, before it kills them.
    stop_timeout = 1.0

    #: The exception class OS errors of this transport become.
    error_class = StreamError

    def __init__(self, handler=None, max_connections=None):
        if max_connections is not None and max_connections < 1:
            raise ValueError("max_connections must be None or >= 1, got %r" % (max_connections,))
        self._handler = handler
        self.max_connections = max_connections
        self._listener = None
        self._sockname = None
        self._restart_address = None
        self._acceptor = None
        self._listen_backlog = None
        self._handlers = {}

    # -- to be provided by a transport ---------------------------------------

    def _create_listener(self, address):  # pragma: no cover - abstract
        """Return a bound (not yet listening) socket for *address*."""
        raise NotImplementedError

    def _make_connection(self, sock, address):  # pragma: no cover - abstract
        """Return the :class:`StreamConnection` for an accepted socket."""
        raise NotImplementedError

    def _address_to_rebind(self, address):
        """The address a restart binds: *address* as given to :meth:`bind` (a transport may refine it)."""
        return address

    # -- life cycle ------------------------------------------------------------

    @property
    def connections(self):
        """List of currently active connections (a new list on each access)."""
        return list(self._handlers)

    @property
    def closed(self):
        """True once :meth:`close` (or :meth:`stop`) was called, until the next :meth:`start`."""
        return self.service_state is ServiceState.STOPPED

    @property
    def started(self):
        """True while the server accepts connections (the same as :attr:`running`)."""
        return self.running

    def bind(self, address):
        """Bind the server to *address* (its form depends on the transport).

        :raises StreamError: the server is already bound; an OS error
            becomes the transport's subclass (:class:`~flubber.io.TCPError`, ...).
        """
        if self._listener is not None:
            raise StreamError("server is already bound to %r" % (self._listener.getsockname(),))
        self._listener = self._create_listener(address)
        self._sockname = self._listener.getsockname()
        self._restart_address = self._address_to_rebind(address)

    def start(self, backlog=None):
        """Start accepting connections in the background; return the server at once.

        A stopped server binds its address again first. Does nothing on a
        running server.

        :raises StreamError: the server was never bound, or listening
            failed (the transport's subclass, errno kept).
        """
        if backlog is not None:
            self._listen_backlog = backlog
        return super().start()

    def _start(self):
        if self._listener is None:
            if self._restart_address is None:
                raise StreamError("bind() the server to an address before starting it")
            self.bind(self._restart_address)
        listener = self._listener
        backlog = self.backlog if self._listen_backlog is None else self._listen_backlog
        try:
            listener.listen(backlog)
        except OSError as exc:
            raise translate_os_error(exc, self.error_class, "listen") from exc
        listener.setblocking(False)
        spawn = gevent.pool.Pool(self.max_connections) if self.max_connections else "default"
        self._acceptor = _Acceptor(listener, self._run_connection, spawn=spawn)
        self._acceptor._owner = self
        self._acceptor.start()

    def serve(self, backlog=None, duration=None, stop_signals=()):
        """Start listening and block the calling greenlet until :meth:`close`.

        :param duration: close the server after this many seconds (None: run until closed).
        :param stop_signals: signals that close the server, for a program whose
            main job is this server: ``serve(stop_signals=(signal.SIGINT, signal.SIGTERM))``
            makes Ctrl-C and ``kill`` shut it down cleanly instead of raising
            :class:`KeyboardInterrupt` (handlers only install in the main thread).
            :meth:`serve_forever` is the same with those two signals by default.

        The server is closed when this returns.
        """
        self.start(backlog)
        self.serve_forever(stop_signals=stop_signals, duration=duration)

    def close(self):
        """Stop accepting, close every live connection and release the address.

        Handlers blocked in a read get :class:`~flubber.io.StreamClosedError`;
        those still running after :attr:`stop_timeout` are killed. Idempotent.
        The seed's name of :meth:`stop`.
        """
        self.stop()

    def _stop(self, timeout):
        stop_timeout = self.stop_timeout if timeout is None else timeout
        acceptor, self._acceptor = self._acceptor, None
        if acceptor is not None:
            acceptor.close()
        self._release_listener()
        loop = gevent.get_hub().loop
        deadline = loop.now() + stop_timeout
        for connection in list(self._handlers):
            connection.close(timeout=max(0.0, deadline - loop.now()))
        current = getcurrent()
        running = [glet for glet in self._handlers.values() if glet is not current]
        if running:
            gevent.joinall(running, timeout=max(0.0, deadline - loop.now()))
            gevent.killall([glet for glet in running if not glet.dead], block=False)
        self._after_close()

    def _stop_idle(self):
        """Closing a server that is not running releases its address, if it was bound."""
        if self._listener is not None:
            self._release_listener()
            self._after_close()

    def _release_listener(self):
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()

    def _after_close(self):
        """Hook for a transport to clean up after the listener is closed."""

    def __enter__(self):
        if self._listener is not None or self._restart_address is not None:
            self.start()
        return self

    def __exit__(self, *exc_info):
        self.close()

    # -- connections -------------------------------------------------------------

    def handle_connection(self, connection):
        """Handle one accepted *connection*; runs in its own greenlet.

        The default calls the *handler* given to the constructor. Override it
        in a subclass, or pass a handler.
        """
        if self._handler is None:
            raise NotImplementedError(
                "%s has no handler: pass handler=callable(connection) or override "
                "handle_connection()" % type(self).__name__
            )
        return self._handler(connection)

    def _run_connection(self, sock, address):
        try:
            connection = self._make_connection(sock, address)
            connection._set_accepted(self)
        except StreamError as exc:  # e.g. a failed TLS handshake: the client's problem, not ours
            log.info("%s: connection from %r refused: %s", self, address, exc)
            sock.close()
            return
        except Exception:
            log.exception("%s could not set up the connection from %r", self, address)
            sock.close()
            return
        if self.service_state in (ServiceState.STOPPING, ServiceState.STOPPED):
            connection.abort()
            return
        self._handlers[connection] = getcurrent()
        try:
            self.handle_connection(connection)
        except StreamError as exc:
            log.info("%s: connection from %r ended: %s", self, address, exc)
        except gevent.GreenletExit:
            pass
        except Exception:
            log.exception("%s: handler failed for the connection from %r; the server keeps serving",
                          self, address)
        finally:
            self._handlers.pop(connection, None)
            connection.close()

    def __repr__(self):
        where = "unbound"
        if self._listener is not None:
            try:
                where = repr(self._listener.getsockname())
            except OSError:
                where = "closed"
        return "<%s %s, %d connections>" % (type(self).__name__, where, len(self._handlers))
