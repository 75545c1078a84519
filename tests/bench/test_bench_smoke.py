"""The flubber.io benchmark still runs: ``bench/run.py io --quick`` (no timing asserts)."""
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(150)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def test_io_benchmark_quick_run_prints_its_tables():
    done = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "run.py"), "io", "--quick"],
                          capture_output=True, timeout=120, cwd=ROOT)
    output = done.stdout.decode("utf-8", "replace")
    assert done.returncode == 0, output + done.stderr.decode("utf-8", "replace")
    for header in ("req/s @1", "req/s @50", "bulk MB/s", "flubber / peer", "KiB/conn",
                   "read_until ms", "bars of issue 3"):
        assert header in output, "missing %r in:\n%s" % (header, output)
    for implementation in ("flubber TCPServer", "raw gevent", "asyncio streams", "uvloop streams",
                           "threads (socketserver)"):
        assert implementation in output
