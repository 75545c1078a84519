"""Address strings: every form parses, every mistake names the fix."""
import pytest

from flubber.instruments import AddressError, parse_address


def test_tcp_address_gives_host_and_port():
    address = parse_address("tcp://192.168.1.20:5025")
    assert (address.scheme, address.target, address.options) == ("tcp", ("192.168.1.20", 5025), {})
    assert str(address) == "tcp://192.168.1.20:5025"


def test_tcp_address_in_ipv6_brackets():
    assert parse_address("tcp://[::1]:5025").target == ("::1", 5025)


def test_serial_address_converts_its_options():
    address = parse_address("serial:///dev/ttyUSB0?baudrate=9600&parity=e&stopbits=1.5&bytesize=7&rtscts=1")
    assert address.target == "/dev/ttyUSB0"
    assert address.options == {"baudrate": 9600, "parity": "E", "stopbits": 1.5, "bytesize": 7, "rtscts": True}


def test_pipe_address_takes_a_path_or_an_abstract_name():
    assert parse_address("pipe:///run/oven.sock").target == "/run/oven.sock"
    assert parse_address("pipe://@oven").target == "@oven"


def test_sim_address_names_a_simulator_with_its_delay():
    address = parse_address("sim://scpi?delay=0.01")
    assert (address.target, address.options) == ("scpi", {"delay": 0.01})


def test_equal_addresses_compare_equal():
    assert parse_address("tcp://h:1") == parse_address("tcp://h:1")
    assert len({parse_address("sim://scpi"), parse_address("sim://scpi")}) == 1


@pytest.mark.parametrize("text, expected", [
    ("192.168.1.20:5025", "has no scheme"),
    ("tpc://host:5025", "did you mean 'tcp'"),
    ("tcp://host", "tcp://HOST:PORT"),
    ("tcp://host:99999", "port from 1 to 65535"),
    ("serial://", "has no path"),
    ("serial:///dev/ttyS0?baud=9600", "did you mean 'baudrate'"),
    ("serial:///dev/ttyS0?parity=X", "use N, E, O, M or S"),
    ("serial:///dev/ttyS0?baudrate", "name=value"),
    ("tcp://host:5025?baudrate=9600", "take no options"),
    ("sim://scip", "did you mean 'scpi'"),
    ("sim://scpi?delay=-1", "seconds >= 0"),
])
def test_a_bad_address_says_what_to_write(text, expected):
    with pytest.raises(AddressError) as info:
        parse_address(text)
    assert expected in str(info.value)
    assert isinstance(info.value, ValueError)
