"""Calibrations: turn a key's raw value into a calibrated one, safely (no I/O).

A calibration is either

* a **format string** such as ``"2*{}"`` or ``"times3({})"``: the raw value is
  put where ``{}`` stands (``str.format``) and the text is evaluated as an
  arithmetic expression by `simpleeval <https://pypi.org/project/simpleeval/>`_,
  never by :func:`eval`; or
* a **dict** of raw -> calibrated values (``{"CLOSE": "on", "OPEN": "off"}``).

An expression may use numbers, strings, ``+ - * / // % **``, comparisons,
``and``/``or``/``not``, ``x if c else y``, the names in :data:`NAMES` and calls
of the functions in :data:`FUNCTIONS` (which include :func:`times2` and
:func:`times3`). Anything else -- attribute access, subscripts, names such as
``__import__`` or ``open``, lambdas, comprehensions -- is refused before
anything is evaluated, with :class:`~flubber.kvstore.CalibrationError`
(retcode 304). The format string itself may only contain ``{}`` or ``{0}``
fields with an optional format spec (``{:.3f}``): ``{0.__class__}`` is refused.
"""
import ast
import functools
import math
import re
import string

import simpleeval

from flubber.kvstore._exceptions import CalibrationError


def times2(value):
    """Return ``2 * value`` as a float (a calibration helper from dripline's KV store)."""
    return 2.0 * float(value)


def times3(value):
    """Return ``3 * value`` as a float (a calibration helper from dripline's KV store)."""
    return 3.0 * float(value)


#: Functions a calibration expression may call, by name.
FUNCTIONS = {
    "times2": times2,
    "times3": times3,
    "abs": abs,
    "min": min,
    "max": max,
    "round": round,
    "int": int,
    "float": float,
    "bool": bool,
    "str": str,
    "sqrt": math.sqrt,
    "exp": math.exp,
    "log": math.log,
    "log10": math.log10,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "asin": math.asin,
    "acos": math.acos,
    "atan": math.atan,
    "atan2": math.atan2,
    "sinh": math.sinh,
    "cosh": math.cosh,
    "tanh": math.tanh,
    "floor": math.floor,
    "ceil": math.ceil,
    "hypot": math.hypot,
    "radians": math.radians,
    "degrees": math.degrees,
}

#: Names a calibration expression may use (besides the functions).
NAMES = {"pi": math.pi, "e": math.e, "inf": math.inf, "True": True, "False": False, "None": None}

#: Longest expression (after formatting) that is evaluated.
MAX_EXPRESSION_LENGTH = 10000

#: Largest integer a calibration may produce (JSON peers cannot hold more).
MAX_INTEGER = 2 ** 64

_ALLOWED_NODES = (
    ast.Expression, ast.Expr, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Call,
    ast.Name, ast.Load, ast.Constant, ast.keyword,
    ast.operator, ast.unaryop, ast.boolop, ast.cmpop,
)

#: Largest integer (in bits) an intermediate result may have; keeps ``9**9**9``-style
#: inputs from burning CPU.
MAX_INTEGER_BITS = 4096


def _bounded(value):
    if isinstance(value, int) and value.bit_length() > MAX_INTEGER_BITS:
        raise CalibrationError("calibration produced an integer of more than %d bits" % MAX_INTEGER_BITS)
    return value


def _power(base, exponent):
    if isinstance(base, int) and isinstance(exponent, int) and abs(base) > 1 and exponent > 0:
        if exponent * abs(base).bit_length() > MAX_INTEGER_BITS + 64:
            raise CalibrationError("calibration refuses %d ** %d (the result would be too large)" % (base, exponent))
    return _bounded(simpleeval.safe_power(base, exponent))


def _multiply(left, right):
    return _bounded(simpleeval.safe_mult(left, right))


def _lshift(left, right):
    return _bounded(simpleeval.safe_lshift(left, right))


_OPERATORS = dict(simpleeval.DEFAULT_OPERATORS)
_OPERATORS.update({ast.Pow: _power, ast.Mult: _multiply, ast.LShift: _lshift})
_EVALUATOR = simpleeval.SimpleEval(operators=_OPERATORS, functions=FUNCTIONS, names=NAMES)


def _shown(text, limit=80):
    """*text* for an error message: repr, cut to *limit* characters."""
    text = repr(text)
    return text if len(text) <= limit else text[:limit - 4] + "...'"


def _check_tree(tree, text):
    """Refuse every construct but arithmetic, known names and calls of known functions."""
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise CalibrationError(
                "calibration %s uses %s, which is not allowed; use arithmetic, %s and the functions %s"
                % (_shown(text), type(node).__name__, ", ".join(sorted(NAMES)), ", ".join(sorted(FUNCTIONS)))
            )
        if isinstance(node, ast.Name) and node.id not in FUNCTIONS and node.id not in NAMES:
            raise CalibrationError(
                "calibration %s uses the name %r, which is not allowed; known names: %s and the functions %s"
                % (_shown(text), node.id, ", ".join(sorted(NAMES)), ", ".join(sorted(FUNCTIONS)))
            )
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS):
            raise CalibrationError(
                "calibration %s calls something that is not an allowed function; allowed: %s"
                % (_shown(text), ", ".join(sorted(FUNCTIONS)))
            )


#: Expressions up to this length are parsed once and cached (most are short).
CACHED_EXPRESSION_LENGTH = 200


@functools.lru_cache(maxsize=2048)
def _parse_cached(expression):
    return _parse_uncached(expression)


def _parse(expression):
    """Parse and check *expression*; short ones are cached for the next evaluation."""
    if len(expression) <= CACHED_EXPRESSION_LENGTH:
        return _parse_cached(expression)
    return _parse_uncached(expression)


def _parse_uncached(expression):
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise CalibrationError("calibration expression longer than %d characters" % MAX_EXPRESSION_LENGTH)
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise CalibrationError("calibration %s is not a valid expression: %s" % (_shown(expression), exc)) from None
    _check_tree(tree, expression)
    return tree.body


#: Widest field a calibration's format spec may ask for (``{:>20}``): formatting
#: allocates the width before anything else is checked, and ``{:>1000000000}``
#: took a node from 29 MB to 1 GB of memory.
MAX_FORMAT_WIDTH = 256

#: Largest precision a calibration's format spec may ask for (``{:.3f}``);
#: ``{:.1000000000f}`` needed 2 GB. A double has 17 significant digits.
MAX_FORMAT_PRECISION = 64

#: The standard format spec: [[fill]align][sign][z][#][0][width][grouping][.precision][type].
_FORMAT_SPEC = re.compile(
    r"\A(?:.?[<>=^])?[-+ ]?z?#?0?(?P<width>\d*)[,_]?(?:\.(?P<precision>\d+))?[a-zA-Z%]?\Z", re.S)


def _digits(text):
    return text if len(text) <= 12 else text[:9] + "..."


def _check_spec(template, spec):
    """Refuse a format spec that is not standard or asks for too wide a field or too many digits."""
    match = _FORMAT_SPEC.match(spec)
    if match is None:
        raise CalibrationError("calibration %s: the format spec %r is not a standard one such as .3f or >8"
                               % (_shown(template), spec))
    width, precision = match.group("width"), match.group("precision")
    if width and (len(width) > 6 or int(width) > MAX_FORMAT_WIDTH):
        raise CalibrationError("calibration %s: the field width %s is larger than %d; use a smaller one"
                               % (_shown(template), _digits(width), MAX_FORMAT_WIDTH))
    if precision and (len(precision) > 6 or int(precision) > MAX_FORMAT_PRECISION):
        raise CalibrationError("calibration %s: the precision .%s is larger than %d; use a smaller one"
                               % (_shown(template), _digits(precision), MAX_FORMAT_PRECISION))


def _check_template(template):
    """Refuse format fields other than ``{}``/``{0}`` with a plain, bounded format spec.

    Checked before anything is formatted: width and precision are limited
    by :data:`MAX_FORMAT_WIDTH` and :data:`MAX_FORMAT_PRECISION`.
    """
    if len(template) > MAX_EXPRESSION_LENGTH:
        raise CalibrationError("calibration longer than %d characters" % MAX_EXPRESSION_LENGTH)
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise CalibrationError("calibration %s is not a valid format string: %s" % (_shown(template), exc)) from None
    for _literal, field, spec, conversion in fields:
        if field is None:
            continue
        if field not in ("", "0") or conversion is not None or (spec and ("{" in spec or "}" in spec)):
            raise CalibrationError(
                "calibration %s: only {} (or {0}, optionally with a format spec such as {:.3f}) may stand "
                "for the raw value" % (_shown(template),)
            )
        if spec:
            _check_spec(template, spec)


def _check_result(value, text):
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CalibrationError("calibration %s produced %r; JSON has no such number, so it is refused"
                                   % (_shown(text), value))
        return value
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        if abs(value) > MAX_INTEGER:
            raise CalibrationError("calibration %s produced an integer too large to send" % (_shown(text),))
        return value
    raise CalibrationError("calibration %s produced a %s, not a number or string" % (_shown(text), type(value).__name__))


class Calibration:
    """A checked calibration; calling it calibrates one raw value.

    :param spec: a format string (``"2*{}"``) or a dict (raw -> calibrated).
    :raises CalibrationError: the spec is neither, or the expression uses
        something not allowed (checked here, before any value arrives).
    """

    __slots__ = ("spec", "_template", "_table", "_str_table", "_last")

    def __init__(self, spec):
        #: The calibration as given (a string or a dict).
        self.spec = spec
        self._template = None
        self._table = self._str_table = None
        self._last = (None, None, None)  # (type, raw, calibrated) of the last number evaluated
        if isinstance(spec, str):
            _check_template(spec)
            try:
                sample = spec.format(0)
            except (ValueError, IndexError, KeyError) as exc:
                raise CalibrationError("calibration %r is not a valid format string: %s" % (spec, exc)) from None
            _parse(sample)
            self._template = spec
        elif isinstance(spec, dict):
            self._table = dict(spec)
            self._str_table = {str(raw): cal for raw, cal in spec.items()}
        else:
            raise CalibrationError(
                "calibration must be a format string such as \"2*{}\" or a mapping of raw to calibrated "
                "values, got %s" % type(spec).__name__
            )

    def __call__(self, raw):
        """Return the calibrated value of *raw*; raise :class:`CalibrationError` if impossible."""
        if self._template is not None:
            last_type, last_raw, last_value = self._last
            if raw.__class__ is last_type and raw == last_raw:
                return last_value  # a key is read far more often than set: evaluate each value once
            value = self._evaluate(raw)
            if raw.__class__ is int or raw.__class__ is float and raw:  # not -0.0 vs 0.0
                self._last = (raw.__class__, raw, value)
            return value
        return self._look_up(raw)

    def _evaluate(self, raw):
        if isinstance(raw, str):
            raw = raw.strip()
        try:
            text = self._template.format(raw)
        except (ValueError, TypeError) as exc:
            raise CalibrationError("calibration %s cannot format %s: %s" % (_shown(self.spec), _shown(raw), exc)) \
                from None
        node = _parse(text)
        try:
            value = _EVALUATOR.eval(text, previously_parsed=node)
        except CalibrationError:
            raise
        except Exception as exc:  # simpleeval and arithmetic raise many kinds; all mean "refused"
            raise CalibrationError("calibration %s of %s failed: %s" % (_shown(self.spec), _shown(raw), exc)) \
                from None
        return _check_result(value, text)

    def _look_up(self, raw):
        try:
            return self._table[raw]
        except (KeyError, TypeError):
            pass
        try:
            return self._str_table[str(raw)]
        except KeyError:
            raise CalibrationError(
                "raw value %r is not in the calibration table; known raw values: %s"
                % (raw, ", ".join(repr(key) for key in self._table))
            ) from None

    def __repr__(self):
        return "Calibration(%r)" % (self.spec,)


def make_calibration(spec):
    """Return a :class:`Calibration` for *spec*, or None when *spec* is None or empty."""
    if spec is None or spec == "" or isinstance(spec, Calibration) and spec.spec is None:
        return None
    if isinstance(spec, Calibration):
        return spec
    return Calibration(spec)


def calibrate(spec, raw):
    """Calibrate one *raw* value with *spec* (a format string or dict); see :class:`Calibration`."""
    return Calibration(spec)(raw)
