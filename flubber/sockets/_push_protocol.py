"""The push socket's protocol: ``json_wn#``/``raw_wn#`` requests parsed, data kept, replies made, no I/O.

:class:`PushProtocol` answers as PyExpLabSys' push socket does, its error
sentences word for word; the shared wire facts are in
:mod:`flubber.sockets._protocol`, the transport in :mod:`flubber.sockets.push`.
"""
import json

from flubber import _json
from flubber.sockets._exceptions import SocketConfigurationError
from flubber.sockets._protocol import (
    MAX_DATAGRAM,
    MAX_REQUEST_SIZE,
    PUSH_ACK,
    PUSH_COMMANDS,
    PUSH_ERROR,
    PUSH_EXCEP,
    PUSH_RET,
    RETURN_FORMATS,
    TYPE_FROM_STRING,
    UNKNOWN_COMMAND,
    _RAW_TYPE_NAMES,
    _ProtocolBase,
    _text_of,
    encode_reply,
)

__all__ = ["PushProtocol"]


# The push socket's error sentences, in PyExpLabSys' words: scripts and test
# suites written against it compare these replies, so they are kept as it
# sends them (its double space in _RAW_MIXED_LIST included).
_NOT_JSON = "The string '{}' could not be decoded as JSON"
_NOT_A_DICT = "The object '{}' returned after decoding the JSON string is not a dict"
_BAD_PART = "The data part '{}' did not match the expected format of 3 parts divided by ':'"
_UNKNOWN_TYPE = "The data type '{}' is unknown. Only {} are allowed"
_UNCONVERTIBLE = "Unable to convert values to '{}'. Error is: {}"
_RAW_FAILED = "Raw conversion failed with message:{}"
_RAW_NEITHER = "Return value must be a dict or list with return format 'raw'"
_RAW_MIXED_DICT = "With return format raw, value in list must have same type"
_RAW_ONLY_SIMPLE = ("With return format raw, the item type can only be one of 'int', "
                    "'float', 'bool' and 'str'. ")
_RAW_BAD_ITEM = _RAW_ONLY_SIMPLE + "Object: '{}' is of type: {}"
_RAW_NOT_LISTS = "With return format raw on a list, the elements themselves be lists"
_RAW_MIXED_LIST = ("With return format raw on a list of lists, all values  in list must have "
                   "same type. Types are: {}")
_RAW_BAD_LIST_TYPE = _RAW_ONLY_SIMPLE + "The type is: {}"
_RAW_TYPES = (int, float, bool, str)


def _raw_dict(value):
    """Return ``key:type:v1,v2;...`` for a raw return value that is a dict.

    An empty list has the type name ``''``, which is refused as any other
    type that is not int, float, bool or str.
    """
    items = []
    for key, item in value.items():
        if isinstance(item, list):
            kinds = [type(element) for element in item]
            type_name = kinds[0].__name__ if kinds else ""
            if any(kind != kinds[0] for kind in kinds):
                raise ValueError(_RAW_MIXED_DICT)
            text = ",".join(str(element) for element in item)
        else:
            type_name = type(item).__name__
            text = str(item)
        if type_name not in _RAW_TYPE_NAMES:
            raise TypeError(_RAW_BAD_ITEM.format(item, type_name))
        items.append("%s:%s:%s" % (key, type_name, text))
    return ";".join(items)


def _raw_list(value):
    """Return ``type:x1,y1&x2,y2`` for a raw return value that is a list of lists.

    No value at all raises :class:`IndexError` (``list index out of
    range``), as in PyExpLabSys.
    """
    kinds = []
    rows = []
    for row in value:
        if not isinstance(row, list):
            raise ValueError(_RAW_NOT_LISTS)
        kinds.extend(type(element) for element in row)
        rows.append(",".join(str(element) for element in row))
    first = kinds[0]
    if any(kind != first for kind in kinds):
        raise ValueError(_RAW_MIXED_LIST.format(kinds))
    if first not in _RAW_TYPES:
        raise TypeError(_RAW_BAD_LIST_TYPE.format(first))
    return "%s:%s" % (first.__name__, "&".join(rows))


_ABSENT = object()


class PushProtocol(_ProtocolBase):
    """Parsing, state and replies of one push socket, without I/O.

    :meth:`parse` turns a request into either an immediate reply or a dict
    of received data; the transport then calls :meth:`store` and, by its
    action, enqueues the data or calls the callback, and answers with
    :meth:`ack`, :meth:`format_return` or :meth:`callback_failed`.

    :param str name: the socket's name (the reply to ``name`` is ``RET#name``).
    :param str return_format: one of :data:`RETURN_FORMATS`.
    :param bool check_activity: see :class:`Activity`.
    :param float activity_timeout: see :class:`Activity`.
    :param callable status_source: returns the dict for ``status``.
    :param callable clock: unix time source, as for :class:`PullProtocol`.
    :param int max_request_size: longer requests get the error reply.
    """

    kind = "push"

    def __init__(self, name, return_format="json", check_activity=False, activity_timeout=900,
                 status_source=None, clock=None, max_request_size=MAX_REQUEST_SIZE):
        if return_format not in RETURN_FORMATS:
            raise SocketConfigurationError(
                "return_format %r is not one of %s" % (return_format, ", ".join(RETURN_FORMATS)))
        super().__init__(name, check_activity, activity_timeout, status_source, clock,
                         max_request_size)
        self.return_format = return_format
        #: The data of the last request (a dict) or None.
        self.last = None
        #: Unix time of the last request, or None.
        self.last_time = None
        #: The newest value of every codename ever received.
        self.updated = {}
        #: Unix time of the last update, or None.
        self.updated_time = None

    # -- requests ------------------------------------------------------

    def parse(self, request):
        """Return ``(reply, data)`` for the request bytes *request*.

        Exactly one of the two is not None: *reply* (bytes) answers the
        request at once; *data* (a dict) is data to store and act on.
        Never raises.
        """
        text = self._decode(request)
        if text is None:
            if len(request) > self.max_request_size:
                why = "the request is longer than %d bytes" % self.max_request_size
            else:
                why = "the request is not ASCII; send ASCII with non-ASCII text JSON-escaped"
            return self.error(why), None
        if text == "name":
            return encode_reply("%s#%s" % (PUSH_RET, self.name)), None
        if text == "commands":
            return encode_reply("%s#%s" % (PUSH_RET, json.dumps(PUSH_COMMANDS))), None
        if text == "status":
            return encode_reply(self.status_text()), None
        if text.count("#") != 1:
            return self.error(UNKNOWN_COMMAND), None
        command, _, body = text.partition("#")
        try:
            if command == "json_wn":
                return None, self._json_with_names(body)
            if command == "raw_wn":
                return None, self._raw_with_names(body)
        except ValueError as exc:
            return self.error(str(exc)), None
        return self.error(UNKNOWN_COMMAND), None

    @staticmethod
    def _json_with_names(body):
        try:
            data = _json.loads(body)
        except _json.JSONTooDeep as exc:
            raise ValueError("refused: %s" % exc) from None
        except ValueError:
            raise ValueError(_NOT_JSON.format(body)) from None
        if not isinstance(data, dict):
            raise ValueError(_NOT_A_DICT.format(data))
        return data

    @staticmethod
    def _raw_with_names(body):
        data = {}
        for part in body.split(";"):
            fields = part.split(":")
            if len(fields) != 3:
                raise ValueError(_BAD_PART.format(part))
            codename, type_name, values = fields
            convert = TYPE_FROM_STRING.get(type_name)
            if convert is None:
                raise ValueError(_UNKNOWN_TYPE.format(type_name, TYPE_FROM_STRING.keys()))
            try:
                converted = [convert(value) for value in values.split(",")]
            except ValueError as exc:
                raise ValueError(_UNCONVERTIBLE.format(type_name, exc)) from None
            data[codename] = converted[0] if len(converted) == 1 else converted
        return data

    # -- state and replies ---------------------------------------------

    def store(self, data):
        """Record *data* as :attr:`last` and merge it into :attr:`updated`.

        Returns a callable that undoes it (for data a callback then refuses).
        """
        now = self.clock()
        before = (self.last, self.last_time, self.updated_time,
                  [(name, self.updated.get(name, _ABSENT)) for name in data])
        self.last = data
        self.last_time = now
        self.updated.update(data)
        self.updated_time = now

        def undo():
            self.last, self.last_time, self.updated_time, values = before
            for name, value in values:
                if value is _ABSENT:
                    self.updated.pop(name, None)
                else:
                    self.updated[name] = value

        return undo

    def set_last_to_none(self):
        """Forget the last data and its time."""
        self.last = None
        self.last_time = None

    def clear_updated(self):
        """Forget all updated data and its time."""
        self.updated.clear()
        self.updated_time = None

    def ack(self, data):
        """Return the ``ACK#`` reply for received *data*.

        Should the echo of the data not fit in a datagram, the reply is
        still an ``ACK#`` (the data was used) with a short note instead.
        """
        reply = encode_reply("%s#%s" % (PUSH_ACK, data))
        if len(reply) > MAX_DATAGRAM:
            reply = encode_reply("%s#data with %d codenames received; too large to echo"
                                 % (PUSH_ACK, len(data)))
        return reply

    def format_return(self, value):
        """Return the ``RET#`` reply for a callback's return *value*.

        Formats by :attr:`return_format`: ``'json'`` as :func:`json.dumps`,
        ``'string'`` as ``str()``, ``'raw'`` as ``None``, a dict
        ``key:type:v1,v2;...`` or a list of lists ``type:x1,y1&x2,y2``.
        A value that cannot be formatted gives an ``EXCEP#`` reply with
        the error's message, as PyExpLabSys sends it (after ``Raw
        conversion failed with message:`` for ``'raw'``).
        """
        try:
            if self.return_format == "json":
                body = json.dumps(value)
            elif self.return_format == "string":
                body = str(value)
            else:
                body = self._format_raw(value)
        except Exception as exc:  # noqa: BLE001 - any __str__ or json.dumps of user data may raise
            return self.callback_failed(exc)
        reply = encode_reply("%s#%s" % (PUSH_RET, body))
        if len(reply) > MAX_DATAGRAM:
            return encode_reply("%s#the return value is %d bytes, more than one UDP datagram "
                                "holds (%d)" % (PUSH_EXCEP, len(reply), MAX_DATAGRAM))
        return reply

    def _format_raw(self, value):
        """Return the body of a raw ``RET#`` reply, or raise with the ``EXCEP#`` text."""
        try:
            if value is None:
                return "None"
            if isinstance(value, dict):
                return _raw_dict(value)
            if isinstance(value, list):
                return _raw_list(value)
            raise ValueError(_RAW_NEITHER)
        except Exception as exc:  # noqa: BLE001 - reported to the client as the original does
            raise ValueError(_RAW_FAILED.format(_text_of(exc))) from exc

    @staticmethod
    def callback_failed(exc):
        """Return the ``EXCEP#`` reply for an exception *exc* of the callback:
        ``EXCEP#`` and the exception's message."""
        return encode_reply("%s#%s" % (PUSH_EXCEP, _text_of(exc)))[:MAX_DATAGRAM]

    @staticmethod
    def error(text):
        """Return the ``ERROR#`` reply saying *text*."""
        return encode_reply("%s#%s" % (PUSH_ERROR, text))[:MAX_DATAGRAM]

    def busy(self, pending):
        """Return the ``ERROR#`` reply for a request refused because *pending*
        requests already wait for the callback."""
        return self.error("busy: %d requests are waiting for the callback; try again later"
                           % pending)
