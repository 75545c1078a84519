"""``flubber simulate scpi``, ``flubber share ADDRESS``, ``flubber query ADDRESS LINE...``: line instruments.

``flubber simulate scpi --port 5025`` runs the simulated SCPI instrument of
:mod:`flubber.instruments.scpi` (``--pty`` serves it on a pseudo-terminal,
opened as a serial port). ``flubber share ADDRESS --port P`` serves the
instrument at ADDRESS to many TCP clients in its own line protocol (see
:mod:`flubber.instruments.share`), with an access log line per client.
Both stop on Ctrl-C or SIGTERM. Exit status 0 after a clean stop, 2 for a
bad address or option, 1 when the port cannot be bound.

``flubber query ADDRESS LINE...`` sends each line to the instrument (or to a
share of it) and prints the reply of each query: exit status 0 when every
line went through, 1 when one failed (the error, or a share's
``:FLUBBER:ERROR`` reply, is printed), 2 for a bad address.
"""
import re
import logging
import sys

from flubber.instruments import InstrumentError, InstrumentShare, LineInstrument, ScpiServer, ScpiSimulator
from flubber.instruments.address import SIMULATORS
from flubber.instruments.share import ESCAPE, QUERY_PATTERN
from flubber.io import StreamError


def _terminator(text):
    """Turn the escapes a shell passes literally (``\\r\\n``) into the characters."""
    return text.encode("latin-1").decode("unicode_escape")


def run_simulate(args):
    """Run the simulator until stopped; return the exit status."""
    if args.pty:
        listen = "pty"
    elif args.pipe:
        listen = "pipe://" + args.pipe
    else:
        listen = "tcp://%s:%d" % (args.host, args.port)
    try:
        server = ScpiServer(listen, simulator=ScpiSimulator(delay=args.delay)).start()
    except StreamError as exc:
        print("flubber simulate: cannot listen on %s: %s; pick another with --port (0: any free one)"
              % (listen, exc), file=sys.stderr)
        return 1
    print("SCPI simulator at %s (one connection at a time; reply delay %g s); Ctrl-C stops"
          % (server.address, args.delay), flush=True)
    print("try: flubber share %s --port 5026" % server.address, flush=True)
    server.serve_forever()
    return 0


def run_share(args):
    """Share the instrument at the address until stopped; return the exit status."""
    logging.getLogger("flubber.instruments.share").setLevel(logging.INFO)
    try:
        instrument = _line_instrument(args)
        share = InstrumentShare(instrument, host=args.host, port=args.port, lock_timeout=args.lock_timeout)
    except (ValueError, LookupError) as exc:
        print("flubber share: %s" % exc, file=sys.stderr)
        return 2
    try:
        share.start()
    except StreamError as exc:
        instrument.stop()
        print("flubber share: cannot listen on %s:%d: %s; pick another with --port (0: any free one)"
              % (args.host, args.port, exc), file=sys.stderr)
        return 1
    host, port = share.address
    print("sharing %s on %s:%d; PyVISA: TCPIP::%s::%d::SOCKET; Ctrl-C stops"
          % (instrument.address, host, port, host, port), flush=True)
    try:
        share.serve_forever()
    finally:
        instrument.stop()
    stats = instrument.stats
    print("share stopped: %d queries, %d writes, %d errors for %d clients"
          % (stats.queries, stats.writes, stats.errors, len(share.finished)), flush=True)
    return 0


def run_query(args):
    """Send the lines, print the replies; return the exit status."""
    try:
        instrument = _line_instrument(args)
        is_query = re.compile(args.query_pattern).search
    except (ValueError, LookupError, re.error) as exc:
        print("flubber query: %s" % exc, file=sys.stderr)
        return 2
    try:
        for line in args.lines:
            if is_query(line):
                reply = instrument.query(line)
                if reply.startswith(ESCAPE + "ERROR"):  # a share could not get the instrument's reply
                    print("flubber query: %s" % reply, file=sys.stderr)
                    return 1
                print(reply, flush=True)
            else:
                instrument.write(line)
    except (InstrumentError, ValueError) as exc:
        print("flubber query: %s" % exc, file=sys.stderr)
        return 1
    finally:
        instrument.stop()
    return 0


def _add_line_options(parser):
    """Add --timeout, --terminator and --encoding: how to talk to the instrument."""
    parser.add_argument("--timeout", type=float, default=2.0, metavar="SECONDS",
                        help="seconds a request may take (default 2); example: --timeout 5")
    parser.add_argument("--terminator", default="\\n",
                        help="line terminator of the instrument, with escapes (default \\n); "
                             "example: --terminator '\\r\\n'")
    parser.add_argument("--encoding", default="ascii",
                        help="text encoding of the instrument (default ascii); example: --encoding latin-1")


def _line_instrument(args):
    """The LineInstrument of ``args.address`` with the options of :func:`_add_line_options`."""
    return LineInstrument(args.address, timeout=args.timeout, terminator=_terminator(args.terminator),
                          encoding=args.encoding)


def register(subparsers):
    """Add the ``simulate`` and ``share`` subcommands to *subparsers*."""
    parser = subparsers.add_parser(
        "simulate", help="run a simulated instrument (SCPI on TCP, a Unix socket or a pty)",
        description="Run a simulated SCPI instrument: *IDN?, MEAS:TEMP?, SOUR:TEMP <value>, SYST:ERR?, "
                    "ECHO? <text>, SIM:DELAY <seconds>. Like most LAN instruments it serves one connection "
                    "at a time. Stops on Ctrl-C or SIGTERM.",
        epilog="examples: flubber simulate scpi --port 5025 | flubber simulate scpi --pty | "
               "flubber simulate scpi --pipe /tmp/scpi.sock --delay 0.01",
    )
    parser.add_argument("kind", choices=SIMULATORS,
                        help="which simulator; example: flubber simulate scpi")
    parser.add_argument("--port", type=int, default=5025,
                        help="TCP port (default 5025, 0: any free one); example: --port 5025")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1); example: --host 0.0.0.0")
    parser.add_argument("--pipe", metavar="PATH",
                        help="listen on this Unix socket instead; example: --pipe /tmp/scpi.sock")
    parser.add_argument("--pty", action="store_true",
                        help="serve on a pseudo-terminal, opened as a serial port (its address is printed); "
                             "example: flubber simulate scpi --pty")
    parser.add_argument("--delay", type=float, default=0.002, metavar="SECONDS",
                        help="seconds before each reply (default 0.002); example: --delay 0.01")
    parser.set_defaults(func=run_simulate)

    parser = subparsers.add_parser(
        "share", help="share one instrument with many clients (PyVISA too) on a TCP port",
        description="Own the instrument at ADDRESS and serve its line protocol on a TCP port: each client's "
                    "lines are forwarded one request at a time, each reply goes to its client alone. A line "
                    "whose command ends in ? is a query. Escape lines: ':FLUBBER:LOCK? [SECONDS]' holds the "
                    "instrument (replies 1), ':FLUBBER:UNLOCK' gives it back, ':FLUBBER:STATS?' replies the "
                    "client's statistics. Stops on Ctrl-C or SIGTERM.",
        epilog="examples: flubber share tcp://192.168.1.20:5025 --port 5025 | "
               "flubber share 'serial:///dev/ttyUSB0?baudrate=9600' --port 5025 --terminator '\\r\\n' | "
               "then in Python: pyvisa.ResourceManager('@py').open_resource('TCPIP::127.0.0.1::5025::SOCKET')",
    )
    parser.add_argument("address",
                        help="the instrument: tcp://HOST:PORT, serial:///dev/X?baudrate=N, pipe:///path or "
                             "sim://scpi; example: tcp://192.168.1.20:5025")
    parser.add_argument("--port", type=int, default=5025,
                        help="TCP port to serve on (default 5025, 0: any free one); example: --port 5026")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only); example: --host 0.0.0.0")
    _add_line_options(parser)
    parser.add_argument("--lock-timeout", type=float, default=10.0, metavar="SECONDS",
                        help="a client's lock is taken back after this long without a request (default 10); "
                             "example: --lock-timeout 30")
    parser.set_defaults(func=run_share)

    parser = subparsers.add_parser(
        "query", help="send lines to a line instrument (or its share) and print the replies",
        description="Send each LINE to the instrument at ADDRESS, one at a time; a line whose command ends in ? "
                    "is a query and its reply is printed, any other line is written.",
        epilog="examples: flubber query tcp://127.0.0.1:5025 '*IDN?' 'MEAS:TEMP?' | "
               "flubber query tcp://127.0.0.1:5025 'SOUR:TEMP 40' 'SYST:ERR?' | "
               "flubber query 'serial:///dev/ttyUSB0?baudrate=9600' '*IDN?' --terminator '\\r\\n'",
    )
    parser.add_argument("address",
                        help="the instrument or a share: tcp://HOST:PORT, serial:///dev/X?baudrate=N, "
                             "pipe:///path or sim://scpi; example: tcp://127.0.0.1:5025")
    parser.add_argument("lines", nargs="+", metavar="LINE",
                        help="what to send, one line each; example: '*IDN?' 'SOUR:TEMP 40'")
    _add_line_options(parser)
    parser.add_argument("--query-pattern", default=QUERY_PATTERN, metavar="REGEX",
                        help="a line where this matches is a query (default: a command ending in ?); "
                             "example: --query-pattern '\\?$'")
    parser.set_defaults(func=run_query)
    return parser
