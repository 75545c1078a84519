"""Split a byte stream into request lines, refusing overlong ones (no I/O).

The TCP transport reads whatever bytes arrived and feeds them here; every
complete line comes out at once, so a client that pipelines many requests
gets all replies written in one go. A line longer than the limit is not
buffered: its bytes are counted and dropped until its newline, then a
:class:`LineTooLong` stands in its place so the server can answer it with an
error and carry on with the next line.

Cost: every byte is searched for the newline once (new data only), so a
line arriving one byte at a time stays linear.
"""


class LineTooLong:
    """Marker for a line that was dropped for being longer than the limit."""

    __slots__ = ("length",)

    def __init__(self, length):
        #: How many bytes the line had (without the newline).
        self.length = length

    def __repr__(self):
        return "LineTooLong(%d)" % self.length


class LineSplitter:
    """Turn chunks of bytes into lines (without ``\\n``; a trailing ``\\r`` is kept).

    :param max_line: longest line kept; longer ones become :class:`LineTooLong`.
    """

    __slots__ = ("max_line", "_buffer", "_discarding")

    def __init__(self, max_line=1024 * 1024):
        #: Longest line (bytes, without the newline) that is returned.
        self.max_line = max_line
        self._buffer = bytearray()
        self._discarding = None  # bytes dropped so far of an overlong line, or None

    @property
    def pending(self):
        """Bytes of an unfinished line held (or being dropped)."""
        return self._discarding if self._discarding is not None else len(self._buffer)

    def feed(self, data):
        """Add *data*; return the list of complete lines (bytes or :class:`LineTooLong`)."""
        if not self._buffer and self._discarding is None and data.find(b"\n") == len(data) - 1:
            if len(data) - 1 <= self.max_line:  # the usual case: exactly one whole request
                return [data[:-1]]
        lines = []
        if self._discarding is not None:
            end = data.find(b"\n")
            if end < 0:
                self._discarding += len(data)
                return lines
            lines.append(LineTooLong(self._discarding + end))
            self._discarding = None
            data = data[end + 1:]
        if b"\n" not in data:
            self._keep(data)
            return lines
        if self._buffer:
            self._buffer += data
            data = bytes(self._buffer)
            self._buffer = bytearray()
        parts = data.split(b"\n")
        rest = parts.pop()
        limit = self.max_line
        for part in parts:
            lines.append(part if len(part) <= limit else LineTooLong(len(part)))
        self._keep(rest)
        return lines

    def _keep(self, data):
        if len(self._buffer) + len(data) > self.max_line:
            self._discarding = len(self._buffer) + len(data)
            self._buffer = bytearray()
        else:
            self._buffer += data

    def finish(self):
        """Return what is left at end of stream: a last line without newline, or None."""
        if self._discarding is not None:
            left, self._discarding = LineTooLong(self._discarding), None
            return left
        if self._buffer:
            left, self._buffer = bytes(self._buffer), bytearray()
            return left
        return None
