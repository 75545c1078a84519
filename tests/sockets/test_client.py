"""PullClient and PushClient against real sockets on 127.0.0.1."""
import socket as stdlib_socket
import time

import gevent
import gevent.event
import gevent.socket
import pytest

from flubber.sockets import (
    OLD_DATA,
    ClientError,
    DataPullSocket,
    DataPushSocket,
    DateDataPullSocket,
    OldDataError,
    PullClient,
    PushCallbackError,
    PushClient,
    PushError,
    ReplyTimeoutError,
    ServerUnreachableError,
    UnknownCommandError,
)
from tests.ports import refused_port

HOST = "127.0.0.1"


@pytest.fixture
def served(make_socket):
    sock = make_socket(DateDataPullSocket, "oven", ["t1", "t2"], timeouts=[60, 0.5])
    sock.set_point("t1", (time.time(), 21.5))
    sock.set_point("t2", (time.time() - 5, 22.5))
    return sock


def test_pull_client_defaults():
    import inspect
    params = inspect.signature(PullClient).parameters
    assert params["port"].default == 9000 and params["timeout"].default == 1.0


def test_name_codenames_get_get_all(served):
    with PullClient(HOST, served.port) as client:
        assert client.name() == "oven"
        assert client.codenames() == ["t1", "t2"]
        x, y = client.get("t1")
        assert y == 21.5 and abs(x - time.time()) < 60
        assert client.get("t2") == OLD_DATA
        everything = client.get_all()
        assert list(everything) == ["t1", "t2"]
        assert everything["t1"] == (x, y) and everything["t2"] == OLD_DATA


def test_old_data_raises_when_asked_to(served):
    with PullClient(HOST, served.port, raise_on_old_data=True) as client:
        with pytest.raises(OldDataError, match="'t2'.*OLD_DATA") as info:
            client.get("t2")
        assert info.value.codenames == ["t2"]
        with pytest.raises(OldDataError) as info:
            client.get_all()
        assert info.value.codenames == ["t2"]
        assert client.get("t2", raise_on_old_data=False) == OLD_DATA
    with PullClient(HOST, served.port) as client:
        with pytest.raises(OldDataError):
            client.get_all(raise_on_old_data=True)


def test_unknown_codename_is_an_unknown_command_error(served):
    with PullClient(HOST, served.port) as client:
        with pytest.raises(UnknownCommandError, match="'nope#json'"):
            client.get("nope")


def test_status(served):
    with PullClient(HOST, served.port) as client:
        status = client.status()
    assert status["socket_server_status"][str(served.port)]["name"] == "oven"


def test_reads_replies_up_to_the_udp_maximum(make_socket):
    sock = make_socket(DataPullSocket, "big", ["a"])
    sock.set_point("a", (1, "v" * (65507 - 8)))
    with PullClient(HOST, sock.port) as client:
        assert client.get("a") == (1, "v" * (65507 - 8))


def test_timeout_when_nobody_answers():
    with stdlib_socket.socket(stdlib_socket.AF_INET, stdlib_socket.SOCK_DGRAM) as silent:
        silent.bind((HOST, 0))
        with PullClient(HOST, silent.getsockname()[1], timeout=0.1) as client:
            with pytest.raises(ReplyTimeoutError, match="within 0.1 s") as info:
                client.name()
    assert isinstance(info.value, TimeoutError)


def test_unreachable_when_nothing_listens():
    with refused_port(stdlib_socket.SOCK_DGRAM) as port:
        with PullClient(HOST, port, timeout=1) as client:
            with pytest.raises(ServerUnreachableError, match="nothing listens"):
                client.name()


def test_late_reply_of_a_timed_out_request_is_discarded():
    server = gevent.socket.socket(stdlib_socket.AF_INET, stdlib_socket.SOCK_DGRAM)
    server.bind((HOST, 0))
    gave_up, late_reply_sent = gevent.event.Event(), gevent.event.Event()

    def slow_echo():
        data, address = server.recvfrom(100)
        gave_up.wait()  # answer only once the client has timed out
        server.sendto(b"reply to " + data, address)
        late_reply_sent.set()
        data, address = server.recvfrom(100)
        server.sendto(b"reply to " + data, address)

    job = gevent.spawn(slow_echo)
    with PullClient(HOST, server.getsockname()[1], timeout=0.1) as client:
        with pytest.raises(ReplyTimeoutError):
            client.request("first")
        gave_up.set()
        assert late_reply_sent.wait(5)  # it waits in the client's socket now
        assert client.request("second") == "reply to second"
    job.join(1)
    server.close()


def test_request_too_large_for_udp_is_a_client_error(served):
    with PullClient(HOST, served.port) as client:
        with pytest.raises(ClientError, match="70000 bytes"):
            client.request(b"x" * 70000)


def test_push_client(make_socket):
    sock = make_socket(DataPushSocket, "pusher", action="callback_direct",
                       callback=lambda data: {"doubled": data["v"] * 2})
    with PushClient(HOST, sock.port) as client:
        assert client.name() == "pusher"
        assert "json_wn#" in client.commands()
        assert client.push({"v": 21}) == ("RET", '{"doubled": 42}')
        assert client.push_raw("v:int:5") == ("RET", '{"doubled": 10}')
        with pytest.raises(PushError, match="UNKNOWN_COMMMAND"):
            client._checked("nonsense")
        with pytest.raises(PushCallbackError, match="'v'"):
            client.push({"w": 1})
        assert client.status()["socket_server_status"][str(sock.port)]["type"] == "push"


def test_push_client_store_last_acks(push_socket):
    with PushClient(HOST, push_socket.port) as client:
        assert client.push({"a": 1}) == ("ACK", "{'a': 1}")
    assert push_socket.last[1] == {"a": 1}


def test_push_client_on_a_pull_socket_says_so(served):
    with PushClient(HOST, served.port) as client:
        with pytest.raises(ClientError, match="no push reply"):
            client.push({"a": 1})
