"""Endpoint: what a dripline request is addressed to (no I/O).

:class:`Endpoint` holds what keys and stores share: the name, lockout, the
dispatch of a request to ``on_get``/``on_set``/``on_cmd``/``on_config``/
``on_send`` with the routing-key specifier, and the whitelists of what a
request may reach. It never touches a socket: a transport hands it a
:class:`~flubber.kvstore.Request` and sends back the :class:`~flubber.kvstore.Reply`.
"""
import inspect
import logging
import re
import uuid

from flubber.kvstore import _dripline
from flubber.kvstore._dripline import OP_CMD, OP_CONFIG, OP_GET, OP_RUN, OP_SEND, OP_SET, Reply
from flubber.kvstore._exceptions import (
    AccessDenied, AMQPRoutingKeyError, ConfigError, DriplineError, InvalidValue, KVStoreError, MethodNotSupported, NoActionWarning,
    PayloadError, UnhandledError,
)
from flubber.kvstore.calibration import make_calibration

logger = logging.getLogger(__name__)

#: What an endpoint name may look like: it becomes a word of an AMQP routing
#: key, so no dots, spaces, ``*`` or ``#``.
NAME_PATTERN = re.compile(r"\A[A-Za-z0-9_][A-Za-z0-9_\-]*\Z")


def check_name(name, what="endpoint"):
    """Return *name* if it can be an endpoint name, else raise :class:`ConfigError`."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ConfigError(
            "%s name %r is not usable: use letters, digits, '_' and '-' only (no dots, spaces, '*' or '#'), "
            "e.g. 'setpoint_1'" % (what, name)
        )
    return name


def to_bool(value, what):
    """Return *value* as a bool; accept bools, 0/1 and on/off/true/false/yes/no strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise InvalidValue("%s must be true or false, got %r" % (what, value))


def to_seconds(value, what):
    """Return *value* as a float >= 0 (seconds); raise :class:`InvalidValue` otherwise."""
    if isinstance(value, bool):
        raise InvalidValue("%s must be a number of seconds >= 0, got %r" % (what, value))
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidValue("%s must be a number of seconds >= 0, got %r" % (what, value)) from None
    if not number >= 0 or number == float("inf"):
        raise InvalidValue("%s must be a finite number >= 0, got %r" % (what, value))
    return number


def new_lockout_key():
    """Return a fresh lockout key (a random UUID as 32 hex digits)."""
    return uuid.uuid4().hex


def resolve_target(table, target):
    """Return ``(endpoint, specifier)`` for *target* in *table* (address -> endpoint).

    The longest known address that is *target* or a dot-separated prefix of
    it wins; what follows it (after the dot) is the specifier. Raises
    :class:`AMQPRoutingKeyError` (102) when no prefix is known.
    """
    name = target
    while True:
        endpoint = table.get(name)
        if endpoint is not None:
            return endpoint, target[len(name) + 1:]
        cut = name.rfind(".")
        if cut <= 0:
            known = sorted(address for address in table if "." not in address)
            shown = ", ".join(known[:20]) + (", ... (%d in all)" % len(known) if len(known) > 20 else "")
            raise AMQPRoutingKeyError("no endpoint named %r here; known: %s" % (target.split(".")[0], shown or "none"))
        name = name[:cut]


_SIGNATURES = {}


def _check_arguments(method, name, args, kwargs):
    """Raise :class:`PayloadError` unless *method* accepts *args* and *kwargs*."""
    func = getattr(method, "__func__", method)
    signature = _SIGNATURES.get(func)
    if signature is None:
        signature = _SIGNATURES[func] = inspect.signature(method)
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise PayloadError(
            "cmd %s%s does not take these arguments (%s); values are its positional arguments, other payload "
            "entries its keyword arguments" % (name, signature, exc)
        ) from None


class Endpoint:
    """Base of keys and stores: a named target of dripline requests.

    :param name: unique name on the node; part of routing keys, so letters,
        digits, ``_`` and ``-`` only.
    :param calibration: format string (``"2*{}"``) or dict applied to raw
        values (see :mod:`flubber.kvstore.calibration`), or None.
    :param get_on_set: reply to a set with the value read back by a get.

    Subclasses extend the whitelists :attr:`CMD_METHODS`,
    :attr:`GET_ATTRIBUTES` and :attr:`SET_ATTRIBUTES`; a request can reach
    nothing else.
    """

    #: Methods a cmd request may call (``target.METHOD``); everything else is refused (306).
    CMD_METHODS = frozenset(("lock", "unlock", "ping", "set_condition"))
    #: Attributes a get request may read with a specifier (``target.ATTRIBUTE``).
    GET_ATTRIBUTES = frozenset(("name", "is_locked", "calibration", "get_on_set"))
    #: Attributes a set request may write with a specifier.
    SET_ATTRIBUTES = frozenset(("calibration", "get_on_set"))

    def __init__(self, name, calibration=None, get_on_set=False):
        #: The endpoint's name (first word of its routing keys).
        self.name = check_name(name)
        #: The provider (store) this endpoint belongs to, or None.
        self.provider = None
        #: The node serving this endpoint, or None.
        self.service = None
        self._lockout_key = None
        self._calibration = None
        self._get_on_set = False
        try:
            self.calibration = calibration
            self.get_on_set = get_on_set
        except DriplineError as exc:
            raise ConfigError("%s %r: %s" % (type(self).__name__, name, exc)) from None

    # -- attributes -----------------------------------------------------------------
    @property
    def calibration(self):
        """The calibration as given (format string or dict), or None."""
        return self._calibration.spec if self._calibration is not None else None

    @calibration.setter
    def calibration(self, value):
        self._calibration = make_calibration(value)

    @property
    def get_on_set(self):
        """Whether a set replies with the value read back (bool)."""
        return self._get_on_set

    @get_on_set.setter
    def get_on_set(self, value):
        self._get_on_set = to_bool(value, "get_on_set")

    @property
    def schedule_status(self):
        """Whether scheduled reads run (an endpoint without a schedule: False)."""
        return False

    @schedule_status.setter
    def schedule_status(self, value):
        raise InvalidValue("%s (%s) has no schedule" % (self.address, type(self).__name__))

    @property
    def logging_status(self):
        """Old name of :attr:`schedule_status`."""
        return self.schedule_status

    @logging_status.setter
    def logging_status(self, value):
        self.schedule_status = value

    @property
    def address(self):
        """The hierarchical address ``node.store.key`` (just the name when not on a node)."""
        parts = [self.name]
        if self.provider is not None and self.provider is not self:
            parts.insert(0, self.provider.name)
        if self.service is not None and self.service.name:
            parts.insert(0, self.service.name)
        return ".".join(parts)

    # -- lockout ----------------------------------------------------------------------
    @property
    def is_locked(self):
        """True while a lockout key is set."""
        return self._lockout_key is not None

    @property
    def lockout_key(self):
        """The current lockout key (32 hex digits) or None. Never exposed to requests."""
        return self._lockout_key

    def lock(self, lockout_key=None, *args, **kwargs):
        """Lock this endpoint; return ``{"key": KEY}``.

        Every request but get then needs ``lockout_key: KEY``. *lockout_key*
        chooses the key (a UUID); by default a random one is made.
        """
        key = _dripline.normalize_lockout_key(lockout_key) or new_lockout_key()
        self._lockout_key = key
        logger.info("%s locked", self.address)
        return {"key": key}

    def unlock(self, *args, force=False, **kwargs):
        """Remove the lock. A request needs the key, or ``force=True``.

        Unlocking an endpoint that is not locked answers with retcode 1 (no action).
        """
        if self._lockout_key is None:
            raise NoActionWarning("%s was not locked" % self.address)
        self._lockout_key = None
        logger.info("%s unlocked%s", self.address, " (forced)" if force else "")
        return None

    def _check_lockout(self, request, method_name):
        """Raise unless *request* may act on this endpoint (see :meth:`lock`)."""
        given = _dripline.normalize_lockout_key(request.lockout_key)
        if self._lockout_key is None or request.msgop == OP_GET:
            return
        if given is not None and given == self._lockout_key:
            return
        if request.msgop == OP_CMD and method_name == "unlock" and request.payload.get("force") is True:
            return
        if given is None:
            raise AccessDenied(
                "%s is locked; send the lockout_key that lock returned (or cmd %s.unlock with force=true)"
                % (self.address, self.address)
            )
        raise AccessDenied("%s is locked with another lockout_key" % self.address)

    # -- the request handlers dripline users override ----------------------------------
    def on_get(self):
        """Return the endpoint's value; endpoints without one refuse (306)."""
        raise MethodNotSupported("%s (%s) has no value to get" % (self.address, type(self).__name__))

    def on_set(self, *args, **kwargs):
        """Set the endpoint's value; endpoints without one refuse (306)."""
        raise MethodNotSupported("%s (%s) has no value to set" % (self.address, type(self).__name__))

    def on_send(self, *commands):
        """Handle a send request (raw commands); endpoints without a device refuse (306)."""
        raise MethodNotSupported("%s (%s) does not take send requests" % (self.address, type(self).__name__))

    def on_cmd(self, *args, **kwargs):
        """Call the method named by ``routing_key_specifier`` with *args* and *kwargs*.

        Only methods in :attr:`CMD_METHODS` can be called; anything else,
        private names included, is refused with retcode 306 and never run.
        WARNING: if you override this, keep that check.
        """
        method_name = kwargs.pop("routing_key_specifier", None)
        if not method_name:
            raise MethodNotSupported(
                "cmd needs a method: address it as %s.METHOD, one of %s"
                % (self.address, ", ".join(sorted(self.CMD_METHODS)))
            )
        method_name = method_name.replace("-", "_")
        if method_name not in self.CMD_METHODS:
            raise MethodNotSupported(
                "%s has no cmd method %r; available: %s" % (self.address, method_name, ", ".join(sorted(self.CMD_METHODS)))
            )
        method = getattr(self, method_name)
        _check_arguments(method, method_name, args, kwargs)
        return method(*args, **kwargs)

    def on_config(self, attribute, value=None):
        """Read (*value* None) or write one exposed attribute; return its value.

        WARNING: if you override this, keep the whitelist checks.
        """
        if value is None:
            return self._get_attribute(attribute)
        self._set_attribute(attribute, value)
        return self._get_attribute(attribute)

    def ping(self, *args, **kwargs):
        """Do nothing and answer with an empty success (is the endpoint alive?)."""
        return None

    def set_condition(self, *args, **kwargs):
        """React to a named condition (a hook for subclasses); does nothing here."""
        logger.debug("%s: set_condition%r ignored", self.address, args)
        return None

    # -- dispatch -------------------------------------------------------------------------
    def _get_attribute(self, attribute):
        name = str(attribute).replace("-", "_")
        if name not in self.GET_ATTRIBUTES:
            raise InvalidValue(
                "%s (%s) has no readable attribute %r; readable: %s"
                % (self.address, type(self).__name__, attribute, ", ".join(sorted(self.GET_ATTRIBUTES)))
            )
        return getattr(self, name)

    def _set_attribute(self, attribute, value):
        name = str(attribute).replace("-", "_")
        if name not in self.SET_ATTRIBUTES:
            raise InvalidValue(
                "%s (%s) has no writable attribute %r; writable: %s"
                % (self.address, type(self).__name__, attribute, ", ".join(sorted(self.SET_ATTRIBUTES)))
            )
        setattr(self, name, value)
        logger.info("%s: %s set to %r", self.address, name, value)

    def _on_get(self, specifier):
        if specifier:
            return self._get_attribute(specifier)
        return self.on_get()

    def _on_set(self, specifier, values):
        if not values:
            raise PayloadError("set needs a value: payload {\"values\": [VALUE]}")
        if specifier:
            self._set_attribute(specifier, values[0])
            return self._get_attribute(specifier)
        return self.on_set(values[0])

    def _on_config(self, specifier, values):
        if specifier:
            return self.on_config(specifier, values[0] if values else None)
        if not values:
            raise PayloadError("config needs an attribute: payload {\"values\": [ATTRIBUTE, VALUE]} or target.ATTRIBUTE")
        _check_arguments(self.on_config, "config", values, {})
        return self.on_config(*values)

    def dispatch(self, request, specifier=""):
        """Run *request* (a :class:`~flubber.kvstore.Request`) on this endpoint; return the raw result.

        *specifier* is what followed the endpoint's address in the target.
        Raises :class:`~flubber.kvstore.DriplineError` subclasses for every
        refusal (lockout, unknown method or attribute, bad payload).
        """
        msgop = request.msgop
        payload = request.payload
        values = payload.get("values") or []  # absent or null: no values
        if msgop == OP_GET:
            if self._lockout_key is not None or request.lockout_key:
                self._check_lockout(request, None)
            return self._on_get(specifier)
        if msgop == OP_SET:
            self._check_lockout(request, None)
            return self._on_set(specifier, values)
        if msgop == OP_CMD:
            method_name = specifier.replace("-", "_") if specifier else None
            self._check_lockout(request, method_name)
            kwargs = {name: value for name, value in payload.items() if name != "values"}
            if method_name == "lock" and "lockout_key" not in kwargs and request.lockout_key:
                kwargs["lockout_key"] = request.lockout_key
            if specifier:
                kwargs["routing_key_specifier"] = specifier
            return self.on_cmd(*values, **kwargs)
        if msgop == OP_CONFIG:
            self._check_lockout(request, None)
            return self._on_config(specifier, values)
        if msgop == OP_SEND:
            self._check_lockout(request, None)
            return self.on_send(*values)
        if msgop == OP_RUN:
            raise MethodNotSupported("%s does not take run requests (msgop 8)" % self.address)
        raise MethodNotSupported(
            "msgop %r is not an operation; use 1 get, 0 set, 9 cmd, 6 config or 7 send" % (msgop,)
        )

    def handle(self, request, specifier=""):
        """Run *request* and return its :class:`~flubber.kvstore.Reply` (never raises for a bad request)."""
        try:
            result = self.dispatch(request, specifier)
        except (DriplineError, NoActionWarning) as exc:
            return Reply(exc.retcode, str(exc), exc.result, correlation_id=request.correlation_id,
                         sender_info=_sender_info(self))
        except KVStoreError as exc:
            return Reply(InvalidValue.retcode, str(exc), correlation_id=request.correlation_id,
                         sender_info=_sender_info(self))
        except Exception as exc:  # an endpoint bug must become a reply, not kill the transport
            logger.exception("%s: unhandled error for %r", self.address, request)
            return Reply(UnhandledError.retcode, "%s: %s" % (type(exc).__name__, exc),
                         correlation_id=request.correlation_id, sender_info=_sender_info(self))
        return Reply(0, "" if result is not None else "operation completed silently", result,
                     correlation_id=request.correlation_id, sender_info=_sender_info(self))

    def handle_request(self, channel, method, properties, request):
        """Handle one AMQP-style delivery; return the :class:`~flubber.kvstore.Reply`.

        The dripline signature: *method* has ``routing_key`` (this endpoint's
        name or address, optionally ``.SPECIFIER``), *properties* has
        ``correlation_id`` (may be None), *request* is the JSON body (bytes)
        or a :class:`~flubber.kvstore.Request`. *channel* is ignored: the
        transport sends the reply.
        """
        routing_key = getattr(method, "routing_key", None) or ""
        try:
            if isinstance(request, _dripline.Request):
                message = request
            else:
                message = _dripline.decode_request(request, target=routing_key or self.name)
        except DriplineError as exc:
            return Reply(exc.retcode, str(exc), correlation_id=getattr(properties, "correlation_id", None))
        if message.correlation_id is None:
            message.correlation_id = getattr(properties, "correlation_id", None)
        specifier = ""
        for prefix in (self.address, self.name):
            if routing_key == prefix:
                break
            if routing_key.startswith(prefix + "."):
                specifier = routing_key[len(prefix) + 1:]
                break
        return self.handle(message, specifier)

    def __repr__(self):
        return "<%s %s%s>" % (type(self).__name__, self.address, " locked" if self.is_locked else "")


def _sender_info(endpoint):
    service = endpoint.service
    return service.sender_info if service is not None else None


__all__ = ["Endpoint", "check_name", "new_lockout_key", "resolve_target"]
