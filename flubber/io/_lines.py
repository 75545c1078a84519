"""Cut a byte stream into lines: the one line splitter of flubber (no I/O).

:class:`LineSplitter` is what :meth:`BaseStream.read_until
<flubber.io.BaseStream.read_until>` reads with (``overflow="raise"``), what
the KV store's TCP transport cuts requests with (``"discard"``) and what a
dump cuts a command's stderr with (``"split"``, :data:`UNIVERSAL_NEWLINE`).

Cost: the search for the line end goes through
:class:`~flubber.io._buffer.ReceiveBuffer`, which remembers how far it
looked, so a line of *n* bytes arriving in *k* pieces costs O(n + k) for a
line end of bounded width, not O(n * k). While nothing is held, lines are
cut straight out of the arriving bytes (the usual case of whole requests):
one whole line per chunk costs one ``find`` and no copy into the buffer.
"""
import re

from flubber.io._buffer import REGEX_LOOKBEHIND_MARGIN, ReceiveBuffer, compile_pattern
from flubber.io._exceptions import StreamBufferFullError

__all__ = ["LineSplitter", "LineTooLong", "UNIVERSAL_NEWLINE"]

#: Line ends as :meth:`bytes.splitlines` knows them: ``\r\n``, ``\n`` or a
#: lone ``\r``. A ``\r`` at the end of the data waits for the next byte,
#: which may make it ``\r\n``.
UNIVERSAL_NEWLINE = re.compile(rb"\r\n|\n|\r(?=.)", re.DOTALL)

_POLICIES = ("raise", "discard", "split")


class LineTooLong:
    """Stands in for a line dropped by ``overflow="discard"``; its bytes were not kept."""

    __slots__ = ("length",)

    def __init__(self, length):
        #: How many bytes the line had, its line end not counted.
        self.length = length

    def __repr__(self):
        return "LineTooLong(%d)" % self.length


class LineSplitter:
    """Turn chunks of bytes into complete lines, incrementally and with bounded memory.

    >>> lines = LineSplitter(b"\\n", max_line=100, keep_ends=False)
    >>> lines.feed(b"first\\nsec")
    [b'first']
    >>> lines.feed(b"ond\\n"), lines.feed(b"tail"), lines.finish()
    ([b'second'], [], b'tail')

    *max_line* bounds a line as it is handed back (with its line end when
    *keep_ends*, without it otherwise), and so the bytes held of an
    unfinished line. The *overflow* policy says what happens past it:

    ``"raise"``
        :class:`~flubber.io.StreamBufferFullError` (a stream then closes).
    ``"discard"``
        the line's bytes are counted and dropped as they arrive, so memory
        stays bounded, and a :class:`LineTooLong` stands in its place when its
        line end comes: a server can answer it with an error and go on.
    ``"split"``
        an unfinished line that outgrows *max_line* is handed back in pieces
        of *max_line* bytes (nothing is lost); lines that arrive whole in one
        :meth:`feed` come back whole.

    :param delimiter: the line end: non-empty bytes, or a compiled bytes
        pattern such as :data:`UNIVERSAL_NEWLINE`.
    :param max_line: longest line handed back, in bytes.
    :param overflow: ``"raise"``, ``"discard"`` or ``"split"``.
    :param keep_ends: hand lines back with their line end.
    :param buffer: the :class:`~flubber.io._buffer.ReceiveBuffer` that
        :meth:`feed` adds to (a new one when left out).
    :raises TypeError: for a *delimiter* that is neither bytes nor a compiled
        bytes pattern.
    :raises ValueError: for an unknown *overflow*, or ``"discard"`` with a
        pattern of unbounded width.
    """

    __slots__ = ("delimiter", "max_line", "overflow", "keep_ends", "_buffer", "_regex", "_size", "_overlap",
                 "_dropped", "_whole")

    def __init__(self, delimiter=b"\n", max_line=1024 * 1024, overflow="raise", keep_ends=True, buffer=None):
        if overflow not in _POLICIES:
            raise ValueError("overflow must be one of %s, got %r" % (", ".join(_POLICIES), overflow))
        if delimiter.__class__ is bytes and delimiter:
            self._regex = None
            self._size = len(delimiter)
            self._overlap = len(delimiter) - 1
        elif isinstance(delimiter, re.Pattern):
            self._regex, width = compile_pattern(delimiter)
            self._size = None
            if width is None and overflow == "discard":
                raise ValueError("overflow='discard' needs a line end of bounded width, not %r" % (delimiter.pattern,))
            self._overlap = (width or 0) + REGEX_LOOKBEHIND_MARGIN
        elif isinstance(delimiter, (bytes, bytearray)) and delimiter:
            delimiter = bytes(delimiter)
            self._regex = None
            self._size = len(delimiter)
            self._overlap = len(delimiter) - 1
        else:
            raise TypeError("the line end must be non-empty bytes or a compiled bytes pattern, got %r" % (delimiter,))
        #: The line end (bytes or a compiled pattern).
        self.delimiter = delimiter
        #: Longest line handed back, bytes.
        self.max_line = max_line
        #: The overflow policy: ``"raise"``, ``"discard"`` or ``"split"``.
        self.overflow = overflow
        #: Whether lines keep their line end.
        self.keep_ends = keep_ends
        self._buffer = ReceiveBuffer() if buffer is None else buffer
        self._dropped = None  # bytes dropped so far of an overlong line, or None
        self._whole = keep_ends and overflow != "discard"  # a line within the limit is just taken

    @property
    def pending(self):
        """Bytes of the unfinished line: held, or counted while it is being dropped."""
        return len(self._buffer) + (self._dropped or 0)

    def feed(self, data):
        """Add *data*; return the list of lines it completed.

        Under ``"discard"`` a dropped line is a :class:`LineTooLong`; under
        ``"split"`` a piece of an overlong line is a line too.

        :raises StreamBufferFullError: under ``"raise"``, at the first line
            longer than :attr:`max_line`; the lines before it in *data* are
            lost with it (read them one by one with :meth:`read_line` to keep them).
        """
        buffer = self._buffer
        if not buffer and self._regex is None and self._dropped is None:
            size = self._size
            if data.find(self.delimiter) == len(data) - size >= 0:  # the usual case: exactly one whole line
                if (len(data) if self.keep_ends else len(data) - size) <= self.max_line or self.overflow == "split":
                    return [data if self.keep_ends else data[:-size]]
            lines = []
            data = self._cut(data, lines)
            if not data:
                return lines
            buffer.feed(data)  # the rest holds no line end: no search
        else:
            lines = []
            buffer.feed(data)
            find, target = (buffer.find_delimiter, self.delimiter) if self._regex is None else \
                (buffer.find_regex, self._regex)
            while True:
                end = find(target)
                if end <= 0:
                    if end == 0:
                        raise ValueError("the line end %r matched no bytes; give a pattern that matches at least one"
                                         % (self._regex.pattern,))
                    break
                lines.append(self._take(buffer, end))
                if not buffer:
                    break
        while len(buffer) > self._held_limit() or self._dropped is not None:
            piece = self._held_too_long(buffer)
            if piece is None:
                break
            lines.append(piece)
        return lines

    def finish(self):
        """Return what is left at the end of the data as a last line (without a line end), or None; reset.

        :raises StreamBufferFullError: under ``"raise"`` when it is longer than :attr:`max_line`.
        """
        return self._finish(self._buffer)

    def _finish(self, buffer):
        dropped, self._dropped = self._dropped, None
        if dropped is not None:
            rest = len(buffer)
            buffer.take_all()
            return LineTooLong(dropped + rest)
        if not buffer:
            return None
        if len(buffer) > self.max_line and self.overflow != "split":
            return self._too_long(len(buffer), len(buffer))
        return buffer.take_all()

    def read_line(self, fill, buffer=None):
        """Return the next line, calling *fill* whenever more data is needed.

        *fill* adds bytes to *buffer* (default: the splitter's own) and
        returns False at the end of the data; then the rest comes back as the
        last line, and ``b""`` once nothing is left. This is
        :meth:`~flubber.io.BaseStream.read_until`'s loop; under ``"raise"`` a
        splitter keeps no state of its own, so one splitter serves the
        buffers of many streams.

        :raises StreamBufferFullError: under ``"raise"``, for a line longer
            than :attr:`max_line`; the buffer keeps it.
        """
        if buffer is None:
            buffer = self._buffer
        if self._regex is None:
            find, target = buffer.find_delimiter, self.delimiter
        else:
            find, target = buffer.find_regex, self._regex
        limit, whole, held = self.max_line, self._whole, self._held_limit()
        while True:
            end = find(target)
            if end >= 0:
                if whole and end <= limit:
                    return buffer.take(end)
                return self._take(buffer, end)
            if len(buffer) > held or self._dropped is not None:
                piece = self._held_too_long(buffer)
                if piece is not None:
                    return piece
            if not fill():
                last = self._finish(buffer)
                return b"" if last is None else last

    def _held_limit(self):
        """Most bytes an unfinished line may hold: :attr:`max_line`, plus, when lines lose their line end,
        the start of a line end that may follow a line of exactly :attr:`max_line` bytes."""
        return self.max_line if self.keep_ends else self.max_line + self._overlap

    def _cut(self, data, lines):
        """Append the lines of *data* to *lines* while nothing is held (no copy into the buffer); return the rest."""
        delimiter, size = self.delimiter, self._size
        limit = self.max_line if self.overflow != "split" else None
        if not self.keep_ends:  # bytes.split does the searching in C
            parts = data.split(delimiter)
            rest = parts.pop()
            if limit is None:
                lines.extend(parts)
            else:
                for part in parts:
                    lines.append(part if len(part) <= limit else self._too_long(len(part), len(part)))
            return rest
        start = 0
        find = data.find
        while True:
            index = find(delimiter, start)
            if index < 0:
                return data[start:] if start else data
            end = index + size
            if limit is not None and end - start > limit:
                lines.append(self._too_long(end - start, index - start))
            else:
                lines.append(data[start:end])
            start = end

    def _end_size(self, buffer):
        """Bytes of the line end that the last successful search of *buffer* found."""
        if self._regex is None:
            return self._size
        match = buffer.search_regex(self._regex)  # the same first match again
        return match.end() - match.start()

    def _take(self, buffer, end):
        """Take the line that ends at offset *end* from *buffer*, applying the limit."""
        dropped = self._dropped
        if dropped is not None:
            self._dropped = None
            size = self._end_size(buffer)
            buffer.take(end)
            return LineTooLong(dropped + end - size)
        keep_ends = self.keep_ends
        if keep_ends and (end <= self.max_line or self.overflow == "split"):
            return buffer.take(end)
        size = self._size if self._regex is None else self._end_size(buffer)
        length = end if keep_ends else end - size
        if length > self.max_line and self.overflow != "split":
            line = self._too_long(length, end - size)  # raises under "raise": the buffer keeps the line
            buffer.take(end)
            return line
        return buffer.take(end) if keep_ends else buffer.take(end)[:-size]

    def _held_too_long(self, buffer):
        """Apply the policy to an unfinished line past :attr:`max_line`; return a piece (``"split"``) or None."""
        if self.overflow == "split":
            return buffer.take(self.max_line)
        if self.overflow == "raise":
            raise self._error(len(buffer))
        drop = len(buffer) - self._overlap  # keep what may be the start of the line end
        self._dropped = (self._dropped or 0) + max(drop, 0)
        if drop > 0:
            buffer.take(drop)
        return None

    def _too_long(self, length, content):
        """Raise under ``"raise"``; else return the :class:`LineTooLong` of a line of *content* bytes."""
        if self.overflow == "raise":
            raise self._error(length)
        return LineTooLong(content)

    def _error(self, length):
        return StreamBufferFullError(
            "a line of more than %d bytes arrived (%d so far); raise max_line if such long lines are expected"
            % (self.max_line, length)
        )

    def __repr__(self):
        delimiter = self.delimiter.pattern if self._regex is not None else self.delimiter
        return "LineSplitter(%r, max_line=%d, overflow=%r)" % (delimiter, self.max_line, self.overflow)
