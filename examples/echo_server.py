"""Echo server: every line a client sends comes straight back.

Run it, then talk to it with ``python examples/line_client.py``::

    python examples/echo_server.py --port 8700
"""
import argparse
import logging
import signal

from flubber.io import TCPServer


class EchoServer(TCPServer):
    """Send each received line back to the client that sent it."""

    def handle_connection(self, connection):
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
    print("echo server listening on %s:%d" % server.sockname[:2], flush=True)
    server.serve(duration=args.duration, stop_signals=(signal.SIGINT, signal.SIGTERM))


if __name__ == "__main__":
    main()
