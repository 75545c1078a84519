"""Loopback ports for tests, without the bind-release-reuse race.

A server in a test binds port 0 and the test reads the port back from the
server. Where a test needs a port on which nothing answers, it holds one
with :func:`refused_port` for as long as it needs it, so no other socket
can take the port in the meantime.
"""
import contextlib
import socket

LOCALHOST = "127.0.0.1"


@contextlib.contextmanager
def refused_port(kind=socket.SOCK_STREAM, host=LOCALHOST):
    """Yield a port on *host* where nothing answers, reserved until the block ends.

    TCP: the port is bound and never listens, so a connect is refused.
    UDP: the port is bound and connected to another peer, so the kernel
    has no socket for a datagram from anyone else and answers it with
    ICMP port unreachable, exactly as for a port nobody holds.
    """
    holder = socket.socket(socket.AF_INET, kind)
    try:
        holder.bind((host, 0))
        if kind == socket.SOCK_DGRAM:
            holder.connect((host, 1))
        yield holder.getsockname()[1]
    finally:
        holder.close()
