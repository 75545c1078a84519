"""Line instruments declared in the node file: address, query, parse, on_set, share, a driver given the instrument."""
import json

import gevent
import pytest

from flubber.instruments import LineInstrument
from flubber.io import TCPClient
from flubber.kvstore import ConfigError, HardwareError
from flubber.node import LabNode
from tests.ports import refused_port
from tests.sync import wait_until

pytestmark = pytest.mark.timeout(60)


def node_data(*instruments, **extra):
    data = {
        "name": "lab",
        "tcp": {"host": "127.0.0.1", "port": 0},
        "providers": [{"name": "kv", "module": "kv_store", "endpoints": [
            {"name": "setpoint", "module": "kv_store_key", "initial_value": 30},
        ]}],
        "instruments": list(instruments),
        "sockets": {"pull": False},
    }
    data.update(extra)
    return data


@pytest.fixture
def controller(make_simulator):
    """The SCPI simulator on TCP, as a LAN temperature controller would be."""
    return make_simulator(delay=0.001)


@pytest.fixture
def running():
    """``running(data)``: a started LabNode of the node-file *data*, stopped after the test."""
    nodes = []

    def start(data):
        node = LabNode.from_dict(data, source="lab.yaml").start()
        nodes.append(node)
        return node

    yield start
    for node in nodes:
        node.stop()


def test_address_and_query_read_the_instrument_every_interval(controller, running):
    node = running(node_data({"name": "temperature", "address": controller.address, "query": "MEAS:TEMP?",
                              "interval": 0.02}))
    wait_until(lambda: node.instruments[0].readings >= 3)
    assert 19 < node.value("temperature") < 31
    assert node.status()["line_instruments"][controller.address]["stats"]["queries"] >= 3


def test_parse_takes_the_first_group_of_the_reply(controller, running):
    node = running(node_data({"name": "t", "address": controller.address, "query": "ECHO? T=+1.5E+01C",
                              "parse": r"T=([-+0-9.eE]+)C", "interval": 0.02}))
    wait_until(lambda: node.instruments[0].readings >= 1)
    assert node.value("t") == 15.0


def test_on_set_writes_the_new_value_to_the_instrument(controller, running):
    node = running(node_data({"name": "temperature", "address": controller.address, "query": "MEAS:TEMP?",
                              "on_set": {"key": "setpoint", "write": "SOUR:TEMP {value}"}}))
    wait_until(lambda: controller.simulator.oven.default_setpoint == 30.0)  # the key's value, written at start
    node.key("lab.kv.setpoint").set_value(45)
    assert node.line_instruments[controller.address].query("SOUR:TEMP?") == "45"  # after the write, in order
    assert node.value("setpoint") == 45


def test_an_on_set_the_instrument_refuses_fails_the_set_and_keeps_the_value(make_simulator, running):
    server = make_simulator()
    address = server.address
    node = running(node_data({"name": "temperature", "address": address, "query": "MEAS:TEMP?", "timeout": 0.5,
                              "interval": 0.02, "on_set": {"key": "setpoint", "write": "SOUR:TEMP {value}"}}))
    wait_until(lambda: node.instruments[0].readings >= 1)
    server.stop()
    wait_until(lambda: node.instruments[0].errors >= 1)  # the node's reading saw the connection go
    with pytest.raises(HardwareError, match="key setpoint was not set: .*temperature"):
        node.key("setpoint").set_value(80)
    assert node.value("setpoint") == 30


@pytest.mark.parametrize("value", ["40\nOUTP OFF", "40\rOUTP OFF", "40\n"])
def test_a_value_that_would_write_a_second_line_is_refused_and_nothing_is_written(controller, running, caplog,
                                                                                   value):
    # the key declares no type: a set over TCP, AMQP or the push socket could bring any text
    from flubber.kvstore import OP_SET, Request

    node = running(node_data({"name": "temperature", "address": controller.address, "query": "MEAS:TEMP?",
                              "on_set": {"key": "setpoint", "write": "SOUR:TEMP {value}"}}))
    wait_until(lambda: controller.simulator.oven.default_setpoint == 30.0)
    reply = node.kv.handle(Request("setpoint", OP_SET, {"values": [value]}))
    assert reply.retcode == 304 and "one line" in reply.return_msg, (reply.retcode, reply.return_msg)
    assert node.value("setpoint") == 30
    assert node.line_instruments[controller.address].query("SOUR:TEMP?") == "30"
    assert not [record for record in caplog.records if record.exc_info], "a traceback was logged"


def test_a_driver_with_an_address_is_handed_the_line_instrument(controller, running):
    node = running(node_data({"name": "sp", "address": controller.address, "interval": 0.02,
                              "driver": "tests.instruments.drivers:SetpointReader", "args": {"offset": 0.5}}))
    wait_until(lambda: node.instruments[0].readings >= 1)
    assert node.value("sp") == 20.5
    assert isinstance(node.instruments[0].line_instrument, LineInstrument)


def test_entries_with_one_address_share_one_connection(controller, running):
    node = running(node_data(
        {"name": "temperature", "address": controller.address, "query": "MEAS:TEMP?", "interval": 0.02},
        {"name": "sp", "address": controller.address, "query": "SOUR:TEMP?", "interval": 0.02}))
    wait_until(lambda: min(i.readings for i in node.instruments) >= 3)
    assert len(node.line_instruments) == 1
    line = node.line_instruments[controller.address]
    assert line.stats.connects == 1 and line.stats.errors == 0
    assert node.value("sp") == 20.0


def test_share_serves_the_instrument_while_the_node_reads_it(controller, running):
    node = running(node_data({"name": "temperature", "address": controller.address, "query": "MEAS:TEMP?",
                              "interval": 0.01, "share": {"host": "127.0.0.1", "port": 0}}))
    share = node.shares[0]
    client = TCPClient().connect(share.address, timeout=5)
    try:
        for number in range(50):
            client.write(b"ECHO? %d\n" % number)
            with gevent.Timeout(5):
                assert client.read_until(b"\n") == b"%d\n" % number
        client.write(b":FLUBBER:STATS?\n")
        with gevent.Timeout(5):
            assert json.loads(client.read_until(b"\n"))["queries"] == 50
    finally:
        client.abort()
    assert node.instruments[0].readings >= 1 and node.instruments[0].errors == 0
    node.stop()
    assert not share.running and not node.shares


def test_a_sim_address_needs_no_server(running):
    node = running(node_data({"name": "temperature", "address": "sim://scpi?delay=0", "query": "MEAS:TEMP?",
                              "interval": 0.02}))
    wait_until(lambda: node.instruments[0].readings >= 2)
    assert node.instruments[0].errors == 0


def test_an_unreachable_instrument_is_counted_and_the_node_goes_on(running):
    with refused_port() as port:
        node = running(node_data({"name": "t", "address": "tcp://127.0.0.1:%d" % port, "query": "MEAS:TEMP?",
                                  "interval": 0.02, "timeout": 0.5}))
        wait_until(lambda: node.instruments[0].errors >= 2)
    assert "InstrumentConnectionError" in node.instruments[0].last_error


def test_stop_closes_the_line_instruments(controller, running):
    node = running(node_data({"name": "t", "address": controller.address, "query": "MEAS:TEMP?",
                              "interval": 0.02}))
    wait_until(lambda: node.instruments[0].readings >= 1)
    line = node.line_instruments[controller.address]
    node.stop()
    assert not line.running and node.line_instruments == {} and node.instruments[0].line_instrument is None


SIM = "sim://scpi"


@pytest.mark.parametrize("entry, message", [
    ({"name": "t"}, "needs a driver .* or an address and a query"),
    ({"name": "t", "address": SIM}, "needs a query sent every interval"),
    ({"name": "t", "query": "MEAS:TEMP?"}, "query needs an address"),
    ({"name": "t", "address": "tcp://host", "query": "X?"}, r"instruments\[0\] \(t\) address: .*tcp://HOST:PORT"),
    ({"name": "t", "address": "serial:///dev/ttyS0?baud=9600", "query": "X?"}, "did you mean 'baudrate'"),
    ({"name": "t", "address": SIM, "query": "X?", "parse": "(["}, "parse: is not a regular expression"),
    ({"name": "t", "address": SIM, "query": "X?", "timeout": -1}, "timeout: must be a positive number"),
    ({"name": "t", "address": SIM, "query": "X?", "terminator": ""}, "terminator: must be a non-empty string"),
    ({"name": "t", "address": SIM, "query": "X?", "encoding": "klingon"}, "not a text encoding"),
    ({"name": "t", "address": SIM, "query": "X?", "on_set": {"key": "setpoint"}}, "on_set: needs write"),
    ({"name": "t", "address": SIM, "query": "X?", "on_set": {"key": "setpoint", "write": "SOUR {val}"}},
     "on_set write: must be a line with {value}"),
    ({"name": "t", "address": SIM, "query": "X?", "on_set": {"key": "sp", "writ": "X"}},
     "did you mean 'write'"),
    ({"name": "t", "address": SIM, "query": "X?", "share": {"port": 70000}}, "share port: must be a port"),
    ({"name": "t", "address": SIM, "query": "X?", "share": {"prot": 1}}, "did you mean 'port'"),
    ({"name": "t", "address": SIM, "query": "X?", "driver": "tests.instruments.drivers:SetpointReader"},
     "a driver or a query, not both"),
    ({"name": "t", "address": SIM, "driver": "tests.instruments.drivers:no_instrument_argument"},
     "takes no `instrument` argument"),
    ({"name": "t", "address": SIM, "query": "X?", "args": {"a": 1}}, "this entry has no driver"),
])
def test_bad_line_instrument_entries_name_the_fix(entry, message):
    with pytest.raises(ConfigError, match=message):
        LabNode.from_dict(node_data(entry), source="lab.yaml")


def test_two_entries_of_one_address_must_agree_on_the_connection():
    with pytest.raises(ConfigError, match="instruments a and b use sim://scpi with different timeout"):
        LabNode.from_dict(node_data({"name": "a", "address": SIM, "query": "X?"},
                                    {"name": "b", "address": SIM, "query": "Y?", "timeout": 9}))
    with pytest.raises(ConfigError, match="both share sim://scpi"):
        LabNode.from_dict(node_data({"name": "a", "address": SIM, "query": "X?", "share": {"port": 0}},
                                    {"name": "b", "address": SIM, "query": "Y?", "share": {"port": 0}}))


def test_a_single_quoted_backslash_terminator_is_understood(running, make_simulator):
    server = make_simulator(terminator="\r\n")
    node = running(node_data({"name": "t", "address": server.address, "query": "ECHO? 7", "interval": 0.02,
                              "terminator": "\\r\\n"}))
    wait_until(lambda: node.instruments[0].readings >= 1)
    assert node.value("t") == 7.0


def test_the_status_table_shows_each_share_and_its_clients(controller, running):
    from flubber.cli._status import render_table

    node = running(node_data({"name": "temperature", "address": controller.address, "query": "MEAS:TEMP?",
                              "share": {"host": "127.0.0.1", "port": 0}}))
    share = node.shares[0]
    client = TCPClient().connect(share.address, timeout=5)
    try:
        wait_until(lambda: share.clients, what="the share accepted the client")
        caption = render_table(node.status()).caption
    finally:
        client.abort()
    assert caption == "share 127.0.0.1:%d: 1 clients" % share.address[1]
