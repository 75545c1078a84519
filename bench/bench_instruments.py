"""Instruments benchmark: queries through a node's share against talking to the instrument directly.

Run with ``python bench/run.py instruments`` (``--quick`` for the smoke run).

The instrument is ``flubber simulate scpi`` in its own process, with no reply
delay so that only the software is measured; like a LAN instrument it serves
one connection at a time. The node is ``flubber serve`` in its own process:
it reads the instrument's temperature every 100 ms through its ``address``
and shares it on a TCP port. Load clients are separate processes
(``bench/instruments_client.py``) sending ``ECHO? ID-n`` one at a time and
checking that every reply is their own:

- direct, 1 client: one connection to the simulator;
- through the share, 1 and 8 clients: one connection each to the share;
- direct, 8 clients: the instrument takes one connection at a time, so
  without a share each client connects for each query (the workaround).

Reported: queries/s, median and p99 round trip, mismatched replies, and the
node's CPU time per query served (from ``/proc/PID/stat``).
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from _procs import BenchFailure, child_env, proc_cpu_seconds  # noqa: E402

FULL = {"seconds": 5.0}
QUICK = {"seconds": 0.5}

NODE_FILE = """\
name: bench
tcp: {{host: 127.0.0.1, port: 0}}
instruments:
  - name: temperature
    address: {address}
    query: "MEAS:TEMP?"
    interval: 0.1
    timeout: 5
    share: {{host: 127.0.0.1, port: 0}}
sockets:
  pull: false
"""


def _start(command, pattern, cwd):
    """Start a flubber process; return (process, the first group of *pattern* in its output)."""
    process = subprocess.Popen([sys.executable, "-m", "flubber", *command], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=cwd, env=child_env())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        match = re.search(pattern, line)
        if match:
            return process, match.group(1)
    process.kill()
    raise BenchFailure("flubber %s did not start: %s" % (command[0], process.stderr.read()))


def _stop(process):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def run_clients(port, clients, seconds, reconnect=False):
    """Run *clients* client processes against *port*; return (replies, mismatches, latencies_us, queries/s).

    The rate is the sum of each client's replies over its own running time
    (the processes' start-up is not counted).
    """
    command = [sys.executable, os.path.join(HERE, "instruments_client.py"), str(port)]
    processes = [subprocess.Popen(command + ["c%d" % n, str(seconds)] + (["--reconnect"] if reconnect else []),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for n in range(clients)]
    replies = mismatches = 0
    rate = 0.0
    latencies = []
    for process in processes:
        out, err = process.communicate(timeout=seconds + 120)
        if process.returncode != 0:
            raise BenchFailure("a client failed: %s" % err[-800:])
        result = json.loads(out.strip().splitlines()[-1])
        replies += result["replies"]
        mismatches += result["mismatches"]
        rate += result["replies"] / result["seconds"]
        latencies.extend(result["latencies"])
    return replies, mismatches, sorted(latencies), rate


def _percentile(values, fraction):
    return values[min(len(values) - 1, int(fraction * len(values)))] / 1e3 if values else float("nan")


def main(quick=False):
    """Run the benchmark and print the table and the ratios."""
    cfg = QUICK if quick else FULL
    seconds = cfg["seconds"]
    rows = {}
    with tempfile.TemporaryDirectory(prefix="flubber-bench-instruments-") as folder:
        simulator, address = _start(["simulate", "scpi", "--port", "0", "--delay", "0"],
                                    r"SCPI simulator at (tcp://\S+)", folder)
        try:
            sim_port = int(address.rpartition(":")[2])
            rows["direct, 1 client"] = run_clients(sim_port, 1, seconds)
            rows["direct, 8 clients (connect per query)"] = run_clients(sim_port, 8, seconds, reconnect=True)
            path = os.path.join(folder, "bench.yaml")
            with open(path, "w") as handle:
                handle.write(NODE_FILE.format(address=address))
            node, share_port = _start(["serve", path, "--no-status"], r"share of \S+ on 127\.0\.0\.1:(\d+)", folder)
            try:
                cpu = {}
                for clients in (1, 8):
                    before = proc_cpu_seconds(node.pid)
                    rows["share, %d client%s" % (clients, "s" if clients > 1 else "")] = run_clients(
                        int(share_port), clients, seconds)
                    cpu[clients] = proc_cpu_seconds(node.pid) - before
            finally:
                _stop(node)
        finally:
            _stop(simulator)
    print("%-40s %10s %9s %9s %10s" % ("queries of ECHO? (no reply delay)", "queries/s", "p50 ms", "p99 ms",
                                         "mismatches"))
    rates = {}
    for label, (replies, mismatches, latencies, rate) in rows.items():
        rates[label] = (rate, _percentile(latencies, 0.99))
        print("%-40s %10.0f %9.3f %9.3f %10d" % (label, rate, _percentile(latencies, 0.5),
                                                 _percentile(latencies, 0.99), mismatches))
    print()
    for clients in (1, 8):
        label = "share, %d client%s" % (clients, "s" if clients > 1 else "")
        replies = rows[label][0]
        print("node CPU per query through the share, %d client%s: %.0f us (%.2f CPU s for %d queries)"
              % (clients, "s" if clients > 1 else "", cpu[clients] / max(1, replies) * 1e6, cpu[clients], replies))
    print()
    for what, direct, shared in (("1 client", "direct, 1 client", "share, 1 client"),
                                 ("8 clients", "direct, 8 clients (connect per query)", "share, 8 clients")):
        print("ratio share / direct, %s: queries/s %.2f, p99 %.2f"
              % (what, rates[shared][0] / rates[direct][0], rates[shared][1] / rates[direct][1]))
    lost = sum(row[1] for row in rows.values())
    print("bar: every reply to its own client: %s (%d mismatches)" % ("met" if lost == 0 else "MISSED", lost))


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
