"""Dripline 4 on the real RabbitMQ: requests laid out as dripline-cpp lays them out.

The requests are built with plain pika (no flubber code) exactly as
dripline-cpp's ``message::create_amqp_messages`` and ``core::do_send`` make
them: the payload as JSON in the body, ``content_encoding``
``application/json``, a UUID ``correlation_id``, ``message_id``
``UUID/CHUNK/TOTAL``, ``reply_to`` a broker-named exclusive queue bound to
``requests`` under its own name, and the headers ``message_type``,
``specifier``, ``timestamp``, ``sender_info``, ``message_operation`` and
``lockout_key``. pika's blocking client runs in a real thread (gevent's
thread pool) while the node serves in greenlets. Replies are checked field
by field.
"""
import json
import re
import uuid

import gevent
import pika
import pytest

from flubber.kvstore import AMQPKVClient, AMQPService, KVNode, KVStore, KVStoreKey, RequestTimeout
from flubber.kvstore._dripline import T_ALERT, T_REPLY, T_REQUEST

pytestmark = pytest.mark.rabbitmq

NIL_UUID = "00000000-0000-0000-0000-000000000000"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
TIMESTAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"
#: sender_info as dripline-cpp's message::get_sender_info lays it out.
CPP_SENDER = {"exe": "/usr/local/bin/dl-agent",
              "versions": {"dripline": {"version": "2.10.5", "commit": "abc123", "package": "driplineorg/dripline-cpp"},
                           "scarab": {"version": "3.13.2", "package": "project8/scarab"}},
              "hostname": "daq1", "username": "lab", "service_name": "dl-agent"}


def cpp_request(routing_key, operation, payload, specifier="", lockout_key=NIL_UUID, chunks=1, **headers):
    """Return the AMQP messages of one dripline 4 request: ``[(routing_key, body, properties)]``.

    ``reply_to`` is filled in by :func:`exchange` (the queue it declares).
    """
    body = json.dumps(payload, separators=(",", ":")).encode()
    table = {"message_type": T_REQUEST, "specifier": specifier, "timestamp": "2026-12-01T19:00:00.000001Z",
             "sender_info": CPP_SENDER, "message_operation": operation, "lockout_key": lockout_key}
    table.update(headers)
    correlation_id, message_id = str(uuid.uuid4()), str(uuid.uuid4())
    size = -(-len(body) // chunks)
    parts = [body[i * size:(i + 1) * size] for i in range(chunks)]
    return [(routing_key, part, dict(content_encoding="application/json", correlation_id=correlation_id,
                                     message_id="%s/%d/%d" % (message_id, index, chunks), headers=table))
            for index, part in enumerate(parts)]


def _listen(url, exchange_name, binding, ready, messages, count, timeout):
    """In a real thread: bind a fresh exclusive queue, publish *messages*, collect *count* deliveries.

    The queue is declared and bound as dripline-cpp's ``core::do_send``
    does for its replies (bound under its own name unless *binding* is
    given); *messages* go to ``requests`` with ``reply_to`` the queue.
    Returns ``[(method, properties, body, queue)]``.
    """
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.exchange_declare(exchange_name, exchange_type="topic")
        queue = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
        channel.queue_bind(queue, exchange_name, routing_key=binding or queue)
        ready.append(True)
        for routing_key, body, properties in messages:
            properties = dict(properties)
            if properties.pop("reply_to", True):
                properties["reply_to"] = queue
            channel.basic_publish("requests", routing_key, body, pika.BasicProperties(**properties),
                                  mandatory=True)
        received = []
        for method, properties, body in channel.consume(queue, auto_ack=True, inactivity_timeout=timeout):
            if method is None:
                break
            received.append((method, properties, body, queue))
            if len(received) >= count:
                break
        return received
    finally:
        connection.close()


def listening(url, exchange_name, binding, count=1, timeout=10.0):
    """Start :func:`_listen` without messages in a real thread; return its result once it is bound."""
    ready = []          # a plain list: the thread is outside the hub, the test polls cooperatively
    result = gevent.get_hub().threadpool.spawn(_listen, url, exchange_name, binding, ready, [], count, timeout)
    with gevent.Timeout(15):
        while not ready:
            gevent.sleep(0.02)
    return result


def exchange(url, messages, replies_wanted=1, timeout=10.0):
    """Send *messages* from a real thread; return the replies ``(method, properties, body, queue)``."""
    return gevent.get_hub().threadpool.spawn(_listen, url, "requests", None, [], messages, replies_wanted,
                                             timeout).get(timeout=timeout + 20)


def one_reply(url, messages):
    """Send one request; return ``(headers, payload, method, properties, queue)`` of its one reply."""
    replies = exchange(url, messages)
    assert len(replies) == 1, "expected one reply, got %d" % len(replies)
    method, properties, body, queue = replies[0]
    return properties.headers, json.loads(body), method, properties, queue


def test_v4_get_reply_is_laid_out_as_dripline_cpp_reads_it(amqp_service, rabbitmq_url, names):
    request = cpp_request(names.foo, 1, {})
    headers, payload, method, properties, queue = one_reply(rabbitmq_url, request)
    assert payload == {"value_raw": 3, "value_cal": 6}
    assert method.routing_key == queue
    assert properties.content_encoding == "application/json"
    assert properties.correlation_id == request[0][2]["correlation_id"]
    assert re.fullmatch(UUID + "/0/1", properties.message_id)
    assert properties.message_id.split("/")[0] != request[0][2]["message_id"].split("/")[0]
    assert not properties.reply_to
    assert headers["message_type"] == T_REPLY
    assert headers["return_code"] == 0 and headers["return_message"] == ""
    assert headers["specifier"] == ""
    assert re.fullmatch(TIMESTAMP, headers["timestamp"])
    sender = headers["sender_info"]
    assert set(sender) == {"exe", "versions", "hostname", "username", "service_name"}
    assert sender["service_name"] == names.lab
    assert set(sender["versions"]["flubber"]) == {"version", "package"}
    assert "message_operation" not in headers and "lockout_key" not in headers


def test_v4_specifier_header_reads_an_attribute(amqp_service, rabbitmq_url, names):
    headers, payload, *_ = one_reply(rabbitmq_url, cpp_request(names.foo, 1, {}, specifier="calibration"))
    assert (headers["return_code"], payload) == (0, {"values": ["2*{}"]})


def test_v4_set_then_v4_get_over_the_node_address(amqp_service, rabbitmq_url, names, node):
    headers, payload, *_ = one_reply(rabbitmq_url, cpp_request(names.foo, 0, {"values": [12.5]}))
    assert headers["return_code"] == 0
    assert node.endpoint(names.foo).get_value() == {"value_raw": 12.5, "value_cal": 25.0}
    # dripline 4 routes on the routing key's first word; the rest may come in the specifier
    headers, payload, *_ = one_reply(rabbitmq_url, cpp_request(names.lab, 1, {},
                                                               specifier="%s.%s" % (names.kv, names.foo)))
    assert payload == {"value_raw": 12.5, "value_cal": 25.0}


def test_v4_lock_needs_the_key_in_the_lockout_key_header(amqp_service, rabbitmq_url, names, node):
    headers, payload, *_ = one_reply(rabbitmq_url, cpp_request(names.foo, 9, {}, specifier="lock"))
    assert headers["return_code"] == 0
    key = payload["key"]
    headers, _, *_ = one_reply(rabbitmq_url, cpp_request(names.foo, 0, {"values": [1]}))
    assert headers["return_code"] == 307 and "locked" in headers["return_message"]
    dashed = str(uuid.UUID(hex=key))                  # as dripline-cpp's string_from_uuid writes it
    headers, _, *_ = one_reply(rabbitmq_url, cpp_request(names.foo, 0, {"values": [1]}, lockout_key=dashed))
    assert headers["return_code"] == 0
    headers, _, *_ = one_reply(rabbitmq_url, cpp_request(names.foo, 9, {}, specifier="unlock", lockout_key=dashed))
    assert headers["return_code"] == 0 and not node.endpoint(names.foo).is_locked


@pytest.mark.parametrize("change, code", [
    ({"lockout_key": "not-a-uuid"}, 308),
    ({"body": b"{not json"}, 302),
    ({"body": b"[1, 2]"}, 303),
    ({"body": b'{"values": 5}'}, 303),
    ({"message_operation": 42}, 306),
    ({"specifier": "no_such_method", "message_operation": 9}, 306),
    ({"content_encoding": "application/msgpack"}, 302),
    ({"specifier": 5}, 302),                  # headers of the wrong type: refused, not a worker's TypeError
    ({"specifier": [1]}, 302),
    ({"timestamp": 5}, 302),
])
def test_v4_errors_have_return_codes(amqp_service, rabbitmq_url, names, change, code):
    change = dict(change)
    body = change.pop("body", None)
    encoding = change.pop("content_encoding", None)
    messages = cpp_request(names.foo, change.pop("message_operation", 1), {}, **change)
    routing_key, original_body, properties = messages[0]
    if encoding:
        properties["content_encoding"] = encoding
    headers, payload, *_ = one_reply(rabbitmq_url, [(routing_key, body or original_body, properties)])
    assert headers["message_type"] == T_REPLY and headers["return_code"] == code
    assert headers["return_message"]


def test_v4_chunked_request_is_joined_and_answered_once(amqp_service, rabbitmq_url, names, node):
    text = "".join(chr(ord("a") + i % 26) for i in range(300))
    messages = cpp_request(names.note, 0, {"values": [text]}, chunks=3)
    assert {props["message_id"].split("/")[1:] == [str(i), "3"] for i, (_, _, props) in enumerate(messages)} == {True}
    replies = exchange(rabbitmq_url, messages, replies_wanted=2, timeout=2.0)
    assert len(replies) == 1 and replies[0][1].headers["return_code"] == 0
    assert node.endpoint(names.note).get_value() == {"value_raw": text}


def test_v4_long_reply_comes_in_chunks(amqp_service, rabbitmq_url, names, node):
    text = "x" * 25000
    node.endpoint(names.note).set_value(text)
    replies = exchange(rabbitmq_url, cpp_request(names.note, 1, {}), replies_wanted=3)
    ids = [properties.message_id.split("/") for _, properties, _, _ in replies]
    assert [chunk_total for _, *chunk_total in ids] == [["0", "3"], ["1", "3"], ["2", "3"]]
    assert len({message_uuid for message_uuid, *_ in ids}) == 1
    assert all(len(body) <= 10000 for _, _, body, _ in replies)
    assert json.loads(b"".join(body for _, _, body, _ in replies)) == {"value_raw": text}


def test_v4_incomplete_chunks_get_302_after_the_chunk_timeout(amqp_service, rabbitmq_url, names):
    amqp_service.chunk_timeout = 0.2
    messages = cpp_request(names.note, 0, {"values": ["y" * 300]}, chunks=3)
    headers, payload, *_ = one_reply(rabbitmq_url, messages[:2])
    assert headers["return_code"] == 302 and "not available" in headers["return_message"]


def test_v4_request_without_reply_to_is_done_and_not_answered(amqp_service, rabbitmq_url, names, node):
    routing_key, body, properties = cpp_request(names.foo, 0, {"values": [4]})[0]
    properties["reply_to"] = None
    assert exchange(rabbitmq_url, [(routing_key, body, properties)], timeout=1.0) == []
    assert node.endpoint(names.foo).get_value()["value_raw"] == 4


def test_v3_and_v4_requests_on_one_node_each_get_their_own_form(amqp_service, rabbitmq_url, names):
    v3 = {"msgtype": 3, "msgop": 1, "payload": {"values": []}, "timestamp": "2026-12-01T19:00:00.000001Z",
          "lockout_key": None, "sender_info": {"package": "dripline", "exe": "x", "version": "3.9",
                                               "commit": "", "hostname": "h", "username": "u", "service_name": ""}}
    v3_message = (names.foo, json.dumps(v3).encode(), dict(content_encoding="application/json",
                                                          correlation_id="v3-request"))
    replies = exchange(rabbitmq_url, [v3_message] + cpp_request(names.foo, 1, {}), replies_wanted=2)
    by_id = {properties.correlation_id: (properties, body) for _, properties, body, _ in replies}
    properties, body = by_id.pop("v3-request")
    assert not properties.headers and json.loads(body)["msgtype"] == T_REPLY
    assert json.loads(body)["payload"] == {"value_raw": 3, "value_cal": 6}
    (properties, body), = by_id.values()
    assert properties.headers["message_type"] == T_REPLY and json.loads(body) == {"value_raw": 3, "value_cal": 6}


def test_flubber_client_speaks_v4(amqp_service, rabbitmq_url, names):
    with AMQPKVClient(rabbitmq_url, timeout=10, dripline=4) as client:
        assert client.get(names.foo) == {"value_raw": 3, "value_cal": 6}
        assert client.get(names.foo + ".calibration") == {"values": ["2*{}"]}
        key = client.lock(names.foo)
        reply = client.request(names.foo, 0, {"values": [5]})
        assert reply.retcode == 307
        client.set(names.foo, 5, lockout_key=key)
        client.unlock(names.foo, lockout_key=key)
        assert client.get(names.foo)["value_raw"] == 5


def test_flubber_client_v4_requests_are_what_dripline_cpp_sends(rabbitmq_url, names):
    """A stand-in service bound to the routing key records what the client publishes."""
    recorder = listening(rabbitmq_url, "requests", names.probe + ".#")
    with AMQPKVClient(rabbitmq_url, timeout=0.5, dripline=4) as client:
        with pytest.raises(RequestTimeout):         # the stand-in never answers
            client.request(names.probe + ".calibration", 0, {"values": [2]}, lockout_key="ab" * 16)
    ((method, properties, body, _),) = recorder.get(timeout=20)
    routing_key = method.routing_key
    assert routing_key == names.probe
    assert json.loads(body) == {"values": [2]}
    assert properties.content_encoding == "application/json"
    assert re.fullmatch(UUID, properties.correlation_id)
    assert re.fullmatch(UUID + "/0/1", properties.message_id)
    assert properties.reply_to
    headers = properties.headers
    assert headers["message_type"] == T_REQUEST and headers["message_operation"] == 0
    assert headers["specifier"] == "calibration"
    assert headers["lockout_key"] == str(uuid.UUID(hex="ab" * 16))
    assert re.fullmatch(TIMESTAMP, headers["timestamp"])
    assert set(headers["sender_info"]) == {"exe", "versions", "hostname", "username", "service_name"}


def postgres_sensor_logger_row(routing_key, properties, body):
    """What dripline-python 4's PostgresSensorLogger would insert for an alert (its documented steps).

    dripline-cpp's ``message::process_message`` reads the alert (it refuses
    one without ``application/json`` or with an incomplete ``sender_info``);
    ``AlertConsumer.parse_routing_key`` matches the routing key; the row is
    the ``timestamp`` header, the routing-key groups and the payload.
    """
    assert properties.content_encoding == "application/json"
    headers = properties.headers
    assert headers["message_type"] == T_ALERT
    for field in ("exe", "hostname", "username", "service_name"):
        assert isinstance(headers["sender_info"][field], str)
    assert isinstance(headers["sender_info"]["versions"], dict)
    assert re.fullmatch(UUID + r"/\d+/\d+", properties.message_id)
    match = re.match(r"sensor_value.(?P<endpoint_name>\w+)", routing_key)
    row = {"timestamp": headers["timestamp"]}
    row.update(match.groupdict())
    row.update(json.loads(body))
    return row


def test_v4_sensor_value_alert_is_what_a_dripline4_data_logger_takes(rabbitmq_url, names):
    key = KVStoreKey(name=names.temp, initial_value=20.0, calibration="2*{}", log_on_set=True)
    node = KVNode(names.lab, [KVStore(name=names.kv, endpoints=[key])])
    service = AMQPService(node, rabbitmq_url, forward_remote=False, alert_version=4).start()
    try:
        assert service.wait_ready(15)
        node.start()
        consumer = listening(rabbitmq_url, "alerts", "sensor_value." + names.temp)
        node.endpoint(names.temp).set_value(21.5)
        alerts = [(method.routing_key, properties, body) for method, properties, body, _ in consumer.get(timeout=30)]
    finally:
        node.stop()
        service.stop()
    assert len(alerts) == 1
    row = postgres_sensor_logger_row(*alerts[0])
    assert row["endpoint_name"] == names.temp
    assert (row["value_raw"], row["value_cal"]) == (21.5, 43.0)
    assert re.fullmatch(TIMESTAMP, row["timestamp"])
    headers = alerts[0][1].headers
    assert headers["specifier"] == "" and headers["sender_info"]["service_name"] == names.lab
    assert re.fullmatch(UUID, alerts[0][1].correlation_id) and not alerts[0][1].reply_to


def test_v4_request_over_max_request_bytes_is_302_whole_or_chunked(node, rabbitmq_url, names):
    service = AMQPService(node, rabbitmq_url, forward_remote=False, max_request_bytes=1000).start()
    try:
        assert service.wait_ready(15)
        service.chunk_timeout = 0.2
        for chunks in (1, 3):
            replies = exchange(rabbitmq_url, cpp_request(names.note, 0, {"values": ["z" * 2000]}, chunks=chunks),
                               replies_wanted=2, timeout=1.0)     # one reply, no second after the chunk timeout
            assert [properties.headers["return_code"] for _, properties, _, _ in replies] == [302]
            assert "longer than" in replies[0][1].headers["return_message"]
    finally:
        service.stop()


class _Unprintable:
    def __str__(self):
        raise RuntimeError("a bug in a user's class")


class _UnencodableKey(KVStoreKey):
    """A key (a user's subclass with a bug) whose value cannot be sent as JSON (nor as its text)."""

    def on_get(self):
        return {"value_raw": _Unprintable()}


def test_a_request_whose_answer_fails_still_frees_its_delivery(rabbitmq_url, names):
    # unacknowledged, each such request held one of the prefetch_count deliveries for good: the node went deaf
    from flubber.kvstore import OP_GET

    node = KVNode(names.lab, [KVStore(name=names.kv, endpoints=[
        _UnencodableKey(name=names.odd, initial_value=1), KVStoreKey(name=names.foo, initial_value=3)])])
    service = AMQPService(node, rabbitmq_url, forward_remote=False)
    service.prefetch_count = 1
    service.start()
    client = AMQPKVClient(rabbitmq_url, timeout=3)
    try:
        assert service.wait_ready(15)
        with pytest.raises(RequestTimeout):
            client.request(names.odd, OP_GET)
        assert client.request(names.foo, OP_GET, timeout=10).payload == {"value_raw": 3}
    finally:
        client.close()
        service.stop()
