"""The receive buffer of a stream: incremental search and limits, no I/O.

Data is appended at the end and taken from the front of one
:class:`bytearray` (CPython deletes from the front of a bytearray without
moving the rest, so taking is cheap). The buffer remembers how far a failed
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
    """

    __slots__ = ("_data", "_scanned", "_scan_key")

    def __init__(self):
        self._data = bytearray()
        # how many leading bytes the last failed search covered, and for what
        self._scanned = 0
        self._scan_key = None

    def __len__(self):
        return len(self._data)

    def __bool__(self):
        return bool(self._data)

    def feed(self, data):
        """Append *data* at the end."""
        self._data += data

    def take(self, nbytes):
        """Remove and return up to *nbytes* bytes from the front."""
        data = self._data
        if nbytes >= len(data):
            result = bytes(data)
            data.clear()
        else:
            result = bytes(data[:nbytes])
            del data[:nbytes]
        self._scan_key = None
        return result

    def take_all(self):
        """Remove and return everything."""
        return self.take(len(self._data))

    def _resume_from(self, key, overlap):
        if self._scan_key != key:
            return 0
        return max(0, self._scanned - overlap)

    def _remember(self, key):
        self._scan_key = key
        self._scanned = len(self._data)

    def find_delimiter(self, delimiter):
        """Return the end offset of the first *delimiter* (the delimiter included), or -1."""
        start = self._resume_from(delimiter, len(delimiter) - 1)
        index = self._data.find(delimiter, start)
        if index < 0:
            self._remember(delimiter)
            return -1
        return index + len(delimiter)

    def find_regex(self, regex):
        """Return the end offset of the first match of *regex* (bytes or compiled), or -1."""
        match = self.search_regex(regex)
        return -1 if match is None else match.end()

    def search_regex(self, regex):
        """Return the first match of *regex* (bytes or compiled) as a :class:`re.Match`, or None.

        Its offsets are valid until the next :meth:`take`.
        """
        compiled, width = compile_pattern(regex)
        if width is None:
            start = 0
        else:
            start = self._resume_from(compiled, width + REGEX_LOOKBEHIND_MARGIN)
        match = compiled.search(self._data, start)
        if match is None:
            self._remember(compiled)
        return match
