"""A node answers for itself (NAME.ping, broadcast.ping, get NAME); a broadcast ping gathers every node's reply."""
import uuid

import pytest

from flubber import __version__
from flubber.fleet import format_uptime, ping_nodes, wait_for_nodes
from flubber.kvstore import (
    BROADCAST_KEY, OP_CMD, OP_GET, OP_SET, KVNode, KVStore, KVStoreKey, MethodNotSupported, Request,
)

pytestmark = pytest.mark.timeout(60)


def make_node(name, keys=2):
    store = KVStore("kv", endpoints=[KVStoreKey(initial_value=number, name="%s_k%d" % (name, number))
                                     for number in range(keys)])
    return KVNode(name, [store])


def ask(node, target, msgop, payload=None):
    return node.handle(Request(target, msgop, payload or {"values": []}))


def test_a_node_answers_ping_under_its_name_and_broadcast_with_its_info():
    node = make_node("lab", keys=3).start()
    try:
        for target in ("lab.ping", BROADCAST_KEY + ".ping"):
            reply = ask(node, target, OP_CMD)
            assert reply.retcode == 0, reply.return_msg
            info = reply.payload
            assert info["name"] == "lab" and info["keys"] == 3 and info["stores"] == ["kv"]
            assert info["version"] == __version__ and info["pid"] > 0 and info["host"] and info["uptime"] >= 0
        assert ask(node, "lab", OP_GET).payload["name"] == "lab"
    finally:
        node.stop()


def test_a_request_to_the_node_itself_other_than_ping_or_get_is_306():
    node = make_node("lab")
    for target, msgop in (("lab.lock", OP_CMD), ("lab", OP_SET), ("broadcast.kv", OP_GET)):
        reply = ask(node, target, msgop)
        assert reply.retcode == MethodNotSupported.retcode and "lab.STORE.KEY" in reply.return_msg


def test_info_sources_add_to_the_info_and_a_failing_one_is_skipped():
    node = make_node("lab")
    node.info_sources.append(lambda: {"instruments": 2})
    node.info_sources.append(lambda: 1 / 0)
    assert node.info()["instruments"] == 2


def test_a_key_named_like_the_ping_target_still_wins():
    node = make_node("lab")
    assert ask(node, "lab.kv.lab_k1", OP_GET).payload == {"value_raw": 1}


@pytest.mark.rabbitmq
def test_one_broadcast_ping_gathers_every_nodes_reply(rabbitmq_url):
    from flubber.kvstore import AMQPKVClient, AMQPService

    prefix = "d%s_" % uuid.uuid4().hex[:6]
    services = [AMQPService(make_node(prefix + name), rabbitmq_url, forward_remote=False).start()
                for name in ("a", "b", "c")]
    try:
        assert all(service.wait_ready(15) for service in services)
        nodes, _ = wait_for_nodes(rabbitmq_url, 3, timeout=30, names=[prefix + "a", prefix + "b", prefix + "c"])
        mine = [node for node in nodes if node["name"].startswith(prefix)]
        assert [node["name"] for node in mine] == [prefix + "a", prefix + "b", prefix + "c"]
        assert all(node["reply_ms"] >= 0 and node["keys"] == 2 for node in mine)
        client = AMQPKVClient(rabbitmq_url, dripline=4)   # dripline 4's broadcast reaches them too
        try:
            replies = client.gather(Request(BROADCAST_KEY + ".ping", OP_CMD, {"values": []}), timeout=2)
        finally:
            client.close()
        assert {prefix + "a", prefix + "b", prefix + "c"} <= {reply.payload.get("name") for reply in replies}
    finally:
        for service in services:
            service.stop()
    left = {node["name"] for node in ping_nodes(rabbitmq_url, timeout=0.5)}
    assert not left & {prefix + "a", prefix + "b", prefix + "c"}


@pytest.mark.rabbitmq
def test_gather_of_a_request_nobody_serves_is_empty(rabbitmq_url):
    from flubber.kvstore import AMQPKVClient

    client = AMQPKVClient(rabbitmq_url)
    try:
        assert client.gather(Request("nobody%s.ping" % uuid.uuid4().hex[:8], OP_CMD, {"values": []}),
                             timeout=0.3) == []
    finally:
        client.close()


def test_uptime_is_printed_short():
    assert [format_uptime(s) for s in (0, 42, 303, 7500, 273600)] == ["0s", "42s", "5m03s", "2h05m", "3d04h"]
