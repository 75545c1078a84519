"""The stream contract: every transport (TCP, pipe, TTY, serial) passes every test here."""
import gevent
import pytest

from flubber.io import (
    ConcurrentReadError,
    IncompleteReadError,
    StreamBufferFullError,
    StreamClosedError,
    StreamTimeoutError,
)

pytestmark = pytest.mark.timeout(30)


def test_write_then_read_until_in_both_directions(stream_pair):
    a, b = stream_pair
    a.write(b"ping\n")
    assert b.read_until(b"\n") == b"ping\n"
    b.write(b"pong\r\n")
    assert a.read_until(b"\r\n") == b"pong\r\n"


def test_read_until_leaves_the_rest_buffered(stream_pair):
    a, b = stream_pair
    a.write(b"one\ntwo\nthree")
    a.flush()
    assert b.read_until(b"\n") == b"one\n"
    assert b.read_until(b"\n") == b"two\n"
    assert b.read_bytes(5) == b"three"


def test_read_bytes_returns_at_most_n_as_soon_as_some_arrive(stream_pair):
    a, b = stream_pair
    a.write(b"abc")
    assert b.read_bytes(100) == b"abc"
    a.write(b"abcdef")
    a.flush()
    first = b.read_bytes(2)
    assert first in (b"a", b"ab")  # never more than asked, whatever has arrived
    assert first + b.read_exactly(6 - len(first)) == b"abcdef"


def test_read_exactly_waits_for_all_pieces(stream_pair):
    a, b = stream_pair

    def dribble():
        for piece in (b"12", b"34", b"56"):
            a.write(piece)
            a.flush()
            gevent.sleep(0.01)

    writer = gevent.spawn(dribble)
    assert b.read_exactly(6) == b"123456"
    writer.get()


def test_read_exactly_at_eof_raises_with_the_partial_data(stream_pair):
    a, b = stream_pair
    a.write(b"123")
    a.close()
    with pytest.raises(IncompleteReadError) as info:
        b.read_exactly(10)
    assert info.value.partial == b"123"
    assert info.value.expected == 10


def test_read_until_at_eof_returns_the_rest_then_empty(stream_pair):
    a, b = stream_pair
    a.write(b"line\ntail")
    a.close()
    assert b.read_until(b"\n") == b"line\n"
    assert b.read_until(b"\n") == b"tail"
    assert b.read_until(b"\n") == b""
    assert b.read_bytes(10) == b""


def test_read_until_regex_includes_the_match(stream_pair):
    a, b = stream_pair
    a.write(b"status: ok\r\n> ")
    assert b.read_until_regex(rb"\r?\n") == b"status: ok\r\n"
    assert b.read_until_regex(rb">\s?") == b"> "


def test_buffered_data_stays_readable_after_the_peer_closes(stream_pair):
    a, b = stream_pair
    a.write(b"x" * 1000 + b"\n" + b"y" * 10)
    a.close()
    assert b.read_until(b"\n") == b"x" * 1000 + b"\n"
    assert b.read_until_eof() == b"y" * 10
    assert b.at_eof


def test_close_from_another_greenlet_wakes_a_blocked_reader(stream_pair):
    a, b = stream_pair
    reader = gevent.spawn(b.read_until, b"\n")
    gevent.idle()  # every other greenlet has run and waits: the reader is blocked
    assert not reader.dead
    b.close()
    with pytest.raises(StreamClosedError, match="stream is closed"):
        reader.get(timeout=5)


def test_reading_a_locally_closed_stream_raises(stream_pair):
    _, b = stream_pair
    b.close()
    assert b.closed
    with pytest.raises(StreamClosedError, match="stream is closed"):
        b.read_bytes(1)
    with pytest.raises(StreamClosedError):
        b.write(b"x")


def test_two_concurrent_readers_are_rejected(stream_pair):
    a, b = stream_pair
    first = gevent.spawn(b.read_until, b"\n")
    gevent.idle()  # the first reader is blocked in read_until
    assert not first.dead
    with pytest.raises(ConcurrentReadError):
        b.read_until(b"\n")
    a.write(b"for the first\n")
    assert first.get(timeout=5) == b"for the first\n"


def test_buffer_limit_raises_and_closes_the_stream(stream_pair):
    a, b = stream_pair
    b.max_buffer_size = 1024
    sender = gevent.spawn(lambda: (a.write(b"z" * 4096), a.flush()))
    with pytest.raises(StreamBufferFullError):
        b.read_until(b"\n")
    assert b.closed
    sender.kill()


def test_max_bytes_limits_one_call(stream_pair):
    a, b = stream_pair
    a.write(b"0123456789\n")
    with pytest.raises(StreamBufferFullError):
        b.read_until(b"\n", max_bytes=5)


def test_max_bytes_can_raise_the_limit_for_one_call(stream_pair):
    a, b = stream_pair
    b.max_buffer_size = 1024
    line = b"q" * 5000 + b"\n"
    sender = gevent.spawn(lambda: (a.write(line), a.flush()))
    assert b.read_until(b"\n", max_bytes=8192) == line
    sender.get(timeout=5)


def test_large_write_arrives_whole_and_in_order(stream_pair):
    a, b = stream_pair
    payload = bytes(range(256)) * 4096  # 1 MiB
    received = bytearray()

    def reader():
        while len(received) < len(payload):
            chunk = b.read_bytes(65536)
            assert chunk
            received.extend(chunk)

    reading = gevent.spawn(reader)
    for offset in range(0, len(payload), 10000):
        a.write(payload[offset:offset + 10000])
        assert len(a._wbuf) < a.write_buffer_size + 10000
    a.flush()
    reading.get(timeout=20)
    assert received == payload


def test_flush_returns_once_everything_is_sent(stream_pair):
    a, b = stream_pair
    reader = gevent.spawn(b.read_exactly, 200000)
    a.write(b"k" * 200000)
    a.flush(timeout=10)
    assert not a._wbuf
    assert reader.get(timeout=10) == b"k" * 200000


def test_flush_with_a_timeout_raises_a_timeout_error_and_keeps_the_data(stream_pair):
    a, _b = stream_pair
    a.write_buffer_size = 64 * 1024 * 1024  # so that write() itself never waits
    a.write(b"w" * (32 * 1024 * 1024))  # more than any kernel buffer of a peer that does not read
    with pytest.raises(StreamTimeoutError) as info:
        a.flush(timeout=0.2)
    assert isinstance(info.value, TimeoutError)
    assert a._wbuf and not a.closed


def test_close_sends_what_was_written_and_is_idempotent(stream_pair):
    a, b = stream_pair
    a.write(b"last words\n")
    a.close()
    a.close()
    assert b.read_until(b"\n") == b"last words\n"


def test_abort_drops_unsent_data(stream_pair):
    a, b = stream_pair
    a.write(b"never sent")
    a.abort()
    assert a.closed
    assert b.read_until_eof() == b""


def test_small_writes_coalesce_into_one_send(stream_pair):
    a, b = stream_pair
    sends = []
    real_send = a._send

    def counting_send(data):
        sends.append(len(data))
        return real_send(data)

    a._send = counting_send
    for number in range(100):
        a.write(b"%d\n" % number)
    a.flush()
    assert len(sends) == 1
    lines = [b.read_until(b"\n") for _ in range(100)]
    assert lines == [b"%d\n" % number for number in range(100)]


def test_a_buffer_changed_after_write_goes_out_as_it_was_written(stream_pair):
    a, b = stream_pair
    data = bytearray(b"first\n")
    a.write(data)
    a.write(memoryview(b"second\n"))
    data[:] = b"changed\n"
    assert b.read_until(b"\n") == b"first\n"
    assert b.read_until(b"\n") == b"second\n"


def test_pending_writes_go_out_at_the_end_of_the_hub_turn(stream_pair):
    a, b = stream_pair
    a.write(b"no flush needed\n")
    assert b.read_until(b"\n") == b"no flush needed\n"


def test_iterating_yields_lines_until_eof(stream_pair):
    a, b = stream_pair
    a.write(b"a\nb\nc")
    a.close()
    assert list(b) == [b"a\n", b"b\n", b"c"]


def test_writing_str_is_a_clear_type_error(stream_pair):
    a, _ = stream_pair
    with pytest.raises(TypeError, match="encode"):
        a.write("text")
