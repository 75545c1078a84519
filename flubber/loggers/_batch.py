"""The logger's bookkeeping without I/O: points, the queue, time text, back-off.

A queued point is the tuple ``(seq, codename, unixtime, value)``:

* ``seq`` -- the logger's running number, strictly increasing in enqueue
  order. With ``origin`` (a random 63-bit number per logger, kept in the
  spool across restarts) it names the point uniquely; tables made by
  :func:`~flubber.loggers.create_tables` have a unique key on
  ``(origin, seq)`` so a batch sent twice is stored once.
* ``unixtime`` -- a float, validated at enqueue (see :func:`validate_time`).
* ``value`` -- a float, or ``None`` for NaN and infinities (stored as NULL).

Everything here is plain Python, unit-tested without a database.
"""
import decimal
import numbers
import random
import time
from collections import deque
from itertools import islice

from flubber.loggers._exceptions import InvalidPointError

#: Smallest unix time accepted: 1970-01-01 00:00:01 UTC, the start of the
#: SQL ``TIMESTAMP`` range.
TIME_MIN = 1.0
#: Largest unix time accepted: 2038-01-19 03:14:07 UTC, the end of the SQL
#: ``TIMESTAMP`` range (cinfdata tables use that type).
TIME_MAX = 2147483647.0


def _is_number(obj):
    """Return True for a real number that is not a bool."""
    return (isinstance(obj, numbers.Real) or isinstance(obj, decimal.Decimal)) and not isinstance(obj, bool)


def validate_time(unixtime):
    """Return *unixtime* as a float, or raise :class:`InvalidPointError`.

    Accepted: any real number (int, float, numpy scalars, ``Decimal``)
    between :data:`TIME_MIN` and :data:`TIME_MAX` inclusive; NaN and
    infinities are refused because they name no time.
    """
    if type(unixtime) is not float:
        if not _is_number(unixtime):
            raise InvalidPointError(
                "the time of a point must be a unix time in seconds (a number), got %r" % (unixtime,))
        try:
            unixtime = float(unixtime)
        except (OverflowError, ValueError):
            unixtime = float("nan")
    if not TIME_MIN <= unixtime <= TIME_MAX:  # also false for NaN
        raise InvalidPointError(
            "the time of a point must be a unix time between %d (1970-01-01 00:00:01 UTC) and %d "
            "(2038-01-19 03:14:07 UTC), got %r" % (TIME_MIN, TIME_MAX, unixtime))
    return unixtime


def validate_value(value):
    """Return *value* as a float, ``None`` for NaN or an infinity.

    Anything but a real number (``bool``, ``str``, ``None`` ...) raises
    :class:`InvalidPointError`; so does an integer too large for a double.
    """
    if type(value) is not float:
        if not _is_number(value):
            raise InvalidPointError(
                "the value of a point must be a number (int or float; NaN and infinities are "
                "stored as NULL), got %r of type %s" % (value, type(value).__name__))
        try:
            value = float(value)
        except OverflowError:
            raise InvalidPointError("the value %r does not fit a double" % (value,)) from None
    if value - value == 0.0:  # finite: inf - inf and nan - nan are nan
        return value
    return None


def validate_point(point):
    """Split *point* into ``(unixtime, value)`` validated by the two functions above."""
    try:
        unixtime, value = point
    except (TypeError, ValueError):
        raise InvalidPointError(
            "a point must be a (unixtime, value) pair, got %r" % (point,)) from None
    return validate_time(unixtime), validate_value(value)


class UTCText:
    """Format unix times as ``'YYYY-MM-DD HH:MM:SS.ffffff'`` in UTC.

    The text of a whole second is cached, so consecutive points of one
    second cost one ``%`` format each. The microseconds are rounded (a float
    near 1.7e9 carries about 0.2 us of precision). Safe to share between
    threads: the cache is one tuple, replaced whole.
    """

    def __init__(self):
        self._cache = (None, "")

    def __call__(self, unixtime):
        second = int(unixtime)
        micro = int((unixtime - second) * 1e6 + 0.5)
        if micro >= 1000000:
            second += 1
            micro -= 1000000
        cache = self._cache
        if cache[0] != second:
            cache = (second, time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(second)))
            self._cache = cache
        return "%s.%06d" % (cache[1], micro)


def new_origin():
    """Return a random origin number: 63 bits, positive in every SQL BIGINT."""
    return random.SystemRandom().getrandbits(63) or 1


class MemoryQueue:
    """The logger's queue when no spool is configured: a deque in memory.

    Points leave only through :meth:`discard`, after the database confirmed
    them, so a failed batch stays at the head and order is never lost.
    """

    #: No file behind this queue.
    path = None

    def __init__(self):
        self._points = deque()
        #: The unresolved batch whose COMMIT reply was lost, or None; see
        #: :class:`flubber.loggers._spool.SpoolQueue`.
        self.in_doubt = None
        #: Identity (a dict) of the last server connection, ended before a
        #: doubt is resolved.
        self.session = None
        self.origin = new_origin()
        self.next_seq = 1

    def __len__(self):
        return len(self._points)

    def append(self, point):
        """Queue *point* at the tail."""
        self._points.append(point)

    def peek(self, limit, skip=0):
        """Return up to *limit* points after the first *skip*, without removing them."""
        return list(islice(self._points, skip, skip + limit))

    def discard(self, batch):
        """Remove *batch*, which must be the head of the queue, and any in-doubt record."""
        points = self._points
        if not batch:
            return
        if points[0][0] != batch[0][0]:
            raise RuntimeError("discard of a batch that is not the head of the queue")
        for _ in range(len(batch)):
            points.popleft()
        self.in_doubt = None  # as the spool: a discarded batch is settled

    def set_in_doubt(self, record):
        """Remember the batch whose commit outcome is unknown (or None)."""
        self.in_doubt = record

    def set_session(self, session):
        """Remember the identity of the open server connection (or None)."""
        self.session = session

    def codenames(self):
        """Return the set of codenames of the queued points."""
        return {point[1] for point in self._points}

    def pending(self):
        """Return the queued points as ``(codename, unixtime, value)`` tuples."""
        return [(point[1], point[2], point[3]) for point in self._points]

    def flush(self):
        """Nothing to write: memory is the queue."""

    def close(self):
        """Forget nothing: a restarted logger sends what is still queued."""


class Backoff:
    """Capped exponential back-off delays, with jitter.

    The first delay after a success is 0 (reconnect at once: a killed
    connection usually comes back immediately); then *initial*, doubling up
    to *maximum*, each multiplied by a random factor in ``1 +- jitter`` so
    that many loggers do not hammer a rebooted server in step. No delay
    is ever longer than *maximum*.
    """

    def __init__(self, initial=0.05, maximum=30.0, factor=2.0, jitter=0.2, rng=random.random):
        if initial <= 0 or maximum < initial or factor < 1:
            raise ValueError("need 0 < initial <= maximum and factor >= 1")
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self._rng = rng
        #: Failed attempts since the last :meth:`reset`.
        self.failures = 0

    def next_delay(self):
        """Count a failure and return how long to wait before the next attempt."""
        self.failures += 1
        if self.failures == 1:
            return 0.0
        delay = self.initial * self.factor ** min(self.failures - 2, 64)
        return min(self.maximum, delay * (1.0 + self.jitter * (2.0 * self._rng() - 1.0)))

    def reset(self):
        """Forget the failures after a success."""
        self.failures = 0
