"""Pipe specifics: stale socket files, live ones, abstract names."""
import errno
import os
import socket

import gevent.event
import pytest

from flubber.io import PipeClient, PipeError, PipeServer, PipeTimeoutError

pytestmark = pytest.mark.timeout(30)


def _upper(connection):
    for line in connection:
        connection.write(line.upper())


def _round_trip(name):
    client = PipeClient()
    client.connect(name, timeout=5)
    client.write(b"hi\n")
    try:
        return client.read_until(b"\n")
    finally:
        client.close()


def test_pipename_and_round_trip(tmp_path):
    path = str(tmp_path / "srv.sock")
    with PipeServer(handler=_upper) as server:
        server.bind(path)
        server.start()
        assert server.pipename == path
        assert _round_trip(path) == b"HI\n"
    assert not os.path.exists(path)


def test_a_connect_timeout_is_a_pipe_error_and_a_timeout_error(tmp_path):
    path = str(tmp_path / "full.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(0)
    fillers = []
    for _ in range(8):  # bounded: a Unix listener of backlog 0 takes one, then connects wait
        filler = socket.socket(socket.AF_UNIX)
        filler.setblocking(False)
        fillers.append(filler)
        if filler.connect_ex(path) != 0:
            break
    try:
        with pytest.raises(PipeTimeoutError) as info:
            PipeClient().connect(path, timeout=0.2)
        assert isinstance(info.value, PipeError)
        assert isinstance(info.value, TimeoutError)
    finally:
        for sock in fillers + [listener]:
            sock.close()


def test_a_stale_socket_file_is_replaced(tmp_path):
    path = str(tmp_path / "stale.sock")
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(path)
    dead.close()
    assert os.path.exists(path)
    server = PipeServer(handler=_upper)
    server.bind(path)
    server.start()
    try:
        assert _round_trip(path) == b"HI\n"
    finally:
        server.close()


def test_a_live_socket_file_is_an_error(tmp_path):
    path = str(tmp_path / "live.sock")
    first = PipeServer(handler=_upper)
    first.bind(path)
    first.start()
    try:
        with pytest.raises(PipeError, match="already listening") as info:
            PipeServer(handler=_upper).bind(path)
        assert info.value.errno == errno.EADDRINUSE
    finally:
        first.close()


def test_a_regular_file_is_never_replaced(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("precious")
    with pytest.raises(PipeError, match="not a socket"):
        PipeServer(handler=_upper).bind(str(path))
    assert path.read_text() == "precious"


def test_abstract_names_work_without_a_file(tmp_path):
    name = "@flubber-test-%d" % os.getpid()
    server = PipeServer(handler=_upper)
    server.bind(name)
    server.start()
    try:
        assert _round_trip(name) == b"HI\n"
    finally:
        server.close()


def test_connecting_to_nobody_is_a_pipe_error(tmp_path):
    with pytest.raises(PipeError) as info:
        PipeClient().connect(str(tmp_path / "nobody.sock"), timeout=5)
    assert info.value.errno == errno.ENOENT


def test_a_read_after_the_server_closed_is_the_end_of_stream_even_with_a_write_queued(tmp_path):
    # the last read emptied the socket, so the next one sends first and then
    # waits for the loop: a send refused by the gone peer (EPIPE) still reads as the end
    path = str(tmp_path / "gone.sock")
    closed = gevent.event.Event()

    def answer_once_and_close(connection):
        connection.write(connection.read_until(b"\n"))
        connection.close()
        closed.set()

    with PipeServer(handler=answer_once_and_close) as server:
        server.bind(path)
        server.start()
        client = PipeClient()
        client.connect(path, timeout=5)
        client.write(b"once\n")
        assert client.read_until(b"\n") == b"once\n"
        assert closed.wait(5)
        client.write(b"again\n")
        assert client.read_until(b"\n") == b""
        client.close()
