"""The dripline 4 codec without a broker: message ids, chunks, headers, errors."""
import json
import re
import uuid

import pytest

from flubber.kvstore import (
    OP_CMD, OP_GET, T_ALERT, T_REPLY, T_REQUEST, Alert, AMQPMessage, DecodingError, InvalidKey, PayloadError, Reply,
    Request, alert_messages,
)
from flubber.kvstore import _dripline4 as d4

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
SENDER_KEYS = {"exe", "versions", "hostname", "username", "service_name"}


def request_headers(**changes):
    headers = {"message_type": T_REQUEST, "message_operation": OP_GET, "specifier": "", "lockout_key": d4.NIL_UUID,
               "timestamp": "2026-12-01T19:00:00.000001Z", "sender_info": d4.sender_info("agent")}
    headers.update(changes)
    return headers


def test_is_v4_looks_for_the_message_type_header():
    assert d4.is_v4({"message_type": 3}) and not d4.is_v4(None) and not d4.is_v4({"x-death": []})


@pytest.mark.parametrize("message_id, parsed", [
    ("abc/0/1", ("abc", 0, 1)), ("%s/2/3" % ("f" * 36), ("f" * 36, 2, 3)),
])
def test_parse_message_id(message_id, parsed):
    assert d4.parse_message_id(message_id) == parsed


@pytest.mark.parametrize("message_id", [None, "", "abc", "abc/0", "abc/1/1", "abc/x/2", "/0/1", "a/0/1/2"])
def test_malformed_message_ids_are_302(message_id):
    with pytest.raises(DecodingError, match="UUID/CHUNK/TOTAL"):
        d4.parse_message_id(message_id)


def test_request_headers_and_target_split():
    request = Request("setpoint.calibration", 0, {"values": [2]}, lockout_key="ab" * 16)
    (message,) = d4.request_messages(request, "amq.gen-q", "cid")
    assert isinstance(message, AMQPMessage)
    assert (message.routing_key, message.reply_to, message.correlation_id) == ("setpoint", "amq.gen-q", "cid")
    assert message.content_encoding == "application/json" and json.loads(message.body) == {"values": [2]}
    assert re.fullmatch(UUID + "/0/1", message.message_id)
    headers = message.headers
    assert (headers["message_type"], headers["message_operation"], headers["specifier"]) == (3, 0, "calibration")
    assert headers["lockout_key"] == str(uuid.UUID(hex="ab" * 16))
    assert set(headers["sender_info"]) == SENDER_KEYS


def test_request_without_a_key_sends_the_nil_uuid():
    (message,) = d4.request_messages(Request("foo", OP_GET), "q", "c")
    assert message.headers["lockout_key"] == d4.NIL_UUID and message.headers["specifier"] == ""


def test_long_bodies_are_split_in_chunks_of_one_id():
    messages = d4.request_messages(Request("foo", 0, {"values": ["x" * 25000]}), "q", "c")
    ids = [message.message_id.split("/") for message in messages]
    assert [rest for _, *rest in ids] == [["0", "3"], ["1", "3"], ["2", "3"]]
    assert len({first for first, *_ in ids}) == 1 and max(len(m.body) for m in messages) == d4.MAX_CHUNK
    assert json.loads(b"".join(m.body for m in messages)) == {"values": ["x" * 25000]}


def test_decode_request_joins_routing_key_and_specifier():
    request = d4.decode_request(request_headers(specifier="lock", message_operation=OP_CMD), b'{"force": true}',
                                "lab.kv.foo")
    assert (request.target, request.msgop, request.payload, request.lockout_key) == (
        "lab.kv.foo.lock", OP_CMD, {"force": True}, None)


def test_decode_request_takes_the_key_in_either_form():
    key = "ab" * 16
    for sent in (key, str(uuid.UUID(hex=key)), str(uuid.UUID(hex=key)).upper()):
        assert d4.decode_request(request_headers(lockout_key=sent), b"{}", "foo").lockout_key == key


def test_decode_request_empty_or_null_body_is_an_empty_payload():
    assert d4.decode_request(request_headers(), b"", "foo").payload == {}
    assert d4.decode_request(request_headers(), b"null", "foo").payload == {}


@pytest.mark.parametrize("headers, body, error", [
    (request_headers(lockout_key="nope"), b"{}", InvalidKey),
    (request_headers(message_type=T_REPLY), b"{}", DecodingError),
    (request_headers(message_type="3"), b"{}", DecodingError),
    ({k: v for k, v in request_headers().items() if k != "message_operation"}, b"{}", DecodingError),
    (request_headers(), b"{nope", DecodingError),
    (request_headers(), b"\xff", DecodingError),
    (request_headers(), b"[" * 40 + b"]" * 40, DecodingError),
    (request_headers(), b'"text"', PayloadError),
    (request_headers(), b'{"values": {}}', PayloadError),
    (request_headers(), b'{"values": [NaN]}', DecodingError),
])
def test_decode_request_errors(headers, body, error):
    with pytest.raises(error):
        d4.decode_request(headers, body, "foo")


def test_decode_request_refuses_another_encoding():
    with pytest.raises(DecodingError, match="application/json"):
        d4.decode_request(request_headers(), b"{}", "foo", content_encoding="application/msgpack")


def test_reply_round_trip():
    messages = d4.reply_messages(Reply(307, "locked", {"values": [1]}), "amq.gen-q", "cid")
    (message,) = messages
    assert (message.routing_key, message.correlation_id, message.reply_to) == ("amq.gen-q", "cid", "")
    assert message.headers["return_code"] == 307 and message.headers["return_message"] == "locked"
    assert message.headers["message_type"] == T_REPLY and message.headers["specifier"] == ""
    reply = d4.decode_reply(message.headers, message.body, "cid")
    assert (reply.retcode, reply.return_msg, reply.payload, reply.correlation_id) == (
        307, "locked", {"values": [1]}, "cid")


def test_decode_reply_wraps_a_bare_value_as_dripline_python_sends_it():
    headers = {"message_type": T_REPLY, "return_code": 0, "return_message": ""}
    assert d4.decode_reply(headers, b"21.5").payload == {"values": [21.5]}


def test_alert_messages_for_a_data_logger():
    (message,) = alert_messages("sensor_value.oven", {"value_raw": 1.0, "value_cal": 2.0}, unixtime=1718000000.25)
    assert message.routing_key == "sensor_value.oven" and message.reply_to == ""
    assert message.headers["message_type"] == T_ALERT
    assert message.headers["timestamp"] == "2024-06-10T06:13:20.250000Z"
    assert set(message.headers["sender_info"]) == SENDER_KEYS
    assert re.fullmatch(UUID, message.correlation_id) and re.fullmatch(UUID + "/0/1", message.message_id)
    assert json.loads(message.body) == {"value_raw": 1.0, "value_cal": 2.0}


def test_alert_from_keeps_the_keys_sender_in_v4_form():
    alert = Alert("sensor_value.t", {"value_raw": 3}, unixtime=0.0,
                  sender_info={"package": "flubber", "exe": "serve", "version": "1", "hostname": "pc",
                               "username": "lab", "service_name": "lab"})
    (message,) = d4.alert_from(alert)
    sender = message.headers["sender_info"]
    assert set(sender) == SENDER_KEYS and (sender["exe"], sender["hostname"], sender["service_name"]) == (
        "serve", "pc", "lab")


def test_chunk_assembler_joins_in_any_order_and_once():
    assembler = d4.ChunkAssembler()
    assert assembler.add("m/1/3", "second", b"b") is None
    assert assembler.add("m/0/3", "first", b"a") is None
    assert assembler.add("m/0/3", "again", b"a") is None       # a duplicate chunk is ignored
    assert assembler.add("m/2/3", "third", b"c") == ("second", b"abc")
    assert len(assembler) == 0 and assembler.expire("m/0/3") is None


def test_chunk_assembler_hands_back_what_expired():
    assembler = d4.ChunkAssembler()
    assembler.add("m/0/2", "first", b"a")
    assert assembler.expire("m/1/2") == "first" and len(assembler) == 0


def test_chunk_assembler_limits_size_and_pending():
    assembler = d4.ChunkAssembler(max_bytes=10, max_pending=1)
    with pytest.raises(DecodingError, match="longer than the 10"):
        assembler.add("a/0/1", None, b"x" * 11)
    assembler.add("b/0/2", None, b"x")
    with pytest.raises(PayloadError, match="incomplete"):
        assembler.add("c/0/2", None, b"x")
    with pytest.raises(DecodingError, match="more than 10 bytes"):
        assembler.add("b/1/2", None, b"x" * 10)
    assert len(assembler) == 0
    assert assembler.add("b/0/2", None, b"x") is None and len(assembler) == 0   # refused: later chunks dropped


def test_chunk_assembler_allocates_nothing_for_the_chunk_count_a_sender_names():
    # one AMQP message with message_id UUID/0/100000000 asked for a list of that many slots (800 MB)
    import tracemalloc
    assembler = d4.ChunkAssembler(max_bytes=1 << 20)
    tracemalloc.start()
    try:
        assert assembler.add("m/0/1000000", None, b"x") is None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100_000, peak
    assert assembler.add("m/999999/1000000", None, b"y") is None and len(assembler) == 1


def test_chunk_assembler_refuses_more_chunks_than_the_size_limit_has_bytes():
    assembler = d4.ChunkAssembler(max_bytes=1000)
    with pytest.raises(DecodingError, match="1001 chunks"):
        assembler.add("m/0/1001", None, b"x")
    assert len(assembler) == 0
