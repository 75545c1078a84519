"""Dripline messages: constants, request/reply/alert classes, JSON codec (no I/O).

This module is the wire format shared by both transports. A request is a JSON
object with the dripline fields::

    {"msgtype": 3, "msgop": 1, "timestamp": "2026-01-02T03:04:05.000006Z",
     "payload": {"values": []}, "lockout_key": null, "sender_info": {...}}

On TCP it also carries ``"target"`` (what the AMQP routing key would be) and
optionally ``"correlation_id"``. A reply adds ``retcode`` and ``return_msg``;
its payload is always an object: anything else is wrapped as
``{"values": [result]}``.
"""
import getpass
import json
import math
import os
import re
import socket
import sys
import time

from flubber import __version__, _json
from flubber.kvstore._exceptions import DecodingError, InvalidKey, PayloadError, exception_for_retcode

#: msgop of a set request.
OP_SET = 0
#: msgop of a get request.
OP_GET = 1
#: msgop of a config request (get or set an attribute).
OP_CONFIG = 6
#: msgop of a send request (raw commands to the provider).
OP_SEND = 7
#: msgop of a run request.
OP_RUN = 8
#: msgop of a cmd request (call a method named by the specifier).
OP_CMD = 9
#: msgop by name, as accepted from hand-typed requests (``"msgop": "get"``).
MSGOPS = {"set": OP_SET, "get": OP_GET, "config": OP_CONFIG, "send": OP_SEND, "run": OP_RUN, "cmd": OP_CMD}
#: Name of each msgop, for messages.
MSGOP_NAMES = {code: name for name, code in MSGOPS.items()}

#: msgtype of a reply.
T_REPLY = 2
#: msgtype of a request.
T_REQUEST = 3
#: msgtype of an alert.
T_ALERT = 4

#: retcode of a successful operation.
RETCODE_SUCCESS = 0
#: retcode of a request that succeeded without doing anything (a warning).
RETCODE_NO_ACTION = 1

#: Dripline timestamp format (RFC 3339, UTC, microseconds).
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

#: Content encoding of every message flubber sends over AMQP.
CONTENT_ENCODING = "application/json"

#: First word of a routing key every node answers (dripline-cpp binds each
#: service's queue to ``broadcast.#`` and answers such requests as the
#: service itself): ``cmd broadcast ping`` reaches every node on a broker.
BROADCAST_KEY = "broadcast"

_LOCKOUT_KEY = re.compile(r"\A[0-9a-fA-F]{32}\Z")


_last_second = [None, ""]  # the last whole second formatted, and its text


def format_timestamp(unixtime=None):
    """Return *unixtime* (default now) as a dripline timestamp string (UTC, microseconds)."""
    if unixtime is None:
        unixtime = time.time()
    seconds = int(unixtime)
    micro = int(round((unixtime - seconds) * 1e6))
    if micro >= 1000000:
        seconds, micro = seconds + 1, micro - 1000000
    cache = _last_second
    if cache[0] != seconds:
        cache[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        cache[0] = seconds
    return "%s.%06dZ" % (cache[1], micro)


_BASE_SENDER_INFO = None
_DEFAULT_SENDER_INFO = None


def default_sender_info():
    """Return the shared ``sender_info`` used when a message names no service (do not modify it)."""
    global _DEFAULT_SENDER_INFO
    if _DEFAULT_SENDER_INFO is None:
        _DEFAULT_SENDER_INFO = sender_info()
    return _DEFAULT_SENDER_INFO


def sender_info(service_name=""):
    """Return the ``sender_info`` dict of this process for *service_name*.

    It names the package (``flubber``), its version, the executable, host
    and user, like dripline's. The result is a fresh dict each call.
    """
    global _BASE_SENDER_INFO
    if _BASE_SENDER_INFO is None:
        try:
            username = getpass.getuser()
        except (KeyError, OSError):
            username = str(os.getuid())
        _BASE_SENDER_INFO = {
            "package": "flubber",
            "exe": os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python",
            "version": __version__,
            "commit": "",
            "hostname": socket.gethostname(),
            "username": username,
        }
    info = dict(_BASE_SENDER_INFO)
    info["service_name"] = service_name
    return info


def normalize_lockout_key(value):
    """Return *value* as a lockout key (32 lower-case hex digits), or None if empty.

    Dashes are removed, so a UUID in either form works. Anything else raises
    :class:`InvalidKey` (retcode 308).
    """
    if value is None or value is False or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidKey("lockout_key must be a UUID string (32 hex digits), got %r" % (value,))
    key = value.replace("-", "")
    if not _LOCKOUT_KEY.match(key):
        raise InvalidKey(
            "lockout_key %r is not a UUID (32 hex digits, dashes allowed); use the key returned by lock" % value
        )
    return key.lower()


def cmd_request(target, method_name, value=(), payload=None):
    """Return ``(target, payload)`` of a cmd: *method_name* appended to *target*, *value* as ``values``."""
    body = dict(payload or {})
    body["values"] = list(value)
    return (target + "." + method_name if method_name else target), body


def reply_result(reply, ignore_retcode=False):
    """Return the payload of *reply*; an error retcode raises its exception unless *ignore_retcode*."""
    if reply.retcode >= 100 and not ignore_retcode:
        raise exception_for_retcode(reply.retcode)(reply.return_msg, result=reply.payload, reply=reply)
    return reply.payload


def wrap_payload(result):
    """Return *result* as a reply payload: a dict as is, else ``{"values": [result]}``."""
    if isinstance(result, dict):
        return result
    return {"values": [result]}


def _json_default(obj):
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    return str(obj)


_STRICT_ENCODER = json.JSONEncoder(separators=(",", ":"), default=_json_default, allow_nan=False)


def _finite_copy(obj, depth=0):
    """Return *obj* with every non-finite float replaced by None (lists, tuples and dicts followed)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if depth > 100:
        raise ValueError("a value nested more than 100 levels deep (or a circular one) cannot be sent as JSON")
    if isinstance(obj, dict):
        return {key: _finite_copy(value, depth + 1) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_copy(value, depth + 1) for value in obj]
    return obj


class _Encoder:
    """Compact JSON that never emits ``NaN`` or ``Infinity`` (strict parsers refuse them).

    Keys refuse non-finite numbers at the door; should one still reach a
    reply (a subclass's ``on_get``), it is sent as ``null``.
    """

    @staticmethod
    def encode(obj):
        try:
            return _STRICT_ENCODER.encode(obj)
        except ValueError:
            return _STRICT_ENCODER.encode(_finite_copy(obj))


_ENCODER = _Encoder()


def _refuse_constant(name):
    raise ValueError("%s is not a JSON number; send finite numbers only" % name)


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def encode_json(message):
    """Encode a message dict (or message object) as compact UTF-8 JSON bytes.

    Values JSON cannot hold become strings (sets and tuples become lists);
    a number that is not finite becomes ``null`` (never ``NaN``/``Infinity``).
    """
    if not isinstance(message, dict):
        message = message.to_dict()
    return _ENCODER.encode(message).encode("utf-8")


def decode_json_object(data):
    """Decode *data* (bytes or str) as one JSON object; raise :class:`DecodingError`."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodingError("request is not UTF-8 (%s); send one JSON object encoded as UTF-8" % exc) from None
    try:
        obj = _json.loads(data, decoder=_DECODER)
    except _json.JSONTooDeep as exc:
        raise DecodingError("request refused: %s; send flatter values" % exc) from None
    except ValueError as exc:
        shown = data if len(data) <= 60 else data[:57] + "..."
        raise DecodingError("request is not JSON (%s): %r" % (exc, shown)) from None
    if not isinstance(obj, dict):
        raise DecodingError("a request must be a JSON object, got %s" % type(obj).__name__)
    return obj


def _parse_msgop(value):
    if isinstance(value, bool):
        raise DecodingError("msgop must be an integer (1 get, 0 set, 9 cmd, ...), got %r" % (value,))
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        if value.strip().isdigit():
            return int(value)
        if value.lower() in MSGOPS:
            return MSGOPS[value.lower()]
    raise DecodingError("msgop must be an integer (1 get, 0 set, 9 cmd, ...), got %r" % (value,))


class Request:
    """A dripline request.

    :param target: the routing key: an endpoint name or ``node.store.key``,
        optionally followed by ``.SPECIFIER``.
    :param msgop: the operation (:data:`OP_GET`, :data:`OP_SET`, :data:`OP_CMD`, ...).
    :param payload: a dict, usually ``{"values": [...], ...}``; None means ``{}``.
    :param lockout_key: the key of a locked endpoint, or None.
    :param correlation_id: echoed in the reply (TCP) / AMQP property.
    :param token: the write token of a node whose TCP transport requires one
        (TCP only: the ``"token"`` field beside ``"target"``).
    """

    __slots__ = ("target", "msgop", "payload", "lockout_key", "timestamp", "sender_info", "correlation_id",
                 "token")

    msgtype = T_REQUEST

    def __init__(self, target, msgop, payload=None, lockout_key=None, timestamp=None, sender_info=None,
                 correlation_id=None, token=None):
        self.target = target
        self.msgop = msgop
        self.payload = {} if payload is None else payload
        self.lockout_key = lockout_key
        self.timestamp = timestamp
        self.sender_info = sender_info
        self.correlation_id = correlation_id
        self.token = token

    @property
    def values(self):
        """The positional arguments: ``payload["values"]`` (a list; ``[]`` when absent)."""
        return self.payload.get("values", [])

    @property
    def kwargs(self):
        """The keyword arguments: every payload entry but ``values``."""
        return {name: value for name, value in self.payload.items() if name != "values"}

    def to_dict(self, with_target=True):
        """Return the JSON-ready dict; *with_target* adds ``target`` and ``token`` (the TCP form)."""
        message = {
            "msgtype": T_REQUEST,
            "msgop": self.msgop,
            "timestamp": self.timestamp or format_timestamp(),
            "payload": self.payload,
            "lockout_key": self.lockout_key,
            "sender_info": self.sender_info if self.sender_info is not None else default_sender_info(),
        }
        if with_target:
            message["target"] = self.target
            if self.token is not None:
                message["token"] = self.token
        if self.correlation_id is not None:
            message["correlation_id"] = self.correlation_id
        return message

    @classmethod
    def from_dict(cls, message, target=None):
        """Build a request from a decoded JSON object.

        *target* (the AMQP routing key) wins over a ``target`` field. Raises
        :class:`DecodingError` (302) when the fields do not make a request,
        :class:`PayloadError` (303) when the payload is not an object or its
        ``values`` not a list.
        """
        msgtype = message.get("msgtype", T_REQUEST)
        if msgtype.__class__ is not int or msgtype != T_REQUEST:
            raise DecodingError("this service answers requests (msgtype 3); got msgtype %r" % (msgtype,))
        msgop = message.get("msgop")
        if msgop.__class__ is not int:
            if msgop is None:
                raise DecodingError("request has no msgop; add \"msgop\": 1 (get), 0 (set) or 9 (cmd)")
            msgop = _parse_msgop(msgop)
        if target is None:
            target = message.get("target")
            if target is None:
                raise DecodingError("request has no target; add \"target\": \"KEY\" (or \"NODE.STORE.KEY\")")
        if target.__class__ is not str or not target:
            raise DecodingError("target must be a non-empty string naming an endpoint, got %r" % (target,))
        payload = message.get("payload")
        if payload.__class__ is not dict:
            if payload is not None:
                raise PayloadError("payload must be an object such as {\"values\": [...]}, got %s"
                                   % type(payload).__name__)
            payload = {}
        values = payload.get("values")
        if values is not None and values.__class__ is not list:
            raise PayloadError("payload values must be a list, got %s" % type(values).__name__)
        request = cls.__new__(cls)
        request.target = target
        request.msgop = msgop
        request.payload = payload
        request.lockout_key = message.get("lockout_key")
        request.timestamp = message.get("timestamp")
        request.sender_info = message.get("sender_info")
        request.correlation_id = message.get("correlation_id")
        request.token = message.get("token")
        return request

    def __repr__(self):
        return "Request(target=%r, msgop=%r, payload=%r)" % (self.target, self.msgop, self.payload)


def decode_request(data, target=None):
    """Decode request bytes (one JSON object) into a :class:`Request`.

    :param target: the AMQP routing key; None on TCP (the ``target`` field).
    :raises DecodingError: not UTF-8, not JSON, not an object, bad fields.
    :raises PayloadError: the payload is not an object or ``values`` not a list.
    """
    return Request.from_dict(decode_json_object(data), target=target)


class Reply:
    """A dripline reply.

    :param retcode: 0 success, 1-99 warnings, >= 100 errors (see
        :func:`~flubber.kvstore.exception_for_retcode`).
    :param return_msg: a human-readable explanation.
    :param payload: any result; a non-dict is wrapped as ``{"values": [result]}``.
    """

    __slots__ = ("retcode", "return_msg", "payload", "timestamp", "sender_info", "correlation_id")

    msgtype = T_REPLY

    def __init__(self, retcode=RETCODE_SUCCESS, return_msg="", payload=None, timestamp=None, sender_info=None,
                 correlation_id=None):
        self.retcode = retcode
        self.return_msg = return_msg
        self.payload = wrap_payload(payload)
        self.timestamp = timestamp
        self.sender_info = sender_info
        self.correlation_id = correlation_id

    @property
    def ok(self):
        """True unless the retcode is an error (>= 100)."""
        return self.retcode < 100

    @property
    def values(self):
        """``payload["values"]`` if present, else None."""
        return self.payload.get("values")

    def to_dict(self):
        """Return the JSON-ready dict (``correlation_id`` only when set)."""
        message = {
            "msgtype": T_REPLY,
            "retcode": self.retcode,
            "return_msg": self.return_msg,
            "payload": self.payload,
            "timestamp": self.timestamp or format_timestamp(),
            "sender_info": self.sender_info if self.sender_info is not None else default_sender_info(),
        }
        if self.correlation_id is not None:
            message["correlation_id"] = self.correlation_id
        return message

    def encode(self, sender_info_json=None):
        """Return the reply as compact JSON bytes (what :func:`encode_json` gives, faster).

        *sender_info_json* is the ``sender_info`` already encoded (a node
        keeps its own); None encodes :attr:`sender_info` (or the default).
        """
        if sender_info_json is None:
            sender_info_json = _ENCODER.encode(self.sender_info if self.sender_info is not None
                                               else default_sender_info())
        encode = _ENCODER.encode
        tail = "}" if self.correlation_id is None else ',"correlation_id":%s}' % encode(self.correlation_id)
        return ('{"msgtype":2,"retcode":%d,"return_msg":%s,"payload":%s,"timestamp":"%s","sender_info":%s%s' % (
            self.retcode, encode(self.return_msg) if self.return_msg else '""', encode(self.payload),
            self.timestamp or format_timestamp(),
            sender_info_json, tail)).encode("utf-8")

    @classmethod
    def from_dict(cls, message):
        """Build a reply from a decoded JSON object; raise :class:`DecodingError` if it is none."""
        if message.get("msgtype", T_REPLY) != T_REPLY:
            raise DecodingError("expected a reply (msgtype 2), got msgtype %r" % (message.get("msgtype"),))
        retcode = message.get("retcode", RETCODE_SUCCESS)
        if not isinstance(retcode, int) or isinstance(retcode, bool):
            raise DecodingError("reply retcode must be an integer, got %r" % (retcode,))
        return cls(
            retcode,
            message.get("return_msg") or "",
            message.get("payload"),
            timestamp=message.get("timestamp"),
            sender_info=message.get("sender_info"),
            correlation_id=message.get("correlation_id"),
        )

    def __repr__(self):
        return "Reply(retcode=%r, return_msg=%r, payload=%r)" % (self.retcode, self.return_msg, self.payload)


def decode_reply(data):
    """Decode reply bytes (one JSON object) into a :class:`Reply`."""
    return Reply.from_dict(decode_json_object(data))


class Alert:
    """A dripline alert: a value broadcast by a key (logging).

    :param routing_key: where it goes, ``sensor_value.<key name>`` by default.
    :param payload: ``{"value_raw": ..., "value_cal": ...}``.
    :param unixtime: when the value was taken.
    :param name: the name of the key that sent it.
    """

    __slots__ = ("routing_key", "payload", "unixtime", "name", "sender_info")

    msgtype = T_ALERT

    def __init__(self, routing_key, payload, unixtime=None, name=None, sender_info=None):
        self.routing_key = routing_key
        self.payload = wrap_payload(payload)
        self.unixtime = time.time() if unixtime is None else unixtime
        self.name = name
        self.sender_info = sender_info

    @property
    def value(self):
        """The value to log: ``value_cal`` when present, else ``value_raw``."""
        if "value_cal" in self.payload:
            return self.payload["value_cal"]
        if "value_raw" in self.payload:
            return self.payload["value_raw"]
        values = self.payload.get("values")
        return values[0] if values else None

    def to_dict(self):
        """Return the JSON-ready dict."""
        return {
            "msgtype": T_ALERT,
            "timestamp": format_timestamp(self.unixtime),
            "payload": self.payload,
            "sender_info": self.sender_info if self.sender_info is not None else default_sender_info(),
        }

    def __repr__(self):
        return "Alert(routing_key=%r, payload=%r, unixtime=%r)" % (self.routing_key, self.payload, self.unixtime)
