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
import logging

from flubber.io import TCPServer
from flubber.kvstore import _dripline
from flubber.kvstore._defaults import DEFAULT_HOST, DEFAULT_PORT
from flubber.kvstore._dripline import Reply
from flubber.kvstore._exceptions import DecodingError
from flubber.kvstore._lines import LineSplitter, LineTooLong

logger = logging.getLogger(__name__)


class KVTCPServer(TCPServer):
    """Serve a :class:`~flubber.kvstore.KVNode` over TCP, JSON lines.

    :param node: the node that answers the requests.
    :param max_connections: at most this many clients at once (None: no cap).
    :param max_request_bytes: longest request line accepted.

    ``bind((host, port))``, ``start()`` / ``serve()`` and ``close()`` as for
    any :class:`flubber.io.TCPServer`.
    """

    #: Longest request line (bytes) that is decoded; longer ones get retcode 302.
    max_request_bytes = 1024 * 1024
    #: Bytes asked for per read; every complete line in them is answered before the next read.
    read_size = 65536

    def __init__(self, node, max_connections=None, max_request_bytes=None):
        super().__init__(max_connections=max_connections)
        #: The :class:`~flubber.kvstore.KVNode` answering requests.
        self.node = node
        if max_request_bytes is not None:
            self.max_request_bytes = max_request_bytes

    def _too_long(self, line):
        error = DecodingError(
            "request line of %d bytes is longer than the %d this server accepts; send one smaller JSON request "
            "per line" % (line.length, self.max_request_bytes)
        )
        reply = Reply(error.retcode, str(error), sender_info=self.node.sender_info)
        return _dripline.encode_json(reply.to_dict())

    def handle_connection(self, connection):
        """Answer every request line of *connection* until it closes."""
        splitter = LineSplitter(self.max_request_bytes)
        handle = self.node.handle_message
        read_size = self.read_size
        while True:
            data = connection.read_bytes(read_size)
            if not data:
                last = splitter.finish()
                lines = [last] if last is not None else []
            else:
                lines = splitter.feed(data)
            for line in lines:
                if line.__class__ is LineTooLong:
                    connection.write(self._too_long(line) + b"\n")
                    continue
                if line and not line.isspace():
                    connection.write(handle(line) + b"\n")
            if not data:
                return


def serve_tcp(node, host=DEFAULT_HOST, port=DEFAULT_PORT, **options):
    """Bind and start a :class:`KVTCPServer` for *node*; return it (it runs in the background)."""
    server = KVTCPServer(node, **options)
    server.bind((host, port))
    server.start()
    logger.info("dripline over TCP for node %s on %s:%s", node.name, *server.sockname[:2])
    return server
