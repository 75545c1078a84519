"""``flubber fleet make|up|status|down DIR``: run a folder of node files as one fleet; ``flubber nodes``.

``flubber nodes --broker URL`` lists the nodes that answer a broadcast ping
on a broker, wherever they run (:func:`flubber.fleet.ping_nodes`).

Exit status: 0 on success, 1 when the fleet is not (or no longer) running
where it should (``nodes``: when no node answered), 2 for a usage error, 3
when the broker cannot be reached, 130 after Ctrl-C.
"""
import json
import os
import signal
import subprocess
import sys
import time

from flubber.fleet import (
    FleetError, FleetSupervisor, format_uptime, make_fleet, node_files, ping_nodes, process_alive, read_state,
)

#: Exit status of ``flubber nodes`` when the broker cannot be reached.
EXIT_UNREACHABLE = 3


def run_make(args):
    """``flubber fleet make DIR --nodes N``."""
    paths = make_fleet(args.folder, args.nodes, broker=args.broker, db=args.db, keys=args.keys,
                       instruments=args.instruments, rate=args.rate, tcp_base=args.tcp_base,
                       pull_base=args.pull_base, table=args.table, prefix=args.prefix)
    print("wrote %d node files into %s (%s ... %s)" % (len(paths), args.folder, os.path.basename(paths[0]),
                                                      os.path.basename(paths[-1])))
    return 0


def run_up(args):
    """``flubber fleet up DIR``: supervise in the foreground, or with ``--detach`` in the background."""
    try:
        files = node_files(args.folder)
        if args.detach:
            return _detach(args, len(files))
        supervisor = FleetSupervisor(args.folder, grace=args.grace)
        supervisor.start()
    except FleetError as exc:
        print("flubber fleet up: %s" % exc, file=sys.stderr)
        return 1
    print("fleet %s: %d nodes running (logs in %s); Ctrl-C or `flubber fleet down %s` stops them"
          % (args.folder, len(supervisor.nodes), os.path.join(args.folder, "logs"), args.folder), flush=True)
    supervisor.serve_forever()
    print("fleet %s: stopped %d nodes" % (args.folder, len(supervisor.nodes)), flush=True)
    return 0


def _detach(args, count):
    log_dir = os.path.join(args.folder, "logs")
    os.makedirs(log_dir, exist_ok=True)
    with open(os.path.join(log_dir, "fleet.log"), "ab") as output:
        child = subprocess.Popen([sys.executable, "-m", "flubber", "fleet", "up", args.folder, "--grace",
                                  str(args.grace)], stdout=output, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = read_state(args.folder)
        if state and state.get("pid") == child.pid and state.get("running"):
            print("fleet %s: %d nodes started by supervisor pid %d; `flubber fleet status %s` shows them"
                  % (args.folder, count, child.pid, args.folder))
            return 0
        if child.poll() is not None:
            break
        time.sleep(0.1)
    print("flubber fleet up: the supervisor did not start; see %s" % os.path.join(log_dir, "fleet.log"),
          file=sys.stderr)
    return 1


def _age(seconds):
    return "-" if not seconds else "%ds" % (time.time() - seconds)


def run_status(args):
    """``flubber fleet status DIR``."""
    try:
        state = read_state(args.folder)
    except FleetError as exc:
        print("flubber fleet status: %s" % exc, file=sys.stderr)
        return 1
    if state is None:
        print("fleet %s has never run; start it with `flubber fleet up %s`" % (args.folder, args.folder))
        return 1
    running = state.get("running") and process_alive(state.get("pid"))
    print("fleet %s: supervisor pid %s %s" % (args.folder, state.get("pid"), "running" if running else "NOT running"))
    print("%-12s %-8s %-6s %-9s %-9s %s" % ("NODE", "PID", "STATE", "UPTIME", "RESTARTS", "LAST EXIT"))
    up = 0
    for node in state.get("nodes", []):
        alive = running and process_alive(node.get("pid"))
        up += bool(alive)
        print("%-12s %-8s %-6s %-9s %-9s %s" % (node["name"], node.get("pid") or "-", "up" if alive else "down",
                                               _age(node.get("started_at")) if alive else "-", node["restarts"],
                                               "-" if node.get("last_exit") is None else node["last_exit"]))
    return 0 if running and up == len(state.get("nodes", [])) else 1


def run_down(args):
    """``flubber fleet down DIR``: stop the supervisor and with it every node."""
    state = read_state(args.folder)
    if state is None:
        print("fleet %s has never run" % args.folder)
        return 0
    pid = state.get("pid")
    if process_alive(pid) and state.get("running"):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + args.timeout
        while process_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if process_alive(pid):
            print("flubber fleet down: supervisor %d still runs after %g s" % (pid, args.timeout), file=sys.stderr)
            return 1
    stray = [node for node in state.get("nodes", []) if process_alive(node.get("pid"))]
    for node in stray:  # the supervisor was killed without stopping its nodes
        try:
            os.killpg(node["pid"], signal.SIGTERM)
        except ProcessLookupError:
            pass
    print("fleet %s: stopped (%d nodes%s)" % (args.folder, len(state.get("nodes", [])),
                                              ", %d stray ones sent SIGTERM" % len(stray) if stray else ""))
    return 0


def run_nodes(args):
    """``flubber nodes --broker URL``: ping every node on the broker and list those that answer."""
    from flubber.kvstore import KVStoreError

    try:
        nodes = ping_nodes(args.broker, timeout=args.timeout, expect=args.expect)
    except KVStoreError as exc:
        print("flubber nodes: broker unreachable: %s" % exc, file=sys.stderr)
        return EXIT_UNREACHABLE
    except ValueError as exc:
        print("flubber nodes: %s" % exc, file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(nodes, indent=1, sort_keys=True))
    else:
        print("%-16s %-16s %-8s %-8s %5s  %-9s %s" % ("NODE", "HOST", "PID", "UPTIME", "KEYS", "VERSION",
                                                     "REPLY"))
        for node in nodes:
            print("%-16s %-16s %-8s %-8s %5s  %-9s %.1f ms" % (
                node.get("name"), node.get("host", ""), node.get("pid", "-"), format_uptime(node.get("uptime")),
                node.get("keys", "-"), node.get("version", ""), node["reply_ms"]))
    where = args.broker.partition("://")[2].rpartition("@")[2]  # never the password
    print("%d node%s answered on %s within %g s" % (len(nodes), "" if len(nodes) == 1 else "s", where,
                                                    args.timeout), file=sys.stderr)
    return 0 if nodes else 1


def register(subparsers):
    """Add ``fleet`` and its subcommands, and ``nodes``, to *subparsers*."""
    nodes = subparsers.add_parser(
        "nodes", help="list the nodes that answer on a broker (name, host, uptime, keys, version)",
        description="Send one broadcast ping (cmd broadcast ping, which every node's queue is bound to) and "
                    "list the nodes that answer within the timeout. Exit status 0 when some answered, 1 when "
                    "none did, 3 when the broker cannot be reached.",
        epilog="examples: flubber nodes --broker amqp://guest:guest@127.0.0.1/%%2F | "
               "flubber nodes --broker URL --timeout 5 --expect 50 --json")
    nodes.add_argument("--broker", metavar="URL", required=True,
                       help="the broker; example: --broker amqp://guest:guest@127.0.0.1:5672/%%2F")
    nodes.add_argument("-t", "--timeout", type=float, default=2.0, metavar="SECONDS",
                       help="how long to collect replies (default 2); example: --timeout 5")
    nodes.add_argument("--expect", type=int, metavar="N",
                       help="stop as soon as N nodes answered; example: --expect 50")
    nodes.add_argument("--json", action="store_true",
                       help="print what each node says of itself as JSON; example: flubber nodes --broker URL --json")
    nodes.set_defaults(func=run_nodes)

    fleet = subparsers.add_parser(
        "fleet", help="run a folder of node files as one fleet (make, up, status, down)",
        description="One `flubber serve` per node file of a folder, restarted with back-off when it exits, "
                    "one log per node in FOLDER/logs.",
        epilog="example: flubber fleet make lab-fleet --nodes 3 && flubber fleet up lab-fleet --detach")
    commands = fleet.add_subparsers(dest="fleet_command", metavar="COMMAND", required=True)

    make = commands.add_parser("make", help="write N demo node files into a folder",
                               epilog="example: flubber fleet make lab-fleet --nodes 25 --broker "
                                      "amqp://guest:guest@127.0.0.1/%%2F --db mysql://root@127.0.0.1/test")
    make.add_argument("folder", metavar="FOLDER", help="where the files go; example: lab-fleet")
    make.add_argument("--nodes", type=int, default=3, metavar="N",
                      help="how many nodes (default 3); example: --nodes 25")
    make.add_argument("--broker", metavar="URL",
                      help="the broker every node answers on; example: --broker amqp://guest:guest@127.0.0.1/%%2F")
    make.add_argument("--db", metavar="URL",
                      help="the database every node logs into; example: --db mysql://root@127.0.0.1/test")
    make.add_argument("--keys", type=int, default=10, metavar="N",
                      help="KV keys per node (default 10); example: --keys 10")
    make.add_argument("--instruments", type=int, default=2, metavar="N",
                      help="sine instruments per node (default 2); example: --instruments 2")
    make.add_argument("--rate", type=float, default=10.0, metavar="HZ",
                      help="readings per second per instrument (default 10); example: --rate 5")
    make.add_argument("--tcp-base", type=int, default=18600, metavar="PORT",
                      help="node N answers TCP on PORT+N (default 18600, 0: no TCP); example: --tcp-base 0")
    make.add_argument("--pull-base", type=int, default=19000, metavar="PORT",
                      help="node N's pull socket is on PORT+N (default 19000); example: --pull-base 29000")
    make.add_argument("--table", default="dateplots_fleet", metavar="TABLE",
                      help="the table every node logs into (default dateplots_fleet); example: --table dateplots_lab")
    make.add_argument("--prefix", default="node", metavar="TEXT",
                      help="node names are TEXT01, TEXT02, ... (default node); example: --prefix station")
    make.set_defaults(func=run_make)

    up = commands.add_parser("up", help="start and supervise one node per file",
                             epilog="example: flubber fleet up lab-fleet --detach")
    up.add_argument("folder", metavar="FOLDER", help="the folder of node files; example: lab-fleet")
    up.add_argument("--detach", action="store_true",
                    help="run the supervisor in the background; example: flubber fleet up lab-fleet --detach")
    up.add_argument("--grace", type=float, default=10.0, metavar="SECONDS",
                    help="seconds a node has to stop before it is killed (default 10); example: --grace 5")
    up.set_defaults(func=run_up)

    status = commands.add_parser("status", help="show each node of a fleet",
                                 epilog="example: flubber fleet status lab-fleet")
    status.add_argument("folder", metavar="FOLDER", help="the fleet's folder; example: lab-fleet")
    status.set_defaults(func=run_status)

    down = commands.add_parser("down", help="stop a fleet", epilog="example: flubber fleet down lab-fleet")
    down.add_argument("folder", metavar="FOLDER", help="the fleet's folder; example: lab-fleet")
    down.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                      help="how long to wait for the fleet to stop (default 60); example: --timeout 30")
    down.set_defaults(func=run_down)
