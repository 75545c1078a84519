"""Fleet: N nodes on one RabbitMQ and one MariaDB, and what each figure costs as N grows.

Run with ``python bench/run.py fleet`` (``--quick`` for the smoke run: two
nodes, no restarts); ``--save docs/bench`` also draws ``fleet.png``.

For each N (10, 25, 50): ``flubber fleet make`` writes N node files (10 KV
keys and 2 sine instruments read at 10 Hz each, logging into one MariaDB
table, answering dripline on the broker) and ``flubber fleet up`` runs them,
one ``flubber serve`` process each. Measured, in this order:

- start: seconds until all N answer a broadcast ping;
- idle (no requests; instruments and logging go on): RSS and CPU of each
  node, points/s stored in the shared table against the points/s the
  instruments make, CPU of ``mariadbd`` and of the broker (``beam.smp``),
  all from ``/proc``;
- load: one client process (``bench/fleet_client.py``) sends dripline gets
  to random nodes' keys over the broker, one at a time (round trip p50/p99)
  and then 8 in flight (gets/s);
- ``flubber nodes`` (the broadcast ping) against the N nodes;
- broker restart: ``rabbitmqctl stop_app``, one ``flubber get`` meanwhile
  (it must fail at once, "broker unreachable"), ``start_app`` (always, in a
  finally), then the seconds until all N answer again;
- at the largest N, one MariaDB restart (SIGTERM to ``mariadbd``, started
  again with ``scripts/services.sh`` as the test setup does, always, in a
  finally);
- ``flubber fleet down`` (every node drains its logger), then the books:
  readings the nodes made against rows stored per node (lost), numbers
  missing per origin, rows stored twice.

Every wait is bounded; the table is dropped at the end.
"""
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from _procs import ROOT, BenchFailure, child_env, proc_cpu_seconds, proc_rss_kib, raise_nofile_limit  # noqa: E402

if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from flubber.fleet import make_fleet, read_state, wait_for_nodes  # noqa: E402
from flubber.plot import origin_stats  # noqa: E402

BROKER = "amqp://guest:guest@127.0.0.1:5672/%2F"
DB = "mysql://root@127.0.0.1:3306/test"
TABLE = "dateplots_benchfleet"

FULL = {"sizes": [10, 25, 50], "keys": 10, "instruments": 2, "rate": 10.0, "settle": 5.0, "idle": 15.0,
        "load": 10.0, "in_flight": 8, "restarts": True, "start_timeout": 300.0}
QUICK = {"sizes": [2], "keys": 2, "instruments": 1, "rate": 5.0, "settle": 1.0, "idle": 2.0, "load": 1.5,
         "in_flight": 4, "restarts": False, "start_timeout": 120.0}


# -- processes and services -----------------------------------------------------------------

def find_pid(*names):
    """Return the pid of the first process whose name (``/proc/PID/comm``) is one of *names*, or None."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/comm" % entry, encoding="ascii", errors="replace") as handle:
                    if handle.read().strip() in names:
                        return int(entry)
            except OSError:
                continue
    return None


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def flubber(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "flubber", *args], capture_output=True, text=True,
                          timeout=timeout, env=child_env())


def cpu_or_none(pid):
    try:
        return proc_cpu_seconds(pid) if pid else None
    except OSError:
        return None


def ensure_mariadb():
    """Start MariaDB with scripts/services.sh when it does not listen; return True when it does."""
    if port_open(3306):
        return True
    subprocess.run(["bash", os.path.join(ROOT, "scripts", "services.sh")], capture_output=True, timeout=120)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not port_open(3306):
        time.sleep(0.25)
    return port_open(3306)


def restart_mariadb():
    """Stop mariadbd (SIGTERM, wait for it), start it with scripts/services.sh; return seconds it was away."""
    pid = find_pid("mariadbd", "mysqld")
    if pid is None:
        raise BenchFailure("no mariadbd process to restart")
    started = time.monotonic()
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 90
        while os.path.exists("/proc/%d" % pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if os.path.exists("/proc/%d" % pid):
            raise BenchFailure("mariadbd %d did not stop within 90 s" % pid)
    finally:
        if not ensure_mariadb():
            raise BenchFailure("MariaDB did not come back on 127.0.0.1:3306; run scripts/services.sh")
    return time.monotonic() - started


def restart_broker(rabbitmqctl, probe_target):
    """``stop_app``, one get during the outage, ``start_app`` (always); return (probe result, seconds away)."""
    started = time.monotonic()
    probe = None
    try:
        stopped = subprocess.run([rabbitmqctl, "stop_app"], capture_output=True, text=True, timeout=120)
        if stopped.returncode != 0:
            raise BenchFailure("rabbitmqctl stop_app failed: %s" % stopped.stderr.strip())
        began = time.monotonic()
        during = flubber("get", probe_target, "--broker", BROKER, "--timeout", "10")
        probe = {"seconds": time.monotonic() - began, "status": during.returncode,
                 "message": during.stderr.strip().splitlines()[-1] if during.stderr.strip() else ""}
        from flubber.kvstore import AMQPKVClient, KVStoreError

        client = AMQPKVClient(BROKER, timeout=10)
        began = time.monotonic()
        try:
            client.get(probe_target)
            probe["in_process"] = None
        except KVStoreError as exc:
            probe["in_process"] = (time.monotonic() - began, type(exc).__name__)
        finally:
            client.close()
    finally:
        restarted = subprocess.run([rabbitmqctl, "start_app"], capture_output=True, text=True, timeout=300)
    if restarted.returncode != 0:
        raise BenchFailure("rabbitmqctl start_app failed: %s" % restarted.stderr.strip())
    return probe, time.monotonic() - started


def services_cpu(seconds):
    """CPU of mariadbd and of the broker over *seconds* (% of a core each)."""
    pids = find_pid("mariadbd", "mysqld"), find_pid("beam.smp")
    before = [cpu_or_none(pid) for pid in pids]
    began = time.monotonic()
    time.sleep(seconds)
    after = [cpu_or_none(pid) for pid in pids]
    window = time.monotonic() - began
    return tuple(100 * (b - a) / window if a is not None and b is not None else float("nan")
                 for a, b in zip(before, after))


def established(port):
    """TCP connections established to local *port* (the server's side), from /proc/net/tcp and tcp6."""
    count = 0
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name, encoding="ascii") as handle:
                next(handle)
                for line in handle:
                    fields = line.split()
                    if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        count += 1
        except OSError:
            continue
    return count


def db_row(sql):
    """Run *sql* on the test database (a new connection each time) and return its first row."""
    import MySQLdb

    connection = MySQLdb.connect(host="127.0.0.1", port=3306, user="root", database="test", connect_timeout=10)
    try:
        cursor = connection.cursor()
        cursor.execute(sql)
        return cursor.fetchone()
    finally:
        connection.close()


def max_id():
    return int(db_row("SELECT COALESCE(MAX(id), 0) FROM `%s`" % TABLE)[0])


def db_inserts():
    """MariaDB's count of INSERT statements since it started (all clients)."""
    return int(db_row("SHOW GLOBAL STATUS LIKE 'Com_insert'")[1])


def drop_table():
    db_row("DROP TABLE IF EXISTS `%s`" % TABLE)


def percentile(samples, fraction):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def run_client(names, cfg, in_flight):
    done = subprocess.run([sys.executable, os.path.join(HERE, "fleet_client.py"), BROKER, str(cfg["load"]),
                           str(in_flight), ",".join(names), str(cfg["keys"])], capture_output=True, text=True,
                          timeout=cfg["load"] + 120, env=child_env())
    if done.returncode != 0:
        raise BenchFailure("the fleet client failed: %s" % done.stderr[-2000:])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    micro = result["latencies"]
    return {"p50": percentile(micro, 0.5) / 1000, "p99": percentile(micro, 0.99) / 1000,
            "rate": result["replies"] / result["seconds"], "errors": result["errors"],
            "first_errors": result["first_errors"], "replies": result["replies"]}


# -- one fleet --------------------------------------------------------------------------------

def measure(n, cfg, folder, rabbitmqctl, restart_db):
    """Run a fleet of *n* nodes through every step; return its figures (a dict)."""
    prefix = "bf%s%02d_" % (uuid.uuid4().hex[:4], n)
    names = ["%s%02d" % (prefix, index) for index in range(1, n + 1)]
    make_fleet(folder, n, broker=BROKER, db=DB, keys=cfg["keys"], instruments=cfg["instruments"], rate=cfg["rate"],
               tcp_base=0, pull_base=0, table=TABLE, prefix=prefix)
    figures = {"n": n}
    began = time.monotonic()
    up = flubber("fleet", "up", folder, "--detach", "--grace", "60")
    if up.returncode != 0:
        raise BenchFailure("fleet up failed: %s" % up.stderr)
    try:
        _, _ = wait_for_nodes(BROKER, n, timeout=cfg["start_timeout"], names=names)
        figures["start"] = time.monotonic() - began
        time.sleep(cfg["settle"])
        pids = [node["pid"] for node in read_state(folder)["nodes"]]
        db_pid, broker_pid = find_pid("mariadbd", "mysqld"), find_pid("beam.smp")
        cpu0 = [cpu_or_none(pid) for pid in pids]
        inserts0 = db_inserts()
        db0, broker0, rows0, t0 = cpu_or_none(db_pid), cpu_or_none(broker_pid), max_id(), time.monotonic()
        time.sleep(cfg["idle"])
        cpu1 = [cpu_or_none(pid) for pid in pids]
        db1, broker1, rows1, t1 = cpu_or_none(db_pid), cpu_or_none(broker_pid), max_id(), time.monotonic()
        inserts1 = db_inserts()
        window = t1 - t0
        used = [b - a for a, b in zip(cpu0, cpu1) if a is not None and b is not None]
        rss = [proc_rss_kib(pid) / 1024 for pid in pids]
        figures.update({
            "node_cpu": 100 * statistics.mean(used) / window, "node_rss": statistics.mean(rss),
            "node_rss_max": max(rss), "stored": (rows1 - rows0) / window,
            "inserts": (inserts1 - inserts0) / window,
            "made": n * cfg["instruments"] * cfg["rate"],
            "db_cpu": 100 * (db1 - db0) / window if db0 is not None and db1 is not None else float("nan"),
            "broker_cpu": 100 * (broker1 - broker0) / window if broker0 is not None and broker1 is not None
            else float("nan")})
        one = run_client(names, cfg, 1)
        many = run_client(names, cfg, cfg["in_flight"])
        figures.update({"get_p50": one["p50"], "get_p99": one["p99"], "gets_1": one["rate"],
                        "gets_many": many["rate"], "many_p50": many["p50"], "many_p99": many["p99"],
                        "get_errors": one["errors"] + many["errors"],
                        "first_errors": one["first_errors"] + many["first_errors"]})
        began = time.monotonic()
        figures["broker_connections"] = established(5672)
        figures["db_connections"] = established(3306)
        figures["broker_rss"] = proc_rss_kib(broker_pid) / 1024 if broker_pid else float("nan")
        # no --expect: other jobs may run nodes on this broker too, and their replies would count
        listing = flubber("nodes", "--broker", BROKER, "--timeout", "5")
        figures["nodes_seconds"] = time.monotonic() - began
        figures["nodes_listed"] = sum(1 for line in listing.stdout.splitlines()
                                      if line.split(" ", 1)[0] in names)
        figures["nodes_output"] = listing.stdout + listing.stderr
        if rabbitmqctl:
            probe, away = restart_broker(rabbitmqctl, names[0] + ".kv.key01")
            back = time.monotonic()
            wait_for_nodes(BROKER, n, timeout=180, names=names)
            figures.update({"broker_back": time.monotonic() - back, "broker_away": away, "probe": probe})
        if restart_db:
            figures["db_away"] = restart_mariadb()
            time.sleep(cfg["settle"])
        gets_after = run_client(names, dict(cfg, load=1.0), 1)
        figures["gets_after_errors"] = gets_after["errors"]
    finally:
        began = time.monotonic()
        down = flubber("fleet", "down", folder, "--timeout", "180", timeout=240)
        figures["stop"] = time.monotonic() - began
        if down.returncode != 0:
            print("fleet down: %s" % down.stderr.strip())
    return dict(figures, **books(folder, names, prefix))


def books(folder, names, prefix):
    """Readings made against rows stored, per node, from the node logs and the table."""
    readings = logged = unlogged = restarts = 0
    unclean = []
    for name in names:
        with open(os.path.join(folder, "logs", name + ".log"), encoding="utf-8", errors="replace") as handle:
            text = handle.read()
        lines = re.findall(r"stopped: (\d+) readings, (\d+) points logged, (\d+) not logged", text)
        if len(lines) != text.count("---- "):
            unclean.append(name)
        for made, stored, left in lines:
            readings, logged, unlogged = readings + int(made), logged + int(stored), unlogged + int(left)
        restarts += text.count("---- ") - 1
    stats = origin_stats(DB, TABLE)
    mine = [origin for origin in stats["origins"] if origin["codenames"] and origin["codenames"][0].startswith(prefix)]
    rows = sum(origin["points"] for origin in mine)
    return {"readings": readings, "logged": logged, "unlogged": unlogged, "rows": rows, "lost": readings - rows,
            "missing": sum(origin["missing"] for origin in mine), "repeated": stats["repeated"],
            "origins": len(mine), "restarts": restarts, "unclean": unclean}


# -- report -----------------------------------------------------------------------------------

ROWS = [
    ("start: all N answer a ping (s)", "start", "%.1f"),
    ("node RSS, mean (MiB)", "node_rss", "%.1f"),
    ("node RSS, max (MiB)", "node_rss_max", "%.1f"),
    ("node CPU, idle with its instruments (% of a core)", "node_cpu", "%.2f"),
    ("points/s made by the instruments", "made", "%.0f"),
    ("points/s stored in the shared table", "stored", "%.0f"),
    ("INSERT statements/s into MariaDB (all jobs)", "inserts", "%.0f"),
    ("mariadbd CPU (% of a core)", "db_cpu", "%.1f"),
    ("broker (beam.smp) CPU, idle fleet (% of a core)", "broker_cpu", "%.1f"),
    ("get over the broker, 1 in flight, p50 (ms)", "get_p50", "%.2f"),
    ("get over the broker, 1 in flight, p99 (ms)", "get_p99", "%.2f"),
    ("gets/s, 1 in flight", "gets_1", "%.0f"),
    ("gets/s, 8 in flight", "gets_many", "%.0f"),
    ("get, 8 in flight, p99 (ms)", "many_p99", "%.2f"),
    ("get errors", "get_errors", "%d"),
    ("connections to the broker (all jobs)", "broker_connections", "%d"),
    ("connections to MariaDB (all jobs)", "db_connections", "%d"),
    ("broker (beam.smp) RSS (MiB)", "broker_rss", "%.0f"),
    ("flubber nodes: nodes listed", "nodes_listed", "%d"),
    ("flubber nodes: command run time (s)", "nodes_seconds", "%.2f"),
    ("broker restart: stop_app..start_app done (s)", "broker_away", "%.1f"),
    ("broker restart: all N answer again after start_app (s)", "broker_back", "%.1f"),
    ("MariaDB restart: away (s)", "db_away", "%.1f"),
    ("gets failing after the restarts", "gets_after_errors", "%d"),
    ("fleet down (s)", "stop", "%.1f"),
    ("readings made (all nodes)", "readings", "%d"),
    ("rows stored for them", "rows", "%d"),
    ("points lost (readings - rows)", "lost", "%d"),
    ("numbers missing in (origin, seq)", "missing", "%d"),
    ("rows stored twice", "repeated", "%d"),
    ("nodes restarted by the supervisor", "restarts", "%d"),
]


def report(results):
    print("%-56s" % "N nodes" + "".join("%10d" % r["n"] for r in results))
    for label, key, fmt in ROWS:
        cells = []
        for r in results:
            value = r.get(key)
            cells.append("%10s" % ("-" if value is None or value != value else fmt % value))
        print("%-56s" % label + "".join(cells))
    print()
    first, last = results[0], results[-1]
    if len(results) > 1:
        grow = last["n"] / first["n"]
        print("from N=%d to N=%d (x%.1f nodes):" % (first["n"], last["n"], grow))
        for label, key in (("get p50", "get_p50"), ("get p99", "get_p99"), ("gets/s (8 in flight)", "gets_many"),
                           ("points/s stored", "stored"), ("mariadbd CPU", "db_cpu"), ("node RSS", "node_rss"),
                           ("broker RSS", "broker_rss"),
                           ("node CPU", "node_cpu"), ("broker back after restart", "broker_back")):
            if first.get(key) and last.get(key):
                print("  %-28s x%.2f" % (label, last[key] / first[key]))
        print()
    for r in results:
        if r.get("probe"):
            print("N=%d, get during the broker outage: exit %d after %.2f s (the command, Python start included): %s"
                  % (r["n"], r["probe"]["status"], r["probe"]["seconds"], r["probe"]["message"]))
            if r["probe"].get("in_process"):
                print("N=%d, AMQPKVClient.get during the outage raised %s after %.1f ms"
                      % (r["n"], r["probe"]["in_process"][1], 1000 * r["probe"]["in_process"][0]))
        if r.get("first_errors"):
            print("N=%d, first get errors: %s" % (r["n"], "; ".join(r["first_errors"])))
        if r.get("unclean"):
            print("N=%d, nodes without a clean stop line: %s" % (r["n"], ", ".join(r["unclean"])))
    print()
    print("flubber nodes --broker URL with N=%d running:" % last["n"])
    print(last.get("nodes_output", "").rstrip())
    print()
    books_ok = all(r.get("lost") == 0 and r.get("missing") == 0 and r.get("repeated") == 0 for r in results)
    print("bar: 0 points lost, 0 missing, 0 stored twice across the restarts: %s"
          % ("met" if books_ok else "MISSED"))
    listed = all(r.get("nodes_listed") == r["n"] for r in results)
    print("bar: flubber nodes lists all N running nodes: %s" % ("met" if listed else "MISSED"))
    back = all(r.get("broker_back") is not None for r in results)
    print("bar: all N answer again after a broker restart: %s" % ("met" if back else "not measured (quick)"))


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = [r["n"] for r in results]
    figure, axes = plt.subplots(2, 2, figsize=(11, 7.5), dpi=100)
    panels = [
        (axes[0][0], "get round trip over the broker (ms)", [("p50, 1 in flight", "get_p50"),
                                                              ("p99, 1 in flight", "get_p99"),
                                                              ("p99, 8 in flight", "many_p99")]),
        (axes[0][1], "per second", [("gets/s, 8 in flight", "gets_many"), ("gets/s, 1 in flight", "gets_1"),
                                    ("points/s stored", "stored")]),
        (axes[1][0], "% of a core", [("mariadbd CPU", "db_cpu"), ("broker CPU (idle fleet)", "broker_cpu"),
                                     ("CPU per idle node", "node_cpu")]),
        (axes[1][1], "seconds / MiB", [("all N answer after broker start_app (s)", "broker_back"),
                                       ("start: all N answer (s)", "start"), ("RSS per node (MiB)", "node_rss")]),
    ]
    for axis, title, lines in panels:
        for label, key in lines:
            values = [r.get(key) for r in results]
            if all(value is not None for value in values):
                axis.plot(ns, values, marker="o", label=label)
        axis.set_title(title)
        axis.set_xlabel("nodes (N)")
        axis.set_xticks(ns)
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle("flubber fleet on one RabbitMQ and one MariaDB (2 CPUs, everything on one machine)")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def main(quick=False, save=None, sizes=None):
    """Run the benchmark and print the figures and the bars; with *save*, draw ``SAVE/fleet.png``.

    *sizes* replaces the fleet sizes (``python bench/bench_fleet.py --sizes 5,10`` for a trial).
    """
    cfg = dict(QUICK if quick else FULL)
    if sizes:
        cfg["sizes"] = list(sizes)
    raise_nofile_limit()
    if not port_open(5672) or not port_open(3306):
        raise BenchFailure("the fleet benchmark needs RabbitMQ on 5672 and MariaDB on 3306: run scripts/services.sh")
    rabbitmqctl = shutil.which("rabbitmqctl") if cfg["restarts"] else None
    if cfg["restarts"] and rabbitmqctl is None:
        print("rabbitmqctl is not installed: the broker restarts are left out")
    results = []
    try:
        drop_table()
        baseline = services_cpu(cfg["settle"])
        broker_pid = find_pid("beam.smp")
        print("with no fleet running (other jobs on this machine): mariadbd %.1f %%, broker %.1f %% of a core; "
              "%d connections to the broker, %d to MariaDB; broker RSS %.0f MiB\n"
              % (baseline + (established(5672), established(3306),
                             proc_rss_kib(broker_pid) / 1024 if broker_pid else float("nan"))))
        for n in cfg["sizes"]:
            with tempfile.TemporaryDirectory(prefix="flubber-bench-fleet-") as folder:
                restart_db = cfg["restarts"] and n == cfg["sizes"][-1]
                results.append(measure(n, cfg, folder, rabbitmqctl, restart_db))
    finally:
        ensure_mariadb()
        if rabbitmqctl and not port_open(5672):
            subprocess.run([rabbitmqctl, "start_app"], capture_output=True, timeout=300)
        try:
            drop_table()
        except Exception as exc:  # the figures matter more than the clean-up
            print("could not drop %s: %s" % (TABLE, exc))
    report(results)
    if save:
        os.makedirs(save, exist_ok=True)
        print("plot: %s" % plot(results, os.path.join(save, "fleet.png")))


if __name__ == "__main__":
    _sizes = [int(text) for text in sys.argv[sys.argv.index("--sizes") + 1].split(",")] \
        if "--sizes" in sys.argv else None
    main(quick="--quick" in sys.argv, sizes=_sizes)
