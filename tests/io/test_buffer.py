"""The receive buffer and read_until over random chunkings (hypothesis)."""
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flubber.io import BaseStream
from flubber.io._buffer import ReceiveBuffer, compile_pattern


class ChunkStream(BaseStream):
    """A stream whose transport hands out a fixed list of chunks, then EOF.

    Only the arrival pattern is scripted; buffering and searching are the real code.
    """

    def __init__(self, chunks, **kwargs):
        super().__init__(**kwargs)
        self._chunks = list(chunks)
        self._connected = True

    def _recv_some(self, nbytes):
        if not self._chunks:
            return b""
        chunk = self._chunks.pop(0)
        if len(chunk) > nbytes:
            self._chunks.insert(0, chunk[nbytes:])
            chunk = chunk[:nbytes]
        return chunk

    def _close_transport(self):
        pass


def _split_at_once(data, delimiter):
    pieces = data.split(delimiter)
    lines = [piece + delimiter for piece in pieces[:-1]]
    if pieces[-1]:
        lines.append(pieces[-1])
    return lines


def _chunked(data, cuts):
    points = sorted({cut % (len(data) + 1) for cut in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:]) if b > a]


def _read_all(stream, read):
    lines = []
    while True:
        line = read(stream)
        if not line:
            return lines
        lines.append(line)


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(st.sampled_from([b"a", b"b", b"\r", b"\n"]), max_size=400).map(b"".join),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=60),
    delimiter=st.sampled_from([b"\n", b"\r\n", b"abba", b"\n\n"]),
)
def test_read_until_gives_the_same_lines_for_any_chunking(data, cuts, delimiter):
    stream = ChunkStream(_chunked(data, cuts))
    assert _read_all(stream, lambda s: s.read_until(delimiter)) == _split_at_once(data, delimiter)


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(max_size=300).map(lambda raw: raw.replace(b"\x00", b"\r\n")),
    cuts=st.lists(st.integers(min_value=0, max_value=300), max_size=40),
)
def test_read_until_regex_gives_the_same_lines_for_any_chunking(data, cuts):
    pattern = rb"\r?\n"
    expected = []
    rest = data
    while rest:
        match = re.search(pattern, rest)
        if match is None:
            expected.append(rest)
            break
        expected.append(rest[:match.end()])
        rest = rest[match.end():]
    stream = ChunkStream(_chunked(data, cuts))
    assert _read_all(stream, lambda s: s.read_until_regex(pattern)) == expected


def test_delimiter_split_across_two_chunks_is_found():
    stream = ChunkStream([b"abc\r", b"\ndef"])
    assert stream.read_until(b"\r\n") == b"abc\r\n"


def test_bounded_regex_resumes_near_the_old_end():
    buf = ReceiveBuffer()
    buf.feed(b"x" * 1000)
    assert buf.find_regex(rb"\r?\n") == -1
    assert buf._scanned == 1000
    buf.feed(b"\r\n")
    assert buf.find_regex(rb"\r?\n") == 1002


def test_delimiter_search_remembers_how_far_it_looked():
    buf = ReceiveBuffer()
    buf.feed(b"y" * 500)
    assert buf.find_delimiter(b"\n") == -1
    assert buf._scanned == 500
    buf.feed(b"\n")
    assert buf.find_delimiter(b"\n") == 501


def test_compiled_patterns_are_cached_with_their_width():
    first = compile_pattern(rb"\r?\n")
    assert compile_pattern(rb"\r?\n") is first
    assert first[1] == 2
    assert compile_pattern(rb".*\n")[1] is None


def test_text_patterns_are_refused():
    with pytest.raises(TypeError, match="bytes pattern"):
        compile_pattern(re.compile(r"\n"))


def test_take_returns_bytes_and_keeps_the_rest():
    buf = ReceiveBuffer()
    buf.feed(b"hello world")
    assert buf.take(5) == b"hello"
    assert len(buf) == 6
    assert buf.take_all() == b" world"
    assert not buf


def test_iterating_sees_reads_made_between_its_lines():
    stream = ChunkStream([b"a\nb\nc\nd\n"])
    lines = []
    for line in stream:
        lines.append(line)
        if line == b"a\n":
            lines.append(stream.read_bytes(2))  # the next line, read by hand
    assert lines == [b"a\n", b"b\n", b"c\n", b"d\n"]


def test_an_iteration_left_early_leaves_the_rest_to_the_next_read():
    stream = ChunkStream([b"a\nb\nc\n", b"d"])
    for line in stream:
        assert line == b"a\n"
        break
    assert next(stream) == b"b\n"
    assert list(stream) == [b"c\n", b"d"]
