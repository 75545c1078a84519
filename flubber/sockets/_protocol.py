"""The PyExpLabSys UDP protocol: requests in, replies out, no I/O.

Everything that decides which bytes answer which request lives in plain
classes a test can drive without a socket: this module holds what both
protocols share (the wire constants, the checks of codenames, timeouts and
points, activity and status), :mod:`flubber.sockets._pull_protocol` the
date and data pull sockets' :class:`PullProtocol`,
:mod:`flubber.sockets._push_protocol` the push socket's
:class:`PushProtocol`. The transports in :mod:`flubber.sockets.pull` and
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
