"""Line-based chat server: every line a client sends goes to every connected client.

Run it and connect a few clients (``python examples/line_client.py``, or
``nc 127.0.0.1 8701``)::

    python examples/chat_server.py --port 8701

Ctrl-C stops it: it says how many clients joined and exits with 130.
"""
import argparse
import logging
import signal
import sys

import gevent
from gevent.event import Event

from flubber.io import TCPServer

log = logging.getLogger("chat")


class ChatServer(TCPServer):
    """Broadcast each received line, prefixed with its sender, to all connections."""

    #: Clients that joined so far.
    joined = 0

    def handle_connection(self, connection):
        self.joined += 1
        who = "%s:%d" % connection.peername[:2]
        self.broadcast(b"* %s joined\n" % who.encode())
        log.info("%s joined", who)
        for line in connection:
            self.broadcast(b"<%s> %s" % (who.encode(), line if line.endswith(b"\n") else line + b"\n"))
        self.broadcast(b"* %s left\n" % who.encode(), skip=connection)
        log.info("%s left", who)

    def broadcast(self, message, skip=None):
        """Write *message* to every live connection except *skip*."""
        for other in self.connections:
            if other is not skip and not other.closed:
                other.write(message)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8701, help="TCP port, 0 for any free one (default 8701)")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    server = ChatServer()
    server.bind((args.host, args.port))
    interrupted = Event()

    def stop_by_ctrl_c():
        interrupted.set()
        server.close()

    ctrl_c = gevent.signal_handler(signal.SIGINT, stop_by_ctrl_c)
    server.start()  # listening before the banner says so
    print("chat server listening on %s:%d" % server.sockname[:2], flush=True)
    print("connect with: python examples/line_client.py --port %d" % server.sockname[1], flush=True)
    server.serve(duration=args.duration, stop_signals=(signal.SIGTERM,))
    ctrl_c.cancel()
    print("chat server stopped%s after %d clients joined" % (" by Ctrl-C" if interrupted.is_set() else "",
                                                            server.joined), flush=True)
    return 130 if interrupted.is_set() else 0


if __name__ == "__main__":
    sys.exit(main())
