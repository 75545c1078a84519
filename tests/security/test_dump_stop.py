"""Finding 10 of issue 13: stopping ``flubber dump`` (Ctrl-C, SIGTERM, timeout) leaves no command running."""
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from tests.security.conftest import ROOT

pytestmark = pytest.mark.timeout(120)


def _alive(marker):
    """Pids of live processes whose command line holds *marker*."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as handle:
                if marker.encode() in handle.read():
                    with open("/proc/%s/stat" % entry) as stat:
                        if stat.read().rsplit(")", 1)[1].split()[0] != "Z":
                            pids.append(int(entry))
        except OSError:
            pass
    return pids


def _start_dump(tmp_path, timeout=60):
    marker = "600.%06d" % (uuid.uuid4().int % 1000000)  # a sleep no other test runs
    ini = tmp_path / "dump.ini"
    ini.write_text("[dump]\ntimeout = %s\nquick = echo quick\n"
                   "ticks = echo tick 1; echo tick 2; sleep %s; echo never\n"
                   "children = (sleep %s &) ; sleep %s\n" % (timeout, marker, marker, marker))
    process = subprocess.Popen([sys.executable, "-m", "flubber", "dump", str(ini), "--progress", "plain",
                                "--output-dir", str(tmp_path / "out")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, PYTHONPATH=ROOT), cwd=str(tmp_path))
    deadline = time.monotonic() + 60
    while len(_alive(marker)) < 3 and time.monotonic() < deadline:  # ticks' sleep, children's two
        time.sleep(0.05)
    assert len(_alive(marker)) >= 3, "the dump commands did not start"
    return process, marker


def _wait_gone(marker, seconds=10):
    deadline = time.monotonic() + seconds
    while _alive(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _alive(marker)


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_stopping_a_dump_ends_every_command_keeps_the_output_and_reports(tmp_path, signum, status):
    process, marker = _start_dump(tmp_path)
    quick = tmp_path / "out" / "quick.txt"
    deadline = time.monotonic() + 60
    while not (quick.exists() and quick.read_text() == "quick\n") and time.monotonic() < deadline:
        time.sleep(0.05)  # quick ends on its own (its output is asserted below): the stop comes after it
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    try:
        assert process.returncode == status, (out, err)
        assert "Traceback" not in err and "Traceback" not in out, err
        assert _wait_gone(marker) == []  # nothing left under PID 1
        assert (tmp_path / "out" / "ticks.txt").read_text() == "tick 1\ntick 2\n"
        assert (tmp_path / "out" / "quick.txt").read_text() == "quick\n"
        lines = out.splitlines()
        assert "%s: 3 dumps stopped; what was captured is kept:" % signal.Signals(signum).name in lines
        assert any(line.startswith("  ticks: stopped after") and "14 bytes kept" in line for line in lines)
        assert any(line.startswith("  children: stopped after") for line in lines)
        assert any(line.startswith("  quick: done") for line in lines)
    finally:
        for pid in _alive(marker):
            os.kill(pid, signal.SIGKILL)


def test_the_silence_timeout_ends_the_whole_process_group(tmp_path):
    process, marker = _start_dump(tmp_path, timeout=1)
    out, err = process.communicate(timeout=60)
    try:
        assert process.returncode == 0, (out, err)
        assert _wait_gone(marker) == []
        assert "3 dumps: 3 done, 0 failed" in out
    finally:
        for pid in _alive(marker):
            os.kill(pid, signal.SIGKILL)
