"""Alarms on a running node, end to end: a node process, the real CLI, a webhook and a command target."""
import json
import re
import sys
import time

import gevent
import gevent.subprocess as subprocess
import pytest

from flubber.kvstore import ConfigError
from flubber.node import LabNode

pytestmark = pytest.mark.timeout(180)

NODE_FILE = """
name: ovenlab
tcp: {{host: 127.0.0.1, port: 0}}
providers:
  - name: kv
    module: kv_store
    endpoints:
      - {{name: setpoint, module: kv_store_key, initial_value: 25}}
instruments:
  - name: temperature
    driver: flubber.instruments.simulated:Oven
    args: {{setpoint_key: setpoint, tau: 0.3, start: 25}}
    interval: 0.1
sockets:
  pull: {{host: 127.0.0.1, port: 0}}
logger:
  url: sqlite:///{db}
  table: dateplots_ovenlab
alarms:
  - {{codename: temperature, high: 60, hihi: 80, deadband: 2, delay: 1}}
notify:
  - webhook: {webhook}
  - command: [{python}, -c, "import sys; open(sys.argv[1], 'ab').write(sys.stdin.buffer.read() + b'\\\\n')", {out}]
    min_severity: MAJOR
"""


def flubber(*args):
    result = subprocess.run([sys.executable, "-m", "flubber", *args], capture_output=True, text=True, timeout=60)
    return result


@pytest.fixture
def oven_node(tmp_path, webhook):
    path = tmp_path / "ovenlab.yaml"
    path.write_text(NODE_FILE.format(db=tmp_path / "lab.sqlite", webhook=webhook.url, python=sys.executable,
                                     out=tmp_path / "command.jsonl"))
    process = subprocess.Popen([sys.executable, "-m", "flubber", "serve", str(path), "--no-status"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(tmp_path))
    banner = []
    port = None
    with gevent.Timeout(90, False):
        while port is None:
            line = process.stdout.readline()
            if not line:
                break
            banner.append(line)
            match = re.search(r"dripline over TCP on 127\.0\.0\.1:(\d+)", line)
            if match:
                port = int(match.group(1))
    assert port, "".join(banner) + (process.stderr.read() if process.poll() is not None else "")
    try:
        yield "127.0.0.1:%d" % port, tmp_path
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_oven_over_the_limit_is_raised_notified_acknowledged_and_cleared(oven_node, webhook):
    host, tmp_path = oven_node
    assert flubber("alarms", "--host", host).returncode == 0
    assert flubber("set", "setpoint", "100", "--host", host).returncode == 0

    raised = [webhook.get(timeout=30)]
    while raised[-1]["severity"] != "MAJOR":
        raised.append(webhook.get(timeout=30))
    major = raised[-1]
    assert major["name"] == "temperature" and major["node"] == "ovenlab" and major["value"] > 80
    assert isinstance(major["time"], float) and major["time_iso"].endswith("+00:00")
    assert [item["severity"] for item in raised] in (["MAJOR"], ["MINOR", "MAJOR"])

    listed = flubber("alarms", "--host", host)
    assert listed.returncode == 1, listed.stderr
    row = [line for line in listed.stdout.splitlines() if line.startswith("temperature")][0]
    assert row.split()[1:3] == ["MAJOR", "NO"] and "above hihi 80" in row

    acked = flubber("ack", "temperature", "--host", host)
    assert acked.returncode == 0 and "acknowledged temperature" in acked.stdout
    listed = flubber("alarms", "--host", host, "--json")
    alarm = json.loads(listed.stdout)["alarms"][0]
    assert alarm["acknowledged"] is True and alarm["severity"] == "MAJOR"

    assert flubber("set", "setpoint", "25", "--host", host).returncode == 0
    cleared = webhook.get(timeout=30)
    while cleared["severity"] != "OK":
        cleared = webhook.get(timeout=30)
    assert cleared["previous"] in ("MAJOR", "MINOR")

    # the MAJOR-only command target got the MAJOR raise and the way back down, once each
    with gevent.Timeout(30):
        while True:
            lines = (tmp_path / "command.jsonl").read_text().splitlines() \
                if (tmp_path / "command.jsonl").exists() else []
            if any(json.loads(line)["previous"] == "MAJOR" for line in lines):
                break
            gevent.sleep(0.05)
    sent = [json.loads(line) for line in lines]
    assert sent[0]["severity"] == "MAJOR" and sent[0]["name"] == "temperature"
    assert len([item for item in sent if item["severity"] == "MAJOR"]) == 1

    import sqlite3

    def history():
        with sqlite3.connect(str(tmp_path / "lab.sqlite")) as database:
            return database.execute("SELECT name, severity, kind FROM alarm_history ORDER BY id").fetchall()

    # the history is written by its own greenlet: the way back down may land after the notification
    with gevent.Timeout(30, AssertionError("the alarm history never recorded the way back down")):
        rows = history()
        while not rows or rows[-1][1] not in ("OK", "MINOR"):
            gevent.sleep(0.05)  # a reader this slow never starves the node's writer
            rows = history()
    assert ("temperature", "MAJOR", "change") in rows and ("temperature", "MAJOR", "ack") in rows


def test_ack_of_an_unknown_alarm_names_the_alarms(oven_node):
    host, _ = oven_node
    result = flubber("ack", "temprature", "--host", host)
    assert result.returncode == 1
    assert "no alarm 'temprature'; the alarms are: temperature" in result.stderr


@pytest.mark.parametrize("name", [["temperature"], {"a": 1}, 5])
def test_ack_of_a_name_that_is_no_text_is_refused_without_a_traceback(name, caplog):
    from flubber.kvstore import OP_CMD, Request

    node = LabNode.from_dict({"name": "lab", "tcp": None, "providers": [{"name": "kv", "module": "kv_store",
                              "endpoints": [{"name": "setpoint", "module": "kv_store_key", "initial_value": 1}]}],
                              "alarms": [{"key": "setpoint", "high": 5}]})
    reply = node.kv.handle(Request("alarms.ack", OP_CMD, {"values": [name]}))
    assert reply.retcode == 304 and "the alarms are: setpoint" in reply.return_msg, reply.return_msg
    assert not [record for record in caplog.records if record.exc_info], "a traceback was logged"


def test_a_failing_instrument_goes_invalid():
    node = LabNode.from_dict({
        "name": "failing", "tcp": None, "sockets": {"pull": {"host": "127.0.0.1", "port": 0}},
        "instruments": [{"name": "broken", "driver": "tests.alarms.test_node_alarms:broken", "interval": 0.01}],
        "alarms": [{"codename": "broken", "high": 1}],
    })
    node.start()
    try:
        with gevent.Timeout(60):
            while node.alarms.get("broken").severity.name != "INVALID":
                gevent.sleep(0.01)
        assert "failed 3 times in a row: OSError: no reply" in node.alarms.get("broken").message
        assert node.status()["alarms"]["worst"] == "INVALID"
    finally:
        node.stop()


def broken():
    raise OSError("no reply")


@pytest.mark.parametrize("alarms, message", [
    ([{"codename": "temprature", "high": 1}], "no codename or key 'temprature' to watch; did you mean 'temperature'?"),
    ([{"codename": "temperature", "hihgh": 1}], "unknown option 'hihgh'; did you mean 'high'?"),
    ([{"codename": "temperature", "high": 5, "hihi": 3}], "high (5) must be below hihi (3)"),
    ([{"codename": "temperature"}], "sets no limit"),
    ([{"key": "setpoint", "high": 5, "stale": 3}], "cannot go stale"),
    ([{"codename": "temperature", "high": "hot"}], "high: must be a finite number, got 'hot'"),
])
def test_mistakes_in_the_alarms_section_are_one_line_with_the_place(alarms, message):
    data = {
        "name": "lab", "tcp": None,
        "providers": [{"name": "kv", "module": "kv_store", "endpoints": [{"name": "setpoint"}]}],
        "instruments": [{"name": "temperature", "driver": "flubber.instruments.simulated:sine"}],
        "alarms": alarms,
    }
    with pytest.raises(ConfigError) as info:
        LabNode.from_dict(data, source="lab.yaml")
    assert message in str(info.value) and str(info.value).startswith("lab.yaml: alarms")


def test_notify_mistakes():
    base = {"name": "lab", "tcp": None,
            "instruments": [{"name": "t", "driver": "flubber.instruments.simulated:sine"}]}
    with pytest.raises(ConfigError, match="notify: has no alarms to notify about"):
        LabNode.from_dict(dict(base, notify=[{"webhook": "http://127.0.0.1:1/"}]), source="lab.yaml")
    with pytest.raises(ConfigError, match=r"notify\[0\]: needs exactly one of command, webhook or email"):
        LabNode.from_dict(dict(base, alarms=[{"codename": "t", "high": 1}], notify=[{"repeat": 5}]),
                          source="lab.yaml")
    with pytest.raises(ConfigError, match="severity 'loud' is not one of"):
        LabNode.from_dict(dict(base, alarms=[{"codename": "t", "high": 1}],
                               notify=[{"webhook": "http://127.0.0.1:1/", "min_severity": "loud"}]), source="x")
