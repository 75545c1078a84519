"""The one load client of the flubber.io benchmark, the same for every server.

``python bench/io_client.py MODE --port N [options]`` prints one JSON object
on its last stdout line. It is a single process with a plain ``select.epoll``
loop over non-blocking sockets: no threads, no greenlets, no framework, so
each request costs it one ``recv`` and one ``send`` and the server, pinned to
the other core, is what is measured. It reports its own CPU time, the
server's (from ``/proc/PID/stat``) and the rest of the machine's (from
``/proc/stat``), so the table can show who was busy and whether other
processes disturbed the run.

Modes:

``rr``
    Request/response ping-pong on ``--conns`` connections: each sends one
    100-byte line, waits for the whole echo, sends the next (no pipelining).
    Counts replies during ``--duration`` seconds after ``--warmup``.
``bulk``
    One connection; sends ``--megabytes`` MB (10**6 bytes) of 100-byte lines
    as fast as the server takes them while reading the echo back at the same
    time; the time runs until the last echoed byte is back.
``idle``
    Opens ``--conns`` connections that send nothing, in batches, waits until
    the server holds them all, and reports the server's VmRSS growth.
"""
import argparse
import errno
import json
import os
import select
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from _procs import BenchFailure, machine_busy_seconds, proc_cpu_seconds, proc_rss_kib, raise_nofile_limit  # noqa: E402

HOST = "127.0.0.1"
LINE = b"x" * 99 + b"\n"
#: Seconds without any progress after which a run is declared stuck.
STALL_SECONDS = 10.0


class BenchClientError(BenchFailure):
    """Raised when the server misbehaves (closes, stalls, echoes wrong bytes)."""


def proc_fd_count(pid):
    """Number of open descriptors of process *pid*."""
    return len(os.listdir("/proc/%d/fd" % pid))


def connect(port):
    """A connected, non-blocking TCP socket with Nagle off."""
    sock = socket.create_connection((HOST, port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(False)
    return sock


class Meter:
    """CPU time of this process, of the server and of everything else over a window."""

    def __init__(self, server_pid):
        self.server_pid = server_pid
        self.start()

    def start(self):
        """Open the window now."""
        self.t0 = time.perf_counter()
        self.own0 = time.process_time()
        self.srv0 = proc_cpu_seconds(self.server_pid) if self.server_pid else 0.0
        self.busy0 = machine_busy_seconds()

    def stop(self):
        """Close the window; return a dict of the elapsed seconds and CPU shares.

        ``client_cpu`` and ``server_cpu`` are the shares of one CPU the two
        processes used; ``foreign_cpu`` is what the rest of the machine used
        meanwhile (other processes, interrupts, a hypervisor's steal), in
        CPUs: above a few tenths the figure is disturbed.
        """
        elapsed = time.perf_counter() - self.t0
        own = time.process_time() - self.own0
        srv = (proc_cpu_seconds(self.server_pid) - self.srv0) if self.server_pid else 0.0
        busy = machine_busy_seconds() - self.busy0
        return {
            "seconds": elapsed,
            "client_cpu": own / elapsed,
            "server_cpu": srv / elapsed,
            "foreign_cpu": max(0.0, busy - own - srv) / elapsed,
        }


def request_response(port, conns, duration, warmup, server_pid):
    """Ping-pong on *conns* connections; return replies per second."""
    socks = {}
    for _ in range(conns):
        sock = connect(port)
        socks[sock.fileno()] = sock
    poller = select.epoll()
    got = dict.fromkeys(socks, 0)
    for fd, sock in socks.items():
        poller.register(fd, select.EPOLLIN)
    for sock in socks.values():
        sock.send(LINE)
    size = len(LINE)
    buf = bytearray(65536)
    count = 0
    counted_from = None
    meter = None
    now = time.perf_counter()
    warm_end = now + warmup
    end = warm_end + duration
    while True:
        events = poller.poll(STALL_SECONDS)
        if not events:
            raise BenchClientError("no reply for %s s with %d connections" % (STALL_SECONDS, conns))
        for fd, _ in events:
            sock = socks[fd]
            nbytes = sock.recv_into(buf)
            if not nbytes:
                raise BenchClientError("server closed a connection")
            have = got[fd] + nbytes
            if have >= size:
                if have != size:
                    raise BenchClientError("echo of %d bytes for one %d-byte line" % (have, size))
                have = 0
                count += 1
                sock.send(LINE)
            got[fd] = have
        now = time.perf_counter()
        if meter is None:
            if now >= warm_end:
                meter = Meter(server_pid)
                counted_from = count
        elif now >= end:
            break
    result = meter.stop()
    poller.close()
    for sock in socks.values():
        sock.close()
    result["requests"] = count - counted_from
    result["rate"] = result["requests"] / result["seconds"]
    return result


def bulk(port, megabytes, time_limit, server_pid):
    """Stream *megabytes* MB of lines through one connection; return MB/s."""
    block = LINE * 655  # 65,500 bytes
    nblocks = max(1, int(megabytes * 1e6) // len(block))
    total = nblocks * len(block)
    sock = connect(port)
    fd = sock.fileno()
    poller = select.epoll()
    poller.register(fd, select.EPOLLIN | select.EPOLLOUT)
    view = memoryview(block)
    offset = 0
    sent = 0
    received = 0
    buf = bytearray(1 << 18)
    tail = b""
    meter = Meter(server_pid)
    deadline = meter.t0 + time_limit
    while received < total:
        events = poller.poll(STALL_SECONDS)
        if not events:
            raise BenchClientError("bulk stalled: %d of %d bytes echoed, %d sent" % (received, total, sent))
        if time.perf_counter() > deadline:
            raise BenchClientError("bulk took longer than %s s (%d of %d bytes echoed)"
                                   % (time_limit, received, total))
        mask = events[0][1]
        if mask & select.EPOLLIN:
            nbytes = sock.recv_into(buf)
            if not nbytes:
                raise BenchClientError("server closed the bulk connection after %d bytes" % received)
            received += nbytes
            if received > total:
                raise BenchClientError("server echoed more than was sent")
            if received == total:
                tail = bytes(buf[max(0, nbytes - len(LINE)):nbytes])
        if mask & select.EPOLLOUT and sent < total:
            try:
                nbytes = sock.send(view[offset:])
            except BlockingIOError:
                nbytes = 0
            sent += nbytes
            offset = (offset + nbytes) % len(block)
            if sent == total:
                poller.modify(fd, select.EPOLLIN)
    result = meter.stop()
    poller.close()
    sock.close()
    if tail and not LINE.endswith(tail):
        raise BenchClientError("the echoed stream ends in %r, not in a line" % (tail,))
    result["bytes"] = total
    result["rate"] = total / result["seconds"] / 1e6
    return result


def ping(port):
    """One line there and back on a fresh connection (a barrier for the server)."""
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(LINE)
        got = b""
        while len(got) < len(LINE):
            data = sock.recv(4096)
            if not data:
                raise BenchClientError("server closed the ping connection")
            got += data


def stable_rss(pid, settle=0.3, attempts=20):
    """VmRSS of *pid* once two samples *settle* seconds apart agree (or after *attempts*)."""
    previous = proc_rss_kib(pid)
    for _ in range(attempts):
        time.sleep(settle)
        current = proc_rss_kib(pid)
        if current == previous:
            return current
        previous = current
    return previous


def idle(port, conns, server_pid, batch=500, time_limit=120.0):
    """Hold *conns* idle connections; return the server's RSS growth per connection."""
    limit = raise_nofile_limit()
    if conns + 64 > limit:
        raise BenchClientError("RLIMIT_NOFILE is %d here: cannot hold %d connections" % (limit, conns))
    ping(port)  # let the server allocate what its first connection needs
    time.sleep(0.2)
    fds_before = proc_fd_count(server_pid)
    rss_before = stable_rss(server_pid)
    deadline = time.perf_counter() + time_limit
    socks = []
    poller = select.epoll()
    while len(socks) < conns:
        pending = set()
        for _ in range(min(batch, conns - len(socks))):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            code = sock.connect_ex((HOST, port))
            if code not in (0, errno.EINPROGRESS):
                raise BenchClientError("connect failed after %d connections: %s"
                                       % (len(socks), os.strerror(code)))
            socks.append(sock)
            pending.add(sock.fileno())
            poller.register(sock.fileno(), select.EPOLLOUT)
        while pending:
            if time.perf_counter() > deadline:
                raise BenchClientError("connecting %d sockets took longer than %s s" % (conns, time_limit))
            for fd, _ in poller.poll(1.0):
                poller.unregister(fd)
                pending.discard(fd)
        # wait until the server accepted this batch, so the accept queue never overflows
        while proc_fd_count(server_pid) < fds_before + len(socks):
            if time.perf_counter() > deadline:
                raise BenchClientError("the server accepted only %d of %d connections in %s s"
                                       % (proc_fd_count(server_pid) - fds_before, len(socks), time_limit))
            time.sleep(0.01)
    broken = [sock for sock in socks if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)]
    if broken:
        raise BenchClientError("%d of %d connections failed" % (len(broken), conns))
    ping(port)  # every handler accepted before this one has started and blocked in its read
    rss_after = stable_rss(server_pid)
    held = proc_fd_count(server_pid) - fds_before
    poller.close()
    for sock in socks:
        sock.close()
    return {
        "connections": conns,
        "server_fds_added": held,
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "per_connection_kib": (rss_after - rss_before) / conns,
    }


def main(argv=None):
    """Parse the command line, run one mode, print its JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("rr", "bulk", "idle"))
    parser.add_argument("--port", type=int, required=True, help="server port on 127.0.0.1, e.g. 8600")
    parser.add_argument("--server-pid", type=int, default=0, help="server PID for CPU/RSS figures, e.g. 4242")
    parser.add_argument("--conns", type=int, default=1, help="connections (rr, idle), e.g. 50")
    parser.add_argument("--duration", type=float, default=3.0, help="counted seconds (rr), e.g. 3")
    parser.add_argument("--warmup", type=float, default=0.3, help="uncounted seconds first (rr), e.g. 0.3")
    parser.add_argument("--megabytes", type=float, default=200.0, help="MB to stream (bulk), e.g. 200")
    parser.add_argument("--time-limit", type=float, default=120.0, help="give up after (bulk, idle), e.g. 120")
    parser.add_argument("--cpu", type=int, default=None, help="pin this process to one CPU, e.g. 0")
    args = parser.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    try:
        if args.mode == "rr":
            result = request_response(args.port, args.conns, args.duration, args.warmup, args.server_pid)
        elif args.mode == "bulk":
            result = bulk(args.port, args.megabytes, args.time_limit, args.server_pid)
        else:
            result = idle(args.port, args.conns, args.server_pid, time_limit=args.time_limit)
    except (BenchFailure, OSError) as exc:
        sys.stderr.write("io_client %s: %s\n" % (args.mode, exc))
        return 1
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
