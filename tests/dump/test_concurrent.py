"""Many dumps on many devices at once, one greenlet each."""
import sys

import pytest

from flubber.dump import Device, LocalDevice, TCPDevice, TheDump, run_dumps

from tests.dump.conftest import ANSWERS

pytestmark = pytest.mark.timeout(60)

TICKER = ("import sys, time\n"
          "for i in range(%d):\n"
          "    print('line %%d' %% i, flush=True)\n"
          "    time.sleep(0.01)\n")


def _ticker(lines):
    return LocalDevice(prefix=[sys.executable, "-S", "-E", "-c", TICKER % lines])


def test_concurrent_dumps_each_get_every_line(tmp_path):
    dumps = [TheDump("ticker %d" % n, _ticker(20), identifier="t%d" % n, output_dir=str(tmp_path))
             for n in range(10)]
    results = run_dumps(dumps)
    expected = "".join("line %d\n" % i for i in range(20))
    for dump, result in zip(dumps, results):
        assert result.state == "done" and result.bytes == len(expected)
        with open(dump.filename) as handle:
            assert handle.read() == expected


def test_a_failing_dump_does_not_stop_the_others(tmp_path, shell_server):
    server = shell_server("prompt")
    tcp = TCPDevice("127.0.0.1", server.sockname[1], prompt=r"lab> ")
    refused = TCPDevice("127.0.0.1", 1)
    dumps = [
        TheDump("echo local", identifier="local", output_dir=str(tmp_path)),
        TheDump("exit 4", identifier="fails", output_dir=str(tmp_path)),
        TheDump("dmesg", refused, identifier="refused", output_dir=str(tmp_path)),
        TheDump("dmesg", tcp, identifier="tcp", output_dir=str(tmp_path)),
        TheDump("echo x; sleep 600", identifier="endless", output_dir=str(tmp_path), timeout=0.3),
    ]
    states = {result.identifier: result.state for result in run_dumps(dumps)}
    assert states == {"local": "done", "fails": "failed", "refused": "failed", "tcp": "done",
                      "endless": "done"}
    with open(dumps[3].filename, "rb") as handle:
        assert handle.read() == ANSWERS[b"dmesg"]


def test_max_concurrent_limits_how_many_run_at_once(tmp_path):
    dumps = [TheDump("echo %d" % n, identifier="n%d" % n, output_dir=str(tmp_path)) for n in range(6)]
    results = run_dumps(dumps, max_concurrent=2)
    assert [result.state for result in results] == ["done"] * 6


class _BrokenDevice(Device):
    def open(self, command, timeout):
        raise RuntimeError("a bug")


def test_a_dump_that_crashes_is_marked_failed_and_logged(tmp_path, caplog):
    dumps = [TheDump("x", _BrokenDevice(), identifier="broken", output_dir=str(tmp_path)),
             TheDump("echo fine", identifier="fine", output_dir=str(tmp_path))]
    broken, fine = run_dumps(dumps)
    assert broken.failed and "a bug" in broken.error
    assert fine.state == "done"
    assert "dump broken crashed" in caplog.text
