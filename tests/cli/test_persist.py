"""``persist: true`` keys survive a restart of ``flubber serve``: SIGTERM, SIGKILL, a crash loop, and the
edges (a damaged state, a folder that cannot be written, --reset-state, a key removed or changed)."""
import json
import os
import random
import signal
import textwrap

import gevent
import pytest

from flubber.kvstore import OP_GET, OP_SET, KVStoreError
from flubber.kvstore.client import connect
from tests.processes import flubber, serve, wait_for_line

pytestmark = pytest.mark.timeout(300)

NODE = """
name: lab
providers:
  - name: kv
    module: kv_store
    endpoints:
      - {name: setpoint, module: kv_store_key, initial_value: 25, persist: true%s}
      - {name: mode, module: kv_store_key, initial_value: auto}
"""


def _node_file(tmp_path, setpoint_options="", persist=None):
    path = tmp_path / "node.yaml"
    path.write_text(NODE % setpoint_options + ("persist: %s\n" % json.dumps(persist) if persist else ""))
    return path


def _start(node_file, *options):
    process, port, banner = serve(node_file, *options, cwd=str(node_file.parent))
    return process, "127.0.0.1:%d" % port, banner


def _get(host, target="setpoint"):
    with connect(host, timeout=10) as client:
        reply = client.request(target, OP_GET, {"values": []})
    assert reply.retcode == 0, reply.return_msg
    return reply.payload


def _set(host, value, target="setpoint", client=None):
    if client is None:
        with connect(host, timeout=10) as own:
            return own.request(target, OP_SET, {"values": [value]})
    return client.request(target, OP_SET, {"values": [value]})


def _stop(process, sig=signal.SIGTERM):
    process.send_signal(sig)
    out, err = process.communicate(timeout=30)
    return out, err


def test_a_set_value_is_back_after_sigterm_and_a_restart(tmp_path):
    node_file = _node_file(tmp_path, ", calibration: '2*{}'")
    process, host, _ = _start(node_file)
    assert _set(host, 40).retcode == 0
    assert _set(host, "3*{}", target="setpoint.calibration").retcode == 0
    assert _set(host, "manual", target="mode").retcode == 0  # not persisted
    _stop(process)
    process, host, banner = _start(node_file)
    try:
        assert _get(host) == {"value_raw": 40, "value_cal": 120}
        assert _get(host, "mode") == {"value_raw": "auto"}
        assert any(line.startswith("  restored setpoint = 40 (set ") for line in banner), banner
    finally:
        _stop(process)


def test_a_set_value_is_back_after_sigkill_right_after_the_reply(tmp_path):
    node_file = _node_file(tmp_path)
    for value in (41, 42, 43):  # a few rounds: the kill lands at a different moment of the save each time
        process, host, _ = _start(node_file)
        assert _set(host, value).retcode == 0
        process.kill()
        process.communicate(timeout=30)
        process, host, _ = _start(node_file)
        try:
            assert _get(host) == {"value_raw": value}
        finally:
            _stop(process)


def test_crash_loop_restores_an_acknowledged_value_and_the_file_always_parses(tmp_path):
    """At least 200 acknowledged sets and 5 restarts while the node is SIGKILLed at random moments.

    A set in flight when the node died may or may not have been applied; whatever is restored is the last
    acknowledged value or that in-flight one, never an older value, a value never sent, or a torn file.
    """
    node_file = _node_file(tmp_path)
    state_file = tmp_path / "node.state.json"
    rng = random.Random(20)
    acknowledged = []
    value = 0
    restarts = 0
    process, host, _ = _start(node_file)
    try:
        while (len(acknowledged) < 200 or restarts < 5) and restarts < 60:
            killer = gevent.spawn_later(rng.uniform(0.0, 0.25), process.kill)
            in_flight = None
            try:
                with connect(host, timeout=10) as client:
                    while len(acknowledged) < 5000:  # until the killer strikes (a bound, not a goal)
                        value += 1
                        in_flight = value
                        reply = _set(host, value, client=client)
                        assert reply.retcode == 0, reply.return_msg
                        acknowledged.append(value)
                        in_flight = None
            except (KVStoreError, OSError):
                pass  # the node died under the request
            killer.join()
            process.communicate(timeout=30)
            restarts += 1
            if state_file.exists():
                saved = json.loads(state_file.read_text())  # never torn: always parses
                assert saved["format"] == "flubber-state/1"
            process, host, _ = _start(node_file)
            restored = _get(host)["value_raw"]
            last = acknowledged[-1] if acknowledged else 25
            assert restored in (last, in_flight), (restored, last, in_flight)
    finally:
        if process.poll() is None:
            _stop(process)
    assert len(acknowledged) >= 200 and restarts >= 5, (len(acknowledged), restarts)


def test_a_damaged_state_file_is_kept_aside_and_the_node_starts_from_initial_values(tmp_path):
    node_file = _node_file(tmp_path)
    (tmp_path / "node.state.json").write_text('{"format": "flubber-state/1", "keys": {"setpoint": ')
    process, host, banner = _start(node_file)
    try:
        assert _get(host) == {"value_raw": 25}
        kept = [name for name in os.listdir(tmp_path) if name.startswith("node.state.json.damaged-")]
        assert len(kept) == 1
        assert (tmp_path / kept[0]).read_text().endswith('"setpoint": ')
        assert any("is damaged: not JSON" in line and "starting from the initial values" in line for line in banner)
    finally:
        out, err = _stop(process)
    errors = [line for line in err.splitlines() if "SAVED STATE NOT RESTORED" in line]
    assert len(errors) == 1 and "kept aside as" in errors[0], err


def test_an_unwritable_state_folder_is_reported_and_the_node_keeps_serving(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the state folder should be\n")
    node_file = _node_file(tmp_path, persist={"path": "not-a-folder/node.state.json"})
    process, port, _ = serve(node_file, "--status-interval", "0.2", cwd=str(tmp_path), status=True)
    host = "127.0.0.1:%d" % port
    try:
        assert _set(host, 40).retcode == 0  # the set works; only its saving fails
        assert _get(host) == {"value_raw": 40}
        wait_for_line(process, r"\| persist failing: NotADirectoryError")
    finally:
        out, err = _stop(process)
    assert "cannot save the persisted keys to %s" % (blocker / "node.state.json") in err
    assert "the node keeps serving and tries again" in err
    assert "Traceback" not in err  # the one log line per new error, not gevent's traceback per attempt


def test_reset_state_starts_from_the_initial_values_and_keeps_the_old_state_aside(tmp_path):
    node_file = _node_file(tmp_path)
    process, host, _ = _start(node_file)
    assert _set(host, 40).retcode == 0
    _stop(process)
    process, host, banner = _start(node_file, "--reset-state")
    try:
        assert _get(host) == {"value_raw": 25}
        assert any("--reset-state: every key starts from its initial value" in line for line in banner), banner
    finally:
        _stop(process)
    assert [name for name in os.listdir(tmp_path) if name.startswith("node.state.json.reset-")]


def test_a_saved_key_removed_from_the_node_file_is_ignored_with_a_note(tmp_path):
    node_file = _node_file(tmp_path)
    process, host, _ = _start(node_file)
    assert _set(host, 40).retcode == 0
    _stop(process)
    node_file.write_text(node_file.read_text().replace("name: setpoint", "name: target"))
    process, host, banner = _start(node_file)
    try:
        assert _get(host, "target") == {"value_raw": 25}
    finally:
        _stop(process)
    assert any("the saved value 40 of key 'setpoint' is ignored: the node file has no such key with persist: true"
               in line for line in banner), banner


def test_a_saved_value_of_a_type_the_key_no_longer_takes_is_ignored_with_a_note(tmp_path):
    node_file = _node_file(tmp_path)
    process, host, _ = _start(node_file)
    assert _set(host, "hot").retcode == 0
    _stop(process)
    node_file.write_text(NODE % ", type: float")
    process, host, banner = _start(node_file)
    try:
        assert _get(host) == {"value_raw": 25.0}
    finally:
        _stop(process)
    assert any("the saved value 'hot' of key 'setpoint' is ignored: setpoint takes" in line
               and "it starts at its initial value" in line for line in banner), banner


def test_state_show_prints_what_a_start_would_restore(tmp_path):
    node_file = _node_file(tmp_path)
    assert flubber("state", "show", str(node_file)).stdout == (
        "%s: nothing saved yet; setpoint start from their initial values\n" % (tmp_path / "node.state.json"))
    process, host, _ = _start(node_file)
    assert _set(host, 40).retcode == 0
    _stop(process)
    shown = flubber("state", "show", str(node_file))
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("%s (saved " % (tmp_path / "node.state.json")) and lines[0].endswith(
        "): a start restores")
    assert lines[1].startswith("  setpoint = 40 (set ")
    (tmp_path / "node.state.json").write_text("garbage")
    damaged = flubber("state", "show", str(node_file))
    assert damaged.returncode == 1
    assert "is damaged: not JSON" in damaged.stderr and "a start would keep it aside" in damaged.stderr


def test_the_demo_nodes_setpoint_survives_a_restart(tmp_path):
    from tests.processes import EXAMPLES

    options = ("--pull-port", "0", "--push-port", "0", "--share-port", "0", "--web", "127.0.0.1:0",
               "--db", "sqlite:///%s" % (tmp_path / "lab.sqlite"), "--state", str(tmp_path / "lab.state.json"))
    lab = os.path.join(EXAMPLES, "lab.yaml")
    process, port, _ = serve(lab, *options, cwd=str(tmp_path))
    host = "127.0.0.1:%d" % port
    assert _set(host, 40.0, target="lab.kv.setpoint").retcode == 0
    _stop(process)
    process, port, banner = serve(lab, *options, cwd=str(tmp_path))
    try:
        assert _get("127.0.0.1:%d" % port)["value_raw"] == 40.0
        assert any(line.startswith("  restored setpoint = 40.0 (set ") for line in banner), banner
    finally:
        _stop(process)


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_a_database_keeps_the_state_too(tmp_path, backend, request):
    if backend == "mariadb":
        request.getfixturevalue("mariadb_available")
        url = "mysql://root@127.0.0.1:3306/test"
        node_name = "persisttest%d" % os.getpid()
    else:
        url = "sqlite:///%s" % (tmp_path / "state.db")
        node_name = "lab"
    node_file = tmp_path / "node.yaml"
    node_file.write_text((NODE % "").replace("name: lab", "name: %s" % node_name, 1) + "persist: {url: %s}\n" % url)
    process, host, _ = _start(node_file)
    assert _set(host, 44).retcode == 0
    _stop(process)
    process, host, banner = _start(node_file)
    try:
        assert _get(host) == {"value_raw": 44}
        assert any("restored setpoint = 44" in line for line in banner), banner
    finally:
        _stop(process)
        if backend == "mariadb":
            import MySQLdb

            connection = MySQLdb.connect(host="127.0.0.1", user="root", database="test")
            connection.cursor().execute("DELETE FROM flubber_state WHERE node = %s", (node_name,))
            connection.commit()
            connection.close()
