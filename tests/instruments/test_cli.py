"""flubber simulate scpi, flubber share ADDRESS and flubber query ADDRESS LINE... as processes."""
import os
import re
import signal
import subprocess
import sys

import pytest

from tests.ports import refused_port

pytestmark = pytest.mark.timeout(120)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def flubber(*args, timeout=60):
    """Run the flubber command line; return the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "flubber", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


class Running:
    """A flubber process that printed a line matching *pattern* (its first group is :attr:`found`)."""

    def __init__(self, args, pattern):
        self.process = subprocess.Popen([sys.executable, "-m", "flubber", *args], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, cwd=REPO)
        seen = []
        for line in self.process.stdout:
            seen.append(line)
            match = re.search(pattern, line)
            if match:
                self.found = match.group(1)
                return
        self.process.wait(10)
        raise AssertionError("flubber %s printed no %r:\n%s%s" % (args[0], pattern, "".join(seen),
                                                                  self.process.stderr.read()))

    def stop(self):
        """SIGTERM; return (status, stdout rest, stderr)."""
        self.process.send_signal(signal.SIGTERM)
        out, err = self.process.communicate(timeout=30)
        return self.process.returncode, out, err

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


@pytest.fixture
def simulator():
    running = Running(["simulate", "scpi", "--port", "0"], r"SCPI simulator at (tcp://127\.0\.0\.1:\d+)")
    yield running
    running.kill()


def test_simulate_then_query_it(simulator):
    done = flubber("query", simulator.found, "*IDN?", "SOUR:TEMP 33", "SOUR:TEMP?")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("FLUBBER,SCPI-SIM,") and lines[1] == "33"
    status, _, _ = simulator.stop()
    assert status == 0


def test_simulate_on_a_pty_is_a_serial_port():
    running = Running(["simulate", "scpi", "--pty"], r"SCPI simulator at (serial:///dev/\S+)")
    try:
        done = flubber("query", running.found, "ECHO? over serial")
        assert done.returncode == 0, done.stderr
        assert done.stdout == "over serial\n"
    finally:
        running.kill()


def test_share_serves_clients_and_logs_each_one(simulator):
    share = Running(["share", simulator.found, "--port", "0"], r"sharing tcp://\S+ on 127\.0\.0\.1:(\d+)")
    try:
        target = "tcp://127.0.0.1:%s" % share.found
        for number in range(2):
            done = flubber("query", target, "ECHO? client %d" % number)
            assert done.stdout == "client %d\n" % number, done.stderr
        status, out, err = share.stop()
    finally:
        share.kill()
    assert status == 0
    assert "share stopped: 2 queries, 0 writes, 0 errors for 2 clients" in out
    assert len(re.findall(r"client 127\.0\.0\.1:\d+ left after [0-9.]+ s: 1 queries, 0 writes", err)) == 2


def test_query_of_an_unreachable_instrument_fails_with_status_1():
    with refused_port() as port:
        done = flubber("query", "tcp://127.0.0.1:%d" % port, "*IDN?", "--timeout", "1")
    assert done.returncode == 1
    assert "cannot connect" in done.stderr


def test_query_of_a_bad_address_fails_with_status_2():
    done = flubber("query", "tcp:/127.0.0.1:5025", "*IDN?")
    assert done.returncode == 2
    assert "has no scheme" in done.stderr


def test_share_of_a_port_in_use_fails_with_status_1(simulator):
    port = simulator.found.rpartition(":")[2]
    done = flubber("share", simulator.found, "--port", port)
    assert done.returncode == 1
    assert "cannot listen on 127.0.0.1:%s" % port in done.stderr and "--port" in done.stderr
