"""``flubber pull HOST[:PORT] [COMMAND]``."""
import json
import socket as stdlib_socket
import subprocess

import pytest

from flubber.cli import main
from flubber.cli.pull import format_reply, parse_target
from flubber.sockets import DataPushSocket, DateDataPullSocket

from tests.ports import refused_port

from .conftest import PYTHON, REPO, subprocess_env

HOST = "127.0.0.1"


@pytest.fixture
def served(make_socket):
    sock = make_socket(DateDataPullSocket, "cli test", ["a", "b"])
    sock.set_point("a", (1.5, 2.5))
    return sock


def test_default_command_is_json_wn_pretty_printed(served, capsys):
    assert main(["pull", "%s:%d" % (HOST, served.port)]) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == {"a": [1.5, 2.5], "b": [0.0, 0.0]}
    assert out.startswith('{\n  "a": [\n')


def test_raw_commands_print_as_is(served, capsys):
    assert main(["pull", "%s:%d" % (HOST, served.port), "a#raw"]) == 0
    assert capsys.readouterr().out == "1.5,2.5\n"


def test_raw_option_skips_pretty_printing(served, capsys):
    assert main(["pull", "%s:%d" % (HOST, served.port), "codenames_json", "--raw"]) == 0
    assert capsys.readouterr().out == '["a", "b"]\n'


def test_unknown_command_exits_3(served, capsys):
    assert main(["pull", "%s:%d" % (HOST, served.port), "bogus"]) == 3
    captured = capsys.readouterr()
    assert captured.out == "UNKNOWN_COMMMAND\n"
    assert "does not know the command 'bogus'" in captured.err and "codenames_json" in captured.err


def test_unknown_command_of_a_push_socket_exits_3(make_socket, capsys):
    sock = make_socket(DataPushSocket, "p")
    assert main(["pull", "%s:%d" % (HOST, sock.port), "bogus"]) == 3
    assert capsys.readouterr().out == "ERROR#UNKNOWN_COMMMAND\n"


def test_a_host_name_that_does_not_resolve_is_named(monkeypatch, capsys):
    def unresolvable(host, port, timeout=None):  # what UDPClient raises; no DNS query leaves the machine
        raise stdlib_socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr("flubber.cli.pull.UDPClient", unresolvable)
    assert main(["pull", "no-such-host.invalid", "-t", "0.5"]) == 1
    assert "cannot resolve the host name 'no-such-host.invalid' (Name or service not known)" in \
        capsys.readouterr().err


def test_push_reply_is_printed_as_it_came_on_the_wire(make_socket, capsys):
    sock = make_socket(DataPushSocket, "p", action="callback_direct", callback=lambda d: d)
    assert main(["pull", "%s:%d" % (HOST, sock.port), 'json_wn#{"x": 1}']) == 0
    assert capsys.readouterr().out == 'RET#{"x": 1}\n'


def test_timeout_exits_non_zero_with_a_message():
    with stdlib_socket.socket(stdlib_socket.AF_INET, stdlib_socket.SOCK_DGRAM) as silent:
        silent.bind((HOST, 0))
        result = subprocess.run(
            [PYTHON, "-m", "flubber", "pull", "%s:%d" % silent.getsockname(), "-t", "0.2"],
            cwd=REPO, env=subprocess_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "no reply from 127.0.0.1" in result.stderr and "within 0.2 s" in result.stderr


def test_nothing_listening_exits_1(capsys):
    with refused_port(stdlib_socket.SOCK_DGRAM) as port:
        assert main(["pull", "%s:%d" % (HOST, port)]) == 1
    assert "nothing listens" in capsys.readouterr().err


def test_bad_port_exits_2(capsys):
    assert main(["pull", "host:port"]) == 2
    assert "must be a number" in capsys.readouterr().err


@pytest.mark.parametrize("target, expected", [
    ("rasppi42", ("rasppi42", 9000)),
    ("rasppi42:9010", ("rasppi42", 9010)),
    ("[::1]:8500", ("::1", 8500)),
    ("[::1]", ("::1", 9000)),
    ("::1", ("::1", 9000)),
    (":9010", ("127.0.0.1", 9010)),
])
def test_parse_target(target, expected):
    assert parse_target(target) == expected


@pytest.mark.parametrize("reply, expected", [
    ("OLD_DATA", "OLD_DATA"),
    ('"OLD_DATA"', '"OLD_DATA"'),
    ("[1, 2]", "[\n  1,\n  2\n]"),
    ("ACK#{'a': 1}", "ACK#{'a': 1}"),
    ("RET#[1]", "RET#[1]"),
    ("{not json", "{not json"),
])
def test_format_reply(reply, expected):
    assert format_reply(reply) == expected


def test_help_lists_every_option_with_an_example(capsys):
    with pytest.raises(SystemExit):
        main(["pull", "--help"])
    out = capsys.readouterr().out
    for option in ("--timeout", "--raw", "HOST[:PORT]", "command"):
        assert option in out
    assert out.count("example") >= 4
