"""``flubber serve NODE.yaml``: run a lab node from its YAML file.

The node file's KV stores answer dripline requests over TCP and, when
configured, RabbitMQ; its instruments are read on schedule, served on the
PyExpLabSys pull socket and logged (see :mod:`flubber.node`). While it runs,
a terminal shows a live status table. A database that is down does not
hold the node back: it serves at once while the logger keeps trying in the
background (its state is in the status table). Stops on Ctrl-C or SIGTERM:
sockets closed, the logger drained (not waited for when it has no
connection); the last line says how many points were not logged and where
they are (the spool, or lost). Exit status 0 after a clean stop by SIGTERM,
130 after Ctrl-C, 2 for a bad node file (the message names the file, the
entry and what to change), 1 when a port cannot be bound or points were
left unlogged.
"""
import ipaddress
import json
import os
import signal
import sys

import gevent

from flubber.io import StreamError, parse_tcp_address
from flubber.kvstore import ConfigError
from flubber.kvstore.persist import format_time
from flubber.node import LabNode, load_lab_config


def describe(node):
    """Return the lines printed when a node starts: what runs where, and commands to try."""
    kv = node.kv
    lines = ["node %s:" % kv.name]
    for name, store in kv.stores.items():
        lines.append("  store %s: %s" % (name, ", ".join(store.endpoint_names) or "no keys"))
    for instrument in node.instruments:
        source = ""
        if instrument.line is not None:
            source = " (%s%s)" % (instrument.address, " %s" % instrument.line.query if instrument.line.query else "")
        lines.append("  instrument %s%s: every %g s -> key %s, codename %s"
                     % (instrument.name, source, instrument.interval, instrument.key, instrument.codename))
    for share in node.shares:
        host, port = share.address
        lines.append("  share of %s on %s:%d (PyVISA: TCPIP::%s::%d::SOCKET)"
                     % (share.instrument.address, host, port, host, port))
    server = node.server
    tcp = server.tcp_address
    if tcp is not None:
        lines.append("  dripline over TCP on %s:%s" % tcp)
    if server.amqp_service is not None:
        lines.append("  dripline over AMQP on %s (queue %s)" % (server.config.amqp["url"].rpartition("@")[2],
                                                                  server.amqp_service.queue))
    if node.pull_socket is not None:
        lines.append("  pull socket on UDP port %d" % node.pull_socket.port)
    if node.push_socket is not None:
        lines.append("  push socket on UDP port %d" % node.push_socket.port)
    if node.logger is not None:
        lines.append("  logging into %s table %s" % (node.logger.status()["target"], node.logger.table))
    persister = server.persister
    if persister is not None:
        lines.append("  keeping %s in %s" % (", ".join(sorted(persister.keys)), persister.store.describe()))
        for name, set_at in sorted(persister.restored.items()):
            lines.append("  restored %s = %s (set %s)" % (name, json.dumps(node.value(name)), format_time(set_at)))
        for note in persister.notes:
            lines.append("  note: %s" % note)
    if node.web is not None:
        lines.append("  web page on %s (%s)" % (node.web.url, "keys settable with a write token: %s"
                                                 % ", ".join(node.web.live.writable_keys())
                                                 if node.web.app.tokens and node.web.live.writable_keys()
                                                 else "read-only"))
    lines.append("")
    lines.append("try from another terminal:")
    host = "--host %s:%s" % tcp if tcp is not None and tuple(tcp) != ("127.0.0.1", 8600) else ""
    if node.pull_socket is not None:
        port = node.pull_socket.port
        lines.append("  flubber pull localhost%s json_wn" % ("" if port == 9000 else ":%d" % port))
    keys = [name for store in kv.stores.values() for name in store.endpoint_names]
    if tcp is not None and keys:
        setpoint = "setpoint" if "setpoint" in keys else keys[0]
        store = next(name for name, s in kv.stores.items() if setpoint in s.endpoint_names)
        lines.append("  flubber get %s %s" % (setpoint, host))
        lines.append("  flubber set %s.%s.%s 40 %s" % (kv.name, store, setpoint, host))
    for share in node.shares[:1]:
        lines.append("  flubber query tcp://%s:%d '*IDN?'" % share.address)
    if node.web is not None:
        lines.append("  open %s in a browser" % node.web.url)
    if node.logger is not None and node.instruments:
        lines.append("  flubber plot %s %s --table %s --since 10m -o %s.png"
                     % (node.logger.status()["target"], " ".join(node.codenames), node.logger.table, kv.name))
    return [line.rstrip() for line in lines]


def _is_loopback(host):
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False  # a host name: it may be reached from the network


def exposure_warnings(node):
    """Return what anyone on the network could change on the running *node* (one line per write path).

    A write path is the TCP transport without write tokens, a push socket
    with writable keys, or an instrument share (it has no authentication),
    bound to an address other than loopback.
    """
    warnings = []
    server = node.server.tcp_server
    if server is not None and not server.requires_token:
        host, port = server.sockname[:2]
        if not _is_loopback(host):
            warnings.append("dripline over TCP on %s:%s takes set and cmd from anyone who can reach it: add write "
                            "tokens (tcp: tokens: [...] or tokens_file: FILE) and TLS (tcp: tls: {cert, key})"
                            % (host, port))
    push = node.push_socket
    if push is not None and push.address is not None and node.push_writable:
        host, port = push.address[:2]
        if not _is_loopback(host):
            warnings.append("the push socket on UDP %s:%s lets anyone who can reach it set %s: bind it to "
                            "127.0.0.1 (sockets: push: host:) or empty sockets.push writable"
                            % (host or "0.0.0.0", port, ", ".join(node.push_writable)))
    for share in node.shares:
        if share.address is not None and not _is_loopback(share.address[0]):
            host, port = share.address
            warnings.append("the share of instrument %s on TCP %s:%s passes any command of anyone who can reach "
                            "it to the instrument, past the keys' limits and locks: bind it to 127.0.0.1 "
                            "(instruments: share: host:)" % (share.instrument.name, host or "0.0.0.0", port))
    return warnings


def _warn_exposure(node):
    warnings = exposure_warnings(node)
    if not warnings:
        return
    bar = "!" * 78
    lines = [bar, "flubber serve: WARNING: node %s can be changed from the network:" % node.kv.name]
    lines += ["  - " + warning for warning in warnings]
    lines += ["  (docs: Security)", bar]
    print("\n".join(lines), file=sys.stderr, flush=True)


def _apply_overrides(config, args):
    if args.no_tcp:
        config.tcp = None
    elif args.tcp:
        host, port = parse_tcp_address(args.tcp)
        config.tcp = dict(config.tcp or {}, host=host, port=port)
    if args.no_amqp:
        config.amqp = None
    elif args.broker:
        config.amqp = dict(config.amqp or {}, url=args.broker)
    sockets = dict(config.extra.get("sockets") or {})
    for label, port in (("pull", args.pull_port), ("push", args.push_port)):
        if port is not None and sockets.get(label) is not False:
            sockets[label] = dict(sockets.get(label) or {}, port=port)
    if sockets:
        config.extra["sockets"] = sockets
    if args.share_port is not None:
        for entry in config.extra.get("instruments") or []:
            if isinstance(entry, dict) and isinstance(entry.get("share"), dict):
                entry["share"] = dict(entry["share"], port=args.share_port)
    if args.db:
        config.extra["logger"] = dict(config.extra.get("logger") or {}, url=args.db)
    if args.state:
        config.persist = ({"url": args.state} if args.state.startswith(("sqlite:///", "mysql://", "mariadb://"))
                          else {"path": os.path.abspath(args.state)})
    if args.reset_state:
        config.persist = dict(config.persist, reset=True)
    if args.no_web:
        config.extra["web"] = None
    elif args.web:
        web = config.extra.get("web")
        web = dict(web) if isinstance(web, dict) else {}
        host, port = parse_tcp_address(args.web, default_host=web.get("host", "127.0.0.1"))
        config.extra["web"] = dict(web, host=host, port=port)


def run(args):
    """Load the node file, start it, serve until stopped; return the exit status."""
    try:
        config = load_lab_config(args.config)
        _apply_overrides(config, args)
        node = LabNode(config)
    except (ConfigError, ValueError) as exc:
        print("flubber serve: %s" % exc, file=sys.stderr)
        return 2
    if args.check:
        print("%s: OK (node %s, %d stores, %d keys, %d instruments)" % (
            config.source, node.kv.name, len(node.kv.stores),
            sum(len(s.endpoint_names) for s in node.kv.stores.values()), len(node.instruments)))
        return 0
    try:
        node.start()
    except StreamError as exc:
        hint = ("--share-port PORT (0: any free one)" if "share of" in str(exc) else "--tcp HOST:PORT")
        print("flubber serve: cannot listen for TCP: %s; pick another port with %s" % (exc, hint), file=sys.stderr)
        return 1
    except Exception as exc:  # a socket port in use, a database that refuses: say what and stop
        from flubber.sockets import PortInUseError  # loaded by node.start() already

        hint = ("; --pull-port PORT and --push-port PORT (0: any free one) override the node file's ports"
                if isinstance(exc, PortInUseError) else "")
        print("flubber serve: cannot start node %s: %s%s" % (config.name, exc, hint), file=sys.stderr)
        return 1
    for line in describe(node):
        print(line, flush=True)
    _warn_exposure(node)
    display = None
    if not args.no_status:
        from flubber.cli._status import show_status

        display = gevent.spawn(show_status, node, log_interval=args.status_interval)
    interrupted = []

    def stop_by_ctrl_c():
        interrupted.append(signal.SIGINT)
        node.stop()

    ctrl_c = gevent.signal_handler(signal.SIGINT, stop_by_ctrl_c)
    try:
        node.serve_forever(stop_signals=(signal.SIGTERM,))
    finally:
        ctrl_c.cancel()
    if display is not None:
        display.join(timeout=2)
    status = node.status()
    readings = sum(item["readings"] for item in status["instruments"])
    logged = (status.get("logger") or {}).get("written", 0)
    where = " (%s)" % node.unlogged_where() if node.unlogged else ""
    print("node %s stopped%s: %d readings, %d points logged, %d not logged%s"
          % (config.name, " by Ctrl-C" if interrupted else "", readings, logged, node.unlogged, where), flush=True)
    if interrupted:
        return 130
    return 1 if node.unlogged else 0


def register(subparsers):
    """Add the ``serve`` subcommand to *subparsers*."""
    parser = subparsers.add_parser(
        "serve", help="run a lab node from its YAML file (KV stores, instruments, sockets, logger)",
        description="Run the node described by a YAML node file: its KV stores answer dripline requests over "
                    "TCP (JSON lines, default 127.0.0.1:8600) and, with an amqp section or --broker, over "
                    "RabbitMQ; its instruments are read on schedule, served on the pull socket and logged. "
                    "Stops on Ctrl-C or SIGTERM.",
        epilog="examples: flubber serve examples/lab.yaml | flubber serve lab.yaml --tcp 0.0.0.0:8600 | "
               "flubber serve lab.yaml --broker amqp://guest:guest@127.0.0.1:5672/%2F | "
               "flubber serve lab.yaml --db mysql://user:pw@dbhost/cinfdata | flubber serve lab.yaml --web 8080 | "
               "flubber serve lab.yaml --check",
    )
    parser.add_argument("config", metavar="NODE.yaml",
                        help="the node file (name, tcp, amqp, providers, instruments, sockets, logger); "
                             "example: examples/lab.yaml")
    parser.add_argument("--tcp", metavar="HOST:PORT",
                        help="listen here instead of the file's tcp section; example: --tcp 0.0.0.0:8600")
    parser.add_argument("--no-tcp", action="store_true",
                        help="do not serve TCP (AMQP only); example: flubber serve lab.yaml --no-tcp --broker URL")
    parser.add_argument("--broker", metavar="URL",
                        help="serve over RabbitMQ too, at this URL; example: "
                             "--broker amqp://guest:guest@127.0.0.1:5672/%%2F")
    parser.add_argument("--no-amqp", action="store_true",
                        help="ignore the file's amqp section; example: flubber serve lab.yaml --no-amqp")
    parser.add_argument("--pull-port", type=int, metavar="PORT",
                        help="UDP port of the pull socket (0: any free one); example: --pull-port 9001")
    parser.add_argument("--push-port", type=int, metavar="PORT",
                        help="UDP port of the push socket (0: any free one); example: --push-port 8501")
    parser.add_argument("--share-port", type=int, metavar="PORT",
                        help="TCP port of every instrument share (0: any free one); example: --share-port 0")
    parser.add_argument("--db", metavar="URL",
                        help="log into this database instead of the file's logger url; example: "
                             "--db sqlite:///run42.sqlite or --db mysql://user:pw@dbhost/cinfdata")
    parser.add_argument("--web", metavar="[HOST:]PORT",
                        help="serve the node's web page here instead of the file's web section (port 0: any free "
                             "one); example: --web 8081 or --web 0.0.0.0:8080")
    parser.add_argument("--no-web", action="store_true",
                        help="do not serve the web page; example: flubber serve lab.yaml --no-web")
    parser.add_argument("--no-status", action="store_true",
                        help="do not show the live status table; example: flubber serve lab.yaml --no-status")
    parser.add_argument("--status-interval", type=float, default=30.0, metavar="SECONDS",
                        help="when not on a terminal, print a status line this often (default 30); "
                             "example: --status-interval 5")
    parser.add_argument("--state", metavar="FILE|URL",
                        help="keep the persist: true keys here instead of the node file's persist: (or the "
                             "state file next to it); example: --state /var/lib/flubber/lab.state.json")
    parser.add_argument("--reset-state", action="store_true",
                        help="start every persist: true key from its initial value (the saved state is kept "
                             "aside, not restored); example: flubber serve lab.yaml --reset-state")
    parser.add_argument("--check", action="store_true",
                        help="only check the node file and exit; example: flubber serve lab.yaml --check")
    parser.set_defaults(func=run)
    return parser
