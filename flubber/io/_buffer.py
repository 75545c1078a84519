"""The receive buffer of a stream: incremental search and limits, no I/O.

Received chunks are kept as they came while they are read (a chunk that is
one whole line goes back to the reader without a copy); while a long line
grows over many chunks they are appended to one :class:`bytearray`
(CPython deletes from the front of a bytearray without moving the rest, so
taking is cheap). The buffer remembers how far a failed
search has looked, so the next search after more data arrives starts where
the last one stopped: reading a line of *n* bytes that arrives in *k* pieces
costs O(n + k * len(delimiter)) for a delimiter, not O(n * k).

For a regular expression the resumed search starts ``max width - 1`` bytes
before the old end when the pattern's longest match is bounded (``\\r?\\n``,
``>\\s{0,8}$``); a pattern with unbounded width (``.*\\n``) is searched again
from the start, which is O(n * k) in the worst case.
"""
import functools
import re

try:
    from re import _parser as _sre_parse  # Python >= 3.11
except ImportError:  # pragma: no cover - older Pythons
    import sre_parse as _sre_parse

_MAXREPEAT = _sre_parse.MAXREPEAT

#: Extra bytes a resumed regex search looks back, for look-behind assertions.
REGEX_LOOKBEHIND_MARGIN = 64


@functools.lru_cache(maxsize=256)
def compile_pattern(regex):
    """Return ``(compiled, max_width)`` for *regex* (bytes, str or compiled), cached.

    *max_width* is the longest possible match, or ``None`` when unbounded.
    """
    if isinstance(regex, str):
        regex = regex.encode("utf-8")
    compiled = regex if isinstance(regex, re.Pattern) else re.compile(regex)
    if not isinstance(compiled.pattern, bytes):
        raise TypeError("read_until_regex() needs a bytes pattern, got %r" % (compiled.pattern,))
    try:
        width = _sre_parse.parse(compiled.pattern, compiled.flags).getwidth()[1]
    except Exception:  # the parser is private API; fall back to a full search
        width = _MAXREPEAT
    return compiled, (None if width >= _MAXREPEAT else width)


class ReceiveBuffer:
    """Bytes received and not yet read, with resumable searches.

    >>> buf = ReceiveBuffer()
    >>> buf.feed(b"hello wor")
    >>> buf.find_delimiter(b"\\n")
    -1
    >>> buf.feed(b"ld\\nrest")
    >>> buf.take(buf.find_delimiter(b"\\n"))
    b'hello world\\n'

    Two ways of holding the bytes, whichever copies less: the received
    :class:`bytes` object itself with an offset of what was taken (a chunk
    that is one whole line is handed back as it came, without a copy; lines
    cut from a chunk are one slice each), or a :class:`bytearray` once more
    bytes are held than arrive at once (a long line in many pieces: appended
    in place, linear).
    """

    __slots__ = ("_data", "_pos", "_scanned", "_scan_key", "_lent", "_lent_lines", "_lent_end")

    def __init__(self):
        self._data = b""  # bytes (read from _pos on) or bytearray (_pos is 0)
        self._pos = 0
        # how many leading bytes the last failed search covered, and for what
        self._scanned = 0
        self._scan_key = None
        # lines handed out by lend_lines: their iterator, their list and the
        # offset after the last of them (_pos stays at the first until settled)
        self._lent = None
        self._lent_lines = None
        self._lent_end = 0

    def __len__(self):
        return len(self._data) - self._pos

    def __bool__(self):
        return len(self._data) > self._pos

    def feed(self, data):
        """Append *data* at the end."""
        held = self._data
        pos = self._pos
        if len(held) == pos:  # empty: keep the chunk as it came
            self._data = data if data.__class__ is bytes else bytes(data)
            self._pos = 0
        elif held.__class__ is bytes:
            if len(held) - pos <= len(data):  # a small rest: one copy, stays a bytes object
                self._data = b"".join((memoryview(held)[pos:], data))
            else:  # a long line growing: append in place from now on
                held = bytearray(memoryview(held)[pos:])
                held += data
                self._data = held
            self._pos = 0
        elif len(held) <= len(data):  # the long line ended: back to one bytes object
            self._data = b"".join((held, data))
        else:
            held += data

    def lend_lines(self, limit):
        """Cut every whole ``b"\\n"``-ended line held into a list; return an iterator over them, or None.

        None when no whole line is held, or when the first one is longer than
        *limit*. The buffer still holds the lines: it removes those the
        iterator has given out when :meth:`settle` is called, which every
        other use of the buffer must do first. Settling ends the iterator, so
        a line is never handed out twice. Lines are cut by
        :meth:`bytes.splitlines` in C when every ``b"\\r"`` is part of a
        ``b"\\r\\n"`` (the two then cut at the same places), else one by one.
        """
        data = self._data
        pos = self._pos
        if data.__class__ is not bytes:
            return None
        size = len(data)
        if size == pos:
            return None
        carriage = data.find(b"\r", pos)
        if size - pos <= limit and (carriage < 0 or data.count(b"\r", carriage) == data.count(b"\r\n", carriage)):
            lines = (data[pos:] if pos else data).splitlines(True)
            end = size
            if data[-1] != 10:  # the last line is not whole yet
                end -= len(lines.pop())
        else:
            lines = []
            end = pos
            find = data.find
            while True:
                stop = find(b"\n", end) + 1
                if not stop or stop - end > limit:
                    break
                lines.append(data[end:stop])
                end = stop
        if not lines:
            return None
        self._scan_key = None
        self._lent_lines = lines
        self._lent_end = end
        self._lent = lent = iter(lines)
        return lent

    def settle(self):
        """Remove the lines the iterator of :meth:`lend_lines` gave out, and end that iterator."""
        lent, lines = self._lent, self._lent_lines
        if lent is None:
            return
        self._lent = self._lent_lines = None
        left = lent.__length_hint__()
        if left:
            given = len(lines) - left
            end = self._pos + sum(map(len, lines[:given]))
            lines.clear()  # the iterator stops here
        else:
            end = self._lent_end
        if end == len(self._data):
            self._data = b""
            self._pos = 0
        else:
            self._pos = end

    def take(self, nbytes):
        """Remove and return up to *nbytes* bytes from the front."""
        data = self._data
        pos = self._pos
        end = pos + nbytes
        self._scan_key = None
        if end >= len(data):
            self._data = b""
            self._pos = 0
            if pos:
                return data[pos:]
            return data if data.__class__ is bytes else bytes(data)
        if data.__class__ is bytes:
            self._pos = end
            return data[pos:end]
        result = bytes(data[:nbytes])
        del data[:nbytes]
        return result

    def take_all(self):
        """Remove and return everything."""
        return self.take(len(self._data) - self._pos)

    def _resume_from(self, key, overlap):
        if self._scan_key != key:
            return 0
        return max(0, self._scanned - overlap)

    def _remember(self, key):
        data = self._data
        if self._pos:  # keep only the unread rest, not the whole chunk it came in
            data = self._data = data[self._pos:]
            self._pos = 0
        self._scan_key = key
        self._scanned = len(data)

    def find_delimiter(self, delimiter):
        """Return the end offset of the first *delimiter* (the delimiter included), or -1."""
        pos = self._pos
        start = self._resume_from(delimiter, len(delimiter) - 1) if self._scan_key is not None else 0
        index = self._data.find(delimiter, pos + start)
        if index < 0:
            self._remember(delimiter)
            return -1
        return index - pos + len(delimiter)

    def find_regex(self, regex):
        """Return the end offset of the first match of *regex* (bytes or compiled), or -1."""
        match = self.search_regex(regex)
        return -1 if match is None else match.end()

    def search_regex(self, regex):
        """Return the first match of *regex* (bytes or compiled) as a :class:`re.Match`, or None.

        Its offsets count from the first unread byte and are valid until the next :meth:`take`.
        """
        compiled, width = compile_pattern(regex)
        if width is None:
            start = 0
        else:
            start = self._resume_from(compiled, width + REGEX_LOOKBEHIND_MARGIN)
        data = self._data
        if self._pos:  # the pattern sees the unread bytes only (anchors, look-behind)
            data = memoryview(data)[self._pos:]
        match = compiled.search(data, start)
        if match is None:
            self._remember(compiled)
        return match
