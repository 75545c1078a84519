"""flubber.kvstore benchmark: dripline get/set round trips over TCP and over RabbitMQ.

Run with ``python bench/run.py kvstore`` (``--quick`` for the smoke run). Two parts:

1. **TCP, JSON lines.** Every server answers the same dripline request lines
   (a get or a set of one key, with the ``sender_info`` a flubber client
   sends) with a dripline reply line, and runs in its own process pinned to
   one CPU: flubber's :class:`~flubber.kvstore.KVTCPServer` (a
   :class:`~flubber.kvstore.KVNode` with a key calibrated by ``"2*{}"``,
   evaluated safely), and four peers doing the same JSON work by hand with
   ``2*value`` computed directly: a raw gevent ``StreamServer`` with
   ``makefile().readline()``, asyncio and uvloop ``start_server`` streams,
   and :class:`socketserver.ThreadingTCPServer` (a thread per connection,
   PyExpLabSys' design). The load generator is a plain epoll loop in this
   process, pinned to the other CPU, the same for all: 1 or 16 connections,
   each with one request outstanding (a round trip: send, wait for the
   reply line, send the next). Servers alternate; figures are medians over
   the rounds. One more row measures flubber's own client
   (:class:`~flubber.kvstore.TCPKVClient`, 16 greenlets) against flubber's server.
2. **TLS against plain TCP.** flubber's server once plain and once with
   TLS (a certificate made with ``openssl`` for the run), each in its own
   pinned process; the get round trip of one blocking client (plain socket
   against :mod:`ssl`-wrapped socket) and of 16 :class:`~flubber.kvstore.TCPKVClient`
   greenlets (``ca=`` for TLS). Reports both and their ratio.
3. **AMQP (RabbitMQ on localhost).** flubber's
   :class:`~flubber.kvstore.AMQPService` in a server process and
   :class:`~flubber.kvstore.AMQPKVClient` here, against the peer: a plain
   pika ``BlockingConnection`` consumer answering the same way and a plain
   pika ``BlockingConnection`` client (16 clients: 16 threads). Reports
   round trips/s and the p50/p99 round-trip time.

It ends with the issue's bars, each marked met or missed with its figure.
The file is also the server program: ``bench_kvstore.py --serve KIND``.
"""
import argparse
import json
import os
import select
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from _procs import ROOT, BenchFailure, child_env, pick_cpus, proc_cpu_seconds  # noqa: E402

TCP_KINDS = ("flubber", "gevent", "asyncio", "uvloop", "threading")
LABELS = {
    "flubber": "flubber KVTCPServer",
    "gevent": "raw gevent StreamServer",
    "asyncio": "asyncio start_server",
    "uvloop": "uvloop start_server",
    "threading": "socketserver.ThreadingTCPServer",
    "flubber-client": "flubber TCPKVClient -> KVTCPServer",
}
KEY = "setpoint"
BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"

FULL = {"rounds": 5, "duration": 1.0, "warmup": 0.2, "clients": (1, 16), "amqp_requests": 2000,
        "amqp_duration": 2.0}
QUICK = {"rounds": 1, "duration": 0.15, "warmup": 0.05, "clients": (1, 16), "amqp_requests": 30,
         "amqp_duration": 0.3}

#: Bar of issue 6: get round trips/s over TCP with 16 clients.
BAR_TCP_GET_16 = 10000.0


def _sender_info():
    return {"package": "flubber", "exe": "bench", "version": "0.1.0", "commit": "", "hostname": socket.gethostname(),
            "username": "bench", "service_name": "client"}


def request_line(msgop, target=KEY, values=()):
    """One dripline request as a flubber client sends it over TCP (bytes, newline-terminated)."""
    return (json.dumps({
        "msgtype": 3, "msgop": msgop, "timestamp": "2026-01-01T00:00:00.000000Z",
        "payload": {"values": list(values)}, "lockout_key": None, "sender_info": _sender_info(), "target": target,
    }, separators=(",", ":")) + "\n").encode()


REQUESTS = {"get": request_line(1), "set": request_line(0, values=[21.5])}


# == the servers (each runs in its own process) =========================================

class PeerStore:
    """What every peer server does with one request line: dripline decode, act, encode (no flubber)."""

    def __init__(self):
        self.values = {KEY: 20.0}
        self.sender = dict(_sender_info(), service_name="peer")

    def answer(self, line):
        request = json.loads(line)
        target, msgop = request["target"], request["msgop"]
        if msgop == 1:
            value = self.values[target]
            payload = {"value_raw": value, "value_cal": 2 * value}
        else:
            value = request["payload"]["values"][0]
            self.values[target] = value
            payload = {"values": [value]}
        now = time.time()
        reply = {"msgtype": 2, "retcode": 0, "return_msg": "", "payload": payload,
                 "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".%06dZ" % (now % 1 * 1e6),
                 "sender_info": self.sender}
        return json.dumps(reply, separators=(",", ":")).encode() + b"\n"


def _announce(*values):
    print("PORT", *values, flush=True)


def _node(name="bench", key=KEY):
    from flubber.kvstore import KVNode, KVStore, KVStoreKey
    return KVNode(name, [KVStore(name="kv", endpoints=[KVStoreKey(name=key, initial_value=20.0, calibration="2*{}")])])


def serve_flubber():
    import gevent.event
    from flubber.kvstore import KVTCPServer
    server = KVTCPServer(_node())
    server.bind(("127.0.0.1", 0))
    server.start()
    _announce(server.sockname[1])
    gevent.event.Event().wait()


def serve_gevent():
    import gevent.server
    store = PeerStore()

    def handle(sock, address):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = sock.makefile("rb")
        for line in reader:
            sock.sendall(store.answer(line))

    server = gevent.server.StreamServer(("127.0.0.1", 0), handle)
    server.start()
    _announce(server.server_port)
    server.serve_forever()


def _asyncio(loop):
    import asyncio
    store = PeerStore()

    async def handle(reader, writer):
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            line = await reader.readline()
            if not line:
                break
            writer.write(store.answer(line))
            await writer.drain()
        writer.close()

    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0))
    _announce(server.sockets[0].getsockname()[1])
    loop.run_forever()


def serve_asyncio():
    import asyncio
    _asyncio(asyncio.new_event_loop())


def serve_uvloop():
    import uvloop
    _asyncio(uvloop.new_event_loop())


def serve_threading():
    import socketserver
    store = PeerStore()
    lock = threading.Lock()

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for line in self.rfile:
                with lock:
                    reply = store.answer(line)
                self.wfile.write(reply)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    _announce(server.server_address[1])
    server.serve_forever()


def serve_flubber_tls(cert, key):
    import gevent.event
    from flubber.kvstore import KVTCPServer
    from flubber.kvstore.tcp import server_ssl_context
    server = KVTCPServer(_node(), ssl_context=server_ssl_context(cert, key))
    server.bind(("127.0.0.1", 0))
    server.start()
    _announce(server.sockname[1])
    gevent.event.Event().wait()


def serve_flubber_amqp(url, key):
    import gevent.event
    from flubber.kvstore import AMQPService
    service = AMQPService(_node("bench%d" % os.getpid(), key), url, forward_remote=False).start()
    if not service.wait_ready(15):
        raise SystemExit("the AMQP service did not get ready")
    _announce(0)
    gevent.event.Event().wait()


def serve_pika_amqp(url, key):
    import pika
    store = PeerStore()
    store.values = {key: 20.0}
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.exchange_declare(exchange="requests", exchange_type="topic")
    queue = channel.queue_declare(queue="", exclusive=True, auto_delete=True).method.queue
    channel.queue_bind(queue=queue, exchange="requests", routing_key=key + ".#")

    def on_message(ch, method, properties, body):
        message = json.loads(body)
        message["target"] = method.routing_key
        ch.basic_publish(exchange="", routing_key=properties.reply_to, body=store.answer(json.dumps(message)),
                         properties=pika.BasicProperties(correlation_id=properties.correlation_id,
                                                         content_encoding="application/json"))

    channel.basic_consume(queue=queue, on_message_callback=on_message, auto_ack=True)
    _announce(0)
    channel.start_consuming()


SERVERS = {"flubber": serve_flubber, "flubber-tls": serve_flubber_tls, "gevent": serve_gevent, "asyncio": serve_asyncio, "uvloop": serve_uvloop,
           "threading": serve_threading, "flubber-amqp": serve_flubber_amqp, "pika-amqp": serve_pika_amqp}


# == the client side =====================================================================

class Server:
    """One server process; ``port`` once it announced itself."""

    def __init__(self, kind, args=(), cpu=None):
        command = [sys.executable, os.path.abspath(__file__), "--serve", kind] + list(args)
        if cpu is not None:
            command = ["taskset", "-c", str(cpu)] + command if _have_taskset() else command
        self.kind = kind
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env(), cwd=ROOT)
        deadline = time.monotonic() + 30
        line = b""
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if line.startswith(b"PORT") or not line:
                break
        if not line.startswith(b"PORT"):
            self.stop()
            raise BenchFailure("%s server did not start: %s" % (kind, self.process.stderr.read().decode()[-300:]))
        self.port = int(line.split()[1])

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


_TASKSET = None


def _have_taskset():
    global _TASKSET
    if _TASKSET is None:
        _TASKSET = subprocess.call(["sh", "-c", "command -v taskset"], stdout=subprocess.DEVNULL) == 0
    return _TASKSET


def load(port, clients, request, duration, warmup, counted=None):
    """Drive *clients* connections, one request outstanding each; return (round trips/s, latencies).

    *counted*, a list, gets the number of round trips of the whole run (warm-up included).
    """
    socks = []
    poller = select.epoll()
    try:
        for _ in range(clients):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
            socks.append(sock)
        by_fd = {sock.fileno(): sock for sock in socks}
        buffers = dict.fromkeys(by_fd, b"")
        sent = {}
        first = {}
        for fd, sock in by_fd.items():
            poller.register(fd, select.EPOLLIN)
            sock.send(request)
            sent[fd] = time.perf_counter()
        begin = time.perf_counter() + warmup
        end = begin + duration
        count = total = 0
        latencies = []
        while True:
            now = time.perf_counter()
            if now >= end:
                break
            events = poller.poll(min(1.0, end - now))
            if not events and time.perf_counter() < end and time.perf_counter() - min(sent.values()) > 5:
                raise BenchFailure("no reply for 5 s")
            for fd, _ in events:
                data = by_fd[fd].recv(65536)
                if not data:
                    raise BenchFailure("server closed the connection")
                buffer = buffers[fd] + data
                if not buffer.endswith(b"\n"):
                    buffers[fd] = buffer
                    continue
                buffers[fd] = b""
                total += 1
                done = time.perf_counter()
                if fd not in first:
                    first[fd] = json.loads(buffer)
                    if first[fd].get("retcode") != 0:
                        raise BenchFailure("error reply: %s" % buffer[:200])
                if done >= begin:
                    count += 1
                    latencies.append(done - sent[fd])
                by_fd[fd].send(request)
                sent[fd] = time.perf_counter()
        if counted is not None:
            counted.append(total)
        return count / duration, latencies
    finally:
        poller.close()
        for sock in socks:
            sock.close()


def flubber_client_load(port, clients, duration, warmup, ca=None):
    """flubber's own TCPKVClient, *clients* greenlets, one client each; return round trips/s.

    *ca*: the CA file of a TLS server (None: plain TCP).
    """
    import gevent
    from flubber.kvstore import TCPKVClient
    stop_at = time.perf_counter() + warmup + duration
    begin = time.perf_counter() + warmup
    counts = []

    def worker():
        client = TCPKVClient(("127.0.0.1", port), ca=ca)
        count = 0
        while True:
            client.get(KEY)
            now = time.perf_counter()
            if now >= stop_at:
                break
            if now >= begin:
                count += 1
        client.close()
        counts.append(count)

    gevent.joinall([gevent.spawn(worker) for _ in range(clients)], raise_error=True)
    return sum(counts) / duration


def percentile(values, fraction):
    """The *fraction* percentile of *values* (nearest rank), or nan."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def tcp_part(cfg):
    """Measure every TCP server; return ``{(kind, op, clients): (rate, p50_us, p99_us)}`` and failures."""
    server_cpu, client_cpu = pick_cpus()
    old_affinity = os.sched_getaffinity(0) if client_cpu is not None else None
    if client_cpu is not None:
        os.sched_setaffinity(0, {client_cpu})
    servers, failures, samples = {}, {}, {}
    try:
        for kind in TCP_KINDS:
            try:
                servers[kind] = Server(kind, cpu=server_cpu)
            except BenchFailure as exc:
                failures[kind] = str(exc)
        for round_index in range(cfg["rounds"]):
            order = list(servers)
            order = order[round_index % len(order):] + order[:round_index % len(order)]
            for kind in order:
                for op in ("get", "set"):
                    for clients in cfg["clients"]:
                        pid = servers[kind].process.pid
                        counted = []
                        try:
                            cpu_before = proc_cpu_seconds(pid)
                            rate, latencies = load(servers[kind].port, clients, REQUESTS[op], cfg["duration"],
                                                   cfg["warmup"], counted)
                            cpu_after = proc_cpu_seconds(pid)
                        except (BenchFailure, OSError, ValueError) as exc:
                            failures[kind] = str(exc)
                            continue
                        cpu_us = float("nan")
                        if cpu_before is not None and cpu_after is not None and counted[0]:
                            cpu_us = (cpu_after - cpu_before) / counted[0] * 1e6
                        samples.setdefault((kind, op, clients), []).append(
                            (rate, percentile(latencies, 0.5) * 1e6, percentile(latencies, 0.99) * 1e6, cpu_us))
        if "flubber" in servers:
            rates = [flubber_client_load(servers["flubber"].port, 16, cfg["duration"], cfg["warmup"])
                     for _ in range(cfg["rounds"])]
            samples[("flubber-client", "get", 16)] = [(rate, float("nan"), float("nan"), float("nan"))
                                                      for rate in rates]
    finally:
        for server in servers.values():
            server.stop()
        if old_affinity is not None:
            os.sched_setaffinity(0, old_affinity)
    results = {key: tuple(statistics.median(sample[i] for sample in values) for i in range(4))
               for key, values in samples.items()}
    return results, failures


def print_tcp(results, failures, cfg):
    print("\nDripline over TCP (JSON lines) on 127.0.0.1: medians of %d round(s) of %.1f s; server pinned to "
          "one CPU, load generator to the other" % (cfg["rounds"], cfg["duration"]))
    header = "%-36s %-3s %7s %12s %9s %9s %12s %12s" % ("server", "op", "clients", "round trips/s", "p50 us",
                                                          "p99 us", "flubber/this", "CPU us/rt")
    print(header)
    print("-" * len(header))
    for op in ("get", "set"):
        for clients in cfg["clients"]:
            mine = results.get(("flubber", op, clients))
            for kind in TCP_KINDS:
                value = results.get((kind, op, clients))
                if value is None:
                    print("%-36s %-3s %7d   FAILED: %s" % (LABELS[kind], op, clients, failures.get(kind, "?")[:60]))
                    continue
                ratio = mine[0] / value[0] if mine and value[0] else float("nan")
                print("%-36s %-3s %7d %12.0f %9.0f %9.0f %11.2fx %12.1f" % (
                    LABELS[kind], op, clients, value[0], value[1], value[2], ratio, value[3]))
            print()
    extra = results.get(("flubber-client", "get", 16))
    if extra:
        print("%-36s %-3s %7d %12.0f   (client and server both flubber, full JSON decode on both sides)"
              % (LABELS["flubber-client"], "get", 16, extra[0]))
    print("flubber/this = flubber's round trips/s / this server's (above 1: flubber serves more). The peers do the "
          "same JSON work but compute 2*value directly; flubber evaluates the key's calibration \"2*{}\" safely.")
    print("CPU us/rt = the server process's CPU time per round trip (from /proc): independent of what else runs "
          "on the machine; 1e6 / it is what one free CPU could serve.")


# -- TLS ------------------------------------------------------------------------------------

def make_certificate(folder):
    """Write a self-signed certificate for 127.0.0.1 and its key into *folder* with openssl; return the paths."""
    cert, key = os.path.join(folder, "node.pem"), os.path.join(folder, "node.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def blocking_round_trips(port, request, duration, warmup, context=None):
    """One blocking client sending *request* and reading its reply line, again and again.

    *context* wraps the socket in TLS. Returns (round trips/s, latencies, round trips including the warm-up).
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if context is not None:
        sock = context.wrap_socket(sock, server_hostname="127.0.0.1")
    reader = sock.makefile("rb")
    try:
        begin = time.perf_counter() + warmup
        end = begin + duration
        latencies = []
        total = 0
        while True:
            started = time.perf_counter()
            if started >= end:
                break
            sock.sendall(request)
            line = reader.readline()
            if not line.endswith(b"\n"):
                raise BenchFailure("server closed the connection")
            total += 1
            if started >= begin:
                latencies.append(time.perf_counter() - started)
        return len(latencies) / duration, latencies, total
    finally:
        reader.close()
        sock.close()


def tls_part(cfg):
    """Measure flubber's server plain and with TLS; return ``{(kind, clients): (rate, p50_us, p99_us)}``, failures."""
    import ssl
    import tempfile
    server_cpu, client_cpu = pick_cpus()
    old_affinity = os.sched_getaffinity(0) if client_cpu is not None else None
    results, failures, samples = {}, {}, {}
    folder = tempfile.mkdtemp(prefix="flubber-bench-tls-")
    servers = {}
    try:
        try:
            cert, key = make_certificate(folder)
        except (OSError, subprocess.CalledProcessError) as exc:
            return {}, {"tls": "openssl could not make a certificate: %s" % exc}
        context = ssl.create_default_context(cafile=cert)
        if client_cpu is not None:
            os.sched_setaffinity(0, {client_cpu})
        for kind, args in (("flubber", ()), ("flubber-tls", (cert, key))):
            try:
                servers[kind] = Server(kind, args, cpu=server_cpu)
            except BenchFailure as exc:
                failures[kind] = str(exc)
        for _ in range(cfg["rounds"]):
            for kind, server in servers.items():
                tls = kind == "flubber-tls"
                try:
                    cpu_before = proc_cpu_seconds(server.process.pid)
                    rate, latencies, total = blocking_round_trips(server.port, REQUESTS["get"], cfg["duration"],
                                                                  cfg["warmup"], context if tls else None)
                    cpu_us = (proc_cpu_seconds(server.process.pid) - cpu_before) / max(total, 1) * 1e6
                    samples.setdefault((kind, 1), []).append(
                        (rate, percentile(latencies, 0.5) * 1e6, percentile(latencies, 0.99) * 1e6, cpu_us))
                    rate = flubber_client_load(server.port, 16, cfg["duration"], cfg["warmup"], cert if tls else None)
                    samples.setdefault((kind, 16), []).append((rate, float("nan"), float("nan"), float("nan")))
                except (BenchFailure, OSError, ValueError) as exc:
                    failures[kind] = "%s: %s" % (type(exc).__name__, exc)
    finally:
        for server in servers.values():
            server.stop()
        if old_affinity is not None:
            os.sched_setaffinity(0, old_affinity)
        for name in os.listdir(folder):
            os.unlink(os.path.join(folder, name))
        os.rmdir(folder)
    results = {key: tuple(statistics.median(sample[i] for sample in values) for i in range(4))
               for key, values in samples.items()}
    return results, failures


def _times(value, reference):
    """``1.23x``, or ``n/a`` when *reference* is 0 (nothing measured in the window on a loaded machine)."""
    return "%.2fx" % (value / reference) if reference else "n/a"


def print_tls(results, failures, cfg):
    print("\nGet round trips, flubber KVTCPServer with TLS (TLS 1.3, P-256 certificate) against plain TCP: "
          "medians of %d round(s) of %.1f s" % (cfg["rounds"], cfg["duration"]))
    if "tls" in failures:
        print("!!! TLS SKIPPED: %s" % failures["tls"])
        return
    header = "%-46s %7s %12s %9s %9s %10s" % ("client -> server", "clients", "round trips/s", "p50 us", "p99 us",
                                              "CPU us/rt")
    print(header)
    print("-" * len(header))
    labels = {1: "one blocking socket", 16: "16 TCPKVClient greenlets"}
    for clients in (1, 16):
        for kind in ("flubber", "flubber-tls"):
            value = results.get((kind, clients))
            name = "%s -> %s" % (labels[clients], "TLS" if kind == "flubber-tls" else "plain TCP")
            if value is None:
                print("%-46s %7d   FAILED: %s" % (name, clients, failures.get(kind, "?")[:60]))
                continue
            print("%-46s %7d %12.0f %9.0f %9.0f %10.1f" % (name, clients, value[0], value[1], value[2], value[3]))
        plain, tls = results.get(("flubber", clients)), results.get(("flubber-tls", clients))
        if plain and tls:
            print("%-46s %7d %12s%s" % ("  TLS / plain (round trips/s)", clients, _times(tls[0], plain[0]),
                                        "   p50 %s, server CPU per round trip %s"
                                        % (_times(tls[1], plain[1]), _times(tls[3], plain[3])) if clients == 1 else ""))
        print()
    print("CPU us/rt = the server process's CPU time per round trip (from /proc), steadier than the rates on a "
          "busy machine. The 16-greenlet rows include each client's TLS handshake in the warm-up.")


# -- AMQP -----------------------------------------------------------------------------------

def _broker_up():
    try:
        with socket.create_connection(("127.0.0.1", 5672), timeout=1):
            return True
    except OSError:
        return False


def sequential(call, requests):
    """Time *requests* calls of ``call(op)`` per op; return ``{(op, 1): (rate, p50_us, p99_us)}``."""
    results = {}
    for op in ("get", "set"):
        latencies = []
        for _ in range(requests):
            started = time.perf_counter()
            call(op)
            latencies.append(time.perf_counter() - started)
        results[(op, 1)] = (len(latencies) / sum(latencies), percentile(latencies, 0.5) * 1e6,
                            percentile(latencies, 0.99) * 1e6)
    return results


def amqp_flubber(cfg, key):
    import gevent
    from flubber.kvstore import AMQPKVClient
    client = AMQPKVClient(BROKER_URL)
    try:
        client.get(key)
        results = sequential(lambda op: client.get(key) if op == "get" else client.set(key, 21.5),
                             cfg["amqp_requests"])
        counts = []
        stop_at = time.perf_counter() + cfg["amqp_duration"]

        def worker():
            mine = AMQPKVClient(BROKER_URL)
            count = 0
            try:
                while time.perf_counter() < stop_at:
                    mine.get(key)
                    count += 1
            finally:
                mine.close()
            counts.append(count)

        gevent.joinall([gevent.spawn(worker) for _ in range(16)], raise_error=True)
        results[("get", 16)] = (sum(counts) / cfg["amqp_duration"], float("nan"), float("nan"))
    finally:
        client.close()
    return results


def _pika_client(key):
    import pika
    connection = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
    channel = connection.channel()
    queue = channel.queue_declare(queue="", exclusive=True, auto_delete=True).method.queue
    replies = {}
    channel.basic_consume(queue=queue, auto_ack=True,
                          on_message_callback=lambda ch, method, props, body: replies.__setitem__(
                              props.correlation_id, body))

    def call(op):
        correlation_id = uuid.uuid4().hex
        body = REQUESTS[op].replace(b'"target":"%s"' % KEY.encode(), b'"target":"%s"' % key.encode())
        channel.basic_publish(exchange="requests", routing_key=key, body=body,
                              properties=pika.BasicProperties(reply_to=queue, correlation_id=correlation_id,
                                                              content_encoding="application/json"))
        deadline = time.monotonic() + 10
        while correlation_id not in replies:
            connection.process_data_events(time_limit=0.01)
            if time.monotonic() > deadline:
                raise BenchFailure("pika peer: no reply within 10 s")
        return replies.pop(correlation_id)

    return connection, call


def amqp_pika(cfg, key):
    connection, call = _pika_client(key)
    try:
        call("get")
        results = sequential(call, cfg["amqp_requests"])
    finally:
        connection.close()
    counts = []
    stop_at = time.perf_counter() + cfg["amqp_duration"]

    def worker():
        conn, thread_call = _pika_client(key)
        count = 0
        try:
            while time.perf_counter() < stop_at:
                thread_call("get")
                count += 1
        finally:
            conn.close()
        counts.append(count)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    results[("get", 16)] = (sum(counts) / cfg["amqp_duration"], float("nan"), float("nan"))
    return results


def amqp_part(cfg):
    """Return ``{("flubber"|"pika", op, clients): (rate, p50_us, p99_us)}`` and failures (empty without broker)."""
    if not _broker_up():
        return {}, {"broker": "RabbitMQ is not listening on 127.0.0.1:5672 (start it with scripts/services.sh)"}
    results, failures = {}, {}
    tag = "bench%x" % os.getpid()
    for kind, measure in (("flubber", amqp_flubber), ("pika", amqp_pika)):
        key = "%s_%s" % (tag, kind)
        server = None
        try:
            server = Server("flubber-amqp" if kind == "flubber" else "pika-amqp", [BROKER_URL, key])
            for (op, clients), value in measure(cfg, key).items():
                results[(kind, op, clients)] = value
        except Exception as exc:  # one failing side must not hide the other's figures
            failures[kind] = "%s: %s" % (type(exc).__name__, exc)
        finally:
            if server is not None:
                server.stop()
    return results, failures


def print_amqp(results, failures, cfg):
    print("\nDripline over RabbitMQ on localhost: %d sequential requests per op (1 client), %.1f s with 16 clients"
          % (cfg["amqp_requests"], cfg["amqp_duration"]))
    if "broker" in failures:
        print("!!! AMQP SKIPPED: %s" % failures["broker"])
        return
    header = "%-44s %-3s %7s %12s %9s %9s %12s" % ("client -> service", "op", "clients", "round trips/s", "p50 us",
                                                     "p99 us", "flubber/pika")
    print(header)
    print("-" * len(header))
    labels = {"flubber": "flubber AMQPKVClient -> AMQPService", "pika": "pika Blocking client -> Blocking consumer"}
    for op, clients in (("get", 1), ("set", 1), ("get", 16)):
        mine = results.get(("flubber", op, clients))
        for kind in ("flubber", "pika"):
            value = results.get((kind, op, clients))
            if value is None:
                print("%-44s %-3s %7d   FAILED: %s" % (labels[kind], op, clients, failures.get(kind, "?")[:60]))
                continue
            ratio = mine[0] / value[0] if mine and value[0] else float("nan")
            print("%-44s %-3s %7d %12.0f %9.0f %9.0f %11.2fx" % (labels[kind], op, clients, value[0], value[1],
                                                                 value[2], ratio))
        print()
    print("flubber/pika = flubber's round trips/s / the plain pika pair's (16 pika clients are 16 threads).")


def main(quick=False):
    """Run both parts and print the tables and the bars."""
    cfg = QUICK if quick else FULL
    tcp, tcp_failures = tcp_part(cfg)
    print_tcp(tcp, tcp_failures, cfg)
    tls, tls_failures = tls_part(cfg)
    print_tls(tls, tls_failures, cfg)
    amqp, amqp_failures = amqp_part(cfg)
    print_amqp(amqp, amqp_failures, cfg)
    print("\nBars of issue 6%s:" % (" (quick run: sizes too small to judge)" if quick else ""))
    get16 = tcp.get(("flubber", "get", 16))
    if get16:
        print("  %s flubber get round trips over TCP with 16 clients: %.0f/s (bar >= %.0f/s); server CPU %.1f us "
              "per round trip = %.0f/s on one free CPU"
              % ("MET   " if get16[0] >= BAR_TCP_GET_16 else "MISSED", get16[0], BAR_TCP_GET_16, get16[3],
                 1e6 / get16[3] if get16[3] == get16[3] and get16[3] else float("nan")))
        for kind in TCP_KINDS[1:]:
            peer = tcp.get((kind, "get", 16))
            if peer:
                print("         flubber vs %-32s get, 16 clients: %.2fx" % (LABELS[kind], get16[0] / peer[0]))
    else:
        print("  MISSED flubber TCP server failed: %s" % tcp_failures.get("flubber"))
    p50 = amqp.get(("flubber", "get", 1))
    if p50:
        peer = amqp.get(("pika", "get", 1))
        print("  REPORTED flubber AMQP get round-trip p50 = %.0f us (p99 %.0f us)%s"
              % (p50[1], p50[2], "; plain pika pair p50 = %.0f us" % peer[1] if peer else ""))
    else:
        print("  MISSED AMQP p50 not measured: %s" % "; ".join("%s: %s" % item for item in amqp_failures.items()))
    print("  (a plain pika dripline request answered correctly: tests/kvstore/test_amqp.py::test_plain_pika_*)")
    plain, secure = tls.get(("flubber", 1)), tls.get(("flubber-tls", 1))
    if plain and secure:
        print("  REPORTED get round trip over TLS / plain TCP, one client: %.2fx the round trips/s (p50 %.0f us "
              "against %.0f us; server CPU %.1f us against %.1f us per round trip)"
              % (secure[0] / plain[0], secure[1], plain[1], secure[3], plain[3]))


def _cli():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", choices=sorted(SERVERS), help="run one server (used by the benchmark itself)")
    parser.add_argument("serve_args", nargs="*", help="the server's arguments (AMQP: URL KEY; TLS: CERT KEY)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check that it runs")
    args = parser.parse_args()
    if args.serve:
        SERVERS[args.serve](*args.serve_args)
        return 0
    main(quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(_cli())
