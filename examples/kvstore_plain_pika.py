"""Talk to a flubber KV store through RabbitMQ with plain pika: no flubber import.

This is what any dripline tool does: publish a dripline request (JSON) to the
``requests`` topic exchange with the target as routing key, and read the
reply from a private queue named in ``reply_to``. Start a node first::

    flubber serve examples/kvstore.yaml --broker amqp://guest:guest@127.0.0.1:5672/%2F

then::

    python examples/kvstore_plain_pika.py setpoint            # get
    python examples/kvstore_plain_pika.py setpoint 21.5       # set
    python examples/kvstore_plain_pika.py setpoint.lock --cmd # cmd

It prints the reply message (JSON) and exits with 1 on an error retcode,
2 when no reply came in time, 130 after Ctrl-C.
"""
import argparse
import datetime
import getpass
import json
import socket
import sys
import time
import uuid

import pika
import pika.exceptions

OP_SET, OP_GET, OP_CMD = 0, 1, 9
T_REQUEST = 3


def dripline_request(msgop, values, lockout_key=None):
    """Return a dripline request message (a dict) as dripline 3 sends it."""
    return {
        "msgtype": T_REQUEST,
        "msgop": msgop,
        "timestamp": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "payload": {"values": values},
        "lockout_key": lockout_key,
        "sender_info": {"package": "plain-pika-example", "exe": sys.argv[0], "version": "1",
                        "hostname": socket.gethostname(), "username": getpass.getuser(), "service_name": ""},
    }


def send(url, target, message, timeout=10.0):
    """Publish *message* to routing key *target*; return the decoded reply (or None on timeout)."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.exchange_declare(exchange="requests", exchange_type="topic")
        queue = channel.queue_declare(queue="", exclusive=True, auto_delete=True).method.queue
        channel.queue_bind(queue=queue, exchange="requests", routing_key=queue)  # as dripline services expect
        correlation_id = str(uuid.uuid4())
        channel.basic_publish(
            exchange="requests", routing_key=target, body=json.dumps(message).encode("utf-8"),
            properties=pika.BasicProperties(reply_to=queue, correlation_id=correlation_id,
                                            content_encoding="application/json"),
        )
        print("sent to %r; waiting up to %g s for the reply (Ctrl-C gives up)" % (target, timeout),
              file=sys.stderr, flush=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            method, properties, body = channel.basic_get(queue=queue, auto_ack=True)
            if method is None:
                connection.process_data_events(time_limit=0.05)
                continue
            if properties.correlation_id == correlation_id:
                return json.loads(body)
        return None
    finally:
        try:
            connection.close()
        except pika.exceptions.AMQPError:  # Ctrl-C in the middle of a frame leaves nothing to close politely
            pass


def main(argv=None):
    """Send one get, set or cmd request; print the reply; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", help="routing key: a key name or NODE.STORE.KEY (cmd: TARGET.METHOD)")
    parser.add_argument("value", nargs="?", help="set this value (JSON or text); without it: get")
    parser.add_argument("--cmd", action="store_true", help="send a cmd request (TARGET.METHOD)")
    parser.add_argument("--lockout-key", help="the key returned by lock")
    parser.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/%2F", help="the broker")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the reply")
    args = parser.parse_args(argv)
    if args.cmd:
        message = dripline_request(OP_CMD, [], args.lockout_key)
    elif args.value is None:
        message = dripline_request(OP_GET, [], args.lockout_key)
    else:
        try:
            value = json.loads(args.value)
        except ValueError:
            value = args.value
        message = dripline_request(OP_SET, [value], args.lockout_key)
    try:
        reply = send(args.url, args.target, message, args.timeout)
    except KeyboardInterrupt:
        what = ("cmd", "get", "set")[(args.cmd, args.value is None, True).index(True)]
        print("interrupted: no reply to the %s request for %r came (a set or cmd may still be done by "
              "the node)" % (what, args.target), file=sys.stderr)
        return 130
    if reply is None:
        print("no reply within %g s: is a node serving %r on this broker?" % (args.timeout, args.target),
              file=sys.stderr)
        return 2
    print(json.dumps(reply, indent=2))
    return 1 if reply.get("retcode", 0) >= 100 else 0


if __name__ == "__main__":
    sys.exit(main())
