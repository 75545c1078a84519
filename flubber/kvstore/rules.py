"""When a scheduled read of a key is broadcast (no I/O, no clock of its own).

A key with ``schedule_interval`` reads its value every so many seconds. Not
every read is worth a broadcast: :class:`BroadcastRule` decides, given the
value and the time (passed in, so tests use a fake clock):

* the first read is always broadcast;
* with neither rule set (both 0) every read is broadcast;
* ``max_interval > 0``: broadcast when at least that many seconds passed
  since the last broadcast;
* ``max_fractional_change > 0``: broadcast when the value moved by more than
  that fraction of the last broadcast value, ``|new - old| > f * |old|``.
  From a last value of 0 any change counts (the fraction is infinite) and no
  change does not: the formula never divides by zero. A value that is not a
  number is broadcast when it differs from the last one.

Broadcasts made for other reasons (``log_on_set``) are recorded with
:meth:`BroadcastRule.record` so the next scheduled read compares with them.
"""
import math


def as_number(value):
    """Return *value* as a finite float, or None if it is not a number (bools are not numbers)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class BroadcastRule:
    """The max_interval / max_fractional_change rule of one key.

    :param max_interval: seconds; > 0 broadcasts a read when that long passed
        since the last broadcast (0: off).
    :param max_fractional_change: > 0 broadcasts a read that differs from the
        last broadcast value by more than this fraction (0.1 is 10 %; 0: off).
    """

    __slots__ = ("max_interval", "max_fractional_change", "last_time", "last_value")

    def __init__(self, max_interval=0.0, max_fractional_change=0.0):
        #: Seconds (0: rule off).
        self.max_interval = max_interval
        #: Fraction (0: rule off).
        self.max_fractional_change = max_fractional_change
        #: Time of the last broadcast (None before the first).
        self.last_time = None
        #: Value of the last broadcast.
        self.last_value = None

    def reason(self, value, now):
        """Return why a read of *value* at *now* should be broadcast, or None if it should not."""
        if self.last_time is None:
            return "first value"
        if self.max_interval <= 0 and self.max_fractional_change <= 0:
            return "every read (no max_interval or max_fractional_change set)"
        if self.max_interval > 0 and now - self.last_time >= self.max_interval:
            return "max_interval %g s passed" % self.max_interval
        if self.max_fractional_change > 0 and self.changed_enough(value):
            return "changed by more than max_fractional_change %g" % self.max_fractional_change
        return None

    def changed_enough(self, value):
        """True if *value* differs from the last broadcast by more than the fraction."""
        new, old = as_number(value), as_number(self.last_value)
        if new is None or old is None:
            return value != self.last_value
        return abs(new - old) > self.max_fractional_change * abs(old)

    def record(self, value, now):
        """Note that *value* was broadcast at *now*."""
        self.last_time = now
        self.last_value = value

    def reset(self):
        """Forget the last broadcast: the next read is broadcast."""
        self.last_time = self.last_value = None
