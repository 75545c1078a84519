"""Parsers of the options of an INI ``[device]`` section (strings in, values out).

Each raises :class:`ValueError` with a message that names what is expected;
:meth:`~flubber.dump.devices.Device.from_options` adds the option's name.
"""
from flubber._config import check_port, positive_number, positive_seconds
from flubber.dump._protocol import compile_prompt


def parse_positive_int(text):
    """Return the positive whole number written as *text*."""
    return positive_number(text, whole=True, parse_text=True)


def parse_port(text):
    """Return the TCP port (1-65535) written as *text*."""
    return check_port(text, allow_zero=False, parse_text=True)


def parse_seconds(text):
    """Return the positive number of seconds written as *text*."""
    return positive_seconds(text, parse_text=True)


_BOOLEANS = {"1": True, "yes": True, "true": True, "on": True,
             "0": False, "no": False, "false": False, "off": False}


def parse_bool(text):
    """Return the boolean of an INI value (yes/no, true/false, on/off, 1/0)."""
    if isinstance(text, bool):
        return text
    try:
        return _BOOLEANS[str(text).strip().lower()]
    except KeyError:
        raise ValueError("must be yes or no (or true/false, on/off, 1/0), got %r" % (text,)) from None


_ESCAPES = {"\\r": "\r", "\\n": "\n", "\\t": "\t", "\\\\": "\\"}


def parse_line_ending(text):
    r"""Return the line ending written as ``\r\n``, ``\n`` or ``\r`` in an INI file."""
    if not isinstance(text, str):
        return text
    out, i = [], 0
    while i < len(text):
        pair = text[i:i + 2]
        if pair in _ESCAPES:
            out.append(_ESCAPES[pair])
            i += 2
        else:
            out.append(text[i])
            i += 1
    value = "".join(out)
    if not value:
        raise ValueError("must not be empty; write \\n, \\r\\n or \\r")
    return value


def parse_prompt(text):
    """Return the prompt pattern *text* once it compiles (see :func:`~flubber.dump._protocol.compile_prompt`)."""
    compile_prompt(text)  # raises ValueError naming the problem
    return text
