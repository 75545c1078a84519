"""``flubber serve --check`` checks the KV keys a driver's arguments name; a TCP-only node never says AMQP."""
import os
import textwrap

import pytest

from tests.processes import EXAMPLES, flubber, interrupt, serve, wait_for_line

pytestmark = pytest.mark.timeout(90)


OVEN_NODE = """
name: lab
tcp: {host: 127.0.0.1, port: 8600}
providers:
  - name: kv
    module: kv_store
    endpoints:
      - {name: %s, module: kv_store_key, initial_value: 25}
instruments:
  - name: temperature
    driver: flubber.instruments.simulated:Oven
    args: %s
    interval: 0.5
"""


def test_check_refuses_a_misspelt_key_a_driver_argument_names(tmp_path):
    node_file = tmp_path / "oven.yaml"
    node_file.write_text(OVEN_NODE % ("setpoint", "{setpoint_key: setpont, tau: 8}"))
    result = flubber("serve", str(node_file), "--check")
    assert result.returncode == 2
    assert result.stderr.startswith("flubber serve: ") and "oven.yaml" in result.stderr
    assert result.stderr.endswith(": instruments[0] (temperature) args setpoint_key: no key 'setpont' on this node; "
                                  "did you mean 'setpoint'?; keys: setpoint, temperature\n")
    assert "AMQP" not in result.stderr


def test_check_refuses_a_driver_default_that_names_no_key(tmp_path):
    node_file = tmp_path / "oven.yaml"
    node_file.write_text(OVEN_NODE % ("oven_setpoint", "{tau: 8}"))
    result = flubber("serve", str(node_file), "--check")
    assert result.returncode == 2
    assert "args setpoint_key: no key 'setpoint' on this node (the driver's default)" in result.stderr


def test_check_passes_when_the_keys_exist(tmp_path):
    node_file = tmp_path / "oven.yaml"
    node_file.write_text(OVEN_NODE % ("oven_setpoint", "{setpoint_key: oven_setpoint, tau: 8}"))
    result = flubber("serve", str(node_file), "--check")
    assert result.returncode == 0, result.stderr


def test_check_passes_the_demo_file():
    result = flubber("serve", os.path.join(EXAMPLES, "lab.yaml"), "--check")
    assert result.returncode == 0, result.stderr


def test_a_driver_reading_a_missing_key_is_reported_without_amqp_on_a_tcp_node(tmp_path):
    (tmp_path / "mydrivers.py").write_text(textwrap.dedent('''
        def oven(node):
            """Reads a key by a misspelt name: the node file cannot know it."""
            return float(node.value("setpont"))
    '''))
    node_file = tmp_path / "node.yaml"
    node_file.write_text(textwrap.dedent("""
        name: lab
        providers:
          - {name: kv, module: kv_store, endpoints: [{name: setpoint, module: kv_store_key, initial_value: 20}]}
        instruments:
          - {name: oven, driver: "mydrivers:oven", interval: 0.1}
        sockets: {pull: false}
    """))
    process, _, banner = serve(node_file, cwd=str(tmp_path), path=[tmp_path])
    assert not any("AMQP" in line for line in banner), banner
    match, _ = wait_for_line(process, r"instrument oven failed \(1 so far\): (.*)$", stream="stderr")
    assert match.group(1) == ("UnknownKeyError: no key 'setpont' on node lab; did you mean 'setpoint'?; "
                              "keys: setpoint, oven")
    status, out, err = interrupt(process)
    assert "AMQP" not in out + err
