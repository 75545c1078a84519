"""examples/sine_pull_socket.py runs as a script and serves what it says."""
import os
import re
import time

import gevent
import gevent.subprocess

from flubber.sockets import OLD_DATA, PullClient, PushClient

from tests.sync import wait_until

from .conftest import PYTHON, REPO, subprocess_env

EXAMPLE = os.path.join(REPO, "examples", "sine_pull_socket.py")


def test_sine_example_serves_and_accepts_settings():
    proc = gevent.subprocess.Popen(
        [PYTHON, EXAMPLE, "--port", "0", "--push-port", "0", "--interval", "0.02",
         "--duration", "2"],
        cwd=REPO, env=subprocess_env(), stdout=gevent.subprocess.PIPE,
        stderr=gevent.subprocess.PIPE, text=True)
    try:
        with gevent.Timeout(30):
            pull_line, push_line = proc.stdout.readline(), proc.stdout.readline()
        assert pull_line.startswith("pull socket 'simulated sine wave' on UDP"), proc.stderr.read()
        pull_port = int(pull_line.rsplit(":", 1)[1])
        push_port = int(push_line.rsplit(":", 1)[1])
        with PullClient("127.0.0.1", pull_port) as client:
            assert client.codenames() == ["sine", "noisy_sine"]

            def fresh_sine():
                point = client.get("sine")
                return point if point != OLD_DATA and abs(point[0] - time.time()) < 2 else None
            x, y = wait_until(fresh_sine)
            assert abs(x - time.time()) < 2 and -1.0 <= y <= 1.0
        with PushClient("127.0.0.1", push_port) as pusher:
            assert pusher.push({"amplitude": 5}) == (
                "RET", '{"frequency": 0.1, "amplitude": 5.0}')
        with PullClient("127.0.0.1", pull_port) as client:
            assert wait_until(lambda: client.get("noisy_sine") != OLD_DATA)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert re.search(r"stopped after \d+ measurements$", out.strip())
