"""``flubber serve`` warns once, loudly, when a write path listens beyond loopback."""
import pytest

from tests.security.conftest import node_config

pytestmark = pytest.mark.timeout(120)


def test_tcp_without_tokens_on_all_interfaces_is_warned_about_once(start_node):
    node = start_node(node_config(tcp={"host": "0.0.0.0", "port": 0}))
    node.stop()
    assert node.stderr.count("WARNING: node lab can be changed from the network") == 1
    assert "dripline over TCP on 0.0.0.0" in node.stderr and "tokens" in node.stderr


def test_a_push_socket_with_writable_keys_on_all_interfaces_is_warned_about(start_node):
    node = start_node(node_config(sockets={"push": {"port": 0, "writable": ["setpoint"]}}))
    node.stop()
    assert node.stderr.count("WARNING: node lab can be changed from the network") == 1
    assert "push socket on UDP 0.0.0.0" in node.stderr and "setpoint" in node.stderr
    assert "dripline over TCP" not in node.stderr  # that one is on 127.0.0.1


def test_an_instrument_share_on_all_interfaces_is_warned_about(start_node):
    # a share takes any command for the instrument, with no token: past the setpoint's max and its lock
    node = start_node(node_config(instruments=[{"name": "oven", "address": "sim://scpi", "query": "MEAS:TEMP?",
                                                "share": {"host": "0.0.0.0", "port": 0}}]))
    node.stop()
    assert node.stderr.count("WARNING: node lab can be changed from the network") == 1
    assert "the share of instrument oven on TCP 0.0.0.0:" in node.stderr


@pytest.mark.parametrize("sections", [
    {"tcp": {"host": "0.0.0.0", "port": 0, "tokens": ["a-long-random-token-0123456789"]},
     "sockets": {"push": {"port": 0}}},                                     # tokens; push with nothing writable
    {"sockets": {"push": {"host": "127.0.0.1", "port": 0, "writable": ["setpoint"]}}},  # loopback only
    {"instruments": [{"name": "oven", "address": "sim://scpi", "query": "MEAS:TEMP?",
                      "share": {"host": "127.0.0.1", "port": 0}}]},                   # a share on loopback
])
def test_no_warning_when_writes_are_guarded_or_local(start_node, sections):
    node = start_node(node_config(**sections))
    node.stop()
    assert "WARNING" not in node.stderr
