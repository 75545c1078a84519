"""Notification targets against real receivers on loopback: HTTP, a program, SMTP."""
import json
import sys

import gevent
import gevent.event
import pytest

from flubber.alarms import (
    CommandTarget, EmailTarget, NotificationChannel, NotificationError, Severity, WebhookTarget, notification_json,
)
from tests.alarms.conftest import WebhookReceiver

PAYLOAD = {"node": "lab", "name": "temperature", "severity": "MAJOR", "previous": "OK", "value": 125.5,
           "time": 1764612345.25, "message": "temperature MAJOR: 125.5 above hihi 120"}


def test_notification_json_is_strict_json_with_an_iso_time():
    data = json.loads(notification_json(PAYLOAD))
    assert data["time_iso"] == "2025-12-01T18:05:45.250000+00:00"
    with pytest.raises(ValueError):
        notification_json(dict(PAYLOAD, value=float("nan")))


def test_webhook_posts_the_json(webhook):
    WebhookTarget(webhook.url).send(PAYLOAD)
    received = webhook.get()
    assert received["name"] == "temperature" and received["severity"] == "MAJOR" and received["value"] == 125.5


def test_webhook_error_reply_is_a_notification_error():
    receiver = WebhookReceiver(status=500)
    try:
        with pytest.raises(NotificationError, match="answered 500"):
            WebhookTarget(receiver.url).send(PAYLOAD)
    finally:
        receiver.stop()


def test_bad_webhook_url_is_refused():
    with pytest.raises(ValueError, match="http:// or https://"):
        WebhookTarget("ftp://example.org/x")


def test_command_gets_the_json_on_stdin(tmp_path):
    out = tmp_path / "out.json"
    script = "import sys; open(%r, 'wb').write(sys.stdin.buffer.read())" % str(out)
    CommandTarget([sys.executable, "-c", script]).send(PAYLOAD)
    assert json.loads(out.read_text())["message"] == PAYLOAD["message"]


def test_command_failure_and_timeout_are_notification_errors():
    with pytest.raises(NotificationError, match="exited with 3: boom"):
        CommandTarget([sys.executable, "-c", "import sys; sys.stderr.write('boom'); sys.exit(3)"]).send(PAYLOAD)
    with pytest.raises(NotificationError, match="longer than 0.2 s"):
        CommandTarget([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.2).send(PAYLOAD)
    with pytest.raises(NotificationError, match="cannot run"):
        CommandTarget(["/nonexistent/program"]).send(PAYLOAD)


def _running(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rpartition(")")[2].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


def test_a_command_that_runs_too_long_is_ended_with_the_programs_it_started(tmp_path):
    import os
    import signal

    from tests.sync import wait_until

    pidfile = tmp_path / "child.pid"
    script = "sleep 600 & echo $! > %s; wait" % pidfile  # a wrapper script whose program hangs
    with pytest.raises(NotificationError, match="longer than 2 s"):
        CommandTarget(["sh", "-c", script], timeout=2).send(PAYLOAD)
    pid = int(pidfile.read_text())
    try:
        wait_until(lambda: not _running(pid), what="the hanging program ended with its wrapper")
    finally:
        if _running(pid):
            os.kill(pid, signal.SIGKILL)


def test_email_reaches_a_real_smtp_server(smtp_server):
    target = EmailTarget(["ops@example.org"], "flubber@example.org", "127.0.0.1:%d" % smtp_server.port)
    target.send(PAYLOAD)
    envelope = smtp_server.messages.get(timeout=10)
    assert envelope.rcpt_tos == ["ops@example.org"]
    text = envelope.content.decode()
    assert "Subject: [MAJOR] lab temperature MAJOR: 125.5 above hihi 120" in text
    assert "value:        125.5" in text


def test_email_names_this_host_without_blocking_the_hub(smtp_server, monkeypatch):
    # smtplib's own default is socket.getfqdn(): a reverse DNS lookup that holds the whole node
    # (readings, requests, logging) for as long as a slow lab DNS takes to answer
    import socket

    def blocking_lookup(name=""):
        raise AssertionError("the blocking socket.getfqdn() was called in the node's process")

    monkeypatch.setattr(socket, "getfqdn", blocking_lookup)
    EmailTarget(["ops@example.org"], "flubber@example.org", "127.0.0.1:%d" % smtp_server.port).send(PAYLOAD)
    assert smtp_server.messages.get(timeout=10).rcpt_tos == ["ops@example.org"]


def test_email_to_a_closed_port_is_a_notification_error():
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    try:
        target = EmailTarget("ops@example.org", "flubber@example.org", "127.0.0.1:%d" % sock.getsockname()[1])
        with pytest.raises(NotificationError, match="failed"):
            target.send(PAYLOAD)
    finally:
        sock.close()


def test_channel_retries_a_dead_target_until_it_answers():
    class Flaky:
        kind = "flaky"
        attempts = 0
        delivered = gevent.event.Event()

        def send(self, payload):
            Flaky.attempts += 1
            if Flaky.attempts < 3:
                raise NotificationError("down")
            Flaky.delivered.set()

        def describe(self):
            return "flaky"

    channel = NotificationChannel(Flaky(), backoff=0.01).start()
    try:
        channel.put(PAYLOAD)
        assert Flaky.delivered.wait(10)
        assert channel.failures == 2 and channel.sent == 1 and channel.last_error == "down"
    finally:
        channel.stop()


def test_a_target_that_fails_unexpectedly_does_not_end_the_channel(caplog):
    class Buggy:
        kind = "buggy"
        attempts = 0
        delivered = gevent.event.Event()

        def send(self, payload):
            Buggy.attempts += 1
            if Buggy.attempts == 1:
                raise UnicodeError("label empty or too long")  # e.g. an idna host name, not an OSError
            Buggy.delivered.set()

        def describe(self):
            return "buggy"

    channel = NotificationChannel(Buggy(), backoff=0.01).start()
    try:
        channel.put(PAYLOAD)
        assert Buggy.delivered.wait(10), "the channel's greenlet died with the first error"
        assert channel.failures == 1 and channel.sent == 1 and "label empty" in channel.last_error
    finally:
        channel.stop()


def test_full_channel_drops_the_oldest_without_blocking():
    channel = NotificationChannel(CommandTarget(["true"]), maxsize=3)  # not started: nothing is sent
    for number in range(5):
        channel.put(dict(PAYLOAD, value=number))
    assert channel.pending == 3 and channel.dropped == 2
    assert channel.min_severity == Severity.MINOR
