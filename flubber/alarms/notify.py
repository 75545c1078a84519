"""Notification targets: a program, a webhook, an e-mail.

Each target is wrapped in a :class:`NotificationChannel`: its own greenlet
and a bounded queue, so a slow or dead target never blocks readings, logging
or serving. A failed send is retried with capped exponential back-off; when
the queue is full the oldest waiting notification is dropped (and counted).

The notification is the alarm as JSON (see :func:`notification_json`)::

    {"node": "lab", "name": "temperature", "severity": "MAJOR", "previous": "OK",
     "condition": "hihi", "value": 125.3, "worst": 125.3, "time": 1764612345.1,
     "time_iso": "2025-12-01T18:05:45.100000+00:00", "acknowledged": false,
     "kind": "change", "message": "temperature MAJOR: 125.3 above hihi 120", ...}
"""
import datetime
import http.client
import json
import logging
import os
import signal
import smtplib
import urllib.parse
from email.message import EmailMessage

import gevent
import gevent.queue
import gevent.socket
import gevent.ssl
import gevent.subprocess

from flubber._lifecycle import Service
from flubber.alarms._queue import put_dropping_oldest
from flubber.alarms.states import Severity

__all__ = [
    "NotificationError", "NotificationTarget", "CommandTarget", "WebhookTarget", "EmailTarget",
    "NotificationChannel", "notification_json",
]

log = logging.getLogger(__name__)


class NotificationError(Exception):
    """A notification could not be delivered (the channel retries it)."""


def notification_json(payload):
    """Return the UTF-8 JSON of a notification *payload* (adds ``time_iso``)."""
    data = dict(payload)
    if data.get("time") is not None:
        data["time_iso"] = datetime.datetime.fromtimestamp(data["time"], datetime.timezone.utc).isoformat()
    return json.dumps(data, sort_keys=True, allow_nan=False).encode("utf-8")


class NotificationTarget:
    """Where notifications go; subclasses implement :meth:`send` (blocking the calling greenlet only)."""

    #: A short label for logs and status.
    kind = "target"

    def send(self, payload):
        """Deliver one notification *payload* (a dict); raise :class:`NotificationError` on failure."""
        raise NotImplementedError

    def describe(self):
        """A one-line description for status and logs."""
        return self.kind


class CommandTarget(NotificationTarget):
    """Run a program with the notification as JSON on its standard input.

    :param argv: the program and its arguments, e.g. ``["notify-send-wrapper", "--urgent"]``.
    :param timeout: seconds the program may run; a longer run is killed (with the programs it started,
        its whole session) and counts as a failure.
    """

    kind = "command"

    def __init__(self, argv, timeout=30.0):
        if isinstance(argv, str) or not argv or not all(isinstance(word, str) for word in argv):
            raise ValueError("command must be a list of strings [PROGRAM, ARG, ...], got %r" % (argv,))
        self.argv = list(argv)
        self.timeout = timeout

    def send(self, payload):
        """Run the program once; a non-zero exit or a timeout raises :class:`NotificationError`."""
        try:
            process = gevent.subprocess.Popen(self.argv, stdin=gevent.subprocess.PIPE,
                                              stdout=gevent.subprocess.PIPE, stderr=gevent.subprocess.PIPE,
                                              start_new_session=True)
        except OSError as exc:
            raise NotificationError("cannot run %s: %s" % (self.argv[0], exc)) from exc
        try:
            _, stderr = process.communicate(notification_json(payload), timeout=self.timeout)
        except gevent.subprocess.TimeoutExpired:
            try:  # its own session: the programs it started (a wrapper script's) end with it
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
            raise NotificationError("%s ran longer than %g s and was killed" % (self.argv[0], self.timeout)) from None
        if process.returncode != 0:
            raise NotificationError("%s exited with %d: %s" % (self.argv[0], process.returncode,
                                                               stderr.decode("utf-8", "replace").strip()[-200:]))

    def describe(self):
        return "command %s" % " ".join(self.argv)


class _GeventHTTPConnection(http.client.HTTPConnection):
    def connect(self):
        self.sock = gevent.socket.create_connection((self.host, self.port), self.timeout)


class _GeventHTTPSConnection(http.client.HTTPSConnection):
    def connect(self):
        sock = gevent.socket.create_connection((self.host, self.port), self.timeout)
        self.sock = gevent.ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)


class WebhookTarget(NotificationTarget):
    """POST the notification as JSON to a URL (a chat system's incoming hook).

    :param url: ``http://`` or ``https://`` URL.
    :param timeout: seconds for the connection and the reply.
    """

    kind = "webhook"

    def __init__(self, url, timeout=10.0):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("webhook must be an http:// or https:// URL, got %r" % (url,))
        self.url = url
        self.timeout = timeout
        self._parts = parts

    def send(self, payload):
        """POST once; a connection error or a reply other than 2xx raises :class:`NotificationError`."""
        parts = self._parts
        connection_class = _GeventHTTPSConnection if parts.scheme == "https" else _GeventHTTPConnection
        connection = connection_class(parts.hostname, parts.port, timeout=self.timeout)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        try:
            connection.request("POST", path, body=notification_json(payload),
                               headers={"Content-Type": "application/json", "User-Agent": "flubber-alarms"})
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise NotificationError("POST %s failed: %s" % (self.url, exc)) from exc
        finally:
            connection.close()
        if not 200 <= response.status < 300:
            raise NotificationError("POST %s answered %d %s" % (self.url, response.status, response.reason))

    def describe(self):
        return "webhook %s" % self.url


class _GeventSMTP(smtplib.SMTP):
    def _get_socket(self, host, port, timeout):
        return gevent.socket.create_connection((host, port), timeout)


class EmailTarget(NotificationTarget):
    """Send the notification as a plain-text e-mail through an SMTP server (STARTTLS when offered).

    :param to: a list of addresses. :param sender: the From address.
    :param smtp: ``"HOST:PORT"`` (port 25 when omitted).
    :param username, password: optional login (only over STARTTLS).
    """

    kind = "email"

    def __init__(self, to, sender, smtp, username=None, password=None, timeout=20.0):
        if isinstance(to, str):
            to = [to]
        if not to or not all(isinstance(address, str) and "@" in address for address in to):
            raise ValueError("email to: must list addresses like ops@example.org, got %r" % (to,))
        if not isinstance(sender, str) or "@" not in sender:
            raise ValueError("email from: must be an address like flubber@example.org, got %r" % (sender,))
        host, _, port = str(smtp).rpartition(":") if ":" in str(smtp) else (str(smtp), "", "25")
        if not host or not port.isdigit():
            raise ValueError("email smtp: must be HOST:PORT, got %r" % (smtp,))
        self.to, self.sender, self.host, self.port = list(to), sender, host, int(port)
        self.username, self.password, self.timeout = username, password, timeout

    def message(self, payload):
        """Return the :class:`email.message.EmailMessage` for *payload*."""
        message = EmailMessage()
        message["Subject"] = "[%s] %s %s" % (payload.get("severity"), payload.get("node", "flubber"),
                                             payload.get("message", payload.get("name")))
        message["From"] = self.sender
        message["To"] = ", ".join(self.to)
        body = json.loads(notification_json(payload))
        lines = ["%s" % payload.get("message", ""), ""]
        lines += ["%-13s %s" % (key + ":", body[key]) for key in sorted(body)]
        message.set_content("\n".join(lines) + "\n")
        return message

    def send(self, payload):
        """Send once; any SMTP or connection error raises :class:`NotificationError`."""
        try:
            # the EHLO name: smtplib's default is the blocking socket.getfqdn(), a reverse DNS lookup
            # that would hold the whole node for as long as the DNS takes; gevent's is cooperative
            with _GeventSMTP(self.host, self.port, local_hostname=gevent.socket.getfqdn(),
                             timeout=self.timeout) as client:
                client.ehlo()
                if client.has_extn("starttls"):
                    client.starttls(context=gevent.ssl.create_default_context())
                    client.ehlo()
                if self.username:
                    client.login(self.username, self.password or "")
                client.send_message(self.message(payload))
        except (OSError, smtplib.SMTPException) as exc:
            raise NotificationError("mail to %s through %s:%d failed: %s"
                                    % (", ".join(self.to), self.host, self.port, exc)) from exc

    def describe(self):
        return "email to %s via %s:%d" % (", ".join(self.to), self.host, self.port)


class NotificationChannel(Service):
    """One target with its own greenlet, a bounded queue, retries and a severity filter.

    A service with flubber's one lifecycle (:doc:`/lifecycle`).

    :param target: a :class:`NotificationTarget`.
    :param min_severity: notify changes that reach (or leave) at least this severity.
    :param repeat: seconds between reminders while an alarm stays unacknowledged (None: no reminders).
    :param maxsize: notifications waiting at most; when full the oldest is dropped.
    :param backoff: first retry delay in seconds, doubled up to *max_backoff*.
    """

    def __init__(self, target, min_severity=Severity.MINOR, repeat=None, maxsize=100, backoff=1.0,
                 max_backoff=60.0):
        self.target = target
        self.min_severity = Severity.parse(min_severity)
        self.repeat = repeat
        self.backoff, self.max_backoff = backoff, max_backoff
        self._queue = gevent.queue.Queue(maxsize)
        self._greenlet = None
        #: Notifications delivered.
        self.sent = 0
        #: Failed attempts (each retry counts).
        self.failures = 0
        #: Notifications dropped because the queue was full.
        self.dropped = 0
        #: The last error message, or None.
        self.last_error = None

    def wants(self, change):
        """True when *change* concerns this channel's severities."""
        if change.kind == "ack":
            return False
        return max(change.severity, change.previous) >= self.min_severity

    def put(self, payload):
        """Queue *payload* for sending; never blocks (drops the oldest when full)."""
        self.dropped += put_dropping_oldest(self._queue, payload)

    @property
    def pending(self):
        """Notifications waiting to be sent."""
        return self._queue.qsize()

    def start(self):
        """Start the sending greenlet; return self."""
        return super().start()

    def _start(self):
        self._greenlet = gevent.spawn(self._run)

    def stop(self, timeout=None):
        """Stop the sending greenlet (what is still queued is not sent). Idempotent."""
        return super().stop(timeout)

    def _stop(self, timeout):
        greenlet, self._greenlet = self._greenlet, None
        if greenlet is not None:
            greenlet.kill(timeout=timeout)

    def _run(self):
        while True:
            payload = self._queue.get()
            delay = self.backoff
            while True:
                try:
                    self.target.send(payload)
                except Exception as exc:  # a NotificationError, or a target's bug: the channel goes on
                    self.failures += 1
                    self.last_error = str(exc) if isinstance(exc, NotificationError) else \
                        "%s: %s" % (type(exc).__name__, exc)
                    if self.failures in (1, 10) or self.failures % 100 == 0:
                        log.warning("notification by %s failed (%d failures so far), retrying in %g s: %s",
                                    self.target.describe(), self.failures, delay, self.last_error,
                                    exc_info=not isinstance(exc, NotificationError))
                    gevent.sleep(delay)
                    delay = min(delay * 2, self.max_backoff)
                    continue
                self.sent += 1
                break

    def status(self):
        """Counters of the channel as a dict."""
        return {"target": self.target.describe(), "min_severity": self.min_severity.name, "repeat": self.repeat,
                "sent": self.sent, "failures": self.failures, "dropped": self.dropped, "pending": self.pending,
                "last_error": self.last_error}
