"""bench/bench_dump.py still runs (its --quick smoke mode); figures are not judged here."""
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(120)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def test_dump_benchmark_quick_mode_prints_its_tables():
    done = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "run.py"), "dump", "--quick"],
                          capture_output=True, text=True, timeout=100, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    for text in ("flubber run_dumps", "stdout redirected to the files", "asyncio subprocess pipes",
                 "flubber TheDump", "cat FILE | cat > out", "Bars of issue 7"):
        assert text in done.stdout, "missing %r in:\n%s" % (text, done.stdout)
    assert " NO " not in done.stdout  # every output identical to its source
