"""StreamServer behaviour, shown on TCP (and restart on a pipe): greenlet per connection, bookkeeping, shutdown."""
import logging
import os
import signal

import gevent
import gevent.event
import pytest

from flubber.io import PipeClient, PipeServer, StreamClosedError, StreamError, TCPServer, connect_tcp

pytestmark = pytest.mark.timeout(30)


def _start(server):
    server.bind(("127.0.0.1", 0))
    server.start()
    return server


def _client(server):
    return connect_tcp(server.sockname, timeout=5)


def test_each_connection_runs_in_its_own_greenlet():
    handlers = []

    def handler(connection):
        handlers.append(gevent.getcurrent())
        connection.write(connection.read_until(b"\n"))

    server = _start(TCPServer(handler=handler))
    clients = [_client(server) for _ in range(3)]
    for number, client in enumerate(clients):
        client.write(b"%d\n" % number)
    assert [c.read_until(b"\n") for c in clients] == [b"0\n", b"1\n", b"2\n"]
    assert len(set(handlers)) == 3
    server.close()


def test_connection_leaves_connections_and_closes_when_the_handler_returns():
    release = gevent.event.Event()
    entered = gevent.event.Event()

    def handler(connection):
        entered.set()
        release.wait()

    server = _start(TCPServer(handler=handler))
    client = _client(server)
    assert entered.wait(5)
    assert len(server.connections) == 1
    release.set()
    assert client.read_until_eof() == b""
    assert server.connections == []
    server.close()


def test_a_failing_handler_is_logged_and_the_server_keeps_serving(caplog):
    def handler(connection):
        line = connection.read_until(b"\n")
        if line == b"boom\n":
            raise RuntimeError("handler bug")
        connection.write(line)

    server = _start(TCPServer(handler=handler))
    with caplog.at_level(logging.ERROR, logger="flubber.io._server"):
        bad = _client(server)
        bad.write(b"boom\n")
        assert bad.read_until_eof() == b""
    assert "handler bug" in caplog.text
    good = _client(server)
    good.write(b"fine\n")
    assert good.read_until(b"\n") == b"fine\n"
    server.close()


def test_subclass_overrides_handle_connection():
    class Upper(TCPServer):
        def handle_connection(self, connection):
            connection.write(connection.read_until(b"\n").upper())

    server = _start(Upper())
    client = _client(server)
    client.write(b"abc\n")
    assert client.read_until(b"\n") == b"ABC\n"
    server.close()


def test_serve_blocks_until_close():
    server = TCPServer(handler=lambda connection: None)
    server.bind(("127.0.0.1", 0))
    serving = gevent.spawn(server.serve)
    gevent.idle()  # serve() has run as far as it goes: it waits
    assert not serving.dead and server.started
    server.close()
    serving.get(timeout=5)


def test_serve_with_duration_closes_the_server_when_the_time_is_up():
    server = TCPServer(handler=lambda connection: None)
    server.bind(("127.0.0.1", 0))
    serving = gevent.spawn(server.serve, duration=0.1)
    gevent.idle()
    assert server.started
    serving.get(timeout=5)
    assert server.closed


def test_serve_with_stop_signals_closes_on_the_signal_and_removes_its_handler():
    server = TCPServer(handler=lambda connection: None)
    server.bind(("127.0.0.1", 0))
    previous = signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    try:
        serving = gevent.spawn(server.serve, stop_signals=(signal.SIGUSR1,))
        gevent.idle()  # serve() has installed its handler and waits
        assert server.started
        os.kill(os.getpid(), signal.SIGUSR1)
        serving.get(timeout=5)
        assert server.closed
        assert signal.getsignal(signal.SIGUSR1) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_killing_the_serving_greenlet_closes_the_server():
    server = TCPServer(handler=lambda connection: None)
    server.bind(("127.0.0.1", 0))
    serving = gevent.spawn(server.serve)
    gevent.idle()
    assert server.started
    serving.kill(timeout=5)
    assert server.closed


def test_context_manager_starts_and_closes():
    server = TCPServer(handler=lambda connection: connection.write(b"hi\n"))
    server.bind(("127.0.0.1", 0))
    with server:
        assert server.started
        assert _client(server).read_until(b"\n") == b"hi\n"
    assert server.closed


def test_close_closes_every_live_connection_and_wakes_handlers():
    outcomes = []
    entered = []
    all_in = gevent.event.Event()

    def handler(connection):
        entered.append(connection)
        if len(entered) == 5:
            all_in.set()
        try:
            connection.read_until(b"\n")
        except StreamClosedError:
            outcomes.append("woken")
            raise

    server = _start(TCPServer(handler=handler))
    clients = [_client(server) for _ in range(5)]
    assert all_in.wait(5)
    gevent.idle()  # every handler waits in read_until
    assert len(server.connections) == 5
    server.close()
    assert outcomes == ["woken"] * 5
    assert server.connections == []
    for client in clients:
        assert client.read_until_eof() == b""


def test_max_connections_caps_concurrent_handlers():
    active = []
    peak = []
    release = gevent.event.Event()
    two_in = gevent.event.Event()

    def handler(connection):
        active.append(connection)
        peak.append(len(active))
        if len(active) == 2:
            two_in.set()
        connection.write(b"in\n")
        release.wait()
        active.remove(connection)

    server = _start(TCPServer(handler=handler, max_connections=2))
    clients = [_client(server) for _ in range(4)]
    assert two_in.wait(5)
    gevent.idle()  # the other two connections wait in the backlog, not in a handler
    assert len(active) == 2
    release.set()
    for client in clients:
        assert client.read_until(b"\n") == b"in\n"
    assert max(peak) == 2
    server.close()


def test_start_needs_bind():
    server = TCPServer(handler=lambda connection: None)
    with pytest.raises(StreamError, match="bind"):
        server.start()
    server.close()
    assert server.closed


def test_a_closed_server_starts_again_on_the_same_port():
    server = _start(TCPServer(handler=lambda connection: connection.write(b"hi\n")))
    address = server.sockname
    server.close()
    assert not server.running
    assert server.start() is server
    assert server.sockname == address
    assert _client(server).read_until(b"\n") == b"hi\n"
    server.close()


def test_a_closed_pipe_server_starts_again_on_the_same_path(tmp_path):
    path = str(tmp_path / "again.sock")
    server = PipeServer(handler=lambda connection: connection.write(b"hi\n"))
    server.bind(path)
    server.start()
    server.close()
    assert not os.path.exists(path)
    server.start()
    client = PipeClient()
    client.connect(path, timeout=5)
    assert client.read_until(b"\n") == b"hi\n"
    client.close()
    server.close()


def test_missing_handler_is_reported(caplog):
    server = _start(TCPServer())
    with caplog.at_level(logging.ERROR, logger="flubber.io._server"):
        assert _client(server).read_until_eof() == b""
    assert "handle_connection" in caplog.text
    server.close()


def test_address_can_be_rebound_right_after_close():
    server = _start(TCPServer(handler=lambda connection: None))
    address = server.sockname
    _client(server)
    server.close()
    again = TCPServer(handler=lambda connection: None)
    again.bind(address)
    again.start()
    again.close()
