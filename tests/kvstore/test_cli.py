"""``flubber get|set|cmd`` over TCP and AMQP, and ``flubber serve NODE.yaml``."""
import json
import os
import re
import signal
import sys

import gevent
import gevent.subprocess
import pytest

from flubber.cli import build_parser, main
from flubber.cli.kv import parse_value

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def flubber(tcp_address, capsys):
    """Run ``flubber ARGS --host <test server>``; return (exit status, stdout, stderr)."""
    def run(*args, host=True):
        argv = list(args) + (["--host", "%s:%d" % tcp_address] if host else [])
        status = main(argv)
        out, err = capsys.readouterr()
        return status, out, err
    return run


def test_get_prints_the_payload_and_the_retcode(flubber, names):
    status, out, err = flubber("get", names.foo)
    assert status == 0
    assert json.loads(out) == {"value_raw": 3, "value_cal": 6}
    assert "retcode 0 (success)" in err


def test_get_value_prints_only_the_value(flubber, names):
    assert flubber("get", names.foo, "--value")[1].strip() == "6"
    assert flubber("get", names.valve, "--value")[1].strip() == "closed"


def test_set_sends_json_values_and_text(flubber, names, node):
    assert flubber("set", names.note, "21.5")[0] == 0
    assert node.endpoint(names.note).get_value() == {"value_raw": 21.5}
    flubber("set", names.note, "auto mode")
    assert node.endpoint(names.note).get_value() == {"value_raw": "auto mode"}
    flubber("set", names.note, "007", "--string")
    assert node.endpoint(names.note).get_value() == {"value_raw": "007"}


def test_error_retcode_gives_exit_status_1(flubber, names):
    status, out, err = flubber("get", names.unknown_key)
    assert status == 1
    assert out == ""
    assert "retcode 102 (AMQPRoutingKeyError)" in err


def test_a_mistyped_key_after_the_store_address_says_which_keys_exist(flubber, names):
    for args in (("get", "%s.%s.nokey" % (names.lab, names.kv)), ("set", "%s.%s.nokey" % (names.lab, names.kv), "1")):
        status, out, err = flubber(*args)
        assert status == 1
        assert "has no key 'nokey' (keys: %s, %s" % (names.foo, names.valve) in err
    assert flubber("get", "%s.%s.endpoint_names" % (names.lab, names.kv))[0] == 0


def test_lock_set_unlock_with_the_lockout_key(flubber, names):
    status, out, _ = flubber("cmd", names.foo, "lock")
    key = json.loads(out)["key"]
    assert flubber("set", names.foo, "1")[0] == 1
    assert flubber("set", names.foo, "1", "--lockout-key", key)[0] == 0
    assert flubber("cmd", names.foo, "unlock", "--lockout-key", key)[0] == 0
    assert flubber("set", names.foo, "2")[0] == 0


def test_cmd_force_unlock_and_keyword_arguments(flubber, names, node):
    flubber("cmd", names.foo, "lock")
    assert flubber("cmd", names.foo, "unlock", "--force")[0] == 0
    flubber("cmd", names.kv, "lock")
    assert flubber("cmd", names.kv, "unlock", "--kw", "force=true")[0] == 0
    assert not node.endpoint(names.foo).is_locked


def test_cmd_with_positional_arguments(flubber, names):
    status, out, _ = flubber("cmd", names.kv, "list_endpoints")
    assert status == 0 and names.foo in json.loads(out)["values"][0]
    assert flubber("cmd", names.foo, "single_schedule", "0.01")[0] == 0


def test_json_option_prints_the_whole_reply(flubber, names):
    reply = json.loads(flubber("get", names.foo, "--json")[1])
    assert reply["retcode"] == 0 and reply["msgtype"] == 2


def test_unreachable_server_gives_exit_status_3(capsys):
    assert main(["get", "foo", "--host", "127.0.0.1:1", "-t", "2"]) == 3
    assert "cannot reach" in capsys.readouterr().err


def test_unreachable_broker_is_one_line_that_says_why():
    result = gevent.subprocess.run(
        [sys.executable, "-m", "flubber", "get", "foo", "--broker", "amqp://guest:guest@127.0.0.1:1/%2F", "-t", "5"],
        cwd=REPO, stdout=gevent.subprocess.PIPE, stderr=gevent.subprocess.PIPE, universal_newlines=True, timeout=60)
    assert result.returncode == 3
    assert result.stderr.splitlines() == [result.stderr.strip()], "pika's records leaked: %r" % result.stderr
    assert "cannot connect to the broker at amqp://***@127.0.0.1:1/%2F: [Errno 111] Connection refused; is " \
           "RabbitMQ running there" in result.stderr


@pytest.mark.parametrize("address", ["127.0.0.1:abc", "http://127.0.0.1"])
def test_a_bad_host_is_a_usage_error(address, capsys):
    assert main(["get", "foo", "--host", address]) == 2
    assert address in capsys.readouterr().err


def test_bad_lockout_key_is_a_usage_error(flubber, names):
    assert flubber("cmd", names.foo, "unlock", "--lockout-key", "nope")[0] == 2


@pytest.mark.rabbitmq
def test_get_and_set_through_the_broker(amqp_service, rabbitmq_url, names, capsys):
    assert main(["set", names.note, "42", "--broker", rabbitmq_url]) == 0
    assert main(["get", names.note, "--broker", rabbitmq_url]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out.splitlines()[-1]) == {"value_raw": 42}
    assert main(["get", names.nobody, "--broker", rabbitmq_url, "-t", "5"]) == 1


@pytest.mark.parametrize("text, value", [("20", 20), ("1.5", 1.5), ("true", True), ('"x"', "x"),
                                         ("[1, 2]", [1, 2]), ("abc", "abc"), ("null", None)])
def test_values_are_read_as_json_when_they_are_json(text, value):
    assert parse_value(text) == value


def test_every_option_has_an_example_in_its_help():
    parser = build_parser()
    subparsers = next(action for action in parser._actions if action.dest == "command")
    for name in ("get", "set", "cmd", "serve"):
        for action in subparsers.choices[name]._actions:
            if action.help and action.dest != "help":
                assert "example" in action.help, (name, action.dest)


def _start_serve(*args):
    process = gevent.subprocess.Popen(
        [sys.executable, "-m", "flubber", "serve"] + list(args),
        stdout=gevent.subprocess.PIPE, stderr=gevent.subprocess.PIPE, cwd=REPO,
    )
    lines = []
    with gevent.Timeout(30):
        while True:
            line = process.stdout.readline().decode()
            assert line, "flubber serve ended: %s" % process.stderr.read().decode()
            lines.append(line)
            match = re.search(r"TCP on ([\d.]+):(\d+)", line)
            if match:
                return process, (match.group(1), int(match.group(2))), lines


def test_serve_runs_the_example_node_until_sigterm(capsys):
    process, address, lines = _start_serve("examples/kvstore.yaml", "--tcp", "127.0.0.1:0")
    try:
        assert "node lab:" in lines[0]
        assert main(["get", "lab.kv.setpoint", "--host", "%s:%d" % address]) == 0
        assert json.loads(capsys.readouterr().out) == {"value_raw": 20, "value_cal": 40}
        assert main(["set", "setpoint", "25", "--host", "%s:%d" % address]) == 0
        assert json.loads(capsys.readouterr().out) == {"value_raw": 25, "value_cal": 50}  # get_on_set
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err.decode()
    assert b"stopped" in out


@pytest.mark.rabbitmq
def test_serve_with_a_broker_answers_over_amqp(tmp_path, rabbitmq_url, names, capsys):
    config = tmp_path / "node.yaml"
    config.write_text("name: %s\ntcp: {port: 0}\nproviders:\n  - name: %s\n    module: kv_store\n"
                      "    endpoints: [{name: %s, module: kv_store_key, initial_value: 5}]\n"
                      % (names.lab, names.kv, names.foo))
    process, address, _ = _start_serve(str(config), "--broker", rabbitmq_url)
    try:
        with gevent.Timeout(30):
            while main(["get", names.foo, "--broker", rabbitmq_url, "-t", "2"]) != 0:
                gevent.sleep(0.2)
        assert json.loads(capsys.readouterr().out.splitlines()[-1]) == {"value_raw": 5}
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    assert process.returncode == 130  # Ctrl-C: stopped cleanly, exit status as a shell reports it


def test_serve_reports_a_bad_node_file_with_exit_status_2(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("name: lab\nproviders:\n  - {name: kv, module: kv_stor}\n")
    assert main(["serve", str(config)]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "providers[0] (kv)" in err and "kv_store" in err


def test_serve_check_only_validates(capsys):
    assert main(["serve", os.path.join(REPO, "examples", "kvstore.yaml"), "--check"]) == 0
    assert "OK" in capsys.readouterr().out


def test_serve_reports_a_port_in_use(tcp_address, capsys):
    assert main(["serve", os.path.join(REPO, "examples", "kvstore.yaml"), "--tcp", "%s:%d" % tcp_address]) == 1
    assert "cannot listen" in capsys.readouterr().err


@pytest.mark.rabbitmq
def test_get_set_cmd_with_dripline_4_through_the_broker(amqp_service, rabbitmq_url, names, capsys):
    v4 = ["--broker", rabbitmq_url, "--dripline", "4"]
    assert main(["set", names.note, "43"] + v4) == 0
    assert main(["get", names.note] + v4) == 0
    assert main(["get", names.foo + ".calibration"] + v4) == 0
    assert main(["cmd", names.foo, "ping"] + v4) == 0
    out, err = capsys.readouterr()
    assert [json.loads(line) for line in out.splitlines()[-3:-1]] == [{"value_raw": 43}, {"values": ["2*{}"]}]
    assert err.count("retcode 0 (success)") == 4


def test_dripline_4_needs_a_broker(flubber, capsys):
    status, out, err = flubber("get", "foo", "--dripline", "4")
    assert status == 2 and "--dripline 4 is spoken over AMQP only; add --broker URL" in err
