"""Line client: send lines to a server and print what comes back.

Lines come from the command line (``--send``) or, interactively, from the
terminal, read cooperatively with :class:`flubber.io.StdinStream` while
another greenlet prints what the server sends::

    python examples/line_client.py --port 8701
    python examples/line_client.py --port 8700 --send hello --send world
"""
import argparse
import sys

import gevent

from flubber.io import StdinStream, StdoutStream, TCPClient


def pump(source, sink):
    """Copy lines from stream *source* to stream *sink* until *source* ends."""
    for line in source:
        sink.write(line)
    sink.flush()


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
    if args.send:
        for line in args.send:
            client.write(line.encode() + b"\n")
        with gevent.Timeout(args.timeout):
            for _ in args.send:
                sys.stdout.write(client.read_until(b"\n").decode(errors="replace"))
        client.close()
        return 0

    printer = gevent.spawn(pump, client, StdoutStream())
    pump(StdinStream(), client)
    client.shutdown_write()
    printer.join(timeout=args.timeout)
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
