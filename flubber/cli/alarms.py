"""``flubber alarms`` lists a node's alarms; ``flubber ack NAME`` acknowledges one.

Both go through the node's KV transports (TCP or RabbitMQ) to its
``alarms`` store, with the options of ``flubber get`` (``--host``,
``--broker``, ``--timeout``, ``--json``). Exit status: 0 when no alarm is
raised (``alarms``) or the ack was taken (``ack``), 1 when an alarm is
raised or the node refused, 3 when the node cannot be reached, 130 after
Ctrl-C.
"""
import json
import sys
import time

from flubber.cli import kv
from flubber.kvstore import OP_CMD, OP_GET, KVStoreError, connect

#: The node-relative address of the alarms store.
ALARMS_TARGET = "alarms"


def _target(args, suffix=""):
    base = "%s.%s" % (args.node, ALARMS_TARGET) if args.node else ALARMS_TARGET
    return base + suffix


def _age(seconds):
    if seconds is None:
        return "-"
    seconds = max(0.0, time.time() - seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return "%d%s ago" % (seconds // size, unit)
    return "%ds ago" % seconds


def format_alarms(payload):
    """Return the lines ``flubber alarms`` prints for the payload of a get of ``alarms``."""
    alarms = payload.get("alarms") or []
    if not alarms:
        return ["no alarms configured"]
    row = "%-16s %-8s %-3s %-10s %-10s %-8s %s"
    lines = [row % ("NAME", "SEVERITY", "ACK", "VALUE", "WORST", "RAISED", "WHY")]
    for alarm in alarms:
        value = "-" if alarm["value"] is None else "%.6g" % alarm["value"]
        worst = "-" if alarm["worst"] is None else "%.6g" % alarm["worst"]
        why = alarm["message"].split(": ", 1)[1] if ": " in alarm["message"] else ""
        lines.append(row % (alarm["name"], alarm["severity"], "yes" if alarm["acknowledged"] else "NO", value, worst,
                            _age(alarm["raised_at"]) if alarm["severity"] != "OK" else "-", why))
    return lines


def _request(args, msgop, target, payload):
    """Send one request; return the reply, or an exit status when there is none."""
    address = args.broker or args.host
    try:
        with connect(address, timeout=args.timeout) as client:
            return client.request(target, msgop, payload)
    except KVStoreError as exc:
        print("flubber %s: %s" % (args.command, exc), file=sys.stderr)
        return kv.EXIT_UNREACHABLE
    except ValueError as exc:
        print("flubber %s: %s" % (args.command, exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("flubber %s: interrupted before %s replied" % (args.command, address), file=sys.stderr)
        return kv.EXIT_INTERRUPTED


def run_alarms(args):
    """``flubber alarms``: print the node's alarms, worst first."""
    reply = _request(args, OP_GET, _target(args), {"values": []})
    if isinstance(reply, int):
        return reply
    if reply.retcode >= 100:
        kv.print_reply(reply)
        if reply.retcode == 102:
            print("flubber alarms: the node has no alarms store: does its file have an `alarms:` section?",
                  file=sys.stderr)
        return kv.EXIT_ERROR_RETCODE
    if args.json:
        print(json.dumps(reply.payload, indent=2))
    else:
        print("\n".join(format_alarms(reply.payload)))
    return 1 if reply.payload.get("worst", "OK") != "OK" else 0


def run_ack(args):
    """``flubber ack NAME``: acknowledge one alarm."""
    reply = _request(args, OP_CMD, _target(args, ".ack"), {"values": [args.name]})
    if isinstance(reply, int):
        return reply
    if reply.retcode >= 100:
        kv.print_reply(reply)
        return kv.EXIT_ERROR_RETCODE
    alarm = reply.payload
    if args.json:
        print(json.dumps(alarm, indent=2))
    elif alarm.get("was_unacknowledged"):
        print("acknowledged %s (%s)" % (alarm["name"], alarm["message"]))
    else:
        print("%s was already acknowledged (%s)" % (alarm["name"], alarm["message"]))
    return 0


def register(subparsers):
    """Add the ``alarms`` and ``ack`` subcommands to *subparsers*."""
    alarms = subparsers.add_parser(
        "alarms", help="list a node's alarms, worst first",
        description="List the alarms of a node (its `alarms:` section): severity, acknowledged, value, worst "
                    "value, when raised. Exit status 0 when all are OK, 1 when one is raised, 3 when the node "
                    "cannot be reached.",
        epilog="example: flubber alarms --host 127.0.0.1:8600")
    alarms.add_argument("--node", metavar="NODE",
                        help="the node's name, needed through a broker; example: flubber alarms --broker "
                             "amqp://guest:guest@127.0.0.1/%%2F --node lab")
    kv._add_common(alarms, "flubber alarms")
    alarms.set_defaults(func=run_alarms)
    ack = subparsers.add_parser(
        "ack", help="acknowledge one alarm of a node",
        description="Acknowledge an alarm: it stays raised until its value is back, but reminders stop.",
        epilog="example: flubber ack temperature --host 127.0.0.1:8600")
    ack.add_argument("name", metavar="NAME", help="the alarm (its codename or key); example: temperature")
    ack.add_argument("--node", metavar="NODE",
                     help="the node's name, needed through a broker; example: flubber ack temperature --broker "
                          "amqp://guest:guest@127.0.0.1/%%2F --node lab")
    kv._add_common(ack, "flubber ack temperature")
    ack.set_defaults(func=run_ack)
