"""Stores and keys in Python: the seed's members and names, lockout, routing on a node."""
import inspect

import pytest

import flubber.kvstore as kvstore
from flubber.kvstore import (
    AccessDenied, AMQPRoutingKeyError, ConfigError, InvalidKey, KVNode, KVStore, KVStoreKey, NoActionWarning,
    Request, kv_store, kv_store_key,
)

STORE_MEMBERS = [
    "add_endpoint", "cmd", "endpoint", "endpoint_names", "endpoints", "get", "handle_request", "is_locked",
    "list_endpoints", "lock", "lockout_key", "logging_status", "on_cmd", "on_config", "on_send", "on_set", "ping",
    "schedule_status", "send", "set", "set_condition", "unlock",
]
KEY_MEMBERS = [
    "handle_request", "is_locked", "lock", "lockout_key", "log_interval", "log_on_set", "logging_status",
    "max_fractional_change", "max_interval", "on_cmd", "on_config", "on_get", "on_set", "ping",
    "schedule_interval", "schedule_status", "scheduled_action", "set_condition", "single_schedule",
    "store_value", "unlock",
]
KEY_KEYWORDS = ["initial_value", "log_on_set", "max_interval", "max_fractional_change", "alert_routing_key",
                "name", "calibration", "get_on_set", "schedule_interval"]


def test_seed_names_are_aliases_of_the_classes():
    assert kv_store is KVStore
    assert kv_store_key is KVStoreKey
    assert kvstore.times2(2) == 4.0 and kvstore.times3(2) == 6.0


@pytest.mark.parametrize("member", STORE_MEMBERS)
def test_store_has_every_member_of_the_seed(member):
    assert hasattr(KVStore, member)


@pytest.mark.parametrize("member", KEY_MEMBERS)
def test_key_has_every_member_of_the_seed(member):
    assert hasattr(KVStoreKey, member)


def test_key_takes_the_keyword_arguments_of_the_seed():
    parameters = inspect.signature(KVStoreKey).parameters
    assert list(parameters)[0] == "initial_value"
    for keyword in KEY_KEYWORDS:
        assert keyword in parameters


@pytest.mark.parametrize("method, names", [
    (KVStore.cmd, ["self", "target", "method_name", "value", "payload", "lockout_key", "timeout", "ignore_retcode"]),
    (KVStore.set, ["self", "target", "value", "lockout_key", "timeout", "ignore_retcode"]),
    (KVStore.get, ["self", "target", "timeout", "ignore_retcode"]),
    (KVStore.on_config, ["self", "attribute", "value"]),
    (KVStore.handle_request, ["self", "channel", "method", "properties", "request"]),
    (KVStoreKey.lock, ["self", "lockout_key", "args", "kwargs"]),
    (KVStoreKey.single_schedule, ["self", "delay"]),
])
def test_signatures_follow_the_seed(method, names):
    assert list(inspect.signature(method).parameters) == names


def make_store():
    return KVStore(name="kv", endpoints=[
        KVStoreKey(name="foo", initial_value=1.5, calibration="2*{}"),
        KVStoreKey(name="bar", initial_value="x"),
    ])


def test_store_lists_and_returns_its_keys():
    store = make_store()
    assert store.list_endpoints() == ["foo", "bar"] == store.endpoint_names
    assert store.endpoint("foo").name == "foo"
    assert set(store.endpoints) == {"foo", "bar"}
    with pytest.raises(AMQPRoutingKeyError):
        store.endpoint("nope")


def test_store_get_set_cmd_work_without_a_node():
    store = make_store()
    assert store.get("foo") == {"value_raw": 1.5, "value_cal": 3.0}
    store.set("foo", 2)
    assert store.get("foo") == {"value_raw": 2, "value_cal": 4}
    key = store.cmd("foo", "lock")["key"]
    with pytest.raises(AccessDenied):
        store.set("foo", 3)
    store.set("foo", 3, lockout_key=key)
    store.cmd("foo", "unlock", payload={"force": True})
    assert store.get("nope", ignore_retcode=True) == {"values": [None]}


def test_set_does_not_round():
    key = KVStoreKey(name="k", initial_value=0)
    for value in (0.123456789012345, 1e-300, 12345678901234567890, -0.0):
        key.set_value(value)
        assert key.get_value()["value_raw"] == value


def test_get_on_set_returns_the_read_back_value():
    key = KVStoreKey(name="k", initial_value=0, calibration="{} + 1", get_on_set=True)
    assert key.set_value(5) == {"value_raw": 5, "value_cal": 6}
    key.get_on_set = False
    assert key.set_value(7) == 7


def test_lock_returns_a_hex_key_and_unlock_clears_it():
    key = KVStoreKey(name="k")
    result = key.lock()
    assert set(result) == {"key"} and len(result["key"]) == 32
    assert key.is_locked and key.lockout_key == result["key"]
    key.unlock()
    assert not key.is_locked
    with pytest.raises(NoActionWarning):
        key.unlock()


def test_lock_accepts_a_uuid_with_dashes_and_refuses_other_strings():
    key = KVStoreKey(name="k")
    assert key.lock("12345678-1234-1234-1234-1234567890AB") == {"key": "123456781234123412341234567890ab"}
    with pytest.raises(InvalidKey):
        KVStoreKey(name="j").lock("secret")


def test_locking_a_store_locks_every_key_with_the_same_key():
    store = make_store()
    lock = store.lock()["key"]
    assert all(key.lockout_key == lock for key in store.endpoints.values())
    store.unlock()
    assert not any(key.is_locked for key in store.endpoints.values())


def test_a_key_added_to_a_locked_store_is_locked_too():
    store = make_store()
    lock = store.lock()["key"]
    assert store.add_endpoint(KVStoreKey(name="late")).lockout_key == lock


def test_store_lock_refuses_when_a_key_holds_another_lock():
    store = make_store()
    other = store.endpoint("foo").lock()["key"]
    with pytest.raises(AccessDenied):
        store.lock()
    assert not store.is_locked and store.endpoint("foo").lockout_key == other
    assert not store.endpoint("bar").is_locked


def test_store_unlock_leaves_keys_locked_by_others_unless_forced():
    store = make_store()
    store_lock = store.lock()["key"]
    store.endpoint("foo").unlock()
    foo_lock = store.endpoint("foo").lock()["key"]
    assert foo_lock != store_lock
    store.unlock()
    assert store.endpoint("foo").is_locked and not store.endpoint("bar").is_locked
    store.unlock(force=True)
    assert not store.endpoint("foo").is_locked


def test_unlocked_store_cannot_be_used_to_unlock_someone_elses_key():
    store = make_store()
    store.endpoint("foo").lock()
    with pytest.raises(NoActionWarning):
        store.unlock()
    assert store.endpoint("foo").is_locked


def test_handle_request_takes_the_dripline_arguments():
    class Method:
        routing_key = "foo.calibration"

    class Properties:
        correlation_id = "c-1"
        content_encoding = "application/json"

    store = make_store()
    reply = store.endpoint("foo").handle_request(None, Method, Properties, b'{"msgtype": 3, "msgop": 1}')
    assert (reply.retcode, reply.payload, reply.correlation_id) == (0, {"values": ["2*{}"]}, "c-1")
    reply = store.endpoint("foo").handle_request(None, Method, Properties, b"not json")
    assert reply.retcode == 302


def test_on_config_reads_and_writes_exposed_attributes_only():
    key = KVStoreKey(name="k", initial_value=1)
    assert key.on_config("max_interval") == 0.0
    assert key.on_config("max_interval", 5) == 5.0
    with pytest.raises(ValueError):
        key.on_config("_value", 5)


def test_set_condition_reaches_every_key():
    seen = []

    class Watcher(KVStoreKey):
        def set_condition(self, *args, **kwargs):
            seen.append((self.name, args))

    store = KVStore(name="kv", endpoints=[Watcher(name="a"), Watcher(name="b")])
    store.set_condition(7)
    assert seen == [("a", (7,)), ("b", (7,))]


def test_send_is_accepted_and_ignored_by_a_kv_store():
    assert make_store().on_send("*IDN?") is None


def test_node_resolves_names_and_hierarchical_addresses():
    node = KVNode("lab", [make_store()])
    foo = node.endpoint("foo")
    assert node.resolve("foo") == (foo, "")
    assert node.resolve("lab.kv.foo") == (foo, "")
    assert node.resolve("lab.kv.foo.calibration") == (foo, "calibration")
    assert node.resolve("kv.list_endpoints") == (node.endpoint("kv"), "list_endpoints")
    assert node.resolve("lab.kv") == (node.endpoint("kv"), "")
    assert foo.address == "lab.kv.foo"
    with pytest.raises(AMQPRoutingKeyError):
        node.resolve("lab")
    with pytest.raises(AMQPRoutingKeyError):
        node.resolve("fo")


def test_node_refuses_duplicate_names_across_stores():
    node = KVNode("lab", [make_store()])
    with pytest.raises(ConfigError) as error:
        node.add_store(KVStore(name="kv2", endpoints=[KVStoreKey(name="foo")]))
    assert "foo" in str(error.value)
    with pytest.raises(ConfigError):
        node.endpoint("kv").add_endpoint(KVStoreKey(name="bar"))


def test_a_key_added_to_a_served_store_is_reachable_at_once():
    node = KVNode("lab", [make_store()])
    node.endpoint("kv").add_endpoint(KVStoreKey(name="late", initial_value=9))
    reply = node.handle(Request("lab.kv.late", 1))
    assert reply.payload == {"value_raw": 9}


@pytest.mark.parametrize("name", ["", "a.b", "a b", "a*", "a#", 5, None])
def test_bad_names_are_refused(name):
    with pytest.raises(ConfigError):
        KVStoreKey(name=name)


def test_wrong_option_types_are_refused_with_the_key_name():
    with pytest.raises(ConfigError) as error:
        KVStoreKey(name="k", max_interval="soon")
    assert "k" in str(error.value) and "max_interval" in str(error.value)
    with pytest.raises(ConfigError):
        KVStoreKey(name="k", get_on_set="maybe")
    with pytest.raises(ConfigError):
        KVStoreKey(name="k", schedule_interval=1, log_interval=2)
