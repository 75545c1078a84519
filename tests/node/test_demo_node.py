"""The README's demo node end to end: started as a process, poked with the CLI, stopped with SIGTERM."""
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.timeout(120)

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
LAB_YAML = os.path.join(ROOT, "examples", "lab.yaml")


def flubber(*args, timeout=30):
    """Run the flubber command line in a child process; return the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "flubber", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def demo_node(tmp_path):
    """The demo node on free ports with its SQLite file in tmp_path; yields (process, ports, db_url)."""
    db_url = "sqlite:///%s" % (tmp_path / "lab.sqlite")
    process = subprocess.Popen(
        [sys.executable, "-m", "flubber", "serve", LAB_YAML, "--tcp", "127.0.0.1:0", "--pull-port", "0",
         "--push-port", "0", "--share-port", "0", "--db", db_url, "--no-status", "--web", "127.0.0.1:0",
         "--state", str(tmp_path / "lab.state.json")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(tmp_path))
    banner = []
    ports = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not {"pull", "tcp", "share"} <= set(ports):
        line = process.stdout.readline()
        if not line:
            break
        banner.append(line)
        match = re.search(r"dripline over TCP on 127\.0\.0\.1:(\d+)", line)
        if match:
            ports["tcp"] = int(match.group(1))
        match = re.search(r"(pull|push) socket on UDP port (\d+)", line)
        if match:
            ports[match.group(1)] = int(match.group(2))
        match = re.search(r"share of sim://scpi on 127\.0\.0\.1:(\d+)", line)
        if match:
            ports["share"] = int(match.group(1))
    assert {"pull", "tcp", "share"} <= set(ports), "".join(banner) + process.stderr.read()
    try:
        yield process, ports, db_url
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()


def _temperature(ports):
    result = flubber("pull", "127.0.0.1:%d" % ports["pull"], "json_wn")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["temperature"][1]


def test_demo_node_serves_logs_obeys_the_setpoint_and_stops_cleanly(demo_node, tmp_path):
    process, ports, db_url = demo_node
    started = time.monotonic()
    host = "127.0.0.1:%d" % ports["tcp"]

    # values served over UDP, a KV key over dripline TCP
    assert isinstance(_temperature(ports), float)
    got = flubber("get", "setpoint", "--host", host)
    assert got.returncode == 0, got.stderr
    assert "25" in got.stdout

    # the SCPI controller behind the temperature is shared: a client of the share talks to it directly
    with socket.create_connection(("127.0.0.1", ports["share"]), timeout=10) as client:
        replies = client.makefile("rb")
        client.sendall(b"*IDN?\nSOUR:TEMP?\n")
        assert replies.readline().startswith(b"FLUBBER,SCPI-SIM,")
        assert float(replies.readline()) == 25.0  # the node wrote the setpoint key's value at start

        # raise the setpoint by its hierarchical address; the controller gets it, the temperature follows
        start = _temperature(ports)
        assert flubber("set", "lab.kv.setpoint", "60", "--host", host).returncode == 0
        client.sendall(b"SOUR:TEMP?\n")
        assert float(replies.readline()) == 60.0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _temperature(ports) < start + 5:
        time.sleep(0.3)
    assert _temperature(ports) >= start + 5

    # the oven may reach start + 5 within 1 s; let it read at least 5 temperatures (every 0.5 s) and
    # 2 pressures (every 1 s) before stopping, or the counts below depend on the machine's speed
    time.sleep(max(0.0, started + 2.5 - time.monotonic()))
    process.send_signal(signal.SIGTERM)
    output, errors = process.communicate(timeout=30)
    assert process.returncode == 0, errors
    assert "node lab stopped" in output

    database = sqlite3.connect(str(tmp_path / "lab.sqlite"))
    counts = dict(database.execute(
        "SELECT d.codename, COUNT(*) FROM dateplots_lab p JOIN dateplots_descriptions d ON d.id = p.type "
        "GROUP BY d.codename").fetchall())
    assert counts["temperature"] >= 5 and counts["pressure"] >= 2
    database.close()

    png = tmp_path / "lab.png"
    plotted = flubber("plot", db_url, "temperature", "pressure", "--since", "10m", "-o", str(png))
    assert plotted.returncode == 0, plotted.stderr
    with open(png, "rb") as handle:
        header = handle.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
    assert (width, height) == (1000, 500)


def test_serve_check_validates_the_demo_file():
    result = flubber("serve", LAB_YAML, "--check")
    assert result.returncode == 0, result.stderr
    assert "2 instruments" in result.stdout


def test_serve_reports_a_bad_node_file_with_exit_status_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: lab\ninstruments:\n  - {name: t, driver: nowhere:f}\n")
    result = flubber("serve", str(bad))
    assert result.returncode == 2
    assert "instruments[0] (t)" in result.stderr and "cannot be imported" in result.stderr


def test_plot_of_an_unknown_codename_says_which_exist(tmp_path):
    database = sqlite3.connect(str(tmp_path / "x.sqlite"))
    database.execute("CREATE TABLE dateplots_descriptions (id INTEGER PRIMARY KEY, codename TEXT, description TEXT)")
    database.execute("CREATE TABLE dateplots_x (id INTEGER PRIMARY KEY, time TEXT, type INTEGER, value REAL)")
    database.execute("INSERT INTO dateplots_descriptions VALUES (1, 'known', '')")
    database.commit()
    database.close()
    result = flubber("plot", "sqlite:///%s" % (tmp_path / "x.sqlite"), "other", "-o", str(tmp_path / "p.png"))
    assert result.returncode == 1
    assert "unknown codename other" in result.stderr and "known" in result.stderr


def test_plot_of_a_missing_sqlite_file_names_the_path(tmp_path):
    result = flubber("plot", "sqlite:///%s" % (tmp_path / "nosuch.sqlite"), "t", "-o", str(tmp_path / "p.png"))
    assert result.returncode == 1
    assert "no SQLite file %s" % (tmp_path / "nosuch.sqlite") in result.stderr
    assert not (tmp_path / "nosuch.sqlite").exists()


def test_node_benchmark_runs_in_quick_mode():
    result = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "run.py"), "node", "--quick"],
                            capture_output=True, text=True, timeout=100)
    assert result.returncode == 0, result.stderr
    assert "pull requests/s" in result.stdout and "no point lost" in result.stdout
