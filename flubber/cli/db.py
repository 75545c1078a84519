"""``flubber db create-tables|spool|drain``: set up a logging table, look into a spool, send it.

* ``create-tables TABLE CODENAME[=DESCRIPTION]...`` makes the cinfdata
  tables of a new setup (see :func:`flubber.loggers.create_tables`) and
  prints the type id of each codename.
* ``spool FILE`` tells what a logger's spool file holds (JSON).
* ``drain FILE`` sends the points of a spool left by a stopped or crashed
  logging process, without the experiment script, and says how many remain.
* ``stats URL --table TABLE`` shows the points each logger (each origin:
  in a fleet, each node) stored in a shared table, with the numbers missing
  and the points stored twice (:func:`flubber.plot.origin_stats`).

The database is named as for :class:`~flubber.loggers.ContinuousLogger`:
``--url mysql://user:pw@host/db`` or ``--url sqlite:///file.db``; without
``--url``, the embedded default (the SQLite file ``cinfdata.sqlite3``), or
for ``drain`` the SQLite file the spool was made for. Exit status: 0 on
success, 1 when points remain or the database refuses, 2 for a usage error.
"""
import json
import sys
import time

from flubber.loggers import ContinuousLogger, LoggerError, create_tables, describe_spool
from flubber.sockets import SocketConfigurationError, validate_codenames


def _parse_codenames(items):
    descriptions = {}
    for item in items:
        codename, _, description = item.partition("=")
        descriptions[codename] = description or codename
    return descriptions


def run_create_tables(args):
    """Create the tables, print ``codename id`` lines."""
    descriptions = _parse_codenames(args.codenames)
    try:  # a codename the pull socket would refuse could be logged but never served
        validate_codenames(list(descriptions))
    except SocketConfigurationError as exc:
        print("flubber db create-tables: %s (the pull socket serves codenames by these characters)" % exc,
              file=sys.stderr)
        return 2
    try:
        ids = create_tables(args.table, descriptions, url=args.url)
    except LoggerError as exc:
        print("flubber db create-tables: %s" % exc, file=sys.stderr)
        return 1
    for codename, type_id in ids.items():
        print("%s %d" % (codename, type_id))
    return 0


def run_spool(args):
    """Print what the spool holds as JSON."""
    try:
        info = describe_spool(args.file)
    except LoggerError as exc:
        print("flubber db spool: %s" % exc, file=sys.stderr)
        return 1
    print(json.dumps(info, indent=2))
    return 0


def _target_of(info):
    """Return ``(table, sqlite url or None)`` from a spool's target text."""
    target = info["target"] or ""
    location, _, table = target.partition(" table=")
    url = location if location.startswith("sqlite:///") else None
    return table or None, url


def run_drain(args):
    """Start a logger on the spool, stop it with the timeout, report."""
    try:
        info = describe_spool(args.file)
    except LoggerError as exc:
        print("flubber db drain: %s" % exc, file=sys.stderr)
        return 1
    table, sqlite_url = _target_of(info)
    table = args.table or table
    url = args.url or sqlite_url
    if not table:
        print("flubber db drain: the spool names no table; give --table", file=sys.stderr)
        return 2
    if url is None:
        print("flubber db drain: the spool is for %s; give --url with the user and password"
              % info["target"], file=sys.stderr)
        return 2
    try:
        logger = ContinuousLogger(table, None, None, [], url=url, spool=args.file).start()
    except LoggerError as exc:
        print("flubber db drain: %s" % exc, file=sys.stderr)
        return 1
    remaining = logger.stop(timeout=args.timeout)
    status = logger.status()
    print("sent %d points to %s table %s; %d remain%s" % (
        status["written"], status["target"], table, remaining,
        "" if not remaining else " (last error: %s)" % status["last_error"]))
    return 0 if remaining == 0 else 1


def _clock(unixtime):
    return "-" if unixtime is None else time.strftime("%H:%M:%S", time.localtime(unixtime))


def read_database(command, url, read):
    """Return ``(read(), None)``, or ``(None, 1)`` after printing why *command* could not read *url*."""
    from flubber.plot import PlotError

    try:
        return read(), None
    except (PlotError, LoggerError) as exc:
        print("flubber %s: %s" % (command, exc), file=sys.stderr)
    except Exception as exc:  # the database itself: unreachable server, unreadable file
        print("flubber %s: cannot read %s: %s" % (command, url, exc), file=sys.stderr)
    return None, 1


def run_stats(args):
    """Print the points per origin of a table (or JSON)."""
    from flubber.plot import origin_stats

    stats, status = read_database("db stats", args.url, lambda: origin_stats(args.url, args.table))
    if status is not None:
        return status
    if args.json:
        print(json.dumps(stats, indent=1))
        return 0
    origins = stats["origins"]
    missing = sum(item["missing"] for item in origins)
    print("table %s: %d points from %d origins; %d missing, %d stored twice"
          % (stats["table"], stats["points"], len(origins), missing, stats["repeated"]))
    print("%-20s %-34s %9s %-16s %8s %-8s %-8s" % ("ORIGIN", "CODENAMES", "POINTS", "SEQ", "MISSING", "FIRST",
                                                  "LAST"))
    for item in origins:
        codenames = ",".join(item["codenames"])
        if len(codenames) > 34:
            codenames = codenames[:31] + "..."
        print("%-20s %-34s %9d %-16s %8d %-8s %-8s" % (
            item["origin"], codenames, item["points"], "%s-%s" % (item["first_seq"], item["last_seq"]),
            item["missing"], _clock(item["first"]), _clock(item["last"])))
    return 0


def register(subparsers):
    """Add the ``db`` subcommand (with create-tables, spool, drain) to *subparsers*."""
    parser = subparsers.add_parser(
        "db",
        help="logging database helpers: create tables, inspect or drain a spool, points per origin",
        description="Helpers around flubber.loggers.ContinuousLogger and the cinfdata layout.",
        epilog="examples: flubber db create-tables dateplots_oven oven_t1 'oven_t2=Oven, zone 2' "
               "--url mysql://lab:secret@db/cinfdata | flubber db spool oven.spool | "
               "flubber db drain oven.spool --url mysql://lab:secret@db/cinfdata",
    )
    commands = parser.add_subparsers(dest="db_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: parser.print_help() or 2)

    create = commands.add_parser(
        "create-tables",
        help="create dateplots_descriptions and a data table, add codenames",
        description="Create (if missing) dateplots_descriptions and TABLE with microsecond time and "
                    "a unique (origin, seq) key, add a description row per codename, print the "
                    "type ids. Safe to run again.",
        epilog="example: flubber db create-tables dateplots_oven oven_t1 'oven_t2=Oven, zone 2' "
               "--url mysql://lab:secret@db/cinfdata",
    )
    create.add_argument("table", help="the data table; example: dateplots_oven")
    create.add_argument("codenames", nargs="+", metavar="CODENAME[=DESCRIPTION]",
                        help="codenames to add, each optionally with a description; "
                             "example: oven_t1 'oven_t2=Oven, zone 2'")
    create.add_argument("--url", help="the database (default: SQLite file cinfdata.sqlite3 here); "
                                      "example: --url mysql://lab:secret@db/cinfdata")
    create.set_defaults(func=run_create_tables)

    spool = commands.add_parser(
        "spool", help="show what a spool file holds (JSON)",
        description="Print the target, the number of queued points, the first and last point "
                    "and any batch in doubt of a ContinuousLogger spool file, without changing it.",
        epilog="example: flubber db spool /var/lib/lab/oven.spool")
    spool.add_argument("file", help="the spool file; example: oven.spool")
    spool.set_defaults(func=run_spool)

    drain = commands.add_parser(
        "drain", help="send the points of a spool file now",
        description="Send the points a stopped or crashed logging process left in its spool, in "
                    "order and without duplicates; exit status 1 if some remain.",
        epilog="example: flubber db drain oven.spool --url mysql://lab:secret@db/cinfdata --timeout 120")
    drain.add_argument("file", help="the spool file; example: oven.spool")
    drain.add_argument("--url", help="the database with user and password (default: the SQLite "
                                     "file of the spool); example: --url mysql://lab:secret@db/cinfdata")
    drain.add_argument("--table", help="the data table (default: the spool's); example: --table dateplots_oven")
    drain.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                       help="longest time to keep sending (default 60); example: --timeout 300")
    drain.set_defaults(func=run_drain)

    stats = commands.add_parser(
        "stats", help="points per origin (per logger, per node) in a table",
        description="Count what each logger stored in TABLE: points, their numbers (seq) and how many are "
                    "missing, first and last time, codenames; and rows stored twice. In a fleet every node "
                    "logs into one table with its own origin, so this shows points per node.",
        epilog="example: flubber db stats mysql://root@127.0.0.1/test --table dateplots_fleet")
    stats.add_argument("url", metavar="URL", help="the database; example: mysql://lab:secret@db/cinfdata or "
                                                  "sqlite:///lab.sqlite")
    stats.add_argument("--table", help="the data table (default: the only dateplots_* table); "
                                       "example: --table dateplots_fleet")
    stats.add_argument("--json", action="store_true", help="print the figures as JSON; example: --json")
    stats.set_defaults(func=run_stats)
    return parser
