"""Local receivers for notifications: an HTTP webhook server and an SMTP server, on loopback."""
import asyncio
import json
import queue
import socket
import threading

import gevent.queue
import gevent.socket
import pytest
from gevent.pywsgi import WSGIServer


class WebhookReceiver:
    """An HTTP server in the test: every POST body (JSON) goes to :attr:`received`."""

    def __init__(self, status=200):
        self.status = status
        self.received = gevent.queue.Queue()
        listener = gevent.socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self.url = "http://127.0.0.1:%d/hook" % self.port
        self.server = WSGIServer(listener, self._app, log=None, error_log=None)
        self.server.start()

    def _app(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        if self.status == 200:
            self.received.put(json.loads(body))
        start_response("%d X" % self.status, [("Content-Type", "text/plain")])
        return [b"ok"]

    def get(self, timeout=10):
        return self.received.get(timeout=timeout)

    def stop(self):
        self.server.stop(timeout=1)


@pytest.fixture
def webhook():
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()


class SMTPReceiver:
    """A real SMTP server (aiosmtpd on its own asyncio loop in a thread) on a socket bound to port 0."""

    def __init__(self, smtp_module):
        self.messages = queue.Queue()
        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                receiver.messages.put(envelope)
                return "250 OK"

        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        self.port = listener.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run():
            asyncio.set_event_loop(self.loop)
            server = self.loop.run_until_complete(self.loop.create_server(
                lambda: smtp_module.SMTP(Handler(), hostname="flubber-test"), sock=listener))
            ready.set()
            self.loop.run_forever()
            server.close()
            self.loop.run_until_complete(server.wait_closed())
            self.loop.close()

        self.thread = threading.Thread(target=run, name="smtp-receiver", daemon=True)
        self.thread.start()
        ready.wait(10)

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def smtp_server():
    """A real SMTP server on loopback collecting messages in ``.messages``."""
    smtp_module = pytest.importorskip("aiosmtpd.smtp", reason="aiosmtpd (the test extra) is not installed: "
                                      "pip install -e '.[test]'")
    receiver = SMTPReceiver(smtp_module)
    yield receiver
    receiver.stop()
