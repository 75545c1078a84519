"""Fixtures for flubber.sockets: sockets on 127.0.0.1 ephemeral ports, raw UDP."""
import os
import socket as stdlib_socket
import sys

import gevent.socket
import pytest

from flubber.sockets import DataPullSocket, DataPushSocket, DateDataPullSocket

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOST = "127.0.0.1"


class RawUDP:
    """A plain UDP peer: send bytes, read whole datagrams (gevent, so servers run)."""

    def __init__(self, port, timeout=2.0):
        self.sock = gevent.socket.socket(stdlib_socket.AF_INET, stdlib_socket.SOCK_DGRAM)
        self.sock.settimeout(timeout)
        self.sock.connect((HOST, port))

    def ask(self, request):
        """Send *request* (bytes or str) and return the one reply datagram."""
        self.sock.send(request.encode("ascii") if isinstance(request, str) else request)
        return self.sock.recv(65536)

    def receive(self, count):
        """Return the next *count* datagrams, each awaited for at most the peer's timeout."""
        return [self.sock.recv(65536) for _ in range(count)]

    def pending(self, wait=0.05):
        """Return the datagrams that arrive within *wait* seconds (should be none)."""
        gevent.sleep(wait)
        extra = []
        timeout = self.sock.gettimeout()
        self.sock.settimeout(0)
        try:
            while True:
                extra.append(self.sock.recv(65536))
        except (BlockingIOError, stdlib_socket.timeout):
            pass
        finally:
            self.sock.settimeout(timeout)
        return extra

    def close(self):
        self.sock.close()


@pytest.fixture
def make_socket():
    """Build sockets bound to 127.0.0.1 (port 0 unless given); stop them all afterwards."""
    made = []

    def make(cls, *args, start=True, **kwargs):
        kwargs.setdefault("port", 0)
        kwargs.setdefault("host", HOST)
        sock = cls(*args, **kwargs)
        made.append(sock)
        if start:
            sock.start()
        return sock

    yield make
    for sock in made:
        sock.stop()


class FakeClock:
    """A unix time that moves only when a test says so: ages points without waiting."""

    def __init__(self, now=1_700_000_000.0):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, seconds):
        """Move the time *seconds* on."""
        self.now += seconds


@pytest.fixture
def clock():
    """A :class:`FakeClock` to hand to a socket as ``clock=``."""
    return FakeClock()


@pytest.fixture
def date_socket(make_socket):
    """A started DateDataPullSocket with codenames a, b (no timeouts)."""
    return make_socket(DateDataPullSocket, "date test", ["a", "b"])


@pytest.fixture
def data_socket(make_socket):
    """A started DataPullSocket with codenames x1, x2 (no timeouts)."""
    return make_socket(DataPullSocket, "data test", ["x1", "x2"])


@pytest.fixture
def push_socket(make_socket):
    """A started DataPushSocket with action store_last."""
    return make_socket(DataPushSocket, "push test")


@pytest.fixture
def udp():
    """Open raw UDP peers to a port: ``udp(port).ask(b'raw')``."""
    peers = []

    def open_peer(port, timeout=2.0):
        peer = RawUDP(port, timeout)
        peers.append(peer)
        return peer

    yield open_peer
    for peer in peers:
        peer.close()


def bindable(port, host=HOST):
    """Whether a new UDP socket can bind *port* on *host* right now."""
    with stdlib_socket.socket(stdlib_socket.AF_INET, stdlib_socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


def subprocess_env():
    """Environment for a child Python that imports flubber from this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


PYTHON = sys.executable
