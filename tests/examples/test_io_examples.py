"""The flubber.io examples run as scripts and do what they say."""
import os
import subprocess
import sys

import pytest

from flubber.io import connect_tcp

pytestmark = pytest.mark.timeout(60)

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def _start(script, *args):
    process = subprocess.Popen([sys.executable, os.path.join(EXAMPLES, script), "--port", "0", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    banner = process.stdout.readline().decode()
    assert "listening on" in banner, process.stderr.read().decode()
    port = int(banner.strip().rsplit(":", 1)[1])
    return process, port


def _stop(process):
    process.terminate()
    process.wait(timeout=10)
    process.stdout.close()
    process.stderr.close()


def test_echo_server_and_line_client():
    process, port = _start("echo_server.py")
    try:
        result = subprocess.run(
            [sys.executable, os.path.join(EXAMPLES, "line_client.py"), "--port", str(port),
             "--send", "hello", "--send", "world"],
            capture_output=True, timeout=30,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout == b"hello\nworld\n"
    finally:
        _stop(process)


def test_line_client_pipes_stdin_to_the_server():
    process, port = _start("echo_server.py")
    try:
        result = subprocess.run(
            [sys.executable, os.path.join(EXAMPLES, "line_client.py"), "--port", str(port)],
            input=b"from stdin\nsecond\n", capture_output=True, timeout=30,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout == b"from stdin\nsecond\n"
    finally:
        _stop(process)


def test_chat_server_broadcasts_to_every_client():
    process, port = _start("chat_server.py")
    try:
        alice = connect_tcp(("127.0.0.1", port), timeout=5)
        assert b"joined" in alice.read_until(b"\n")
        bob = connect_tcp(("127.0.0.1", port), timeout=5)
        assert b"joined" in alice.read_until(b"\n")
        assert b"joined" in bob.read_until(b"\n")
        alice.write(b"hi all\n")
        assert alice.read_until(b"\n").endswith(b"> hi all\n")
        assert bob.read_until(b"\n").endswith(b"> hi all\n")
        alice.close()
        assert b"left" in bob.read_until(b"\n")
        bob.close()
    finally:
        _stop(process)


def test_echo_server_stops_by_itself_with_duration():
    result = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, "echo_server.py"), "--port", "0", "--duration", "0.3"],
        capture_output=True, timeout=30,
    )
    assert result.returncode == 0, result.stderr
