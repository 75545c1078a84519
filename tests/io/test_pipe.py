"""Pipe specifics: stale socket files, live ones, abstract names."""
import errno
import os
import socket

import pytest

from flubber.io import PipeClient, PipeError, PipeServer

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
