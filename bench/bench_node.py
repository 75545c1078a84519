"""Lab node benchmark: pull requests served while the node logs 1,000 points/s to SQLite.

Run with ``python bench/run.py node`` (``--quick`` for the smoke run).

The node runs as ``flubber serve`` in its own process with ten simulated
instruments read every 10 ms (1,000 readings/s), each set on a KV key, served
on the pull socket and logged into an SQLite file. A client in this process
keeps 8 ``json_wn`` requests outstanding on 8 UDP sockets for the run and
counts replies. Then the node gets SIGTERM; its closing line says how many
readings it took and how many points the logger stored, and the SQLite file
is counted: every reading must be there exactly once.

Bars (issue 8): at least 5,000 pull requests/s while logging 1,000 points/s,
with no point lost.
"""
import os
import re
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

FULL = {"duration": 10.0, "instruments": 10, "interval": 0.01, "window": 8}
QUICK = {"duration": 1.0, "instruments": 10, "interval": 0.01, "window": 8}

NODE_FILE = """\
name: bench
tcp: {{host: 127.0.0.1, port: 0}}
instruments:
{instruments}
sockets:
  pull: {{host: 127.0.0.1, port: 0, timeout: 5}}
logger:
  url: sqlite:///{db}
  table: dateplots_bench
"""

INSTRUMENT = """\
  - name: s{index}
    driver: flubber.instruments.simulated:sine
    args: {{period: {period}}}
    interval: {interval}
"""


def start_node(folder, cfg):
    """Start the node process; return (process, pull_port, db_path)."""
    db = os.path.join(folder, "bench.sqlite")
    instruments = "".join(INSTRUMENT.format(index=i, period=5 + i, interval=cfg["interval"])
                          for i in range(cfg["instruments"]))
    path = os.path.join(folder, "bench.yaml")
    with open(path, "w") as handle:
        handle.write(NODE_FILE.format(instruments=instruments, db=db))
    process = subprocess.Popen([sys.executable, "-m", "flubber", "serve", path, "--no-status"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=folder)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        match = re.search(r"pull socket on UDP port (\d+)", line)
        if match:
            return process, int(match.group(1)), db
    process.kill()
    raise RuntimeError("the node did not start: %s" % process.stderr.read())


def pull_load(port, window, duration):
    """Keep *window* json_wn requests outstanding for *duration* s; return (replies, seconds, bad)."""
    sockets = []
    poller = select.epoll()
    for _ in range(window):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.connect(("127.0.0.1", port))
        sockets.append(sock)
        poller.register(sock.fileno(), select.EPOLLIN)
    by_fd = {sock.fileno(): sock for sock in sockets}
    replies = bad = 0
    started = time.perf_counter()
    end = started + duration
    for sock in sockets:
        sock.send(b"json_wn")
    sent_at = {sock.fileno(): started for sock in sockets}
    while True:
        now = time.perf_counter()
        if now >= end:
            break
        for fd, _ in poller.poll(0.2):
            sock = by_fd[fd]
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                continue
            replies += 1
            if not data.startswith(b"{"):
                bad += 1
            sock.send(b"json_wn")
            sent_at[fd] = now
        for fd, when in sent_at.items():  # a lost datagram: ask again rather than stall
            if now - when > 1.0:
                by_fd[fd].send(b"json_wn")
                sent_at[fd] = now
    elapsed = time.perf_counter() - started
    for sock in sockets:
        sock.close()
    poller.close()
    return replies, elapsed, bad


def main(quick=False):
    """Run the benchmark and print the figures and the bars."""
    cfg = QUICK if quick else FULL
    with tempfile.TemporaryDirectory(prefix="flubber-bench-node-") as folder:
        process, port, db = start_node(folder, cfg)
        try:
            time.sleep(0.5)
            started = time.monotonic()
            replies, elapsed, bad = pull_load(port, cfg["window"], cfg["duration"])
            process.send_signal(signal.SIGTERM)
            output, errors = process.communicate(timeout=60)
            ran = time.monotonic() - started + 0.5
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        match = re.search(r"(\d+) readings, (\d+) points logged, (\d+) not logged", output)
        if match is None:
            raise RuntimeError("no closing line from the node: %s %s" % (output, errors))
        readings, logged, unlogged = (int(group) for group in match.groups())
        database = sqlite3.connect(db)
        stored = database.execute("SELECT COUNT(*) FROM dateplots_bench").fetchone()[0]
        distinct = database.execute(
            "SELECT COUNT(*) FROM (SELECT DISTINCT type, time FROM dateplots_bench)").fetchone()[0]
        database.close()
    rate = replies / elapsed
    points_rate = readings / ran
    print("%-44s %12s" % ("figure", "value"))
    print("%-44s %12.0f" % ("pull requests/s (8 outstanding, json_wn)", rate))
    print("%-44s %12d" % ("malformed replies", bad))
    print("%-44s %12.0f" % ("readings/s taken (10 instruments, 10 ms)", points_rate))
    print("%-44s %12d" % ("readings", readings))
    print("%-44s %12d" % ("points stored in SQLite", stored))
    print("%-44s %12d" % ("duplicates in SQLite", stored - distinct))
    print("%-44s %12d" % ("lost (readings - stored)", readings - stored))
    print()
    print("bar: >= 5,000 pull requests/s while logging ~1,000 points/s: %s (%.0f req/s at %.0f points/s)"
          % ("met" if rate >= 5000 and points_rate >= 900 else "MISSED", rate, points_rate))
    print("bar: no point lost: %s (%d readings, %d stored, %d not logged)"
          % ("met" if stored == readings and unlogged == 0 else "MISSED", readings, stored, unlogged))


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
