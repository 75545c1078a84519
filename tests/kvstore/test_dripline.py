"""Dripline messages without I/O: fields, codes, payload wrapping, decoding errors."""
import json
import re

import pytest

from flubber.kvstore import (
    OP_CMD, OP_CONFIG, OP_GET, OP_RUN, OP_SEND, OP_SET, T_ALERT, T_REPLY, T_REQUEST, AccessDenied, Alert,
    AMQPConnectionError, AMQPRoutingKeyError, AMQPTimeoutError, DecodingError, DriplineError, HardwareError, InvalidKey,
    NoActionWarning, PayloadError, Reply, Request, RequestTimeout, TransportError, UnhandledError, decode_reply,
    decode_request, encode_json, exception_for_retcode,
)
from flubber.kvstore._dripline import format_timestamp, normalize_lockout_key


def test_dripline_codes():
    assert (OP_SET, OP_GET, OP_CONFIG, OP_SEND, OP_RUN, OP_CMD) == (0, 1, 6, 7, 8, 9)
    assert (T_REPLY, T_REQUEST, T_ALERT) == (2, 3, 4)


@pytest.mark.parametrize("retcode, cls", [
    (1, NoActionWarning), (102, AMQPRoutingKeyError), (200, HardwareError), (203, HardwareError),
    (302, DecodingError), (303, PayloadError), (307, AccessDenied), (308, InvalidKey), (999, UnhandledError),
    (4242, UnhandledError),
])
def test_each_retcode_has_one_exception_class(retcode, cls):
    assert exception_for_retcode(retcode) is cls


def test_retcodes_of_the_spec():
    codes = {code: exception_for_retcode(code).retcode for code in
             (100, 101, 102, 200, 201, 202, 300, 302, 303, 304, 305, 306, 307, 308, 999)}
    assert codes == {code: code for code in codes}


@pytest.mark.parametrize("retcode", [101, 102, 201, 202, 302, 303, 304, 305, 306, 307, 308])
def test_a_retcode_class_is_caught_by_its_hundreds_class(retcode):
    hundred = exception_for_retcode(retcode // 100 * 100)
    with pytest.raises(hundred):
        raise exception_for_retcode(retcode)("raised by the test")


def test_every_retcode_class_is_a_dripline_error():
    for code in (100, 101, 102, 200, 201, 202, 300, 302, 303, 304, 305, 306, 307, 308, 999):
        assert issubclass(exception_for_retcode(code), DriplineError)


def test_one_base_says_the_server_cannot_be_reached_on_tcp_and_amqp():
    assert issubclass(AMQPConnectionError, TransportError)
    assert issubclass(TransportError, ConnectionError)
    with pytest.raises(TransportError):
        raise AMQPConnectionError("no broker")


def test_a_reply_timeout_is_a_builtin_timeout_error():
    with pytest.raises(TimeoutError):
        raise RequestTimeout("no reply")


def test_a_broker_that_does_not_answer_in_time_is_unreachable_and_a_timeout():
    assert issubclass(AMQPTimeoutError, AMQPConnectionError)
    assert issubclass(AMQPTimeoutError, TimeoutError)
    assert AMQPTimeoutError.retcode == 101


def test_request_has_the_dripline_fields():
    message = Request("foo", OP_SET, {"values": [1]}, lockout_key="k").to_dict(with_target=False)
    assert set(message) == {"msgtype", "msgop", "timestamp", "payload", "lockout_key", "sender_info"}
    assert message["msgtype"] == 3
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", message["timestamp"])
    assert message["sender_info"]["package"] == "flubber"


def test_request_round_trips_through_json():
    request = Request("lab.kv.foo.lock", OP_CMD, {"values": [], "force": True}, correlation_id="7")
    back = decode_request(encode_json(request))
    assert (back.target, back.msgop, back.values, back.kwargs, back.correlation_id) == (
        "lab.kv.foo.lock", OP_CMD, [], {"force": True}, "7")


def test_amqp_routing_key_wins_over_a_target_field():
    assert decode_request(b'{"msgop": 1, "target": "a"}', target="b").target == "b"


def test_missing_payload_means_empty():
    assert decode_request(b'{"msgop": 1, "target": "a", "payload": null}').payload == {}


@pytest.mark.parametrize("target", ["sp.ping", "sp.lock", "kv"])
def test_null_values_mean_no_values(target, caplog):
    # {"values": null} in a cmd was a 999 and a logged traceback per request
    from flubber.kvstore import KVNode, KVStore, KVStoreKey

    def answer(payload):  # each on a node of its own (a lock stays)
        node = KVNode("lab", [KVStore(name="kv", endpoints=[KVStoreKey(name="sp", initial_value=1)])])
        return json.loads(node.handle_message(json.dumps({"msgop": OP_CMD, "target": target,
                                                          "payload": payload}).encode()))

    reply, plain = answer({"values": None}), answer({})
    assert reply["retcode"] == plain["retcode"] != UnhandledError.retcode, reply["return_msg"]
    assert not [record for record in caplog.records if record.exc_info], "a traceback was logged"


@pytest.mark.parametrize("data, cls", [
    (b"", DecodingError), (b"{", DecodingError), (b"\x80", DecodingError), (b"1", DecodingError),
    (b"[" * 100000, DecodingError), (b'{"msgop": 1}', DecodingError), (b'{"msgop": [], "target": "a"}', DecodingError),
    (b'{"msgop": 1, "target": "a", "payload": 3}', PayloadError),
    (b'{"msgop": 1, "target": "a", "payload": {"values": {}}}', PayloadError),
])
def test_bad_requests_raise_the_right_error(data, cls):
    with pytest.raises(cls):
        decode_request(data)


def test_reply_wraps_a_non_dict_payload():
    assert Reply(payload=5).payload == {"values": [5]}
    assert Reply(payload=None).payload == {"values": [None]}
    assert Reply(payload={"key": "x"}).payload == {"key": "x"}


def test_reply_round_trips_and_knows_errors():
    reply = decode_reply(encode_json(Reply(307, "locked", correlation_id="9")))
    assert (reply.retcode, reply.return_msg, reply.correlation_id, reply.ok) == (307, "locked", "9", False)
    assert Reply(1).ok and Reply(0).ok


def test_alert_message():
    message = Alert("sensor_value.foo", {"value_raw": 1}, unixtime=0).to_dict()
    assert message["msgtype"] == 4 and message["timestamp"] == "1970-01-01T00:00:00.000000Z"


def test_timestamp_rounds_microseconds():
    assert format_timestamp(1.9999999) == "1970-01-01T00:00:02.000000Z"
    assert format_timestamp(0.5) == "1970-01-01T00:00:00.500000Z"


def test_lockout_keys_are_normalized_uuids():
    assert normalize_lockout_key(None) is None and normalize_lockout_key("") is None
    assert normalize_lockout_key(False) is None
    assert normalize_lockout_key("ABCDEF00-0000-0000-0000-000000000000") == "abcdef00" + "0" * 24
    for bad in ("x", 5, "g" * 32, "0" * 31):
        with pytest.raises(InvalidKey):
            normalize_lockout_key(bad)


def test_values_json_cannot_hold_become_text():
    assert json.loads(encode_json({"a": (1, 2), "b": {3}, "c": b"x", "d": object}))["a"] == [1, 2]
