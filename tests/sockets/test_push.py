"""The push socket over real UDP: actions, return formats, errors."""
import inspect
import queue as stdlib_queue

import gevent
import gevent.queue
import pytest

from flubber.sockets import DataPushSocket, SocketConfigurationError
from tests.sync import wait_until


def test_defaults_match_pyexplabsys():
    params = inspect.signature(DataPushSocket).parameters
    assert [(name, params[name].default) for name in list(params)[1:8]] == [
        ("port", 8500), ("action", "store_last"), ("queue", None), ("callback", None),
        ("return_format", "json"), ("check_activity", False), ("activity_timeout", 900)]


def test_store_last_acks_and_keeps_last_and_updated(push_socket, udp):
    assert push_socket.last == (None, None) and push_socket.updated == (None, {})
    peer = udp(push_socket.port)
    assert peer.ask('json_wn#{"greeting": "Live long and prosper", "number": 47}') == (
        b"ACK#{'greeting': 'Live long and prosper', 'number': 47}")
    assert peer.ask("raw_wn#number:int:42,47;ok:bool:True") == (
        b"ACK#{'number': [42, 47], 'ok': True}")
    last_time, last = push_socket.last
    assert last == {"number": [42, 47], "ok": True} and last_time > 0
    assert push_socket.updated[1] == {"greeting": "Live long and prosper", "number": [42, 47],
                                      "ok": True}
    assert push_socket.queue is None


def test_last_and_updated_are_copies(push_socket, udp):
    udp(push_socket.port).ask('json_wn#{"a": 1}')
    push_socket.last[1]["a"] = 2
    push_socket.updated[1]["a"] = 2
    assert push_socket.last[1] == {"a": 1} and push_socket.updated[1] == {"a": 1}


def test_set_last_to_none_and_clear_updated(push_socket, udp):
    udp(push_socket.port).ask('json_wn#{"a": 1}')
    push_socket.set_last_to_none()
    push_socket.clear_updated()
    assert push_socket.last == (None, None) and push_socket.updated == (None, {})


def test_name_commands_status(push_socket, udp):
    peer = udp(push_socket.port)
    assert peer.ask("name") == b"RET#push test"
    assert peer.ask("commands") == b'RET#["json_wn#", "raw_wn#", "name", "status", "commands"]'
    assert peer.ask("status").startswith(b'{"system_status": {')


@pytest.mark.parametrize("request_, start", [
    (b"", b"ERROR#UNKNOWN_COMMMAND"),
    (b"help", b"ERROR#UNKNOWN_COMMMAND"),
    (b"json_wn#not json", b"ERROR#The string 'not json' could not be decoded as JSON"),
    (b"json_wn#3", b"ERROR#The object '3' returned after decoding the JSON string is not a dict"),
    (b"raw_wn#a:int:x", b"ERROR#Unable to convert values to 'int'. Error is: invalid literal"),
    (b"raw_wn#a:double:1", b"ERROR#The data type 'double' is unknown. Only dict_keys("),
    (b"\x80\x81", b"ERROR#the request is not ASCII"),
    (b"j" * 9000, b"ERROR#the request is longer than 8192 bytes"),
])
def test_bad_requests_get_error_replies(push_socket, udp, request_, start):
    peer = udp(push_socket.port)
    assert peer.ask(request_).startswith(start)
    assert push_socket.last == (None, None)
    assert peer.ask("name") == b"RET#push test"


def test_enqueue_puts_data_in_a_gevent_queue(make_socket, udp):
    sock = make_socket(DataPushSocket, "q", action="enqueue")
    peer = udp(sock.port)
    assert peer.ask('json_wn#{"a": 1}') == b"ACK#{'a': 1}"
    assert peer.ask("raw_wn#b:float:2.5") == b"ACK#{'b': 2.5}"
    assert isinstance(sock.queue, gevent.queue.Queue)
    assert [sock.queue.get(timeout=1), sock.queue.get(timeout=1)] == [{"a": 1}, {"b": 2.5}]


def test_enqueue_into_a_given_queue(make_socket, udp):
    mine = stdlib_queue.Queue()
    sock = make_socket(DataPushSocket, "q", action="enqueue", queue=mine)
    udp(sock.port).ask('json_wn#{"a": 1}')
    assert sock.queue is mine and mine.get_nowait() == {"a": 1}


def test_enqueue_into_a_full_queue_is_an_error_reply(make_socket, udp):
    sock = make_socket(DataPushSocket, "q", action="enqueue", queue=stdlib_queue.Queue(1))
    peer = udp(sock.port)
    assert peer.ask('json_wn#{"a": 1}') == b"ACK#{'a': 1}"
    assert peer.ask('json_wn#{"a": 2}').startswith(b"ERROR#the queue did not take the data (Full)")


def test_callback_async_calls_back_in_order_in_a_greenlet(make_socket, udp):
    got = []
    sock = make_socket(DataPushSocket, "cb", action="callback_async", callback=got.append)
    peer = udp(sock.port)
    for index in range(5):
        assert peer.ask('json_wn#{"i": %d}' % index) == b"ACK#{'i': %d}" % index
    wait_until(lambda: len(got) == 5)
    assert got == [{"i": index} for index in range(5)]


def test_callback_async_data_waiting_for_a_slow_callback_is_bounded(make_socket, udp):
    # a flood of datagrams faster than the callback grew the callback queue without bound
    release = gevent.event.Event()

    class Small(DataPushSocket):
        max_pending_requests = 3

    sock = make_socket(Small, "cb", action="callback_async", callback=lambda data: release.wait())
    peer = udp(sock.port)
    replies = [peer.ask('json_wn#{"i": %d}' % index) for index in range(6)]
    assert replies[:4] == [b"ACK#{'i': %d}" % index for index in range(4)]  # one in the callback, 3 waiting
    assert all(reply.startswith(b"ERROR#the queue did not take the data (Full)") for reply in replies[4:])
    sock.stop_timeout = 0.1
    with gevent.Timeout(10):  # the callback hangs and the queue is full: stop() still returns
        sock.stop()
    release.set()


def test_callback_async_survives_a_failing_callback(make_socket, udp):
    got = []

    def callback(data):
        if data.get("boom"):
            raise RuntimeError("boom")
        got.append(data)

    sock = make_socket(DataPushSocket, "cb", action="callback_async", callback=callback)
    peer = udp(sock.port)
    peer.ask('json_wn#{"boom": true}')
    peer.ask('json_wn#{"ok": 1}')
    wait_until(lambda: got)
    assert got == [{"ok": 1}]


def test_stop_lets_callback_async_finish_queued_data(make_socket, udp):
    got = []

    def slow(data):
        gevent.sleep(0.01)
        got.append(data)

    sock = make_socket(DataPushSocket, "cb", action="callback_async", callback=slow)
    peer = udp(sock.port)
    for index in range(3):
        peer.ask('json_wn#{"i": %d}' % index)
    sock.stop()
    assert len(got) == 3


@pytest.mark.parametrize("return_format, value, reply", [
    ("json", {"set": 5.0}, b'RET#{"set": 5.0}'),
    ("string", {"set": 5.0}, b"RET#{'set': 5.0}"),
    ("raw", {"set": 5.0, "ok": True}, b"RET#set:float:5.0;ok:bool:True"),
    ("raw", [[1, 2], [3, 4]], b"RET#int:1,2&3,4"),
    ("raw", None, b"RET#None"),
])
def test_callback_direct_returns_the_value(make_socket, udp, return_format, value, reply):
    seen = []

    def callback(data):
        seen.append(data)
        return value

    sock = make_socket(DataPushSocket, "cd", action="callback_direct", callback=callback,
                       return_format=return_format)
    assert udp(sock.port).ask('json_wn#{"v": 5}') == reply
    assert seen == [{"v": 5}] and sock.last[1] == {"v": 5}


def test_callback_direct_exception_is_an_excep_reply(make_socket, udp):
    def callback(data):
        raise ValueError("voltage %s out of range" % data["v"])

    sock = make_socket(DataPushSocket, "cd", action="callback_direct", callback=callback)
    peer = udp(sock.port)
    assert peer.ask('json_wn#{"v": 500}') == b"EXCEP#voltage 500 out of range"
    assert peer.ask("name") == b"RET#cd"
    assert sock.stats.errors == 0


def test_callback_direct_may_block_cooperatively_and_keeps_order(make_socket, udp):
    def callback(data):
        gevent.sleep(0.01)
        return data["i"] * 2

    sock = make_socket(DataPushSocket, "cd", action="callback_direct", callback=callback)
    peers = [udp(sock.port) for _ in range(4)]
    jobs = [gevent.spawn(peer.ask, 'json_wn#{"i": %d}' % index) for index, peer in enumerate(peers)]
    gevent.joinall(jobs, raise_error=True)
    assert [job.value for job in jobs] == [b"RET#0", b"RET#2", b"RET#4", b"RET#6"]


def test_callback_direct_unformattable_return_is_excep(make_socket, udp):
    sock = make_socket(DataPushSocket, "cd", action="callback_direct", callback=lambda d: object(),
                       return_format="json")
    assert udp(sock.port).ask('json_wn#{"a": 1}').startswith(b"EXCEP#")


def test_non_ascii_in_replies_is_escaped_not_lost(push_socket, udp):
    assert udp(push_socket.port).ask('json_wn#{"unit": "\\u00b0C"}') == b"ACK#{'unit': '\\xb0C'}"


@pytest.mark.parametrize("kwargs, fragment", [
    ({"action": "bogus"}, "action 'bogus' is not one of"),
    ({"queue": stdlib_queue.Queue()}, "can only be given with action 'enqueue'"),
    ({"callback": print}, "can only be given with action 'callback_async'"),
    ({"action": "callback_direct"}, "callback None for action 'callback_direct' is not callable"),
    ({"action": "callback_async", "callback": 5}, "callback 5"),
    ({"return_format": "yaml"}, "return_format 'yaml'"),
])
def test_bad_argument_combinations_raise_value_error(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment) as info:
        DataPushSocket("bad", port=0, host="127.0.0.1", **kwargs)
    assert isinstance(info.value, SocketConfigurationError)


def test_busy_worker_gets_error_busy_instead_of_unbounded_growth(make_socket, udp):
    release = gevent.event.Event()

    def callback(data):
        release.wait()
        return 1

    class Small(DataPushSocket):
        max_pending_requests = 2

    sock = make_socket(Small, "busy", action="callback_direct", callback=callback)
    peer = udp(sock.port)
    for index in range(4):
        peer.sock.send(b'json_wn#{"i": 1}')
    wait_until(lambda: sock.stats.requests == 4)
    replies = peer.pending(0)  # the busy replies went out with the requests
    assert replies and all(reply.startswith(b"ERROR#busy") for reply in replies)
    release.set()
    assert peer.receive(4 - len(replies)) == [b"RET#1"] * (4 - len(replies))
    assert peer.pending() == []
