"""The alarm state machine: limits, deadband, delay, stale, failures, acknowledgement."""
import pytest

from flubber.alarms import Alarm, AlarmLimits, Severity


def make(**limits):
    return Alarm("temperature", AlarmLimits(**limits), now=0.0)


def test_levels_without_deadband_or_delay():
    alarm = make(high=80, hihi=120, low=5, lolo=0)
    assert alarm.update(50, 1) is None and alarm.severity == Severity.OK
    change = alarm.update(90, 2)
    assert (change.previous, change.severity, alarm.condition) == (Severity.OK, Severity.MINOR, "high")
    assert alarm.update(130, 3).severity == Severity.MAJOR and alarm.condition == "hihi"
    assert alarm.update(3, 4).severity == Severity.MINOR and alarm.condition == "low"
    assert alarm.update(-1, 5).severity == Severity.MAJOR and alarm.condition == "lolo"
    assert alarm.update(20, 6).severity == Severity.OK and alarm.condition == ""


def test_a_value_on_the_limit_is_inside():
    alarm = make(high=80)
    assert alarm.update(80, 1) is None and alarm.severity == Severity.OK


def test_deadband_holds_a_state_until_the_value_is_back_inside():
    alarm = make(high=80, hihi=120, deadband=2)
    alarm.update(125, 1)
    assert alarm.update(119, 2) is None and alarm.severity == Severity.MAJOR
    assert alarm.update(118.5, 3) is None
    assert alarm.update(117.9, 4).severity == Severity.MINOR
    assert alarm.update(78.5, 5) is None and alarm.severity == Severity.MINOR
    assert alarm.update(77.9, 6).severity == Severity.OK


def test_a_value_oscillating_inside_the_deadband_changes_the_state_once():
    alarm = make(high=80, deadband=1)
    changes = [alarm.update(80 + (0.6 if i % 2 else -0.6), i) for i in range(600)]
    assert len([c for c in changes if c is not None]) == 1


def test_delay_raises_only_after_the_value_stayed_beyond_the_limit():
    alarm = make(high=80, delay=5)
    assert alarm.update(90, 10) is None
    assert alarm.update(91, 13) is None
    assert alarm.check(14.9) is None
    change = alarm.check(15.0)
    assert change.severity == Severity.MINOR and change.time == 15.0
    assert alarm.raised_at == 15.0


def test_a_value_back_inside_before_the_delay_raises_nothing():
    alarm = make(high=80, delay=5)
    alarm.update(90, 10)
    alarm.update(70, 12)
    assert alarm.check(20) is None and alarm.severity == Severity.OK


def test_stale_goes_invalid_and_a_reading_brings_it_back():
    alarm = make(high=80, stale=10)
    assert alarm.check(9) is None
    change = alarm.check(10.5)
    assert change.severity == Severity.INVALID and alarm.condition == "stale"
    assert "no reading" in alarm.describe()
    assert alarm.check(30) is None  # once
    back = alarm.update(50, 31)
    assert back.previous == Severity.INVALID and back.severity == Severity.OK


def test_failures_are_invalid_once():
    alarm = make(high=80)
    first = alarm.fail("ConnectionRefusedError: [Errno 111]", 1)
    assert first.severity == Severity.INVALID and not alarm.acknowledged
    assert alarm.fail("again", 2) is None
    assert alarm.update(90, 3).severity == Severity.MINOR


def test_not_a_number_is_invalid():
    alarm = make(high=80)
    assert alarm.update(float("nan"), 1).severity == Severity.INVALID


def test_acknowledge_and_worst_value():
    alarm = make(high=80, hihi=120)
    alarm.update(90, 1)
    alarm.update(130, 2)
    alarm.update(125, 3)
    assert alarm.worst == 130 and alarm.value == 125 and alarm.raised_at == 1
    assert not alarm.acknowledged
    ack = alarm.acknowledge(4)
    assert ack.kind == "ack" and alarm.acknowledged
    assert alarm.acknowledge(5) is None
    alarm.update(50, 6)
    assert alarm.severity == Severity.OK and alarm.acknowledged
    alarm.update(85, 7)
    assert not alarm.acknowledged and alarm.raised_at == 7 and alarm.worst == 85


def test_low_side_worst_is_the_lowest():
    alarm = make(low=5, lolo=0)
    alarm.update(4, 1)
    alarm.update(-3, 2)
    alarm.update(-1, 3)
    assert alarm.worst == -3


def test_snapshot_is_json_friendly():
    alarm = make(high=80)
    alarm.update(90, 1)
    data = alarm.as_dict()
    assert data["severity"] == "MINOR" and data["message"] == "temperature MINOR: 90 above high 80"
    assert data["limits"]["high"] == 80


def test_severity_parse():
    assert Severity.parse("major") is Severity.MAJOR
    with pytest.raises(ValueError, match="not one of OK, MINOR, MAJOR, INVALID"):
        Severity.parse("urgent")
