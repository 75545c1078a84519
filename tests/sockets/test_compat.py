"""Existing PyExpLabSys scripts, with only their import changed, run on flubber.

Each script runs in its own Python process under gevent monkey-patching,
keeping its threads, ``time.sleep`` and ``Queue`` as written.
"""
import signal
import textwrap
import time

import gevent
import gevent.subprocess
import pytest

from flubber.sockets import PullClient, PushClient

from .conftest import PYTHON, REPO, bindable, subprocess_env

HOST = "127.0.0.1"

THREADED_SCRIPT = '''
from gevent import monkey
monkey.patch_all()

import sys
import threading
import time
try:
    import Queue
except ImportError:
    import queue as Queue

from flubber.sockets import DateDataPullSocket, DataPushSocket   # was PyExpLabSys.common.sockets


class Reader(threading.Thread):
    """Reads the 'instrument' and publishes it, as PyExpLabSys scripts do."""

    def __init__(self, pullsocket):
        threading.Thread.__init__(self)
        self.pullsocket = pullsocket
        self.daemon = True
        self.quit = False
        self.count = 0

    def run(self):
        while not self.quit:
            self.count += 1
            self.pullsocket.set_point_now('compat_counter', self.count)
            time.sleep(0.01)


pullsocket = DateDataPullSocket('compat test', ['compat_counter'], timeouts=[1.0],
                                port=int(sys.argv[1]))
pushsocket = DataPushSocket('compat push', action='enqueue', port=int(sys.argv[2]))
pullsocket.start()
pushsocket.start()
reader = Reader(pullsocket)
reader.start()
print('READY', pullsocket.port, pushsocket.port, flush=True)
while True:
    try:
        item = pushsocket.queue.get(True, 1)
    except Queue.Empty:
        continue
    if item.get('command') == 'stop':
        break
reader.quit = True
reader.join()
pullsocket.stop()
pushsocket.stop()
print('STOPPED', reader.count, flush=True)
'''

# The seed's two usage examples, verbatim but for the import (and a driver).
SEED_PREAMBLE = '''
from gevent import monkey
monkey.patch_all()
import math, time


class Driver:
    def get_values(self):
        time.sleep(0.02)
        return math.sin(time.time()), math.cos(time.time())


driver = Driver()
print('READY', flush=True)
'''

SEED_EXAMPLE_NOW = '''
from flubber.sockets import DateDataSocket

# Create a data socket with timeouts
socket = DateDataSocket(['s1m1', 's1m2'], timeouts = [1.0, 0.7])
# Start the socket server
socket.start()

# Main loop
try:
    while True:
        new_value1, new_value2 = driver.get_values()
        socket.set_point_now('s1m1', new_value1)
        socket.set_point_now('s1m2', new_value2)
except KeyboardInterrupt:
    # Stop the socket server
    socket.stop()
'''

SEED_EXAMPLE_MANUAL = '''
import time
from flubber.sockets import DateDataSocket

# Create a data socket with timeouts
socket = DateDataSocket(['s1m1', 's1m2'], timeouts = [1.0, 0.7])
# Start the socket server
socket.start()

# Main loop
try:
    while True:
        now = time.time()
        new_value1, new_value2 = driver.get_values()
        socket.set_point('s1m1', (now, new_value1))
        socket.set_point('s1m2', (now, new_value2))
except KeyboardInterrupt:
    # Stop the socket server
    socket.stop()
'''


def run_script(tmp_path, text, *args):
    path = tmp_path / "lab_script.py"
    path.write_text(text)
    proc = gevent.subprocess.Popen([PYTHON, str(path)] + [str(arg) for arg in args], cwd=REPO,
                                   env=subprocess_env(), stdout=gevent.subprocess.PIPE,
                                   stderr=gevent.subprocess.PIPE, text=True)
    with gevent.Timeout(30, AssertionError("the script did not start")):
        line = proc.stdout.readline()
    if line.split()[:1] != ["READY"]:
        proc.kill()
        raise AssertionError("script failed: %s%s" % (line, proc.stderr.read()))
    proc.ports = [int(port) for port in line.split()[1:]]
    return proc


def wait_for(check, seconds=10.0):
    deadline = time.time() + seconds
    while True:
        try:
            return check()
        except Exception:          # noqa: BLE001 - retried until the deadline
            if time.time() > deadline:
                raise
            gevent.sleep(0.05)


def test_threaded_script_runs_unchanged_under_monkey_patching(tmp_path):
    proc = run_script(tmp_path, THREADED_SCRIPT, 0, 0)  # the script binds port 0 and prints its ports
    pull_port, push_port = proc.ports
    try:
        with PullClient(HOST, pull_port, raise_on_old_data=True) as client:
            first = wait_for(lambda: client.get("compat_counter"))
            assert client.name() == "compat test"

            def later():
                point = client.get("compat_counter")
                assert point[1] > first[1]
                return point
            second = wait_for(later)
            assert second[0] > first[0]
        with PushClient(HOST, push_port) as pusher:
            assert pusher.push({"command": "stop"}) == ("ACK", "{'command': 'stop'}")
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out.startswith("STOPPED ") and int(out.split()[1]) >= second[1]
    assert bindable(pull_port, "") and bindable(push_port, "")


@pytest.mark.parametrize("example", [SEED_EXAMPLE_NOW, SEED_EXAMPLE_MANUAL],
                         ids=["set_point_now", "set_point"])
def test_seed_usage_examples_run_as_written(tmp_path, example):
    if not bindable(9000, ""):
        pytest.skip("port 9000, the example's default, is in use on this machine")
    proc = run_script(tmp_path, SEED_PREAMBLE + textwrap.dedent(example))
    try:
        with PullClient(HOST) as client:            # default port 9000
            values = wait_for(lambda: client.get_all(raise_on_old_data=True))
            assert list(values) == ["s1m1", "s1m2"]
            assert all(-1.0 <= y <= 1.0 for _, y in values.values())
            assert client.name() == "DateDataSocket"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert bindable(9000, "")
