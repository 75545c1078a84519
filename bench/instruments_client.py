"""One load client of the instruments benchmark: ``ECHO?`` queries on a plain socket, in its own process.

``python bench/instruments_client.py PORT ID SECONDS [--reconnect]`` sends
``ECHO? ID-n`` lines one at a time (no pipelining) for SECONDS, checks that
each reply is its own, and prints one JSON line: the replies, its own running time, the
mismatches and every round trip in microseconds. ``--reconnect`` opens a new connection
for each query, as scripts must when an instrument serves one connection at a
time and several of them want it.
"""
import json
import socket
import sys
import time


def _connect(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock, sock.makefile("rb")


def main(port, ident, seconds, reconnect=False):
    """Run the queries for *seconds*; print the JSON summary."""
    latencies, mismatches = [], 0
    sock, replies = (None, None) if reconnect else _connect(port)
    began = time.perf_counter()
    end = began + seconds
    number = 0
    while time.perf_counter() < end:
        asked = b"%s-%d" % (ident.encode("ascii"), number)
        started = time.perf_counter()
        if reconnect:
            sock, replies = _connect(port)
        sock.sendall(b"ECHO? " + asked + b"\n")
        reply = replies.readline()
        if reconnect:
            replies.close()
            sock.close()
        latencies.append(int((time.perf_counter() - started) * 1e6))
        if reply != asked + b"\n":
            mismatches += 1
            if not reply:
                break
        number += 1
    if not reconnect:
        replies.close()
        sock.close()
    elapsed = time.perf_counter() - began
    print(json.dumps({"id": ident, "replies": len(latencies), "seconds": elapsed, "mismatches": mismatches,
                      "latencies": latencies}))


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), "--reconnect" in sys.argv[4:])
