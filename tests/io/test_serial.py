"""Serial specifics: pyserial opens the port, flubber waits on it cooperatively."""
import os
import pty

import gevent
import pytest

from flubber.io import SerialError, SerialStream, TTYStream

pytestmark = pytest.mark.timeout(30)


def test_instrument_dialogue_over_a_pty():
    master, slave = pty.openpty()
    port = SerialStream(os.ttyname(slave), baudrate=9600)
    instrument = TTYStream(master, readable=True)
    os.close(master)
    os.close(slave)

    def fake_instrument():
        for request in instrument:
            if request == b"*IDN?\n":
                instrument.write(b"ACME,T100,42,1.0\n")

    serving = gevent.spawn(fake_instrument)
    ticks = []
    ticker = gevent.spawn(lambda: [ticks.append(1) or gevent.sleep(0.001) for _ in range(20)])
    port.write(b"*IDN?\n")
    assert port.read_until(b"\n") == b"ACME,T100,42,1.0\n"
    ticker.join(timeout=5)
    assert len(ticks) == 20  # other greenlets ran while the port was waited on
    assert port.serial.baudrate == 9600
    port.close()
    instrument.close()
    serving.kill()


def test_opening_a_missing_port_is_a_serial_error():
    with pytest.raises(SerialError, match="cannot open serial port"):
        SerialStream("/dev/does-not-exist-flubber")


def test_a_port_without_descriptor_is_refused_with_advice():
    with pytest.raises(SerialError, match="no file descriptor"):
        SerialStream("loop://")
