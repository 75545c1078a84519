"""Findings 2, 3 and 5 of issue 13 over TCP: keys take only what they declare, calibrations cannot
allocate gigabytes, and no reply carries NaN or Infinity."""
import json

import pytest

from tests.security.conftest import LineClient, get, node_config, set_

pytestmark = pytest.mark.timeout(120)

#: Peak RSS a node may reach in these tests: it starts near 30 MB; the attacks reached 1-2 GB.
PEAK_RSS_LIMIT_MB = 250


@pytest.mark.parametrize("calibration", [
    "'{:>1000000000}'",          # 1 GB at 0c5f9d1
    "{:.1000000000f}",           # 2 GB
    "'{:>1000000000000}'",       # MemoryError and a traceback
    "{:>99999999}*2",
    "{:,.999999999e}",
])
def test_a_calibration_format_spec_cannot_allocate_memory(start_node, calibration):
    node = start_node(node_config(declare=False))
    tcp = LineClient(node.tcp, timeout=60)
    try:
        before = node.peak_rss_mb()
        reply = tcp.request(set_("setpoint.calibration", calibration))
        peak = node.peak_rss_mb()  # 0c5f9d1: 982 MB, 1935 MB, and a MemoryError for the third
        assert peak < PEAK_RSS_LIMIT_MB, "peak RSS went from %.0f MB to %.0f MB" % (before, peak)
        assert reply["retcode"] == 304, reply
        assert "larger than" in reply["return_msg"]
        assert tcp.request(get("setpoint"))["payload"] == {"value_raw": 25}
    finally:
        tcp.close()
    node.stop()
    node.assert_no_traceback()


def test_a_bounded_format_spec_still_calibrates(start_node):
    node = start_node()
    tcp = LineClient(node.tcp)
    try:
        assert tcp.request(set_("setpoint.calibration", "'{:>8.2f}'"))["retcode"] == 0
        assert tcp.request(get("setpoint"))["payload"] == {"value_raw": 25, "value_cal": "   25.00"}
    finally:
        tcp.close()


@pytest.mark.parametrize("raw, retcode, words", [
    (b"1e999999", 304, "not a finite number"),
    (b"-1e999999", 304, "not a finite number"),
    (b"[1, 1e999999]", 304, "not a finite number"),
    (b"NaN", 302, "not a JSON number"),
    (b"Infinity", 302, "not a JSON number"),
])
def test_a_key_that_declares_nothing_still_refuses_non_finite_numbers(start_node, raw, retcode, words):
    node = start_node(node_config(declare=False))
    tcp = LineClient(node.tcp)
    try:
        tcp.send(b'{"msgop": 0, "target": "temperature", "payload": {"values": [' + raw + b"]}}")
        reply = tcp.reply()
        assert reply["retcode"] == retcode and words in reply["return_msg"], reply
        tcp.send(get("temperature"))
        line = tcp.file.readline()
        assert b"Infinity" not in line and b"NaN" not in line, line  # 0c5f9d1 replied Infinity / NaN
        assert json.loads(line)["payload"] == {"value_raw": 20}
    finally:
        tcp.close()


@pytest.mark.parametrize("raw, retcode, words", [
    (b"1e999999", 304, "not a finite number"),
    (b'"hot"', 304, "takes a number"),
    (b"[20, 30]", 304, "takes a number"),
    (b"true", 304, "takes a number"),
    (b"401", 304, "from -50 to 400"),
])
def test_a_key_refuses_what_it_does_not_take_and_keeps_its_value(start_node, raw, retcode, words):
    node = start_node()
    tcp = LineClient(node.tcp)
    try:
        tcp.send(b'{"msgop": 0, "target": "setpoint", "payload": {"values": [' + raw + b"]}}")
        reply = tcp.reply()
        assert reply["retcode"] == retcode and words in reply["return_msg"], reply
        assert tcp.request(get("setpoint"))["payload"] == {"value_raw": 25}
        assert tcp.request(set_("setpoint", "30.5"))["retcode"] == 0  # text that is a number converts
        assert tcp.request(get("setpoint"))["payload"] == {"value_raw": 30.5}
    finally:
        tcp.close()


def test_choices_refuse_anything_else(start_node):
    node = start_node()
    tcp = LineClient(node.tcp)
    try:
        reply = tcp.request(set_("mode", "turbo"))
        assert reply["retcode"] == 304 and "one of 'auto', 'manual'" in reply["return_msg"]
        assert tcp.request(set_("mode", "manual"))["retcode"] == 0
        assert tcp.request(get("mode"))["payload"] == {"value_raw": "manual"}
    finally:
        tcp.close()


def test_a_calibration_that_overflows_is_refused_not_sent_as_infinity(start_node):
    node = start_node(node_config(declare=False))
    tcp = LineClient(node.tcp)
    try:
        assert tcp.request(set_("setpoint.calibration", "{}*1e308*10"))["retcode"] == 0
        tcp.send(get("setpoint"))
        line = tcp.file.readline()
        assert b"Infinity" not in line and b"NaN" not in line, line
    finally:
        tcp.close()
