"""Iterating a stream (``for line in stream``) and the write path after a turn's first write.

Iteration cuts every line held whole in a chunk at once and hands them out
through a list iterator; any other read, a close, or a second iterator must
settle the buffer first. These tests hold that to "every byte exactly once,
in order", whatever the chunking and whatever reads are mixed in.
"""
import gevent
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flubber.io import StreamBufferFullError, StreamClosedError
from flubber.io._buffer import ReceiveBuffer
from tests.io.conftest import tcp_pair
from tests.io.test_buffer import ChunkStream, _chunked


def _lines_of(data):
    """What ``for line in stream`` must give for *data*: cut after every ``b"\\n"``, the rest last."""
    pieces = data.split(b"\n")
    lines = [piece + b"\n" for piece in pieces[:-1]]
    if pieces[-1]:
        lines.append(pieces[-1])
    return lines


# bytes.splitlines also cuts at these for str, and at a lone \r for bytes: the stream must not
_ALPHABET = [b"a", b"\n", b"\r", b"\r\n", b"\x0b", b"\x0c", b"\x1c", b"\x85"]


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(st.sampled_from(_ALPHABET), max_size=300).map(b"".join),
    cuts=st.lists(st.integers(min_value=0, max_value=600), max_size=40),
)
def test_iteration_cuts_at_newline_only_for_any_chunking(data, cuts):
    assert list(ChunkStream(_chunked(data, cuts))) == _lines_of(data)


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(st.sampled_from(_ALPHABET + [b"xyz\n"]), max_size=200).map(b"".join),
    cuts=st.lists(st.integers(min_value=0, max_value=800), max_size=30),
    actions=st.lists(st.sampled_from(["line", "bytes", "until", "next", "restart"]), min_size=1, max_size=400),
)
def test_reads_mixed_into_an_iteration_get_every_byte_once_in_order(data, cuts, actions):
    stream = ChunkStream(_chunked(data, cuts))
    got = []
    steps = iter(actions * 4)
    lines = iter(stream)
    for action in steps:
        if action == "line":
            piece = next(lines, b"")
        elif action == "bytes":
            piece = stream.read_bytes(3)
        elif action == "until":
            piece = stream.read_until(b"a")
        elif action == "next":
            piece = next(stream, b"")
        else:  # a new for loop takes over where the last one stopped
            lines = iter(stream)
            piece = next(lines, b"")
        got.append(piece)
    got.extend(stream)
    assert b"".join(got) == data


def test_a_line_longer_than_the_limit_ends_the_iteration_after_the_lines_before_it():
    stream = ChunkStream([b"ok\n" + b"x" * 50 + b"\nlater\n"], max_buffer_size=20)
    lines = []
    with pytest.raises(StreamBufferFullError):
        for line in stream:
            lines.append(line)
    assert lines == [b"ok\n"]
    assert stream.closed


def test_closing_inside_the_loop_stops_the_held_lines():
    stream = ChunkStream([b"a\nb\nc\n"])
    lines = []
    with pytest.raises(StreamClosedError):
        for line in stream:
            lines.append(line)
            stream.close()
    assert lines == [b"a\n"]


def test_two_loops_over_one_stream_share_its_lines_without_repeating_any():
    stream = ChunkStream([b"".join(b"%d\n" % n for n in range(200))])
    first, second = iter(stream), iter(stream)
    got = []
    for turn in range(400):
        line = next(first if turn % 3 else second, None)
        if line is not None:
            got.append(line)
    assert got == [b"%d\n" % n for n in range(200)]


def test_at_eof_inside_the_loop_counts_the_lines_not_yet_given():
    stream = ChunkStream([b"a\nb\n"])
    seen = []
    for line in stream:
        seen.append((line, stream.at_eof))
    assert seen == [(b"a\n", False), (b"b\n", False)]
    assert stream.at_eof


def test_settle_without_a_loan_changes_nothing():
    buf = ReceiveBuffer()
    buf.feed(b"a\nb")
    buf.settle()
    assert buf.take_all() == b"a\nb"


def test_a_loan_settled_half_way_keeps_the_lines_not_given():
    buf = ReceiveBuffer()
    buf.feed(b"a\nbb\nccc\ntail")
    lent = buf.lend_lines(100)
    assert next(lent) == b"a\n"
    assert next(lent) == b"bb\n"
    buf.settle()
    assert list(lent) == []  # settling ended the loan
    assert buf.take_all() == b"ccc\ntail"


def test_lend_lines_gives_nothing_without_a_whole_line():
    buf = ReceiveBuffer()
    buf.feed(b"no line end yet")
    assert buf.lend_lines(100) is None
    assert buf.take_all() == b"no line end yet"


@pytest.mark.timeout(20)
def test_a_write_after_close_raises_even_in_the_turn_of_an_earlier_write():
    connection, client, cleanup = tcp_pair()
    try:
        client.write(b"first\n")  # schedules this turn's flush
        client.abort()
        with pytest.raises(StreamClosedError):
            client.write(b"second\n")
    finally:
        cleanup()


@pytest.mark.timeout(20)
def test_a_changed_write_buffer_size_holds_from_the_next_turn():
    connection, client, cleanup = tcp_pair()
    try:
        client.write(b"x")
        client.write_buffer_size = 10
        gevent.idle()  # the turn ends: the flush sends the byte
        client.write(b"y" * 9)
        assert client._wlen == 9  # below the new limit: held for the turn's flush
        client.write(b"z")  # reaches it: sent at once
        assert client._wlen == 0
        assert connection.read_exactly(11) == b"x" + b"y" * 9 + b"z"
    finally:
        cleanup()
