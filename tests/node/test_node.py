"""The lab node in-process: instruments feed KV keys, the pull socket and the logger."""
import sqlite3

import gevent
import pytest

from flubber.kvstore._exceptions import ConfigError
from flubber.node import LabNode
from flubber.sockets import PullClient
from tests.sync import wait_until

pytestmark = pytest.mark.timeout(60)


def _config(tmp_path, **extra):
    data = {
        "name": "lab",
        "tcp": {"host": "127.0.0.1", "port": 0},
        "providers": [{"name": "kv", "module": "kv_store", "endpoints": [
            {"name": "setpoint", "module": "kv_store_key", "initial_value": 20},
        ]}],
        "instruments": [
            {"name": "temperature", "driver": "flubber.instruments.simulated:Oven",
             "args": {"setpoint_key": "setpoint", "tau": 0.3, "noise": 0.0}, "interval": 0.05},
        ],
        "sockets": {"pull": {"host": "127.0.0.1", "port": 0},
                    "push": {"host": "127.0.0.1", "port": 0, "writable": ["setpoint"]}},
        "logger": {"url": "sqlite:///%s" % (tmp_path / "lab.sqlite"), "table": "dateplots_lab"},
    }
    data.update(extra)
    return data


def _wait_for(condition, timeout=10.0):
    with gevent.Timeout(timeout, AssertionError("condition not met within %s s" % timeout)):
        while not condition():
            gevent.sleep(0.02)


def test_a_reading_reaches_the_key_the_pull_socket_and_the_logger(tmp_path):
    node = LabNode.from_dict(_config(tmp_path)).start()
    try:
        _wait_for(lambda: node.instruments[0].readings >= 5)
        assert node.value("temperature") == node.instruments[0].last_value
        client = PullClient("127.0.0.1", node.pull_socket.port, timeout=2)
        x, y = client.get("temperature")
        assert isinstance(y, float)
    finally:
        node.stop()
    assert node.unlogged == 0
    rows = sqlite3.connect(str(tmp_path / "lab.sqlite")).execute("SELECT COUNT(*) FROM dateplots_lab").fetchone()
    assert rows[0] == node.instruments[0].readings


def test_the_setpoint_in_the_kv_store_drives_the_simulated_oven(tmp_path):
    node = LabNode.from_dict(_config(tmp_path)).start()
    try:
        _wait_for(lambda: node.instruments[0].readings >= 3)
        assert node.value("temperature") < 25
        node.key("lab.kv.setpoint").set_value(60)
        _wait_for(lambda: node.value("temperature") > 55)
    finally:
        node.stop()


def test_a_push_sets_kv_keys(tmp_path):
    import socket

    node = LabNode.from_dict(_config(tmp_path)).start()
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.sendto(b'json_wn#{"setpoint": 42}', ("127.0.0.1", node.push_socket.port))
        sock.settimeout(5)
        with gevent.Timeout(5):
            reply = gevent.get_hub().threadpool.spawn(sock.recv, 65536).get()
        assert reply.startswith(b"RET#") or reply.startswith(b"ACK#"), reply
        assert node.value("setpoint") == 42
        sock.close()
    finally:
        node.stop()


def test_a_push_one_of_whose_values_a_calibration_refuses_changes_nothing(tmp_path):
    import gevent.socket

    config = _config(tmp_path, sockets={"pull": False, "push": {"host": "127.0.0.1", "port": 0,
                                                                "writable": ["setpoint", "gain"]}})
    config["providers"][0]["endpoints"].append({"name": "gain", "module": "kv_store_key", "initial_value": 1,
                                                "calibration": "2*{}"})
    node = LabNode.from_dict(config).start()
    try:
        sock = gevent.socket.socket(gevent.socket.AF_INET, gevent.socket.SOCK_DGRAM)
        sock.sendto(b'json_wn#{"setpoint": 42, "gain": "high"}', ("127.0.0.1", node.push_socket.port))
        with gevent.Timeout(5):
            reply = sock.recv(65536)
        sock.close()
        assert reply.startswith(b"ERROR#") and b"gain takes a number" in reply, reply
        assert node.value("setpoint") == 20 and node.value("gain") == 1  # nothing changed, as documented
    finally:
        node.stop()


def test_a_failing_instrument_is_counted_and_the_node_goes_on(tmp_path):
    config = _config(tmp_path)
    config["instruments"].append({"name": "broken", "driver": "os:getcwd", "interval": 0.05, "log": False})
    node = LabNode.from_dict(config).start()
    try:
        _wait_for(lambda: node.instruments[1].errors >= 3)
        assert "must be a number" in node.instruments[1].last_error
        before = node.instruments[0].readings
        _wait_for(lambda: node.instruments[0].readings > before)
    finally:
        node.stop()


def test_a_driver_class_without_call_is_refused_at_start(tmp_path):
    config = _config(tmp_path)
    config["instruments"] = [{"name": "odd", "driver": "builtins:dict"}]
    node = LabNode.from_dict(config)
    with pytest.raises(ConfigError, match="__call__"):
        node.start()
    assert not node.running


def test_an_instrument_key_that_is_not_declared_is_made(tmp_path):
    node = LabNode.from_dict(_config(tmp_path))
    assert "temperature" in node.kv.stores["kv"].endpoint_names


def test_status_counts_readings_and_logged_points(tmp_path):
    node = LabNode.from_dict(_config(tmp_path)).start()
    try:
        _wait_for(lambda: node.status()["logger"]["written"] >= 3)
        status = node.status()
        assert status["instruments"][0]["readings"] >= 3
        assert status["sockets"]["pull"]["port"] == node.pull_socket.port
    finally:
        node.stop()
    assert node.status()["running"] is False


@pytest.mark.parametrize("change, message", [
    ({"gizmos": []}, "unknown top-level key 'gizmos'"),
    ({"instruments": [{"name": "t", "driver": "no.such.module:f"}]}, "cannot be imported"),
    ({"instruments": [{"name": "t", "driver": "flubber.instruments.simulated:sine", "interval": 0}]},
     "interval: must be a positive number of seconds"),
    ({"instruments": [{"name": "t", "driver": "flubber.instruments.simulated:sine"},
                      {"name": "t", "driver": "flubber.instruments.simulated:sine"}]}, "used twice"),
    ({"instruments": [{"name": "t", "driver": "flubber.instruments.simulated:sine", "speed": 3}]},
     "unknown option 'speed'"),
    ({"sockets": {"pull": {"port": 70000}}}, "port from 0 to 65535"),
    ({"sockets": {"pull": {"port": 9000, "timout": 3}}}, "unknown option 'timout'; did you mean 'timeout'"),
    ({"logger": {"url": "sqlite:///x.db", "colour": "red"}}, "unknown option 'colour'"),
    ({"logger": {"url": "postgres://db/cinfdata"}}, "logger: database URL .* the scheme must be"),
    ({"logger": {"url": "sqlite:///x.db", "table": "dateplots-lab"}}, "table name 'dateplots-lab' is not usable"),
    ({"instruments": [{"name": "t", "driver": "flubber.instruments.simulated:Oven", "args": {"tua": 3}}]},
     r"instruments\[0\] \(t\) args: .*unexpected keyword argument 'tua'; did you mean 'tau'\?"),
    ({"instruments": [{"name": "t", "driver": "my_own_lab_drivers:read"}]}, "put the folder that holds "
     "my_own_lab_drivers on PYTHONPATH"),
])
def test_bad_node_files_are_reported_with_the_entry(tmp_path, change, message):
    with pytest.raises(ConfigError, match=message):
        LabNode.from_dict(_config(tmp_path, **change), source="lab.yaml")


def test_status_lines_do_not_hold_up_a_stopping_node(tmp_path):
    import io

    from rich.console import Console

    from flubber.cli._status import show_status

    node = LabNode.from_dict(_config(tmp_path)).start()
    display = gevent.spawn(show_status, node, console=Console(file=io.StringIO()), log_interval=30.0)
    gevent.idle()  # the status greenlet has drawn and waits for its next turn
    node.stop()
    display.join(timeout=1.0)
    assert display.dead, "the status greenlet still sleeps its 30 s log interval"


_NAN_CALLS = []


def nan_every_third():
    """A driver whose every third reading is NaN."""
    _NAN_CALLS.append(1)
    return float("nan") if len(_NAN_CALLS) % 3 == 0 else 1.0


def test_a_nan_reading_is_a_failed_reading_and_the_instrument_keeps_reading(tmp_path):
    node = LabNode.from_dict({"name": "lab", "tcp": False, "sockets": {"pull": False}, "instruments": [
        {"name": "x", "driver": "tests.node.test_node:nan_every_third", "interval": 0.01}]}).start()
    try:
        wait_until(lambda: node.instruments[0].readings >= 10, timeout=20)
    finally:
        node.stop()
    instrument = node.instruments[0]
    assert instrument.errors >= 3 and "finite" in instrument.last_error
    assert node.value("x") == 1.0


_HOT_CALLS = []


def too_hot_every_third():
    """A driver whose every third reading is above what its KV key accepts (max 100)."""
    _HOT_CALLS.append(1)
    return 150.0 if len(_HOT_CALLS) % 3 == 0 else 50.0


def test_a_reading_its_key_refuses_is_an_error_and_the_instrument_keeps_reading(tmp_path):
    # the key's InvalidValue ended the instrument's greenlet: never read again, its alarm went stale
    node = LabNode.from_dict({"name": "lab", "tcp": False, "sockets": {"pull": False}, "providers": [
        {"name": "kv", "module": "kv_store", "endpoints": [
            {"name": "x", "module": "kv_store_key", "initial_value": 0, "type": "float", "max": 100}]}],
        "instruments": [{"name": "x", "driver": "tests.node.test_node:too_hot_every_third", "interval": 0.01}],
        "logger": {"url": "sqlite:///%s" % (tmp_path / "lab.sqlite"), "table": "dateplots_lab",
                   "create_tables": True}}).start()
    try:
        wait_until(lambda: node.instruments[0].readings >= 10, timeout=20)
        logged = node.logger.status()
    finally:
        node.stop()
    instrument = node.instruments[0]
    assert instrument.errors >= 3 and "takes a number <= 100" in instrument.last_error
    assert node.value("x") == 50.0
    rows = sqlite3.connect(str(tmp_path / "lab.sqlite")).execute("SELECT value FROM dateplots_lab").fetchall()
    assert (150.0,) in rows, "the measurement is still logged: only the key refused it (%s)" % logged
