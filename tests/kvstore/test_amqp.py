"""The AMQP transport on the real RabbitMQ: interoperability, raw bodies, alerts, reconnects."""
import json
import os
import sys

import gevent
import gevent.subprocess
import pika
import pytest

from flubber.io import TCPClient, TCPServer
from flubber.kvstore import (
    AMQPConnectionError, AMQPKVClient, AMQPService, ConfigError, KVNode, KVStore, RequestTimeout,
)
from flubber.kvstore.amqp import _Link

from tests.kvstore.conftest import build_node

pytestmark = pytest.mark.rabbitmq

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAIN_PIKA = os.path.join(REPO, "examples", "kvstore_plain_pika.py")


def run_plain_pika(url, *args):
    """Run the plain-pika example script (no flubber inside); return (exit status, reply dict)."""
    process = gevent.subprocess.run(
        [sys.executable, PLAIN_PIKA, "--url", url, "--timeout", "10"] + list(args),
        stdout=gevent.subprocess.PIPE, stderr=gevent.subprocess.PIPE, timeout=60,
    )
    assert process.stdout, process.stderr.decode()
    return process.returncode, json.loads(process.stdout)


def test_plain_pika_dripline_get_gets_a_correct_reply(amqp_service, rabbitmq_url, names):
    status, reply = run_plain_pika(rabbitmq_url, names.foo)
    assert status == 0
    assert reply["msgtype"] == 2
    assert reply["retcode"] == 0
    assert reply["payload"] == {"value_raw": 3, "value_cal": 6}
    assert reply["sender_info"]["service_name"] == names.lab


def test_plain_pika_dripline_set_and_cmd(amqp_service, rabbitmq_url, names, node):
    status, reply = run_plain_pika(rabbitmq_url, "%s.%s.%s" % (names.lab, names.kv, names.foo), "12.5")
    assert (status, reply["retcode"]) == (0, 0)
    assert node.endpoint(names.foo).get_value() == {"value_raw": 12.5, "value_cal": 25.0}
    status, reply = run_plain_pika(rabbitmq_url, names.foo + ".lock", "--cmd")
    assert status == 0 and len(reply["payload"]["key"]) == 32
    status, reply = run_plain_pika(rabbitmq_url, names.foo, "1")
    assert (status, reply["retcode"]) == (1, 307)


@pytest.fixture
def raw_link(rabbitmq_url):
    """A bare pika connection (flubber's gevent link) to publish raw bodies and read replies."""
    link = _Link(rabbitmq_url, "flubber test raw").open(10)
    frame = link.call(link.channel.queue_declare, queue="", exclusive=True, auto_delete=True)
    queue = frame.method.queue
    replies = gevent.queue.Queue()
    link.call(link.channel.basic_consume, queue=queue, auto_ack=True,
              on_message_callback=lambda ch, method, props, body: replies.put((props, body)))

    def ask(routing_key, body, **properties):
        properties.setdefault("correlation_id", "raw-1")
        link.channel.basic_publish(exchange="requests", routing_key=routing_key, body=body,
                                   properties=pika.BasicProperties(reply_to=queue, **properties))
        props, reply = replies.get(timeout=10)
        assert props.correlation_id == properties["correlation_id"]
        return json.loads(reply)

    yield ask
    link.close()


@pytest.mark.parametrize("body, retcode", [
    (b"not json at all", 302),
    (b"\xff\xfe", 302),
    (b"[1, 2]", 302),
    (b'{"msgtype": 3, "payload": {}}', 302),
    (b'{"msgtype": 3, "msgop": 1, "payload": "values"}', 303),
    (b'{"msgtype": 3, "msgop": 77, "payload": {}}', 306),
])
def test_bad_bodies_get_the_right_retcode_and_the_service_keeps_serving(amqp_service, raw_link, names, body,
                                                                       retcode):
    assert raw_link(names.foo, body)["retcode"] == retcode
    good = json.dumps({"msgtype": 3, "msgop": 1, "payload": {"values": []}}).encode()
    assert raw_link(names.foo, good, correlation_id="raw-2")["retcode"] == 0


def test_unsupported_content_encoding_is_302(amqp_service, raw_link, names):
    good = json.dumps({"msgtype": 3, "msgop": 1}).encode()
    reply = raw_link(names.foo, good, content_encoding="application/msgpack")
    assert reply["retcode"] == 302
    assert "application/json" in reply["return_msg"]


def test_routing_key_specifier_reaches_the_attribute(amqp_service, raw_link, names):
    body = json.dumps({"msgtype": 3, "msgop": 1, "payload": {"values": []}}).encode()
    assert raw_link(names.foo + ".calibration", body)["payload"] == {"values": ["2*{}"]}


def test_alerts_are_published_to_the_alerts_exchange(amqp_service, rabbitmq_url, names, node):
    link = _Link(rabbitmq_url, "flubber test alerts").open(10)
    try:
        queue = link.call(link.channel.queue_declare, queue="", exclusive=True).method.queue
        link.call(link.channel.queue_bind, queue=queue, exchange="alerts", routing_key="sensor_value." + names.foo)
        received = gevent.queue.Queue()
        link.call(link.channel.basic_consume, queue=queue, auto_ack=True,
                  on_message_callback=lambda ch, method, props, body: received.put((method.routing_key, body)))
        key = node.endpoint(names.foo)
        key.log_on_set = True
        key.set_value(21)
        routing_key, body = received.get(timeout=10)
        alert = json.loads(body)
        assert routing_key == "sensor_value." + names.foo
        assert alert["msgtype"] == 4
        assert alert["payload"] == {"value_raw": 21, "value_cal": 42}
    finally:
        link.close()


def test_a_store_reaches_another_node_through_the_broker(amqp_service, rabbitmq_url, names):
    other = KVNode(names.other, [KVStore(name=names.other_kv)])
    service = AMQPService(other, rabbitmq_url).start()
    try:
        assert service.wait_ready(10)
        store = other.stores[names.other_kv]
        assert store.get(names.foo) == {"value_raw": 3, "value_cal": 6}
        store.set("%s.%s.%s" % (names.lab, names.kv, names.note), "from the other node")
        assert store.get(names.note) == {"value_raw": "from the other node"}
    finally:
        service.stop()


def test_a_second_service_whose_name_already_answers_refuses_to_start(amqp_service, rabbitmq_url, names):
    twin = AMQPService(build_node(names), rabbitmq_url, forward_remote=False)
    with pytest.raises(ConfigError, match="already answers on the broker .*unique name"):
        twin.start()
    assert not twin.running


def test_a_twin_that_slips_past_the_name_check_is_refused_the_queue_and_does_not_start(amqp_service, rabbitmq_url,
                                                                                      names):
    twin = AMQPService(build_node(names), rabbitmq_url, forward_remote=False)
    twin.check_name = lambda: None  # two nodes starting at the same instant: the exclusive queue decides
    with pytest.raises(ConfigError, match="already consumed by another service .*unique name"):
        twin.start()
    assert not twin.running


def test_client_to_a_dead_broker_raises_retcode_101():
    probe = TCPServer(handler=lambda connection: None)
    probe.bind(("127.0.0.1", 0))
    port = probe.sockname[1]
    probe.close()
    client = AMQPKVClient("amqp://guest:guest@127.0.0.1:%d/%%2F" % port, timeout=2)
    client.setup_timeout = 3
    with pytest.raises(AMQPConnectionError) as error:
        client.get("foo")
    assert error.value.retcode == 101


def test_client_times_out_when_nobody_answers(rabbitmq_url, names):
    link = _Link(rabbitmq_url, "flubber test silent").open(10)
    try:
        queue = link.call(link.channel.queue_declare, queue="", exclusive=True).method.queue
        link.call(link.channel.queue_bind, queue=queue, exchange="requests", routing_key=names.silent + ".#")
        with pytest.raises(RequestTimeout) as error:
            AMQPKVClient(rabbitmq_url).get(names.silent, timeout=0.5)
        assert error.value.retcode == 305
    finally:
        link.close()


class BrokerProxy:
    """A TCP proxy in front of RabbitMQ whose connections the test can cut (a broker outage)."""

    def __init__(self, target=("127.0.0.1", 5672)):
        self.target = target
        self.down = False
        #: Connections refused while down.
        self.refused = 0
        self.streams = set()
        self.server = TCPServer(handler=self.handle)
        self.server.bind(("127.0.0.1", 0))
        self.server.start()
        self.port = self.server.sockname[1]

    def handle(self, client):
        if self.down:
            self.refused += 1
            return
        upstream = TCPClient()
        upstream.connect(self.target, timeout=5)
        self.streams.update((client, upstream))
        pump = gevent.spawn(self._pump, upstream, client)
        try:
            self._pump(client, upstream)
        finally:
            pump.kill()
            upstream.close()
            self.streams.discard(client)
            self.streams.discard(upstream)

    @staticmethod
    def _pump(source, sink):
        try:
            while True:
                data = source.read_bytes(65536)
                if not data:
                    return
                sink.write(data)
        except Exception:  # either side closed: the pump ends
            return

    def cut(self):
        """Drop every proxied connection; refuse new ones until :meth:`restore`."""
        self.down = True
        for stream in list(self.streams):
            stream.abort()

    def restore(self):
        self.down = False

    def close(self):
        self.cut()
        self.server.close()


def test_service_reconnects_after_the_broker_goes_away(rabbitmq_url, names):
    proxy = BrokerProxy()
    node = build_node(names)
    url = "amqp://guest:guest@127.0.0.1:%d/%%2F" % proxy.port
    service = AMQPService(node, url, forward_remote=False)
    service.reconnect_delay = 0.1
    service.reconnect_max_delay = 0.3
    service.start()
    client = AMQPKVClient(rabbitmq_url)
    try:
        assert service.wait_ready(10)
        assert client.get(names.foo)["value_raw"] == 3
        proxy.cut()
        with gevent.Timeout(10):
            while service.ready.is_set():
                gevent.sleep(0.05)
        with gevent.Timeout(10):
            while proxy.refused < 2:  # a few refused reconnects
                gevent.sleep(0.05)
        proxy.restore()
        assert service.wait_ready(15)
        assert service.connections_made >= 2
        assert client.get(names.foo)["value_raw"] == 3
    finally:
        client.close()
        service.stop()
        proxy.close()


def _rabbitmqctl(*args):
    try:
        process = gevent.subprocess.run(["rabbitmqctl", "-q"] + list(args), stdout=gevent.subprocess.PIPE,
                                        stderr=gevent.subprocess.PIPE, timeout=60)
    except (OSError, gevent.subprocess.TimeoutExpired) as exc:
        pytest.skip("rabbitmqctl not usable here: %s" % exc)
    if process.returncode != 0:
        pytest.skip("rabbitmqctl not usable here: %s" % process.stderr.decode().strip())
    return process.stdout.decode()


def test_service_reconnects_when_the_broker_closes_its_connection(amqp_service, names):
    listing = _rabbitmqctl("list_connections", "pid", "client_properties")
    pids = [line.split("\t")[0] for line in listing.splitlines()
            if '"flubber node %s"' % amqp_service.queue in line]
    assert len(pids) == 1, listing
    amqp_service.reconnect_delay = 0.1
    _rabbitmqctl("close_connection", pids[0], "flubber test: broker restart")
    with gevent.Timeout(20):
        while amqp_service.connections_made < 2 or not amqp_service.ready.is_set():
            gevent.sleep(0.05)
    client = AMQPKVClient(amqp_service.url)
    try:
        assert client.get(names.foo)["value_raw"] == 3
    finally:
        client.close()


def test_exchanges_declared_with_other_settings_are_used_as_they_are(rabbitmq_url, names):
    link = _Link(rabbitmq_url, "flubber test exchange").open(10)
    try:
        exchange = names.durable_requests
        link.call(link.channel.exchange_declare, exchange=exchange, exchange_type="topic", durable=True)
        link.ensure_exchange(exchange)  # 406 from the broker: the existing exchange is used
        assert link.is_open
        link.call(link.channel.exchange_delete, exchange=exchange)
    finally:
        link.close()
