"""Echo server: every line a client sends comes straight back.

Run it, then talk to it with ``python examples/line_client.py``::

    python examples/echo_server.py --port 8700

Ctrl-C stops it: it says how many connections it served and exits with 130.
"""
import argparse
import logging
import signal
import sys

import gevent
from gevent.event import Event

from flubber.io import TCPServer


class EchoServer(TCPServer):
    """Send each received line back to the client that sent it."""

    #: Connections accepted so far.
    served = 0

    def handle_connection(self, connection):
        self.served += 1
        for line in connection:
            connection.write(line)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8700, help="TCP port, 0 for any free one (default 8700)")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    server = EchoServer()
    server.bind((args.host, args.port))
    interrupted = Event()

    def stop_by_ctrl_c():
        interrupted.set()
        server.close()

    ctrl_c = gevent.signal_handler(signal.SIGINT, stop_by_ctrl_c)
    server.start()  # listening before the banner says so
    print("echo server listening on %s:%d" % server.sockname[:2], flush=True)
    server.serve(duration=args.duration, stop_signals=(signal.SIGTERM,))
    ctrl_c.cancel()
    print("echo server stopped%s after %d connections" % (" by Ctrl-C" if interrupted.is_set() else "",
                                                         server.served), flush=True)
    return 130 if interrupted.is_set() else 0


if __name__ == "__main__":
    sys.exit(main())
