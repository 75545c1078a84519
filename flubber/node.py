"""The lab node: one YAML file runs KV stores, UDP sockets, a logger and instruments.

``flubber serve lab.yaml`` is :func:`LabNode.from_file` plus
:meth:`LabNode.serve_forever`. The node file has the sections of
:mod:`flubber.kvstore.config` (``name``, ``tcp``, ``amqp``, ``providers``)
and these::

    instruments:                    # read on a schedule
      - name: temperature           # KV key, pull-socket codename and logger codename
        driver: flubber.instruments.simulated:Oven   # module:callable (a class is instantiated once)
        args: {setpoint_key: setpoint, tau: 8}       # keyword arguments of the driver
        interval: 0.5               # seconds between readings
        key: temperature            # KV key to set (default: the name; made if missing)
        codename: lab_temperature   # socket/logger codename (default: the name)
        log: true                   # send the readings to the logger (default true)
    sockets:
      pull: {host: 0.0.0.0, port: 9000, timeout: 5}  # DateDataPullSocket of every codename
      push: {host: 0.0.0.0, port: 8500}              # DataPushSocket: json_wn#{"setpoint": 40} sets KV keys
    logger:
      url: sqlite:///lab.sqlite     # or mysql://user:password@host/cinfdata
      table: dateplots_lab
      create_tables: true           # make the tables (and description rows) when missing
      spool: lab.spool              # optional on-disk queue that survives a crash

A driver is called in the node's greenlet for that instrument: it must not
block the process (use :mod:`flubber.io` for instrument I/O). When the
callable accepts a ``node`` argument, it gets the :class:`LabNode` (to read
KV keys such as a setpoint with :meth:`LabNode.value`).
"""
import importlib
import inspect
import logging
import time

import gevent
import gevent.event

from flubber._stopping import STOP_SIGNALS, wait_until_stopped
from flubber.kvstore import KVStore, KVStoreKey
from flubber.kvstore._exceptions import AMQPRoutingKeyError, ConfigError
from flubber.kvstore.config import _not_importable_hint, _suggest, load_node_config, parse_node_config
from flubber.kvstore.serve import NodeServer

__all__ = ["LabNode", "Instrument", "NODE_SECTIONS", "load_lab_config"]

log = logging.getLogger(__name__)

#: Top-level sections of a node file that this module reads.
NODE_SECTIONS = ("instruments", "sockets", "logger")

_INSTRUMENT_OPTIONS = ("name", "driver", "args", "interval", "key", "codename", "log")
_PULL_OPTIONS = ("host", "port", "timeout", "name")
_PUSH_OPTIONS = ("host", "port", "name")
_LOGGER_OPTIONS = ("url", "table", "username", "password", "create_tables", "spool", "max_queue")


def load_lab_config(path):
    """Read and check the node file at *path*; return its :class:`~flubber.kvstore.config.NodeConfig`."""
    return load_node_config(path, extra_sections=NODE_SECTIONS)


def _error(source, place, message):
    return ConfigError("%s: %s: %s" % (source, place, message))


def _check_mapping(source, place, value, allowed):
    if not isinstance(value, dict):
        raise _error(source, place, "must be a mapping with %s, got %r" % (", ".join(allowed), value))
    unknown = [key for key in value if key not in allowed]
    if unknown:
        raise _error(source, place, "unknown option %r%s; options: %s"
                     % (unknown[0], _suggest(unknown[0], allowed), ", ".join(allowed)))
    return value


def _positive_number(source, place, value, default):
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise _error(source, place, "must be a number of seconds > 0, got %r" % (value,))
    return float(value)


def _port(source, place, value, default):
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise _error(source, place, "must be a port from 0 to 65535 (0: any free port), got %r" % (value,))
    return value


def _import_driver(source, place, spec):
    if not isinstance(spec, str) or ":" not in spec:
        raise _error(source, place, "driver must be 'package.module:callable', got %r" % (spec,))
    module_name, _, attribute = spec.partition(":")
    try:
        target = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise _error(source, place, "driver %r cannot be imported (%s)%s"
                     % (spec, exc, _not_importable_hint(module_name, exc))) from None
    if not callable(target):
        raise _error(source, place, "driver %r is not callable" % (spec,))
    return target


def _check_driver_args(source, place, spec, driver, args):
    """Refuse *args* the driver (a class: its constructor) cannot take, before anything starts."""
    try:
        signature = inspect.signature(driver)
    except (TypeError, ValueError):  # no signature to check (a builtin): the first reading tells
        return
    given = dict(args)
    if "node" in signature.parameters:
        given.setdefault("node", None)
    try:
        signature.bind(**given)
    except TypeError as exc:
        names = [name for name, parameter in signature.parameters.items()
                 if name != "node" and parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)]
        unknown = [name for name in args if name not in signature.parameters]
        suggestion = _suggest(unknown[0], names) if unknown else ""
        raise _error(source, place, "do not fit driver %r: %s%s; it takes: %s"
                     % (spec, exc, suggestion, ", ".join(names) or "no arguments")) from None


def _accepts(function, name):
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
    return name in parameters or any(p.kind == p.VAR_KEYWORD for p in parameters.values())


class Instrument:
    """One scheduled reading: a driver, how often, and where its value goes.

    Built from an ``instruments`` entry by :class:`LabNode`.
    """

    def __init__(self, name, driver, interval=1.0, args=None, key=None, codename=None, log=True):
        #: The instrument's name.
        self.name = name
        #: The callable returning a reading (a driver class is instantiated once).
        self.driver = driver
        #: Seconds between readings.
        self.interval = interval
        #: Keyword arguments of the driver (or of its class).
        self.args = dict(args or {})
        #: Name (or address) of the KV key its value is set on.
        self.key = key or name
        #: Codename on the pull socket and in the logger.
        self.codename = codename or name
        #: Whether readings go to the logger.
        self.log = log
        #: Readings taken so far.
        self.readings = 0
        #: Failed readings so far.
        self.errors = 0
        #: The last reading, or None.
        self.last_value = None
        #: The last error message, or None.
        self.last_error = None
        self._read = None

    def bind(self, node):
        """Prepare the driver for *node* (instantiate a class, pass ``node`` when accepted)."""
        args = dict(self.args)
        if inspect.isclass(self.driver):
            if _accepts(self.driver.__init__, "node"):
                args["node"] = node
            instance = self.driver(**args)
            if not callable(instance):
                raise ConfigError("instrument %r: an instance of driver class %s is not callable; give the "
                                  "class a __call__ method that returns a reading"
                                  % (self.name, self.driver.__name__))
            self._read = instance
        else:
            if _accepts(self.driver, "node"):
                args["node"] = node
            self._read = lambda: self.driver(**args)

    def read(self):
        """Take one reading (a number)."""
        value = self._read()
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError("driver of %r returned %r; a reading must be a number" % (self.name, value))
        return value


class LabNode:
    """A running lab node: KV stores, transports, UDP sockets, a logger, instruments.

    :param config: a node configuration from :func:`load_lab_config`.
    :param clock: the wall clock for timestamps (tests may pass a fake).
    """

    #: Seconds :meth:`stop` lets the logger drain its queue.
    logger_stop_timeout = 10.0

    def __init__(self, config, clock=time.time):
        self.config = config
        self._clock = clock
        self.source = config.source
        #: The KV part: :class:`~flubber.kvstore.serve.NodeServer`.
        self.server = NodeServer(config)
        #: The :class:`~flubber.kvstore.KVNode` with the stores.
        self.kv = self.server.node
        #: The instruments, in file order.
        self.instruments = self._build_instruments(config.extra.get("instruments") or [])
        sockets = config.extra.get("sockets") or {}
        _check_mapping(self.source, "sockets", sockets, ("pull", "push"))
        self._pull_settings = self._pull_section(sockets.get("pull", {}))
        self._push_settings = self._push_section(sockets.get("push"))
        self._logger_settings = self._logger_section(config.extra.get("logger"))
        #: The pull socket while running (or None).
        self.pull_socket = None
        #: The push socket while running (or None).
        self.push_socket = None
        #: The :class:`~flubber.loggers.ContinuousLogger` while running (or None).
        self.logger = None
        #: Points the logger could not store before it stopped (set by :meth:`stop`).
        self.unlogged = 0
        self._greenlets = []
        self._running = False
        self._stopped = gevent.event.Event()
        self._stopped.set()
        self.started_at = None

    @classmethod
    def from_file(cls, path, **kwargs):
        """Load the node file at *path*; return a (not started) node."""
        return cls(load_lab_config(path), **kwargs)

    @classmethod
    def from_dict(cls, data, source="<dict>", **kwargs):
        """Build a node from an already decoded node file *data*."""
        return cls(parse_node_config(data, source=source, extra_sections=NODE_SECTIONS), **kwargs)

    # -- configuration ---------------------------------------------------------------------

    def _build_instruments(self, entries):
        if not isinstance(entries, list):
            raise _error(self.source, "instruments", "must be a list of instruments, got %r" % (entries,))
        instruments, names = [], set()
        for index, entry in enumerate(entries):
            place = "instruments[%d]" % index
            _check_mapping(self.source, place, entry, _INSTRUMENT_OPTIONS)
            name = entry.get("name")
            if not isinstance(name, str) or not name:
                raise _error(self.source, place, "needs a name, e.g. `name: temperature`")
            place = "instruments[%d] (%s)" % (index, name)
            if name in names:
                raise _error(self.source, place, "the name %r is used twice; instrument names are unique" % name)
            names.add(name)
            if "driver" not in entry:
                raise _error(self.source, place, "needs a driver, e.g. "
                             "`driver: flubber.instruments.simulated:Oven`")
            args = entry.get("args") or {}
            if not isinstance(args, dict):
                raise _error(self.source, place, "args must be a mapping of keyword arguments, got %r" % (args,))
            driver = _import_driver(self.source, place, entry["driver"])
            _check_driver_args(self.source, place + " args", entry["driver"], driver, args)
            instrument = Instrument(
                name,
                driver,
                interval=_positive_number(self.source, place + " interval", entry.get("interval"), 1.0),
                args=args,
                key=entry.get("key"),
                codename=entry.get("codename"),
                log=bool(entry.get("log", True)),
            )
            self._ensure_key(instrument.key)
            instruments.append(instrument)
        return instruments

    def _ensure_key(self, address):
        try:
            self.kv.endpoint(address)
        except AMQPRoutingKeyError:
            if "." in address:
                raise _error(self.source, "instruments", "key %r does not exist; declare it under providers "
                             "or give a plain name to have it made" % (address,)) from None
            stores = list(self.kv.stores.values())
            store = stores[0] if stores else self.kv.add_store(KVStore(name="instruments"))
            store.add_endpoint(KVStoreKey(name=address))

    def _pull_section(self, section):
        if section is None or section is False:
            return None
        _check_mapping(self.source, "sockets.pull", section, _PULL_OPTIONS)
        return {
            "host": section.get("host", ""),
            "port": _port(self.source, "sockets.pull port", section.get("port"), 9000),
            "timeout": _positive_number(self.source, "sockets.pull timeout", section.get("timeout"), 10.0),
            "name": section.get("name", "%s pull socket" % self.kv.name),
        }

    def _push_section(self, section):
        if section is None or section is False:
            return None
        _check_mapping(self.source, "sockets.push", section, _PUSH_OPTIONS)
        return {
            "host": section.get("host", ""),
            "port": _port(self.source, "sockets.push port", section.get("port"), 8500),
            "name": section.get("name", "%s push socket" % self.kv.name),
        }

    def _logger_section(self, section):
        if section is None or section is False:
            return None
        _check_mapping(self.source, "logger", section, _LOGGER_OPTIONS)
        settings = {"url": "sqlite:///%s.sqlite" % self.kv.name, "table": "dateplots_%s" % self.kv.name,
                    "create_tables": True}
        settings.update(section)
        # the database layer is loaded only by nodes that log; checked here so that --check sees a bad URL
        from flubber.loggers import LoggerConfigurationError
        from flubber.loggers._settings import check_identifier, parse_url

        try:
            parse_url(settings["url"])
            check_identifier(settings["table"])
        except LoggerConfigurationError as exc:
            raise _error(self.source, "logger", str(exc)) from None
        return settings

    # -- values ------------------------------------------------------------------------------

    def key(self, address):
        """Return the KV key at *address* (a name or ``node.store.key``)."""
        return self.kv.endpoint(address)

    def value(self, address):
        """Return the raw value of the KV key at *address* (what a get calls ``value_raw``)."""
        reading = self.key(address).get_value()
        if isinstance(reading, dict):
            return reading.get("value_raw")
        return reading

    @property
    def codenames(self):
        """The codenames of every instrument, in file order."""
        return [instrument.codename for instrument in self.instruments]

    # -- life cycle ------------------------------------------------------------------------------

    @property
    def running(self):
        """True between :meth:`start` and :meth:`stop`."""
        return self._running

    def start(self):
        """Start the logger, the sockets, the KV transports and the instruments; return self."""
        if self._running:
            return self
        try:
            self._start_logger()
            self._start_sockets()
            self.server.start()
            for instrument in self.instruments:
                instrument.bind(self)
                self._greenlets.append(gevent.spawn(self._run_instrument, instrument))
        except BaseException:
            self.stop()
            raise
        self._running = True
        self._stopped.clear()
        self.started_at = self._clock()
        return self

    def _start_logger(self):
        settings = self._logger_settings
        codenames = [instrument.codename for instrument in self.instruments if instrument.log]
        if settings is None or not codenames:
            return
        from flubber.loggers import ContinuousLogger  # only nodes that log need the database layer

        options = {key: settings[key] for key in ("spool", "max_queue") if settings.get(key) is not None}
        self.logger = ContinuousLogger(
            settings["table"], settings.get("username"), settings.get("password"), codenames,
            url=settings["url"], create_tables=bool(settings.get("create_tables")), **options)
        self.logger.start()

    def _start_sockets(self):
        from flubber.sockets import DataPushSocket, DateDataPullSocket

        pull = self._pull_settings
        if pull is not None and self.instruments:
            self.pull_socket = DateDataPullSocket(pull["name"], self.codenames, port=pull["port"],
                                                  timeouts=pull["timeout"], host=pull["host"])
            self.pull_socket.start()
        push = self._push_settings
        if push is not None:
            self.push_socket = DataPushSocket(push["name"], port=push["port"], action="callback_direct",
                                              callback=self._on_push, host=push["host"])
            self.push_socket.start()

    def _on_push(self, data):
        """Set the KV keys named in pushed *data* (``{"setpoint": 40}``)."""
        for address, value in data.items():
            self.key(address).set_value(value)
        return sorted(data)

    def _run_instrument(self, instrument):
        next_time = self._clock()
        while True:
            self._read_once(instrument)
            next_time += instrument.interval
            delay = next_time - self._clock()
            if delay < 0:  # the driver took longer than the interval: skip, do not pile up
                next_time = self._clock()
                delay = 0
            gevent.sleep(delay)

    def _read_once(self, instrument):
        try:
            value = instrument.read()
        except Exception as exc:  # a failing instrument is reported and read again next time
            instrument.errors += 1
            instrument.last_error = "%s: %s" % (type(exc).__name__, exc)
            if instrument.errors in (1, 10, 100) or instrument.errors % 1000 == 0:
                log.warning("instrument %s failed (%d so far): %s", instrument.name, instrument.errors,
                            instrument.last_error)
            return
        now = self._clock()
        instrument.readings += 1
        instrument.last_value = value
        self.key(instrument.key).set_value(value)
        if self.pull_socket is not None:
            self.pull_socket.set_point(instrument.codename, (now, value))
        if self.logger is not None and instrument.log:
            self.logger.enqueue_point(instrument.codename, (now, value))

    def stop(self):
        """Stop instruments, sockets and transports, then drain the logger. Idempotent.

        Sets :attr:`unlogged` to the number of points the logger could not
        store within :attr:`logger_stop_timeout`.
        """
        greenlets, self._greenlets = self._greenlets, []
        gevent.killall(greenlets)
        for attribute in ("pull_socket", "push_socket"):
            socket = getattr(self, attribute)
            if socket is not None:
                socket.stop()
                setattr(self, attribute, None)
        self.server.stop()
        logger, self.logger = self.logger, None
        if logger is not None:
            self._final_logger_status = logger.status()
            left = logger.stop(timeout=self.logger_stop_timeout)
            self.unlogged = left or 0
            self._final_logger_status = logger.status()
            if self.unlogged:
                log.error("node %s: %d points could not be logged before stopping", self.kv.name,
                          self.unlogged)
        self._running = False
        self._stopped.set()

    close = stop

    def serve_forever(self, stop_signals=STOP_SIGNALS):
        """Start (if needed) and block until :meth:`stop` or one of *stop_signals*."""
        self.start()
        wait_until_stopped(self._stopped, self.stop, stop_signals)

    def wait(self, timeout=None):
        """Block until the node stops (or *timeout* seconds); return True when stopped."""
        return self._stopped.wait(timeout)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    # -- status ------------------------------------------------------------------------------

    def status(self):
        """Return a JSON-friendly snapshot: instruments, logger, sockets, KV requests."""
        logger_status = self.logger.status() if self.logger is not None else getattr(
            self, "_final_logger_status", None)
        sockets = {}
        for label, sock in (("pull", self.pull_socket), ("push", self.push_socket)):
            if sock is not None:
                sockets[label] = dict(sock.stats.as_dict(), port=sock.port)
        return {
            "node": self.kv.name,
            "running": self._running,
            "uptime": (self._clock() - self.started_at) if self.started_at else 0.0,
            "instruments": [
                {"name": i.name, "codename": i.codename, "value": i.last_value, "readings": i.readings,
                 "errors": i.errors, "last_error": i.last_error}
                for i in self.instruments
            ],
            "kv_requests": self.kv.requests_handled,
            "tcp": list(self.server.tcp_address) if self.server.tcp_address else None,
            "sockets": sockets,
            "logger": logger_status,
        }
