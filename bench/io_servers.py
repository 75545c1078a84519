"""Line-echo servers for the flubber.io benchmark, one per process.

``python bench/io_servers.py KIND [--cpu N]`` binds 127.0.0.1 on a free port, prints
``PORT <n>`` on stdout and echoes every line back until it gets SIGTERM or
its stdin closes. Kinds:

``flubber``
    :class:`flubber.io.TCPServer`, ``for line in conn: conn.write(line)``
    (read_until underneath; writes coalesced until the next blocking read).
``gevent``
    A hand-written raw gevent server, the peer the issue defines:
    :class:`gevent.server.StreamServer`, ``recv(65536)`` into a bytearray,
    split on ``b"\\n"``, one ``sendall`` per line.
``gevent_chunk``
    The raw gevent server with one ``sendall`` per received chunk instead of
    one per line: each line is still cut out and answered on its own, the
    answers to one chunk's lines are joined and sent at once (the bulk peer).
``asyncio`` / ``uvloop``
    asyncio streams: ``readline()``, ``write(line)``, ``await drain()``
    (which only waits above the transport's high-water mark); the same code
    on the default loop and on uvloop.
``flubber_c`` (opt-in, not in :data:`KINDS`)
    The prototype of issue 21: flubber's TCPServer accepts, the handler wraps
    the connection's descriptor in the Cython ``CStream`` of
    ``bench/proto/_cstream.pyx`` (built by ``bench/proto/build.py``) and runs
    the same ``for line in s: s.write(line)``.
``threads``
    :class:`socketserver.ThreadingTCPServer`, one OS thread per connection,
    ``rfile.readline()`` / ``wfile.write(line)`` (unbuffered: one send each).

Every server turns Nagle off on its connections (flubber, asyncio and uvloop
do it by themselves) and raises ``RLIMIT_NOFILE`` to its hard limit so the
idle-connection benchmark can hold thousands of connections.
"""
import os
import signal
import socket
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from _procs import raise_nofile_limit  # noqa: E402

HOST = "127.0.0.1"
MAX_LINE = 65536
KINDS = ("flubber", "gevent", "gevent_chunk", "asyncio", "uvloop", "threads")
#: Kinds that need something built first (``bench/proto/build.py``).
PROTO_KINDS = ("flubber_c",)


def announce(port):
    """Tell the parent which port we listen on."""
    sys.stdout.write("PORT %d\n" % port)
    sys.stdout.flush()


def run_flubber():
    """flubber TCPServer + read_until, the code a user would write."""
    import gevent
    from flubber.io import TCPServer

    class EchoServer(TCPServer):
        backlog = 4096

        def handle_connection(self, conn):
            for line in conn:
                conn.write(line)

    _serve_flubber(gevent, EchoServer)


def run_flubber_c():
    """flubber TCPServer accepting, the C line stream prototype reading and writing."""
    import gevent
    from flubber.io import TCPServer

    sys.path.insert(0, os.path.join(HERE, "proto"))
    try:
        from _cstream import CStream
    except ImportError as exc:
        raise SystemExit("flubber_c: the prototype is not built (%s): run python bench/proto/build.py" % exc)

    class EchoServer(TCPServer):
        backlog = 4096

        def handle_connection(self, conn):
            # conn keeps the socket open (and closes it when this returns);
            # the C stream only borrows its descriptor
            stream = CStream(conn.fileno())
            try:
                for line in stream:
                    stream.write(line)
            except OSError:  # the peer went away while we wrote (like flubber's StreamError: no traceback)
                return
            finally:
                stream.close()

    _serve_flubber(gevent, EchoServer)


def _serve_flubber(gevent, server_class):
    """Serve with a flubber TCPServer subclass until told to stop."""
    server = server_class()
    server.bind((HOST, 0))
    server.start()
    announce(server.sockname[1])
    _gevent_wait_for_stop(gevent)
    server.close()


def run_gevent():
    """Raw gevent: recv + bytearray split, one sendall per line."""
    import gevent

    def handle(sock, _address):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pending = bytearray()
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    return
                pending += data
                start = 0
                while True:
                    end = pending.find(b"\n", start)
                    if end < 0:
                        break
                    sock.sendall(pending[start:end + 1])
                    start = end + 1
                del pending[:start]
                if len(pending) > MAX_LINE:
                    return
        except OSError:
            return
        finally:
            sock.close()

    _serve_gevent(gevent, handle)


def run_gevent_chunk():
    """Raw gevent as above, but the replies to the lines of one chunk go out in one sendall."""
    import gevent

    def handle(sock, _address):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pending = bytearray()
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    return
                pending += data
                replies = []
                start = 0
                while True:
                    end = pending.find(b"\n", start)
                    if end < 0:
                        break
                    replies.append(pending[start:end + 1])
                    start = end + 1
                if replies:
                    sock.sendall(b"".join(replies))
                del pending[:start]
                if len(pending) > MAX_LINE:
                    return
        except OSError:
            return
        finally:
            sock.close()

    _serve_gevent(gevent, handle)


def _serve_gevent(gevent, handle):
    """Serve *handle* with gevent's StreamServer until told to stop."""
    import gevent.server
    import gevent.socket

    listener = gevent.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, 0))
    listener.listen(4096)
    server = gevent.server.StreamServer(listener, handle)
    server.start()
    announce(listener.getsockname()[1])
    _gevent_wait_for_stop(gevent)
    server.stop(timeout=1)


def _gevent_wait_for_stop(gevent):
    """Block the main greenlet until SIGTERM or end of stdin."""
    import gevent.event
    import gevent.os

    stop = gevent.event.Event()
    gevent.signal_handler(signal.SIGTERM, stop.set)

    def watch_stdin():
        try:
            while gevent.os.nb_read(0, 1024):
                pass
        except OSError:
            pass
        stop.set()

    os.set_blocking(0, False)
    gevent.spawn(watch_stdin)
    stop.wait()


def run_asyncio(use_uvloop=False):
    """asyncio streams: readline / write / drain, on asyncio or uvloop."""
    import asyncio

    async def handle(reader, writer):
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                writer.write(line)
                await writer.drain()
        except (ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()

    async def serve():
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        os.set_blocking(0, False)

        def on_stdin():
            try:
                if os.read(0, 1024):
                    return
            except BlockingIOError:
                return
            except OSError:
                pass
            loop.remove_reader(0)
            stop.set()

        loop.add_reader(0, on_stdin)
        server = await asyncio.start_server(handle, HOST, 0, backlog=4096, limit=MAX_LINE)
        announce(server.sockets[0].getsockname()[1])
        await stop.wait()
        server.close()

    if use_uvloop:
        import uvloop
        uvloop.install()
    asyncio.run(serve())


def run_threads():
    """socketserver.ThreadingTCPServer: one thread per connection."""
    import socketserver
    import threading

    class Handler(socketserver.StreamRequestHandler):
        disable_nagle_algorithm = True

        def handle(self):
            try:
                while True:
                    line = self.rfile.readline(MAX_LINE)
                    if not line:
                        return
                    self.wfile.write(line)
            except OSError:
                return

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True
        request_queue_size = 4096

    server = Server((HOST, 0), Handler)
    announce(server.server_address[1])
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    threading.Thread(target=lambda: (sys.stdin.buffer.read(), server.shutdown()), daemon=True).start()
    server.serve_forever(poll_interval=0.2)
    server.server_close()


RUNNERS = {
    "flubber": run_flubber,
    "flubber_c": run_flubber_c,
    "gevent": run_gevent,
    "gevent_chunk": run_gevent_chunk,
    "asyncio": run_asyncio,
    "uvloop": lambda: run_asyncio(use_uvloop=True),
    "threads": run_threads,
}


def main(argv=None):
    """Run the server named by the first argument (``--cpu N`` pins it to one CPU)."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=KINDS + PROTO_KINDS)
    parser.add_argument("--cpu", type=int, default=None, help="pin the server to one CPU, e.g. 1")
    args = parser.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    raise_nofile_limit()
    RUNNERS[args.kind]()
    return 0


if __name__ == "__main__":
    sys.exit(main())
