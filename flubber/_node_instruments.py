"""The instruments of a lab node: what each one reads, its schedule, and the lines of its address.

:class:`Instrument` is one ``instruments`` entry of the node file (a driver
or an address and a query, how often, where the value goes);
:func:`run_every` is the schedule a node runs each one on; :class:`LinePorts`
owns the :class:`~flubber.instruments.LineInstrument` of each address while
the node runs, with its shares and the ``on_set`` writes. What a reading
feeds (KV key, alarms, pull socket, logger) is the node's business
(:mod:`flubber.node`).
"""
import inspect
import logging
import math

import gevent

from flubber.instruments import InstrumentError, InstrumentShare
from flubber.io import StreamError
from flubber.kvstore import ConfigError, HardwareError, InvalidValue

__all__ = ["Instrument", "LinePorts", "run_every"]

#: The node's log: these lines are the node's own (``flubber serve`` shows them as ``flubber.node``).
log = logging.getLogger("flubber.node")


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

    def __init__(self, name, driver=None, interval=1.0, args=None, key=None, codename=None, log=True, line=None,
                 unit=None):
        #: The instrument's name.
        self.name = name
        #: The line-instrument settings of the entry (:class:`~flubber.instruments.config.LineSettings`), or None.
        self.line = line
        #: The :class:`~flubber.instruments.LineInstrument` of the address while the node runs, else None.
        self.line_instrument = None
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
        #: Failed readings since the last good one.
        self.failing = 0
        #: The last reading, or None.
        self.last_value = None
        #: The last error message, or None.
        self.last_error = None
        #: Wall-clock time of the last reading, or None.
        self.last_time = None
        #: Unit of the readings (the ``unit`` option, else the driver's ``unit`` attribute), or None.
        self.unit = unit or getattr(driver, "unit", None)
        self._unit_given = unit is not None
        self._read = None

    @property
    def address(self):
        """The instrument's address text, or None for a driver without one."""
        return self.line.address.text if self.line is not None else None

    def bind(self, node, line_instrument=None):
        """Prepare the driver for *node* (instantiate a class, pass ``node`` when accepted).

        *line_instrument* is the LineInstrument of the entry's address: read
        with the entry's query, or handed to the driver as ``instrument``.
        """
        self.line_instrument = line_instrument
        if self.driver is None:
            query, parse = self.line.query, self.line.parse
            self._read = lambda: line_instrument.query_float(query, parse)
            return
        args = dict(self.args)
        if line_instrument is not None:
            args["instrument"] = line_instrument
        if inspect.isclass(self.driver):
            if _accepts(self.driver.__init__, "node"):
                args["node"] = node
            instance = self.driver(**args)
            if not self._unit_given:
                self.unit = getattr(instance, "unit", self.unit)
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
        """Take one reading (a finite number).

        :raises TypeError: the driver returned something else than a number.
        :raises ValueError: it returned NaN or an infinity (a KV key refuses them; counted as a failed reading).
        """
        value = self._read()
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError("driver of %r returned %r; a reading must be a number" % (self.name, value))
        if not math.isfinite(value):
            raise ValueError("driver of %r returned %r; a reading must be a finite number" % (self.name, value))
        return value

    def record_failure(self, exc):
        """Count a failed reading (*exc*); the 1st, 10th, 100th and every 1000th are logged."""
        self.errors += 1
        self.last_error = "%s: %s" % (type(exc).__name__, exc)
        if self.errors in (1, 10, 100) or self.errors % 1000 == 0:
            log.warning("instrument %s failed (%d so far): %s", self.name, self.errors, self.last_error)
        self.failing += 1

    def record_reading(self, value, now):
        """Count a good reading *value* taken at wall-clock time *now*."""
        self.readings += 1
        self.last_value = value
        self.last_time = now
        self.failing = 0


def run_every(interval, clock, function):
    """Call *function* every *interval* seconds of *clock*, forever (until the greenlet is killed).

    A call that takes longer than the interval is not made up for: the next
    one follows at once and the schedule starts again from it.
    """
    next_time = clock()
    while True:
        function()
        next_time += interval
        delay = next_time - clock()
        if delay < 0:  # the driver took longer than the interval: skip, do not pile up
            next_time = clock()
            delay = 0
        gevent.sleep(delay)


class LinePorts:
    """The line instruments of a running node: one per address, their shares and ``on_set`` writes.

    :meth:`start` opens them for the node's instruments, :meth:`stop`
    closes them and gives the KV keys their own ``on_set`` again.
    """

    def __init__(self):
        #: The :class:`~flubber.instruments.LineInstrument` of each address, by address text.
        self.by_address = {}
        #: The :class:`~flubber.instruments.InstrumentShare` of each ``share:``.
        self.shares = []
        self._on_set_keys = []
        self._greenlets = []

    def start(self, instruments, key, value):
        """Start one LineInstrument per address of *instruments*, the shares, and the on_set writes.

        *key* and *value* look a KV key and its raw value up by name (the
        node's :meth:`~flubber.node.LabNode.key` and :meth:`~flubber.node.LabNode.value`).
        """
        for instrument in instruments:
            line = instrument.line
            if line is None:
                continue
            address = line.address.text
            if address not in self.by_address:
                self.by_address[address] = line.make_instrument(instrument.name).start()
            line_instrument = self.by_address[address]
            if line.share is not None:
                share = InstrumentShare(line_instrument, host=line.share["host"], port=line.share["port"],
                                        lock_timeout=line.share["lock_timeout"])
                try:
                    share.start()
                except StreamError as exc:
                    raise type(exc)("share of %s on %s:%s: %s" % (address, share.host, share.port, exc),
                                    errno=exc.errno) from exc
                self.shares.append(share)
            if line.on_set is not None:
                on_set_key = key(line.on_set["key"])
                self._hook_on_set(on_set_key, line_instrument, line.on_set["write"], value(on_set_key.name))

    def _hook_on_set(self, key, line_instrument, template, current):
        """Make a set of *key* write ``template.format(value=...)`` to the instrument first."""
        store_value = key.on_set

        def on_set(value):
            line = template.format(value=value)
            if "\n" in line or "\r" in line:  # a value may not add lines of its own to the instrument
                raise InvalidValue("key %s was not set: %r would not be one line to %s; send a value without "
                                   "line breaks" % (key.name, line, line_instrument.name))
            try:
                line_instrument.write(line)
            except InstrumentError as exc:
                raise HardwareError("key %s was not set: %s" % (key.name, exc)) from exc
            except ValueError as exc:  # not in the instrument's encoding
                raise InvalidValue("key %s was not set: %s" % (key.name, exc)) from None
            return store_value(value)

        key.on_set = on_set
        self._on_set_keys.append(key)
        if current is not None:  # the instrument starts at the key's value, so both agree
            self._greenlets.append(gevent.spawn(self._write_initial, line_instrument, template.format(value=current)))

    @staticmethod
    def _write_initial(line_instrument, line):
        try:
            line_instrument.write(line)
        except InstrumentError as exc:
            log.warning("%s: could not write the initial %r: %s", line_instrument.name, line, exc)

    def stop(self):
        """Stop the initial writes, the shares and the line instruments; unhook the on_set writes."""
        greenlets, self._greenlets = self._greenlets, []
        gevent.killall(greenlets)
        shares, self.shares = self.shares, []
        for share in shares:
            share.stop()
        keys, self._on_set_keys = self._on_set_keys, []
        for key in keys:
            key.__dict__.pop("on_set", None)  # the class's on_set again
        line_instruments, self.by_address = self.by_address, {}
        for line_instrument in line_instruments.values():
            line_instrument.stop()
