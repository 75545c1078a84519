"""``flubber pull HOST[:PORT] [COMMAND]``: ask a pull (or push) socket, print the reply.

Works with any PyExpLabSys-compatible UDP socket, flubber's or the
original's. A JSON reply of a pull socket is pretty-printed unless
``--raw`` is given; a push socket's reply (``ACK#...``, ``RET#...``) is
printed as it came on the wire.
Exit status: 0 for a reply, 1 when no reply came (timeout, nothing
listening, a host name that does not resolve), 3 when the socket answered
``UNKNOWN_COMMMAND`` (a push socket: ``ERROR#UNKNOWN_COMMMAND``), 130
after Ctrl-C.
"""
import json
import socket
import sys

from flubber._config import Where, check_port
from flubber.sockets import PUSH_ERROR, UNKNOWN_COMMAND, ClientError, UDPClient

#: The port asked when HOST has none (DateDataPullSocket's default).
DEFAULT_PORT = 9000
#: Exit status when the socket did not understand the command.
EXIT_UNKNOWN_COMMAND = 3
#: Exit status after Ctrl-C.
EXIT_INTERRUPTED = 130
#: The replies of a pull and of a push socket to a command they do not know.
UNKNOWN_REPLIES = (UNKNOWN_COMMAND, PUSH_ERROR + "#" + UNKNOWN_COMMAND)


def parse_target(target, default_port=DEFAULT_PORT):
    """Return ``(host, port)`` from ``HOST``, ``HOST:PORT``, ``[IPv6]:PORT`` or ``IPv6``.

    Raises :class:`ValueError` with a usage hint for a bad port.
    """
    host, port = target, default_port
    if target.startswith("["):
        host, _, rest = target[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError("%r: write [IPv6]:PORT, e.g. [::1]:9000" % target)
            port = rest[1:]
    elif target.count(":") == 1:
        host, port = target.split(":")
    try:
        port = int(port)
    except ValueError:
        raise ValueError("%r: the port must be a number, e.g. localhost:9000" % target) from None
    check_port(port, Where(repr(target), "port"), allow_zero=False)
    return host or "127.0.0.1", port


def format_reply(reply, raw=False):
    """Return *reply* for printing: pretty JSON when the whole reply is JSON (and not *raw*).

    Anything else, such as a push socket's ``RET#["json_wn#", ...]``, is
    returned as it came on the wire, on one line.
    """
    if raw or reply[:1] not in ("{", "["):
        return reply
    try:
        return json.dumps(json.loads(reply), indent=2)
    except ValueError:
        return reply


def run(args):
    """Send the command, print the reply, return the exit status."""
    try:
        host, port = parse_target(args.target)
    except ValueError as exc:
        print("flubber pull: %s" % exc, file=sys.stderr)
        return 2
    try:
        with UDPClient(host, port, timeout=args.timeout) as client:
            reply = client.request(args.command)
    except socket.gaierror as exc:
        print("flubber pull: cannot resolve the host name %r (%s); check its spelling, or give an IP address"
              % (host, exc.strerror or exc), file=sys.stderr)
        return 1
    except (ClientError, OSError) as exc:
        print("flubber pull: %s" % exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("flubber pull: interrupted before %s:%d replied to %r; nothing printed"
              % (host, port, args.command), file=sys.stderr)
        return EXIT_INTERRUPTED
    print(format_reply(reply, raw=args.raw))
    if reply in UNKNOWN_REPLIES:
        print("flubber pull: %s:%d does not know the command %r; `flubber pull %s codenames_json` lists the "
              "codenames of a pull socket, `commands` the commands of a push socket"
              % (host, port, args.command, args.target), file=sys.stderr)
        return EXIT_UNKNOWN_COMMAND
    return 0


def register(subparsers):
    """Add the ``pull`` subcommand to *subparsers*."""
    parser = subparsers.add_parser(
        "pull",
        help="ask a PyExpLabSys-style UDP socket and print its reply",
        description="Send one request to a pull (or push) socket and print the reply; "
                    "a pull socket's JSON is pretty-printed, a push socket's reply printed as it came. Exit status 1 when no reply comes, 3 for "
                    "UNKNOWN_COMMMAND (from a push socket: ERROR#UNKNOWN_COMMMAND).",
        epilog="examples: flubber pull rasppi42 | flubber pull 127.0.0.1:9010 codenames_json | "
               "flubber pull [::1]:9000 'oven_t1#raw' | "
               "flubber pull localhost:8500 'json_wn#{\"setpoint\": 20}'",
    )
    parser.add_argument(
        "target", metavar="HOST[:PORT]",
        help="the socket's host and port (default port %d); example: rasppi42:9010"
             % DEFAULT_PORT)
    parser.add_argument(
        "command", nargs="?", default="json_wn",
        help="the request (default json_wn): raw, json, raw_wn, json_wn, NAME#raw, NAME#json, "
             "codenames_raw, codenames_json, name, status; example: flubber pull host 'T1#raw'")
    parser.add_argument(
        "-t", "--timeout", type=float, default=2.0, metavar="SECONDS",
        help="seconds to wait for the reply (default 2); example: flubber pull host -t 0.5")
    parser.add_argument(
        "--raw", action="store_true",
        help="print the reply exactly as received, no pretty-printing; "
             "example: flubber pull host status --raw")
    parser.set_defaults(func=run)
    return parser
