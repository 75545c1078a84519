"""WebServer: a node's page and JSON API on gevent's WSGI server, in the node's own process.

::

    from flubber.node import LabNode
    from flubber.web import WebServer

    node = LabNode.from_file("examples/lab.yaml").start()
    web = WebServer(node, port=8080).start()
    print(web.url)                        # http://127.0.0.1:8080/
    node.serve_forever()

A node file's ``web: {host, port, writable}`` section (or ``flubber serve
NODE.yaml --web [HOST:]PORT``) does the same. Every client connection is a
greenlet of :class:`gevent.pywsgi.WSGIServer`; the live values are sampled
by one greenlet (:class:`~flubber.web.events.Broadcaster`) whatever the
number of clients.
"""
import logging
import socket
import time

import gevent.pool
import gevent.pywsgi

from flubber._accept import AcceptPause
from flubber._lifecycle import Service
from flubber.web.app import WebApp
from flubber.web.events import Broadcaster
from flubber.web.live import LiveValues
from flubber.web.series import SeriesSource
from flubber.web.status import NodeStatus

__all__ = ["WebServer", "WebError", "DEFAULT_HOST", "DEFAULT_PORT"]

log = logging.getLogger(__name__)

#: Where the page listens when the ``web`` section names no host (this machine only).
DEFAULT_HOST = "127.0.0.1"
#: Its port when the section names none.
DEFAULT_PORT = 8080


class WebError(Exception):
    """Raised by :meth:`WebServer.start` when the port cannot be bound; the message names
    the address and how to pick another (``--web HOST:PORT``)."""


class _Handler(gevent.pywsgi.WSGIHandler):
    """pywsgi's handler, giving the application the connection (to cut off a client that stops reading),
    and closing a connection idle for the server's ``flubber_idle_timeout`` seconds."""

    def handle(self):
        self.socket.settimeout(getattr(self.server, "flubber_idle_timeout", None))
        super().handle()

    def get_environ(self):
        environ = super().get_environ()
        environ["flubber.web.socket"] = self.socket
        return environ

    def handle_error(self, kind, value, tb):
        if isinstance(value, OSError):  # a client gone or cut off: not the node's problem
            log.debug("web: client %s: %s", self.client_address, value)
            self.close_connection = True
            return
        super().handle_error(kind, value, tb)


class _WSGIServer(AcceptPause, gevent.pywsgi.WSGIServer):
    """pywsgi's server, pausing accept (with back-off, one warning) when the process has no descriptor left,
    as :class:`flubber.io.StreamServer` does, instead of a traceback per attempt."""

    exhausted_hint = "lower WebServer.max_connections or raise `ulimit -n`"

    def do_read(self):
        try:
            accepted = super().do_read()
        except OSError as exc:
            self._accept_failed(exc, "web page on %s:%s" % self.address[:2])
            return None
        self._accepted()
        return accepted


class WebServer(Service):
    """Serve *node*'s page, ``/api/values``, ``/api/status``, ``/api/series`` and ``/api/events``.

    :param node: a :class:`~flubber.node.LabNode` (started or not).
    :param host: address to listen on (``127.0.0.1``: this machine only).
    :param port: TCP port (0: any free one; :attr:`address` tells which).
    :param writable: names or addresses of KV keys the page may set.
    :param tokens: the write tokens a set needs (the node's ``tcp`` tokens);
        none: the page is read-only.
    :param series: ``(url, table)`` of the logger database the plots read,
        or None (no plots).
    :param interval: seconds between samples of the live values.
    """

    #: Seconds :meth:`stop` waits for requests in progress (event streams are cut at once).
    stop_timeout = 2.0
    #: Connections served at once (event streams included); past it, new ones wait to be accepted.
    max_connections = 1200
    #: Seconds a connection may send nothing (between requests) or take nothing (a write that does not
    #: progress) before it is closed. An event stream waiting for updates is not idle.
    idle_timeout = 60.0

    def __init__(self, node, host=DEFAULT_HOST, port=DEFAULT_PORT, writable=(), tokens=(), series=None,
                 interval=None):
        self.node = node
        self.host = host
        self.port = port
        #: The :class:`~flubber.web.live.LiveValues` sampled for the page.
        self.live = LiveValues(node, writable=writable, logging=series is not None)
        #: The :class:`~flubber.web.events.Broadcaster` of ``/api/events``.
        self.broadcaster = Broadcaster(self.live, interval=interval)
        self.status = NodeStatus(node)
        self.broadcaster.tick_hooks.append(self.status.observe)
        source = SeriesSource(*series) if series is not None else None
        #: The WSGI application (add routes to ``app.api_routes``).
        self.app = WebApp(self.live, self.broadcaster, self.status, source, tokens)
        self.app.web_status = self._web_status
        self._server = None
        #: When the page was last started (unix seconds), or None.
        self.started_at = None

    @property
    def address(self):
        """``(host, port)`` listened on while running, else None."""
        return self._server.address[:2] if self._server is not None else None

    @property
    def url(self):
        """The page's URL while running (``http://127.0.0.1:8080/``), else None."""
        if self._server is None:
            return None
        host, port = self.address
        if host in ("", "0.0.0.0", "::"):
            host = socket.gethostname()
        elif ":" in host:
            host = "[%s]" % host
        return "http://%s:%d/" % (host, port)

    def _start(self):
        """Bind and start serving (:meth:`start` returns the server).

        :raises WebError: the address cannot be bound (in use, no permission).
        """
        server = _WSGIServer(
            (self.host, self.port), self.app, handler_class=_Handler, spawn=gevent.pool.Pool(self.max_connections),
            log=gevent.pywsgi.LoggingLogAdapter(log, logging.DEBUG),
            error_log=gevent.pywsgi.LoggingLogAdapter(log, logging.WARNING))
        server.flubber_idle_timeout = self.idle_timeout
        try:
            server.start()
        except OSError as exc:
            raise WebError("cannot serve the web page on %s:%s: %s; pick another address with "
                           "--web HOST:PORT (port 0: any free one)" % (self.host, self.port, exc.strerror or exc)) \
                from None
        self._server = server
        self.broadcaster.start()
        self.started_at = time.time()
        log.info("web page of node %s on %s", self.node.kv.name, self.url)

    def _stop(self, timeout):
        """Stop sampling, end every event stream, close the port (:meth:`stop`, idempotent)."""
        server, self._server = self._server, None
        self.broadcaster.stop(timeout=timeout)
        if server is not None:
            server.stop(timeout=self.stop_timeout if timeout is None else timeout)

    def _web_status(self):
        return dict(self.broadcaster.stats(), url=self.url, address=list(self.address) if self.address else None,
                    writable=bool(self.app.tokens))
