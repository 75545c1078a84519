"""Alert sinks: a ContinuousLogger (fake and real), a queue, the log."""
import logging
import sqlite3

import pytest

from flubber.kvstore import Alert, ContinuousLoggerSink, KVNode, KVStore, KVStoreKey, LoggingSink, QueueSink


class RecordingLogger:
    """Has the ContinuousLogger interface: ``enqueue_point(codename, (unixtime, value))``."""

    def __init__(self, refuse=()):
        self.points = []
        self.refuse = set(refuse)

    def enqueue_point(self, codename, point):
        if codename in self.refuse:
            raise ValueError("unknown codename %r" % codename)
        self.points.append((codename, point))


def logged_node(sink, clock):
    keys = [KVStoreKey(name=name, initial_value=value, log_on_set=True, calibration=calibration)
            for name, value, calibration in [("temp", 20.0, "{} + 273.15"), ("mode", "auto", None),
                                              ("flag", True, None), ("count", 1, None)]]
    for key in keys:
        key.clock = clock
    node = KVNode("lab", [KVStore(name="kv", endpoints=keys)])
    node.add_alert_sink(sink)
    return node


def test_continuous_logger_sink_enqueues_calibrated_numbers_with_the_alert_time(clock):
    recorder = RecordingLogger()
    node = logged_node(ContinuousLoggerSink(recorder), clock)
    node.endpoint("temp").set_value(21.0)
    clock.advance(5)
    node.endpoint("count").set_value(7)
    assert recorder.points == [("temp", (clock.now - 5, 21.0 + 273.15)), ("count", (clock.now, 7.0))]


def test_continuous_logger_sink_skips_text_and_bools(clock):
    recorder = RecordingLogger()
    node = logged_node(ContinuousLoggerSink(recorder), clock)
    node.endpoint("mode").set_value("manual")
    node.endpoint("flag").set_value(False)
    assert recorder.points == []


def test_continuous_logger_sink_maps_key_names_to_codenames(clock):
    recorder = RecordingLogger()
    node = logged_node(ContinuousLoggerSink(recorder, codenames={"count": "lab_counter"}), clock)
    node.endpoint("temp").set_value(1.0)
    node.endpoint("count").set_value(3)
    assert recorder.points == [("lab_counter", (clock.now, 3.0))]


def test_continuous_logger_errors_are_logged_once_and_never_break_the_set(clock, caplog):
    recorder = RecordingLogger(refuse={"count"})
    node = logged_node(ContinuousLoggerSink(recorder), clock)
    with caplog.at_level(logging.ERROR, logger="flubber.kvstore.alerts"):
        for value in range(3):
            assert node.endpoint("count").set_value(value) == value
    assert len([record for record in caplog.records if "count" in record.getMessage()]) == 1


def test_queue_sink_drops_the_oldest_when_full():
    sink = QueueSink(maxsize=2)
    for value in range(5):
        sink(Alert("sensor_value.k", {"value_raw": value}))
    assert len(sink) == 2 and sink.dropped == 3
    assert [sink.get(timeout=0).payload["value_raw"] for _ in range(2)] == [3, 4]


def test_logging_sink_writes_one_line_per_alert(caplog):
    with caplog.at_level(logging.INFO, logger="flubber.kvstore.alerts"):
        LoggingSink()(Alert("sensor_value.k", {"value_raw": 1}))
    assert "sensor_value.k" in caplog.text


def test_alert_value_prefers_the_calibrated_value():
    assert Alert("r", {"value_raw": 1, "value_cal": 2}).value == 2
    assert Alert("r", {"value_raw": 1}).value == 1
    assert Alert("r", 5).value == 5


def test_broadcasts_reach_a_real_continuous_logger(tmp_path, clock):
    loggers = pytest.importorskip("flubber.loggers", reason="flubber.loggers is not available")
    if not hasattr(loggers, "ContinuousLogger"):
        pytest.skip("flubber.loggers has no ContinuousLogger yet")
    database = tmp_path / "lab.sqlite3"
    continuous = loggers.ContinuousLogger("dateplots_kvtest", None, None, ["temp", "count"],
                                          sqlite_path=str(database), create_tables=True)
    continuous.start()
    try:
        node = logged_node(ContinuousLoggerSink(continuous), clock)
        node.endpoint("temp").set_value(21.5)
        clock.advance(1)
        node.endpoint("count").set_value(4)
    finally:
        continuous.stop()
    with sqlite3.connect(str(database)) as connection:
        rows = connection.execute("SELECT value FROM dateplots_kvtest ORDER BY id").fetchall()
    assert [row[0] for row in rows] == [pytest.approx(21.5 + 273.15), 4.0]
