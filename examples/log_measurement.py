"""Log a simulated measurement into a database with ContinuousLogger.

Two "sensors" of a dummy setup -- a sine wave and a noisy temperature that
now and then drops out (NaN, stored as NULL) -- are read RATE times a
second for DURATION seconds and logged. While the logger writes from its
greenlet, a second greenlet prints the logger's status once a second.

    python examples/log_measurement.py --duration 10
        SQLite, the embedded default: table dateplots_dummy in the file
        cinfdata.sqlite3 of the current directory (or --sqlite FILE)
    python examples/log_measurement.py --url mysql://user:pw@127.0.0.1/test --duration 10
        MySQL/MariaDB
    ... --spool dummy.spool
        keep the queue on disk: kill the script with -9, run it again, and
        the points not yet written are sent first

The tables and codenames are created when missing (``--no-create`` to
skip). Exit status 0 when every point was written, 1 when some were
not, 130 after Ctrl-C (the points queued by then are still written first,
and the last line says how many made it).
"""
import argparse
import math
import random
import signal
import sys
import time

import gevent
from gevent.event import Event

from flubber.loggers import ContinuousLogger, LoggerError, create_tables

CODENAMES = {"dummy_sine_one": "Dummy sine wave", "dummy_temperature": "Dummy temperature (K)"}


def read_sensors(now):
    """The simulated driver: return ``{codename: value}`` for time *now*."""
    temperature = 295.0 + 0.5 * math.sin(now / 30.0) + random.gauss(0.0, 0.05)
    if random.random() < 0.01:
        temperature = float("nan")  # the sensor dropped out: stored as NULL
    return {"dummy_sine_one": math.sin(2 * math.pi * 0.2 * now), "dummy_temperature": temperature}


def report(logger, interval=1.0):
    """Print the logger's status every *interval* seconds (runs beside the measurement)."""
    while True:
        gevent.sleep(interval)
        status = logger.status()
        print("%-12s queued %6d  written %8d  retried %3d  %s" % (
            status["state"], status["queued"], status["written"], status["retried"],
            status["last_error"] or ""), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database URL, e.g. mysql://user:pw@127.0.0.1/test "
                                      "(default: SQLite, the embedded default)")
    parser.add_argument("--sqlite", metavar="FILE", help="SQLite file (default cinfdata.sqlite3)")
    parser.add_argument("--table", default="dateplots_dummy", help="data table (default dateplots_dummy)")
    parser.add_argument("--rate", type=float, default=10.0, help="readings per second (default 10)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds to measure (default 10)")
    parser.add_argument("--spool", metavar="FILE", help="keep the queue in this file (survives a crash)")
    parser.add_argument("--no-create", action="store_true", help="do not create missing tables")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.duration < 0:
        parser.error("--rate must be positive and --duration not negative")

    try:
        if not args.no_create:
            create_tables(args.table, CODENAMES, url=args.url, sqlite_path=args.sqlite)
        logger = ContinuousLogger(args.table, None, None, list(CODENAMES), url=args.url,
                                  sqlite_path=args.sqlite, spool=args.spool)
        logger.start()
    except LoggerError as exc:  # a wrong URL, password or table: the message says which
        print("log_measurement.py: %s" % exc, file=sys.stderr)
        return 1
    # Ctrl-C ends the measurement loop, not the program: the queue is still drained below
    interrupted = Event()
    ctrl_c = gevent.signal_handler(signal.SIGINT, interrupted.set)
    print("logging to %s, table %s" % (logger.status()["target"], args.table), flush=True)
    reporter = gevent.spawn(report, logger)
    try:
        deadline = time.time() + args.duration
        while time.time() < deadline and not interrupted.is_set():
            for codename, value in read_sensors(time.time()).items():
                logger.enqueue_point_now(codename, value)
            interrupted.wait(1.0 / args.rate)
    finally:
        reporter.kill()
        queued = logger.status()["queued"]
        remaining = logger.stop(timeout=30)
        ctrl_c.cancel()
    status = logger.status()
    if interrupted.is_set():
        kept = ""
        if remaining:
            kept = " (kept in %s)" % args.spool if args.spool else " (lost: --spool FILE keeps them)"
        print("interrupted: %d points written (%d of them drained after Ctrl-C), %d not written%s"
              % (status["written"], queued - remaining, remaining, kept), flush=True)
        return 130
    print("done: %d points written, %d not written" % (status["written"], remaining), flush=True)
    return 0 if remaining == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
