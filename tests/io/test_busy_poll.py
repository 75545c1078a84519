"""Adaptive busy polling of a hub: it polls while sleeps are short, never while the hub idles."""
import logging
import socket
import threading

import gevent
import pytest

from flubber.io import DEFAULT_WINDOW_US, BusyPoller, TCPServer, busy_poll
from flubber.io._busypoll import _window_from_environment


class _Echo(TCPServer):
    def handle_connection(self, conn):
        for line in conn:
            conn.write(line)


def _serve_in_thread(window_us, ready, stop, found):
    """A hub of its own in an OS thread: an echo server with busy polling of *window_us*."""
    poller = busy_poll(window_us)
    server = _Echo()
    server.bind(("127.0.0.1", 0))
    server.start()
    found["poller"], found["port"] = poller, server.sockname[1]
    ready.set()
    while not stop.is_set():
        gevent.sleep(0.01)
    server.close()


@pytest.mark.timeout(60)
def test_a_client_answering_at_once_is_caught_by_polling_instead_of_a_wake_up():
    ready, stop, found = threading.Event(), threading.Event(), {}
    # a window far above any turnaround of a blocking client, even on a loaded machine
    thread = threading.Thread(target=_serve_in_thread, args=(5000, ready, stop, found), daemon=True)
    thread.start()
    try:
        assert ready.wait(10)
        with socket.create_connection(("127.0.0.1", found["port"]), timeout=10) as client:
            for number in range(500):
                line = b"%d\n" % number
                client.sendall(line)
                got = b""
                while not got.endswith(b"\n"):
                    got += client.recv(100)
                assert got == line
        poller = found["poller"]
        assert isinstance(poller, BusyPoller)
        assert poller.window_us == 5000
        assert poller.spins > 0 and poller.caught > 0
    finally:
        stop.set()
        thread.join(10)


@pytest.mark.timeout(30)
def test_a_hub_that_only_wakes_for_timers_never_spins():
    hub = gevent.get_hub()
    poller = busy_poll(50, hub=hub)
    try:
        for _ in range(10):
            gevent.sleep(0.005)  # a sleep of milliseconds: far above the window
        assert poller.spins == 0
    finally:
        busy_poll(0, hub=hub)


def test_zero_turns_polling_off_and_stops_the_watchers():
    hub = gevent.get_hub()
    poller = busy_poll(50, hub=hub)
    assert poller._prepare.active and poller._check.active
    assert busy_poll(0, hub=hub) is None
    assert not poller._prepare.active and not poller._check.active


def test_negative_microseconds_are_refused():
    with pytest.raises(ValueError, match=">= 0"):
        busy_poll(-1)


def test_the_environment_sets_the_default_window(monkeypatch, caplog):
    monkeypatch.delenv("FLUBBER_BUSY_POLL_US", raising=False)
    assert _window_from_environment() == DEFAULT_WINDOW_US
    monkeypatch.setenv("FLUBBER_BUSY_POLL_US", "0")
    assert _window_from_environment() == 0
    monkeypatch.setenv("FLUBBER_BUSY_POLL_US", "fast")
    with caplog.at_level(logging.WARNING, logger="flubber.io._busypoll"):
        assert _window_from_environment() == DEFAULT_WINDOW_US
    assert "not a number of microseconds" in caplog.text
