"""The web load benchmark still runs: ``bench/run.py web --quick`` (figures printed, no timing asserts)."""
import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.timeout(150), pytest.mark.slow]

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def test_web_benchmark_quick_run_prints_latencies_rss_and_the_bars():
    done = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "run.py"), "web", "--quick"],
                          capture_output=True, timeout=120, cwd=ROOT)
    output = done.stdout.decode("utf-8", "replace")
    assert done.returncode == 0, output + done.stderr.decode("utf-8", "replace")
    for line in ("pull socket json_wn p99", "KV get over TCP p99", "RSS peak with clients (MiB)",
                 "event-stream clients the node counted mid-run", "bar: node RSS bounded",
                 "bar: every reading client got updates all along"):
        assert line in output, "missing %r in:\n%s" % (line, output)
    assert "failed or got no snapshot                0" in output
