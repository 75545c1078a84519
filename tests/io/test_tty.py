"""TTY and standard streams: private non-blocking mode, winsize, raw mode."""
import fcntl
import os
import pty
import subprocess
import sys
import termios
import textwrap

import gevent
import pytest

from flubber.io import StreamError, TTYError, TTYStream

pytestmark = pytest.mark.timeout(30)


def test_o_nonblock_does_not_leak_to_the_shared_terminal():
    master, slave = pty.openpty()
    try:
        stream = TTYStream(slave, readable=True)
        assert not fcntl.fcntl(slave, fcntl.F_GETFL) & os.O_NONBLOCK
        stream.close()
        assert not fcntl.fcntl(slave, fcntl.F_GETFL) & os.O_NONBLOCK
    finally:
        os.close(master)
        os.close(slave)


def test_o_nonblock_on_a_pipe_is_restored_on_close():
    read_end, write_end = os.pipe()
    try:
        stream = TTYStream(read_end, readable=True)
        os.write(write_end, b"through a pipe\n")
        assert stream.read_until(b"\n") == b"through a pipe\n"
        stream.close()
        assert not fcntl.fcntl(read_end, fcntl.F_GETFL) & os.O_NONBLOCK
    finally:
        os.close(read_end)
        os.close(write_end)


def test_a_pipe_reader_sees_eof_when_the_writer_closes_while_it_waits():
    read_end, write_end = os.pipe()
    stream = TTYStream(read_end, readable=True)
    os.close(read_end)
    reader = gevent.spawn(stream.read_until_eof)
    gevent.idle()  # the reader waits for data
    os.write(write_end, b"last")
    gevent.idle()  # the reader takes the data and waits again
    os.close(write_end)
    assert reader.get(timeout=5) == b"last"
    stream.close()


def test_winsize_is_columns_then_rows():
    master, slave = pty.openpty()
    try:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, b"\x18\x00\x50\x00\x00\x00\x00\x00")  # 24 rows, 80 cols
        stream = TTYStream(slave)
        assert stream.winsize == (80, 24)
        stream.close()
    finally:
        os.close(master)
        os.close(slave)


def test_winsize_of_a_non_terminal_is_a_tty_error():
    read_end, write_end = os.pipe()
    try:
        stream = TTYStream(write_end)
        with pytest.raises(TTYError):
            stream.winsize
        stream.close()
    finally:
        os.close(read_end)
        os.close(write_end)


def test_raw_mode_is_restored_on_close():
    master, slave = pty.openpty()
    try:
        before = termios.tcgetattr(slave)
        stream = TTYStream(slave, readable=True)
        stream.set_raw()
        assert termios.tcgetattr(slave) != before
        stream.close()
        assert termios.tcgetattr(slave) == before
    finally:
        os.close(master)
        os.close(slave)


def test_raw_mode_is_restored_at_exit():
    master, slave = pty.openpty()
    try:
        before = termios.tcgetattr(slave)
        code = textwrap.dedent("""
            import sys
            from flubber.io import TTYStream
            TTYStream(int(sys.argv[1])).set_raw()
        """)
        subprocess.run([sys.executable, "-c", code, str(slave)], pass_fds=[slave], check=True, timeout=20)
        assert termios.tcgetattr(slave) == before
    finally:
        os.close(master)
        os.close(slave)


def test_write_only_stream_refuses_reads():
    read_end, write_end = os.pipe()
    try:
        stream = TTYStream(write_end)
        assert not stream.readable and stream.writable
        with pytest.raises(StreamError, match="not readable"):
            stream.read_bytes(1)
        stream.close()
    finally:
        os.close(read_end)
        os.close(write_end)


STD_SCRIPT = textwrap.dedent("""
    from flubber.io import StdinStream, StdoutStream, StderrStream
    stdin, stdout, stderr = StdinStream(), StdoutStream(), StderrStream()
    for line in stdin:
        stdout.write(line.upper())
    stderr.write(b"done\\n")
    stdout.close()
    stderr.close()
""")


def test_standard_streams_in_a_child_process():
    result = subprocess.run([sys.executable, "-c", STD_SCRIPT], input=b"one\ntwo\n",
                            capture_output=True, timeout=20)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"ONE\nTWO\n"
    assert result.stderr == b"done\n"
