"""Min/max decimation of a time series (no I/O).

A plot of a day of 0.5 s readings has 172 800 points per series; a browser
needs a few thousand. Averaging or taking every n-th point hides a spike of
one reading. :class:`MinMaxDecimator` splits the requested time range into
equal buckets and keeps, per bucket, the point with the smallest and the one
with the largest value, in time order: every spike survives, and a line drawn
through the kept points has the envelope of the full series.

Points are fed in time order, one at a time (from a database cursor), so
memory is O(max_points) whatever the number of rows.
"""

__all__ = ["MinMaxDecimator", "decimate"]


class MinMaxDecimator:
    """Keep at most *max_points* points of a series spanning ``[start, end)``.

    :param start: first time of the range (seconds).
    :param end: end of the range (seconds, > *start*).
    :param max_points: the most points :meth:`points` returns (>= 2); 0 or
        None keeps every point.

    While at most *max_points* points came in, they are all kept as given;
    past that, they are re-sorted into ``max_points // 2`` buckets of equal
    width, each keeping its minimum and maximum. Points whose value is
    ``None`` (NaN in the database) are counted but never kept: a line is
    not drawn through them.
    """

    def __init__(self, start, end, max_points):
        if max_points and max_points < 2:
            raise ValueError("max_points must be at least 2 (a minimum and a maximum), got %r" % (max_points,))
        if not end > start:
            raise ValueError("the range must end after it starts, got %r to %r" % (start, end))
        self.start = float(start)
        self.end = float(end)
        self.max_points = max_points or 0
        #: Points fed so far (including those with a None value).
        self.count = 0
        self._raw = []
        self._buckets = None
        self._width = 0.0
        self._index = None
        self._low = self._high = None
        self._kept = []

    @property
    def decimated(self):
        """True once more than *max_points* points came in and buckets are used."""
        return self._buckets is not None

    def add(self, time, value):
        """Feed one point; *time* must not be smaller than the previous one's."""
        self.count += 1
        if value is None:
            return
        if self._buckets is None:
            self._raw.append((time, value))
            if self.max_points and len(self._raw) > self.max_points:
                self._switch_to_buckets()
            return
        self._bucket_add(time, value)

    def _switch_to_buckets(self):
        self._buckets = max(1, self.max_points // 2)
        self._width = (self.end - self.start) / self._buckets
        raw, self._raw = self._raw, []
        for time, value in raw:
            self._bucket_add(time, value)

    def _bucket_add(self, time, value):
        index = int((time - self.start) // self._width)
        index = min(max(index, 0), self._buckets - 1)
        if index != self._index:
            self._flush()
            self._index = index
            self._low = self._high = (time, value)
            return
        if value < self._low[1]:
            self._low = (time, value)
        if value > self._high[1]:
            self._high = (time, value)

    def _flush(self):
        if self._index is None:
            return
        low, high = self._low, self._high
        if low is high:
            self._kept.append(low)
        elif low[0] <= high[0]:
            self._kept.append(low)
            self._kept.append(high)
        else:
            self._kept.append(high)
            self._kept.append(low)
        self._index = None

    def points(self):
        """Return the kept points, a list of ``(time, value)`` in time order."""
        if self._buckets is None:
            return list(self._raw)
        self._flush()
        return list(self._kept)


def decimate(points, start, end, max_points):
    """Return at most *max_points* of *points* (``(time, value)`` pairs in time order).

    The minimum and maximum of every bucket are kept (see
    :class:`MinMaxDecimator`), so a single spike is never lost.
    """
    decimator = MinMaxDecimator(start, end, max_points)
    for time, value in points:
        decimator.add(time, value)
    return decimator.points()
