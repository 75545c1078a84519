"""The ``flubber`` command line.

Each subcommand lives in a module of this package that defines
``register(subparsers)``; it adds its parser and sets ``func`` to a callable
taking the parsed arguments and returning the exit status:
:mod:`flubber.cli.serve` (``serve``), :mod:`flubber.cli.pull` (``pull``),
:mod:`flubber.cli.kv` (``get``, ``set``, ``cmd``), :mod:`flubber.cli.alarms`
(``alarms``, ``ack``), :mod:`flubber.cli.fleet` (``fleet``), :mod:`flubber.cli.plot`
(``plot``), :mod:`flubber.cli.db` (``db``), :mod:`flubber.cli.dump`
(``dump``) and :mod:`flubber.cli.instruments` (``share``, ``simulate``) and :mod:`flubber.cli.state`
(``state show``).
"""
import argparse
import importlib
import logging
import sys

import gevent

from flubber import __version__

#: Exit status after Ctrl-C (128 + SIGINT, as a shell reports it).
EXIT_INTERRUPTED = 130

#: Modules of this package that each add one or more subcommands.
COMMAND_MODULES = ("serve", "pull", "kv", "alarms", "fleet", "plot", "db", "dump", "instruments", "state")


def build_parser():
    """Return the top-level :class:`argparse.ArgumentParser` with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="flubber",
        description="Cooperative lab slow control and data acquisition on gevent.",
        epilog="Run 'flubber COMMAND --help' for the options and an example of each command.",
    )
    parser.add_argument("--version", action="version", version="flubber " + __version__)
    parser.add_argument(
        "-v", "--verbose", action="count", default=0,
        help="log more (-v info, -vv debug); example: flubber -v serve lab.yaml",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module("flubber.cli." + name).register(subparsers)
    return parser


def main(argv=None):
    """Run the command line with *argv* (default ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    if args.verbose < 2:
        # flubber reports a broker problem itself, in one line that says what to do; pika's own
        # records (several ERROR lines per connection attempt) only show with -vv
        logging.getLogger("pika").setLevel(logging.CRITICAL)
    # Ctrl-C is the user's way to stop a command, not an error: gevent's hub still hands the
    # KeyboardInterrupt to the waiting command, but without printing it and a timestamp first
    hub = gevent.get_hub()
    if not issubclass(KeyboardInterrupt, hub.NOT_ERROR):
        hub.NOT_ERROR = tuple(hub.NOT_ERROR) + (KeyboardInterrupt,)
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:  # a command that has nothing more specific to say
        print("flubber %s: interrupted" % args.command, file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
