"""bench/bench_sockets.py still runs (its --quick smoke mode); figures are not judged here."""
import os
import subprocess

from .conftest import PYTHON, REPO, subprocess_env


def test_sockets_benchmark_quick_mode_runs():
    result = subprocess.run([PYTHON, os.path.join(REPO, "bench", "run.py"), "sockets", "--quick"],
                            cwd=REPO, env=subprocess_env(), capture_output=True, text=True,
                            timeout=110)
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    for label in ("flubber DateDataPullSocket", "socketserver.UDPServer (1 thread)",
                  "socketserver.ThreadingUDPServer", "asyncio datagram endpoint",
                  "uvloop datagram endpoint", "Bars of issue 4"):
        assert label in out
    assert "FAILED" not in out and "failed servers" not in out
    assert "MET    2000 fuzzed datagrams" in out
