"""``flubber serve NODE.yaml``: run a lab node from its YAML file.

For now the node file's KV stores are served (``providers``) over TCP and,
when configured, RabbitMQ; other sections of the node file will join here.
Stops on Ctrl-C or SIGTERM. Exit status 0 after a clean stop, 2 for a bad
node file (the message names the file, the entry and what to change), 1 when
the TCP port cannot be bound.
"""
import logging
import sys

from flubber.io import StreamError, parse_tcp_address
from flubber.kvstore._exceptions import ConfigError
from flubber.kvstore.config import load_node_config
from flubber.kvstore.serve import NodeServer


def describe(server):
    """Return the lines printed when a node starts: its stores and where it listens."""
    node = server.node
    lines = ["node %s:" % node.name]
    for name, store in node.stores.items():
        lines.append("  store %s: %s" % (name, ", ".join(store.endpoint_names) or "no keys"))
    if server.tcp_server is not None:
        lines.append("  dripline over TCP on %s:%s" % server.tcp_address)
    if server.amqp_service is not None:
        lines.append("  dripline over AMQP on %s (queue %s)" % (server.config.amqp["url"].rpartition("@")[2],
                                                                  server.amqp_service.queue))
    return lines


def run(args):
    """Load the node file, start it, serve until stopped; return the exit status."""
    if args.verbose < 2:
        logging.getLogger("pika").setLevel(logging.WARNING)
    try:
        config = load_node_config(args.config)
    except ConfigError as exc:
        print("flubber serve: %s" % exc, file=sys.stderr)
        return 2
    if args.no_tcp:
        config.tcp = None
    elif args.tcp:
        try:
            host, port = parse_tcp_address(args.tcp)
        except ValueError as exc:
            print("flubber serve: --tcp: %s" % exc, file=sys.stderr)
            return 2
        config.tcp = dict(config.tcp or {}, host=host, port=port)
    if args.no_amqp:
        config.amqp = None
    elif args.broker:
        config.amqp = dict(config.amqp or {}, url=args.broker)
    if args.check:
        node = config.build_node()
        print("%s: OK (node %s, %d stores, %d keys)" % (
            config.source, node.name, len(node.stores), sum(len(s.endpoint_names) for s in node.stores.values())))
        return 0
    server = NodeServer(config)
    try:
        server.start()
    except StreamError as exc:
        print("flubber serve: cannot listen for TCP: %s; pick another port with --tcp HOST:PORT" % exc,
              file=sys.stderr)
        return 1
    for line in describe(server):
        print(line, flush=True)
    server.serve_forever()
    print("node %s stopped" % server.node.name, flush=True)
    return 0


def register(subparsers):
    """Add the ``serve`` subcommand to *subparsers*."""
    parser = subparsers.add_parser(
        "serve", help="run a lab node from its YAML file (KV stores over TCP/RabbitMQ)",
        description="Run the node described by a YAML node file: its KV stores answer dripline requests over "
                    "TCP (JSON lines, default 127.0.0.1:8600) and, with an amqp section or --broker, over "
                    "RabbitMQ. Stops on Ctrl-C or SIGTERM.",
        epilog="examples: flubber serve examples/kvstore.yaml | flubber serve lab.yaml --tcp 0.0.0.0:8600 | "
               "flubber serve lab.yaml --broker amqp://guest:guest@127.0.0.1:5672/%%2F | "
               "flubber serve lab.yaml --check",
    )
    parser.add_argument("config", metavar="NODE.yaml",
                        help="the node file (name, tcp, amqp, providers); example: examples/kvstore.yaml")
    parser.add_argument("--tcp", metavar="HOST:PORT",
                        help="listen here instead of the file's tcp section; example: --tcp 0.0.0.0:8600")
    parser.add_argument("--no-tcp", action="store_true",
                        help="do not serve TCP (AMQP only); example: flubber serve lab.yaml --no-tcp --broker URL")
    parser.add_argument("--broker", metavar="URL",
                        help="serve over RabbitMQ too, at this URL; example: "
                             "--broker amqp://guest:guest@127.0.0.1:5672/%%2F")
    parser.add_argument("--no-amqp", action="store_true",
                        help="ignore the file's amqp section; example: flubber serve lab.yaml --no-amqp")
    parser.add_argument("--check", action="store_true",
                        help="only check the node file and exit; example: flubber serve lab.yaml --check")
    parser.set_defaults(func=run)
    return parser
