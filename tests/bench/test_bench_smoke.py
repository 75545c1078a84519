"""The benchmarks still run: ``bench/run.py NAME --quick`` (no timing asserts)."""
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(150)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _quick_run(name):
    """Run ``bench/run.py NAME --quick``; return what it printed (failing the test when it fails)."""
    done = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "run.py"), name, "--quick"],
                          capture_output=True, timeout=120, cwd=ROOT)
    output = done.stdout.decode("utf-8", "replace")
    assert done.returncode == 0, output + done.stderr.decode("utf-8", "replace")
    return output


def test_io_benchmark_quick_run_prints_its_tables():
    output = _quick_run("io")
    for header in ("req/s @1", "req/s @50", "bulk MB/s", "flubber / peer", "KiB/conn",
                   "read_until ms", "bars of issue 3", "targets of issue 21"):
        assert header in output, "missing %r in:\n%s" % (header, output)
    for implementation in ("flubber TCPServer", "raw gevent", "gevent, 1 send/chunk", "asyncio streams",
                           "uvloop streams", "threads (socketserver)"):
        assert implementation in output


@pytest.mark.slow
def test_web_benchmark_quick_run_prints_latencies_rss_and_the_bars():
    output = _quick_run("web")
    for line in ("pull socket json_wn p99", "KV get over TCP p99", "RSS peak with clients (MiB)",
                 "event-stream clients the node counted mid-run", "bar: node RSS bounded",
                 "bar: every reading client got updates all along"):
        assert line in output, "missing %r in:\n%s" % (line, output)
    assert "failed or got no snapshot                0" in output


def test_every_benchmark_has_its_saved_results_on_the_benchmarks_page():
    names = sorted(name[len("bench_"):-len(".py")] for name in os.listdir(os.path.join(ROOT, "bench"))
                   if name.startswith("bench_") and name.endswith(".py"))
    with open(os.path.join(ROOT, "docs", "benchmarks.rst"), encoding="utf-8") as handle:
        page = handle.read()
    assert names, "no bench/bench_*.py found"
    for name in names:
        saved = os.path.join(ROOT, "docs", "bench", name + ".txt")
        assert os.path.isfile(saved), "run: python bench/run.py %s --save docs/bench" % name
        with open(saved, encoding="utf-8") as handle:
            first = handle.readline()
        assert first.startswith("# python bench/run.py %s," % name), first
        assert ".. literalinclude:: bench/%s.txt" % name in page, "docs/benchmarks.rst does not show %s" % name


def test_run_py_save_writes_a_headed_file_per_benchmark(tmp_path):
    done = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "run.py"), "node", "--quick",
                           "--save", str(tmp_path)], capture_output=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    text = (tmp_path / "node.txt").read_text(encoding="utf-8")
    assert text.startswith("# python bench/run.py node, ")
    assert "pull requests/s" in text and "bar: no point lost" in text
