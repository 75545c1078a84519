"""The C line-stream prototype of issue 21 (``bench/proto``) builds and echoes; it stays opt-in."""
import importlib.util
import os
import selectors
import socket
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(60)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BENCH = os.path.join(ROOT, "bench")


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def built_prototype():
    """Build the prototype (once); skip loudly when Cython or a C compiler is missing."""
    builder = _load("flubber_proto_build", os.path.join(BENCH, "proto", "build.py"))
    missing = builder.missing_tools()
    if missing:
        pytest.skip("PROTOTYPE NOT BUILT: %s; the C stream prototype of issue 21 is untested" % missing)
    done = subprocess.run([sys.executable, os.path.join(BENCH, "proto", "build.py")], capture_output=True,
                          timeout=50, cwd=ROOT)
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    path = done.stdout.decode().strip().splitlines()[-1]
    assert os.path.exists(path)
    return path


def _recv_exactly(sock, size):
    data = b""
    for _ in range(10000):  # bounded; each recv also times out
        if len(data) >= size:
            break
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_flubber_c_echoes_lines_over_tcp(built_prototype):
    proc = subprocess.Popen([sys.executable, os.path.join(BENCH, "io_servers.py"), "flubber_c"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=ROOT))
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            assert selector.select(20), "flubber_c server did not start: %r" % proc.stderr.read1()
        word, port = proc.stdout.readline().split()
        assert word == b"PORT", proc.stderr.read1()
        with socket.create_connection(("127.0.0.1", int(port)), timeout=5) as sock:
            sock.sendall(b"one\n")
            assert _recv_exactly(sock, 4) == b"one\n"
            # a line cut in two sends, several lines in one, and one longer than the 64 KiB chunk
            sock.sendall(b"tw")
            sock.sendall(b"o\nthree\nfour\n")
            long_line = b"x" * 200000 + b"\n"
            sock.sendall(long_line)
            expected = b"two\nthree\nfour\n" + long_line
            assert _recv_exactly(sock, len(expected)) == expected
            # the rest at end of stream comes back without a newline, then the server closes
            sock.sendall(b"tail")
            sock.shutdown(socket.SHUT_WR)
            assert _recv_exactly(sock, 5) == b"tail"
            assert sock.recv(10) == b""
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        proc.stdout.close()
        proc.stderr.close()


def test_the_prototype_is_opt_in_and_flubber_never_imports_it():
    servers = _load("flubber_bench_io_servers", os.path.join(BENCH, "io_servers.py"))
    assert "flubber_c" not in servers.KINDS and "flubber_c" in servers.PROTO_KINDS
    code = "import sys, flubber, flubber.io; assert '_cstream' not in sys.modules"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=ROOT))
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
