"""InstrumentShare: many clients, one instrument, each reply to its own client; locks; statistics."""
import contextlib
import json
import logging
import os
import signal
import socket
import sys

import gevent
import gevent.event
import gevent.subprocess
import pytest

from flubber.instruments import InstrumentShare
from flubber.io import TCPClient
from flubber.node import LabNode
from tests.sync import wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


@pytest.fixture
def share(make_simulator, make_instrument):
    """A share on a free port of the simulator on TCP (1 ms reply delay); stopped after the test."""
    server = make_simulator(delay=0.001)
    instrument = make_instrument(server.address, timeout=5)
    shared = InstrumentShare(instrument, port=0, lock_timeout=5).start()
    yield shared
    shared.stop()


def connect(share):
    return TCPClient().connect(share.address, timeout=5)


def ask(client, line, timeout=5):
    client.write(line.encode("ascii") + b"\n")
    with gevent.Timeout(timeout):
        return client.read_until(b"\n")[:-1].decode("ascii")


def test_a_query_is_forwarded_and_answered(share):
    client = connect(share)
    try:
        assert ask(client, "*IDN?").startswith("FLUBBER,SCPI-SIM,")
        assert ask(client, "ECHO? with arguments") == "with arguments"
    finally:
        client.abort()


def test_an_instrument_on_a_serial_port_is_shared(make_simulator, make_instrument):
    controller = make_simulator("pty")
    with InstrumentShare(make_instrument(controller.address, timeout=5), port=0) as shared:
        clients = [connect(shared) for _ in range(3)]
        try:
            for number, client in enumerate(clients):
                assert ask(client, "ECHO? serial %d" % number) == "serial %d" % number
        finally:
            for client in clients:
                client.abort()


def test_a_write_gets_no_reply_and_reaches_the_instrument(share):
    client = connect(share)
    try:
        client.write(b"SOUR:TEMP 55\r\n")
        assert ask(client, "SOUR:TEMP?") == "55"
    finally:
        client.abort()


def test_clients_never_get_each_others_replies(share):
    clients = [connect(share) for _ in range(8)]
    bad = []

    def run(number, client):
        for i in range(50):
            asked = "c%d-%d" % (number, i)
            reply = ask(client, "ECHO? " + asked)
            if reply != asked:
                bad.append((asked, reply))

    try:
        gevent.joinall([gevent.spawn(run, n, c) for n, c in enumerate(clients)], raise_error=True)
    finally:
        for client in clients:
            client.abort()
    assert bad == []
    assert share.instrument.stats.queries == 400


def test_a_failed_query_gets_an_error_line(share):
    client = connect(share)
    try:
        share.instrument.timeout = 0.05
        share.instrument.late_reply_wait = 0.01
        reply = ask(client, "NO:SUCH?")
        assert reply.startswith(":FLUBBER:ERROR ") and "no reply to 'NO:SUCH?'" in reply
        share.instrument.timeout = 5
        assert ask(client, "SYST:ERR?") == '-113,"Undefined header"'
        assert json.loads(ask(client, ":FLUBBER:STATS?"))["errors"] == 1
    finally:
        client.abort()


def test_lock_escape_gives_one_client_the_instrument(share):
    holder, other = connect(share), connect(share)
    try:
        assert ask(holder, ":FLUBBER:LOCK?") == "1"
        other.write(b"ECHO? other\n")
        with gevent.Timeout(0.2, False):
            other.read_until(b"\n")
            pytest.fail("a query of another client was served during the lock")
        assert ask(holder, "ECHO? mine") == "mine"
        assert share.instrument.holder.startswith("share client 127.0.0.1:")
        holder.write(b":FLUBBER:UNLOCK\n")
        with gevent.Timeout(5):
            assert other.read_until(b"\n") == b"other\n"
        assert share.instrument.holder is None
    finally:
        holder.abort()
        other.abort()


def test_a_silent_client_loses_its_lock_after_the_timeout(share):
    holder, other = connect(share), connect(share)
    try:
        assert ask(holder, ":FLUBBER:LOCK? 0.1") == "1"
        assert ask(other, "ECHO? after the lease") == "after the lease"
        assert share.instrument.stats.locks_expired == 1
        reply = ask(holder, "ECHO? too late")
        assert reply.startswith(":FLUBBER:ERROR ") and "expired" in reply
        assert ask(holder, "ECHO? unlocked now") == "unlocked now"
    finally:
        holder.abort()
        other.abort()


@contextlib.contextmanager
def locking_client_process(share, lease):
    """A client process that took the share's lock with *lease* seconds and holds its connection open."""
    code = ("import socket, sys\n"
            "s = socket.create_connection(('127.0.0.1', %d))\n"
            "s.sendall(b':FLUBBER:LOCK? %g\\n')\n"
            "assert s.makefile('rb').readline() == b'1\\n'\n"
            "print('locked', flush=True)\n"
            "sys.stdin.read()\n" % (share.address[1], lease))
    child = gevent.subprocess.Popen([sys.executable, "-c", code], stdin=gevent.subprocess.PIPE,
                                    stdout=gevent.subprocess.PIPE)
    try:
        with gevent.Timeout(20):
            assert child.stdout.readline() == b"locked\n"
        assert share.instrument.holder is not None
        yield child
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGCONT)
            child.kill()
        child.wait()


def test_a_client_killed_while_holding_the_lock_releases_it(share):
    with locking_client_process(share, lease=30) as child:
        child.kill()
        child.wait(10)
        other = connect(share)
        try:
            assert ask(other, "ECHO? free again") == "free again"
        finally:
            other.abort()
    assert share.instrument.holder is None
    assert share.instrument.stats.locks_expired == 0  # released when the connection closed, at once


def test_a_hung_client_process_holding_the_lock_loses_it_after_the_timeout(share):
    with locking_client_process(share, lease=0.2) as child:
        os.kill(child.pid, signal.SIGSTOP)
        other = connect(share)
        try:
            assert ask(other, "ECHO? lease ran out") == "lease ran out"
        finally:
            other.abort()
        assert share.instrument.stats.locks_expired == 1


def test_per_client_statistics_and_an_access_log_line(share, caplog):
    caplog.set_level(logging.INFO, logger="flubber.instruments.share")
    client = connect(share)
    ask(client, "ECHO? one")
    client.write(b"SOUR:TEMP 30\n")
    stats = json.loads(ask(client, ":FLUBBER:STATS?"))
    assert (stats["queries"], stats["writes"], stats["errors"]) == (1, 1, 0)
    assert [c.peer for c in share.clients] == [stats["peer"]]
    client.close()
    wait_until(lambda: share.finished, what="the share saw the client leave")
    assert share.finished[-1].peer == stats["peer"] and share.clients == []
    lines = [r.getMessage() for r in caplog.records if "left after" in r.getMessage()]
    assert lines and stats["peer"] in lines[-1] and "1 queries, 1 writes, 0 errors" in lines[-1]


def test_unknown_escape_query_is_answered_with_the_escapes(share):
    client = connect(share)
    try:
        assert "use :FLUBBER:LOCK? [SECONDS]" in ask(client, ":FLUBBER:NOPE?")
        assert ask(client, ":FLUBBER:LOCK? abc").startswith(":FLUBBER:ERROR LOCK? takes a number")
    finally:
        client.abort()


def test_a_line_the_instrument_cannot_take_is_an_error_reply_and_the_client_goes_on(share, caplog):
    client = connect(share)
    try:
        client.write(b"\xff\xfe*IDN?\n")  # not ASCII, the instrument's encoding
        with gevent.Timeout(5):
            assert client.read_until(b"\n").startswith(b":FLUBBER:ERROR ")
        client.write(b"\xffSOUR:TEMP 30\n")  # a write: no reply, no disconnection
        assert ask(client, "ECHO? still here") == "still here"
    finally:
        client.abort()
    assert not [record for record in caplog.records if record.exc_info], "a traceback was logged"


@pytest.mark.parametrize("lease", ["nan", "-inf", "0"])
def test_a_lock_lease_that_is_no_positive_number_is_refused_and_the_client_goes_on(share, lease):
    client = connect(share)
    try:
        assert ask(client, ":FLUBBER:LOCK? %s" % lease).startswith(":FLUBBER:ERROR LOCK? takes a number")
        assert ask(client, "ECHO? still here") == "still here"
    finally:
        client.abort()


def test_stop_closes_clients_and_is_idempotent(share):
    client = connect(share)
    assert ask(client, "ECHO? x") == "x"
    share.stop()
    share.stop()
    assert not share.running
    with gevent.Timeout(5):
        assert client.read_until(b"\n") == b""
    client.abort()
    assert share.instrument.running  # the instrument is left to its other users


def test_a_stopped_share_listens_again_on_its_port(share):
    port = share.address[1]
    share.stop()
    share.start()
    assert share.address[1] == port
    client = connect(share)
    try:
        assert ask(client, "ECHO? back") == "back"
    finally:
        client.abort()


@pytest.mark.timeout(240)
def test_eight_pyvisa_processes_share_the_instrument_while_the_node_polls_it(make_simulator):
    pytest.importorskip("pyvisa_py", reason="pip install 'flubber[test]' (pyvisa and pyvisa-py)")
    controller = make_simulator(delay=0.001)
    node = LabNode.from_dict({
        "name": "lab", "tcp": {"host": "127.0.0.1", "port": 0}, "sockets": {"pull": False},
        "instruments": [{"name": "temperature", "address": controller.address, "query": "MEAS:TEMP?",
                         "interval": 0.01, "timeout": 5, "share": {"host": "127.0.0.1", "port": 0}}],
    }).start()
    try:
        port = node.shares[0].address[1]
        children = [gevent.subprocess.Popen([sys.executable, os.path.join(HERE, "visa_client.py"), str(port),
                                             "client%d" % n, "200"],
                                            stdout=gevent.subprocess.PIPE, stderr=gevent.subprocess.PIPE)
                    for n in range(8)]
        results = []
        try:
            for child in children:
                out, err = child.communicate(timeout=200)
                assert child.returncode == 0, err.decode("utf-8", "replace")
                results.append(json.loads(out))
        finally:
            for child in children:
                if child.poll() is None:
                    child.kill()
                    child.wait()
        reader = node.instruments[0]
        line = node.line_instruments[controller.address]
        readings, stats = reader.readings, line.stats.as_dict()
    finally:
        node.stop()
    assert sorted(result["id"] for result in results) == ["client%d" % n for n in range(8)]
    for result in results:
        assert result["replies"] == 200 and result["mismatches"] == [] and result["locks"] == 4
        assert result["idn"].startswith("FLUBBER,SCPI-SIM,")
    assert readings > 0 and reader.errors == 0 and stats["errors"] == 0
    assert stats["locks"] == 8 * 4 and stats["locks_expired"] == 0
    assert stats["queries"] >= 8 * 201 + readings
