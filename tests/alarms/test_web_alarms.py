"""The alarms on the node's page: /api/alarms, /api/ack with the write token, live ``alarms`` events."""
import pytest

from flubber.node import LabNode
from tests.sync import wait_until
from tests.web import _http

pytestmark = pytest.mark.timeout(90)

TOKEN = "alarm-token"


def _config(alarms=True):
    config = {
        "name": "lab",
        "tcp": {"host": "127.0.0.1", "port": 0, "tokens": [TOKEN]},
        "providers": [{"name": "kv", "module": "kv_store", "endpoints": [
            {"name": "setpoint", "module": "kv_store_key", "initial_value": 20}]}],
        "instruments": [{"name": "temperature", "driver": "flubber.instruments.simulated:Oven",
                         "args": {"setpoint_key": "setpoint", "tau": 0.2, "start": 20}, "interval": 0.05}],
        "web": {"host": "127.0.0.1", "port": 0},
        "sockets": {"pull": {"host": "127.0.0.1", "port": 0}},
    }
    if alarms:
        config["alarms"] = [{"codename": "temperature", "high": 50, "hihi": 80}]
    return config


@pytest.fixture
def node():
    lab = LabNode.from_dict(_config()).start()
    yield lab
    lab.stop()


def test_alarms_and_ack_over_http(node):
    address = node.web.address
    status, body = _http.get_json(address, "/api/alarms")
    assert status == 200 and body["worst"] == "OK" and body["node"] == "lab"
    assert [alarm["name"] for alarm in body["alarms"]] == ["temperature"]

    events = _http.open_events(address)
    try:
        node.key("setpoint").set_value(100)
        while True:
            event, data = _http.read_event(events)
            if event == "alarms" and data["worst"] == "MAJOR":
                break
        assert data["alarms"][0]["acknowledged"] is False
    finally:
        events.close()

    assert _http.post_json(address, "/api/ack", {"name": "temperature"})[0] == 401
    status, body = _http.post_json(address, "/api/ack", {"name": "temperature"}, token="wrong")
    assert status == 403 and "nothing was done" in body["error"]
    assert node.alarms.get("temperature").acknowledged is False
    status, body = _http.post_json(address, "/api/ack", {"name": "temprature"}, token=TOKEN)
    assert status == 404 and "the alarms are: temperature" in body["error"]
    status, body = _http.post_json(address, "/api/ack", {"name": "temperature"}, token=TOKEN)
    assert status == 200 and body["was_unacknowledged"] is True and body["acknowledged"] is True
    assert _http.get_json(address, "/api/alarms")[1]["alarms"][0]["acknowledged"] is True
    status, body = _http.post_json(address, "/api/ack", {}, token=TOKEN)
    assert status == 400 and "send {\"name\": ALARM}" in body["error"]


def test_a_node_without_alarms_has_no_alarm_api():
    lab = LabNode.from_dict(_config(alarms=False)).start()
    try:
        status, body = _http.get_json(lab.web.address, "/api/alarms")
        assert status == 404
        assert _http.post_json(lab.web.address, "/api/ack", {"name": "x"}, token=TOKEN)[0] == 404
    finally:
        lab.stop()


def test_status_includes_the_alarms(node):
    node.key("setpoint").set_value(100)
    wait_until(lambda: node.alarms.worst.name == "MAJOR", timeout=30)
    status, body = _http.get_json(node.web.address, "/api/status")
    assert status == 200
    assert node.status()["alarms"]["worst"] == "MAJOR"
