"""Three nodes on one RabbitMQ and one MariaDB: listed, addressed, unique, through a broker restart, one table.

The tests share one fleet (``flubber fleet up --detach`` on three node files
with unique names) and run in file order: the last one stops the fleet and
counts what the nodes stored.
"""
import json
import re
import shutil
import subprocess
import uuid

import pytest

from flubber.fleet import make_fleet, ping_nodes, wait_for_nodes
from flubber.plot import origin_stats
from tests.conftest import skip_loudly
from tests.processes import flubber

pytestmark = [pytest.mark.timeout(300)]

DB = "mysql://root@127.0.0.1:3306/test"
NODES = 3


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, rabbitmq_url, mariadb_available):
    """A running 3-node fleet: ``(folder, broker URL, names, table)``; stopped and its table dropped after."""
    folder = tmp_path_factory.mktemp("fleet")
    prefix = "f%s_" % uuid.uuid4().hex[:6]   # other test runs share the broker: unique names
    table = "dateplots_%sfleet" % prefix
    make_fleet(str(folder), NODES, broker=rabbitmq_url, db=DB, keys=3, instruments=1, rate=5.0, tcp_base=0,
               pull_base=0, table=table, prefix=prefix)
    names = ["%s%02d" % (prefix, index) for index in range(1, NODES + 1)]
    up = flubber("fleet", "up", str(folder), "--detach", "--grace", "20")
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        wait_for_nodes(rabbitmq_url, NODES, timeout=90, names=names)
        yield folder, rabbitmq_url, names, table
    finally:
        flubber("fleet", "down", str(folder), timeout=120)
        _drop(table)


def _drop(table):
    import MySQLdb

    connection = MySQLdb.connect(host="127.0.0.1", port=3306, user="root", database="test")
    try:
        connection.cursor().execute("DROP TABLE IF EXISTS `%s`" % table)
    finally:
        connection.close()


def test_flubber_nodes_lists_every_node_with_host_uptime_keys_version(fleet):
    folder, url, names, _ = fleet
    listing = flubber("nodes", "--broker", url, "--timeout", "5")
    assert listing.returncode == 0, listing.stderr
    for name in names:
        line = next(line for line in listing.stdout.splitlines() if line.startswith(name + " "))
        assert re.search(r"\s\d+\s+\d+\.\d+\.\d+\s+[\d.]+ ms$", line), line   # keys, version, reply time
    assert "NODE" in listing.stdout and "UPTIME" in listing.stdout
    mine = [node for node in json.loads(flubber("nodes", "--broker", url, "--json", "--timeout", "5").stdout)
            if node["name"] in names]
    assert sorted(node["name"] for node in mine) == names
    for node in mine:
        assert node["keys"] == 4 and node["instruments"] == 1 and node["uptime"] > 0 and node["pid"] > 0
        assert node["host"] and node["version"]


def test_get_set_and_cmd_reach_any_nodes_key_over_the_broker(fleet):
    _, url, names, _ = fleet
    assert flubber("set", names[1] + ".kv.key01", "42", "--broker", url).returncode == 0
    got = flubber("get", names[1] + ".kv.key01", "--broker", url, "--value")
    assert got.returncode == 0 and got.stdout.strip() == "42", got.stderr
    other = flubber("get", names[2] + ".kv.key01", "--broker", url, "--value")
    assert other.stdout.strip() == "1"                  # the same key name on another node is another key
    ping = flubber("cmd", names[0], "ping", "--broker", url, "--json")
    reply = json.loads(ping.stdout)
    assert reply["retcode"] == 0 and reply["payload"]["name"] == names[0]


def test_a_second_node_with_a_name_that_answers_refuses_to_start(fleet):
    folder, _, names, _ = fleet
    twin = flubber("serve", str(folder / (names[0] + ".yaml")), "--no-status", "--pull-port", "0", "--db",
                   "sqlite:///%s" % (folder / "twin.sqlite"))
    assert twin.returncode == 1
    lines = twin.stderr.strip().splitlines()
    assert len(lines) == 1 and "already answers on the broker" in lines[0] and "unique name" in lines[0], \
        twin.stderr
    assert names[0] in lines[0] and "Traceback" not in twin.stderr


def test_after_a_broker_restart_every_node_answers_again(fleet):
    _, url, names, _ = fleet
    rabbitmqctl = shutil.which("rabbitmqctl")
    if rabbitmqctl is None:
        skip_loudly("rabbitmqctl", "not installed: the broker restart of a fleet is not tested")
    stopped = subprocess.run([rabbitmqctl, "stop_app"], capture_output=True, text=True, timeout=120)
    try:
        assert stopped.returncode == 0, stopped.stderr
        during = flubber("get", names[0] + ".kv.key02", "--broker", url, "--timeout", "5")
        assert during.returncode == 3 and "broker unreachable" in during.stderr, during.stderr
    finally:
        started = subprocess.run([rabbitmqctl, "start_app"], capture_output=True, text=True, timeout=180)
    assert started.returncode == 0, started.stderr
    nodes, _ = wait_for_nodes(url, NODES, timeout=120, names=names)
    assert {node["name"] for node in nodes} >= set(names)
    assert flubber("get", names[2] + ".kv.key02", "--broker", url, "--value").stdout.strip() == "2"


def test_every_node_logs_into_one_table_with_its_own_origin_and_no_point_twice(fleet):
    folder, url, names, table = fleet
    down = flubber("fleet", "down", str(folder), timeout=120)   # each node drains its logger as it stops
    assert down.returncode == 0, down.stderr
    logged = {}
    for name in names:
        text = (folder / "logs" / (name + ".log")).read_text()
        counts = [int(count) for count in re.findall(r"stopped: \d+ readings, (\d+) points logged, 0 not logged",
                                                      text)]
        assert counts, "node %s did not stop cleanly:\n%s" % (name, text[-2000:])
        logged[name] = sum(counts)
    stats = origin_stats(DB, table)
    by_node = {}
    for origin in stats["origins"]:
        assert len(origin["codenames"]) == 1 and origin["missing"] == 0, origin
        by_node.setdefault(origin["codenames"][0].rsplit("_sine", 1)[0], []).append(origin)
    assert sorted(by_node) == names
    for name in names:
        assert sum(origin["points"] for origin in by_node[name]) == logged[name] > 0
    assert stats["repeated"] == 0
    shown = flubber("db", "stats", DB, "--table", table)
    assert shown.returncode == 0, shown.stderr
    assert "%d points from %d origins; 0 missing, 0 stored twice" % (stats["points"], len(stats["origins"])) \
        in shown.stdout
    for name in names:
        assert name + "_sine1" in shown.stdout
    assert not set(names) & {node["name"] for node in ping_nodes(url, timeout=0.5)}
