"""Fixtures for flubber.instruments: the SCPI simulator on TCP, a pty opened as a serial port, and a pipe."""
import os
import tempfile

import pytest

from flubber.instruments import LineInstrument, ScpiServer, ScpiSimulator

#: How the simulator is reached in each transport's tests.
LISTEN = {
    "tcp": lambda: "tcp://127.0.0.1:0",
    "serial": lambda: "pty",
    "pipe": lambda: "pipe://" + os.path.join(tempfile.mkdtemp(prefix="flubber-test-"), "scpi.sock"),
}


@pytest.fixture
def make_simulator():
    """``make_simulator(listen, delay=0, **kw)``: a started ScpiServer, stopped after the test."""
    servers = []

    def make(listen="tcp://127.0.0.1:0", delay=0.0, terminator="\n", **options):
        server = ScpiServer(listen, simulator=ScpiSimulator(delay=delay, seed=1, **options), terminator=terminator)
        servers.append(server.start())
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def make_instrument():
    """``make_instrument(address, **kw)``: a started LineInstrument, stopped after the test."""
    instruments = []

    def make(address, **options):
        instrument = LineInstrument(address, **options)
        instruments.append(instrument.start())
        return instrument

    yield make
    for instrument in instruments:
        instrument.stop()


@pytest.fixture(params=sorted(LISTEN))
def transport(request):
    """The transport under test: ``tcp``, ``serial`` (a pty) or ``pipe``."""
    return request.param


@pytest.fixture
def simulator(make_simulator, transport):
    """The SCPI simulator (no reply delay) on the transport under test."""
    return make_simulator(LISTEN[transport]())
