"""Dump the output of three devices at once: a local command, an endless one and a TCP instrument.

    python examples/dump_demo.py [--output-dir DIR] [--silence SECONDS]

A fake instrument (a telnet-like shell served by :class:`flubber.io.TCPServer`
on a free local port, with the prompt ``scope> ``) answers ``status``; the
dumps run concurrently as greenlets and the script prints each result.
Ctrl-C stops the dumps still running (their output so far stays in the
files), prints the results and exits with 130.
"""
import argparse
import logging
import signal
import sys
import tempfile

import gevent
from gevent.event import Event

from flubber.dump import LocalDevice, TCPDevice, TheDump
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
    parser.add_argument("--silence", type=float, default=0.5,
                        help="seconds of silence that end the endless console dump (default 0.5); "
                             "example: --silence 5")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    folder = args.output_dir or tempfile.mkdtemp(prefix="flubber-dump-demo-")

    scope = FakeScope()
    scope.bind(("127.0.0.1", 0))
    scope.start()
    try:
        dumps = [
            TheDump("uname -a", LocalDevice(), identifier="uname", output_dir=folder),
            # never ends on its own: captured until --silence seconds of silence
            TheDump("echo booting; echo ready; sleep 600", identifier="console", output_dir=folder,
                    timeout=args.silence),
            TheDump("status", TCPDevice("127.0.0.1", scope.sockname[1], prompt=r"scope> ",
                                        line_ending="\r\n"), identifier="scope-status", output_dir=folder),
        ]
        # one greenlet per dump, as flubber.dump.run_dumps does; Ctrl-C kills those still running
        interrupted = Event()
        ctrl_c = gevent.signal_handler(signal.SIGINT, interrupted.set)
        jobs = [gevent.spawn(dump) for dump in dumps]
        print("dumping %d devices into %s" % (len(dumps), folder), flush=True)
        try:
            gevent.wait([gevent.spawn(gevent.joinall, jobs), interrupted], count=1)
            cut = [dump for dump, job in zip(dumps, jobs) if not job.dead]
            gevent.killall(jobs)
        finally:
            ctrl_c.cancel()
    finally:
        scope.close()
    for dump in dumps:
        result = dump.result
        print("%-13s %-6s ended by %-8s %5d bytes -> %s" % (
            result.identifier, "cut" if dump in cut else result.state,
            "Ctrl-C" if dump in cut else result.ended, result.bytes, result.path))
    if interrupted.is_set():
        print("interrupted: %d of %d dumps finished, %d cut short (their output so far is kept)"
              % (len(dumps) - len(cut), len(dumps), len(cut)))
        return 130
    return 1 if any(dump.result.failed for dump in dumps) else 0


if __name__ == "__main__":
    sys.exit(main())
