"""Dripline 4 on AMQP: messages as dripline-cpp lays them out (no I/O).

Dripline 3 puts every field of a message in one JSON body. Dripline 4
(dripline-cpp, dripline-python 4) keeps the routing and request fields in
the AMQP message and its headers, and only the payload in the body:

=====================  ==========================================================
AMQP                   dripline 4 field
=====================  ==========================================================
body                   the payload, JSON (``{"values": [...], ...}`` for a request)
content_encoding       ``application/json`` (the only encoding)
correlation_id         a UUID; a reply carries its request's
message_id             ``UUID/CHUNK/TOTAL``: a body longer than
                       :data:`MAX_CHUNK` bytes travels in TOTAL messages
reply_to               the queue a request's reply goes to (empty otherwise)
header message_type    2 reply, 3 request, 4 alert
header specifier       what follows the endpoint: ``calibration``, ``lock``, ...
header timestamp       UTC, ``2026-01-02T03:04:05.000006Z``
header sender_info     ``exe``, ``versions`` (``{package: {version, ...}}``),
                       ``hostname``, ``username``, ``service_name``
header message_operation  a request's operation: 0 set, 1 get, 9 cmd
header lockout_key     a request's key, a UUID; all zeros for none
header return_code     a reply's code (0 success, >= 100 error)
header return_message  a reply's explanation
=====================  ==========================================================

A message is dripline 4 when its headers carry ``message_type``
(:func:`is_v4`); a node answers each request in the form it came in.
flubber's :class:`~flubber.kvstore.Request` and
:class:`~flubber.kvstore.Reply` are the same objects for both versions:
the request's *target* is the routing key followed by ``.SPECIFIER``, as a
dripline 3 routing key carries it.
"""
import collections
import uuid

from flubber import __version__, _json
from flubber.kvstore import _dripline
from flubber.kvstore._dripline import CONTENT_ENCODING, T_ALERT, T_REPLY, T_REQUEST, Reply, Request
from flubber.kvstore._exceptions import DecodingError, PayloadError

#: Largest body of one AMQP message; longer bodies are split (dripline-cpp's DL_MAX_PAYLOAD_SIZE).
MAX_CHUNK = 10000
#: The lockout key that means "no key" (dripline-cpp sends it when none is set).
NIL_UUID = "00000000-0000-0000-0000-000000000000"
#: Separator of the parts of ``message_id``.
MESSAGE_ID_SEPARATOR = "/"

#: One AMQP message of dripline 4: what to publish, where, with which properties.
AMQPMessage = collections.namedtuple(
    "AMQPMessage", "routing_key body headers content_encoding correlation_id message_id reply_to")
AMQPMessage.__doc__ = """One AMQP message of a dripline 4 message (one chunk of it).

``routing_key`` and ``body`` (bytes) are what to publish; ``headers`` (a
dict) and the other fields are its AMQP properties. A publisher hands
them to its AMQP library as they are, e.g. ``pika.BasicProperties(
headers=m.headers, content_encoding=m.content_encoding,
correlation_id=m.correlation_id, message_id=m.message_id,
reply_to=m.reply_to or None)``.
"""

_SENDER_INFO = {}


def is_v4(headers):
    """Return whether AMQP *headers* (a dict or None) make a dripline 4 message."""
    return isinstance(headers, dict) and "message_type" in headers


def sender_info(service_name=""):
    """Return ``sender_info`` of this process in dripline 4's form (a fresh dict).

    dripline-cpp refuses a message whose ``sender_info`` lacks any of
    ``exe``, ``versions``, ``hostname``, ``username`` or ``service_name``.
    """
    base = _SENDER_INFO.get("base")
    if base is None:
        v3 = _dripline.sender_info()
        base = _SENDER_INFO["base"] = {
            "exe": v3["exe"],
            "versions": {"flubber": {"version": __version__, "package": "flubber"}},
            "hostname": v3["hostname"],
            "username": v3["username"],
        }
    info = dict(base, versions={name: dict(version) for name, version in base["versions"].items()})
    info["service_name"] = service_name
    return info


def new_uuid():
    """Return a random UUID as dripline writes it (36 characters with dashes)."""
    return str(uuid.uuid4())


def parse_message_id(message_id):
    """Return ``(uuid, chunk, total)`` of a dripline 4 ``message_id``.

    :raises DecodingError: it is not ``UUID/CHUNK/TOTAL`` with 0 <= CHUNK < TOTAL.
    """
    parts = str(message_id or "").split(MESSAGE_ID_SEPARATOR)
    try:
        if len(parts) != 3 or not parts[0]:
            raise ValueError(message_id)
        chunk, total = int(parts[1]), int(parts[2])
        if not 0 <= chunk < total:
            raise ValueError(message_id)
    except ValueError:
        raise DecodingError("message_id %r is not UUID/CHUNK/TOTAL, as dripline 4 sends it"
                            % (message_id,)) from None
    return parts[0], chunk, total


def _body_chunks(payload, max_chunk):
    body = _dripline.encode_json(payload) if not isinstance(payload, bytes) else payload
    if not body:
        return [b""]
    return [body[start:start + max_chunk] for start in range(0, len(body), max_chunk)]


def encode(message_type, payload, routing_key, headers=None, correlation_id=None, reply_to="",
           specifier="", timestamp=None, sender=None, message_id=None, max_chunk=MAX_CHUNK):
    """Return the :class:`AMQPMessage` chunks of one dripline 4 message.

    :param int message_type: :data:`~flubber.kvstore.T_REQUEST`, ``T_REPLY`` or ``T_ALERT``.
    :param payload: the body (JSON-able; bytes are sent as they are).
    :param str routing_key: where it goes.
    :param dict headers: the headers of its type (``message_operation``, ...).
    :param str correlation_id: default a new UUID.
    :param str sender: ``sender_info`` (default: this process's, see :func:`sender_info`).
    :param str message_id: the UUID part (default a new one).
    """
    chunks = _body_chunks(payload, max_chunk)
    message_id = message_id or new_uuid()
    table = {
        "message_type": message_type,
        "specifier": specifier or "",
        "timestamp": timestamp or _dripline.format_timestamp(),
        "sender_info": sender if sender is not None else sender_info(),
    }
    table.update(headers or {})
    correlation_id = correlation_id if correlation_id is not None else new_uuid()
    total = len(chunks)
    return [AMQPMessage(routing_key, chunk, table, CONTENT_ENCODING, correlation_id,
                        "%s/%d/%d" % (message_id, index, total), reply_to or "")
            for index, chunk in enumerate(chunks)]


def split_target(target):
    """Return ``(routing_key, specifier)`` of a flubber *target* for dripline 4.

    dripline 4 services route on the first word of the routing key and take
    the rest from the ``specifier`` header: ``setpoint.calibration`` becomes
    ``("setpoint", "calibration")``. A flubber node joins them again.
    """
    routing_key, _, specifier = target.partition(".")
    return routing_key, specifier


def request_messages(request, reply_to, correlation_id=None, max_chunk=MAX_CHUNK):
    """Return the :class:`AMQPMessage` chunks of *request* (a :class:`~flubber.kvstore.Request`)."""
    routing_key, specifier = split_target(request.target)
    key = request.lockout_key
    if key and len(key) == 32 and "-" not in key:
        key = str(uuid.UUID(hex=key))
    headers = {"message_operation": request.msgop, "lockout_key": key or NIL_UUID}
    return encode(T_REQUEST, request.payload, routing_key, headers, correlation_id=correlation_id,
                  reply_to=reply_to, specifier=specifier, timestamp=request.timestamp,
                  sender=_v4_sender(request.sender_info), max_chunk=max_chunk)


def reply_messages(reply, reply_to, correlation_id, sender=None, max_chunk=MAX_CHUNK):
    """Return the :class:`AMQPMessage` chunks answering a request with *reply*.

    They go to the request's *reply_to* queue with its *correlation_id*, as
    dripline-cpp's ``msg_request::reply`` makes them (no specifier, no
    reply_to of their own). *sender* is the ``sender_info`` to send
    (default: the reply's, in dripline 4 form).
    """
    headers = {"return_code": reply.retcode, "return_message": reply.return_msg or ""}
    return encode(T_REPLY, reply.payload, reply_to, headers, correlation_id=correlation_id,
                  timestamp=reply.timestamp, sender=sender or _v4_sender(reply.sender_info),
                  max_chunk=max_chunk)


def alert_messages(routing_key, payload, unixtime=None, sender=None, max_chunk=MAX_CHUNK):
    """Return the :class:`AMQPMessage` chunks of a dripline 4 alert.

    This is what a dripline 4 data logger (dripline-python's
    ``AlertConsumer``, e.g. ``PostgresSensorLogger``) consumes from the
    ``alerts`` exchange: routing key ``sensor_value.NAME`` for a logged
    value, the payload (``{"value_raw": ..., "value_cal": ...}``) as the
    body, the ``timestamp`` header when the value was taken.

    :param str routing_key: e.g. ``sensor_value.oven_t1`` or ``alarm.lab.oven_t1``.
    :param payload: the body, a JSON-able value (usually a dict).
    :param float unixtime: when (default now).
    :param dict sender: ``sender_info`` in either version's form (default this process's).
    """
    return encode(T_ALERT, payload, routing_key, timestamp=_dripline.format_timestamp(unixtime),
                  sender=_v4_sender(sender), max_chunk=max_chunk)


def alert_from(alert, max_chunk=MAX_CHUNK):
    """Return the :class:`AMQPMessage` chunks of a :class:`~flubber.kvstore.Alert` in dripline 4 form."""
    return alert_messages(alert.routing_key, alert.payload, alert.unixtime, alert.sender_info, max_chunk)


def _v4_sender(info):
    """Return *info* (``sender_info`` of either version, or None) in dripline 4's form."""
    if info is None:
        return sender_info()
    if isinstance(info.get("versions"), dict):
        return info
    converted = sender_info(str(info.get("service_name") or ""))
    for name in ("exe", "hostname", "username"):
        if info.get(name):
            converted[name] = str(info[name])
    return converted


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _decode_body(body):
    """Return the JSON payload of a body (bytes); an empty body is an empty payload."""
    if not body:
        return {}
    try:
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodingError("the body is not UTF-8 (%s); send the payload as JSON in UTF-8" % exc) from None
    try:
        return _json.loads(text, decoder=_dripline._DECODER)
    except _json.JSONTooDeep as exc:
        raise DecodingError("request refused: %s; send flatter values" % exc) from None
    except ValueError as exc:
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise DecodingError("the body is not JSON (%s): %r" % (exc, shown)) from None


def _header_text(headers, name):
    """The text of header *name* ("" when absent or empty); raise :class:`DecodingError` for another type."""
    value = _text(headers.get(name) or "")
    if not isinstance(value, str):
        raise DecodingError("header %s must be text, got %r" % (name, value))
    return value


def _integer(headers, name, default=None):
    value = headers.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise DecodingError("header %s must be an integer, got %r" % (name, value))
    return value


def decode_request(headers, body, routing_key, content_encoding=CONTENT_ENCODING):
    """Build a :class:`~flubber.kvstore.Request` from a (whole) dripline 4 request.

    :param dict headers: the AMQP headers.
    :param bytes body: the payload, all chunks joined.
    :param str routing_key: the delivery's routing key.
    :raises DecodingError: (302) not a request, a bad header, a body that is not JSON.
    :raises PayloadError: (303) the payload is not an object or its ``values`` not a list.
    :raises InvalidKey: (308) a lockout key that is not a UUID.
    """
    if content_encoding and _text(content_encoding) != CONTENT_ENCODING:
        raise DecodingError("content encoding %r is not supported; dripline 4 sends %s"
                            % (content_encoding, CONTENT_ENCODING))
    message_type = _integer(headers, "message_type")
    if message_type != T_REQUEST:
        raise DecodingError("this service answers requests (message_type 3); got message_type %r" % message_type)
    msgop = _integer(headers, "message_operation", None) if "message_operation" in headers else None
    if msgop is None:
        raise DecodingError("request has no message_operation header; add 1 (get), 0 (set) or 9 (cmd)")
    payload = _decode_body(body)
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise PayloadError("payload must be an object such as {\"values\": [...]}, got %s" % type(payload).__name__)
    values = payload.get("values")
    if values is not None and not isinstance(values, list):
        raise PayloadError("payload values must be a list, got %s" % type(values).__name__)
    specifier = _header_text(headers, "specifier")
    target = _text(routing_key) + ("." + specifier if specifier else "")
    key = _text(headers.get("lockout_key") or "")
    lockout_key = None if key in ("", NIL_UUID) else _dripline.normalize_lockout_key(key)
    sender = headers.get("sender_info")
    return Request(target, msgop, payload, lockout_key=lockout_key,
                   timestamp=_header_text(headers, "timestamp") or None,
                   sender_info=_plain(sender) if isinstance(sender, dict) else None)


def decode_reply(headers, body, correlation_id=None):
    """Build a :class:`~flubber.kvstore.Reply` from a (whole) dripline 4 reply.

    :raises DecodingError: it is not a reply or its body is not JSON.
    """
    if _integer(headers, "message_type") != T_REPLY:
        raise DecodingError("expected a reply (message_type 2), got message_type %r" % headers.get("message_type"))
    retcode = _integer(headers, "return_code", 999)
    sender = headers.get("sender_info")
    return Reply(retcode, _text(headers.get("return_message") or ""), _decode_body(body),
                 timestamp=_text(headers.get("timestamp")),
                 sender_info=_plain(sender) if isinstance(sender, dict) else None, correlation_id=correlation_id)


def _plain(value):
    """Return an AMQP table value with bytes turned into text (pika may hand either)."""
    if isinstance(value, dict):
        return {_text(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return _text(value)


class ChunkAssembler:
    """Join the chunks of dripline 4 messages (``message_id`` ``UUID/CHUNK/TOTAL``).

    :meth:`add` returns the whole message when its last chunk arrives (at
    once for the usual one-chunk message). A message may hold at most
    *max_bytes* in all (past that it is refused with :class:`DecodingError`,
    302, as a dripline 3 request of that size) and at most *max_pending*
    messages may be incomplete at once (past that :class:`PayloadError`).
    A message whose chunks stop coming is handed back by :meth:`expire`.
    """

    def __init__(self, max_bytes=1 << 20, max_pending=64):
        #: Largest body of a whole message, in bytes.
        self.max_bytes = max_bytes
        #: Incomplete messages kept at once.
        self.max_pending = max_pending
        self._pending = {}
        # ids of messages refused part-way: their later chunks are dropped, not answered again
        self._refused = collections.OrderedDict()

    def __len__(self):
        return len(self._pending)

    def add(self, message_id, first, body):
        """Add one chunk; return ``(first, body)`` of the whole message, or None while incomplete.

        *first* is whatever the caller needs of the message (its headers and
        properties): the one given with the first chunk to arrive is kept.

        :raises DecodingError: a malformed ``message_id``, or the message is
            larger than :attr:`max_bytes`.
        :raises PayloadError: too many messages are incomplete.
        """
        key, chunk, total = parse_message_id(message_id)
        if total == 1:
            if len(body) > self.max_bytes:
                raise DecodingError("request of %d bytes is longer than the %d this node accepts; send smaller "
                                    "requests" % (len(body), self.max_bytes))
            return first, body
        if key in self._refused:
            return None
        if total > self.max_bytes:  # every chunk of a chunked message carries a byte at least
            raise DecodingError("request of more than %d bytes (%d chunks) is longer than this node accepts; "
                                "send smaller requests" % (self.max_bytes, total))
        entry = self._pending.get(key)
        if entry is None:
            if len(self._pending) >= self.max_pending:
                raise PayloadError("%d chunked messages are incomplete; send again later" % len(self._pending))
            # the chunks by number: what arrived only (a TOTAL the sender names allocates nothing)
            entry = self._pending[key] = [first, {}, 0, total]
        parts = entry[1]
        if entry[3] != total:
            self._refuse(key)
            raise DecodingError("message %s changed its number of chunks" % key)
        if chunk not in parts:
            parts[chunk] = bytes(body)
            entry[2] += len(body)
        if entry[2] > self.max_bytes:
            self._refuse(key)
            raise DecodingError("request of more than %d bytes is longer than this node accepts; send smaller "
                                "requests" % self.max_bytes)
        if len(parts) < total:
            return None
        del self._pending[key]
        return entry[0], b"".join(parts[number] for number in range(total))

    def _refuse(self, key):
        del self._pending[key]
        self._refused[key] = True
        while len(self._refused) > 4 * self.max_pending:
            self._refused.popitem(last=False)

    def expire(self, message_id):
        """Forget the incomplete message of *message_id*; return its *first*, or None if it completed."""
        try:
            key = parse_message_id(message_id)[0]
        except DecodingError:
            return None
        entry = self._pending.pop(key, None)
        return None if entry is None else entry[0]


__all__ = ["AMQPMessage", "MAX_CHUNK", "NIL_UUID", "ChunkAssembler", "alert_from", "alert_messages",
           "decode_reply", "decode_request", "encode", "is_v4", "parse_message_id", "reply_messages",
           "request_messages", "sender_info", "split_target"]
