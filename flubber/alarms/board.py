"""The alarms of one node: readings in, history rows, alerts and notifications out.

:class:`AlarmBoard` owns the :class:`~flubber.alarms.Alarm` of every watched
codename or key. The node hands it each reading (:meth:`AlarmBoard.update`)
and each instrument failure (:meth:`AlarmBoard.fail`); a ticker greenlet
expires delays, marks silent values stale and sends reminders. Each change of
state goes, once, to the history, to the publisher (dripline alerts) and to
every notification channel whose severities it concerns.
"""
import logging
import time

import gevent

from flubber._lifecycle import Service
from flubber.alarms.states import Alarm, Severity

__all__ = ["AlarmBoard", "UnknownAlarmError"]

log = logging.getLogger(__name__)


class UnknownAlarmError(KeyError):
    """No alarm has that name; the message lists the names there are."""

    def __str__(self):
        return self.args[0] if self.args else "unknown alarm"


class AlarmBoard(Service):
    """The alarms of a node and where their changes go.

    A service with flubber's one lifecycle (:doc:`/lifecycle`): :meth:`start`
    runs the ticker, the channels and the history writer.

    :param node: the node's name (in notifications and history rows).
    :param limits: a mapping of alarm name (codename or key) to :class:`~flubber.alarms.AlarmLimits`.
    :param channels: :class:`~flubber.alarms.NotificationChannel` objects.
    :param history: an :class:`~flubber.alarms.AlarmHistory`, or None.
    :param publish: a callable taking each :class:`~flubber.alarms.AlarmChange` (dripline alerts), or None.
    :param samplers: ``{name: callable}``: values the ticker reads itself each tick (KV keys that
        nothing reads on a schedule); a sampler returning None is skipped.
    :param clock: the wall clock (tests may pass a fake).
    :param tick: seconds between checks of delays, staleness and reminders.
    """

    def __init__(self, node, limits, channels=(), history=None, publish=None, samplers=None, clock=time.time,
                 tick=0.25):
        self.node = node
        self._clock = clock
        now = clock()
        self._alarms = {name: Alarm(name, rule, now=now) for name, rule in limits.items()}
        self.channels = list(channels)
        self.history = history
        self.publish = publish
        self.tick = tick
        self.samplers = dict(samplers or {})
        #: More callables taking each :class:`~flubber.alarms.AlarmChange` (the web page's updates).
        self.listeners = []
        self._greenlet = None
        self._notified = {}  # (channel index, alarm name) -> time of the last notification
        #: State changes so far.
        self.changes = 0

    # -- reading ----------------------------------------------------------------------------------

    def __contains__(self, name):
        return name in self._alarms

    def __len__(self):
        return len(self._alarms)

    def get(self, name):
        """Return the :class:`~flubber.alarms.Alarm` called *name*; raise :class:`UnknownAlarmError`."""
        try:
            return self._alarms[name]
        except KeyError:
            raise UnknownAlarmError("no alarm %r; the alarms are: %s"
                                    % (name, ", ".join(sorted(self._alarms)) or "none")) from None

    def alarms(self):
        """Every alarm, worst first (then unacknowledged first, then by name)."""
        return sorted(self._alarms.values(), key=lambda a: (-a.severity, a.acknowledged, a.name))

    def as_list(self):
        """Every alarm as a dict, worst first (what ``/api/alarms`` and ``flubber alarms`` show)."""
        return [alarm.as_dict() for alarm in self.alarms()]

    def now(self):
        """The board's clock now (unix seconds)."""
        return self._clock()

    @property
    def worst(self):
        """The worst severity on the board."""
        return max((alarm.severity for alarm in self._alarms.values()), default=Severity.OK)

    # -- inputs -----------------------------------------------------------------------------------

    def update(self, name, value, now=None):
        """Hand a reading of *name* to its alarm (names without an alarm are ignored)."""
        alarm = self._alarms.get(name)
        if alarm is not None:
            self._handle(alarm.update(value, self._clock() if now is None else now))

    def fail(self, name, message, now=None):
        """Tell the alarm of *name* that its value cannot be read (INVALID)."""
        alarm = self._alarms.get(name)
        if alarm is not None:
            self._handle(alarm.fail(message, self._clock() if now is None else now))

    def acknowledge(self, name):
        """Acknowledge the alarm *name*; return True when it was unacknowledged."""
        change = self.get(name).acknowledge(self._clock())
        self._handle(change)
        return change is not None

    def check(self, now=None):
        """Expire delays, mark stale values and send due reminders (the ticker calls this)."""
        now = self._clock() if now is None else now
        for name, sampler in self.samplers.items():
            value = sampler()
            if value is not None:
                self.update(name, value, now)
        for alarm in self._alarms.values():
            self._handle(alarm.check(now))
        self._remind(now)

    # -- outputs ----------------------------------------------------------------------------------

    def _handle(self, change):
        if change is None:
            return
        self.changes += 1
        if change.kind == "change":
            level = logging.WARNING if change.severity > change.previous else logging.INFO
            log.log(level, "alarm %s: %s -> %s (%s)", change.alarm.name, change.previous.name,
                    change.severity.name, change.snapshot["message"])
        if self.history is not None:
            self.history.record(change)
        if self.publish is not None:
            try:
                self.publish(change)
            except Exception:  # a broken publisher must not stop notifications
                log.exception("alarm %s: publishing the change failed", change.alarm.name)
        for listener in self.listeners:
            try:
                listener(change)
            except Exception:  # a broken listener must not stop notifications
                log.exception("alarm %s: a listener of the change failed", change.alarm.name)
        payload = self.payload(change)
        for index, channel in enumerate(self.channels):
            if channel.wants(change):
                channel.put(payload)
                self._notified[index, change.alarm.name] = change.time

    def payload(self, change):
        """The notification dict of *change* (the alarm's snapshot plus node, time and kind)."""
        return dict(change.snapshot, node=self.node, time=change.time)

    def _remind(self, now):
        for index, channel in enumerate(self.channels):
            if not channel.repeat:
                continue
            for alarm in self._alarms.values():
                if alarm.acknowledged or alarm.severity < channel.min_severity:
                    continue
                last = self._notified.get((index, alarm.name), alarm.changed_at)
                if now - last >= channel.repeat:
                    snapshot = alarm.as_dict()
                    channel.put(dict(snapshot, node=self.node, time=now, previous=alarm.severity.name,
                                     kind="repeat"))
                    self._notified[index, alarm.name] = now

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self):
        """Start the history writer, the channels and the ticker; return self."""
        return super().start()

    def _start(self):
        if self.history is not None:
            self.history.start()
        for channel in self.channels:
            channel.start()
        self._greenlet = gevent.spawn(self._run)

    def _run(self):
        while True:
            gevent.sleep(self.tick)
            try:
                self.check()
            except Exception:  # the ticker must survive a bad alarm
                log.exception("alarm check failed")

    def stop(self, timeout=None):
        """Stop the ticker and the channels, then let the history write what is queued. Idempotent."""
        return super().stop(timeout)

    def _stop(self, timeout):
        greenlet, self._greenlet = self._greenlet, None
        if greenlet is not None:
            greenlet.kill()
        for channel in self.channels:
            channel.stop()
        if self.history is not None:
            self.history.stop(timeout=5.0 if timeout is None else timeout)

    def status(self):
        """Alarms, channels and history as a JSON-friendly dict."""
        return {
            "worst": self.worst.name,
            "alarms": self.as_list(),
            "channels": [channel.status() for channel in self.channels],
            "history": self.history.status() if self.history is not None else None,
        }
