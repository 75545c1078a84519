"""read_until on a long line that arrives in 64-byte pieces: is it linear?

``python bench/io_readuntil.py --sizes 1048576 4194304 --repeat 3`` prints
one JSON object: for each size, the median seconds (wall clock, and CPU
time of this process) that
``conn.read_until(b"\\n", max_bytes=size)`` took on a flubber TCP connection
whose ``read_chunk_size`` is 64 (so every receive call returns at most 64
bytes), and, as the floor, the seconds a ``read_bytes(64)`` loop took to
receive the same bytes through the same 64-byte receive calls. The sender, a
:class:`flubber.io.TCPClient` in the same process, writes the whole line at
once over loopback. ``foreign_cpu`` tells how many CPUs the rest of the
machine used meanwhile (a disturbed wall-clock figure).
"""
import argparse
import json
import os
import statistics
import sys
import time

from gevent.event import AsyncResult

from flubber.io import TCPClient, TCPServer
from io_client import Meter  # this script's folder is first on sys.path

PIECE = 64


def _transfer(size, reader):
    """Send one *size*-byte line through loopback; return *reader*'s ``(seconds, cpu_seconds, nbytes)``.

    The CPU seconds are this process's (reader and sender): unlike the wall
    time, other processes on the machine do not inflate them.
    """
    result = AsyncResult()

    def handle(conn):
        conn.read_chunk_size = PIECE
        try:
            started, cpu_started = time.perf_counter(), time.process_time()
            nbytes = reader(conn, size)
            result.set((time.perf_counter() - started, time.process_time() - cpu_started, nbytes))
        except BaseException as exc:  # hand any failure to the waiting side
            result.set_exception(exc)
            raise

    server = TCPServer(handler=handle)
    server.bind(("127.0.0.1", 0))
    server.start()
    client = TCPClient()
    try:
        client.connect(("127.0.0.1", server.sockname[1]), timeout=5)
        client.write(b"a" * (size - 1) + b"\n")
        client.flush(timeout=60)
        return result.get(timeout=60)
    finally:
        client.close()
        server.close()


def read_line(conn, size):
    """The measured read: one read_until for the whole line."""
    return len(conn.read_until(b"\n", max_bytes=size))


def read_pieces(conn, size):
    """The floor: the same bytes by read_bytes(64), no search at all."""
    got = 0
    while got < size:
        data = conn.read_bytes(PIECE)
        if not data:
            break
        got += len(data)
    return got


def measure(size, repeat):
    """Medians over *repeat* runs of read_until and of the read_bytes floor for *size* bytes."""
    runs = {"read_until": ([], []), "read_bytes_floor": ([], [])}
    for _ in range(repeat):
        for name, reader in (("read_until", read_line), ("read_bytes_floor", read_pieces)):
            seconds, cpu_seconds, nbytes = _transfer(size, reader)
            if nbytes != size:
                raise RuntimeError("%s got %d bytes of a %d-byte line" % (name, nbytes, size))
            runs[name][0].append(seconds)
            runs[name][1].append(cpu_seconds)
    result = {"size": size}
    for name, (wall, cpu) in runs.items():
        result[name] = statistics.median(wall)
        result[name + "_cpu"] = statistics.median(cpu)
    return result


def main(argv=None):
    """Measure each size; print the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1 << 20, 4 << 20],
                        help="line lengths in bytes, e.g. 1048576 4194304")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size (median), e.g. 3")
    parser.add_argument("--cpu", type=int, default=None, help="pin this process to one CPU, e.g. 1")
    args = parser.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    meter = Meter(0)
    results = [measure(size, args.repeat) for size in args.sizes]
    sys.stdout.write(json.dumps({"sizes": results, "foreign_cpu": meter.stop()["foreign_cpu"]}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
