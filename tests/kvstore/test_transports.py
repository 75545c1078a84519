"""Every operation and retcode, through each transport (TCP and the real RabbitMQ).

The ``kv`` fixture runs each test once over TCP and once over AMQP, with a
client of that transport talking to the same kind of node.
"""
import gevent
import pytest

from flubber.kvstore import (
    OP_CONFIG, OP_GET, OP_RUN, OP_SEND, OP_SET, AccessDenied, AMQPRoutingKeyError, HardwareError, InvalidKey,
    InvalidValue, MethodNotSupported, UnhandledError,
)


def test_get_returns_raw_and_calibrated_value(kv):
    assert kv.client.get(kv.names.foo) == {"value_raw": 3, "value_cal": 6}


def test_get_of_a_key_without_calibration_has_only_value_raw(kv):
    assert kv.client.get(kv.names.note) == {"value_raw": "hello"}


def test_dict_calibration_maps_the_raw_value(kv):
    assert kv.client.get(kv.names.valve) == {"value_raw": "CLOSE", "value_cal": "closed"}


def test_set_stores_the_value_exactly_as_given(kv):
    reply = kv.client.request(kv.names.foo, OP_SET, {"values": [1.23456789]})
    assert (reply.retcode, reply.payload) == (0, {"values": [1.23456789]})
    assert kv.client.get(kv.names.foo) == {"value_raw": 1.23456789, "value_cal": 2.46913578}


def test_set_keeps_strings_lists_and_big_integers(kv):
    for value in ("text", [1, "two", 3.5], 2 ** 62 + 1, None, True):
        kv.client.set(kv.names.note, value)
        assert kv.client.get(kv.names.note) == {"value_raw": value}


def test_key_is_addressable_by_hierarchical_address(kv):
    address = "%s.%s.%s" % (kv.names.lab, kv.names.kv, kv.names.foo)
    kv.client.set(address, 7)
    assert kv.client.get(address) == {"value_raw": 7, "value_cal": 14}
    assert kv.client.get(kv.names.foo)["value_raw"] == 7


def test_get_with_specifier_reads_an_attribute(kv):
    assert kv.client.get(kv.names.foo + ".calibration") == {"values": ["2*{}"]}


def test_set_with_specifier_writes_an_attribute(kv):
    assert kv.client.set(kv.names.foo + ".calibration", "times3({})") == {"values": ["times3({})"]}
    assert kv.client.get(kv.names.foo) == {"value_raw": 3, "value_cal": 9.0}


def test_get_on_set_replies_with_the_read_back_value(kv):
    kv.client.set(kv.names.foo + ".get_on_set", True)
    assert kv.client.set(kv.names.foo, 10) == {"value_raw": 10, "value_cal": 20}


def test_log_on_set_broadcasts_the_new_value(kv):
    kv.client.set(kv.names.foo + ".log_on_set", True)
    kv.client.set(kv.names.foo, 4)
    alert = kv.alerts.get(timeout=5)
    assert alert.routing_key == "sensor_value." + kv.names.foo
    assert alert.payload == {"value_raw": 4, "value_cal": 8}


def test_config_request_reads_and_writes_attributes(kv):
    reply = kv.client.request(kv.names.foo, OP_CONFIG, {"values": ["max_interval"]})
    assert (reply.retcode, reply.payload) == (0, {"values": [0.0]})
    reply = kv.client.request(kv.names.foo + ".max_interval", OP_CONFIG, {"values": [30]})
    assert (reply.retcode, reply.payload) == (0, {"values": [30.0]})
    assert kv.key("foo").max_interval == 30.0


def test_cmd_ping_succeeds_silently(kv):
    reply = kv.client.request(kv.names.foo + ".ping", 9)
    assert reply.retcode == 0
    assert reply.return_msg == "operation completed silently"


def test_cmd_list_endpoints_of_the_store(kv):
    assert kv.client.cmd(kv.names.kv, "list_endpoints") == {
        "values": [[kv.names.foo, kv.names.valve, kv.names.note, kv.names.broken, kv.names.hw]]}


def test_lock_returns_a_key_and_set_needs_it(kv):
    key = kv.client.lock(kv.names.foo)
    assert len(key) == 32 and int(key, 16) >= 0
    with pytest.raises(AccessDenied) as denied:
        kv.client.set(kv.names.foo, 1)
    assert denied.value.reply.retcode == 307
    assert "locked" in denied.value.reply.return_msg
    kv.client.set(kv.names.foo, 1, lockout_key=key)
    assert kv.client.get(kv.names.foo)["value_raw"] == 1


def test_get_needs_no_key_while_locked(kv):
    kv.client.lock(kv.names.foo)
    assert kv.client.get(kv.names.foo) == {"value_raw": 3, "value_cal": 6}


def test_wrong_lockout_key_is_denied(kv):
    kv.client.lock(kv.names.foo)
    with pytest.raises(AccessDenied):
        kv.client.set(kv.names.foo, 1, lockout_key="0" * 32)


def test_malformed_lockout_key_is_retcode_308(kv):
    with pytest.raises(InvalidKey) as error:
        kv.client.set(kv.names.foo, 1, lockout_key="not-a-key")
    assert error.value.reply.retcode == 308


def test_unlock_needs_the_key_or_force(kv):
    key = kv.client.lock(kv.names.foo)
    with pytest.raises(AccessDenied):
        kv.client.unlock(kv.names.foo)
    kv.client.unlock(kv.names.foo, lockout_key=key)
    kv.client.set(kv.names.foo, 5)


def test_force_unlock_works_without_the_key(kv):
    kv.client.lock(kv.names.foo)
    kv.client.unlock(kv.names.foo, force=True)
    assert not kv.key("foo").is_locked
    kv.client.set(kv.names.foo, 5)


def test_unlock_of_an_unlocked_key_is_a_no_action_warning(kv):
    reply = kv.client.request(kv.names.foo + ".unlock", 9, {"values": []})
    assert reply.retcode == 1
    assert "not locked" in reply.return_msg


def test_locking_the_store_locks_its_keys(kv):
    key = kv.client.lock(kv.names.kv)
    with pytest.raises(AccessDenied):
        kv.client.set(kv.names.foo, 1)
    kv.client.set(kv.names.foo, 1, lockout_key=key)
    kv.client.unlock(kv.names.kv, lockout_key=key)
    kv.client.set(kv.names.valve, "OPEN")


def test_unknown_target_is_retcode_102(kv):
    with pytest.raises(AMQPRoutingKeyError) as error:
        kv.client.get(kv.names.nothing_here)
    assert error.value.reply.retcode == 102


def test_unknown_cmd_method_is_refused_with_306(kv):
    for method in ("explode", "__init__", "_on_set", "on_set", "store_value", "__class__"):
        reply = kv.client.request(kv.names.foo + "." + method, 9, {"values": []})
        assert reply.retcode == 306, method


def test_cmd_without_method_is_refused_with_306(kv):
    assert kv.client.request(kv.names.foo, 9, {"values": []}).retcode == 306


def test_private_or_unknown_attribute_is_refused_with_304(kv):
    for attribute in ("_value", "__dict__", "lockout_key", "provider", "nothing"):
        assert kv.client.request(kv.names.foo + "." + attribute, OP_GET).retcode == 304, attribute
        assert kv.client.request(kv.names.foo + "." + attribute, OP_SET, {"values": [1]}).retcode == 304


def test_set_without_values_is_a_payload_error_303(kv):
    reply = kv.client.request(kv.names.foo, OP_SET, {"values": []})
    assert reply.retcode == 303


def test_cmd_with_wrong_arguments_is_a_payload_error_303(kv):
    reply = kv.client.request(kv.names.foo + ".single_schedule", 9, {"values": [1, 2, 3]})
    assert reply.retcode == 303
    assert "single_schedule" in reply.return_msg


def test_bad_attribute_value_is_retcode_304(kv):
    with pytest.raises(InvalidValue):
        kv.client.set(kv.names.foo + ".max_interval", -5)
    with pytest.raises(InvalidValue):
        kv.client.set(kv.names.foo + ".schedule_status", "sideways")


def test_malicious_calibration_is_refused_with_304_and_not_run(kv):
    with pytest.raises(InvalidValue) as error:
        kv.client.set(kv.names.foo + ".calibration", "__import__('os').system('touch /tmp/flubber-pwned')")
    assert error.value.reply.retcode == 304
    assert kv.client.get(kv.names.foo + ".calibration") == {"values": ["2*{}"]}


def test_raw_value_that_injects_code_is_refused_with_304_and_not_stored(kv):
    before = kv.client.request(kv.names.foo, OP_GET).payload
    reply = kv.client.request(kv.names.foo, OP_SET, {"values": ["__import__('os').getcwd()"]})
    assert reply.retcode == 304
    assert "takes a number" in reply.return_msg
    assert kv.client.request(kv.names.foo, OP_GET).payload == before


def test_raw_value_that_injects_code_fails_calibration_with_304_on_get(kv):
    kv.node.endpoint(kv.names.foo).on_set("__import__('os').getcwd()")  # stored around the set check
    reply = kv.client.request(kv.names.foo, OP_GET)
    assert reply.retcode == 304
    assert reply.payload == {"value_raw": "__import__('os').getcwd()"}


def test_send_to_a_store_succeeds_and_run_is_not_supported(kv):
    assert kv.client.request(kv.names.kv, OP_SEND, {"values": ["*IDN?"]}).retcode == 0
    assert kv.client.request(kv.names.foo, OP_SEND, {"values": ["*IDN?"]}).retcode == 306
    assert kv.client.request(kv.names.foo, OP_RUN).retcode == 306


def test_unknown_msgop_is_retcode_306(kv):
    assert kv.client.request(kv.names.foo, 42).retcode == 306


def test_store_has_no_value_to_set(kv):
    with pytest.raises(MethodNotSupported):
        kv.client.set(kv.names.kv, 1)


def test_hardware_error_in_a_key_is_retcode_200(kv):
    with pytest.raises(HardwareError) as error:
        kv.client.get(kv.names.hw)
    assert error.value.reply.retcode == 200
    assert "multimeter" in error.value.reply.return_msg


def test_bug_in_a_key_is_retcode_999_and_the_service_keeps_serving(kv):
    with pytest.raises(UnhandledError) as error:
        kv.client.get(kv.names.broken)
    assert error.value.reply.retcode == 999
    assert "sensor driver bug" in error.value.reply.return_msg
    assert kv.client.get(kv.names.foo)["value_raw"] == 3


def test_ignore_retcode_returns_the_payload(kv):
    assert kv.client.get(kv.names.nothing, ignore_retcode=True) == {"values": [None]}


def test_concurrent_clients_each_get_their_own_reply(kv):
    kv.client.set(kv.names.foo, 0)

    def worker(index):
        for step in range(10):
            kv.client.set(kv.names.note, [index, step])
            kv.client.get(kv.names.foo)
        return index

    jobs = [gevent.spawn(worker, index) for index in range(8)]
    gevent.joinall(jobs, timeout=30, raise_error=True)
    assert sorted(job.value for job in jobs) == list(range(8))
