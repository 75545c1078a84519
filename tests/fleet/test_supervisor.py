"""The fleet runner: node files made, nodes started, a killed node restarted, the fleet stopped."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from flubber.fleet import FleetError, FleetSupervisor, fleet_node, make_fleet, read_state
from flubber.kvstore import parse_node_config

pytestmark = pytest.mark.timeout(120)


def flubber(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "flubber", *args], capture_output=True, text=True, timeout=timeout)


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met within %g s" % timeout)


def test_made_node_files_are_valid_and_unique(tmp_path):
    paths = make_fleet(str(tmp_path), 5, broker="amqp://guest:guest@127.0.0.1/%2F", db="sqlite:///fleet.sqlite",
                       keys=10, instruments=2, rate=10)
    nodes = [yaml.safe_load(open(path)) for path in paths]
    assert [node["name"] for node in nodes] == ["node01", "node02", "node03", "node04", "node05"]
    assert len({node["tcp"]["port"] for node in nodes}) == 5
    assert len({node["sockets"]["pull"]["port"] for node in nodes}) == 5
    codenames = [item["name"] for node in nodes for item in node["instruments"]]
    assert len(set(codenames)) == 10
    for node, path in zip(nodes, paths):
        config = parse_node_config(node, source=path, extra_sections=("instruments", "sockets", "logger"))
        assert config.amqp["url"].startswith("amqp://") and len(node["providers"][0]["endpoints"]) == 10
        assert node["instruments"][0]["interval"] == pytest.approx(0.1)
        assert node["logger"]["table"] == "dateplots_fleet"


def test_no_node_files_is_a_clear_error(tmp_path):
    with pytest.raises(FleetError, match="no node files"):
        FleetSupervisor(str(tmp_path))
    assert flubber("fleet", "up", str(tmp_path)).returncode == 1


def test_up_status_restart_down(tmp_path):
    folder = tmp_path / "fleet"
    paths = make_fleet(str(folder), 2, keys=1, instruments=1, rate=5, tcp_base=0, pull_base=0)
    for path in paths:  # any free port: two test runs at once must not collide
        node = yaml.safe_load(open(path))
        node["sockets"]["pull"]["port"] = 0
        node["tcp"] = None
        with open(path, "w") as handle:
            yaml.safe_dump(node, handle)
    up = flubber("fleet", "up", str(folder), "--detach", "--grace", "5")
    assert up.returncode == 0, up.stderr
    try:
        state = wait_for(lambda: (lambda s: s if s and all(n["pid"] for n in s["nodes"]) else None)(
            read_state(str(folder))))
        status = flubber("fleet", "status", str(folder))
        assert status.returncode == 0, status.stdout
        assert status.stdout.count(" up ") == 2
        victim = state["nodes"][0]
        os.kill(victim["pid"], signal.SIGKILL)
        restarted = wait_for(lambda: (lambda s: s["nodes"][0] if s["nodes"][0]["restarts"] == 1
                                      and s["nodes"][0]["pid"] else None)(read_state(str(folder))))
        assert restarted["pid"] != victim["pid"] and restarted["last_exit"] == -signal.SIGKILL
        log_text = (folder / "logs" / "node01.log").read_text()
        assert log_text.count("starting") == 2
    finally:
        down = flubber("fleet", "down", str(folder))
    assert down.returncode == 0, down.stderr
    final = read_state(str(folder))
    assert final["running"] is False
    for node in final["nodes"]:
        assert node["pid"] is None
    status = flubber("fleet", "status", str(folder))
    assert status.returncode == 1 and "NOT running" in status.stdout


def test_a_second_supervisor_of_the_same_folder_is_refused(tmp_path):
    make_fleet(str(tmp_path), 1, keys=1, instruments=1, tcp_base=0, pull_base=0)
    state = {"pid": os.getppid(), "running": True, "nodes": []}  # a live process that is not us
    os.makedirs(tmp_path / ".fleet")
    (tmp_path / ".fleet" / "state.json").write_text(json.dumps(state))
    with pytest.raises(FleetError, match="already runs"):
        FleetSupervisor(str(tmp_path)).start()


def test_fleet_node_without_broker_or_db_has_neither():
    node = fleet_node(7, tcp_base=0)
    assert node["name"] == "node07" and "amqp" not in node and "logger" not in node and node["tcp"] is None


def _processes_with(marker):
    found = []
    for pid in os.listdir("/proc"):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as handle:
                if marker.encode() in handle.read():
                    found.append(int(pid))
        except OSError:  # gone meanwhile, or not a process
            continue
    return found


def test_a_stop_while_a_child_is_being_started_leaves_no_child_behind(tmp_path):
    import gevent

    (tmp_path / "one.yaml").write_text("name: one\n")
    marker = "flubber-fleet-test-%d-%d" % (os.getpid(), time.monotonic_ns())
    sleeper = [sys.executable, "-c", "import time; time.sleep(600)", marker]
    supervisor = FleetSupervisor(str(tmp_path), grace=5, command=lambda path: sleeper).start()
    gevent.sleep(0)  # the supervising greenlet forks the child and waits for its exec: stop now
    supervisor.stop()
    wait_for(lambda: not _processes_with(marker), timeout=10)


def test_a_node_that_cannot_be_started_is_tried_again_and_said_so(tmp_path, caplog):
    import gevent

    (tmp_path / "one.yaml").write_text("name: one\n")
    missing = [str(tmp_path / "no-such-program")]
    supervisor = FleetSupervisor(str(tmp_path), grace=5, backoff=0.01, command=lambda path: missing).start()
    try:
        node = supervisor.nodes[0]
        with gevent.Timeout(30):
            while node.restarts < 2:  # its greenlet lives on and tries again, with back-off
                gevent.sleep(0.01)
        assert "cannot start node one" in caplog.text and "no-such-program" in caplog.text
    finally:
        supervisor.stop()
