"""Web page load: 200 event-stream clients for 20 s on the demo node, while the node keeps serving.

Run with ``python bench/run.py web`` (``--quick`` for the smoke run), or
``python bench/bench_web.py``.

The demo node (``examples/lab.yaml``) runs as ``flubber serve`` with its page
on a free port. This process probes it the whole time, one request every
20 ms each: a ``json_wn`` request to the pull socket (UDP) and a dripline get
of ``setpoint`` over the KV TCP transport; the time of each answer is a
latency sample. First without web clients (baseline), then while a child
process holds 200 ``/api/events`` streams open and reads them, plus one
client that sends its request and never reads. The node's resident memory
(VmRSS) is read every 0.5 s. The figures: latencies while the clients connect and
once they all read (steady), against the baseline (ratios), RSS before, at its peak and after, events each client got,
and what the node's ``/api/status`` says of its web clients (connected, updates
dropped, cut off).

Bars (issue 17): node RSS stays bounded (peak under 2x the baseline and under
+100 MiB); every reading client gets updates all along; the client that stops
reading holds no more than a bounded queue (the node cuts it off once the
kernel's buffers fill and it has taken nothing for ``stall_timeout`` seconds;
tests/web/test_events.py drives that to the end with large updates).
"""
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from _procs import ROOT, child_env, proc_rss_kib, raise_nofile_limit  # noqa: E402

FULL = {"clients": 200, "duration": 20.0, "baseline": 5.0}
QUICK = {"clients": 10, "duration": 2.0, "baseline": 1.0}
PROBE_EVERY = 0.02


def start_node(folder):
    """Start the demo node on free ports; return (process, pull_port, tcp_port, web_url)."""
    command = [sys.executable, "-m", "flubber", "serve", os.path.join(ROOT, "examples", "lab.yaml"),
               "--tcp", "127.0.0.1:0", "--pull-port", "0", "--push-port", "0", "--share-port", "0",
               "--db", "sqlite:///%s" % os.path.join(folder, "lab.sqlite"), "--no-status", "--web", "127.0.0.1:0",
               "--state", os.path.join(folder, "lab.state.json")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=folder,
                               env=child_env())
    found = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(found) < 3:
        line = process.stdout.readline()
        if not line:
            break
        for name, pattern in (("tcp", r"dripline over TCP on 127\.0\.0\.1:(\d+)"),
                              ("pull", r"pull socket on UDP port (\d+)"), ("web", r"web page on (http://\S+)")):
            match = re.search(pattern, line)
            if match:
                found[name] = match.group(1)
    if len(found) < 3:
        process.kill()
        raise RuntimeError("the demo node did not start: %s" % process.stderr.read())
    return process, int(found["pull"]), int(found["tcp"]), found["web"]


class Prober:
    """Blocking probes of the pull socket and the KV TCP transport; latencies in ms."""

    def __init__(self, pull_port, tcp_port):
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.connect(("127.0.0.1", pull_port))
        self.udp.settimeout(2.0)
        self.tcp = socket.create_connection(("127.0.0.1", tcp_port), timeout=5.0)
        self.reader = self.tcp.makefile("rb")
        self.lost = 0

    def pull(self):
        started = time.perf_counter()
        self.udp.send(b"json_wn")
        try:
            data = self.udp.recv(65536)
        except socket.timeout:
            self.lost += 1
            return None
        assert data.startswith(b"{"), data[:80]
        return (time.perf_counter() - started) * 1000

    def kv(self):
        started = time.perf_counter()
        self.tcp.sendall(b'{"msgop": 1, "target": "setpoint"}\n')
        reply = json.loads(self.reader.readline())
        assert reply["retcode"] == 0, reply
        return (time.perf_counter() - started) * 1000

    def run(self, seconds, pid, rss):
        """Probe for *seconds*; return (pull ms, kv ms); append RSS samples (KiB) to *rss*."""
        pulls, kvs = [], []
        end = time.monotonic() + seconds
        next_rss = 0.0
        while time.monotonic() < end:
            value = self.pull()
            if value is not None:
                pulls.append(value)
            kvs.append(self.kv())
            if time.monotonic() >= next_rss:
                rss.append(proc_rss_kib(pid))
                next_rss = time.monotonic() + 0.5
            time.sleep(PROBE_EVERY)
        return pulls, kvs

    def close(self):
        self.reader.close()
        self.tcp.close()
        self.udp.close()


# -- the clients' process ------------------------------------------------------------------

CLIENTS = r'''
import json, socket, sys, time
import gevent, gevent.socket
host, port, count, duration = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
results = []
request = b"GET /api/events HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n"

def client():
    result = {"events": 0, "snapshots": 0, "first": None, "error": None, "bytes": 0}
    results.append(result)
    started = time.monotonic()
    try:
        sock = gevent.socket.create_connection((host, port), timeout=10)
        sock.sendall(request)
        end = started + duration
        tail = b""
        while time.monotonic() < end:
            sock.settimeout(max(0.01, end - time.monotonic()))
            try:
                data = sock.recv(65536)
            except socket.timeout:
                break
            if not data:
                result["error"] = "closed by the node"
                break
            result["bytes"] += len(data)
            text = tail + data
            result["events"] += text.count(b"event: values")
            result["snapshots"] += text.count(b"event: snapshot")
            if result["first"] is None and b"event: snapshot" in text:
                result["first"] = time.monotonic() - started
            tail = text[-20:]
        sock.close()
    except OSError as exc:
        result["error"] = str(exc)

stuck = gevent.socket.socket()
stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
stuck.connect((host, port))
stuck.sendall(request)          # and never reads
greenlets = [gevent.spawn(client) for _ in range(count)]
gevent.joinall(greenlets, timeout=duration + 30)
stuck.close()
print(json.dumps(results))
'''


def percentile(samples, fraction):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def web_status(url):
    with urllib.request.urlopen(url + "api/status", timeout=10) as reply:
        return json.load(reply)["web"]


def main(quick=False):
    """Run the benchmark and print the figures and the bars."""
    cfg = QUICK if quick else FULL
    raise_nofile_limit()
    with tempfile.TemporaryDirectory(prefix="flubber-bench-web-") as folder:
        process, pull_port, tcp_port, url = start_node(folder)
        prober = None
        try:
            prober = Prober(pull_port, tcp_port)
            rss_base, rss_load, rss_after = [], [], []
            base_pull, base_kv = prober.run(cfg["baseline"], process.pid, rss_base)
            host, port = re.match(r"http://([^:/]+):(\d+)/", url).groups()
            clients = subprocess.Popen([sys.executable, "-c", CLIENTS, host, port, str(cfg["clients"]),
                                        str(cfg["duration"])], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True, env=child_env())
            first_pull, first_kv = prober.run(cfg["duration"] / 2, process.pid, rss_load)
            during = web_status(url)
            load_pull, load_kv = prober.run(cfg["duration"] / 2, process.pid, rss_load)
            output, errors = clients.communicate(timeout=cfg["duration"] + 60)
            if clients.returncode != 0:
                raise RuntimeError("the clients failed: %s" % errors)
            results = json.loads(output)
            time.sleep(1.0)
            after = web_status(url)
            prober.run(1.0, process.pid, rss_after)
            lost = prober.lost
        finally:
            if prober is not None:
                prober.close()
            process.terminate()
            process.communicate(timeout=60)
    events = [r["events"] for r in results]
    failed = [r for r in results if r["error"] or r["snapshots"] < 1]
    firsts = [r["first"] for r in results if r["first"] is not None]
    base_rss, peak_rss, end_rss = max(rss_base), max(rss_load), rss_after[-1]
    print("%-36s %10s %12s %12s %8s" % ("latency (ms)", "baseline", "connecting", "steady", "ratio"))
    for label, base, first, load in (("pull socket json_wn", base_pull, first_pull, load_pull),
                                     ("KV get over TCP", base_kv, first_kv, load_kv)):
        for name, fraction in (("p50", 0.5), ("p99", 0.99), ("max", 1.0)):
            b, f, l = (percentile(samples, fraction) for samples in (base, first, load))
            print("%-36s %10.2f %12.2f %12.2f %8.2f" % ("%s %s" % (label, name), b, f, l, l / b))
    print("(connecting: the first half of the run, while the clients connect and get their snapshot;")
    print(" steady: the second half, every client connected and reading; ratio: steady / baseline)")
    print("%-52s %10d" % ("probes (pull + KV)", 2 * (len(base_pull) + len(first_pull) + len(load_pull))))
    print("%-52s %10d" % ("pull datagrams lost", lost))
    print()
    print("%-52s %10s" % ("node", "value"))
    print("%-52s %10.1f" % ("RSS before clients (MiB)", base_rss / 1024))
    print("%-52s %10.1f" % ("RSS peak with clients (MiB)", peak_rss / 1024))
    print("%-52s %10.1f" % ("RSS after clients left (MiB)", end_rss / 1024))
    print("%-52s %10d" % ("event-stream clients the node counted mid-run", during["clients"]))
    print("%-52s %10d" % ("clients connected after the run", after["clients"]))
    print("%-52s %10d" % ("updates dropped for slow clients", after["dropped"]))
    print("%-52s %10d" % ("clients cut off for not reading", after["cut_off"]))
    print()
    print("%-52s %10s" % ("clients (%d reading + 1 that never reads)" % len(results), "value"))
    print("%-52s %10d" % ("reading clients that failed or got no snapshot", len(failed)))
    print("%-52s %10.3f" % ("first snapshot after connect, median (s)", statistics.median(firsts) if firsts else -1))
    print("%-52s %10.3f" % ("first snapshot after connect, max (s)", max(firsts) if firsts else -1))
    print("%-52s %10d" % ("'values' events per client, min", min(events)))
    print("%-52s %10d" % ("'values' events per client, median", statistics.median(events)))
    print()
    bounded = peak_rss < 2 * base_rss and peak_rss - base_rss < 100 * 1024
    print("bar: node RSS bounded (peak < 2x baseline and < +100 MiB): %s (%.1f -> %.1f MiB)"
          % ("met" if bounded else "MISSED", base_rss / 1024, peak_rss / 1024))
    expected = int(cfg["duration"] / 0.5 * 0.5)
    print("bar: every reading client got updates all along (>= %d each): %s (min %d, %d failed)"
          % (expected, "met" if min(events) >= expected and not failed else "MISSED", min(events), len(failed)))


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
