"""Dripline over TCP: one JSON request per line, one JSON reply per line.

The embedded transport (no broker): a :class:`flubber.io.TCPServer` whose
connections feed a :class:`~flubber.kvstore.KVNode`. A request is the
dripline request object plus ``"target"`` (what the AMQP routing key would
be)::

    {"msgop": 1, "target": "setpoint", "correlation_id": "7"}

and the reply is the dripline reply object, with the request's
``correlation_id`` when it had one. Requests on one connection are answered
in order; a client may send many before reading (pipelining). A line that is
not JSON, or longer than :attr:`KVTCPServer.max_request_bytes`, is answered
with retcode 302 and the connection keeps serving.
"""
import hmac
import logging
import resource
import ssl

import gevent

from flubber.io import LineSplitter, LineTooLong, TCPServer
from flubber.kvstore import _dripline
from flubber.kvstore._defaults import DEFAULT_HOST, DEFAULT_PORT
from flubber.kvstore._dripline import OP_GET, Reply
from flubber.kvstore._exceptions import AccessDenied, DecodingError

logger = logging.getLogger(__name__)

#: Descriptors kept for everything else a node opens (database, broker, sockets, files)
#: when the connection cap is derived from RLIMIT_NOFILE.
RESERVED_DESCRIPTORS = 64


def default_max_connections():
    """Return the connection cap used when none is configured: RLIMIT_NOFILE minus a reserve.

    At ``ulimit -n 256`` that is 192: the node keeps :data:`RESERVED_DESCRIPTORS`
    descriptors for its database, broker, sockets and files however many
    clients connect. Never below 8.
    """
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 20
    return max(8, soft - RESERVED_DESCRIPTORS)


def server_ssl_context(cert, key=None):
    """Return an :class:`ssl.SSLContext` for a TLS server with certificate *cert* and *key* (PEM files).

    *key* may be None when *cert* holds the key too. Defaults are Python's
    (:func:`ssl.create_default_context`): TLS 1.2 or newer, no client certificate.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def client_ssl_context(ca=None):
    """Return an :class:`ssl.SSLContext` for a client that trusts the CA file *ca* (None: the system's CAs)."""
    return ssl.create_default_context(cafile=ca)


def read_tokens_file(path):
    """Return the tokens in the file at *path*: one per line; blank lines and ``#`` comments are skipped."""
    tokens = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            text = line.split("#", 1)[0].strip()
            if text:
                if any(char.isspace() for char in text):
                    raise ValueError("%s line %d: a token may not contain spaces (one token per line)"
                                     % (path, number))
                tokens.append(text)
    return tokens


class _Idle(BaseException):
    """The connection was idle for idle_timeout seconds (internal; a BaseException so no handler swallows it)."""


class KVTCPServer(TCPServer):
    """Serve a :class:`~flubber.kvstore.KVNode` over TCP, JSON lines.

    :param node: the node that answers the requests.
    :param max_connections: at most this many clients at once; further ones
        wait in the listen backlog. None (the default) derives the cap from
        the process's descriptor limit (:func:`default_max_connections`).
    :param max_request_bytes: longest request line accepted.
    :param ssl_context: an :class:`ssl.SSLContext` with the node's certificate:
        clients must speak TLS (see :class:`flubber.io.TCPServer`).
    :param tokens: write tokens (strings). When given, a get is open to
        anyone but every other request (set, cmd, config, send) must carry
        one of them in its ``"token"`` field, else it is refused with retcode
        307 (:class:`~flubber.kvstore.AccessDenied`).
    :param idle_timeout: seconds a connection may say nothing (or not take
        its replies) before it is closed (default :attr:`idle_timeout`).

    ``bind((host, port))``, ``start()`` / ``serve()`` and ``close()`` as for
    any :class:`flubber.io.TCPServer`.
    """

    #: Longest request line (bytes) that is decoded; longer ones get retcode 302.
    max_request_bytes = 1024 * 1024
    #: Bytes asked for per read; every complete line in them is answered before the next read.
    read_size = 65536
    #: Seconds a connection may stay silent (or leave its replies unread) before it is closed.
    idle_timeout = 300.0

    def __init__(self, node, max_connections=None, max_request_bytes=None, ssl_context=None, tokens=None,
                 idle_timeout=None):
        super().__init__(max_connections=max_connections or default_max_connections(), ssl_context=ssl_context)
        #: The :class:`~flubber.kvstore.KVNode` answering requests.
        self.node = node
        if max_request_bytes is not None:
            self.max_request_bytes = max_request_bytes
        if idle_timeout is not None:
            self.idle_timeout = idle_timeout
        tokens = [token for token in (tokens or ())]
        if any(not isinstance(token, str) or not token for token in tokens):
            raise ValueError("tokens must be non-empty strings")
        self._tokens = tuple(token.encode("utf-8") for token in tokens)
        self._authorize = self.authorize if self._tokens else None

    @property
    def requires_token(self):
        """True when writes need a token (the server was given tokens)."""
        return bool(self._tokens)

    def authorize(self, request):
        """Raise :class:`~flubber.kvstore.AccessDenied` unless *request* may run.

        A get needs nothing; any other request needs one of the server's
        tokens in its ``token`` field (compared in constant time).
        """
        if request.msgop == OP_GET:
            return
        token = request.token
        what = _dripline.MSGOP_NAMES.get(request.msgop, "this request")
        if token is None or token == "":
            raise AccessDenied(
                "%s on %s needs a write token on this node: add \"token\" beside \"target\" in the request "
                "(flubber %s --token TOKEN, or the FLUBBER_TOKEN environment variable)"
                % (what, request.target, what if what in ("set", "cmd") else "set"))
        given = token.encode("utf-8") if isinstance(token, str) else b""
        if not any(hmac.compare_digest(given, known) for known in self._tokens):
            raise AccessDenied("%s on %s refused: the token is not one this node accepts; ask the node's "
                               "operator for a valid one" % (what, request.target))

    def _too_long(self, line):
        error = DecodingError(
            "request line of %d bytes is longer than the %d this server accepts; send one smaller JSON request "
            "per line" % (line.length, self.max_request_bytes)
        )
        reply = Reply(error.retcode, str(error), sender_info=self.node.sender_info)
        return _dripline.encode_json(reply.to_dict())

    def handle_connection(self, connection):
        """Answer every request line of *connection* until it closes or stays idle too long.

        A client that sends nothing, or does not take its replies, for
        :attr:`idle_timeout` seconds is closed (the time the node spends
        answering does not count).
        """
        splitter = LineSplitter(b"\n", self.max_request_bytes, overflow="discard", keep_ends=False)
        handle = self.node.handle_message
        authorize = self._authorize
        read_size = self.read_size
        idle = gevent.Timeout(self.idle_timeout, _Idle) if self.idle_timeout else _NO_TIMER
        try:
            while True:
                idle.start()
                data = connection.read_bytes(read_size)
                idle.cancel()
                if not data:
                    last = splitter.finish()
                    lines = [last] if last is not None else []
                else:
                    lines = splitter.feed(data)
                replies = []
                for line in lines:
                    if line.__class__ is LineTooLong:
                        replies.append(self._too_long(line) + b"\n")
                    elif line and not line.isspace():
                        replies.append(handle(line, None, authorize) + b"\n")
                if replies:
                    idle.start()
                    connection.write(replies[0] if len(replies) == 1 else b"".join(replies))
                    idle.cancel()
                if not data:
                    return
        except _Idle:
            logger.debug("closing the connection from %s: idle for %s s", _peer(connection), self.idle_timeout)
            connection.abort()
        finally:
            idle.close()


class _NoTimer:
    """Stands in for the idle timer when idle_timeout is 0 (no timeout)."""

    def start(self):
        pass

    cancel = close = start


_NO_TIMER = _NoTimer()


def _peer(connection):
    try:
        return "%s:%s" % connection.peername[:2]
    except Exception:  # noqa: BLE001 - only for a log line
        return "a client"


def serve_tcp(node, host=DEFAULT_HOST, port=DEFAULT_PORT, **options):
    """Bind and start a :class:`KVTCPServer` for *node*; return it (it runs in the background)."""
    server = KVTCPServer(node, **options)
    server.bind((host, port))
    server.start()
    logger.info("dripline over TCP for node %s on %s:%s", node.name, *server.sockname[:2])
    return server
