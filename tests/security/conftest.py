"""A real node (``flubber serve``) in a child process, and hostile clients that talk to it over loopback.

Every test here is a finding of issue 13 (a stranger on the lab network):
the node runs as it would in the lab, the client sends what an attacker
would, and the test checks the reply, the node's log (no traceback) and,
where memory is the point, the node's peak RSS (``VmHWM`` in
``/proc/PID/status``).
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def peak_rss_mb(pid):
    """Peak resident memory (VmHWM) of process *pid*, in MB."""
    with open("/proc/%d/status" % pid) as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    raise AssertionError("no VmHWM in /proc/%d/status" % pid)


class NodeProcess:
    """``flubber serve NODE.yaml --no-status`` in a child process; its stdout and stderr go to files."""

    def __init__(self, tmp_path, config, args=(), env=None, preexec_fn=None):
        self.path = tmp_path / "node.yaml"
        self.path.write_text(yaml.safe_dump(config))
        self.out_path = tmp_path / "node.out"
        self.err_path = tmp_path / "node.err"
        environment = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        environment.update(env or {})
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "flubber", "serve", str(self.path), "--no-status", *args],
                stdout=out, stderr=err, cwd=str(tmp_path), env=environment, preexec_fn=preexec_fn)
        self.tcp = self.push = self.pull = None

    @property
    def pid(self):
        return self.process.pid

    @property
    def stdout(self):
        return self.out_path.read_text()

    @property
    def stderr(self):
        return self.err_path.read_text()

    def wait_started(self, timeout=60):
        """Wait for the banner; note the TCP and UDP ports it names. Returns self."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.stdout
            if "try from another terminal" in text or self.process.poll() is not None:
                break
            time.sleep(0.05)
        text = self.stdout
        assert "try from another terminal" in text, "node did not start:\n%s\n%s" % (text, self.stderr)
        match = re.search(r"dripline over TCP on [^:\s]+:(\d+)", text)
        self.tcp = ("127.0.0.1", int(match.group(1))) if match else None
        for label in ("push", "pull"):
            match = re.search(r"%s socket on UDP port (\d+)" % label, text)
            if match:
                setattr(self, label, ("127.0.0.1", int(match.group(1))))
        return self

    def peak_rss_mb(self):
        return peak_rss_mb(self.pid)

    def stop(self, timeout=15):
        """SIGTERM the node and wait; return its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode

    def assert_no_traceback(self):
        assert "Traceback" not in self.stderr, self.stderr[-3000:]


def node_config(declare=True, **sections):
    """A node file: key ``setpoint`` (float from -50 to 400), ``mode`` (choices), ``note`` (any value).

    *declare* False leaves out what the keys accept (the node file of 0c5f9d1 knew no ``type``).
    """
    config = {
        "name": "lab",
        "tcp": {"host": "127.0.0.1", "port": 0},
        "providers": [{"name": "kv", "module": "kv_store", "endpoints": [
            {"name": "setpoint", "module": "kv_store_key", "initial_value": 25, "type": "float",
             "min": -50, "max": 400},
            {"name": "temperature", "module": "kv_store_key", "initial_value": 20},
            {"name": "mode", "module": "kv_store_key", "initial_value": "auto", "type": "str",
             "choices": ["auto", "manual"]},
            {"name": "note", "module": "kv_store_key", "initial_value": "hello"},
        ]}],
    }
    if not declare:
        for key in config["providers"][0]["endpoints"]:
            for option in ("type", "min", "max", "choices"):
                key.pop(option, None)
    config.update(sections)
    return config


@pytest.fixture
def start_node(tmp_path):
    """``start_node(config, args=(), env=None)`` starts a node (stopped after the test)."""
    nodes = []

    def start(config=None, args=(), env=None, preexec_fn=None, wait=True):
        node = NodeProcess(tmp_path, config or node_config(), args, env, preexec_fn)
        nodes.append(node)
        return node.wait_started() if wait else node

    yield start
    for node in nodes:
        node.stop()


class LineClient:
    """A blocking TCP client speaking JSON lines (what a hand-written attacker script would use)."""

    def __init__(self, address, timeout=10, wrap=None):
        sock = socket.create_connection(address, timeout=timeout)
        self.sock = wrap(sock) if wrap is not None else sock
        self.file = self.sock.makefile("rb")

    def send(self, message):
        data = message if isinstance(message, bytes) else json.dumps(message).encode()
        self.sock.sendall(data + b"\n")

    def reply(self):
        line = self.file.readline()
        assert line.endswith(b"\n"), "connection closed before a reply: %r" % (line,)
        return json.loads(line, parse_constant=_refuse_constant)

    def request(self, message):
        self.send(message)
        return self.reply()

    def close(self):
        self.file.close()
        self.sock.close()


def _refuse_constant(name):
    raise AssertionError("the reply holds %s, which is not JSON" % name)


def get(target, **extra):
    return dict({"msgop": 1, "target": target}, **extra)


def set_(target, value, **extra):
    return dict({"msgop": 0, "target": target, "payload": {"values": [value]}}, **extra)


def cmd(target, **extra):
    return dict({"msgop": 9, "target": target, "payload": {"values": []}}, **extra)


class UDPClient:
    """A blocking UDP client for the push socket."""

    def __init__(self, address, timeout=10):
        self.address = address
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(timeout)

    def request(self, data):
        self.sock.sendto(data, self.address)
        return self.sock.recv(65536)

    def close(self):
        self.sock.close()
