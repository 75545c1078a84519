"""What a key accepts: a declared type, bounds and choices, and finite numbers always (no I/O).

A key of a node file may declare what it takes::

    - name: setpoint
      module: kv_store_key
      type: float          # float, int, number, str or bool
      min: -50             # numbers only
      max: 400
    - name: mode
      module: kv_store_key
      type: str
      choices: [auto, manual, off]

Every set, whatever the transport (TCP, AMQP, the push socket, an
instrument reading), goes through :meth:`ValueRule.check` before the key
changes; a refused value raises :class:`~flubber.kvstore.InvalidValue`
(retcode 304) and the old value stays. Whatever a key declares, a number
that is not finite (``NaN``, ``Infinity``, ``1e999999``) is refused
everywhere: JSON has no such numbers and strict parsers refuse replies that
carry them.
"""
import math

from flubber.kvstore._exceptions import ConfigError, InvalidValue

__all__ = ["ValueRule", "VALUE_TYPES", "check_finite"]

#: The names a key's ``type`` may take.
VALUE_TYPES = ("float", "int", "number", "str", "bool")

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")

#: How deep :func:`check_finite` follows lists and dicts (request decoding already refuses deeper JSON).
MAX_DEPTH = 64


def _shown(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def check_finite(value, what="value"):
    """Return *value* unless it is, or holds (in lists and dicts), a float that is not finite.

    :raises InvalidValue: naming the offending number.
    """
    cls = value.__class__
    if cls is float:
        if value - value != 0.0:  # inf - inf and nan - nan are nan: the fast finiteness test
            raise InvalidValue("%s %r is not a finite number; NaN and infinities are refused (JSON has none)"
                               % (what, value))
        return value
    if cls is int or cls is str or cls is bool or value is None:
        return value
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, float):
            if not math.isfinite(item):
                raise InvalidValue("%s holds %r, which is not a finite number; NaN and infinities are refused"
                                   % (what, item))
        elif isinstance(item, (list, tuple, dict)):
            if depth >= MAX_DEPTH:
                raise InvalidValue("%s is nested more than %d levels deep" % (what, MAX_DEPTH))
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return value


def _to_float(value):
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return float(value.strip())
    raise ValueError


def _to_int(value):
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and len(value) <= 40:
        return int(value.strip())
    raise ValueError


def _to_number(value):
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str) and len(value) <= 40:
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            return float(text)
    raise ValueError


def _to_str(value):
    if isinstance(value, str):
        return value
    raise ValueError


def _to_bool(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError


_CONVERTERS = {"float": _to_float, "int": _to_int, "number": _to_number, "str": _to_str, "bool": _to_bool}
_HINTS = {
    "float": "a number such as 21.5",
    "int": "a whole number such as 3",
    "number": "a number such as 3 or 21.5",
    "str": "text (flubber set --string sends the value as text)",
    "bool": "true or false",
}


def _bound(name, value, what):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError("%s: %s must be a finite number, got %r" % (what, name, value))
    return value


class ValueRule:
    """What one key accepts.

    :param value_type: one of :data:`VALUE_TYPES`, or None (any JSON value).
    :param minimum: smallest number accepted (None: no bound).
    :param maximum: largest number accepted (None: no bound).
    :param choices: the only values accepted (a list), or None.
    :param what: the key's name, for messages.
    :raises ConfigError: the declaration itself is wrong (unknown type, a
        bound that is no number, min above max, bounds on a text key).
    """

    __slots__ = ("value_type", "minimum", "maximum", "choices", "what", "_convert")

    def __init__(self, value_type=None, minimum=None, maximum=None, choices=None, what="key"):
        if value_type is not None and value_type not in _CONVERTERS:
            raise ConfigError("%s: type must be one of %s, got %r" % (what, ", ".join(VALUE_TYPES), value_type))
        #: The declared type name, or None.
        self.value_type = value_type
        #: The smallest number accepted, or None.
        self.minimum = _bound("min", minimum, what)
        #: The largest number accepted, or None.
        self.maximum = _bound("max", maximum, what)
        self.what = what
        self._convert = _CONVERTERS.get(value_type)
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ConfigError("%s: min %r is above max %r" % (what, minimum, maximum))
        if (self.minimum is not None or self.maximum is not None) and value_type in ("str", "bool"):
            raise ConfigError("%s: min and max apply to numbers, not to type %s" % (what, value_type))
        if choices is not None:
            if not isinstance(choices, (list, tuple)) or not choices:
                raise ConfigError("%s: choices must be a non-empty list such as [auto, manual], got %r"
                                  % (what, choices))
            checked = []
            for choice in choices:
                try:
                    checked.append(self._typed(choice))
                except InvalidValue as exc:
                    raise ConfigError("%s: choice %r does not fit: %s" % (what, choice, exc)) from None
            choices = checked
        #: The values accepted (a list), or None.
        self.choices = choices

    @property
    def declared(self):
        """True when the key declared anything (type, bounds or choices)."""
        return not (self.value_type is None and self.minimum is None and self.maximum is None
                    and self.choices is None)

    def _typed(self, value):
        check_finite(value, "%s: the value" % self.what)
        if self._convert is None:
            return value
        try:
            converted = self._convert(value)
        except (ValueError, TypeError, OverflowError):
            raise InvalidValue("%s takes %s; got %s" % (self.what, _HINTS[self.value_type], _shown(value))) from None
        return check_finite(converted, "%s: the value" % self.what)

    def check(self, value):
        """Return *value* as the key stores it (converted to the declared type); raise when refused.

        :raises InvalidValue: (retcode 304) the value has the wrong type, lies
            outside min/max, is not one of the choices, or is not finite.
        """
        value = self._typed(value)
        if self.minimum is not None or self.maximum is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidValue("%s takes a number%s; got %s" % (self.what, self._range(), _shown(value)))
            if (self.minimum is not None and value < self.minimum
                    or self.maximum is not None and value > self.maximum):
                raise InvalidValue("%s takes a number%s; got %s" % (self.what, self._range(), _shown(value)))
        if self.choices is not None and value not in self.choices:
            raise InvalidValue("%s takes one of %s; got %s"
                               % (self.what, ", ".join(_shown(choice) for choice in self.choices), _shown(value)))
        return value

    def _range(self):
        if self.minimum is not None and self.maximum is not None:
            return " from %r to %r" % (self.minimum, self.maximum)
        if self.minimum is not None:
            return " >= %r" % (self.minimum,)
        return " <= %r" % (self.maximum,)

    def describe(self):
        """Return the declaration as a dict (``type``, ``min``, ``max``, ``choices`` when given)."""
        described = {}
        for name, value in (("type", self.value_type), ("min", self.minimum), ("max", self.maximum),
                            ("choices", self.choices)):
            if value is not None:
                described[name] = value
        return described

    def __repr__(self):
        return "ValueRule(%r)" % (self.describe(),)
