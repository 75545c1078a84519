"""Logging rules (log_on_set, schedule, max_interval, max_fractional_change) with a fake clock."""
import gevent
import pytest

from flubber.kvstore import BroadcastRule, KVStore, KVStoreKey, QueueSink
from tests.sync import wait_until


@pytest.fixture
def sink():
    return QueueSink()


def make_key(clock, sink, **options):
    """A key in a store whose alerts go to *sink*, timed by *clock*."""
    options.setdefault("initial_value", 10.0)
    key = KVStoreKey(name="temperature", **options)
    key.clock = clock
    KVStore(name="kv", endpoints=[key], alert_sinks=[sink])
    return key


def values(sink):
    found = []
    while len(sink):
        alert = sink.get(timeout=0)
        found.append(alert.payload.get("value_cal", alert.payload["value_raw"]))
    return found


def test_first_scheduled_read_is_always_broadcast(clock, sink):
    key = make_key(clock, sink, max_interval=60, max_fractional_change=0.1)
    key.scheduled_action()
    assert values(sink) == [10.0]


def test_without_rules_every_scheduled_read_is_broadcast(clock, sink):
    key = make_key(clock, sink)
    for _ in range(3):
        key.scheduled_action()
        clock.advance(1)
    assert values(sink) == [10.0, 10.0, 10.0]


def test_max_interval_broadcasts_once_the_interval_passed(clock, sink):
    key = make_key(clock, sink, max_interval=60)
    key.scheduled_action()
    clock.advance(59.9)
    key.scheduled_action()
    assert values(sink) == [10.0]
    clock.advance(0.1)
    key.scheduled_action()
    assert values(sink) == [10.0]
    clock.advance(30)
    key.scheduled_action()
    assert values(sink) == []


def test_max_fractional_change_broadcasts_a_large_move_only(clock, sink):
    key = make_key(clock, sink, max_interval=3600, max_fractional_change=0.1)
    key.scheduled_action()
    values(sink)
    for value, expected in [(10.9, []), (11.0, []), (11.01, [11.01]), (11.5, []), (9.9, [9.9])]:
        key.on_set(value)
        clock.advance(1)
        key.scheduled_action()
        assert values(sink) == expected, value


def test_fractional_change_from_a_previous_value_of_zero_does_not_divide_by_zero(clock, sink):
    key = make_key(clock, sink, initial_value=0, max_interval=3600, max_fractional_change=0.5)
    key.scheduled_action()
    assert values(sink) == [0]
    key.scheduled_action()
    assert values(sink) == []  # 0 -> 0: no change
    key.on_set(1e-9)
    key.scheduled_action()
    assert values(sink) == [1e-9]  # any move away from 0 is an infinite fraction
    key.on_set(0)
    key.scheduled_action()
    assert values(sink) == [0]  # back to 0: a 100 % change


def test_fractional_change_uses_the_calibrated_value(clock, sink):
    key = make_key(clock, sink, initial_value=1, calibration="{} - 100", max_interval=3600,
                   max_fractional_change=0.5)
    key.scheduled_action()           # cal -99
    key.on_set(2)                    # cal -98: 1 % change
    key.scheduled_action()
    key.on_set(80)                   # cal -20: 80 % change
    key.scheduled_action()
    assert values(sink) == [-99, -20]


def test_text_values_are_broadcast_when_they_change(clock, sink):
    key = make_key(clock, sink, initial_value="CLOSE", max_interval=3600, max_fractional_change=0.1)
    key.scheduled_action()
    key.scheduled_action()
    key.on_set("OPEN")
    key.scheduled_action()
    assert values(sink) == ["CLOSE", "OPEN"]


def test_log_on_set_broadcasts_every_set_and_resets_the_rule(clock, sink):
    key = make_key(clock, sink, log_on_set=True, max_interval=60, max_fractional_change=0.1)
    key.set_value(20.0)
    key.set_value(20.0)
    assert values(sink) == [20.0, 20.0]
    clock.advance(10)
    key.scheduled_action()          # 10 s after the last broadcast, no change
    assert values(sink) == []
    clock.advance(50)
    key.scheduled_action()
    assert values(sink) == [20.0]


def test_alert_carries_the_clock_time_and_the_routing_key(clock, sink):
    key = make_key(clock, sink, alert_routing_key="sensor_value")
    key.scheduled_action()
    alert = sink.get(timeout=0)
    assert alert.unixtime == clock.now
    assert alert.routing_key == "sensor_value.temperature"
    assert alert.name == "temperature"


def test_alert_routing_key_prefix_can_be_changed(clock, sink):
    key = make_key(clock, sink, alert_routing_key="status")
    assert key.alert_routing_key == "status.temperature"
    key.alert_routing_key = "sensor_value.temperature"  # the full key works too
    assert key.alert_routing_key == "sensor_value.temperature"


def test_rule_without_numbers_compares_values():
    rule = BroadcastRule(max_interval=0, max_fractional_change=0.1)
    assert rule.reason("a", 0) == "first value"
    rule.record("a", 0)
    assert rule.reason("a", 1) is None
    assert rule.reason("b", 1) is not None
    assert rule.reason(None, 1) is not None


def test_rule_treats_bools_and_nan_as_non_numbers():
    rule = BroadcastRule(max_fractional_change=0.1)
    rule.record(True, 0)
    assert rule.reason(True, 1) is None
    rule.record(float("nan"), 0)
    assert rule.reason(1.0, 1) is not None


def test_schedule_reads_repeatedly_until_stopped(sink):
    key = KVStoreKey(name="fast", initial_value=1.0, schedule_interval=0.01)
    KVStore(name="kv", endpoints=[key], alert_sinks=[sink])
    assert not key.schedule_status
    key.start()
    assert key.schedule_status
    with gevent.Timeout(5):
        while len(sink) < 3:
            gevent.sleep(0.01)
    key.schedule_status = "off"
    assert not key.schedule_status
    gevent.idle()  # a read under way has finished
    count = len(sink)
    gevent.sleep(0.05)
    assert len(sink) == count


def test_schedule_status_accepts_dripline_words(sink):
    key = KVStoreKey(name="slow", initial_value=1.0, schedule_interval=3600, delay_start=True)
    KVStore(name="kv", endpoints=[key], alert_sinks=[sink])
    key.logging_status = "on"
    assert key.schedule_status and key.logging_status
    key.schedule_status = "restart"
    assert key.schedule_status
    key.schedule_status = "stop"
    assert not key.schedule_status
    assert len(sink) == 0  # delay_start: the first read waits one interval


def test_starting_a_schedule_without_interval_is_refused():
    key = KVStoreKey(name="idle", initial_value=1)
    with pytest.raises(ValueError):
        key.schedule_status = "on"


def test_single_schedule_reads_once_after_the_delay(sink):
    key = KVStoreKey(name="once", initial_value=5)
    KVStore(name="kv", endpoints=[key], alert_sinks=[sink])
    key.max_single_schedules = 1
    key.single_schedule(0.01)
    assert sink.get(timeout=5).payload == {"value_raw": 5}
    # once its greenlet ends, the done read no longer counts against max_single_schedules
    wait_until(lambda: not key._singles, what="the done single schedule to leave the waiting ones")
    key.single_schedule(0.01)
    assert sink.get(timeout=5).payload == {"value_raw": 5}


@pytest.mark.parametrize("interval", [1e-9, 0.001, "1e-6"])
def test_a_schedule_interval_below_the_minimum_is_refused_and_the_old_one_stays(interval):
    # set over the network, 1e-9 read and broadcast the key in a loop that took the node's CPU
    from flubber.kvstore import InvalidValue, OP_SET, Request

    key = KVStoreKey(name="sensor", initial_value=5, schedule_interval=1)
    KVStore(name="kv", endpoints=[key])
    reply = key.handle(Request("sensor.schedule_interval", OP_SET, {"values": [interval]}), "schedule_interval")
    assert reply.retcode == InvalidValue.retcode and "at least 0.01 s" in reply.return_msg
    assert key.schedule_interval == 1
    key.schedule_interval = 0  # 0 still means no schedule
    with pytest.raises(Exception, match="at least 0.01 s"):
        KVStoreKey(name="fast", schedule_interval=0.001)


def test_single_schedules_waiting_at_once_are_bounded():
    # each one is a greenlet waiting for its delay: a client repeating cmd KEY.single_schedule 1e8 grew the
    # node's memory without bound
    from flubber.kvstore import InvalidValue, OP_CMD, Request

    key = KVStoreKey(name="once", initial_value=5)
    KVStore(name="kv", endpoints=[key])
    for _ in range(key.max_single_schedules):
        key.single_schedule(1e8)
    reply = key.handle(Request("once.single_schedule", OP_CMD, {"values": [1e8]}), "single_schedule")
    assert reply.retcode == InvalidValue.retcode and "already wait" in reply.return_msg
    key.stop()  # stopping the key's schedule ends the waiting single reads too
    key.single_schedule(1e8)
    key.stop()


def test_a_failing_scheduled_read_does_not_end_the_schedule(sink):
    class Flaky(KVStoreKey):
        calls = 0

        def on_get(self):
            Flaky.calls += 1
            if Flaky.calls == 1:
                raise RuntimeError("first read fails")
            return super().on_get()

    key = Flaky(name="flaky", initial_value=1, schedule_interval=0.01)
    KVStore(name="kv", endpoints=[key], alert_sinks=[sink])
    key.start()
    try:
        assert sink.get(timeout=5).payload == {"value_raw": 1}
    finally:
        key.stop()


def test_store_schedule_status_covers_its_scheduled_keys():
    fast = KVStoreKey(name="a", initial_value=1, schedule_interval=3600, delay_start=True)
    plain = KVStoreKey(name="b", initial_value=1)
    store = KVStore(name="kv", endpoints=[fast, plain])
    assert store.schedule_status == {"a": False}
    store.schedule_status = "on"
    assert store.logging_status == {"a": True}
    store.stop()
    assert store.schedule_status == {"a": False}


def test_alert_sinks_that_fail_do_not_stop_the_others(clock, sink):
    def broken(alert):
        raise RuntimeError("sink bug")

    key = KVStoreKey(name="k", initial_value=1, log_on_set=True)
    KVStore(name="kv", endpoints=[key], alert_sinks=[broken, sink])
    key.set_value(2)
    assert sink.get(timeout=0).payload == {"value_raw": 2}
