"""The YAML node file: the seed's shape loads; every mistake names the file, the entry and the fix."""
import os
import pathlib
import textwrap

import pytest

from flubber.kvstore import ConfigError, KVStore, KVStoreKey, load_node_config, parse_node_config, register_module
from flubber.kvstore.config import build_providers

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SEED_YAML = """
name: somenode
providers:
  - name: kv_example
    module: kv_store
    endpoints:
      - name: foo
        module: kv_store_key
      - name: bar
        module: kv_store_key
      - name: baz
        module: kv_store_key
"""


@pytest.fixture
def write(tmp_path):
    def write(text, name="node.yaml"):
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return str(path)
    return write


def load_error(path):
    with pytest.raises(ConfigError) as error:
        load_node_config(path)
    return str(error.value)


def test_the_seed_example_loads_and_addresses_work(write):
    config = load_node_config(write(SEED_YAML))
    node = config.build_node()
    assert node.stores["kv_example"].endpoint_names == ["foo", "bar", "baz"]
    assert node.resolve("somenode.kv_example.foo")[0] is node.endpoint("foo")
    assert config.tcp == {"host": "127.0.0.1", "port": 8600}
    assert config.amqp is None


def test_a_pathlib_path_loads_like_a_string(write):
    path = write(SEED_YAML)
    config = load_node_config(pathlib.Path(path))
    assert config.name == "somenode"
    assert config.build_node().stores["kv_example"].endpoint_names == ["foo", "bar", "baz"]


def test_the_spec_example_loads(write):
    config = load_node_config(write("""
        name: lab
        tcp: {host: 127.0.0.1, port: 8600}
        amqp: {url: "amqp://guest:guest@127.0.0.1:5672/%2F"}
        providers:
          - name: kv
            module: kv_store
            endpoints:
              - {name: setpoint, module: kv_store_key, initial_value: 20, calibration: "2*{}"}
    """))
    node = config.build_node()
    assert node.endpoint("setpoint").get_value() == {"value_raw": 20, "value_cal": 40}
    assert config.amqp["url"].startswith("amqp://")


def test_amqp_alerts_name_the_dripline_version_of_the_alerts(write):
    config = load_node_config(write("name: lab\namqp: {url: 'amqp://h/', alerts: dripline4}\n"))
    assert config.amqp["alerts"] == "dripline4"
    assert load_node_config(write("name: lab\namqp: 'amqp://h/'\n")).amqp["alerts"] == "dripline3"


def test_the_shipped_example_loads():
    node = load_node_config(os.path.join(REPO, "examples", "kvstore.yaml")).build_node()
    assert node.endpoint("valve").get_value() == {"value_raw": "CLOSE", "value_cal": "closed"}


def test_camel_case_module_names_work_too(write):
    node = load_node_config(write("""
        name: lab
        providers:
          - {name: kv, module: KVStore, endpoints: [{name: a, module: KVStoreKey, initial_value: 1}]}
    """)).build_node()
    assert node.endpoint("a").get_value() == {"value_raw": 1}


def test_each_build_makes_fresh_objects(write):
    config = load_node_config(write(SEED_YAML))
    assert config.build_node().endpoint("foo") is not config.build_node().endpoint("foo")


def test_tcp_can_be_turned_off(write):
    assert load_node_config(write("name: lab\ntcp: false\n")).tcp is None


def test_unknown_module_names_the_entry_and_the_known_ones(write):
    message = load_error(write("""
        name: lab
        providers:
          - name: kv
            module: kv_store
            endpoints:
              - {name: foo, module: kv_store_kye}
    """))
    assert "node.yaml" in message
    assert "providers[0] (kv) endpoints[0] (foo)" in message
    assert "kv_store_kye" in message and "did you mean 'kv_store_key'" in message


def test_unknown_provider_module(write):
    message = load_error(write("name: lab\nproviders:\n  - {name: kv, module: kvstore}\n"))
    assert "providers[0] (kv)" in message and "kv_store" in message


def test_duplicate_names_name_both_entries(write):
    message = load_error(write("""
        name: lab
        providers:
          - name: kv
            module: kv_store
            endpoints:
              - {name: foo, module: kv_store_key}
          - name: kv2
            module: kv_store
            endpoints:
              - {name: foo, module: kv_store_key}
    """))
    assert "providers[1] (kv2) endpoints[0] (foo)" in message
    assert "providers[0] (kv) endpoints[0] (foo)" in message
    assert "unique" in message


def test_a_key_named_like_the_node_is_refused(write):
    message = load_error(write("name: lab\nproviders:\n  - {name: lab, module: kv_store}\n"))
    assert "node name" in message


@pytest.mark.parametrize("option, value, words", [
    ("max_interval", "'soon'", "max_interval"),
    ("max_fractional_change", "-1", "max_fractional_change"),
    ("get_on_set", "maybe", "get_on_set"),
    ("log_on_set", "[1]", "log_on_set"),
    ("calibration", "5", "calibration"),
    ("calibration", "\"__import__('os')\"", "not an allowed function"),
    ("schedule_interval", "{a: 1}", "schedule_interval"),
    ("alert_routing_key", "'a b'", "alert_routing_key"),
])
def test_wrong_types_name_the_key_and_the_option(write, option, value, words):
    message = load_error(write("""
        name: lab
        providers:
          - name: kv
            module: kv_store
            endpoints:
              - {name: foo, module: kv_store_key, %s: %s}
    """ % (option, value)))
    assert "providers[0] (kv) endpoints[0] (foo)" in message
    assert words in message


def test_unknown_option_of_a_key_suggests_the_right_one(write):
    message = load_error(write("""
        name: lab
        providers:
          - {name: kv, module: kv_store, endpoints: [{name: foo, module: kv_store_key, inital_value: 3}]}
    """))
    assert "inital_value" in message and "did you mean 'initial_value'" in message
    options = message.rpartition("options: ")[2].split(", ")
    assert len(options) == len(set(options)), "an option is listed twice: %s" % message


def test_an_own_module_that_is_not_on_the_path_says_how_to_put_it_there(write):
    message = load_error(write("""
        name: lab
        providers:
          - {name: kv, module: kv_store, endpoints: [{name: heater, module: "my_lab_heaters:Heater"}]}
    """))
    assert "No module named 'my_lab_heaters'" in message
    assert "put the folder that holds my_lab_heaters on PYTHONPATH" in message


def test_unknown_top_level_key_is_named(write):
    message = load_error(write("name: lab\nprovders: []\n"))
    assert "provders" in message and "did you mean 'providers'" in message


def test_later_sections_pass_through_when_another_layer_reads_them(write):
    path = write("name: lab\nsockets: [{kind: pull}]\n")
    assert "sockets" in load_error(path)
    config = load_node_config(path, extra_sections=("sockets", "logger", "instruments"))
    assert config.extra == {"sockets": [{"kind": "pull"}]}


@pytest.mark.parametrize("text, words", [
    ("providers: []\n", "no node name"),
    ("name: 'my lab'\n", "not usable"),
    ("name: lab\ntcp: {port: 99999}\n", "port"),
    ("name: lab\ntcp: {prot: 1}\n", "did you mean 'port'"),
    ("name: lab\namqp: {url: 'http://x'}\n", "amqp://"),
    ("name: lab\namqp: {url: 'amqp://h/', workers: 0}\n", "workers"),
    ("name: lab\namqp: {url: 'amqp://h/', alerts: 4}\n", "alerts must be dripline3 or dripline4"),
    ("name: lab\nproviders: {kv: 1}\n", "must be a list"),
    ("name: lab\nproviders: [kv]\n", "providers[0]"),
    ("name: lab\nproviders: [{module: kv_store}]\n", "no name"),
    ("name: lab\nproviders: [{name: kv}]\n", "module: kv_store"),
    ("name: lab\nproviders: [{name: kv, module: kv_store, endpoints: {a: 1}}]\n", "endpoints must be a list"),
    ("name: lab\nproviders: [{name: kv, module: kv_store, endpoints: [{module: kv_store_key}]}]\n", "no name"),
    ("name: lab\nproviders: [{name: kv, module: kv_store, colour: red}]\n", "colour"),
    ("- just\n- a list\n", "mapping"),
])
def test_structural_mistakes_say_what_to_change(write, text, words):
    assert words in load_error(write(text))


def test_yaml_syntax_error_names_the_line(write):
    message = load_error(write("name: lab\nproviders:\n  - {name: kv, module: kv_store\n"))
    assert "node.yaml" in message and "line" in message and "YAML" in message


def test_missing_file_is_a_config_error(tmp_path):
    assert "cannot read" in load_error(str(tmp_path / "absent.yaml"))


def test_store_calibration_and_get_on_set_are_defaults_for_its_keys(write):
    node = load_node_config(write("""
        name: lab
        providers:
          - name: kv
            module: kv_store
            calibration: "3*{}"
            get_on_set: true
            endpoints:
              - {name: a, initial_value: 1}
              - {name: b, initial_value: 1, calibration: "{}", get_on_set: false}
    """)).build_node()
    assert node.endpoint("a").get_value() == {"value_raw": 1, "value_cal": 3}
    assert node.endpoint("a").get_on_set is True
    assert node.endpoint("b").get_value() == {"value_raw": 1, "value_cal": 1}
    assert node.endpoint("b").get_on_set is False


class Doubler(KVStoreKey):
    """A user's key class, loaded by its import path."""

    def on_get(self):
        return self.calibrated(self._value * 2)


def test_user_classes_load_by_import_path_and_by_registered_name(write):
    node = load_node_config(write("""
        name: lab
        providers:
          - name: kv
            module: kv_store
            endpoints:
              - {name: a, module: "tests.kvstore.test_config:Doubler", initial_value: 2}
    """)).build_node()
    assert node.endpoint("a").get_value() == {"value_raw": 4}
    register_module("doubler", Doubler)
    stores = build_providers([{"name": "kv", "module": "kv_store",
                               "endpoints": [{"name": "b", "module": "doubler", "initial_value": 3}]}])
    assert stores[0].endpoint("b").get_value() == {"value_raw": 6}


def test_import_path_of_a_wrong_class_is_refused(write):
    message = load_error(write("""
        name: lab
        providers:
          - {name: kv, module: kv_store, endpoints: [{name: a, module: "os.path:join"}]}
    """))
    assert "not a Endpoint class" in message or "is not a" in message


def test_parse_node_config_accepts_a_dict():
    config = parse_node_config({"name": "lab", "providers": [{"name": "kv", "module": "kv_store"}]})
    assert isinstance(config.build_node().stores["kv"], KVStore)
