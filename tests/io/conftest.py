"""Stream pairs for the contract suite: every transport, connected end to end."""
import os
import pty
import tempfile
import tty

import gevent
import pytest
from gevent.event import AsyncResult

from flubber.io import PipeClient, PipeServer, SerialStream, TCPClient, TCPServer, TTYStream
from tests.tlscerts import client_context, server_context


class _Holder:
    """A server whose handler parks each accepted connection for the test."""

    def __init__(self, server_class, **options):
        self.accepted = AsyncResult()
        self.done = gevent.event.Event()
        self.server = server_class(handler=self._handle, **options)

    def _handle(self, connection):
        self.accepted.set(connection)
        self.done.wait()


def _server_pair(server_class, client_class, address, server_options=None, client_options=None):
    holder = _Holder(server_class, **(server_options or {}))
    holder.server.bind(address)
    holder.server.start()
    client = client_class(**(client_options or {}))
    target = holder.server.sockname if server_class is TCPServer else holder.server.pipename
    client.connect(target, timeout=5)
    connection = holder.accepted.get(timeout=5)

    def cleanup():
        holder.done.set()
        client.abort()
        holder.server.close()

    return connection, client, cleanup


def tcp_pair():
    return _server_pair(TCPServer, TCPClient, ("127.0.0.1", 0))


def tls_pair(certs):
    return _server_pair(TCPServer, TCPClient, ("127.0.0.1", 0),
                        server_options={"ssl_context": server_context(certs)},
                        client_options={"ssl_context": client_context(certs), "server_hostname": "localhost"})


def pipe_pair():
    path = os.path.join(tempfile.mkdtemp(prefix="flubber-test-"), "pipe.sock")
    return _server_pair(PipeServer, PipeClient, path)


def tty_pair():
    master, slave = pty.openpty()
    tty.setraw(slave)
    # the slave writes first: closing a pty master discards what the slave
    # has not read yet, closing the slave keeps what the master has not read
    a = TTYStream(slave, readable=True)
    b = TTYStream(master, readable=True)
    os.close(master)
    os.close(slave)

    def cleanup():
        a.abort()
        b.abort()

    return a, b, cleanup


def serial_pair():
    master, slave = pty.openpty()
    port = SerialStream(os.ttyname(slave), baudrate=115200)
    other = TTYStream(master, readable=True)
    os.close(master)
    os.close(slave)

    def cleanup():
        port.abort()
        other.abort()

    return port, other, cleanup


PAIR_MAKERS = {"tcp": tcp_pair, "tls": tls_pair, "pipe": pipe_pair, "tty": tty_pair, "serial": serial_pair}


@pytest.fixture(params=sorted(PAIR_MAKERS))
def stream_pair(request):
    """Two connected streams ``(a, b)`` of one transport: what a writes, b reads.

    ``tls`` is TCP with TLS on both ends (certificates made by openssl for the session).
    """
    if request.param == "tls":
        a, b, cleanup = tls_pair(request.getfixturevalue("tls_certs"))
    else:
        a, b, cleanup = PAIR_MAKERS[request.param]()
    try:
        yield a, b
    finally:
        cleanup()


@pytest.fixture
def transport(request):
    """Name of the transport under test (for the few transport-specific checks)."""
    return request.node.callspec.params.get("stream_pair")
