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
        unit: °C                    # shown on the web page (default: the driver's ``unit`` attribute)
    sockets:
      pull: {host: 0.0.0.0, port: 9000, timeout: 5}  # DateDataPullSocket of every codename
      push: {host: 0.0.0.0, port: 8500}              # DataPushSocket: json_wn#{"setpoint": 40} sets KV keys
    logger:
      url: sqlite:///lab.sqlite     # or mysql://user:password@host/cinfdata
      table: dateplots_lab
      create_tables: true           # make the tables (and description rows) when missing
      spool: lab.spool              # optional on-disk queue that survives a crash
    web: {host: 127.0.0.1, port: 8080, writable: [setpoint]}   # the node's page (see flubber.web)

A driver is called in the node's greenlet for that instrument: it must not
block the process (use :mod:`flubber.io` for instrument I/O). When the
callable accepts a ``node`` argument, it gets the :class:`LabNode` (to read
KV keys such as a setpoint with :meth:`LabNode.value`). A driver whose
arguments name KV keys lists them in a ``key_args`` attribute (the
simulated ``Oven`` has ``key_args = ("setpoint_key",)``): the node checks
those keys exist before it starts, so ``flubber serve --check`` finds a
misspelt one.

An instrument that speaks lines (SCPI, a vendor's ASCII) needs no Python: an
``address`` and a ``query`` read it, ``on_set`` writes a KV key's new value to
it, ``share`` serves it to PyVISA and other clients (the keys are in
:mod:`flubber.instruments.config`)::

    instruments:
      - name: temperature
        address: tcp://192.168.1.20:5025     # serial:///dev/ttyUSB0?baudrate=9600, pipe:///path, sim://scpi
        query: "MEAS:TEMP?"                  # every interval; the reply is the reading
        on_set: {key: setpoint, write: "SOUR:TEMP {value}"}
        share: {host: 127.0.0.1, port: 5025}

With both a ``driver`` and an ``address``, the driver gets the
:class:`~flubber.instruments.LineInstrument` as its ``instrument`` argument.
"""
import functools
import inspect
import logging
import time

import gevent

from flubber._config import Where, suggest
from flubber._lifecycle import Service
from flubber._node_instruments import Instrument, LinePorts, run_every
from flubber._node_parts import PushSetter, make_alarm_board, make_logger, make_web
from flubber.kvstore import AMQPRoutingKeyError, ConfigError, DriplineError, KVStore, KVStoreKey, NodeServer
from flubber.nodefile import NODE_SECTIONS, check_lab_sections, load_lab_config, parse_lab_config, write_tokens

__all__ = ["LabNode", "Instrument", "UnknownKeyError", "NODE_SECTIONS", "load_lab_config"]

log = logging.getLogger(__name__)


class UnknownKeyError(LookupError):
    """Raised by :meth:`LabNode.key` and :meth:`LabNode.value` (so by a driver
    reading a key) for an address that names no KV key of the node; the
    message lists the keys and the closest one."""


class LabNode(Service):
    """A running lab node: KV stores, transports, UDP sockets, a logger, instruments.

    :param config: a node configuration from :func:`load_lab_config`.
    :param clock: the wall clock for timestamps (tests may pass a fake).

    The lifecycle is flubber's one (:doc:`/lifecycle`): a stopped node
    starts again with new sockets, transports and logger; ``close`` is an
    alias of :meth:`stop`.
    """

    #: Seconds :meth:`start` lets the logger try its first connection. A
    #: database that answers says yes or no (a wrong table or codename stops
    #: the start) well within it; one that is down does not hold the node
    #: back: the node serves, the logger keeps trying in the background with
    #: the points queued, and the status shows its state.
    logger_start_timeout = 1.0
    #: Seconds :meth:`stop` lets a connected logger drain its queue.
    logger_stop_timeout = 10.0
    #: Seconds :meth:`stop` gives a logger without a connection (the
    #: database is down): it cannot drain, so the node does not wait for it.
    logger_offline_stop_timeout = 0.5
    #: Failed readings in a row after which an instrument's alarm goes INVALID.
    failures_before_invalid = 3

    def __init__(self, config, clock=time.time):
        self.config = config
        self._clock = clock
        self.source = config.source
        sections = check_lab_sections(config)
        #: The KV part: :class:`~flubber.kvstore.serve.NodeServer`.
        self.server = NodeServer(config)
        #: The :class:`~flubber.kvstore.KVNode` with the stores.
        self.kv = self.server.node
        #: The instruments, in file order.
        self.instruments = [Instrument(**settings) for settings in sections.instruments]
        for instrument in self.instruments:
            self._ensure_key(instrument.key)
            if instrument.line is not None and instrument.line.on_set is not None:
                self._ensure_key(instrument.line.on_set["key"])
        for index, instrument in enumerate(self.instruments):
            self._check_key_args(index, instrument)
        self._pull_settings = sections.pull
        self._push_settings = sections.push
        if self._push_settings is not None:
            self._check_writable(self._push_settings["writable"], "sockets.push writable")
        if sections.web is not None:
            self._check_writable(sections.web["writable"], "web writable")
        self._logger_settings = sections.logger
        self._alarm_listener = None
        #: The :class:`~flubber.alarms.AlarmBoard` of the ``alarms`` section (None without one).
        self.alarms = None
        if sections.alarms:
            self.alarms = make_alarm_board(self.kv, sections, set(self.codenames), self.value, self._clock)
        self._web_settings = sections.web
        #: The pull socket while running (or None).
        self.pull_socket = None
        #: The push socket while running (or None).
        self.push_socket = None
        #: The :class:`~flubber.loggers.ContinuousLogger` while running (or None).
        self.logger = None
        #: The :class:`~flubber.web.WebServer` of the node's page while running (or None).
        self.web = None
        #: The spool file that keeps the :attr:`unlogged` points, or None (set by :meth:`stop`).
        self.unlogged_spool = None
        #: Points the logger could not store before it stopped (set by :meth:`stop`).
        self.unlogged = 0
        self._lines = LinePorts()
        self._greenlets = []
        self.started_at = None
        self.kv.info_sources.append(self._info)

    @property
    def line_instruments(self):
        """The :class:`~flubber.instruments.LineInstrument` of each address while running, by address text."""
        return self._lines.by_address

    @property
    def shares(self):
        """The :class:`~flubber.instruments.InstrumentShare` of each ``share:`` while running."""
        return self._lines.shares

    def _info(self):
        """What a ping adds to the KV node's info: instruments, points logged, the web page."""
        logger = self.logger.status() if self.logger is not None else None
        return {"instruments": len(self.instruments),
                "logged": logger["written"] if logger else None,
                "web": self.web.url if self.web is not None else None}

    @classmethod
    def from_file(cls, path, **kwargs):
        """Load the node file at *path*; return a (not started) node."""
        return cls(load_lab_config(path), **kwargs)

    @classmethod
    def from_dict(cls, data, source="<dict>", **kwargs):
        """Build a node from an already decoded node file *data*."""
        return cls(parse_lab_config(data, source=source), **kwargs)

    # -- configuration ---------------------------------------------------------------------

    def _check_writable(self, names, where):
        """Refuse a name in a ``writable`` list (*where*) that is no key of the node (a misspelt one)."""
        for name in names:
            try:
                self.kv.endpoint(name)
            except AMQPRoutingKeyError:
                raise Where(self.source, where, error=ConfigError).error(
                    "no key %r on this node%s; name keys declared under providers (or instrument keys)"
                    % (name, suggest(name, self._key_addresses()))) from None

    def _ensure_key(self, address):
        try:
            self.kv.endpoint(address)
        except AMQPRoutingKeyError:
            if "." in address:
                raise Where(self.source, "instruments", error=ConfigError).error(
                    "key %r does not exist; declare it under providers or give a plain name to have it made"
                    % (address,)) from None
            stores = list(self.kv.stores.values())
            store = stores[0] if stores else self.kv.add_store(KVStore(name="instruments"))
            store.add_endpoint(KVStoreKey(name=address))

    def _check_key_args(self, index, instrument):
        """Refuse a driver argument declared in its ``key_args`` that names no key of this node."""
        declared = getattr(instrument.driver, "key_args", ())
        if not declared:
            return
        try:
            parameters = inspect.signature(instrument.driver).parameters
        except (TypeError, ValueError):
            parameters = {}
        for name in declared:
            if name in instrument.args:
                address = instrument.args[name]
            elif name in parameters and parameters[name].default is not inspect.Parameter.empty:
                address = parameters[name].default
            else:
                continue
            if address is None or self._has_key(address):
                continue
            given = "" if name in instrument.args else " (the driver's default)"
            raise Where(self.source, "instruments[%d] (%s) args %s" % (index, instrument.name, name),
                        error=ConfigError).error(
                "no key %r on this node%s%s; keys: %s"
                % (address, given, suggest(address, self._key_addresses()), ", ".join(self._key_names())))

    def _has_key(self, address):
        try:
            self.kv.endpoint(address)
        except AMQPRoutingKeyError:
            return False
        return True

    def _key_names(self):
        return [name for store in self.kv.stores.values() for name in store.endpoint_names]

    def _key_addresses(self):
        return self._key_names() + ["%s.%s.%s" % (self.kv.name, store_name, name)
                                    for store_name, store in self.kv.stores.items()
                                    for name in store.endpoint_names]

    # -- values ------------------------------------------------------------------------------

    def key(self, address):
        """Return the KV key at *address* (a name or ``node.store.key``).

        :raises UnknownKeyError: no key has that address (the message lists them).
        """
        try:
            return self.kv.endpoint(address)
        except AMQPRoutingKeyError:
            raise UnknownKeyError("no key %r on node %s%s; keys: %s" % (
                address, self.kv.name, suggest(address, self._key_addresses()),
                ", ".join(self._key_names()))) from None

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

    def start(self):
        """Start the logger, the sockets, the KV transports and the instruments; return self."""
        return super().start()

    def _start(self):
        try:
            self._start_logger()
            self._start_sockets()
            self.server.start()
            self._lines.start(self.instruments, self.key, self.value)
            if self.alarms is not None:
                self.alarms.start()
            for instrument in self.instruments:
                instrument.bind(self, self.line_instruments.get(instrument.address))
                self._greenlets.append(gevent.spawn(run_every, instrument.interval, self._clock,
                                                    functools.partial(self._read_once, instrument)))
            self._start_web()
        except BaseException:
            self._stop(None)
            raise
        self.started_at = self._clock()

    def _start_logger(self):
        codenames = [instrument.codename for instrument in self.instruments if instrument.log]
        self.logger = make_logger(self._logger_settings, codenames, self.logger_start_timeout)
        if self.logger is not None:
            self.logger.start()

    def _start_web(self):
        settings = self._web_settings
        if settings is None:
            return
        logger = self._logger_settings
        series = (logger["url"], logger["table"]) if self.logger is not None else None
        self.web, self._alarm_listener = make_web(self, settings, write_tokens(self.config), series, self.alarms)
        self.web.start()

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
                                              callback=PushSetter(self.kv, push["writable"]),
                                              host=push["host"])
            self.push_socket.start()

    @property
    def push_writable(self):
        """The keys the push socket may set (``sockets.push.writable``); empty without a push socket."""
        return list(self._push_settings["writable"]) if self._push_settings is not None else []

    def _read_once(self, instrument):
        """Take one reading of *instrument* and send it to its KV key, alarm, pull socket and logger."""
        try:
            value = instrument.read()
        except Exception as exc:  # a failing instrument is reported and read again next time
            instrument.record_failure(exc)
            if self.alarms is not None and instrument.failing >= self.failures_before_invalid:
                self.alarms.fail(instrument.codename, "%s failed %d times in a row: %s"
                                 % (instrument.name, instrument.failing, instrument.last_error))
            return
        now = self._clock()
        instrument.record_reading(value, now)
        if self.alarms is not None:
            self.alarms.update(instrument.codename, value, now)
        try:
            self.key(instrument.key).set_value(value)
        except DriplineError as exc:  # the key refuses it (type, min, max): an error, the measurement goes on
            instrument.record_failure(exc)
        if self.pull_socket is not None:
            self.pull_socket.set_point(instrument.codename, (now, value))
        if self.logger is not None and instrument.log:
            self.logger.enqueue_point(instrument.codename, (now, value))

    def stop(self, timeout=None):
        """Stop instruments, sockets and transports, then drain the logger. Idempotent.

        Sets :attr:`unlogged` to the number of points the logger could not
        store within *timeout* (default :attr:`logger_stop_timeout`, or
        :attr:`logger_offline_stop_timeout` when the logger has no database
        connection), and :attr:`unlogged_spool` to the spool file that keeps
        them (None: they are lost with the process).
        """
        return super().stop(timeout)

    def close(self, timeout=None):
        """The same as :meth:`stop`."""
        return self.stop(timeout)

    def _stop(self, timeout):
        web, self.web = self.web, None
        if web is not None:
            web.stop()
            if self.alarms is not None and self._alarm_listener in self.alarms.listeners:
                self.alarms.listeners.remove(self._alarm_listener)
        greenlets, self._greenlets = self._greenlets, []
        gevent.killall(greenlets)
        self._lines.stop()
        for instrument in self.instruments:
            instrument.line_instrument = None
        for attribute in ("pull_socket", "push_socket"):
            socket = getattr(self, attribute)
            if socket is not None:
                socket.stop()
                setattr(self, attribute, None)
        self.server.stop(timeout)
        if self.alarms is not None:
            self.alarms.stop()
        logger, self.logger = self.logger, None
        if logger is not None:
            self._final_logger_status = status = logger.status()
            if timeout is None:
                timeout = (self.logger_stop_timeout if status["state"] == "connected"
                           else self.logger_offline_stop_timeout)
            left = logger.stop(timeout=timeout)
            self.unlogged = left or 0
            self.unlogged_spool = status["spool"] if self.unlogged else None
            self._final_logger_status = logger.status()
            if self.unlogged:
                log.error("node %s: %d points could not be logged before stopping (%s)", self.kv.name,
                          self.unlogged, self.unlogged_where())

    def unlogged_where(self):
        """Say where the :attr:`unlogged` points are: in the spool file, or lost (and how to keep them)."""
        if self.unlogged_spool:
            return "kept in the spool %s; the next start sends them" % self.unlogged_spool
        return ("lost: the logger has no spool; add `spool: %s.spool` under logger: in %s to keep them"
                % (self.kv.name, self.source or "the node file"))

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
            "running": self.running,
            "uptime": (self._clock() - self.started_at) if self.started_at else 0.0,
            "instruments": [
                {"name": i.name, "codename": i.codename, "value": i.last_value, "readings": i.readings,
                 "errors": i.errors, "last_error": i.last_error}
                for i in self.instruments
            ],
            "kv_requests": self.kv.requests_handled,
            "line_instruments": {address: line.status() for address, line in self.line_instruments.items()},
            "shares": [share.status() for share in self.shares],
            "tcp": list(self.server.tcp_address) if self.server.tcp_address else None,
            "sockets": sockets,
            "logger": logger_status,
            "persist": self.server.persister.status() if self.server.persister is not None else None,
            "alarms": self.alarms.status() if self.alarms is not None else None,
            "web": self.web.url if self.web is not None else None,
        }
