"""flubber.loggers benchmark: points/s into MariaDB, and three outages in one run.

Run with ``python bench/run.py loggers`` (``--quick`` for the smoke run).
Needs the MariaDB server on 127.0.0.1:3306 (root, empty password, database
``test``); without it the benchmark says so and returns.

1. **Throughput into one InnoDB table** (made by
   :func:`flubber.loggers.create_tables`: ``TIMESTAMP(6)``, unique key on
   ``(origin, seq)``, key on ``(type, time)``), all peers in the same run,
   alternated over the rounds, medians reported:

   * ``ContinuousLogger`` -- a greenlet enqueues unix-time points as fast as
     it can (yielding every 1,000); timed from the first enqueue until the
     last point is committed (``flush()``). Also with an on-disk spool.
   * raw ``executemany`` -- mysqlclient, 1,000 rows per call and COMMIT,
     the plain ``VALUES (%s, ...)`` form that mysqlclient turns into one
     multi-row INSERT; times converted from unix time to ``datetime`` in
     the loop (the logger gets unix times too); same columns.
   * one INSERT + COMMIT per point -- PyExpLabSys' pattern, ``VALUES (%s,
     FROM_UNIXTIME(%s), %s)``, bounded in time.
   * the server alone: the logger's own 2,000-row statements rendered before
     the clock starts, executed back to back -- the most one connection can
     take, so the logger's figure can be read against the machine.
   * for reference, the logger into SQLite against raw sqlite3
     ``executemany`` of 1,000 rows.

2. **Three outages, one run.** A logger sends points through a fault proxy
   (tests/loggers/faultproxy.py) while the run suffers, at 20 %, 50 % and
   80 % of the points written: a ``KILL CONNECTION`` with a batch in flight,
   the server unreachable for a second (connections reset, new ones
   refused), and a batch whose reply is lost after the server committed it
   (the autocommitted INSERT on a flubber table, the COMMIT on an old one).
   Then every value is counted: sent, stored, distinct, duplicates, missing,
   out of order. Once on a flubber table, once on a PyExpLabSys-style table
   without the unique key.

It ends with the issue's bars, each marked met or missed with its figure.
"""
import datetime
import os
import random
import resource
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid

import gevent

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for _path in (ROOT, HERE):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from _procs import proc_cpu_seconds  # noqa: E402
from flubber.loggers import ContinuousLogger, create_tables  # noqa: E402

HOST, PORT = "127.0.0.1", 3306
URL = "mysql://root:@127.0.0.1:3306/test"
T0 = 1700000000.0
EPOCH = datetime.datetime(1970, 1, 1)

FULL = {"rounds": 3, "points": 300_000, "sqlite_points": 300_000, "per_point_seconds": 3.0,
        "outage_points": 200_000}
QUICK = {"rounds": 1, "points": 5_000, "sqlite_points": 5_000, "per_point_seconds": 0.2,
         "outage_points": 6_000}

LEGACY_TABLE = (
    "CREATE TABLE `{table}` (`id` INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, "
    "`time` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, `type` SMALLINT UNSIGNED NOT NULL, "
    "`value` DOUBLE NULL) ENGINE=InnoDB")


def _mariadb_up():
    try:
        with socket.create_connection((HOST, PORT), timeout=1.0):
            return True
    except OSError:
        return False


def _connect():
    import MySQLdb
    conn = MySQLdb.connect(host=HOST, port=PORT, user="root", password="", database="test", autocommit=False)
    cursor = conn.cursor()
    cursor.execute("SET time_zone = '+00:00'")
    cursor.close()
    return conn


def _sql(conn, query, args=None):
    cursor = conn.cursor()
    try:
        cursor.execute(query, args)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    conn.commit()
    return rows


class Setup:
    """A bench table and codenames in ``test``; :meth:`drop` removes them."""

    def __init__(self, admin, layout="flubber"):
        self.admin = admin
        name = "flubber_bench_" + uuid.uuid4().hex[:8]
        self.table = "dateplots_" + name
        self.codenames = [name + "_a", name + "_b"]
        if layout == "legacy":
            _sql(admin, LEGACY_TABLE.format(table=self.table))
        self.ids = create_tables(self.table, self.codenames, url=URL)

    def drop(self):
        _sql(self.admin, "DROP TABLE IF EXISTS `%s`" % self.table)
        _sql(self.admin, "DELETE FROM `dateplots_descriptions` WHERE `codename` IN (%s, %s)",
             tuple(self.codenames))


# -- measuring ------------------------------------------------------------------
def _server_pid():
    """The MariaDB server's pid, when this machine runs it (for its CPU time)."""
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/comm" % name) as handle:
                    if handle.read().strip() in ("mariadbd", "mysqld"):
                        return int(name)
            except OSError:
                continue
    return None


def _cpu_seconds(pid):
    """(this process, the server) CPU seconds so far (server None if unknown)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    server = None
    if pid is not None:
        try:
            server = proc_cpu_seconds(pid)
        except OSError:
            server = None
    return usage.ru_utime + usage.ru_stime, server


def measure(run, server_pid):
    """Run *run* (returns points, seconds); return points/s and CPU us per point."""
    client0, server0 = _cpu_seconds(server_pid)
    points, elapsed = run()
    client1, server1 = _cpu_seconds(server_pid)
    return {"rate": points / elapsed, "client_us": (client1 - client0) / points * 1e6,
            "server_us": None if server0 is None or server1 is None else (server1 - server0) / points * 1e6}


# -- peers --------------------------------------------------------------------
def run_logger(setup, points, spool_dir=None):
    """Points/s through ContinuousLogger (optionally with a spool)."""
    kwargs = {}
    if spool_dir is not None:
        kwargs["spool"] = os.path.join(spool_dir, "bench-%s.spool" % uuid.uuid4().hex[:6])
    logger = ContinuousLogger(setup.table, "root", "", setup.codenames, url=URL, **kwargs).start()
    name_a, name_b = setup.codenames
    started = time.perf_counter()
    for first in range(0, points, 1000):
        for i in range(first, min(first + 1000, points)):
            logger.enqueue_point(name_a if i & 1 else name_b, (T0 + i * 1e-4, i * 0.5))
        gevent.sleep(0)
    left = logger.flush(timeout=600)
    elapsed = time.perf_counter() - started
    logger.stop()
    if spool_dir is not None:
        os.remove(kwargs["spool"])
    assert left == 0, "%d points not written" % left
    return points, elapsed


def run_executemany(setup, points, batch=1000):
    """Points/s of raw mysqlclient executemany, *batch* rows per call and commit."""
    conn = _connect()
    cursor = conn.cursor()
    type_a, type_b = (setup.ids[name] for name in setup.codenames)
    origin = random.getrandbits(62)
    query = "INSERT INTO `%s` (`type`, `time`, `value`, `origin`, `seq`) VALUES (%%s, %%s, %%s, %%s, %%s)" % setup.table
    started = time.perf_counter()
    for first in range(0, points, batch):
        rows = [(type_a if i & 1 else type_b, EPOCH + datetime.timedelta(seconds=T0 + i * 1e-4), i * 0.5,
                 origin, i) for i in range(first, min(first + batch, points))]
        cursor.executemany(query, rows)
        conn.commit()
    elapsed = time.perf_counter() - started
    conn.close()
    return points, elapsed


def run_ceiling(setup, points, batch=2000):
    """Points/s of MariaDB alone: the logger's own statements, rendered before
    the clock starts, executed back to back on one autocommitting connection
    -- what one connection can take at best."""
    from flubber.loggers._backend import TableLayout
    from flubber.loggers.mysql import MySQLBackend
    from flubber.loggers._settings import parse_url
    backend = MySQLBackend(parse_url(URL), setup.table)
    backend.types = dict(setup.ids)
    backend.layout = TableLayout(True, "utc_text")
    backend.origin = random.getrandbits(62)
    backend._prefix = ("INSERT INTO `%s` (`type`,`time`,`value`,`origin`,`seq`) VALUES " % setup.table)
    name_a, name_b = setup.codenames
    statements = [backend.render([(i, name_a if i & 1 else name_b, T0 + i * 1e-4, i * 0.5)
                                  for i in range(first, min(first + batch, points))])
                  for first in range(0, points, batch)]
    conn = _connect()
    conn.autocommit(True)
    cursor = conn.cursor()
    started = time.perf_counter()
    for statement in statements:
        cursor.execute(statement)
    elapsed = time.perf_counter() - started
    conn.close()
    return points, elapsed


def run_per_point(setup, seconds):
    """Points/s of one INSERT + COMMIT per point (PyExpLabSys), for *seconds*."""
    conn = _connect()
    cursor = conn.cursor()
    type_a, type_b = (setup.ids[name] for name in setup.codenames)
    query = "INSERT INTO `%s` (`type`, `time`, `value`) VALUES (%%s, FROM_UNIXTIME(%%s), %%s)" % setup.table
    started = time.perf_counter()
    count = 0
    while time.perf_counter() - started < seconds:
        cursor.execute(query, (type_a if count & 1 else type_b, T0 + count * 1e-4, count * 0.5))
        conn.commit()
        count += 1
    elapsed = time.perf_counter() - started
    conn.close()
    return count, elapsed


def run_sqlite_logger(path, table, codenames, points):
    logger = ContinuousLogger(table, None, None, codenames, sqlite_path=path).start()
    started = time.perf_counter()
    for first in range(0, points, 1000):
        for i in range(first, min(first + 1000, points)):
            logger.enqueue_point(codenames[i & 1], (T0 + i * 1e-4, i * 0.5))
        gevent.sleep(0)
    left = logger.flush(timeout=600)
    elapsed = time.perf_counter() - started
    logger.stop()
    assert left == 0
    return points, elapsed


def run_sqlite_executemany(path, table, ids, points, batch=1000):
    conn = sqlite3.connect(path)
    from flubber.loggers._batch import UTCText
    text = UTCText()
    origin = random.getrandbits(62)
    query = "INSERT INTO %s (type, time, value, origin, seq) VALUES (?, ?, ?, ?, ?)" % table
    started = time.perf_counter()
    for first in range(0, points, batch):
        conn.executemany(query, [(ids[i & 1], text(T0 + i * 1e-4), i * 0.5, origin, i)
                                 for i in range(first, min(first + batch, points))])
        conn.commit()
    elapsed = time.perf_counter() - started
    conn.close()
    return points, elapsed


# -- outages --------------------------------------------------------------------
def outage_run(admin, points, layout):
    """Send *points* through a fault proxy with three outages; count the result."""
    from tests.loggers.faultproxy import FaultProxy
    setup = Setup(admin, layout)
    proxy = FaultProxy.launch((HOST, PORT))
    url = "mysql://root:@127.0.0.1:%d/test" % proxy.port
    logger = ContinuousLogger(setup.table, "root", "", setup.codenames, url=url, query_timeout=2,
                              connect_timeout=2, max_backoff=0.5, max_batch=max(100, min(2000, points // 100))).start()
    name = setup.codenames[0]
    events = []

    def produce():
        for chunk in range(0, points, 1000):
            for i in range(chunk, min(chunk + 1000, points)):
                logger.enqueue_point(name, (T0 + i * 1e-4, float(i)))
            gevent.sleep(0)

    def until(predicate, what, seconds=60.0):
        deadline = time.monotonic() + seconds
        while not predicate():
            if time.monotonic() > deadline:
                events.append("MISSED: %s did not happen" % what)
                return False
            gevent.sleep(0.0002)
        return True

    def written(fraction):
        return lambda: logger.status()["written"] >= fraction * points and logger.status()["state"] == "connected"

    def faults():
        # the producer is far ahead: each fault hits while the writer works through the backlog
        if until(written(0.2), "20 % written") and until(
                lambda: logger.status()["in_flight"] and logger.status()["connection_id"], "a batch in flight"):
            _sql(admin, "KILL CONNECTION %s", (logger.status()["connection_id"],))
            events.append("KILL CONNECTION at %d written" % logger.status()["written"])
        if until(written(0.5), "50 % written"):
            proxy.down()
            events.append("server unreachable for 1.0 s at %d written" % logger.status()["written"])
            gevent.sleep(1.0)
            proxy.up()
        if until(written(0.8), "80 % written"):
            proxy.drop_replies(b"INSERT" if layout == "flubber" else b"COMMIT")
            if until(lambda: proxy.commits_dropped, "a lost reply"):
                events.append("reply to a committed batch lost at %d written" % logger.status()["written"])

    def run():
        gevent.joinall([gevent.spawn(produce), gevent.spawn(faults)], raise_error=True)

    started = time.perf_counter()
    gevent.spawn(run).get(timeout=600)
    left = logger.stop(timeout=120)
    elapsed = time.perf_counter() - started
    status = logger.status()
    proxy.close()
    stored, distinct, low, high = _sql(admin, "SELECT COUNT(*), COUNT(DISTINCT `value`), MIN(`value`), MAX(`value`) "
                                       "FROM `%s`" % setup.table)[0]
    disorder = _sql(admin, "SELECT COUNT(*) FROM (SELECT `value`, LAG(`value`) OVER (ORDER BY `id`) AS `prev` "
                    "FROM `%s`) x WHERE `value` < `prev`" % setup.table)[0][0]
    setup.drop()
    in_range = low == 0 and high == points - 1
    return {
        "layout": layout, "sent": points, "stored": stored, "distinct": distinct,
        "duplicates": stored - distinct, "missing": points - distinct if in_range else points,
        "out_of_order": disorder, "left": left, "seconds": elapsed, "events": events,
        "retried": status["retried"], "reconnects": status["reconnects"],
        "skipped_copies": status["duplicates"],
    }


# -- report ----------------------------------------------------------------------
def _table(rows, headers):
    widths = [max(len(str(row[i])) for row in rows + [headers]) for i in range(len(headers))]
    line = "  ".join("%-*s" % (width, header) for width, header in zip(widths, headers))
    print(line)
    print("-" * len(line))
    for row in rows:
        print("  ".join(("%*s" if i else "%-*s") % (width, cell) for i, (width, cell) in enumerate(zip(widths, row))))


def main(quick=False):
    """Run both parts and print tables and bars."""
    config = QUICK if quick else FULL
    if not _mariadb_up():
        print("SKIPPED: MariaDB is not listening on %s:%d (start it with scripts/services.sh)" % (HOST, PORT))
        return None
    import logging
    logging.getLogger("flubber.loggers").setLevel(logging.ERROR)  # outages are expected here
    admin = _connect()
    setup = Setup(admin)
    tmp = tempfile.mkdtemp(prefix="flubber-bench-")
    sqlite_path = os.path.join(tmp, "bench.sqlite3")
    sqlite_ids = create_tables("dateplots_bench", ["s_a", "s_b"], sqlite_path=sqlite_path)
    results = {}
    server_pid = _server_pid()
    peers = [
        ("logger", "ContinuousLogger -> MariaDB", lambda: run_logger(setup, config["points"])),
        ("logger_spool", "ContinuousLogger + spool -> MariaDB", lambda: run_logger(setup, config["points"], tmp)),
        ("raw", "raw executemany, 1,000-row batches", lambda: run_executemany(setup, config["points"])),
        ("ceiling", "(server alone: pre-rendered INSERTs)", lambda: run_ceiling(setup, config["points"])),
        ("per_point", "INSERT + COMMIT per point (PyExpLabSys)", lambda: run_per_point(setup, config["per_point_seconds"])),
        ("sqlite_logger", "ContinuousLogger -> SQLite", lambda: run_sqlite_logger(
            sqlite_path, "dateplots_bench", ["s_a", "s_b"], config["sqlite_points"])),
        ("sqlite_raw", "raw sqlite3 executemany, 1,000 rows", lambda: run_sqlite_executemany(
            sqlite_path, "dateplots_bench", [sqlite_ids["s_a"], sqlite_ids["s_b"]], config["sqlite_points"])),
    ]
    try:
        for round_number in range(config["rounds"]):
            shift = round_number % len(peers)
            for key, _label, run in peers[shift:] + peers[:shift]:
                results.setdefault(key, []).append(measure(run, server_pid))
        outages = [outage_run(admin, config["outage_points"], layout) for layout in ("flubber", "legacy")]
    finally:
        setup.drop()
        admin.close()
        for name in os.listdir(tmp):
            os.remove(os.path.join(tmp, name))
        os.rmdir(tmp)

    median = {key: statistics.median(run["rate"] for run in runs) for key, runs in results.items()}

    def cpu(key, side):
        values = [run[side] for run in results[key] if run[side] is not None]
        return "%.1f" % statistics.median(values) if values else "?"

    print("Points/s into MariaDB %s (InnoDB, one table: TIMESTAMP(6), unique (origin, seq), key (type, time));"
          % _server_version())
    print("%d points per run, median of %d rounds, peers alternated; load average %s."
          % (config["points"], config["rounds"], " ".join("%.2f" % load for load in os.getloadavg())))
    print("CPU us/point: this process (logger greenlet, threads, producer) and the MariaDB server.\n")
    rows = []
    for key, label, _run in peers:
        reference = "sqlite_raw" if key.startswith("sqlite") else "raw"
        rows.append((label, "{:,.0f}".format(median[key]), "%.2fx" % (median[key] / median[reference]),
                     "%.1fx" % (median[key] / median["per_point"]) if not key.startswith("sqlite") else "",
                     cpu(key, "client_us"), cpu(key, "server_us") if not key.startswith("sqlite") else "",
                     " ".join("{:,.0f}".format(run["rate"]) for run in results[key])))
    _table(rows, ("method", "points/s", "vs raw executemany", "vs per-point", "CPU client", "CPU server",
                  "rounds"))

    print("\nThree outages in one run (%d points each):" % config["outage_points"])
    rows = [(o["layout"] + (" (unique key)" if o["layout"] == "flubber" else " (no unique key)"),
             o["sent"], o["stored"], o["duplicates"], o["missing"], o["out_of_order"],
             o["retried"], o["reconnects"], o["skipped_copies"], "%.1f" % o["seconds"]) for o in outages]
    _table(rows, ("table", "sent", "stored", "duplicates", "missing", "out of order", "retried",
                  "reconnects", "copies skipped", "seconds"))
    for outage in outages:
        print("  %s: %s" % (outage["layout"], "; ".join(outage["events"])))

    print("\nBars:")
    logger_rate = median["logger"]
    ratio = logger_rate / median["raw"]
    print("  [%s] >= 50,000 points/s through ContinuousLogger: {:,.0f}".format(logger_rate)
          % ("met" if logger_rate >= 50000 else "MISSED"))
    print("  [%s] >= 0.8x raw executemany: %.2fx" % ("met" if ratio >= 0.8 else "MISSED", ratio))
    print("  [info] vs one INSERT + COMMIT per point: %.1fx" % (logger_rate / median["per_point"]))
    print("  [info] vs the server alone on one connection (pre-rendered statements): %.2fx"
          % (logger_rate / median["ceiling"]))
    clean = all(o["duplicates"] == 0 and o["missing"] == 0 and o["out_of_order"] == 0 and o["left"] == 0
                and not any(event.startswith("MISSED") for event in o["events"]) for o in outages)
    print("  [%s] zero lost, zero duplicated across three outages: %s" % (
        "met" if clean else "MISSED",
        ", ".join("%s sent %d stored %d duplicates %d missing %d" % (
            o["layout"], o["sent"], o["stored"], o["duplicates"], o["missing"]) for o in outages)))
    if quick:
        print("  (quick run: sizes too small for the figures to mean anything)")
    return {"median": median, "outages": outages}


def _server_version():
    try:
        conn = _connect()
        version = _sql(conn, "SELECT VERSION()")[0][0]
        conn.close()
        return version
    except Exception:  # only for the title
        return ""


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
