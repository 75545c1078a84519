"""The line splitter with each overflow policy its users need, over random chunkings (hypothesis)."""
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flubber.io import UNIVERSAL_NEWLINE, LineSplitter, LineTooLong, StreamBufferFullError
from flubber.io._buffer import ReceiveBuffer


def kv_splitter(max_line):
    """The KV store's TCP transport: ``\\n``, drop and report overlong lines, no line ends."""
    return LineSplitter(b"\n", max_line=max_line, overflow="discard", keep_ends=False)


def dump_splitter(max_line=64 * 1024):
    """A dump's stderr: any newline, overlong unfinished lines in pieces, line ends kept."""
    return LineSplitter(UNIVERSAL_NEWLINE, max_line=max_line, overflow="split")


def feed_all(splitter, chunks):
    lines = []
    for chunk in chunks:
        lines += splitter.feed(chunk)
    last = splitter.finish()
    return lines + ([last] if last is not None else [])


def chunked(data, cuts):
    cuts = sorted(set(cut % (len(data) + 1) for cut in cuts))
    bounds = [0] + cuts + [len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]


def as_comparable(lines):
    return [("too long", line.length) if isinstance(line, LineTooLong) else line for line in lines]


# -- "discard": the KV store -------------------------------------------------------


def test_discard_returns_complete_lines_only():
    splitter = kv_splitter(100)
    assert splitter.feed(b"ab") == []
    assert splitter.feed(b"c\nde\nf") == [b"abc", b"de"]
    assert splitter.pending == 1
    assert splitter.feed(b"\n") == [b"f"]
    assert splitter.finish() is None


def test_discard_drops_overlong_lines_without_keeping_them():
    splitter = kv_splitter(10)
    assert splitter.feed(b"x" * 8) == []
    assert splitter.feed(b"x" * 8) == []
    assert splitter.pending == 16
    for _ in range(1000):
        assert splitter.feed(b"y" * 1000) == []
        assert splitter.pending - 16 <= 1000 * 1000
    lines = splitter.feed(b"yy\nok\n")
    assert [type(line) for line in lines] == [LineTooLong, bytes]
    assert lines[0].length == 16 + 1000 * 1000 + 2
    assert lines[1] == b"ok"


def test_discard_marks_an_overlong_line_inside_one_chunk():
    lines = kv_splitter(3).feed(b"abcdef\nabc\n")
    assert isinstance(lines[0], LineTooLong) and lines[0].length == 6
    assert lines[1] == b"abc"


def test_discard_reports_an_overlong_last_line_without_newline():
    splitter = kv_splitter(10)
    assert splitter.feed(b"x" * 10) == []
    assert splitter.finish() == b"x" * 10
    splitter.feed(b"x" * 11)
    assert splitter.finish().length == 11


def test_discard_finds_a_two_byte_line_end_split_across_dropped_data():
    splitter = LineSplitter(b"\r\n", max_line=4, overflow="discard", keep_ends=False)
    assert splitter.feed(b"abcdefgh\r") == []
    lines = splitter.feed(b"\nok\r\n")
    assert as_comparable(lines) == [("too long", 8), b"ok"]


def test_no_data_is_no_line():
    for splitter in (kv_splitter(10), dump_splitter(), LineSplitter(b"\r\n")):
        assert splitter.feed(b"") == []
        assert splitter.finish() is None


def test_one_byte_pieces_stay_linear():
    splitter = kv_splitter(2_000_000)
    for _ in range(200_000):
        splitter.feed(b"a")
    assert splitter.feed(b"\n") == [b"a" * 200_000]


def kv_model(data, max_line):
    """What the KV store must see, whatever the chunking: each line, or its length if too long."""
    *lines, rest = data.split(b"\n")
    if rest:
        lines.append(rest)
    return [line if len(line) <= max_line else ("too long", len(line)) for line in lines]


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300).map(lambda b: b.replace(b"\r", b"\n")),
       cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
       max_line=st.integers(min_value=0, max_value=40))
def test_discard_output_does_not_depend_on_the_chunking(data, cuts, max_line):
    splitter = kv_splitter(max_line)
    assert as_comparable(feed_all(splitter, chunked(data, cuts))) == kv_model(data, max_line)
    assert splitter.pending == 0


def test_a_line_of_max_line_bytes_is_kept_when_its_two_byte_end_arrives_in_two_pieces():
    # held: the line's 4 bytes and the "\r" of its end (5 > max_line) -- not yet a line too long
    for overflow in ("discard", "raise"):
        splitter = LineSplitter(b"\r\n", max_line=4, overflow=overflow, keep_ends=False)
        assert splitter.feed(b"abcd\r") == []
        assert splitter.feed(b"\nok\r\n") == [b"abcd", b"ok"]


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300).map(lambda b: b.replace(b"\x00", b"\r\n")),
       cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
       max_line=st.integers(min_value=1, max_value=40))
def test_discard_with_a_two_byte_line_end_does_not_depend_on_the_chunking(data, cuts, max_line):
    splitter = LineSplitter(b"\r\n", max_line=max_line, overflow="discard", keep_ends=False)
    *lines, rest = data.split(b"\r\n")
    model = [line if len(line) <= max_line else ("too long", len(line)) for line in lines + ([rest] if rest else [])]
    assert as_comparable(feed_all(splitter, chunked(data, cuts))) == model


# -- "split": a dump's stderr ---------------------------------------------------------


def test_split_hands_back_complete_lines_with_their_ends():
    lines = dump_splitter()
    assert lines.feed(b"a\nb") == [b"a\n"]
    assert lines.feed(b"c\r\nd\n") == [b"bc\r\n", b"d\n"]
    assert lines.finish() is None


def test_split_cuts_an_endless_line_into_pieces():
    lines = dump_splitter(max_line=4)
    assert lines.feed(b"abcdefghij") == [b"abcd", b"efgh"]
    assert lines.finish() == b"ij"


def test_universal_newline_waits_for_the_byte_after_a_carriage_return():
    lines = dump_splitter()
    assert lines.feed(b"50%\r") == []
    assert lines.feed(b"60%\r") == [b"50%\r"]
    assert lines.feed(b"\ndone") == [b"60%\r\n"]
    assert lines.finish() == b"done"


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300).map(lambda b: b.replace(b"\x00", b"\r").replace(b"\x01", b"\n")),
       cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12))
def test_split_matches_splitlines_whatever_the_chunking(data, cuts):
    assert feed_all(dump_splitter(), chunked(data, cuts)) == data.splitlines(keepends=True)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300).map(lambda b: b.replace(b"\x00", b"\r").replace(b"\x01", b"\n")),
       cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
       max_line=st.integers(min_value=1, max_value=20))
def test_split_loses_nothing_and_holds_at_most_max_line(data, cuts, max_line):
    splitter = dump_splitter(max_line)
    lines = []
    for chunk in chunked(data, cuts):
        lines += splitter.feed(chunk)
        assert splitter.pending <= max_line
    last = splitter.finish()
    assert b"".join(lines) + (last or b"") == data
    for line in lines:
        assert UNIVERSAL_NEWLINE.search(line + b"x") or len(line) == max_line


# -- "raise": the streams -------------------------------------------------------------------


def test_raise_refuses_a_line_longer_than_max_line_counting_its_end():
    splitter = LineSplitter(b"\n", max_line=4)
    assert splitter.feed(b"abc\n") == [b"abc\n"]
    with pytest.raises(StreamBufferFullError, match="max_line"):
        splitter.feed(b"abcd\n")


def test_raise_refuses_an_unfinished_line_past_max_line():
    splitter = LineSplitter(b"\n", max_line=4)
    assert splitter.feed(b"abcd") == []
    with pytest.raises(StreamBufferFullError):
        splitter.feed(b"e")


def test_read_line_fills_until_a_line_is_complete_then_returns_the_rest():
    buffer = ReceiveBuffer()
    chunks = [b"ab", b"c\nde", b"f"]

    def fill():
        if not chunks:
            return False
        buffer.feed(chunks.pop(0))
        return True

    splitter = LineSplitter(b"\n", max_line=100, buffer=buffer)
    assert [splitter.read_line(fill) for _ in range(3)] == [b"abc\n", b"def", b""]


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=200).map(lambda b: b.replace(b"\x00", b"\r").replace(b"\x01", b"\n")),
       cuts=st.lists(st.integers(min_value=0, max_value=300), max_size=10),
       delimiter=st.sampled_from([b"\n", b"\r\n", re.compile(rb"\r?\n"), UNIVERSAL_NEWLINE]))
def test_read_line_and_feed_agree(data, cuts, delimiter):
    chunks = chunked(data, cuts)
    buffer = ReceiveBuffer()
    pieces = list(chunks)

    def fill():
        if not pieces:
            return False
        buffer.feed(pieces.pop(0))
        return True

    reader = LineSplitter(delimiter, max_line=1000, buffer=buffer)
    read = []
    while True:
        line = reader.read_line(fill)
        if not line:
            break
        read.append(line)
    assert read == feed_all(LineSplitter(delimiter, max_line=1000), chunks)
    assert b"".join(read) == data


# -- settings ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, error, message", [
    ({"overflow": "truncate"}, ValueError, "overflow must be one of raise, discard, split"),
    ({"delimiter": b""}, TypeError, "non-empty bytes"),
    ({"delimiter": "\n"}, TypeError, "non-empty bytes"),
    ({"delimiter": re.compile(rb".*\n"), "overflow": "discard"}, ValueError, "bounded width"),
])
def test_bad_settings_say_what_is_expected(kwargs, error, message):
    with pytest.raises(error, match=message):
        LineSplitter(**kwargs)


def test_a_line_end_that_matches_nothing_is_refused_not_looped_on():
    with pytest.raises(ValueError, match="matched no bytes"):
        LineSplitter(re.compile(rb"x*")).feed(b"abc")
