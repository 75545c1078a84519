"""Finding 7 of issue 13: idle clients cannot starve the KV TCP server of descriptors."""
import resource
import socket

import pytest

from tests.security.conftest import LineClient, get, node_config

pytestmark = pytest.mark.timeout(120)

#: The descriptor limit of the node in these tests (the issue's reproduction).
NODE_NOFILE = 256
#: Idle connections opened against it: more than it has descriptors.
IDLE_CLIENTS = 300


def _limit_descriptors():
    resource.setrlimit(resource.RLIMIT_NOFILE, (NODE_NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


def _open_idle(address, count):
    clients = []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.connect_ex(address)  # completes in the kernel's backlog even when the node does not accept
        clients.append(sock)
    return clients


def _node(start_node, **tcp):
    config = node_config(tcp=dict({"host": "127.0.0.1", "port": 0, "idle_timeout": 1}, **tcp))
    return start_node(config, preexec_fn=_limit_descriptors)


def _served_after_idle_ones_are_closed(node):
    client = LineClient(node.tcp, timeout=60)
    try:
        assert client.request(get("setpoint"))["payload"] == {"value_raw": 25}
    finally:
        client.close()


def test_idle_clients_are_closed_and_a_new_client_is_served(start_node):
    node = _node(start_node)
    idle = _open_idle(node.tcp, IDLE_CLIENTS)
    try:
        _served_after_idle_ones_are_closed(node)
        closed = 0
        for sock in idle[:50]:
            sock.setblocking(True)
            sock.settimeout(30)
            try:
                closed += sock.recv(1) == b""
            except ConnectionResetError:
                closed += 1
        assert closed == 50  # the node closed them: they said nothing for idle_timeout
    finally:
        for sock in idle:
            sock.close()
    node.stop()
    node.assert_no_traceback()
    assert "Too many open files" not in node.stderr  # the default cap keeps the node below its limit


def paused_with_one_warning(node, idle):
    """Close the *idle* sockets, stop *node*: it said once that it paused accepting, with no traceback."""
    for sock in idle:
        sock.close()
    node.stop()
    node.assert_no_traceback()
    assert node.stderr.count("cannot accept connections") == 1, node.stderr[-2000:]


def test_running_out_of_descriptors_pauses_accept_with_one_warning(start_node):
    node = _node(start_node, max_connections=1000)  # a cap above the limit: accept() meets EMFILE
    idle = _open_idle(node.tcp, IDLE_CLIENTS)
    try:
        _served_after_idle_ones_are_closed(node)
    finally:
        paused_with_one_warning(node, idle)


def test_the_default_cap_follows_the_descriptor_limit():
    from flubber.kvstore.tcp import RESERVED_DESCRIPTORS, default_max_connections

    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert default_max_connections() == max(8, soft - RESERVED_DESCRIPTORS)
