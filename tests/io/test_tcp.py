"""TCP specifics: addresses, IPv6, connect errors, writes before connect."""
import errno
import socket
import struct

import gevent
import gevent.event
import pytest

from flubber.io import (
    StreamTimeoutError, TCPClient, TCPError, TCPServer, TCPTimeoutError, connect_tcp, parse_tcp_address,
)
from tests.ports import refused_port

pytestmark = pytest.mark.timeout(30)


def _echo(connection):
    for line in connection:
        connection.write(line)


@pytest.fixture
def echo_server():
    server = TCPServer(handler=_echo)
    server.bind(("127.0.0.1", 0))
    server.start()
    yield server
    server.close()


def test_port_zero_binds_an_ephemeral_port_that_sockname_tells(echo_server):
    host, port = echo_server.sockname
    assert host == "127.0.0.1" and port > 0


def test_ipv6_loopback_round_trip():
    if not socket.has_ipv6:
        pytest.skip("no IPv6 in this kernel")
    server = TCPServer(handler=_echo)
    try:
        server.bind(("::1", 0))
    except TCPError as exc:
        pytest.skip("IPv6 loopback unavailable: %s" % exc)
    server.start()
    try:
        client = connect_tcp(("::1", server.sockname[1]), timeout=5)
        client.write(b"six\n")
        assert client.read_until(b"\n") == b"six\n"
        assert client.peername[0] == "::1"
        client.close()
    finally:
        server.close()


def test_host_names_are_resolved(echo_server):
    client = connect_tcp("localhost:%d" % echo_server.sockname[1], timeout=5)
    client.write(b"by name\n")
    assert client.read_until(b"\n") == b"by name\n"
    client.close()


def test_source_address_binds_the_local_end(echo_server):
    client = TCPClient()
    client.connect(echo_server.sockname, source_address=("127.0.0.2", 0), timeout=5)
    assert client.sockname[0] == "127.0.0.2"
    client.close()


def test_tcp_nodelay_is_on(echo_server):
    client = connect_tcp(echo_server.sockname, timeout=5)
    assert client._sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    client.close()


def test_writes_before_connect_are_sent_in_order_on_connect(echo_server):
    client = TCPClient()
    client.write(b"first\n")
    client.write(b"second\n")
    assert not client.connected
    client.connect(echo_server.sockname, timeout=5)
    assert client.read_until(b"\n") == b"first\n"
    assert client.read_until(b"\n") == b"second\n"
    client.close()


def test_connection_refused_is_a_tcp_error_with_errno_and_cause():
    with refused_port() as port, pytest.raises(TCPError) as info:
        connect_tcp(("127.0.0.1", port), timeout=5)
    assert info.value.errno == errno.ECONNREFUSED
    assert isinstance(info.value.__cause__, OSError)


def _full_listener(family, address):
    """A listening socket nobody accepts from, its backlog filled: a further connect waits."""
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen(0)
    fillers = []
    for _ in range(8):  # bounded: the backlog of listen(0) takes one or two
        filler = socket.socket(family, socket.SOCK_STREAM)
        filler.setblocking(False)
        fillers.append(filler)
        if filler.connect_ex(listener.getsockname()) not in (0, errno.EINPROGRESS):
            break
    return listener, fillers


def test_a_connect_timeout_is_a_tcp_error_and_a_timeout_error():
    listener, fillers = _full_listener(socket.AF_INET, ("127.0.0.1", 0))
    try:
        with pytest.raises(TCPTimeoutError) as info:
            connect_tcp(listener.getsockname(), timeout=0.2)
        assert isinstance(info.value, TCPError)
        assert isinstance(info.value, StreamTimeoutError)
        assert isinstance(info.value, TimeoutError)
    finally:
        for sock in fillers + [listener]:
            sock.close()


def test_binding_a_busy_port_is_a_tcp_error(echo_server):
    other = TCPServer(handler=_echo)
    other.reuse_addr = False
    with pytest.raises(TCPError) as info:
        other.bind(echo_server.sockname)
    assert info.value.errno == errno.EADDRINUSE


def test_reading_before_connect_is_a_clear_error():
    with pytest.raises(Exception, match="not connected"):
        TCPClient().read_bytes(1)


def test_connecting_twice_is_refused(echo_server):
    client = connect_tcp(echo_server.sockname, timeout=5)
    with pytest.raises(Exception, match="already connected"):
        client.connect(echo_server.sockname)
    client.close()


def test_peer_reset_reads_as_end_of_stream_with_the_cause_kept():
    seen = gevent.event.AsyncResult()

    def handler(connection):
        connection.read_until(b"\n")
        connection.write(b"ok\n")
        seen.set((connection.read_until(b"\n"), connection.error))

    server = TCPServer(handler=handler)
    server.bind(("127.0.0.1", 0))
    server.start()
    try:
        client = connect_tcp(server.sockname, timeout=5)
        client.write(b"x\n")
        assert client.read_until(b"\n") == b"ok\n"
        # SO_LINGER with a zero timeout makes close() send an RST
        client._sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.abort()
        data, error = seen.get(timeout=5)
        assert data == b""
        assert isinstance(error, TCPError) and error.errno == errno.ECONNRESET
    finally:
        server.close()


@pytest.mark.parametrize("text, expected", [
    (("h", 1), ("h", 1)),
    ("h:2", ("h", 2)),
    ("[::1]:3", ("::1", 3)),
    ("4", ("127.0.0.1", 4)),
    (5, ("127.0.0.1", 5)),
])
def test_parse_tcp_address_forms(text, expected):
    assert parse_tcp_address(text) == expected


def test_parse_tcp_address_rejects_a_host_without_port():
    with pytest.raises(ValueError, match="host, port"):
        parse_tcp_address("hostonly")
