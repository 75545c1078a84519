"""The simulated SCPI instrument: its commands (no I/O), and its server serving one connection at a time."""
import gevent
import pytest

from flubber.instruments import AddressError, ScpiServer, ScpiSimulator
from flubber.io import TCPClient


def test_idn_names_the_simulator():
    assert ScpiSimulator().handle("*IDN?").startswith("FLUBBER,SCPI-SIM,")


def test_setpoint_is_set_and_read_back_in_short_and_long_form():
    simulator = ScpiSimulator()
    assert simulator.handle("SOUR:TEMP 42.5") is None
    assert simulator.handle("sour:temp?") == "42.5"
    assert simulator.handle("SOURce:TEMPerature?") == "42.5"


def test_temperature_follows_the_setpoint():
    clock = iter(float(t) for t in range(1000))
    simulator = ScpiSimulator(setpoint=20, start=20, tau=1.0, noise=0.0)
    simulator.oven._clock = lambda: next(clock)
    assert float(simulator.handle("MEAS:TEMP?")) == 20.0
    simulator.handle("SOUR:TEMP 30")
    first = float(simulator.handle("MEASure:TEMPerature?"))
    second = float(simulator.handle("MEAS:TEMP?"))
    assert 20.0 < first < second < 30.0


def test_unknown_command_queues_an_error_and_sends_no_reply():
    simulator = ScpiSimulator()
    assert simulator.handle("FOO:BAR?") is None
    assert simulator.handle("SOUR:TEMP abc") is None
    assert simulator.handle("SYST:ERR?") == '-113,"Undefined header"'
    assert simulator.handle("SYSTem:ERRor:NEXT?") == '-224,"Illegal parameter value"'
    assert simulator.handle("SYST:ERR?") == '0,"No error"'


def test_error_queue_overflow_replaces_the_last_entry():
    simulator = ScpiSimulator()
    for _ in range(simulator.error_queue_size + 5):
        simulator.handle("NOPE")
    errors = [simulator.handle("SYST:ERR?") for _ in range(simulator.error_queue_size)]
    assert errors[-1] == '-350,"Queue overflow"'
    assert simulator.handle("SYST:ERR?") == '0,"No error"'


def test_cls_and_rst_clear_the_queue():
    simulator = ScpiSimulator(setpoint=20)
    simulator.handle("NOPE")
    simulator.handle("*CLS")
    assert simulator.handle("SYST:ERR?") == '0,"No error"'
    simulator.handle("SOUR:TEMP 50")
    simulator.handle("*RST")
    assert simulator.handle("SOUR:TEMP?") == "20"


def test_echo_and_delay_commands():
    simulator = ScpiSimulator(delay=0.002)
    assert simulator.handle("ECHO? client-3 17") == "client-3 17"
    assert simulator.handle("SIM:DELAY?") == "0.002"
    simulator.handle("SIM:DELAY 0.5")
    assert simulator.delay == 0.5
    simulator.handle("SIM:DELAY -1")
    assert simulator.delay == 0.5
    assert simulator.handle("SYST:ERR?") == '-224,"Illegal parameter value"'


def test_server_serves_one_connection_at_a_time(make_simulator):
    server = make_simulator("tcp://127.0.0.1:0")
    target = server.address[len("tcp://"):]
    first = TCPClient().connect(target, timeout=5)
    second = TCPClient().connect(target, timeout=5)
    try:
        first.write(b"ECHO? one\n")
        assert first.read_until(b"\n") == b"one\n"
        second.write(b"ECHO? two\n")
        with gevent.Timeout(0.2, False):
            second.read_until(b"\n")
            pytest.fail("the simulator answered a second connection while the first was open")
        first.close()
        with gevent.Timeout(5):
            assert second.read_until(b"\n") == b"two\n"
    finally:
        first.abort()
        second.abort()


def test_server_ignores_blank_lines_and_carriage_returns(make_simulator):
    server = make_simulator("tcp://127.0.0.1:0")
    client = TCPClient().connect(server.address[len("tcp://"):], timeout=5)
    try:
        client.write(b"\r\n\nECHO? x\r\n")
        with gevent.Timeout(5):
            assert client.read_until(b"\n") == b"x\n"
    finally:
        client.abort()


def test_server_stop_is_idempotent_and_running_follows(make_simulator):
    server = make_simulator("pty")
    assert server.running and server.address.startswith("serial:///dev/")
    server.stop()
    server.stop()
    assert not server.running


def test_server_refuses_an_unknown_listen_form():
    with pytest.raises(AddressError, match="tcp://HOST:PORT, pipe:///path or pty"):
        ScpiServer("udp://127.0.0.1:5025")
