"""The fleet benchmark still runs: ``bench/run.py fleet --quick`` (two nodes, no restarts, no timing asserts)."""
import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.timeout(200), pytest.mark.slow]

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def test_fleet_benchmark_quick_run_prints_its_figures_and_bars(rabbitmq_url, mariadb_available, tmp_path):
    done = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "run.py"), "fleet", "--quick", "--save",
                           str(tmp_path)], capture_output=True, timeout=180, cwd=ROOT)
    output = done.stdout.decode("utf-8", "replace")
    assert done.returncode == 0, output + done.stderr.decode("utf-8", "replace")
    for line in ("get over the broker, 1 in flight, p99 (ms)", "points/s stored in the shared table",
                 "node RSS, mean (MiB)", "mariadbd CPU (% of a core)", "flubber nodes --broker URL with N=2 running",
                 "bar: 0 points lost, 0 missing, 0 stored twice across the restarts: met",
                 "bar: flubber nodes lists all N running nodes: met"):
        assert line in output, "missing %r in:\n%s" % (line, output)
    assert (tmp_path / "fleet.png").stat().st_size > 0 and (tmp_path / "fleet.txt").is_file()
