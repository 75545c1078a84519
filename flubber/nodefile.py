"""The lab sections of a node file (instruments, sockets, logger), checked before anything runs.

:mod:`flubber.kvstore.config` checks the KV part of a node file (``name``,
``tcp``, ``amqp``, ``providers``); this module checks the sections
:class:`~flubber.node.LabNode` reads, so ``flubber serve --check`` finds
every mistake without starting anything. Every mistake is a
:class:`~flubber.kvstore.ConfigError` naming the file, the entry and what to
change; a misspelt option or driver argument gets the closest valid name.
"""
import inspect

from flubber._config import Where, check_mapping, check_port, import_object, positive_seconds, suggest
from flubber.instruments.config import LINE_OPTIONS, check_line_settings, check_shared_addresses
from flubber.kvstore import ConfigError, load_node_config, parse_node_config

__all__ = ["NODE_SECTIONS", "LabSections", "load_lab_config", "parse_lab_config", "check_lab_sections",
           "write_tokens"]

#: Top-level sections of a node file that :class:`~flubber.node.LabNode` reads.
NODE_SECTIONS = ("instruments", "sockets", "logger", "alarms", "notify", "web")

#: Options of an ``instruments`` entry.
INSTRUMENT_OPTIONS = ("name", "driver", "args", "interval", "key", "codename", "log", "unit") + LINE_OPTIONS
#: Options of ``sockets.pull``.
PULL_OPTIONS = ("host", "port", "timeout", "name")
#: Options of ``sockets.push``.
PUSH_OPTIONS = ("host", "port", "name", "writable")
#: Options of ``logger``.
LOGGER_OPTIONS = ("url", "table", "username", "password", "create_tables", "spool", "max_queue")
#: Options of ``web``.
WEB_OPTIONS = ("host", "port", "writable")
#: The web page's address when the ``web`` section names none.
WEB_DEFAULT_HOST, WEB_DEFAULT_PORT = "127.0.0.1", 8080


def load_lab_config(path):
    """Read and check the node file at *path*; return its :class:`~flubber.kvstore.config.NodeConfig`."""
    return load_node_config(path, extra_sections=NODE_SECTIONS)


def parse_lab_config(data, source="<dict>"):
    """Check an already decoded node file *data*; return its :class:`~flubber.kvstore.config.NodeConfig`."""
    return parse_node_config(data, source=source, extra_sections=NODE_SECTIONS)


def _check_driver_args(where, spec, driver, args, instrument=False):
    """Refuse *args* the driver (a class: its constructor) cannot take, before anything starts.

    With *instrument*, the driver must take an ``instrument`` argument (the LineInstrument of the address).
    """
    try:
        signature = inspect.signature(driver)
    except (TypeError, ValueError):  # no signature to check (a builtin): the first reading tells
        return
    given = dict(args)
    if "node" in signature.parameters:
        given.setdefault("node", None)
    if instrument:
        if "instrument" in args:
            raise where.error("instrument is given by the node (the LineInstrument of the address); "
                              "remove it from args")
        given["instrument"] = None
    try:
        signature.bind(**given)
    except TypeError as exc:
        names = [name for name, parameter in signature.parameters.items()
                 if name not in ("node", "instrument")
                 and parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)]
        if instrument and "instrument" not in signature.parameters:
            raise where.error("driver %r takes no `instrument` argument, so it cannot be handed the "
                              "instrument at the address; add one (def read(instrument): ...) or drop "
                              "the address" % (spec,)) from None
        unknown = [name for name in args if name not in signature.parameters]
        suggestion = suggest(unknown[0], names) if unknown else ""
        raise where.error("do not fit driver %r: %s%s; it takes: %s"
                          % (spec, exc, suggestion, ", ".join(names) or "no arguments")) from None


def _instrument(where, index, entry, names):
    place = where.child("instruments[%d]" % index)
    check_mapping(entry, INSTRUMENT_OPTIONS, place)
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise place.error("needs a name, e.g. `name: temperature`")
    place = where.child("instruments[%d] (%s)" % (index, name))
    if name in names:
        raise place.error("the name %r is used twice; instrument names are unique" % name)
    names.add(name)
    line = check_line_settings(entry, place, "driver" in entry)
    if "driver" not in entry and line is None:
        raise place.error("needs a driver (e.g. `driver: flubber.instruments.simulated:Oven`) or an address "
                          'and a query (e.g. `address: tcp://192.168.1.20:5025` and `query: "MEAS:TEMP?"`)')
    args = entry.get("args") or {}
    if not isinstance(args, dict):
        raise place.error("args must be a mapping of keyword arguments, got %r" % (args,))
    if "driver" in entry:
        driver = import_object(entry["driver"], place)
        if not callable(driver):
            raise place.error("driver %r is not callable" % (entry["driver"],))
        _check_driver_args(place.child("args"), entry["driver"], driver, args, instrument=line is not None)
    elif args:
        raise place.child("args").error("are the driver's arguments; this entry has no driver")
    else:
        driver = None
    return {
        "name": name,
        "driver": driver,
        "interval": positive_seconds(entry.get("interval"), place.child("interval"), 1.0),
        "args": args,
        "key": entry.get("key"),
        "codename": entry.get("codename"),
        "log": bool(entry.get("log", True)),
        "line": line,
        "unit": _unit(place.child("unit"), entry.get("unit")),
    }


def _unit(where, unit):
    if unit is not None and (not isinstance(unit, str) or len(unit) > 32):
        raise where.error("must be a short text such as mbar or °C, got %r" % (unit,))
    return unit


def _socket(where, section, options, default_port, node_name, label):
    if section is None or section is False:
        return None
    check_mapping(section, options, where)
    settings = {
        "host": section.get("host", ""),
        "port": check_port(section.get("port"), where.child("port"), default=default_port),
        "name": section.get("name", "%s %s socket" % (node_name, label)),
    }
    if "timeout" in options:
        settings["timeout"] = positive_seconds(section.get("timeout"), where.child("timeout"), 10.0)
    if "writable" in options:
        writable = section.get("writable") or []
        if not isinstance(writable, list) or not all(isinstance(name, str) and name for name in writable):
            raise where.child("writable").error("must be a list of key names the push socket may set, e.g. "
                                                "[setpoint], got %r" % (writable,))
        settings["writable"] = list(writable)
    return settings


def _logger(where, section, node_name):
    if section is None or section is False:
        return None
    check_mapping(section, LOGGER_OPTIONS, where)
    settings = {"url": "sqlite:///%s.sqlite" % node_name, "table": "dateplots_%s" % node_name,
                "create_tables": True}
    settings.update(section)
    # the database layer is loaded only by nodes that log; checked here so that --check sees a bad URL
    from flubber.loggers import LoggerConfigurationError, check_identifier, parse_url

    try:
        parse_url(settings["url"])
        check_identifier(settings["table"])
    except LoggerConfigurationError as exc:
        raise where.error(str(exc)) from None
    return settings


def _web(where, section):
    if section is None or section is False:
        return None
    if section is True:
        section = {}
    check_mapping(section, WEB_OPTIONS, where)
    host = section.get("host", WEB_DEFAULT_HOST)
    if not isinstance(host, str) or not host:
        raise where.child("host").error("must be an address such as 127.0.0.1 (or 0.0.0.0 for every "
                                        "interface), got %r" % (host,))
    writable = section.get("writable") or []
    if not isinstance(writable, list) or not all(isinstance(key, str) and key for key in writable):
        raise where.child("writable").error("must be a list of KV key names, e.g. [setpoint], got %r" % (writable,))
    return {"host": host, "port": check_port(section.get("port"), where.child("port"), default=WEB_DEFAULT_PORT),
            "writable": writable}


def write_tokens(config):
    """Return the node's write tokens: ``tcp: {tokens: [...]}`` and those of ``tcp: {tokens_file: FILE}``.

    :mod:`flubber.kvstore.config` has already read and checked both into
    ``config.tcp["tokens"]``. The web page accepts the same tokens as the TCP
    transport; without any, it is read-only.
    """
    return list((config.tcp or {}).get("tokens") or [])


class LabSections:
    """The checked lab sections of a node file (what :func:`check_lab_sections` returns)."""

    def __init__(self, instruments, pull, push, logger, alarms=None, notify=(), web=None):
        #: One dict per ``instruments`` entry: name, driver (imported, or None), interval, args, key,
        #: codename, log, unit, line (a :class:`~flubber.instruments.config.LineSettings`, or None).
        self.instruments = instruments
        #: Pull-socket settings (host, port, timeout, name), or None when off.
        self.pull = pull
        #: Push-socket settings (host, port, name, writable), or None when off.
        self.push = push
        #: Logger settings (url, table, create_tables, ...), or None when off.
        self.logger = logger
        #: ``{codename or key: AlarmLimits}`` of the ``alarms`` section (empty when none).
        self.alarms = alarms or {}
        #: The :class:`~flubber.alarms.NotificationChannel` of each ``notify`` entry (not started).
        self.notify = list(notify)
        #: Web page settings (host, port, writable), or None when off.
        self.web = web


def check_lab_sections(config):
    """Check the lab sections of the node *config* (a :class:`~flubber.kvstore.config.NodeConfig`).

    :returns: a :class:`LabSections`.
    :raises ConfigError: naming the file, the entry and what to change.
    """
    where = Where(config.source, error=ConfigError)
    extra = config.extra
    entries = extra.get("instruments") or []
    if not isinstance(entries, list):
        raise where.child("instruments").error("must be a list of instruments, got %r" % (entries,))
    names = set()
    instruments = [_instrument(where, index, entry, names) for index, entry in enumerate(entries)]
    check_shared_addresses([(item["name"], item["line"]) for item in instruments], where.child("instruments"))
    sockets = extra.get("sockets") or {}
    check_mapping(sockets, ("pull", "push"), where.child("sockets"))
    alarms, notify = _alarm_sections(where, extra, instruments, config.providers)
    return LabSections(
        instruments,
        _socket(where.child("sockets.pull"), sockets.get("pull", {}), PULL_OPTIONS, 9000, config.name, "pull"),
        _socket(where.child("sockets.push"), sockets.get("push"), PUSH_OPTIONS, 8500, config.name, "push"),
        _logger(where.child("logger"), extra.get("logger"), config.name),
        alarms, notify,
        _web(where.child("web"), extra.get("web")),
    )


def _key_names(providers):
    names = set()
    for provider in providers or []:
        if isinstance(provider, dict):
            for entry in provider.get("endpoints") or []:
                if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                    names.add(entry["name"])
    return names


def _alarm_sections(where, extra, instruments, providers):
    """Check ``alarms`` (against the codenames and keys there are) and ``notify``."""
    if extra.get("alarms") is None and extra.get("notify") is not None:
        raise where.child("notify").error("has no alarms to notify about; add an `alarms:` section")
    from flubber.alarms import parse_alarms, parse_notify  # only nodes with alarms load them

    names = _key_names(providers)
    read = set()
    for item in instruments:
        read.add(item["codename"] or item["name"])
        names.update((item["name"], item["codename"] or item["name"], item["key"] or item["name"]))
    alarms = parse_alarms(extra.get("alarms"), where, names=names)
    for name, limits in alarms.items():
        if limits.stale is not None and name not in read:
            raise where.child("alarms (%s) stale" % name).error(
                "applies to an instrument's readings; %r is a KV key that no instrument reads on a schedule, "
                "so it cannot go stale (remove stale, or watch the instrument's codename)" % name)
    return alarms, parse_notify(extra.get("notify"), where)
