"""``flubber set`` of a value a calibrated key cannot take says what the key needs, and keeps the old value."""
import json
import os

import pytest

from tests.processes import EXAMPLES, flubber, interrupt, serve

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def kvstore_node():
    """examples/kvstore.yaml served on a free port; yields its ``--host`` value."""
    process, port, _ = serve(os.path.join(EXAMPLES, "kvstore.yaml"))
    try:
        yield "127.0.0.1:%d" % port
    finally:
        interrupt(process)


def test_set_text_on_a_calibrated_key_says_the_key_takes_a_number(kvstore_node):
    result = flubber("set", "setpoint", "abc", "--host", kvstore_node)
    assert result.returncode == 1
    assert result.stderr == ("retcode 304 (InvalidValue): setpoint takes a number (its calibration '2*{}' "
                             "computes with it); got 'abc'\n")
    got = flubber("get", "setpoint", "--host", kvstore_node)
    assert json.loads(got.stdout) == {"value_raw": 20, "value_cal": 40}  # the value was not replaced


def test_set_of_a_raw_value_missing_from_a_calibration_table_names_the_known_ones(kvstore_node):
    result = flubber("set", "valve", "HALF", "--host", kvstore_node)
    assert result.returncode == 1
    assert result.stderr == ("retcode 304 (InvalidValue): valve cannot take 'HALF': raw value 'HALF' is not "
                             "in the calibration table; known raw values: 'CLOSE', 'OPEN'\n")


def test_set_of_a_number_still_works(kvstore_node):
    result = flubber("set", "setpoint", "21.5", "--host", kvstore_node)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"value_raw": 21.5, "value_cal": 43.0}
