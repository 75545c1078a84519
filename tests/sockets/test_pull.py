"""Pull sockets over real UDP on 127.0.0.1: every command, exact bytes."""
import json
import time

import gevent
import pytest

from flubber.sockets import (
    DataPullSocket,
    DataSocket,
    DateDataPullSocket,
    DateDataSocket,
    UnknownCodenameError,
    socket_server_status,
)


def test_defaults_match_pyexplabsys():
    import inspect
    date = inspect.signature(DateDataPullSocket).parameters
    data = inspect.signature(DataPullSocket).parameters
    assert date["port"].default == 9000 and data["port"].default == 9010
    for params in (date, data):
        assert [params[name].default for name in (
            "default_x", "default_y", "timeouts", "check_activity", "activity_timeout",
            "poke_on_set")] == [0.0, 0.0, None, True, 900, True]
    assert list(date)[:2] == ["name", "codenames"]


@pytest.mark.parametrize("command, expected", [
    ("raw", b"1000.5,21.5;1001,-3"),
    ("json", b"[[1000.5, 21.5], [1001, -3]]"),
    ("raw_wn", b"a:1000.5,21.5;b:1001,-3"),
    ("json_wn", b'{"a": [1000.5, 21.5], "b": [1001, -3]}'),
    ("a#raw", b"1000.5,21.5"),
    ("b#json", b"[1001, -3]"),
    ("codenames_raw", b"a,b"),
    ("codenames_json", b'["a", "b"]'),
    ("name", b"date test"),
    ("nonsense", b"UNKNOWN_COMMMAND"),
    ("c#raw", b"UNKNOWN_COMMMAND"),
])
def test_date_socket_answers_every_command(date_socket, udp, command, expected):
    date_socket.set_point("a", (1000.5, 21.5))
    date_socket.set_point("b", (1001, -3))
    assert udp(date_socket.port).ask(command) == expected


def test_set_point_now_uses_the_current_time(date_socket, udp):
    before = time.time()
    returned = date_socket.set_point_now("a", 7)
    x, y = json.loads(udp(date_socket.port).ask("a#json"))
    assert before <= x == returned <= time.time() and y == 7


def test_data_socket_serves_xy_points(data_socket, udp):
    data_socket.set_point("x1", (0.25, 1e10))
    data_socket.set_point("x2", [3, "text"], timestamp=time.time())
    peer = udp(data_socket.port)
    assert peer.ask("raw") == b"0.25,10000000000.0;3,text"
    assert peer.ask("json_wn") == b'{"x1": [0.25, 10000000000.0], "x2": [3, "text"]}'


def test_date_socket_serves_old_data_past_the_timeout(make_socket, udp, clock):
    sock = make_socket(DateDataPullSocket, "t", ["fast", "slow"], timeouts=[0.2, 60], clock=clock)
    now = clock()
    sock.set_point("fast", (now, 1.0))
    sock.set_point("slow", (now, 2.0))
    peer = udp(sock.port)
    assert peer.ask("raw") == b"%r,1.0;%r,2.0" % (now, now)
    clock.advance(0.3)
    assert peer.ask("raw") == b"OLD_DATA;%r,2.0" % now
    assert peer.ask("fast#json") == b'"OLD_DATA"'
    assert peer.ask("json_wn") == b'{"fast": "OLD_DATA", "slow": [%r, 2.0]}' % now


def test_date_socket_with_old_x_is_old_at_once(make_socket, udp, clock):
    sock = make_socket(DateDataPullSocket, "t", ["a"], timeouts=5, clock=clock)
    sock.set_point("a", (clock() - 10, 1))
    assert udp(sock.port).ask("a#raw") == b"OLD_DATA"


def test_data_socket_ages_by_set_time_not_by_x(make_socket, udp, clock):
    sock = make_socket(DataPullSocket, "t", ["a", "b"], timeouts=0.2, clock=clock)
    peer = udp(sock.port)
    assert peer.ask("raw") == b"OLD_DATA;OLD_DATA"          # never set
    sock.set_point("a", (0, 1))                              # x is not a time here
    assert peer.ask("raw") == b"0,1;OLD_DATA"
    sock.set_point("b", (0, 2), timestamp=clock() - 1)
    assert peer.ask("b#raw") == b"OLD_DATA"
    clock.advance(0.3)
    assert peer.ask("a#raw") == b"OLD_DATA"


def test_status_lists_every_socket_of_the_process(date_socket, data_socket, push_socket, udp):
    status = json.loads(udp(date_socket.port).ask("status"))
    assert {"python_version", "load_average", "machine_name", "uptime"} <= set(status["system_status"])
    servers = status["socket_server_status"]
    assert servers[str(date_socket.port)]["type"] == "date"
    assert servers[str(data_socket.port)] == {
        "name": "data test", "type": "data", "status": "OK",
        "since_last_activity": servers[str(data_socket.port)]["since_last_activity"]}
    assert servers[str(push_socket.port)]["status"] == "DISABLED"
    assert set(socket_server_status()) >= {date_socket.port, data_socket.port, push_socket.port}


def test_status_reports_inactive_after_the_activity_timeout(make_socket, udp, clock):
    sock = make_socket(DateDataPullSocket, "lazy", ["a"], activity_timeout=0.1, clock=clock)
    clock.advance(0.2)
    entry = json.loads(udp(sock.port).ask("status"))["socket_server_status"][str(sock.port)]
    assert entry["status"] == "INACTIVE" and entry["since_last_activity"] >= 0.1
    sock.poke()
    entry = json.loads(udp(sock.port).ask("status"))["socket_server_status"][str(sock.port)]
    assert entry["status"] == "OK"


def test_set_point_on_unknown_codename_raises(date_socket):
    with pytest.raises(UnknownCodenameError, match="'nope'"):
        date_socket.set_point_now("nope", 1)


def test_non_ascii_empty_and_oversized_requests_get_unknown_command(date_socket, udp):
    peer = udp(date_socket.port)
    for request in (b"", b"\xff\xfe", "na\u00efve".encode(), b"n" * 9000):
        assert peer.ask(request) == b"UNKNOWN_COMMMAND"
    assert peer.ask("name") == b"date test"
    assert date_socket.stats.errors == 0


def test_each_request_gets_exactly_one_reply(date_socket, udp):
    peer = udp(date_socket.port)
    for command in ("raw", "json", "bogus", ""):
        peer.ask(command)
    assert peer.pending() == []


def test_reply_larger_than_a_datagram_is_an_error_reply(make_socket, udp):
    sock = make_socket(DataPullSocket, "big", ["a", "b", "c"])
    for name in "abc":
        sock.set_point(name, (1, "v" * 30000))
    peer = udp(sock.port)
    assert peer.ask("raw").startswith(b"ERROR#the reply is 90008 bytes")
    assert len(peer.ask("a#raw")) == 30002


def test_large_replies_up_to_the_udp_maximum_arrive_whole(make_socket, udp):
    sock = make_socket(DataPullSocket, "big", ["a"])
    sock.set_point("a", (1, "v" * (65507 - 2)))
    assert len(udp(sock.port).ask("a#raw")) == 65507


def test_many_concurrent_clients_are_all_answered(date_socket, udp):
    date_socket.set_point("a", (1.0, 2.0))
    peers = [udp(date_socket.port) for _ in range(8)]

    def poll(peer):
        return [peer.ask("a#raw") for _ in range(50)]

    jobs = [gevent.spawn(poll, peer) for peer in peers]
    gevent.joinall(jobs, raise_error=True)
    assert all(job.value == [b"1.0,2.0"] * 50 for job in jobs)


def test_ipv6_loopback(make_socket, udp):
    import socket
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        sock = make_socket(DateDataPullSocket, "v6", ["a"], host="::1")
    except OSError as exc:
        pytest.skip("cannot bind ::1: %s" % exc)
    from flubber.sockets import PullClient
    with PullClient("::1", sock.port) as client:
        assert client.name() == "v6"


def test_legacy_date_data_socket_takes_codenames_first(make_socket, udp):
    sock = make_socket(DateDataSocket, ["s1m1", "s1m2"], timeouts=[1.0, 0.7])
    peer = udp(sock.port)
    assert peer.ask("codenames_raw") == b"s1m1,s1m2"
    assert peer.ask("name") == b"DateDataSocket"
    sock.set_point_now("s1m1", 1.0)
    assert peer.ask("s1m2#raw") == b"OLD_DATA"
    import inspect
    params = inspect.signature(DateDataSocket).parameters
    assert (params["port"].default, params["default_x"].default, params["default_y"].default) == (
        9000, 0, 47)


def test_legacy_data_socket_defaults(make_socket, udp):
    sock = make_socket(DataSocket, ["c"])
    assert udp(sock.port).ask("raw") == b"47,47"
    import inspect
    assert inspect.signature(DataSocket).parameters["port"].default == 9010


def test_set_point_now_reads_the_given_clock(make_socket, udp, clock):
    sock = make_socket(DateDataPullSocket, "t", ["a"], timeouts=5, clock=clock)
    assert sock.set_point_now("a", 3) == clock()
    assert udp(sock.port).ask("a#raw") == b"%r,3" % clock()
    clock.advance(6)
    assert udp(sock.port).ask("a#raw") == b"OLD_DATA"
