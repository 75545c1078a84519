"""Live values over UDP, wire-compatible with PyExpLabSys' ``common.sockets``.

Pull sockets serve the current point of each codename; push sockets
receive data. Both answer one UDP datagram with one datagram, in ASCII,
byte for byte as PyExpLabSys does, so its clients and servers on the
network keep working with flubber nodes. They run as greenlets on gevent.

Pull requests (:class:`DateDataPullSocket`, :class:`DataPullSocket`)::

    raw             x1,y1;x2,y2            (codename order, str() numbers)
    json            [[x1, y1], [x2, y2]]
    raw_wn          name1:x1,y1;name2:x2,y2
    json_wn         {"name1": [x1, y1], "name2": [x2, y2]}
    NAME#raw        x,y
    NAME#json       [x, y]
    codenames_raw   name1,name2
    codenames_json  ["name1", "name2"]
    name            the socket's name
    status          {"system_status": {...}, "socket_server_status": {...}}
    anything else   UNKNOWN_COMMMAND

A point older than its codename's timeout is ``OLD_DATA`` (``"OLD_DATA"``
in JSON). Push requests (:class:`DataPushSocket`): ``json_wn#{...}``,
``raw_wn#name:type:v1,v2;...``, ``name``, ``commands``, ``status``,
answered ``ACK#``, ``RET#``, ``ERROR#`` or ``EXCEP#``.

``DateDataSocket`` and ``DataSocket`` are the legacy names (codenames
first, no name), and every module constant of PyExpLabSys exists here with
its value.
"""
from flubber.sockets._exceptions import (
    BadPointError,
    ClientError,
    OldDataError,
    PortInUseError,
    PushCallbackError,
    PushError,
    PushRefused,
    ReplyTimeoutError,
    ServerUnreachableError,
    SocketConfigurationError,
    SocketsError,
    UnknownCodenameError,
    UnknownCommandError,
)
from flubber.sockets._protocol import (
    BAD_CHARS,
    MAX_DATAGRAM,
    OLD_DATA,
    PUSH_ACK,
    PUSH_ERROR,
    PUSH_EXCEP,
    PUSH_RET,
    TYPE_FROM_STRING,
    UNKNOWN_COMMAND,
    bool_translate,
    validate_codenames,
)
from flubber.sockets._pull_protocol import PullProtocol
from flubber.sockets._push_protocol import PushProtocol
from flubber.sockets._status import DATA
from flubber.sockets._status import PORTS as _PORTS
from flubber.sockets._status import SystemStatus
from flubber.sockets.client import PullClient, PushClient, UDPClient
from flubber.sockets.pull import (
    CommonDataPullSocket,
    DataPullSocket,
    DataSocket,
    DateDataPullSocket,
    DateDataSocket,
)
from flubber.sockets.push import DataPushSocket

#: PyExpLabSys' name for the error of binding a taken port.
PortStillReserved = PortInUseError


def socket_server_status():
    """Return ``{port: status}`` of every socket of this process.

    Each status has ``name``, ``type`` (``'date'``, ``'data'`` or
    ``'push'``), ``status`` (``'OK'``, ``'INACTIVE'`` or ``'DISABLED'``)
    and ``since_last_activity`` (seconds or None), as PyExpLabSys reports.
    """
    return _PORTS.status()


__all__ = [
    "BAD_CHARS", "DATA", "MAX_DATAGRAM", "OLD_DATA", "PUSH_ACK", "PUSH_ERROR", "PUSH_EXCEP", "PUSH_RET",
    "TYPE_FROM_STRING", "UNKNOWN_COMMAND",
    "BadPointError", "ClientError", "CommonDataPullSocket", "DataPullSocket", "DataPushSocket",
    "DataSocket", "DateDataPullSocket", "DateDataSocket", "OldDataError", "PortInUseError",
    "PortStillReserved", "PullClient", "PullProtocol", "PushCallbackError", "PushClient",
    "PushError", "PushProtocol", "PushRefused", "ReplyTimeoutError", "ServerUnreachableError",
    "SocketConfigurationError", "SocketsError", "SystemStatus", "UDPClient",
    "UnknownCodenameError", "UnknownCommandError", "bool_translate", "socket_server_status",
    "validate_codenames",
]
