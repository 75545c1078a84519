"""The TCP transport with a raw socket: bad requests get the right retcode, the server keeps serving."""
import json

import pytest

from flubber.io import TCPClient
from flubber.kvstore import RequestTimeout, TCPKVClient, TransportError, KVTCPServer
from flubber.kvstore.client import parse_address


@pytest.fixture
def raw(tcp_address):
    """A plain TCP connection to the server; ``raw.ask(line)`` returns the decoded reply."""
    stream = TCPClient()
    stream.connect(tcp_address, timeout=5)

    def ask(data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        stream.write(data + b"\n")
        return json.loads(stream.read_until(b"\n"))

    ask.stream = stream
    yield ask
    stream.close()


def test_a_json_line_request_gets_a_json_line_reply(raw, names):
    reply = raw('{"msgtype": 3, "msgop": 1, "target": "%s", "payload": {"values": []}}' % names.foo)
    assert reply["msgtype"] == 2
    assert reply["retcode"] == 0
    assert reply["payload"] == {"value_raw": 3, "value_cal": 6}
    assert reply["sender_info"]["package"] == "flubber"
    assert reply["timestamp"].endswith("Z")


def test_reply_echoes_the_correlation_id(raw, names):
    reply = raw('{"msgop": 1, "target": "%s", "correlation_id": "abc-17"}' % names.foo)
    assert reply["correlation_id"] == "abc-17"


def test_not_json_is_answered_with_302_and_the_connection_stays(raw, names):
    reply = raw("this is not json")
    assert reply["retcode"] == 302
    assert "not JSON" in reply["return_msg"]
    assert raw('{"msgop": 1, "target": "%s"}' % names.foo)["retcode"] == 0


@pytest.mark.parametrize("line, retcode", [
    ("[1, 2, 3]", 302),                                      # not an object
    ('{"target": "foo"}', 302),                              # no msgop
    ('{"msgop": 1}', 302),                                   # no target
    ('{"msgop": 1, "target": 5}', 302),                      # target not a string
    ('{"msgop": "twelve", "target": "foo"}', 302),           # msgop not a number
    ('{"msgop": true, "target": "foo"}', 302),               # msgop a bool
    ('{"msgtype": 2, "msgop": 1, "target": "foo"}', 302),    # a reply, not a request
    ('{"msgop": 1, "target": "foo", "payload": [1]}', 303),  # payload not an object
    ('{"msgop": 0, "target": "foo", "payload": {"values": 5}}', 303),  # values not a list
    ('{"msgop": 42, "target": "foo"}', 306),                 # wrong msgop
    ('{"msgop": 1, "target": "nowhere"}', 102),              # nobody serves the target
])
def test_bad_requests_get_the_right_retcode(raw, names, line, retcode):
    line = line.replace('"foo"', '"%s"' % names.foo)
    assert raw(line)["retcode"] == retcode
    assert raw('{"msgop": 1, "target": "%s"}' % names.foo)["retcode"] == 0


def test_invalid_utf8_is_answered_with_302(raw, names):
    assert raw(b'{"msgop": 1, "target": "\xff\xfe"}')["retcode"] == 302
    assert raw('{"msgop": 1, "target": "%s"}' % names.foo)["retcode"] == 0


def test_msgop_by_name_is_accepted_for_hand_typed_requests(raw, names):
    assert raw('{"msgop": "get", "target": "%s"}' % names.foo)["payload"]["value_raw"] == 3


def test_huge_line_gets_302_without_being_buffered_and_the_server_keeps_serving(raw, names, tcp_server):
    tcp_server.max_request_bytes = 4096
    huge = b'{"msgop": 1, "target": "' + b"x" * 3_000_000 + b'"}'
    reply = raw(huge)
    assert reply["retcode"] == 302
    assert "longer than" in reply["return_msg"]
    assert raw('{"msgop": 1, "target": "%s"}' % names.foo)["retcode"] == 0


def test_blank_lines_are_ignored(raw, names):
    raw.stream.write(b"\n\r\n   \n")
    assert raw('{"msgop": 1, "target": "%s"}' % names.foo)["retcode"] == 0


def test_pipelined_requests_are_answered_in_order(raw, names):
    lines = b"".join(b'{"msgop": 0, "target": "%s", "payload": {"values": [%d]}, "correlation_id": %d}\n'
                     % (names.note.encode(), index, index) for index in range(50))
    raw.stream.write(lines)
    replies = [json.loads(raw.stream.read_until(b"\n")) for _ in range(50)]
    assert [reply["correlation_id"] for reply in replies] == list(range(50))
    assert [reply["payload"] for reply in replies] == [{"values": [index]} for index in range(50)]


def test_a_request_split_in_one_byte_pieces_is_answered(raw, names):
    line = ('{"msgop": 1, "target": "%s"}\n' % names.foo).encode()
    for index in range(len(line)):
        raw.stream.write(line[index:index + 1])
        raw.stream.flush()
    assert json.loads(raw.stream.read_until(b"\n"))["retcode"] == 0


def test_last_request_without_newline_is_answered_at_eof(tcp_address, names):
    stream = TCPClient()
    stream.connect(tcp_address, timeout=5)
    stream.write(('{"msgop": 1, "target": "%s"}' % names.foo).encode())
    stream.shutdown_write()  # half close: the server sees EOF right after the request
    assert json.loads(stream.read_until(b"\n"))["retcode"] == 0
    stream.close()


def test_many_connections_are_served_at_once(tcp_address, names):
    clients = [TCPKVClient(tcp_address) for _ in range(20)]
    for index, client in enumerate(clients):
        client.set(names.note, index)
    assert [client.get(names.note)["value_raw"] for client in clients] == [19] * 20
    for client in clients:
        client.close()


def test_client_reports_an_unreachable_server():
    probe = KVTCPServer(None)
    probe.bind(("127.0.0.1", 0))
    port = probe.sockname[1]
    probe.close()  # nobody listens on that port now
    with pytest.raises(TransportError) as error:
        TCPKVClient(("127.0.0.1", port), timeout=2).get("foo")
    assert "flubber serve" in str(error.value)


def test_client_times_out_on_a_silent_server(node):
    silent = KVTCPServer(node)
    silent.handle_connection = lambda connection: connection.read_until_eof()
    silent.bind(("127.0.0.1", 0))
    silent.start()
    try:
        with pytest.raises(RequestTimeout) as error:
            TCPKVClient(silent.sockname[:2]).get("foo", timeout=0.2)
        assert error.value.retcode == 305
    finally:
        silent.close()


def test_client_reconnects_after_the_server_restarts(node, names):
    server = KVTCPServer(node)
    server.bind(("127.0.0.1", 0))
    server.start()
    port = server.sockname[1]
    client = TCPKVClient(("127.0.0.1", port), timeout=5)
    assert client.get(names.foo)["value_raw"] == 3
    server.close()
    with pytest.raises(TransportError):
        client.get(names.foo)
    again = KVTCPServer(node)
    again.bind(("127.0.0.1", port))
    again.start()
    try:
        assert client.get(names.foo)["value_raw"] == 3
    finally:
        client.close()
        again.close()


@pytest.mark.parametrize("address, expected", [
    (None, ("127.0.0.1", 8600)),
    ("labpc", ("labpc", 8600)),
    ("labpc:9000", ("labpc", 9000)),
    ("9000", ("127.0.0.1", 9000)),
    ("[::1]:9000", ("::1", 9000)),
    ("::1", ("::1", 8600)),
    (("10.0.0.1", 1234), ("10.0.0.1", 1234)),
])
def test_client_addresses(address, expected):
    assert parse_address(address) == expected


@pytest.mark.parametrize("address, message", [
    ("labpc:abc", "the port must be a number"),
    ("labpc:", "the port must be a number"),
    ("http://labpc", "amqp://"),
])
def test_client_address_mistakes_are_usage_errors(address, message):
    with pytest.raises(ValueError, match=message):
        parse_address(address)
