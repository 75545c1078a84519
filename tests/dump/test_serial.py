"""TheDump on the serial device, against a console on the master side of a pty pair."""
import gevent
import pytest

from flubber.dump import DeviceError, SerialDevice, TheDump, run_dumps

from tests.dump.conftest import ANSWERS

pytestmark = pytest.mark.timeout(60)


def _read(path):
    with open(path, "rb") as handle:
        return handle.read()


def test_output_ends_at_the_prompt(pty_console, tmp_path):
    console = pty_console(prompt=True)
    device = SerialDevice(console.port, baudrate=115200, prompt=r"lab> ")
    dump = TheDump("dmesg", device, output_dir=str(tmp_path), timeout=5)
    assert _read(dump()) == ANSWERS[b"dmesg"]
    assert dump.result.ended == "end" and not dump.result.failed
    assert console.received == [b"dmesg"]


def test_without_a_prompt_the_output_ends_at_silence(pty_console, tmp_path):
    console = pty_console(prompt=False)
    dump = TheDump("uptime", SerialDevice(console.port, 115200), output_dir=str(tmp_path), timeout=0.3)
    assert _read(dump()) == ANSWERS[b"uptime"]
    assert dump.result.ended == "silence" and not dump.result.failed


def test_concurrent_dumps_on_one_port_take_turns(pty_console, tmp_path):
    console = pty_console(prompt=True)
    device = SerialDevice(console.port, 115200, prompt=r"lab> ")
    dumps = [TheDump(command, device, output_dir=str(tmp_path)) for command in ("dmesg", "uptime", "empty")]
    results = run_dumps(dumps)
    assert [result.state for result in results] == ["done"] * 3
    for dump, command in zip(dumps, (b"dmesg", b"uptime", b"empty")):
        assert _read(dump.filename) == ANSWERS[command]
    assert sorted(console.received) == [b"dmesg", b"empty", b"uptime"]


def test_a_missing_port_is_logged_and_the_next_dump_on_it_is_not_blocked(tmp_path):
    device = SerialDevice("/dev/flubber-no-such-port", 9600)
    first = TheDump("dmesg", device, output_dir=str(tmp_path))
    first()
    assert first.result.failed and "cannot open serial port" in first.result.error
    with gevent.Timeout(5):
        second = TheDump("uptime", device, output_dir=str(tmp_path))
        second()
    assert second.result.failed


def test_device_open_raises_device_error_for_a_missing_port():
    with pytest.raises(DeviceError, match="cannot open serial port"):
        SerialDevice("/dev/flubber-no-such-port").open("dmesg", timeout=1)
