"""Instrument address strings, and opening the stream an address names.

The forms, one per transport of :mod:`flubber.io`::

    tcp://192.168.1.20:5025                 a LAN instrument or a serial-to-Ethernet box
    tcp://[fe80::1]:5025                    IPv6 in brackets
    serial:///dev/ttyUSB0?baudrate=9600&parity=N&stopbits=1
    pipe:///run/oven.sock                   a Unix domain socket (pipe://@name: abstract)
    sim://scpi?delay=0.002                  a simulator of flubber.instruments, in this process

Serial options (after ``?``, joined by ``&``): ``baudrate`` (default 9600),
``bytesize`` (5-8), ``parity`` (N, E, O, M, S), ``stopbits`` (1, 1.5, 2),
``rtscts``, ``xonxoff``, ``dsrdtr``, ``exclusive`` (0/1, true/false).
Simulator options: ``delay`` (reply delay in seconds).
"""
import urllib.parse

from flubber._config import suggest
from flubber.instruments._exceptions import AddressError
from flubber.io import PipeClient, SerialStream, connect_tcp, parse_tcp_address

__all__ = ["Address", "parse_address", "SCHEMES", "SIMULATORS"]

#: The address schemes, each with what follows ``://``.
SCHEMES = {
    "tcp": "HOST:PORT",
    "serial": "/dev/DEVICE?baudrate=N",
    "pipe": "/path/to/socket or @abstract-name",
    "sim": "NAME of a simulator (scpi)",
}

#: The simulators a ``sim://NAME`` address can name.
SIMULATORS = ("scpi",)

_FORMS = "tcp://HOST:PORT, serial:///dev/ttyUSB0?baudrate=9600, pipe:///path/to.sock or sim://scpi"

_BOOL_WORDS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False,
               "off": False}


def _to_bool(text):
    try:
        return _BOOL_WORDS[text.lower()]
    except KeyError:
        raise ValueError("use 0 or 1") from None


def _to_stopbits(text):
    value = float(text)
    if value not in (1, 1.5, 2):
        raise ValueError("use 1, 1.5 or 2")
    return 1.5 if value == 1.5 else int(value)


def _to_bytesize(text):
    value = int(text)
    if value not in (5, 6, 7, 8):
        raise ValueError("use 5, 6, 7 or 8")
    return value


def _to_parity(text):
    value = text.upper()[:1]
    if value not in ("N", "E", "O", "M", "S"):
        raise ValueError("use N, E, O, M or S")
    return value


def _to_baudrate(text):
    value = int(text)
    if value <= 0:
        raise ValueError("use a positive number of bits per second")
    return value


def _to_seconds(text):
    value = float(text)
    if not value >= 0:
        raise ValueError("use a number of seconds >= 0")
    return value


#: Options each scheme takes after ``?``, with the function that converts a value.
OPTIONS = {
    "tcp": {},
    "pipe": {},
    "serial": {"baudrate": _to_baudrate, "bytesize": _to_bytesize, "parity": _to_parity,
               "stopbits": _to_stopbits, "rtscts": _to_bool, "xonxoff": _to_bool, "dsrdtr": _to_bool,
               "exclusive": _to_bool},
    "sim": {"delay": _to_seconds},
}


class Address:
    """A parsed instrument address: :attr:`scheme`, :attr:`target` and :attr:`options`.

    Made by :func:`parse_address`; ``str(address)`` is the text it was made from.
    """

    def __init__(self, text, scheme, target, options):
        #: The address as given.
        self.text = text
        #: ``"tcp"``, ``"serial"``, ``"pipe"`` or ``"sim"``.
        self.scheme = scheme
        #: ``(host, port)`` for tcp, the device or socket path for serial and pipe, the simulator name for sim.
        self.target = target
        #: The options after ``?``, converted (``{"baudrate": 9600}``).
        self.options = options

    def open(self, timeout=None):
        """Open and return a connected :mod:`flubber.io` stream to this address.

        ``sim://`` addresses are opened by :class:`~flubber.instruments.LineInstrument`,
        which runs the simulator. A serial port's input buffer is emptied
        after opening: bytes left from before are no reply to anything sent now.

        :raises flubber.io.StreamError: the transport's error when it cannot be opened.
        """
        if self.scheme == "tcp":
            return connect_tcp(self.target, timeout=timeout)
        if self.scheme == "pipe":
            return PipeClient().connect(self.target, timeout=timeout)
        if self.scheme == "serial":
            options = dict(self.options)
            stream = SerialStream(self.target, baudrate=options.pop("baudrate", 9600), **options)
            stream.serial.reset_input_buffer()
            return stream
        raise AddressError("%s addresses are opened by the LineInstrument that runs the simulator" % self.text)

    def __str__(self):
        return self.text

    def __repr__(self):
        return "<Address %s>" % self.text

    def __eq__(self, other):
        if not isinstance(other, Address):
            return NotImplemented
        return (self.scheme, self.target, self.options) == (other.scheme, other.target, other.options)

    def __hash__(self):
        return hash((self.scheme, str(self.target), tuple(sorted(self.options.items()))))


def parse_address(text):
    """Return the :class:`Address` of the address string *text* (an :class:`Address` is returned as is).

    :raises AddressError: for an unknown scheme, a missing host, port or
        path, or an unknown or invalid option; the message shows the
        accepted forms.
    """
    if isinstance(text, Address):
        return text
    if not isinstance(text, str) or "://" not in text:
        raise AddressError("instrument address %r has no scheme; use %s" % (text, _FORMS))
    scheme, _, rest = text.strip().partition("://")
    scheme = scheme.lower()
    if scheme not in SCHEMES:
        raise AddressError("instrument address %r: unknown scheme %r%s; use %s"
                           % (text, scheme, suggest(scheme, SCHEMES), _FORMS))
    rest, _, query = rest.partition("?")
    options = _parse_options(text, scheme, query)
    if scheme == "tcp":
        try:
            host, port = parse_tcp_address(rest)
        except ValueError:
            raise AddressError("instrument address %r: write tcp://HOST:PORT, e.g. tcp://192.168.1.20:5025"
                               % (text,)) from None
        if ":" not in rest or not host or not 0 < port < 65536:
            raise AddressError("instrument address %r: write tcp://HOST:PORT with a port from 1 to 65535, "
                               "e.g. tcp://192.168.1.20:5025" % (text,))
        target = (host, port)
    elif scheme == "sim":
        if rest not in SIMULATORS:
            raise AddressError("instrument address %r: unknown simulator %r%s; simulators: %s"
                               % (text, rest, suggest(rest, SIMULATORS), ", ".join(SIMULATORS)))
        target = rest
    else:
        if not rest:
            raise AddressError("instrument address %r has no path; e.g. %s://%s" % (text, scheme, SCHEMES[scheme]))
        target = rest
    return Address(text, scheme, target, options)


def _parse_options(text, scheme, query):
    allowed = OPTIONS[scheme]
    if not query:
        return {}
    try:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise AddressError("instrument address %r: write options as ?name=value&name=value" % (text,)) from None
    options = {}
    for name, value in pairs:
        if name not in allowed:
            if not allowed:
                raise AddressError("instrument address %r: %s addresses take no options" % (text, scheme))
            raise AddressError("instrument address %r: unknown option %r%s; options: %s"
                               % (text, name, suggest(name, allowed), ", ".join(allowed)))
        try:
            options[name] = allowed[name](value)
        except ValueError as exc:
            raise AddressError("instrument address %r: option %s=%r is invalid: %s"
                               % (text, name, value, exc)) from None
    return options
