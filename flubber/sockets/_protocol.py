"""The PyExpLabSys UDP protocol: requests in, replies out, no I/O.

Everything that decides which bytes answer which request lives here, in
plain classes a test can drive without a socket: :class:`PullProtocol` for
the date and data pull sockets, :class:`PushProtocol` for the push socket.
The transports in :mod:`flubber.sockets.pull` and
:mod:`flubber.sockets.push` only move datagrams in and out.

Wire facts kept byte for byte from PyExpLabSys ``common/sockets.py``:
one request and one reply per datagram, ASCII, numbers printed with
``str()``, JSON from :func:`json.dumps` with its default separators, the
misspelt ``UNKNOWN_COMMMAND`` (existing clients compare it), ``OLD_DATA``
for a point older than its codename's timeout, and the push socket's
``ACK#``/``ERROR#``/``RET#``/``EXCEP#`` prefixes. The push socket's error
replies carry the original's sentences word for word (scripts compare
them), e.g. ``ERROR#The string 'nonsense' could not be decoded as JSON``.

Where the original failed, every request here still gets exactly one
reply: a request that is empty, not ASCII or larger than
:data:`MAX_REQUEST_SIZE` gets the protocol's error reply, and a reply that
would not fit in one UDP datagram is replaced by an error that says so.
"""
import json
import logging
import numbers
import time

from flubber import _json
from flubber.sockets._exceptions import (
    BadPointError,
    SocketConfigurationError,
    UnknownCodenameError,
)

LOG = logging.getLogger(__name__)

#: Characters a codename may not contain (they separate fields on the wire).
BAD_CHARS = ["#", ",", ";", ":", "&"]
#: Reply to a request the socket does not understand (three M's, as the
#: original sends it; existing clients compare against this exact string).
UNKNOWN_COMMAND = "UNKNOWN_COMMMAND"
#: Replaces a point that is older than its codename's timeout.
OLD_DATA = "OLD_DATA"
#: Push reply prefix: the request could not be used.
PUSH_ERROR = "ERROR"
#: Push reply prefix: the data was received; the interpreted data follows.
PUSH_ACK = "ACK"
#: Push reply prefix: the callback (or formatting its value) raised.
PUSH_EXCEP = "EXCEP"
#: Push reply prefix: a return value follows.
PUSH_RET = "RET"
#: The largest UDP payload over IPv4 (65535 - 8 byte UDP - 20 byte IP header).
MAX_DATAGRAM = 65507
#: Default limit of a request: longer ones get an error reply. PyExpLabSys
#: reads 8192 bytes and silently cuts longer requests; flubber answers them.
MAX_REQUEST_SIZE = 8192
#: What the push socket's ``commands`` request lists.
PUSH_COMMANDS = ["json_wn#", "raw_wn#", "name", "status", "commands"]
#: The push socket's actions.
PUSH_ACTIONS = ("store_last", "enqueue", "callback_async", "callback_direct")
#: The push socket's return formats for ``callback_direct``.
RETURN_FORMATS = ("json", "raw", "string")
#: Simple types a raw return value may hold, by their wire names.
_RAW_TYPE_NAMES = ("int", "float", "bool", "str")


def bool_translate(string):
    """Return the bool for the string ``'True'`` or ``'False'``.

    Raises :class:`ValueError` for any other string. Used for the ``bool``
    type of the push socket's ``raw_wn#`` requests.
    """
    text = str(string)
    if text == "True":
        return True
    if text == "False":
        return False
    # PyExpLabSys' wording: it ends up in the ERROR# reply of a raw_wn# request.
    raise ValueError("Cannot translate the string '{}' to a boolean. Only the strings "
                     "'True' or 'False' are allowed".format(string))


#: Converters from the type names of ``raw_wn#`` requests to Python values.
TYPE_FROM_STRING = {"int": int, "float": float, "str": str, "bool": bool_translate}


def wall_clock():
    """Return :func:`time.time`, looked up when called.

    The protocols' default clock. Looking ``time.time`` up at each call
    (instead of binding it at import) lets a script or test that patches it
    (:func:`unittest.mock.patch`, freezegun) move every time a socket reads:
    ``set_point`` without a timestamp, ``set_point_now``, old data, the
    activity clock and ``status``.
    """
    return time.time()


def _text_of(exc):
    """Return ``str(exc)``, or the exception's class name should that raise."""
    try:
        return str(exc)
    except Exception:  # noqa: BLE001 - a broken __str__ must not cost the reply
        return type(exc).__name__


def encode_reply(text):
    """Return *text* as the ASCII bytes of a reply.

    Non-ASCII characters (from a callback's return value, say) are sent as
    backslash escapes instead of making the reply impossible to send.
    """
    return text.encode("ascii", "backslashreplace")


def validate_codenames(codenames):
    """Return *codenames* as a list after checking every rule.

    Raises :class:`~flubber.sockets.SocketConfigurationError` (a
    :class:`ValueError`) naming the offending value when *codenames* is a
    single string instead of a list, when a codename is not a string, is
    not ASCII, contains one of :data:`BAD_CHARS` or is repeated.
    """
    if isinstance(codenames, (str, bytes)):
        raise SocketConfigurationError(
            "codenames must be a list of strings, not the single string %r; "
            "write [%r] for one codename" % (codenames, codenames))
    try:
        names = list(codenames)
    except TypeError:
        raise SocketConfigurationError(
            "codenames must be a list of strings, got %r" % (codenames,)) from None
    seen = set()
    for name in names:
        if not isinstance(name, str):
            raise SocketConfigurationError("codename %r is not a string" % (name,))
        if not name.isascii():
            raise SocketConfigurationError(
                "codename %r is not ASCII; the protocol is ASCII only" % name)
        for char in BAD_CHARS:
            if char in name:
                raise SocketConfigurationError(
                    "codename %r contains %r; codenames may not contain any of %s"
                    % (name, char, " ".join(BAD_CHARS)))
        if name in seen:
            raise SocketConfigurationError(
                "codename %r is given more than once; codenames must be unique" % name)
        seen.add(name)
    return names


def _check_timeout(value, codename):
    """Return *value* as a float timeout or None, or raise naming it."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise SocketConfigurationError(
            "timeout %r for codename %r is not a number of seconds >= 0 (or None for "
            "no timeout)" % (value, codename))
    return float(value)


def normalize_timeouts(timeouts, codenames):
    """Return one timeout (seconds or None) per codename, in order.

    *timeouts* is None (no timeouts), one number for every codename, or a
    sequence with exactly one value per codename. Anything else raises
    :class:`~flubber.sockets.SocketConfigurationError` naming the value.
    """
    if isinstance(timeouts, (str, bytes)):
        raise SocketConfigurationError(
            "timeouts must be a number or a list of numbers, not the string %r" % (timeouts,))
    if hasattr(timeouts, "__len__"):
        values = list(timeouts)
        if len(values) != len(codenames):
            raise SocketConfigurationError(
                "timeouts %r has %d values but there are %d codenames %r; give one "
                "timeout per codename, or a single number for all"
                % (values, len(values), len(codenames), list(codenames)))
    else:
        values = [timeouts] * len(codenames)
    return [_check_timeout(value, name) for value, name in zip(values, codenames)]


def normalize_value(value, what):
    """Return *value* as a plain int, float, str, bool or None.

    Numbers of other types (numpy scalars, fractions) become int or float;
    anything else raises :class:`~flubber.sockets.BadPointError` naming
    *what* and the value.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    raise BadPointError(
        "%s %r is a %s; a point may only hold numbers, strings, bools or None"
        % (what, value, type(value).__name__))


def normalize_point(point, codename, is_date):
    """Return *point* as an ``(x, y)`` tuple of plain values, or raise.

    For a date socket (*is_date*) x must be a unix time, a real number.
    """
    try:
        pair = tuple(point)
    except TypeError:
        raise BadPointError(
            "point %r for codename %r is not a pair (x, y)" % (point, codename)) from None
    if len(pair) != 2:
        raise BadPointError(
            "point %r for codename %r has %d items; it must be a pair (x, y)"
            % (point, codename, len(pair)))
    x_value = normalize_value(pair[0], "x of codename %r," % codename)
    y_value = normalize_value(pair[1], "y of codename %r," % codename)
    if is_date and (isinstance(x_value, (bool, str)) or x_value is None):
        raise BadPointError(
            "x %r of codename %r must be a unix time (a number) on a date socket"
            % (x_value, codename))
    return (x_value, y_value)


class Activity:
    """Activity bookkeeping of one socket, as reported by ``status``.

    A socket with ``check_activity`` is ``'OK'`` while the last
    :meth:`poke` is less than ``activity_timeout`` seconds ago and
    ``'INACTIVE'`` after that; without it the status is ``'DISABLED'``.
    """

    def __init__(self, check_activity, activity_timeout, now):
        #: Whether activity is monitored at all.
        self.check_activity = bool(check_activity)
        #: Seconds without a poke after which the socket is ``'INACTIVE'``.
        self.activity_timeout = activity_timeout
        #: Unix time of the last poke (or of construction).
        self.last_activity = now

    def poke(self, now):
        """Record activity at unix time *now* (when activity is monitored)."""
        if self.check_activity:
            self.last_activity = now

    def as_dict(self):
        """Return the settings and the last poke as PyExpLabSys kept them in ``DATA[port]["activity"]``."""
        return {"check_activity": self.check_activity, "activity_timeout": self.activity_timeout,
                "last_activity": self.last_activity}

    def status(self, now):
        """Return ``(status, seconds since last activity or None)``."""
        if not self.check_activity:
            return "DISABLED", None
        since = now - self.last_activity
        return ("OK" if since < self.activity_timeout else "INACTIVE"), since


class _ProtocolBase:
    """What the pull and push protocols share: name, activity, status."""

    #: ``type`` in the socket server status (``'date'``, ``'data'``, ``'push'``).
    kind = None

    def __init__(self, name, check_activity, activity_timeout, status_source, clock,
                 max_request_size=MAX_REQUEST_SIZE):
        self.name = name
        #: Requests longer than this many bytes get the error reply.
        self.max_request_size = max_request_size
        #: The unix time source (a callable); :func:`wall_clock` unless one was given.
        self.clock = wall_clock if clock is None else clock
        self.activity = Activity(check_activity, activity_timeout, self.clock())
        self._status_source = status_source

    def status_entry(self, now=None):
        """Return this socket's entry of ``socket_server_status``."""
        now = self.clock() if now is None else now
        status, since = self.activity.status(now)
        return {"name": self.name, "type": self.kind, "status": status,
                "since_last_activity": since}

    def status_text(self):
        """Return the JSON reply to ``status``.

        It holds ``system_status`` and ``socket_server_status`` (every
        socket of the process by port) from the status source the
        transport gave; without one, only this socket is listed.
        """
        if self._status_source is not None:
            status = self._status_source()
        else:
            status = {"system_status": {}, "socket_server_status": {"?": self.status_entry()}}
        return json.dumps(status)

    def _decode(self, request):
        """Return the request as text, or None when it is not ASCII or too large."""
        if len(request) > self.max_request_size:
            return None
        try:
            return request.decode("ascii")
        except UnicodeDecodeError:
            return None


class PullProtocol(_ProtocolBase):
    """Points and replies of one date or data pull socket, without I/O.

    :param str name: the socket's name (the reply to ``name``).
    :param list codenames: validated with :func:`validate_codenames`.
    :param bool is_date: True for a date socket, whose points age by their
        x (a unix time); False for a data socket, whose points age by
        the time they were set.
    :param default_x: x of the point every codename starts with.
    :param default_y: y of that point.
    :param timeouts: see :func:`normalize_timeouts`.
    :param bool check_activity: see :class:`Activity`.
    :param float activity_timeout: see :class:`Activity`.
    :param bool poke_on_set: whether :meth:`set_point` counts as activity.
    :param callable status_source: returns the dict for ``status``.
    :param callable clock: unix time source; by default :func:`wall_clock`,
        which reads :func:`time.time` at each call (so patching it works).
    :param int max_request_size: longer requests get the error reply.

    :raises SocketConfigurationError: for a bad codename, timeout or default.
    """

    def __init__(self, name, codenames, is_date, default_x=0.0, default_y=0.0, timeouts=None,
                 check_activity=True, activity_timeout=900, poke_on_set=True,
                 status_source=None, clock=None, max_request_size=MAX_REQUEST_SIZE):
        codenames = validate_codenames(codenames)
        timeouts = normalize_timeouts(timeouts, codenames)
        try:
            default = normalize_point((default_x, default_y), "(default)", is_date)
        except BadPointError as exc:
            raise SocketConfigurationError("default_x/default_y: %s" % exc) from None
        super().__init__(name, check_activity, activity_timeout, status_source, clock,
                         max_request_size)
        self.is_date = is_date
        self.kind = "date" if is_date else "data"
        #: Codenames in constructor order (the order of every reply).
        self.codenames = codenames
        #: codename -> timeout in seconds, or None for "never old".
        self.timeouts = dict(zip(codenames, timeouts))
        #: codename -> current point ``(x, y)``.
        self.points = dict.fromkeys(codenames, default)
        #: codename -> unix time the point was set (data sockets age by it).
        self.timestamps = dict.fromkeys(codenames, 0.0)
        self.poke_on_set = poke_on_set
        self._commands = {
            "raw": self._raw, "json": self._json, "raw_wn": self._raw_wn,
            "json_wn": self._json_wn, "codenames_raw": self._codenames_raw,
            "codenames_json": self._codenames_json, "name": self._name,
        }
        # Replies to known requests, valid from _cache_since until just before
        # _cache_until (the next moment a fresh point turns old) and until the
        # next set_point. Only known requests are kept, so it stays small.
        self._cache = {}
        self._cache_since = self._cache_until = 0.0
        # Without timeouts no reply depends on the time: cached ones never expire.
        self._timeless = all(timeout is None for timeout in timeouts)

    # -- points --------------------------------------------------------

    def set_point(self, codename, point, timestamp=None):
        """Make *point* ``(x, y)`` the current point of *codename*.

        *timestamp* (unix time, default now) is when it was measured; a data
        socket ages the point by it. Raises
        :class:`~flubber.sockets.UnknownCodenameError` for a codename the
        socket does not serve and :class:`~flubber.sockets.BadPointError`
        for a point it cannot serve. Points change only through here (the
        replies are cached until the next call).
        """
        if codename not in self.points:
            raise UnknownCodenameError(
                "codename %r is not served by socket %r; its codenames are %r"
                % (codename, self.name, self.codenames))
        self.points[codename] = normalize_point(point, codename, self.is_date)
        now = self.clock()
        self.timestamps[codename] = now if timestamp is None else timestamp
        self._cache.clear()
        if self.poke_on_set:
            self.activity.poke(now)

    def is_old(self, codename, now):
        """Return whether *codename*'s point is older than its timeout at *now*."""
        timeout = self.timeouts[codename]
        if timeout is None:
            return False
        born = self.points[codename][0] if self.is_date else self.timestamps[codename]
        return now - born > timeout

    def _fresh_until(self, now):
        """Return when the next point that is fresh at *now* turns old (inf: never)."""
        until = float("inf")
        for codename, timeout in self.timeouts.items():
            if timeout is not None and not self.is_old(codename, now):
                born = self.points[codename][0] if self.is_date else self.timestamps[codename]
                until = min(until, born + timeout)
        return until

    # -- replies -------------------------------------------------------

    def reply(self, request):
        """Return the reply bytes for the request bytes *request*.

        Never raises for any request: unknown, empty, non-ASCII and
        oversized requests get :data:`UNKNOWN_COMMAND`, the protocol's one
        error reply. Replies to known requests are cached until a point
        changes or turns old, so polling the same socket from many clients
        costs one dict look-up per request.
        """
        cached = self._cache.get(request)
        if cached is not None and self._timeless:
            return cached
        now = self.clock()
        if cached is not None and self._cache_since <= now < self._cache_until:
            return cached
        command = self._decode(request)
        cacheable = False
        if command is None:
            text = UNKNOWN_COMMAND
        elif "#" in command:
            text = self._single(command, now)
            cacheable = text != UNKNOWN_COMMAND
        elif command == "status":
            text = self.status_text()
        else:
            handler = self._commands.get(command)
            cacheable = handler is not None
            text = handler(now) if cacheable else UNKNOWN_COMMAND
        data = encode_reply(text)
        if len(data) > MAX_DATAGRAM:
            data = encode_reply(
                "%s#the reply is %d bytes, more than one UDP datagram holds (%d); ask for "
                "single codenames with NAME#raw" % (PUSH_ERROR, len(data), MAX_DATAGRAM))
        if cacheable:
            if not self._cache or not self._cache_since <= now < self._cache_until:
                self._cache.clear()
                self._cache_since, self._cache_until = now, self._fresh_until(now)
            self._cache[request] = data
        return data

    def _single(self, command, now):
        codename, _, form = command.partition("#")
        if codename not in self.points or "#" in form:
            return UNKNOWN_COMMAND
        if form == "raw":
            if self.is_old(codename, now):
                return OLD_DATA
            return "%s,%s" % self.points[codename]
        if form == "json":
            if self.is_old(codename, now):
                return json.dumps(OLD_DATA)
            return json.dumps(self.points[codename])
        return UNKNOWN_COMMAND

    def _current(self, now):
        """Yield ``(codename, point or None when old)`` in codename order."""
        points = self.points
        for codename in self.codenames:
            yield codename, (None if self.is_old(codename, now) else points[codename])

    def _raw(self, now):
        return ";".join(OLD_DATA if point is None else "%s,%s" % point
                        for _, point in self._current(now))

    def _json(self, now):
        return json.dumps([OLD_DATA if point is None else point
                           for _, point in self._current(now)])

    def _raw_wn(self, now):
        return ";".join("%s:%s" % (name, OLD_DATA) if point is None else "%s:%s,%s" % (name, *point)
                        for name, point in self._current(now))

    def _json_wn(self, now):
        return json.dumps({name: OLD_DATA if point is None else point
                           for name, point in self._current(now)})

    def _codenames_raw(self, now):
        return ",".join(self.codenames)

    def _codenames_json(self, now):
        return json.dumps(self.codenames)

    def _name(self, now):
        return self.name


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
