"""Start, stop, restart and failures: what the original got wrong."""
import socket as stdlib_socket

import gevent
import pytest

from flubber.sockets import (
    DataPullSocket,
    DataPushSocket,
    DateDataPullSocket,
    PortInUseError,
    PortStillReserved,
    PullClient,
    ServerUnreachableError,
    SocketConfigurationError,
    socket_server_status,
)

from tests.ports import refused_port
from tests.sync import wait_until

from .conftest import bindable

HOST = "127.0.0.1"


@pytest.mark.parametrize("cls, args", [
    (DateDataPullSocket, ("s", ["a"])), (DataPullSocket, ("s", ["a"])), (DataPushSocket, ("s",)),
])
def test_stop_frees_the_port_at_once(cls, args):
    sock = cls(*args, port=0, host=HOST)
    sock.start()
    port = sock.port
    assert not bindable(port)
    sock.stop()
    assert bindable(port)
    again = cls(*args, port=port, host=HOST)      # no PortStillReserved, no sleep
    again.start()
    with PullClient(HOST, port) as client:
        assert client.request("name").endswith("s")
    again.stop()


def test_stop_before_start_is_harmless_and_frees_the_port():
    sock = DateDataPullSocket("s", ["a"], port=0, host=HOST)
    port = sock.port
    sock.stop()
    sock.stop()
    assert bindable(port)
    assert port not in socket_server_status()


def test_start_twice_is_harmless():
    sock = DateDataPullSocket("s", ["a"], port=0, host=HOST)
    sock.start()
    sock.start()
    assert sock.is_alive()
    sock.stop()
    assert not sock.is_alive()


def test_the_same_socket_restarts_on_the_same_port():
    sock = DateDataPullSocket("s", ["a"], port=0, host=HOST)
    port = sock.port
    sock.start()
    sock.set_point("a", (1.0, 2.0))
    sock.stop()
    sock.start()
    assert sock.port == port
    with PullClient(HOST, port) as client:
        assert client.get("a") == (1.0, 2.0)
    sock.stop()


def test_stopped_socket_no_longer_answers():
    sock = DateDataPullSocket("s", ["a"], port=0, host=HOST)
    sock.start()
    port = sock.port
    sock.stop()
    with PullClient(HOST, port, timeout=0.5) as client:
        with pytest.raises(ServerUnreachableError):
            client.name()


def test_a_failed_constructor_leaves_nothing_behind():
    sock = DateDataPullSocket("s", ["a"], port=0, host=HOST)
    port = sock.port
    sock.stop()  # the port was just ours; a bad constructor must check before it binds, so it never gets it
    with pytest.raises(SocketConfigurationError):
        DateDataPullSocket("s", ["a", "a"], port=port, host=HOST)
    with pytest.raises(SocketConfigurationError):
        DataPullSocket("s", ["a", "b"], port=port, host=HOST, timeouts=[1])
    with pytest.raises(SocketConfigurationError):
        DataPushSocket("s", port=port, host=HOST, action="callback_direct")
    assert port not in socket_server_status()


def test_a_bad_constructor_is_refused_before_it_binds():
    with refused_port(stdlib_socket.SOCK_DGRAM) as port:  # held: binding it would be PortInUseError
        with pytest.raises(SocketConfigurationError):
            DateDataPullSocket("s", ["a", "a"], port=port, host=HOST)
        with pytest.raises(SocketConfigurationError):
            DataPullSocket("s", ["a", "b"], port=port, host=HOST, timeouts=[1])
        with pytest.raises(SocketConfigurationError):
            DataPushSocket("s", port=port, host=HOST, action="callback_direct")
        assert port not in socket_server_status()


def test_second_socket_on_a_busy_port_names_the_holder():
    first = DateDataPullSocket("first one", ["a"], port=0, host=HOST)
    try:
        with pytest.raises(PortInUseError, match="'first one'.*stop\\(\\) first") as info:
            DataPushSocket("second", port=first.port, host=HOST)
        assert isinstance(info.value, OSError) and info.value.errno == 98
        assert PortStillReserved is PortInUseError
        assert socket_server_status()[first.port]["name"] == "first one"
    finally:
        first.stop()


def test_port_held_by_someone_else_is_a_clear_error():
    with stdlib_socket.socket(stdlib_socket.AF_INET, stdlib_socket.SOCK_DGRAM) as other:
        other.bind((HOST, 0))
        with pytest.raises(PortInUseError, match="another process"):
            DateDataPullSocket("s", ["a"], port=other.getsockname()[1], host=HOST)


def test_all_interfaces_and_loopback_on_one_port_conflict():
    sock = DateDataPullSocket("s", ["a"], port=0)          # '' like PyExpLabSys
    try:
        with pytest.raises(PortInUseError):
            DateDataPullSocket("s", ["a"], port=sock.port, host=HOST)
    finally:
        sock.stop()


def test_restart_after_failed_restart_attempt():
    sock = DateDataPullSocket("s", ["a"], port=0, host=HOST)
    port = sock.port
    sock.stop()
    thief = DataPullSocket("thief", ["b"], port=port, host=HOST)
    with pytest.raises(PortInUseError, match="'thief'"):
        sock.start()
    assert not sock.is_alive()
    thief.stop()
    sock.start()
    sock.stop()


def test_context_manager_starts_and_stops():
    with DateDataPullSocket("ctx", ["a"], port=0, host=HOST) as sock:
        port = sock.port
        with PullClient(HOST, port) as client:
            assert client.name() == "ctx"
    assert bindable(port)


def test_join_returns_when_stopped():
    sock = DateDataPullSocket("s", ["a"], port=0, host=HOST)
    sock.start()
    assert sock.join(timeout=0.01) is False
    gevent.spawn_later(0.02, sock.stop)
    assert sock.join(timeout=2) is True


def test_stop_from_inside_a_callback():
    holder = {}

    def callback(data):
        holder["sock"].stop()
        return "bye"

    sock = DataPushSocket("s", port=0, host=HOST, action="callback_direct", callback=callback)
    holder["sock"] = sock
    sock.start()
    port = sock.port
    from gevent.socket import socket as gsocket
    client = gsocket(stdlib_socket.AF_INET, stdlib_socket.SOCK_DGRAM)
    client.settimeout(0.5)
    client.sendto(b'json_wn#{"a": 1}', (HOST, port))
    wait_until(lambda: not sock.is_alive())
    assert bindable(port)
    client.close()


def test_many_sockets_start_and_stop_without_leaking():
    import os
    fds_before = len(os.listdir("/proc/self/fd"))
    for _ in range(50):
        sock = DataPushSocket("s", port=0, host=HOST, action="callback_async", callback=print)
        sock.start()
        sock.stop()
    assert len(os.listdir("/proc/self/fd")) <= fds_before + 2
