"""The line-instrument keys of a node file's ``instruments`` entry, checked before anything runs.

::

    instruments:
      - name: temperature
        address: tcp://192.168.1.20:5025     # or serial:///dev/ttyUSB0?baudrate=9600, pipe:///path, sim://scpi
        query: "MEAS:TEMP?"                  # sent every interval; the reply is the reading (a float)
        parse: '([-+0-9.eE]+)'               # optional regex: its first group is the number
        interval: 1.0
        timeout: 2.0                         # seconds per request (default 2)
        terminator: "\\n"                     # or read_terminator / write_terminator (default "\\n")
        encoding: ascii                      # optional (latin-1 for a degree sign)
        on_set: {key: setpoint, write: "SOUR:TEMP {value}"}   # a KV set of the key writes this line
        share: {host: 127.0.0.1, port: 5025}                  # serve the instrument to PyVISA and friends

An entry with ``driver:`` and ``address:`` hands the driver the
:class:`~flubber.instruments.LineInstrument` as its ``instrument`` argument.
Entries with the same address share one LineInstrument (one connection).
"""
import codecs
import re

from flubber._config import check_mapping, check_port, positive_seconds
from flubber.instruments._exceptions import AddressError
from flubber.instruments.address import parse_address
from flubber.instruments.line import LineInstrument

__all__ = ["LINE_OPTIONS", "ON_SET_OPTIONS", "SHARE_OPTIONS", "LineSettings", "check_line_settings",
           "check_shared_addresses"]

#: The keys of an ``instruments`` entry that describe a line instrument.
LINE_OPTIONS = ("address", "query", "parse", "timeout", "terminator", "read_terminator", "write_terminator",
                "encoding", "on_set", "share")
#: The keys of ``on_set``.
ON_SET_OPTIONS = ("key", "write")
#: The keys of ``share``.
SHARE_OPTIONS = ("host", "port", "lock_timeout")

#: Seconds per request when an entry gives no ``timeout``.
DEFAULT_TIMEOUT = 2.0

#: The port a ``share`` listens on when it names none (the LAN instruments' SCPI port).
DEFAULT_SHARE_PORT = 5025


class LineSettings:
    """The checked line-instrument keys of one ``instruments`` entry."""

    def __init__(self, address, query, parse, connection, on_set, share):
        #: The :class:`~flubber.instruments.Address`.
        self.address = address
        #: The query sent every interval, or ``None`` (a driver reads).
        self.query = query
        #: The compiled ``parse`` regex, or ``None``.
        self.parse = parse
        #: Keyword arguments of :class:`~flubber.instruments.LineInstrument`
        #: (timeout, read_terminator, write_terminator, encoding).
        self.connection = connection
        #: ``{"key": ..., "write": ...}`` or ``None``.
        self.on_set = on_set
        #: ``{"host": ..., "port": ..., "lock_timeout": ...}`` or ``None``.
        self.share = share

    def make_instrument(self, name):
        """Return a new (not started) :class:`~flubber.instruments.LineInstrument` for these settings."""
        return LineInstrument(self.address, name=name, **self.connection)


def _terminator(value, where):
    if not isinstance(value, str) or not value:
        raise where.error('must be a non-empty string such as "\\n" or "\\r\\n" (double quotes), got %r' % (value,))
    if "\\" in value:  # '\n' in single quotes reaches us as backslash-n: no instrument ends lines with a backslash
        value = codecs.decode(value, "unicode_escape")
    return value


def _text(value, where, example):
    if not isinstance(value, str) or not value.strip():
        raise where.error("must be a non-empty string, e.g. %s; got %r" % (example, value))
    return value


def check_line_settings(entry, where, has_driver):
    """Check the line-instrument keys of the ``instruments`` *entry* at *where*.

    :param has_driver: whether the entry names a ``driver``.
    :returns: a :class:`LineSettings`, or ``None`` when the entry has no ``address``.
    :raises: ``where.error(...)`` (a :class:`~flubber.kvstore.ConfigError` in a node file).
    """
    if "address" not in entry:
        given = [key for key in LINE_OPTIONS if key in entry]
        if given:
            raise where.error("%s needs an address, e.g. `address: tcp://192.168.1.20:5025`" % given[0])
        return None
    try:
        address = parse_address(entry["address"])
    except AddressError as exc:
        raise where.child("address").error(str(exc)) from None
    query = entry.get("query")
    if has_driver and query is not None:
        raise where.error("give a driver or a query, not both: the driver gets the instrument and reads it")
    if not has_driver and query is None:
        raise where.error('needs a query sent every interval (e.g. `query: "MEAS:TEMP?"`) or a driver that '
                          "reads the instrument")
    if query is not None:
        query = _text(query, where.child("query"), '"MEAS:TEMP?"')
    parse = entry.get("parse")
    if parse is not None:
        if query is None:
            raise where.child("parse").error("goes with a query; a driver parses its own replies")
        try:
            parse = re.compile(_text(parse, where.child("parse"), "'TEMP=([-+0-9.eE]+)'"))
        except re.error as exc:
            raise where.child("parse").error("is not a regular expression: %s" % exc) from None
    terminator = entry.get("terminator", "\n")
    connection = {
        "timeout": positive_seconds(entry.get("timeout"), where.child("timeout"), DEFAULT_TIMEOUT),
        "read_terminator": _terminator(entry.get("read_terminator", terminator), where.child("read_terminator")),
        "write_terminator": _terminator(entry.get("write_terminator", terminator), where.child("write_terminator")),
        "encoding": _encoding(entry.get("encoding", "ascii"), where.child("encoding")),
    }
    return LineSettings(address, query, parse, connection, _on_set(entry.get("on_set"), where.child("on_set")),
                        _share(entry.get("share"), where.child("share")))


def _encoding(value, where):
    try:
        codecs.lookup(value)
    except (LookupError, TypeError):
        raise where.error("%r is not a text encoding; e.g. ascii, latin-1, utf-8" % (value,)) from None
    return value


def _on_set(section, where):
    if section is None:
        return None
    check_mapping(section, ON_SET_OPTIONS, where)
    for key in ON_SET_OPTIONS:
        if key not in section:
            raise where.error('needs %s, e.g. `on_set: {key: setpoint, write: "SOUR:TEMP {value}"}`' % key)
    key = _text(section["key"], where.child("key"), "setpoint")
    write = _text(section["write"], where.child("write"), '"SOUR:TEMP {value}"')
    try:
        write.format(value=1.0)
    except (KeyError, IndexError, ValueError) as exc:
        raise where.child("write").error("must be a line with {value} where the new value goes, e.g. "
                                         '"SOUR:TEMP {value}" (%s: %s)' % (type(exc).__name__, exc)) from None
    return {"key": key, "write": write}


def _share(section, where):
    if section is None or section is False:
        return None
    check_mapping(section, SHARE_OPTIONS, where)
    host = section.get("host", "127.0.0.1")
    if not isinstance(host, str) or not host:
        raise where.child("host").error("must be an address to listen on, e.g. 127.0.0.1; got %r" % (host,))
    return {"host": host, "port": check_port(section.get("port"), where.child("port"), default=DEFAULT_SHARE_PORT),
            "lock_timeout": positive_seconds(section.get("lock_timeout"), where.child("lock_timeout"), 10.0)}


def check_shared_addresses(entries, where):
    """Check that *entries* (``(name, LineSettings)`` pairs) agree where they share an address.

    Entries with one address use one connection: their timeout, terminators
    and encoding must match, and at most one may share it.
    """
    first = {}
    for name, settings in entries:
        if settings is None:
            continue
        other = first.setdefault(settings.address, (name, settings))
        if other[0] == name:
            continue
        other_name, other_settings = other
        if other_settings.connection != settings.connection:
            raise where.error("instruments %s and %s use %s with different timeout, terminators or encoding; "
                              "one address is one connection: give them the same"
                              % (other_name, name, settings.address))
        if other_settings.share and settings.share:
            raise where.error("instruments %s and %s both share %s; give share: to one of them"
                              % (other_name, name, settings.address))
