"""Alarms over the broker: dripline alerts alarm.NODE.NAME in both forms, flubber alarms/ack --broker."""
import json
import sys
import uuid

import gevent
import gevent.subprocess as subprocess
import pytest

from flubber.node import LabNode
from tests.kvstore.test_dripline4 import listening
from tests.sync import wait_until

pytestmark = [pytest.mark.timeout(120), pytest.mark.rabbitmq]


def _node(url, alerts):
    name = "alarms%s" % uuid.uuid4().hex[:8]
    config = {
        "name": name, "tcp": None,
        "amqp": {"url": url, "alerts": alerts},
        "providers": [{"name": "kv", "module": "kv_store", "endpoints": [
            {"name": "setpoint", "module": "kv_store_key", "initial_value": 20}]}],
        "alarms": [{"key": "setpoint", "high": 50}],
    }
    node = LabNode.from_dict(config).start()
    wait_until(lambda: node.server.amqp_service.ready.is_set(), timeout=30, what="the node's AMQP consumer")
    return name, node


@pytest.mark.parametrize("alerts", ["dripline3", "dripline4"])
def test_a_change_is_an_alert_on_alarm_node_name(rabbitmq_url, alerts):
    name, node = _node(rabbitmq_url, alerts)
    try:
        pending = listening(rabbitmq_url, "alerts", "alarm.%s.#" % name)
        node.key("setpoint").set_value(60)
        (method, properties, body, _), = pending.get(timeout=30)
    finally:
        node.stop()
    assert method.routing_key == "alarm.%s.setpoint" % name
    message = json.loads(body)
    if alerts == "dripline3":
        assert message["msgtype"] == 4 and message["sender_info"]["service_name"] == name
        payload = message["payload"]
    else:                                # dripline 4: routing in the headers, the payload is the body
        headers = properties.headers
        assert headers["message_type"] == 4 and headers["sender_info"]["service_name"] == name
        assert headers["timestamp"].endswith("Z") and properties.content_encoding == "application/json"
        payload = message
    assert (payload["name"], payload["severity"], payload["previous"], payload["node"]) == \
        ("setpoint", "MINOR", "OK", name)
    assert payload["value"] == 60.0 and payload["acknowledged"] is False


def test_alarms_and_ack_through_the_broker(rabbitmq_url):
    name, node = _node(rabbitmq_url, "dripline3")
    try:
        node.key("setpoint").set_value(70)
        wait_until(lambda: node.alarms.worst.name == "MINOR", timeout=30)
        listed = subprocess.run([sys.executable, "-m", "flubber", "alarms", "--broker", rabbitmq_url, "--node", name],
                                capture_output=True, text=True, timeout=60)
        assert listed.returncode == 1, listed.stderr
        assert listed.stdout.splitlines()[1].split()[:3] == ["setpoint", "MINOR", "NO"]
        acked = subprocess.run([sys.executable, "-m", "flubber", "ack", "setpoint", "--broker", rabbitmq_url, "--node",
                                name], capture_output=True, text=True, timeout=60)
        assert acked.returncode == 0 and "acknowledged setpoint" in acked.stdout, acked.stderr
        assert node.alarms.get("setpoint").acknowledged
    finally:
        node.stop()
    gevent.sleep(0)
