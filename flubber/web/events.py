"""Server-sent events: one sampling greenlet, one bounded queue per client.

The :class:`Broadcaster` samples :class:`~flubber.web.live.LiveValues`
every :attr:`~Broadcaster.interval` seconds, encodes what changed once, and
offers those bytes to every :class:`Subscriber` without ever waiting: each
client's queue holds at most :attr:`Broadcaster.queue_size` messages. When a
client's queue is full (it reads slower than the node changes), its queued
updates are thrown away and it is sent one fresh ``snapshot`` instead: a slow
client sees fewer updates, the node and the other clients never wait for
it. A client that has not taken a message for :attr:`Broadcaster.stall_timeout`
seconds while its queue overflowed has stopped reading: its connection is shut
down and its greenlet ends.

The stream (``text/event-stream``)::

    retry: 2000

    event: snapshot
    data: {"node": "lab", "time": 1764612000.1, "rows": [{"id": "codename:temperature", ...}, ...]}

    event: values
    data: {"time": 1764612000.6, "changes": {"codename:temperature": [1764612000.5, 25.1, null]}}

    : keepalive
"""
import logging
import socket
import time

import gevent
import gevent.queue

from flubber._lifecycle import Service
from flubber.web._json import dumps

__all__ = ["Broadcaster", "Subscriber", "format_event"]

log = logging.getLogger(__name__)

_RESYNC = object()


def format_event(event, data):
    """Return the bytes of one server-sent event named *event* carrying *data* as JSON."""
    return b"event: " + event.encode("ascii") + b"\ndata: " + dumps(data) + b"\n\n"


class Subscriber:
    """One event-stream client: its bounded queue and its counters (made by :meth:`Broadcaster.subscribe`)."""

    def __init__(self, broadcaster, sock=None):
        self.broadcaster = broadcaster
        #: The client's connection (shut down when it stops reading), or None.
        self.socket = sock
        self.queue = gevent.queue.Queue(broadcaster.queue_size)
        #: Messages written to the client.
        self.sent = 0
        #: Updates thrown away because the client read too slowly.
        self.dropped = 0
        #: True once the client was cut off for not reading.
        self.closed = False
        self.last_progress = time.monotonic()
        self._resync = True  # the first message is a snapshot
        self._greenlet = None

    def offer(self, message):
        """Queue *message* without waiting; on overflow, drop what is queued and resync later."""
        if self._resync or self.closed:
            return
        try:
            self.queue.put_nowait(message)
        except gevent.queue.Full:
            while True:
                try:
                    self.queue.get_nowait()
                except gevent.queue.Empty:
                    break
                self.dropped += 1
            self.dropped += 1
            self._resync = True
            self.queue.put_nowait(_RESYNC)

    def stalled(self, now, timeout):
        """True when the client has taken nothing for *timeout* seconds while updates overflowed."""
        return self._resync and not self.closed and now - self.last_progress > timeout

    def cut_off(self):
        """End this client's stream now: shut its connection down (a blocked write fails at once)."""
        self.closed = True
        if self.socket is not None:
            try:
                self.socket.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        greenlet = self._greenlet
        if greenlet is not None and greenlet is not gevent.getcurrent():
            greenlet.kill(block=False)

    def messages(self):
        """Yield the stream's bytes until the client goes away (the WSGI response body)."""
        self._greenlet = gevent.getcurrent()
        broadcaster = self.broadcaster
        try:
            yield b"retry: 2000\n\n"
            while not self.closed:
                self.last_progress = time.monotonic()
                if self._resync:
                    self._resync = False
                    message = broadcaster.snapshot_message()
                else:
                    try:
                        message = self.queue.get(timeout=broadcaster.keepalive)
                    except gevent.queue.Empty:
                        message = b": keepalive\n\n"
                    if message is _RESYNC:
                        continue
                yield message
                self.sent += 1
        finally:
            broadcaster.unsubscribe(self)


class Broadcaster(Service):
    """Samples the live values and fans the changes out to every event-stream client.

    :param live: the :class:`~flubber.web.live.LiveValues` to sample.
    :param interval: seconds between samples.
    """

    #: Seconds between samples of the node's values.
    interval = 0.5
    #: Messages queued per client before its old updates are dropped.
    queue_size = 16
    #: Seconds a client may go without taking a message, while its updates overflow, before it is cut off.
    stall_timeout = 30.0
    #: Seconds of silence after which a comment line is sent (keeps proxies and dead-peer detection going).
    keepalive = 15.0
    #: The most event-stream clients at once; more are answered 503.
    max_clients = 1000
    #: SO_SNDBUF of an event-stream connection (bytes): what the kernel holds for a client that stops reading.
    send_buffer = 64 * 1024

    def __init__(self, live, interval=None):
        self.live = live
        if interval is not None:
            self.interval = interval
        self._subscribers = set()
        self._loop = None
        self._snapshot = (None, b"")
        self._tick = 0
        #: Clients cut off for not reading, since start.
        self.cut_off = 0
        #: Updates dropped for clients that left, since start (:meth:`stats` adds those connected).
        self.dropped = 0
        #: Callables run after every sample with no argument (status trackers, panels' own checks).
        self.tick_hooks = []

    @property
    def clients(self):
        """The number of connected event-stream clients."""
        return len(self._subscribers)

    def _start(self):
        """Take a first sample and start the sampling greenlet (:meth:`start` returns self)."""
        self.live.sample()
        self._loop = gevent.spawn(self._run)

    def _stop(self, timeout):
        """Stop sampling and end every client's stream (:meth:`stop`, idempotent)."""
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.kill(timeout=timeout)
        for subscriber in list(self._subscribers):
            subscriber.cut_off()

    def _stop_idle(self):
        for subscriber in list(self._subscribers):
            subscriber.cut_off()

    def subscribe(self, sock=None):
        """Return a new :class:`Subscriber` (None when :attr:`max_clients` are connected)."""
        if len(self._subscribers) >= self.max_clients:
            return None
        subscriber = Subscriber(self, sock)
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber):
        """Forget *subscriber* (its stream ended)."""
        self._subscribers.discard(subscriber)
        self.dropped += subscriber.dropped
        subscriber.dropped = 0

    def stats(self):
        """Return ``{"clients", "dropped", "cut_off", "interval"}`` for status displays."""
        return {"clients": len(self._subscribers),
                "dropped": self.dropped + sum(s.dropped for s in self._subscribers),
                "cut_off": self.cut_off, "interval": self.interval}

    def snapshot_message(self):
        """The ``snapshot`` event of the current sample (encoded once per sample, shared by every client)."""
        tick, message = self._snapshot
        if tick != self._tick:
            message = format_event("snapshot", self.live.snapshot())
            self._snapshot = (self._tick, message)
        return message

    def announce(self, event, data):
        """Offer the named *event* with JSON *data* to every client at once (a panel's own updates)."""
        if self._subscribers:
            message = format_event(event, data)
            for subscriber in list(self._subscribers):
                subscriber.offer(message)

    def publish(self):
        """Take one sample and offer what changed to every client (the loop calls this)."""
        changes = self.live.sample()
        self._tick += 1
        if changes and self._subscribers:
            message = format_event("values", {"time": self.live.clock(), "changes": changes})
            for subscriber in list(self._subscribers):
                subscriber.offer(message)
        now = time.monotonic()
        for subscriber in list(self._subscribers):
            if subscriber.stalled(now, self.stall_timeout):
                log.info("web: an event-stream client stopped reading for %.0f s; cutting it off",
                         self.stall_timeout)
                self.cut_off += 1
                subscriber.cut_off()
                self.unsubscribe(subscriber)
        for hook in self.tick_hooks:
            hook()

    def _run(self):
        while True:
            gevent.sleep(self.interval)
            try:
                self.publish()
            except Exception:  # never let one bad sample end the page's updates
                log.exception("web: sampling the node's values failed")
