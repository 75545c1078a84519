"""The board: changes go once to history, publisher and the channels that want them."""
import sqlite3

import gevent
import gevent.event
import pytest

from flubber.alarms import (
    AlarmBoard, AlarmHistory, AlarmLimits, NotificationChannel, Severity, UnknownAlarmError, WebhookTarget,
)


class FakeClock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


def test_raise_notify_ack_clear_with_a_real_webhook(webhook, tmp_path):
    clock = FakeClock()
    published = []
    history = AlarmHistory("sqlite:///%s" % (tmp_path / "h.sqlite"), node="lab")
    board = AlarmBoard("lab", {"temperature": AlarmLimits(high=80, deadband=1, delay=5)},
                       channels=[NotificationChannel(WebhookTarget(webhook.url))], history=history,
                       publish=published.append, clock=clock, tick=3600)
    board.start()
    try:
        board.update("temperature", 90)
        clock.now += 4
        board.check()
        assert board.get("temperature").severity == Severity.OK
        clock.now += 1
        board.check()
        raised = webhook.get()
        assert (raised["name"], raised["severity"], raised["previous"], raised["value"]) == \
            ("temperature", "MINOR", "OK", 90.0)
        assert raised["node"] == "lab" and raised["time"] == 1005.0
        assert board.acknowledge("temperature") is True
        assert board.acknowledge("temperature") is False
        board.update("temperature", 79.5)   # inside the deadband: still MINOR
        board.update("temperature", 78.0)
        cleared = webhook.get()
        assert (cleared["severity"], cleared["previous"]) == ("OK", "MINOR")
        assert webhook.received.empty()
        assert [c.kind for c in published] == ["change", "ack", "change"]
    finally:
        board.stop()
    rows = sqlite3.connect(str(tmp_path / "h.sqlite")).execute(
        "SELECT name, severity, previous, kind, value FROM alarm_history ORDER BY id").fetchall()
    assert rows == [("temperature", "MINOR", "OK", "change", 90.0), ("temperature", "MINOR", "MINOR", "ack", 90.0),
                    ("temperature", "OK", "MINOR", "change", 78.0)]


def test_min_severity_filters_and_repeat_reminds_while_unacknowledged(webhook):
    clock = FakeClock()
    major_only = NotificationChannel(WebhookTarget(webhook.url), min_severity="MAJOR", repeat=60)
    board = AlarmBoard("lab", {"p": AlarmLimits(high=1, hihi=2)}, channels=[major_only], clock=clock, tick=3600)
    board.start()
    try:
        board.update("p", 1.5)              # MINOR: below the channel's min_severity
        board.update("p", 3)                # MAJOR
        assert webhook.get()["severity"] == "MAJOR"
        clock.now += 59
        board.check()
        clock.now += 1
        board.check()
        reminder = webhook.get()
        assert reminder["kind"] == "repeat" and reminder["severity"] == "MAJOR"
        board.acknowledge("p")
        clock.now += 600
        board.check()
        board.update("p", 0.5)              # MAJOR -> OK concerns MAJOR: told
        assert webhook.get()["severity"] == "OK"
        assert webhook.received.empty()
    finally:
        board.stop()


def test_oscillation_in_the_deadband_for_30_seconds_notifies_at_most_once(webhook):
    """300 readings alternating 79.5 / 80.5 around high=80 with deadband 2: one raise, nothing more."""
    clock = FakeClock()
    channel = NotificationChannel(WebhookTarget(webhook.url))
    board = AlarmBoard("lab", {"t": AlarmLimits(high=80, deadband=2)}, channels=[channel], clock=clock, tick=3600)
    board.start()
    try:
        for step in range(300):             # 30 s of readings at 10 Hz around the limit
            clock.now += 0.1
            board.update("t", 80.5 if step % 2 else 79.5)
            board.check()
        assert webhook.get()["severity"] == "MINOR"
        assert board.changes == 1
        board.update("t", 60)              # well inside: cleared, told once more
        assert webhook.get()["severity"] == "OK"
        assert webhook.received.empty()
    finally:
        board.stop()


def test_ticker_marks_a_silent_value_stale():
    changed = gevent.event.Event()
    board = AlarmBoard("lab", {"t": AlarmLimits(stale=0.05)}, publish=lambda change: changed.set(), tick=0.01)
    board.start()
    try:
        assert changed.wait(10)
        assert board.get("t").severity == Severity.INVALID and board.get("t").condition == "stale"
        assert board.worst == Severity.INVALID
    finally:
        board.stop()
    assert not board.running


def test_unknown_alarm_lists_the_names():
    board = AlarmBoard("lab", {"t": AlarmLimits(high=1)})
    with pytest.raises(UnknownAlarmError, match="no alarm 'x'; the alarms are: t"):
        board.acknowledge("x")
    board.update("not-watched", 5)  # ignored


def test_a_failing_publisher_does_not_stop_notifications(webhook):
    def broken(change):
        raise RuntimeError("broker gone")

    board = AlarmBoard("lab", {"t": AlarmLimits(high=1)}, channels=[NotificationChannel(WebhookTarget(webhook.url))],
                       publish=broken)
    board.start()
    try:
        board.update("t", 5)
        assert webhook.get()["severity"] == "MINOR"
    finally:
        board.stop()


def test_a_dead_webhook_is_retried_and_the_board_keeps_working():
    import socket

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))   # bound, not listening: refused
    channel = NotificationChannel(WebhookTarget("http://127.0.0.1:%d/" % closed.getsockname()[1]), backoff=0.01,
                                  max_backoff=0.02)
    board = AlarmBoard("lab", {"t": AlarmLimits(high=1)}, channels=[channel])
    board.start()
    try:
        board.update("t", 5)
        with gevent.Timeout(10):
            while channel.failures < 3:
                gevent.sleep(0.01)
        board.update("t", 0)          # readings are still taken while the target is down
        assert board.get("t").severity == Severity.OK and channel.sent == 0
        assert "failed" in channel.last_error
    finally:
        board.stop()
        closed.close()


def test_a_delayed_alarm_ignores_a_value_that_keeps_dipping_back():
    """With a delay, a value that never stays beyond the limit for the delay raises nothing."""
    clock = FakeClock()
    board = AlarmBoard("lab", {"t": AlarmLimits(high=80, delay=1)}, clock=clock, tick=3600)
    for step in range(300):
        clock.now += 0.1
        board.update("t", 80.5 if step % 2 else 79.5)
        board.check()
    assert board.changes == 0


def test_history_in_mariadb(mariadb_available):
    """Every change is a row of alarm_history in the real MariaDB."""
    import uuid

    import MySQLdb

    table = "alarm_history_test_%s" % uuid.uuid4().hex[:8]
    history = AlarmHistory("mysql://root@127.0.0.1:3306/test", node="lab", table=table)
    board = AlarmBoard("lab", {"p": AlarmLimits(high=1, hihi=2)}, history=history)
    board.start()
    board.update("p", 1.5)
    board.update("p", 2.5)
    board.acknowledge("p")
    board.update("p", 0)
    board.stop()
    assert history.written == 4 and history.status()["pending"] == 0
    conn = MySQLdb.connect(host="127.0.0.1", port=3306, user="root", password="", database="test")
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT node, name, severity, previous, kind FROM `%s` ORDER BY id" % table)
        rows = cursor.fetchall()
        cursor.execute("DROP TABLE `%s`" % table)
    finally:
        conn.close()
    assert rows == (("lab", "p", "MINOR", "OK", "change"), ("lab", "p", "MAJOR", "MINOR", "change"),
                    ("lab", "p", "MAJOR", "MAJOR", "ack"), ("lab", "p", "OK", "MAJOR", "change"))


def test_history_keeps_rows_while_the_database_cannot_be_written(tmp_path):
    """An unwritable place: rows wait (counted), the board keeps going, status says why."""
    history = AlarmHistory("sqlite:///%s" % (tmp_path / "missing-dir" / "h.sqlite"), node="lab", backoff=0.01,
                           max_backoff=0.02)
    board = AlarmBoard("lab", {"p": AlarmLimits(high=1)}, history=history)
    board.start()
    try:
        board.update("p", 5)
        with gevent.Timeout(10):
            while history.last_error is None:
                gevent.sleep(0.01)
        assert history.status()["pending"] == 1 and "unable to open" in history.last_error
        (tmp_path / "missing-dir").mkdir()
        with gevent.Timeout(10):
            while history.written < 1:
                gevent.sleep(0.01)
    finally:
        board.stop()
