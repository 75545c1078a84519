"""The transport's send path when the kernel's send buffer is full (EAGAIN)."""
from flubber.sockets import DateDataPullSocket
from tests.sync import wait_until


class FullBuffer:
    """Wraps the real socket; its first *refusals* sendto calls raise EAGAIN."""

    def __init__(self, real, refusals):
        self.real = real
        self.refusals = refusals
        self.sent = []

    def sendto(self, data, address):
        if self.refusals:
            self.refusals -= 1
            raise BlockingIOError(11, "Resource temporarily unavailable")
        self.sent.append(data)
        return self.real.sendto(data, address)

    def fileno(self):
        return self.real.fileno()


def test_replies_wait_in_order_while_the_send_buffer_is_full(make_socket, udp):
    sock = make_socket(DateDataPullSocket, "t", ["a"])
    full = FullBuffer(sock._raw, refusals=1)
    sock._raw = full
    peer = udp(sock.port)
    for command in (b"name", b"codenames_raw", b"a#raw"):
        peer.sock.send(command)
    assert peer.receive(3) == [b"t", b"a", b"0.0,0.0"]
    assert peer.pending() == []
    assert full.sent == [b"t", b"a", b"0.0,0.0"]
    assert sock.stats.replies == 3 and sock.stats.dropped == 0


def test_a_full_outbox_drops_and_counts(make_socket, udp):
    class Tiny(DateDataPullSocket):
        max_pending_replies = 2

    sock = make_socket(Tiny, "t", ["a"])
    full = FullBuffer(sock._raw, refusals=10**9)      # full until we say so
    sock._raw = full
    peer = udp(sock.port)
    for _ in range(5):
        peer.sock.send(b"name")
    wait_until(lambda: sock.stats.requests == 5)
    assert sock.stats.dropped == 3 and len(sock._outbox) == 2
    full.refusals = 0                                  # the network drains
    assert peer.receive(2) == [b"t", b"t"]
    assert peer.pending() == []
    assert sock.stats.requests == 5 and sock.stats.replies == 2 and sock.stats.errors == 0
