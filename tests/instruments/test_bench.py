"""bench/bench_instruments.py still runs (its --quick smoke mode); figures are not judged here."""
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.timeout(150)
def test_instruments_benchmark_quick_mode_runs():
    result = subprocess.run([sys.executable, os.path.join(REPO, "bench", "run.py"), "instruments", "--quick"],
                            cwd=REPO, capture_output=True, text=True, timeout=140)
    assert result.returncode == 0, result.stderr[-2000:]
    for label in ("direct, 1 client", "direct, 8 clients (connect per query)", "share, 1 client",
                  "share, 8 clients", "node CPU per query through the share", "ratio share / direct, 8 clients",
                  "bar: every reply to its own client: met"):
        assert label in result.stdout, result.stdout
