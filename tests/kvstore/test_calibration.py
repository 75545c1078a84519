"""Calibrations: format strings evaluated safely, dicts, and everything malicious refused."""
import os

import pytest

from flubber.kvstore import Calibration, CalibrationError, InvalidValue, KVStoreKey, calibrate, times2, times3


def test_times2_and_times3_are_the_dripline_helpers():
    assert times2(1.5) == 3.0
    assert times3("2") == 6.0


@pytest.mark.parametrize("spec, raw, expected", [
    ("2*{}", 3, 6),
    ("2*{}", 1.25, 2.5),
    ("times3({})", 2, 6.0),
    ("times2({0})", 4, 8.0),
    ("{}/10 - 273.15", 2981.5, 2981.5 / 10 - 273.15),
    ("sqrt({})", 16, 4.0),
    ("round({:.3f} * pi, 2)", 1, 3.14),
    ("{0} if {0} > 0 else 0", 5, 5),    # {0} to use the value twice
    ("1.*{}", "4.00", 4.0),            # strings are formatted stripped, as dripline does
])
def test_format_string_calibrations(spec, raw, expected):
    assert calibrate(spec, raw) == pytest.approx(expected)


def test_dict_calibration_looks_up_the_raw_value():
    table = Calibration({"CLOSE": "on", "OPEN": "off", 1: "one"})
    assert table("CLOSE") == "on"
    assert table(1) == "one"
    assert table("1") == "one"  # a JSON string meets a YAML integer key


def test_dict_calibration_of_an_unknown_raw_value_is_refused():
    with pytest.raises(CalibrationError) as error:
        Calibration({"CLOSE": "on"})("AJAR")
    assert "AJAR" in str(error.value) and "CLOSE" in str(error.value)
    assert error.value.retcode == 304


def test_calibration_error_is_an_invalid_value_with_retcode_304():
    assert issubclass(CalibrationError, InvalidValue)
    assert CalibrationError.retcode == 304


MALICIOUS = [
    "__import__('os').system('touch /tmp/flubber-pwned')",
    "open('/etc/passwd').read()",
    "().__class__.__bases__[0].__subclasses__()",
    "{}.__class__",
    "{0.__class__.__mro__}",
    "{0.__init__.__globals__}",
    "{!r}",
    "{[0]}",
    "[c for c in ().__class__.__base__.__subclasses__()]",
    "lambda: 0",
    "(lambda: 0)()",
    "eval('1')",
    "exec('1')",
    "getattr(1, 'real')",
    "globals()",
    "x",
    "2*{}; import os",
    "9**9**9**9",
    "'a' * 10**9",
    "2 << 10**7",
]


@pytest.mark.parametrize("spec", MALICIOUS)
def test_malicious_calibration_is_refused_before_any_value_arrives(spec):
    with pytest.raises(CalibrationError):
        calibration = Calibration(spec)
        calibration(3)  # some are only caught when the value is known; never evaluated by Python


def test_refused_calibration_never_runs_its_code(tmp_path):
    target = tmp_path / "pwned"
    with pytest.raises(CalibrationError):
        Calibration("__import__('os').system('touch %s')" % target)
    assert not target.exists()
    with pytest.raises(CalibrationError):
        Calibration("2*{}")("__import__('os').system('touch %s')" % target)
    assert not target.exists()


@pytest.mark.parametrize("raw", [
    "__import__('os').getcwd()",
    "9**999999",
    "(" * 300 + "1" + ")" * 300,
    "'x' * 1000000",
    "1 if True else __import__('os')",
])
def test_raw_values_cannot_inject_code_or_burn_cpu(raw):
    with pytest.raises(CalibrationError):
        Calibration("2*{}")(raw)


def test_a_key_refuses_a_malicious_calibration_at_construction():
    with pytest.raises(ValueError) as error:
        KVStoreKey(name="foo", calibration="__import__('os')")
    assert "foo" in str(error.value)


def test_a_key_refuses_an_initial_value_its_calibration_cannot_handle():
    with pytest.raises(ValueError) as error:
        KVStoreKey(name="foo", initial_value="abc", calibration="2*{}")
    assert "initial_value" in str(error.value)


def test_a_key_refuses_a_malicious_calibration_set_later():
    key = KVStoreKey(name="foo", initial_value=1, calibration="2*{}")
    with pytest.raises(CalibrationError):
        key.calibration = "open('/etc/passwd')"
    assert key.calibration == "2*{}"


def test_calibration_that_fails_for_a_value_reports_the_raw_value():
    key = KVStoreKey(name="foo", initial_value=1, calibration="2*{}")
    key.on_set("abc")
    with pytest.raises(CalibrationError) as error:
        key.on_get()
    assert error.value.result == {"value_raw": "abc"}


def test_calibration_must_be_a_string_or_a_dict():
    with pytest.raises(CalibrationError):
        Calibration(5)


def test_long_expressions_are_refused():
    with pytest.raises(CalibrationError):
        Calibration("1+" * 10000 + "{}")


def test_no_file_was_created_by_any_refused_expression():
    assert not os.path.exists("/tmp/flubber-pwned")
