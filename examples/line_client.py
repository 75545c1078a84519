"""Line client: send lines to a server and print what comes back.

Lines come from the command line (``--send``) or, interactively, from the
terminal, read cooperatively with :class:`flubber.io.StdinStream` while
another greenlet prints what the server sends::

    python examples/line_client.py --port 8701
    python examples/line_client.py --port 8700 --send hello --send world

Ctrl-C ends it: it says how many lines went each way and exits with 130.
"""
import argparse
import signal
import sys

import gevent
from gevent.event import Event

from flubber.io import StdinStream, StdoutStream, TCPClient


def pump(source, sink, counts, name):
    """Copy lines from stream *source* to stream *sink* until *source* ends, counting them in *counts[name]*."""
    for line in source:
        sink.write(line)
        counts[name] += 1
    sink.flush()


def send_lines(client, lines, counts, timeout):
    """Send *lines*, then print one reply line for each (``--send``)."""
    for line in lines:
        client.write(line.encode() + b"\n")
        counts["sent"] += 1
    with gevent.Timeout(timeout):
        for _ in lines:
            sys.stdout.write(client.read_until(b"\n").decode(errors="replace"))
            sys.stdout.flush()
            counts["received"] += 1


def talk(client, counts, timeout):
    """Send what is typed, print what the server sends, until the typing ends (Ctrl-D)."""
    printer = gevent.spawn(pump, client, StdoutStream(), counts, "received")
    try:
        pump(StdinStream(), client, counts, "sent")
        client.shutdown_write()
        printer.join(timeout=timeout)
    finally:
        printer.kill()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="server address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8700, help="server port (default 8700, the echo server)")
    parser.add_argument("--send", action="append", default=[], metavar="LINE",
                        help="send LINE, print the reply and exit (repeatable)")
    parser.add_argument("--timeout", type=float, default=5.0, help="connect/reply timeout in seconds")
    args = parser.parse_args(argv)

    client = TCPClient()
    client.connect((args.host, args.port), timeout=args.timeout)
    counts = {"sent": 0, "received": 0}
    # the conversation runs in a greenlet; Ctrl-C (or its end) wakes the main one
    interrupted = Event()
    ctrl_c = gevent.signal_handler(signal.SIGINT, interrupted.set)
    if args.send:
        job = gevent.spawn(send_lines, client, args.send, counts, args.timeout)
    else:
        job = gevent.spawn(talk, client, counts, args.timeout)
    try:
        gevent.wait([job, interrupted], count=1)
        if interrupted.is_set():
            job.kill()
            print("interrupted: %d lines sent, %d received" % (counts["sent"], counts["received"]),
                  file=sys.stderr, flush=True)
            return 130
        job.get()  # a lost connection or a reply timeout is raised here
        return 0
    finally:
        ctrl_c.cancel()
        client.close()


if __name__ == "__main__":
    sys.exit(main())
