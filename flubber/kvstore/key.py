"""KVStoreKey: one key of a KV store, with calibration, lockout and logging rules."""
import logging
import time

import gevent

from flubber.kvstore._dripline import Alert
from flubber.kvstore._endpoint import Endpoint, to_bool, to_seconds
from flubber.kvstore._exceptions import CalibrationError, ConfigError, DriplineError, InvalidValue
from flubber.kvstore.calibration import make_calibration
from flubber.kvstore.rules import BroadcastRule
from flubber.kvstore.values import ValueRule

logger = logging.getLogger(__name__)

#: ``schedule_status`` values that start, stop and restart the scheduled reads.
SCHEDULE_COMMANDS = {"start": "start", "on": "start", "stop": "stop", "off": "stop", "restart": "restart"}


def _is_number(value):
    """True for an int or float (not a bool), or a string that reads as one (``" 21.5"``)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return False
        return True
    return False


class KVStoreKey(Endpoint):
    """A key in a KV store: a value that can be read, set, calibrated, locked and logged.

    :param initial_value: the value before the first set (kept as given).
    :param name: unique name on the node (required).
    :param calibration: format string (``"2*{}"``, ``"times3({})"``) or dict
        (raw -> calibrated); a get then returns ``value_cal`` next to ``value_raw``.
    :param get_on_set: reply to a set with the value read back (a get).
    :param log_on_set: broadcast the new value on every set.
    :param max_interval: seconds; if > 0, a scheduled read is broadcast when
        this long passed since the last broadcast.
    :param max_fractional_change: if > 0, a scheduled read is broadcast when
        the value moved by more than this fraction (0.1 is 10 %).
    :param alert_routing_key: prefix of the routing key of broadcasts;
        the key's name is appended (``sensor_value.NAME``).
    :param schedule_interval: seconds between scheduled reads (0: none).
        Reads start with the node (or :meth:`start`).
    :param log_interval: old name of *schedule_interval*.
    :param delay_start: wait one interval before the first scheduled read.
    :param type: what a set must bring: ``"float"``, ``"int"``, ``"number"``,
        ``"str"`` or ``"bool"`` (None: any JSON value); a value that converts
        (``"21.5"`` for a float) is stored converted.
    :param min: smallest number a set may bring (None: no bound).
    :param max: largest number a set may bring (None: no bound).
    :param choices: the only values a set may bring (a list), or None.
    :param persist: keep the last set value across a restart of the node
        (see :mod:`flubber.kvstore.persist`); the lock is never kept.

    Every set (:meth:`set_value`, so TCP, AMQP, the push socket and
    instrument readings alike) is checked by :attr:`rule` first: a refused
    value raises :class:`~flubber.kvstore.InvalidValue` (304) and the old
    value stays. Numbers that are not finite (NaN, infinities) are refused
    whatever the key declares.

    Override :meth:`on_get` / :meth:`on_set` in a subclass to back the key
    by something else than memory (call :meth:`calibrated` on a raw value).
    """

    CMD_METHODS = Endpoint.CMD_METHODS | {"scheduled_action", "single_schedule"}
    GET_ATTRIBUTES = Endpoint.GET_ATTRIBUTES | {
        "log_on_set", "max_interval", "max_fractional_change", "alert_routing_key", "schedule_interval",
        "log_interval", "schedule_status", "logging_status",
    }
    SET_ATTRIBUTES = Endpoint.SET_ATTRIBUTES | {
        "log_on_set", "max_interval", "max_fractional_change", "alert_routing_key", "schedule_interval",
        "log_interval", "schedule_status", "logging_status",
    }

    #: Shortest ``schedule_interval`` accepted (seconds; 0 is no schedule): a shorter one, set over
    #: the network, would read and broadcast the key in a loop that takes the node's CPU.
    min_schedule_interval = 0.01
    #: Single reads (:meth:`single_schedule`) that may wait at once; a further one is refused (304).
    max_single_schedules = 100

    #: The clock of logging decisions and alert times (seconds since the epoch).
    #: Tests replace it on an instance with a fake one.
    clock = staticmethod(time.time)

    def __init__(self, initial_value=None, name=None, calibration=None, get_on_set=False, log_on_set=False,
                 max_interval=0, max_fractional_change=0, alert_routing_key="sensor_value", schedule_interval=0,
                 log_interval=None, delay_start=False, type=None, min=None, max=None, choices=None,
                 persist=False):
        if name is None:
            raise ConfigError("KVStoreKey needs a name, e.g. KVStoreKey(name='setpoint', initial_value=20)")
        if log_interval is not None:
            if schedule_interval:
                raise ConfigError("key %r: give schedule_interval or its old name log_interval, not both" % name)
            schedule_interval = log_interval
        super().__init__(name, calibration=calibration, get_on_set=get_on_set)
        #: What a set may bring (:class:`~flubber.kvstore.values.ValueRule`).
        self.rule = ValueRule(type, min, max, choices, what=name)
        if initial_value is not None and self.rule.declared:
            try:
                initial_value = self.rule.check(initial_value)
            except DriplineError as exc:
                raise ConfigError("key %r: the initial_value does not fit: %s" % (name, exc)) from None
        self._value = initial_value
        #: Keep the last set value (and a calibration set over the network) across a restart
        #: (see :mod:`flubber.kvstore.persist`).
        self.persist = False
        #: The :class:`~flubber.kvstore.persist.Persister` saving this key while its node runs, or None.
        self.persister = None
        self._set_at = None
        self._configured_calibration = self.calibration
        self._rule = BroadcastRule()
        self._schedule_interval = 0.0
        self._loop = None
        self._log_on_set = False
        self._alert_prefix = "sensor_value"
        try:
            self.log_on_set = log_on_set
            self.max_interval = max_interval
            self.max_fractional_change = max_fractional_change
            self.alert_routing_key = alert_routing_key
            self.schedule_interval = schedule_interval
            self.delay_start = to_bool(delay_start, "delay_start")
            self.persist = to_bool(persist, "persist")
        except DriplineError as exc:
            raise ConfigError("key %r: %s" % (name, exc)) from None
        if self._calibration is not None and initial_value is not None:
            try:
                self._calibration(initial_value)
            except CalibrationError as exc:
                raise ConfigError("key %r: the initial_value cannot be calibrated: %s" % (name, exc)) from None

    # -- value ----------------------------------------------------------------------
    def calibrated(self, raw):
        """Return ``{"value_raw": raw}`` plus ``"value_cal"`` when a calibration is set.

        A raw value that cannot be calibrated raises :class:`CalibrationError`
        (retcode 304) whose ``result`` still carries ``value_raw``.
        """
        result = {"value_raw": raw}
        if self._calibration is not None and raw is not None:
            try:
                result["value_cal"] = self._calibration(raw)
            except CalibrationError as exc:
                exc.result = result
                raise
        return result

    def on_get(self):
        """Return the value: ``{"value_raw": v}`` and ``"value_cal"`` when calibrated."""
        return self.calibrated(self._value)

    def on_set(self, value):
        """Store *value* exactly as given (no rounding) and return it."""
        self._value = value
        return value

    def check_value(self, value):
        """Raise :class:`InvalidValue` when the calibration cannot take *value*; say what the key needs.

        A format-string calibration (``"2*{}"``) computes with the value: a
        value that is not a number is refused as such, before the expression
        is tried. A table calibration names its known raw values.
        """
        calibration = self._calibration
        if calibration is None or value is None:
            return
        if isinstance(calibration.spec, str) and not _is_number(value):
            raise InvalidValue("%s takes a number (its calibration %r computes with it); got %r"
                               % (self.name, calibration.spec, value))
        try:
            calibration(value)
        except CalibrationError as exc:
            raise InvalidValue("%s cannot take %r: %s" % (self.name, value, exc)) from None

    def get_value(self):
        """Read the key as a get request would (:meth:`on_get`), without lockout checks."""
        return self.on_get()

    def set_value(self, value):
        """Set the key as a set request would: check *value* (:attr:`rule`), :meth:`on_set`,
        then get_on_set and log_on_set.

        Returns the read-back value when get_on_set, else what on_set returned.
        A value the key's calibration cannot take is refused too, before
        :meth:`on_set` runs (:meth:`check_value`), so the key keeps a value
        every get can calibrate.

        :raises InvalidValue: the key does not take *value*; nothing changed.
        """
        value = self.rule.check(value)
        self.check_value(value)
        result = self.on_set(value)
        self._set_at = time.time()
        self._changed()
        if not (self._get_on_set or self._log_on_set):
            return result
        readback = self.on_get()
        if self._log_on_set:
            self.store_value(readback)
        return readback if self._get_on_set else result

    def _on_set(self, specifier, values):
        if specifier or not values:
            result = super()._on_set(specifier, values)
            if specifier == "calibration":
                self._changed()
        else:
            result = self.set_value(values[0])
        persister = self.persister
        if persister is not None and self._saving is not None:
            # the reply waits until the value is on disk (bounded: a slow disk never holds it long)
            persister.wait_saved(self._saving)
        return result

    # -- persistence ------------------------------------------------------------------
    _saving = None

    def _changed(self):
        persister = self.persister
        if persister is not None:
            self._saving = persister.changed(self)

    def persisted_state(self):
        """What :mod:`~flubber.kvstore.persist` saves of this key: ``value``, ``set_at`` and, when
        it was set over the network, ``calibration``. The lock is never saved."""
        state = {"value": self._value, "set_at": self._set_at}
        if self.calibration != self._configured_calibration:
            state["calibration"] = self.calibration
        return state

    def check_restored(self, entry):
        """Return the state to restore from a saved *entry*, or raise :class:`InvalidValue` when
        the key no longer takes it (its type, bounds, choices or calibration changed)."""
        state = {"value": entry["value"]}
        calibration = self._calibration
        if "calibration" in entry:
            calibration = make_calibration(entry["calibration"])  # CalibrationError is an InvalidValue
            state["calibration"] = entry["calibration"]
        value = entry["value"]
        if value is not None:
            value = self.rule.check(value)
            if calibration is not None:
                if isinstance(calibration.spec, str) and not _is_number(value):
                    raise InvalidValue("%s takes a number (its calibration %r computes with it)"
                                       % (self.name, calibration.spec))
                calibration(value)
        state["value"] = value
        state["set_at"] = entry.get("set_at")
        return state

    def apply_restored(self, state):
        """Set a state checked by :meth:`check_restored` (at start, before the node serves)."""
        if "calibration" in state:
            self.calibration = state["calibration"]
        self.on_set(state["value"])
        self._set_at = state.get("set_at")

    # -- logging attributes ------------------------------------------------------------
    @property
    def log_on_set(self):
        """Broadcast the value on every set (bool)."""
        return self._log_on_set

    @log_on_set.setter
    def log_on_set(self, value):
        self._log_on_set = to_bool(value, "log_on_set")

    @property
    def max_interval(self):
        """Seconds; > 0 broadcasts a scheduled read when this long passed since the last broadcast."""
        return self._rule.max_interval

    @max_interval.setter
    def max_interval(self, value):
        self._rule.max_interval = to_seconds(value, "max_interval")

    @property
    def max_fractional_change(self):
        """Fraction; > 0 broadcasts a scheduled read that moved by more than it."""
        return self._rule.max_fractional_change

    @max_fractional_change.setter
    def max_fractional_change(self, value):
        self._rule.max_fractional_change = to_seconds(value, "max_fractional_change")

    @property
    def alert_routing_key(self):
        """Routing key of broadcasts: ``PREFIX.NAME`` (``sensor_value.NAME`` by default)."""
        return self._alert_prefix + "." + self.name

    @alert_routing_key.setter
    def alert_routing_key(self, value):
        if not isinstance(value, str) or not value or any(char in value for char in " *#"):
            raise InvalidValue("alert_routing_key must be a word such as 'sensor_value', got %r" % (value,))
        suffix = "." + self.name
        self._alert_prefix = value[:-len(suffix)] if value.endswith(suffix) else value

    # -- schedule ----------------------------------------------------------------------
    @property
    def schedule_interval(self):
        """Seconds between scheduled reads (0: no schedule). Changing it restarts a running schedule."""
        return self._schedule_interval

    @schedule_interval.setter
    def schedule_interval(self, value):
        interval = to_seconds(value, "schedule_interval")
        if 0 < interval < self.min_schedule_interval:
            raise InvalidValue("schedule_interval must be 0 (no schedule) or at least %g s, got %r"
                               % (self.min_schedule_interval, value))
        self._schedule_interval = interval
        if self.schedule_status:
            self._stop_loop()
            if self._schedule_interval > 0:
                self._start_loop()

    @property
    def log_interval(self):
        """Old name of :attr:`schedule_interval`."""
        return self.schedule_interval

    @log_interval.setter
    def log_interval(self, value):
        self.schedule_interval = value

    @property
    def schedule_status(self):
        """True while scheduled reads run. Set ``"start"``/``"on"``, ``"stop"``/``"off"`` or ``"restart"``."""
        return self._loop is not None and not self._loop.dead

    @schedule_status.setter
    def schedule_status(self, value):
        if isinstance(value, bool):
            command = "start" if value else "stop"
        else:
            command = SCHEDULE_COMMANDS.get(str(value).strip().lower())
        if command is None:
            raise InvalidValue("schedule_status must be start, on, stop, off or restart, got %r" % (value,))
        if command in ("stop", "restart"):
            self._stop_loop()
        if command in ("start", "restart"):
            self._start_loop()

    def start(self):
        """Start the scheduled reads if :attr:`schedule_interval` > 0 (the node calls this)."""
        if self._schedule_interval > 0 and not self.schedule_status:
            self._start_loop()

    def stop(self):
        """Stop the scheduled reads (and the single reads still waiting)."""
        self._stop_loop()
        for greenlet in self.__dict__.pop("_singles", ()):
            greenlet.kill(block=False)

    def _start_loop(self):
        if self._schedule_interval <= 0:
            raise InvalidValue("%s: set schedule_interval > 0 before starting the schedule" % self.address)
        if not self.schedule_status:
            self._loop = gevent.spawn(self._schedule_loop)

    def _stop_loop(self):
        loop, self._loop = self._loop, None
        if loop is not None and loop is not gevent.getcurrent():
            loop.kill(block=False)

    def _schedule_loop(self):
        interval = self._schedule_interval
        next_time = time.monotonic() + (interval if self.delay_start else 0.0)
        while True:
            delay = next_time - time.monotonic()
            if delay > 0:
                gevent.sleep(delay)
            self._process_schedule()
            next_time += interval
            if next_time < time.monotonic():  # fell behind (slow read): do not run a burst to catch up
                next_time = time.monotonic() + interval

    def _process_schedule(self):
        try:
            self.scheduled_action()
        except Exception:  # a failing read must not end the schedule
            logger.exception("%s: scheduled read failed", self.address)

    _singles = frozenset()

    def single_schedule(self, delay):
        """Run one :meth:`scheduled_action` after *delay* seconds (the schedule, if any, keeps running).

        At most :attr:`max_single_schedules` wait at once: a further one
        raises :class:`~flubber.kvstore.InvalidValue` (each is a greenlet).
        """
        delay = to_seconds(delay, "delay")
        singles = self.__dict__.get("_singles")
        if singles is None:
            singles = self._singles = set()
        if len(singles) >= self.max_single_schedules:
            raise InvalidValue("%s: %d single reads already wait; wait for them, or stop the key's schedule"
                               % (self.address, len(singles)))
        greenlet = gevent.spawn_later(delay, self._process_schedule)
        singles.add(greenlet)
        greenlet.link(singles.discard)
        return None

    def scheduled_action(self):
        """Read the value and broadcast it if the logging rules say so; return the value read.

        The rules (first read, ``max_interval``, ``max_fractional_change``) are
        those of :class:`~flubber.kvstore.rules.BroadcastRule`, on ``value_cal``
        when present, else ``value_raw``.
        """
        result = self.on_get()
        value = _logged_value(result)
        now = self.clock()
        reason = self._rule.reason(value, now)
        if reason is None:
            logger.debug("%s: %r not broadcast (no rule met)", self.address, value)
            return result
        logger.debug("%s: broadcasting %r: %s", self.address, value, reason)
        self.store_value(result)
        return result

    def store_value(self, alert=None, severity=None):
        """Broadcast *alert* (a value dict; default: a fresh get) to routing key *severity*.

        *severity* defaults to :attr:`alert_routing_key`. The alert goes to the
        store's alert sinks and the node's (AMQP ``alerts`` exchange,
        ContinuousLogger, ...). Returns the :class:`~flubber.kvstore.Alert`.
        """
        if alert is None:
            alert = self.on_get()
        now = self.clock()
        message = Alert(severity or self.alert_routing_key, alert, unixtime=now, name=self.name)
        self._rule.record(_logged_value(message.payload), now)
        provider = self.provider
        if provider is not None:
            provider.send_alert(message)
        else:
            logger.warning("%s: alert %r has nowhere to go (the key is in no store)", self.address, message)
        return message


def _logged_value(result):
    if isinstance(result, dict):
        if "value_cal" in result:
            return result["value_cal"]
        return result.get("value_raw")
    return result


#: The seed's name of :class:`KVStoreKey` (``module: kv_store_key`` in YAML).
kv_store_key = KVStoreKey
