"""Findings 1, 2 and 4 of issue 13: the push socket obeys the lock, the writable list and the keys' rules."""

import pytest

from tests.security.conftest import LineClient, UDPClient, cmd, get, node_config, set_

pytestmark = pytest.mark.timeout(120)


def _push_node(start_node, writable=("setpoint", "mode", "note")):
    sockets = {"push": {"host": "127.0.0.1", "port": 0, "writable": list(writable)}}
    return start_node(node_config(sockets=sockets))


def _value(tcp, key):
    return tcp.request(get(key))["payload"]["value_raw"]


def test_a_locked_key_is_refused_on_the_push_socket_and_keeps_its_value(start_node):
    node = _push_node(start_node)
    tcp, udp = LineClient(node.tcp), UDPClient(node.push)
    try:
        lock = tcp.request(cmd("setpoint.lock"))
        assert lock["retcode"] == 0
        assert tcp.request(set_("setpoint", 30))["retcode"] == 307
        reply = udp.request(b'json_wn#{"setpoint": 99}')
        assert reply.startswith(b"ERROR#") and b"locked" in reply, reply
        assert _value(tcp, "setpoint") == 25
        assert tcp.request(cmd("setpoint.unlock", lockout_key=lock["payload"]["key"]))["retcode"] == 0
        assert udp.request(b'json_wn#{"setpoint": 99}').startswith(b"RET#")
        assert _value(tcp, "setpoint") == 99
    finally:
        tcp.close()
        udp.close()
    node.assert_no_traceback()


def test_keys_not_listed_as_writable_are_refused(start_node):
    node = _push_node(start_node, writable=["setpoint"])
    tcp, udp = LineClient(node.tcp), UDPClient(node.push)
    try:
        reply = udp.request(b'json_wn#{"temperature": -273}')
        assert reply.startswith(b"ERROR#") and b"not writable" in reply, reply
        reply = udp.request(b'json_wn#{"setpoint": 40, "temperature": -273}')
        assert reply.startswith(b"ERROR#"), reply
        assert _value(tcp, "temperature") == 20
        assert _value(tcp, "setpoint") == 25  # nothing of a refused datagram is applied
    finally:
        tcp.close()
        udp.close()


def test_no_key_is_writable_by_default(start_node):
    node = start_node(node_config(sockets={"push": {"host": "127.0.0.1", "port": 0}}))
    udp = UDPClient(node.push)
    try:
        reply = udp.request(b'json_wn#{"setpoint": 30}')
        assert reply.startswith(b"ERROR#") and b"writable: none" in reply, reply
    finally:
        udp.close()


@pytest.mark.parametrize("datagram, why", [
    (b'json_wn#{"setpoint": 1e999999}', b"finite"),
    (b'json_wn#{"setpoint": NaN}', b"JSON"),
    (b'json_wn#{"setpoint": "hot"}', b"number"),
    (b'json_wn#{"setpoint": [1, 2]}', b"number"),
    (b'json_wn#{"setpoint": 1000}', b"from -50 to 400"),
    (b'json_wn#{"mode": "turbo"}', b"one of"),
    (b"raw_wn#setpoint:str:hot", b"number"),
])
def test_values_a_key_does_not_take_are_refused_and_the_old_value_stays(start_node, datagram, why):
    node = _push_node(start_node)
    tcp, udp = LineClient(node.tcp), UDPClient(node.push)
    try:
        reply = udp.request(datagram)
        assert reply.startswith(b"ERROR#") and why in reply, reply
        assert _value(tcp, "setpoint") == 25
        assert _value(tcp, "mode") == "auto"
        assert udp.request(b'json_wn#{"setpoint": 30}').startswith(b"RET#")
        assert _value(tcp, "setpoint") == 30.0
    finally:
        tcp.close()
        udp.close()
    node.assert_no_traceback()


def test_deep_json_on_the_push_socket_is_refused_without_a_traceback(start_node):
    # no writable key: the datagram is refused while it is decoded, before any key is looked at
    node = start_node(node_config(declare=False, sockets={"push": {"host": "127.0.0.1", "port": 0}}))
    udp = UDPClient(node.push)
    try:
        for depth in (40, 500, 990, 1000, 4000):
            datagram = b'json_wn#{"note": ' + b"[" * depth + b"]" * depth + b"}"
            reply = udp.request(datagram)
            assert reply.startswith(b"ERROR#") and b"nested too deeply" in reply, (depth, reply[:200])
        assert b"nested too deeply" not in udp.request(b'json_wn#{"note": [[1, 2], [3]]}')
    finally:
        udp.close()
    node.stop()
    node.assert_no_traceback()
    assert "internal error" not in node.stderr
