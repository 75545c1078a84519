"""Checks every configuration reader shares: options, ports, seconds, ``module:callable`` imports.

The node file (:mod:`flubber.kvstore.config`, :mod:`flubber.nodefile`), the
dump INI file, the logger settings and the command line all check the same
kinds of values. They do it here, so a mistake reads the same everywhere: it
names the place (a :class:`Where`), what is wrong and, for a misspelt name,
the closest valid one.

Each check takes a :class:`Where` and raises ``where.error(message)``: the
exception class the caller's package documents (a
:class:`~flubber.kvstore.ConfigError`, a
:class:`~flubber.loggers.LoggerConfigurationError`, ...), or
:class:`ValueError` for the default :data:`NOWHERE`. This module knows
nothing of the lab packages.
"""
import difflib
import importlib
import math

__all__ = ["Where", "NOWHERE", "REQUIRED", "suggest", "check_options", "check_mapping", "check_port",
           "positive_number", "positive_seconds", "import_object", "not_importable_hint"]


class Where:
    """The place of a value, for messages: ``lab.yaml line 12: sockets.pull port: ...``.

    :param source: the file (or other origin) the value came from, or None.
    :param path: the entry inside it, e.g. ``providers[0] (kv)``.
    :param line: the line number in *source*, when known.
    :param error: the exception class :meth:`error` builds.
    """

    def __init__(self, source=None, path="", line=None, error=ValueError):
        #: The file or origin, or None.
        self.source = source
        #: The entry inside the source ("" for the whole of it).
        self.path = path
        #: The line number in the source, or None.
        self.line = line
        #: The exception class :meth:`error` builds.
        self.exception = error

    def child(self, part):
        """Return the place of *part* inside this one (``sockets`` -> ``sockets pull``)."""
        return Where(self.source, self.path + (" " if self.path else "") + part, self.line, self.exception)

    def at_line(self, line):
        """Return this place at *line* of its source."""
        return Where(self.source, self.path, line, self.exception)

    def __str__(self):
        parts = []
        if self.source is not None:
            parts.append(str(self.source) + ("" if self.line is None else " line %d" % self.line))
        elif self.line is not None:
            parts.append("line %d" % self.line)
        if self.path:
            parts.append(self.path)
        return ": ".join(parts)

    def __repr__(self):
        return "<Where %s>" % (self or "nowhere")

    def error(self, message):
        """Return (not raise) the exception saying *message* at this place."""
        place = str(self)
        return self.exception("%s: %s" % (place, message) if place else message)


#: The *default* of a check that refuses None.
REQUIRED = object()

#: No place: checks raise :class:`ValueError` with the bare message.
NOWHERE = Where()


def suggest(word, choices):
    """Return ``"; did you mean 'x'?"`` for the choice closest to *word*, or ``""`` when none is close."""
    close = difflib.get_close_matches(str(word), [str(choice) for choice in choices], n=1)
    return "; did you mean %r?" % close[0] if close else ""


def check_options(entry, allowed, where=NOWHERE, what=None):
    """Refuse a key of the mapping *entry* that is not in *allowed* (listed in that order)."""
    unknown = [key for key in entry if key not in allowed]
    if unknown:
        key = unknown[0]
        raise where.error("unknown option %r%s%s; options: %s"
                          % (key, " for %s" % what if what else "", suggest(key, allowed), ", ".join(allowed)))
    return entry


def check_mapping(value, allowed, where=NOWHERE):
    """Return *value* when it is a mapping with no key outside *allowed*; else raise."""
    if not isinstance(value, dict):
        raise where.error("must be a mapping with %s, got %r" % (", ".join(allowed), value))
    return check_options(value, allowed, where)


def _number(value, parse_text):
    if isinstance(value, str) and parse_text:
        try:
            return float(value.strip())
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def check_port(value, where=NOWHERE, allow_zero=True, default=REQUIRED, parse_text=False):
    """Return *value* as a TCP/UDP port number, or *default* when it is None (unless it is :data:`REQUIRED`).

    :param allow_zero: whether 0 (any free port, for a server) is allowed.
    :param parse_text: accept the port's text (``"8600"``), as an INI file or
        the command line give it.
    """
    if value is None and default is not REQUIRED:
        return default
    number = value
    if isinstance(value, str) and parse_text:
        try:
            number = int(value.strip())
        except ValueError:
            pass
    low = 0 if allow_zero else 1
    if isinstance(number, bool) or not isinstance(number, int) or not low <= number <= 65535:
        raise where.error("must be a port from %d to 65535%s, got %r"
                          % (low, " (0: any free port)" if allow_zero else "", value))
    return number


def positive_number(value, where=NOWHERE, default=REQUIRED, whole=False, unit=None, parse_text=False):
    """Return *value* as a finite number > 0 (an int when *whole*), or *default* when it is None
    (unless it is :data:`REQUIRED`).

    :param unit: what the number counts, for the message (``"seconds"``).
    :param parse_text: accept the number's text (``"2.5"``).
    """
    if value is None and default is not REQUIRED:
        return default
    number = _number(value, parse_text)
    if number is None or not 0 < number < math.inf or (whole and number != int(number)):
        raise where.error("must be a positive %s%s, got %r"
                          % ("whole number" if whole else "number", " of %s" % unit if unit else "", value))
    return int(number) if whole else float(number)


def positive_seconds(value, where=NOWHERE, default=REQUIRED, parse_text=False):
    """Return *value* as a finite number of seconds > 0 (a float), or *default* when it is None
    (unless it is :data:`REQUIRED`)."""
    return positive_number(value, where, default, unit="seconds", parse_text=parse_text)


def not_importable_hint(module_name, exc):
    """Return how to make *module_name* importable when *exc* says it (not flubber) is missing, else ``""``.

    A node file's own classes and drivers are imported like any Python
    import: a file next to the node file is not found unless its folder is
    on the path.
    """
    missing = (getattr(exc, "name", None) or "").split(".")[0]
    if not isinstance(exc, ModuleNotFoundError) or missing != module_name.split(".")[0] or missing == "flubber":
        return ""
    return ("; flubber imports it as Python does: install its package, or put the folder that holds %s on "
            "PYTHONPATH (PYTHONPATH=/path/to/folder flubber serve ...)" % missing)


def import_object(spec, where=NOWHERE, what="driver", dotted=False, hint=""):
    """Import and return the object named ``package.module:attribute`` (the attribute may be dotted).

    :param what: what the object is, for messages (``driver``, ``module``).
    :param dotted: also accept ``package.module.attribute`` (the last dot
        splits module from attribute).
    :param hint: what to add to an import error that
        :func:`not_importable_hint` has nothing to say about.
    """
    if isinstance(spec, str) and ":" in spec:
        module_name, _, attribute = spec.partition(":")
    elif isinstance(spec, str) and dotted and "." in spec:
        module_name, _, attribute = spec.rpartition(".")
    else:
        raise where.error("%s must be 'package.module:callable', got %r" % (what, spec))
    try:
        target = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise where.error("%s %r cannot be imported (%s)%s"
                          % (what, spec, exc, not_importable_hint(module_name, exc) or hint)) from None
    return target
