"""Dump the output of three devices at once: a local command, an endless one and a TCP instrument.

    python examples/dump_demo.py [--output-dir DIR]

A fake instrument (a telnet-like shell served by :class:`flubber.io.TCPServer`
on a free local port, with the prompt ``scope> ``) answers ``status``; the
dumps run concurrently as greenlets and the script prints each result.
"""
import argparse
import logging
import sys
import tempfile

from flubber.dump import LocalDevice, TCPDevice, TheDump, run_dumps
from flubber.io import TCPServer

STATUS = b"".join(b"channel %d: 1.%03d V\r\n" % (n, n * 7) for n in range(1, 9))


class FakeScope(TCPServer):
    """A shell with a banner and the prompt 'scope> '; 'status' prints eight channels."""

    def handle_connection(self, conn):
        conn.write(b"FakeScope 1.0\r\nscope> ")
        while True:
            line = conn.read_until(b"\n", max_bytes=1024)
            if not line:
                return
            command = line.strip()
            answer = STATUS if command == b"status" else b"unknown command %s\r\n" % command
            conn.write(command + b"\r\n" + answer + b"scope> ")


def main(argv=None):
    """Run the demo; return the exit status (1 if a dump failed)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", help="where the files go (default: a new temporary folder); "
                                             "example: --output-dir /tmp/dumps")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    folder = args.output_dir or tempfile.mkdtemp(prefix="flubber-dump-demo-")

    scope = FakeScope()
    scope.bind(("127.0.0.1", 0))
    scope.start()
    try:
        dumps = [
            TheDump("uname -a", LocalDevice(), identifier="uname", output_dir=folder),
            # never ends on its own: captured until 0.5 s of silence
            TheDump("echo booting; echo ready; sleep 600", identifier="console", output_dir=folder, timeout=0.5),
            TheDump("status", TCPDevice("127.0.0.1", scope.sockname[1], prompt=r"scope> ",
                                        line_ending="\r\n"), identifier="scope-status", output_dir=folder),
        ]
        results = run_dumps(dumps)
    finally:
        scope.close()
    for result in results:
        print("%-13s %-6s ended by %-8s %5d bytes -> %s" % (
            result.identifier, result.state, result.ended, result.bytes, result.path))
    return 1 if any(result.failed for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
