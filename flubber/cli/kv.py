"""``flubber get|set|cmd TARGET ...``: talk to a KV store over TCP or RabbitMQ.

The reply payload is printed on stdout as JSON, the retcode line on stderr.
Exit status: 0 for success (and warnings, retcodes 1-99), 1 for an error
retcode (>= 100), 3 when the server or broker cannot be reached or does not
answer in time, 2 for a usage error, 130 after Ctrl-C.
"""
import json
import os
import sys

from flubber.kvstore import (
    DEFAULT_PORT,
    OP_CMD,
    OP_GET,
    OP_SET,
    KVStoreError,
    TransportError,
    connect,
    exception_for_retcode,
    normalize_lockout_key,
)

#: Exit status when the server or broker cannot be reached or does not answer.
EXIT_UNREACHABLE = 3
#: Exit status for a reply with an error retcode.
EXIT_ERROR_RETCODE = 1
#: Exit status after Ctrl-C.
EXIT_INTERRUPTED = 130


def parse_value(text, as_string=False):
    """Return *text* as a JSON value (``20``, ``1.5``, ``true``, ``"x"``, ``[1, 2]``), else as the string itself."""
    if as_string:
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def retcode_name(retcode):
    """Return a short name for *retcode* (``success``, ``AccessDenied``, ...)."""
    if retcode == 0:
        return "success"
    return exception_for_retcode(retcode).__name__


def print_reply(reply, as_json=False, only_value=False, out=None, err=None):
    """Print *reply*: the payload (or, *as_json*, the whole reply) on *out*, the retcode on *err*."""
    out = out or sys.stdout
    err = err or sys.stderr
    if as_json:
        print(json.dumps(reply.to_dict(), indent=2, default=str), file=out)
        return
    payload = reply.payload
    if only_value and reply.retcode < 100:
        value = payload.get("value_cal", payload.get("value_raw"))
        if value is None and "values" in payload and payload["values"]:
            value = payload["values"][0]
        print(value if isinstance(value, str) else json.dumps(value), file=out)
    elif reply.retcode < 100:
        print(json.dumps(payload, default=str), file=out)
    message = ": " + reply.return_msg if reply.return_msg else ""
    print("retcode %d (%s)%s" % (reply.retcode, retcode_name(reply.retcode), message), file=err)


def _send(args, msgop, target, payload, lockout_key=None):
    address = args.broker or args.host
    if args.dripline == 4 and not args.broker:
        print("flubber %s: --dripline 4 is spoken over AMQP only; add --broker URL" % args.command,
              file=sys.stderr)
        return 2
    token = args.token if args.token is not None else os.environ.get("FLUBBER_TOKEN") or None
    try:
        with connect(address, timeout=args.timeout, token=token, ca=args.ca, dripline=args.dripline) as client:
            reply = client.request(target, msgop, payload, lockout_key=lockout_key)
    except KVStoreError as exc:
        # a broker that is down (or restarting) fails at once: say so first, the details follow
        unreachable = "broker unreachable: " if args.broker and isinstance(exc, TransportError) else ""
        print("flubber %s: %s%s" % (args.command, unreachable, exc), file=sys.stderr)
        return EXIT_UNREACHABLE
    except ValueError as exc:
        print("flubber %s: %s" % (args.command, exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        late = {OP_GET: "", OP_SET: "; the node may still set it: `flubber get %s` tells" % target,
                OP_CMD: "; the node may still run it"}[msgop]
        print("flubber %s: interrupted before %s replied to %s %s%s"
              % (args.command, address, args.command, target, late), file=sys.stderr)
        return EXIT_INTERRUPTED
    print_reply(reply, as_json=args.json, only_value=getattr(args, "only_value", False))
    return EXIT_ERROR_RETCODE if reply.retcode >= 100 else 0


def run_get(args):
    """``flubber get TARGET``."""
    return _send(args, OP_GET, args.target, {"values": []})


def run_set(args):
    """``flubber set TARGET VALUE``."""
    value = parse_value(args.value, args.string)
    return _send(args, OP_SET, args.target, {"values": [value]}, args.lockout_key)


def run_cmd(args):
    """``flubber cmd TARGET METHOD [ARGS ...]``."""
    payload = {"values": [parse_value(arg, args.string) for arg in args.args]}
    for item in args.kw:
        name, sep, text = item.partition("=")
        if not sep or not name:
            print("flubber cmd: --kw needs NAME=VALUE, e.g. --kw force=true; got %r" % item, file=sys.stderr)
            return 2
        payload[name] = parse_value(text, args.string)
    if args.force:
        payload["force"] = True
    try:
        normalize_lockout_key(args.lockout_key)
    except KVStoreError as exc:
        print("flubber cmd: %s" % exc, file=sys.stderr)
        return 2
    return _send(args, OP_CMD, args.target + "." + args.method, payload, args.lockout_key)


def _add_common(parser, example):
    """Add the options every KV command has; *example* is a whole command line without options."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--host", metavar="HOST[:PORT]", default="127.0.0.1:%d" % DEFAULT_PORT,
        help="the node's TCP server (default 127.0.0.1:%d); example: %s --host labpc:8600"
             % (DEFAULT_PORT, example))
    where.add_argument(
        "--broker", metavar="URL",
        help="go through RabbitMQ instead of TCP; example: "
             "%s --broker amqp://guest:guest@127.0.0.1:5672/%%%%2F" % example)
    parser.add_argument(
        "--token", metavar="TOKEN",
        help="write token of a node whose tcp section has tokens (default: the FLUBBER_TOKEN environment "
             "variable); example: %s --token \"$(cat ~/.flubber-token)\"" % example)
    parser.add_argument(
        "--ca", metavar="FILE",
        help="connect with TLS and trust only this CA file (PEM), for a node with tcp: tls:; example: "
             "%s --host labpc:8600 --ca lab-ca.pem" % example)
    parser.add_argument(
        "--dripline", type=int, choices=(3, 4), default=3, metavar="{3,4}",
        help="dripline version of the request sent through --broker (default 3; 4 is dripline-cpp's "
             "headers form; replies are read in either); example: %s --broker URL --dripline 4" % example)
    parser.add_argument(
        "-t", "--timeout", type=float, default=10.0, metavar="SECONDS",
        help="seconds to wait for the reply (default 10); example: %s -t 2" % example)
    parser.add_argument(
        "--json", action="store_true",
        help="print the whole reply message as JSON on stdout; example: %s --json" % example)


def register(subparsers):
    """Add the ``get``, ``set`` and ``cmd`` subcommands to *subparsers*."""
    exits = ("Prints the reply payload (JSON) on stdout and the retcode on stderr. Exit status 0 on success, "
             "1 for an error retcode, 3 when the server cannot be reached or does not answer.")
    get = subparsers.add_parser(
        "get", help="read a key of a KV store (dripline get)",
        description="Send a dripline get request to TARGET. " + exits,
        epilog="examples: flubber get setpoint | flubber get lab.kv.setpoint --host labpc | "
               "flubber get setpoint.calibration | flubber get kv.endpoint_names --value",
    )
    get.add_argument("target", metavar="TARGET",
                     help="a key name or NODE.STORE.KEY, optionally .ATTRIBUTE; example: lab.kv.setpoint")
    get.add_argument("--value", action="store_true", dest="only_value",
                     help="print only the value (value_cal, else value_raw); example: flubber get setpoint --value")
    _add_common(get, "flubber get setpoint")
    get.set_defaults(func=run_get)

    set_ = subparsers.add_parser(
        "set", help="set a key of a KV store (dripline set)",
        description="Send a dripline set request: TARGET takes VALUE (read as JSON when it is JSON, else as "
                    "text). " + exits,
        epilog="examples: flubber set setpoint 21.5 | flubber set mode '\"auto\"' | "
               "flubber set setpoint.calibration '2*{}' | flubber set setpoint 20 --lockout-key KEY",
    )
    set_.add_argument("target", metavar="TARGET",
                      help="a key name or NODE.STORE.KEY, optionally .ATTRIBUTE; example: setpoint")
    set_.add_argument("value", metavar="VALUE",
                      help="the new value, JSON (20, 1.5, true, \"text\") or plain text; example: 21.5")
    set_.add_argument("--lockout-key", metavar="KEY",
                      help="the key returned by lock, for a locked endpoint; example: --lockout-key 3f2a...")
    set_.add_argument("--string", action="store_true",
                      help="send VALUE as text even if it looks like JSON; example: flubber set label 007 --string")
    _add_common(set_, "flubber set setpoint 21.5")
    set_.set_defaults(func=run_set)

    cmd = subparsers.add_parser(
        "cmd", help="call a method of a key or store (dripline cmd: lock, unlock, ping, ...)",
        description="Send a dripline cmd request calling METHOD of TARGET with ARGS. " + exits,
        epilog="examples: flubber cmd setpoint lock | flubber cmd setpoint unlock --lockout-key KEY | "
               "flubber cmd setpoint unlock --force | flubber cmd kv list_endpoints | "
               "flubber cmd setpoint single_schedule 5",
    )
    cmd.add_argument("target", metavar="TARGET", help="a key or store name, or NODE.STORE[.KEY]; example: kv")
    cmd.add_argument("method", metavar="METHOD",
                     help="lock, unlock, ping, list_endpoints, scheduled_action, single_schedule, "
                          "set_condition; example: lock")
    cmd.add_argument("args", metavar="ARGS", nargs="*",
                     help="positional arguments of METHOD (JSON or text); example: flubber cmd setpoint "
                          "single_schedule 5")
    cmd.add_argument("--kw", metavar="NAME=VALUE", action="append", default=[],
                     help="a keyword argument of METHOD (repeatable); example: --kw force=true")
    cmd.add_argument("--force", action="store_true",
                     help="shortcut for --kw force=true (unlock without the key); example: "
                          "flubber cmd setpoint unlock --force")
    cmd.add_argument("--lockout-key", metavar="KEY",
                     help="the key returned by lock; example: flubber cmd setpoint unlock --lockout-key KEY")
    cmd.add_argument("--string", action="store_true",
                     help="send ARGS and --kw values as text; example: flubber cmd kv set_condition 1 --string")
    _add_common(cmd, "flubber cmd setpoint ping")
    cmd.set_defaults(func=run_cmd)
    return get, set_, cmd
