"""bench/bench_kvstore.py still runs (its --quick smoke mode); figures are not judged here."""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_kvstore_benchmark_quick_mode_runs():
    result = subprocess.run([sys.executable, os.path.join(REPO, "bench", "run.py"), "kvstore", "--quick"],
                            capture_output=True, timeout=110, cwd=REPO)
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert "flubber KVTCPServer" in out and "socketserver.ThreadingTCPServer" in out
    assert "FAILED" not in out, out
    assert "Bars of issue 6" in out
