"""Clients for pull and push sockets (flubber's or PyExpLabSys' own).

::

    from flubber.sockets import PullClient

    with PullClient("rasppi42.lab", 9000, timeout=1.0) as client:
        print(client.name())                  # 'oven temperatures'
        print(client.codenames())             # ['oven_t1', 'oven_t2']
        x, y = client.get("oven_t1")          # (1718000000.1, 21.5)
        print(client.get_all())               # {'oven_t1': (...), 'oven_t2': 'OLD_DATA'}

A point older than the server's timeout comes back as the string
``'OLD_DATA'``, or raises :class:`~flubber.sockets.OldDataError` with
``raise_on_old_data=True``. Replies of any size up to the UDP maximum are
read whole. The clients use gevent sockets: a request blocks only the
calling greenlet.
"""
import json
import logging
import socket as stdlib_socket

import gevent.socket

from flubber.sockets._exceptions import (
    ClientError,
    OldDataError,
    PushCallbackError,
    PushError,
    ReplyTimeoutError,
    ServerUnreachableError,
    UnknownCommandError,
)
from flubber.sockets._protocol import (
    OLD_DATA,
    PUSH_ACK,
    PUSH_ERROR,
    PUSH_EXCEP,
    PUSH_RET,
    UNKNOWN_COMMAND,
)

LOG = logging.getLogger(__name__)

#: Receive buffer: one byte more than any UDP payload, so no reply is cut.
_RECEIVE_SIZE = 65536


class UDPClient:
    """Send one request datagram, return the one reply datagram as text.

    :param str host: name or address of the server.
    :param int port: its UDP port.
    :param float timeout: seconds to wait for each reply.

    The socket is connected to the server, so only its replies are read
    and a "port unreachable" is reported at once. A reply that arrives
    after its request timed out is discarded before the next request.
    """

    def __init__(self, host, port, timeout=1.0):
        #: The server's host as given.
        self.host = host
        #: The server's port.
        self.port = port
        #: Seconds to wait for each reply.
        self.timeout = timeout
        family, _, _, _, address = gevent.socket.getaddrinfo(
            host, port, 0, stdlib_socket.SOCK_DGRAM)[0]
        self._socket = gevent.socket.socket(family, stdlib_socket.SOCK_DGRAM)
        try:
            self._socket.connect(address)
        except OSError:
            self._socket.close()
            raise
        self._raw = getattr(self._socket, "_sock", self._socket)

    def __repr__(self):
        return "<%s %s:%s>" % (type(self).__name__, self.host, self.port)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        """Close the client's socket (harmless when already closed)."""
        self._socket.close()

    def request(self, command):
        """Send *command* (str or bytes) and return the reply as text.

        :raises ReplyTimeoutError: no reply within :attr:`timeout` seconds.
        :raises ServerUnreachableError: nothing listens on the server's port.
        :raises ClientError: the OS refused the request (longer than a datagram, say).
        """
        data = command.encode("ascii") if isinstance(command, str) else bytes(command)
        self._discard_stale_replies()
        self._socket.settimeout(self.timeout)
        try:
            self._socket.send(data)
            reply = self._socket.recv(_RECEIVE_SIZE)
        except stdlib_socket.timeout:
            raise ReplyTimeoutError(
                "no reply from %s:%s to %r within %s s; is a socket server running there, "
                "and is the port right?" % (self.host, self.port, _short(command), self.timeout)
            ) from None
        except ConnectionRefusedError:
            raise ServerUnreachableError(
                "nothing listens on UDP %s:%s (port unreachable); start the socket server or "
                "check host and port" % (self.host, self.port)) from None
        except OSError as exc:
            raise ClientError("sending %d bytes to %s:%s failed: %s"
                              % (len(data), self.host, self.port, exc)) from exc
        return reply.decode("ascii", "backslashreplace")

    def _discard_stale_replies(self):
        while True:
            try:
                stale = self._raw.recv(_RECEIVE_SIZE)
            except (BlockingIOError, ConnectionRefusedError):
                return
            LOG.debug("%s discarded a late reply %r", self, stale[:80])


def _short(command, limit=60):
    text = repr(command)
    return text if len(text) <= limit else text[:limit] + "..."


def _point(value):
    """Return a JSON point ``[x, y]`` as a tuple, and OLD_DATA as is."""
    return value if value == OLD_DATA else tuple(value)


class PullClient(UDPClient):
    """Client of a date or data pull socket.

    :param str host: name or address of the server.
    :param int port: its UDP port, 9000 (date sockets) by default.
    :param float timeout: seconds to wait for each reply.
    :param bool raise_on_old_data: default for :meth:`get` and
        :meth:`get_all`: raise :class:`~flubber.sockets.OldDataError`
        instead of returning ``'OLD_DATA'``.
    """

    def __init__(self, host, port=9000, timeout=1.0, raise_on_old_data=False):
        super().__init__(host, port, timeout)
        #: Default of ``raise_on_old_data`` for :meth:`get` and :meth:`get_all`.
        self.raise_on_old_data = raise_on_old_data

    def name(self):
        """Return the socket's name."""
        return self.request("name")

    def codenames(self):
        """Return the list of codenames the socket serves."""
        return self._json("codenames_json")

    def get(self, codename, raise_on_old_data=None):
        """Return the point ``(x, y)`` of *codename*, or ``'OLD_DATA'``.

        :raises UnknownCommandError: the socket does not serve *codename*.
        :raises OldDataError: the point is old and *raise_on_old_data* (default:
            the client's) is true.
        """
        value = _point(self._json("%s#json" % codename))
        if value == OLD_DATA and self._raise(raise_on_old_data):
            raise OldDataError(
                "the point of %r on %s:%s is older than its timeout (OLD_DATA)"
                % (codename, self.host, self.port), [codename])
        return value

    def get_all(self, raise_on_old_data=None):
        """Return ``{codename: (x, y) or 'OLD_DATA'}`` of every codename (``json_wn``).

        :raises OldDataError: a point is old and *raise_on_old_data* (default:
            the client's) is true; its ``codenames`` lists the old ones.
        """
        values = {name: _point(value) for name, value in self._json("json_wn").items()}
        old = [name for name, value in values.items() if value == OLD_DATA]
        if old and self._raise(raise_on_old_data):
            raise OldDataError("the points of %s on %s:%s are older than their timeouts "
                               "(OLD_DATA)" % (", ".join(old), self.host, self.port), old)
        return values

    def status(self):
        """Return the status dict: ``system_status`` and ``socket_server_status``."""
        return self._json("status")

    def _raise(self, raise_on_old_data):
        return self.raise_on_old_data if raise_on_old_data is None else raise_on_old_data

    def _json(self, command):
        reply = self.request(command)
        if reply == UNKNOWN_COMMAND:
            raise UnknownCommandError(
                "%s:%s answered %s to %r; check the codename (codenames() lists them)"
                % (self.host, self.port, UNKNOWN_COMMAND, command))
        try:
            return json.loads(reply)
        except ValueError:
            raise ClientError("%s:%s answered %r to %r, which is not JSON"
                              % (self.host, self.port, reply[:200], command)) from None


class PushClient(UDPClient):
    """Client of a push socket.

    :param str host: name or address of the server.
    :param int port: its UDP port, 8500 by default.
    :param float timeout: seconds to wait for each reply.

    :meth:`push` returns ``(prefix, text)``: ``('ACK', ...)`` when the data
    was stored, ``('RET', ...)`` with the callback's return value. An
    ``ERROR#`` reply raises :class:`~flubber.sockets.PushError`, an
    ``EXCEP#`` reply :class:`~flubber.sockets.PushCallbackError`.
    """

    def __init__(self, host, port=8500, timeout=1.0):
        super().__init__(host, port, timeout)

    def push(self, data):
        """Send the dict *data* as ``json_wn#`` and return ``(prefix, text)``.

        A ``#`` in the data is sent as the JSON escape ``\\u0023``: push
        sockets (PyExpLabSys' and flubber's alike) refuse a request with a
        second ``#``.
        """
        return self._checked("json_wn#" + json.dumps(data).replace("#", "\\u0023"))

    def push_raw(self, body):
        """Send ``raw_wn#`` + *body* (``name:type:v1,v2;...``); return ``(prefix, text)``."""
        return self._checked("raw_wn#" + body)

    def name(self):
        """Return the socket's name."""
        return self._checked("name")[1]

    def commands(self):
        """Return the list of commands the socket understands."""
        return json.loads(self._checked("commands")[1])

    def status(self):
        """Return the status dict: ``system_status`` and ``socket_server_status``."""
        return json.loads(self.request("status"))

    def _checked(self, command):
        reply = self.request(command)
        prefix, _, text = reply.partition("#")
        if prefix == PUSH_ERROR:
            raise PushError("%s:%s refused %s: %s" % (self.host, self.port, _short(command), text))
        if prefix == PUSH_EXCEP:
            raise PushCallbackError("the callback of %s:%s failed on %s: %s"
                                    % (self.host, self.port, _short(command), text))
        if prefix not in (PUSH_ACK, PUSH_RET):
            raise ClientError("%s:%s answered %r, which is no push reply; is it a push socket?"
                              % (self.host, self.port, reply[:200]))
        return prefix, text
