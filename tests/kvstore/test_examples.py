"""The kvstore examples run as scripts and do what they say."""
import os
import sys

import gevent
import gevent.subprocess

from flubber.kvstore import TCPKVClient

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples")


def test_python_node_example_serves_and_broadcasts():
    process = gevent.subprocess.Popen(
        [sys.executable, os.path.join(EXAMPLES, "kvstore_node.py"), "--port", "0", "--interval", "0.05",
         "--duration", "3"], stdout=gevent.subprocess.PIPE, stderr=gevent.subprocess.PIPE)
    try:
        banner = process.stdout.readline().decode()
        assert "listening on" in banner, process.stderr.read().decode()
        client = TCPKVClient(banner.strip().rsplit(" ", 1)[1])
        assert abs(client.value("bath_temperature") - 20.0) < 1.0
        client.set("bath_setpoint", 25.0)
        with gevent.Timeout(10):
            while abs(client.value("bath_temperature") - 25.0) > 0.5:
                gevent.sleep(0.05)
        client.close()
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err.decode()
    assert b"sensor_value.bath_setpoint {'value_raw': 25.0}" in out
    assert b"sensor_value.bath_temperature" in out
