"""Alarm states: limits on one value, and the state machine that follows it.

An :class:`Alarm` watches one codename (or KV key). Each reading goes to
:meth:`Alarm.update`; a ticker calls :meth:`Alarm.check` so that a delay can
expire and a silent value can go stale. Every change of state comes back as an
:class:`AlarmChange`, once, which the :class:`~flubber.alarms.AlarmBoard`
turns into a history row, a dripline alert and notifications.

The rules follow EPICS records: ``hihi``/``lolo`` raise MAJOR, ``high``/``low``
raise MINOR, a value leaves a state only once it is ``deadband`` back inside
the limit, a state is raised only when the value stayed beyond the limit for
``delay`` seconds, and a value without a reading for ``stale`` seconds (or an
instrument that keeps failing) is INVALID.
"""
import enum
import math

__all__ = ["Severity", "AlarmLimits", "Alarm", "AlarmChange"]


class Severity(enum.IntEnum):
    """How bad an alarm is; larger is worse (EPICS' order)."""

    OK = 0
    MINOR = 1
    MAJOR = 2
    INVALID = 3

    @classmethod
    def parse(cls, text):
        """Return the severity named *text* (any case); raise ValueError naming the choices."""
        if isinstance(text, cls):
            return text
        try:
            return cls[str(text).strip().upper()]
        except KeyError:
            raise ValueError("severity %r is not one of %s" % (text, ", ".join(s.name for s in cls))) from None


#: Which side of a limit trips, and the severity it raises.
_CONDITIONS = (
    ("hihi", Severity.MAJOR, 1),
    ("lolo", Severity.MAJOR, -1),
    ("high", Severity.MINOR, 1),
    ("low", Severity.MINOR, -1),
)
_SIDE = {name: side for name, _, side in _CONDITIONS}


class AlarmLimits:
    """The limits of one alarm (any may be None: that limit is not checked).

    :param high: MINOR above. :param hihi: MAJOR above.
    :param low: MINOR below. :param lolo: MAJOR below.
    :param deadband: how far back inside a limit a value must come to leave its state.
    :param delay: seconds a value must stay beyond a limit before the alarm is raised.
    :param stale: seconds without a reading before the alarm goes INVALID (None: never).
    """

    def __init__(self, high=None, hihi=None, low=None, lolo=None, deadband=0.0, delay=0.0, stale=None):
        self.high, self.hihi, self.low, self.lolo = high, hihi, low, lolo
        self.deadband = float(deadband)
        self.delay = float(delay)
        self.stale = None if stale is None else float(stale)

    def limit(self, condition):
        """Return the limit named *condition* (``"hihi"``, ``"high"``, ``"low"``, ``"lolo"``)."""
        return getattr(self, condition)

    def level(self, value):
        """Return ``(severity, condition)`` of *value* against the limits, without deadband."""
        for condition, severity, side in _CONDITIONS:
            limit = self.limit(condition)
            if limit is not None and (value - limit) * side > 0:
                return severity, condition
        return Severity.OK, ""

    def holds(self, condition, value):
        """True while *value* is still within the deadband of the limit of *condition*."""
        limit = self.limit(condition) if condition in _SIDE else None
        if limit is None:
            return False
        return (value - (limit - _SIDE[condition] * self.deadband)) * _SIDE[condition] > 0

    def as_dict(self):
        """The limits as a JSON-friendly dict (None for an unset limit)."""
        return {"high": self.high, "hihi": self.hihi, "low": self.low, "lolo": self.lolo,
                "deadband": self.deadband, "delay": self.delay, "stale": self.stale}


class AlarmChange:
    """One change of state of an alarm: what it was, what it is, and a snapshot."""

    __slots__ = ("alarm", "previous", "severity", "time", "kind", "snapshot")

    def __init__(self, alarm, previous, kind="change"):
        self.alarm = alarm
        self.previous = previous
        self.severity = alarm.severity
        self.time = alarm.changed_at
        #: ``"change"`` (a new state), ``"ack"`` (acknowledged) or ``"repeat"`` (a reminder).
        self.kind = kind
        self.snapshot = alarm.as_dict()
        self.snapshot["previous"] = previous.name
        self.snapshot["kind"] = kind

    def __repr__(self):
        return "AlarmChange(%s: %s -> %s)" % (self.alarm.name, self.previous.name, self.severity.name)


class Alarm:
    """The alarm state of one value.

    :param name: the alarm's name (the codename or KV key it watches).
    :param limits: an :class:`AlarmLimits`.
    :param now: the time the alarm starts watching (for ``stale`` before the first reading).
    """

    def __init__(self, name, limits, now=0.0):
        self.name = name
        self.limits = limits
        #: The current :class:`Severity`.
        self.severity = Severity.OK
        #: What tripped it: ``hihi``, ``high``, ``low``, ``lolo``, ``stale``, ``failing`` or ``""``.
        self.condition = ""
        #: False from a raise until someone acknowledges it.
        self.acknowledged = True
        #: When the current episode was raised (None while OK).
        self.raised_at = None
        #: When the state last changed.
        self.changed_at = now
        #: The worst value of the current (or last) episode.
        self.worst = None
        #: The last value read (None before the first reading).
        self.value = None
        #: When the last value was read.
        self.updated_at = None
        #: Why the alarm is INVALID, when it is.
        self.message = ""
        self._watch_since = now
        self._pending = None  # (severity, condition, since) while a raise waits for its delay

    # -- inputs ---------------------------------------------------------------------------------

    def update(self, value, now):
        """Take a reading; return an :class:`AlarmChange` when the state changed, else None."""
        value = float(value)
        self.value = value
        self.updated_at = now
        if math.isnan(value):
            return self._invalid("failing", "the value is not a number", now)
        if self.severity == Severity.INVALID:
            self._pending = None
            severity, condition = self.limits.level(value)
            return self._change(severity, condition, now)
        self._track_worst(value)
        return self._evaluate(value, now)

    def check(self, now):
        """Let a delay expire or a silent value go stale; return an :class:`AlarmChange` or None."""
        stale = self.limits.stale
        if stale is not None and self.severity != Severity.INVALID:
            last = self.updated_at if self.updated_at is not None else self._watch_since
            if now - last > stale:
                return self._invalid("stale", "no reading for %.3g s (stale after %g s)" % (now - last, stale), now)
        if self._pending is not None and self.value is not None and self.severity != Severity.INVALID:
            return self._evaluate(self.value, now)
        return None

    def fail(self, message, now):
        """The value cannot be read (an instrument keeps failing): go INVALID; return the change or None."""
        return self._invalid("failing", message, now)

    def acknowledge(self, now):
        """Acknowledge the alarm; return an ``"ack"`` :class:`AlarmChange`, or None when nothing to do."""
        if self.acknowledged:
            return None
        self.acknowledged = True
        return AlarmChange(self, self.severity, kind="ack")

    # -- the state machine ------------------------------------------------------------------------

    def _evaluate(self, value, now):
        severity, condition = self.limits.level(value)
        if severity < self.severity and self.limits.holds(self.condition, value):
            severity, condition = self.severity, self.condition
        if severity > self.severity:
            if self._pending is None:
                self._pending = (severity, condition, now)
            else:
                self._pending = (severity, condition, self._pending[2])
            if now - self._pending[2] < self.limits.delay:
                return None
        else:
            self._pending = None
        if (severity, condition) == (self.severity, self.condition):
            return None
        return self._change(severity, condition, now)

    def _invalid(self, condition, message, now):
        self.message = message
        if self.severity == Severity.INVALID and self.condition == condition:
            return None
        self._pending = None
        return self._change(Severity.INVALID, condition, now)

    def _change(self, severity, condition, now):
        previous = self.severity
        if (severity, condition) == (previous, self.condition):
            return None
        self.severity, self.condition, self.changed_at = severity, condition, now
        self._pending = None
        if severity != Severity.INVALID:
            self.message = ""
        if severity > previous:
            self.acknowledged = False
            if previous == Severity.OK:
                self.raised_at = now
                self.worst = self.value
        self._track_worst(self.value)
        return AlarmChange(self, previous)

    def _track_worst(self, value):
        if value is None or self.severity == Severity.OK or self.condition not in _SIDE:
            return
        side = _SIDE[self.condition]
        if self.worst is None or (value - self.worst) * side > 0:
            self.worst = value

    # -- views ------------------------------------------------------------------------------------

    def describe(self):
        """One line saying what the alarm is: ``temperature MAJOR: 125.3 above hihi 120``."""
        if self.severity == Severity.OK:
            return "%s OK (%s)" % (self.name, "no reading yet" if self.value is None else "%.6g" % self.value)
        if self.condition in _SIDE:
            word = "above" if _SIDE[self.condition] > 0 else "below"
            return "%s %s: %.6g %s %s %.6g" % (self.name, self.severity.name, self.value, word, self.condition,
                                               self.limits.limit(self.condition))
        return "%s %s: %s" % (self.name, self.severity.name, self.message)

    def as_dict(self):
        """A JSON-friendly snapshot of the alarm."""
        return {
            "name": self.name,
            "severity": self.severity.name,
            "condition": self.condition,
            "acknowledged": self.acknowledged,
            "raised_at": self.raised_at,
            "changed_at": self.changed_at,
            "value": self.value,
            "worst": self.worst,
            "updated_at": self.updated_at,
            "message": self.describe(),
            "limits": self.limits.as_dict(),
        }

    def __repr__(self):
        return "<Alarm %s>" % self.describe()
