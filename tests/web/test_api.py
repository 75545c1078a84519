"""The JSON API of a running node's page, over real HTTP on loopback, in the node's process."""
import json
import socket

import gevent
import gevent.socket
import pytest

from flubber.node import LabNode
from flubber.web import WebError, WebServer, format_event
from tests.sync import wait_until
from tests.web import _http

pytestmark = pytest.mark.timeout(60)

TOKEN = "s3cret-token"


def _node_config(tmp_path):
    return {
        "name": "lab",
        "tcp": {"host": "127.0.0.1", "port": 0},
        "providers": [{"name": "kv", "module": "kv_store", "endpoints": [
            {"name": "setpoint", "module": "kv_store_key", "initial_value": 20, "type": "float", "min": -50,
             "max": 400},
            {"name": "pressure", "module": "kv_store_key", "calibration": "1000*{}"},
            {"name": "note", "module": "kv_store_key", "initial_value": "hello"},
        ]}],
        "instruments": [
            {"name": "temperature", "driver": "flubber.instruments.simulated:Oven",
             "args": {"setpoint_key": "setpoint", "tau": 0.5}, "interval": 0.05},
            {"name": "pressure", "driver": "flubber.instruments.simulated:PressureGauge", "interval": 0.1},
        ],
        "sockets": {"pull": {"host": "127.0.0.1", "port": 0}},
        "logger": {"url": "sqlite:///%s" % (tmp_path / "lab.sqlite"), "table": "dateplots_lab"},
    }


@pytest.fixture
def node(tmp_path):
    lab = LabNode.from_dict(_node_config(tmp_path)).start()
    yield lab
    lab.stop()


def _web(node, tmp_path, **kwargs):
    options = dict(port=0, writable=["setpoint", "lab.kv.note"], tokens=[TOKEN],
                   series=("sqlite:///%s" % (tmp_path / "lab.sqlite"), "dateplots_lab"), interval=0.05)
    options.update(kwargs)
    return WebServer(node, **options)


@pytest.fixture
def web(node, tmp_path):
    server = _web(node, tmp_path).start()
    yield server
    server.stop()


def _live_row(web, row_id):
    """The row *row_id* of the page's live values, with its history."""
    return next(row for row in web.live.snapshot(history=True)["rows"] if row["id"] == row_id)


def test_values_lists_every_codename_and_key_with_unit_time_and_history(node, web):
    wait_until(lambda: node.instruments[0].readings >= 5, timeout=20)
    wait_until(lambda: len(_live_row(web, "codename:temperature")["history"]) >= 2, timeout=20,
               what="two temperature samples in the page's history")
    status, body = _http.get_json(web.address, "/api/values")
    assert status == 200 and body["node"] == "lab" and body["writable"] is True
    rows = {row["id"]: row for row in body["rows"]}
    assert set(rows) == {"codename:temperature", "codename:pressure", "key:lab.kv.setpoint", "key:lab.kv.pressure",
                         "key:lab.kv.note", "key:lab.kv.temperature"}
    temperature = rows["codename:temperature"]
    assert temperature["unit"] == "°C" and temperature["logged"] is True
    assert isinstance(temperature["value"], float) and temperature["time"] <= body["time"]
    assert len(temperature["history"]) >= 2
    assert rows["key:lab.kv.temperature"]["unit"] == "°C"
    assert rows["key:lab.kv.pressure"]["value_cal"] == pytest.approx(1000 * rows["key:lab.kv.pressure"]["value"])
    assert rows["key:lab.kv.setpoint"]["writable"] and not rows["key:lab.kv.temperature"]["writable"]
    assert rows["key:lab.kv.note"]["value"] == "hello" and rows["key:lab.kv.note"]["history"] == []


def test_status_has_instruments_logger_sockets_transports_and_uptime(node, web):
    wait_until(lambda: node.logger.status()["written"] > 0, timeout=20)
    status, body = _http.get_json(web.address, "/api/status")
    assert status == 200
    assert body["uptime"] > 0 and body["node"] == "lab"
    assert [i["name"] for i in body["instruments"]] == ["temperature", "pressure"]
    assert {"readings", "errors", "last_error", "value"} <= set(body["instruments"][0])
    assert body["logger"]["database"] == "up" and body["logger"]["database_since"] > 0
    assert body["logger"]["written"] > 0 and "queued" in body["logger"] and "spool" in body["logger"]
    assert body["sockets"]["pull"]["port"] == node.pull_socket.port
    assert body["kv"]["tcp"]["address"][1] == node.server.tcp_address[1]
    assert body["kv"]["tcp"]["clients"] == 0 and "requests" in body["kv"]
    assert body["web"]["url"] == web.url and body["web"]["writable"] is True


def test_series_of_the_running_node_has_its_logged_points(node, web):
    wait_until(lambda: node.logger.status()["written"] >= 40, timeout=20)
    status, body = _http.get_json(web.address, "/api/series?codename=temperature&codename=pressure&since=1h")
    assert status == 200
    temperature, pressure = body["series"]
    assert temperature["codename"] == "temperature" and len(temperature["points"]) >= 20
    assert pressure["points"] and not pressure["decimated"]
    status, body = _http.get_json(web.address, "/api/series?codename=temperature&since=1h&max_points=10")
    assert body["series"][0]["decimated"] and len(body["series"][0]["points"]) <= 10


def test_series_as_csv_is_a_download(node, web):
    wait_until(lambda: node.logger.status()["written"] >= 5, timeout=20)
    status, headers, body = _http.request(web.address, "GET", "/api/series?codename=temperature&format=csv")
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert 'filename="lab-temperature.csv"' in headers["Content-Disposition"]
    lines = body.decode().splitlines()
    assert lines[0] == "codename,unixtime,utc,value" and lines[1].startswith("temperature,")


@pytest.mark.parametrize("path, status, phrase", [
    ("/api/series", 400, "codename=NAME"),
    ("/api/series?codename=nope", 404, "unknown codename nope"),
    ("/api/nothing", 404, "/api/values"),
    ("/static/../app.py", 404, "the page's files are"),
])
def test_a_bad_request_gets_json_that_says_what_to_send(web, path, status, phrase):
    got, body = _http.get_json(web.address, path)
    assert got == status and phrase in body["error"]


@pytest.mark.parametrize("query", ["codename=nope", "codename=nope&format=csv"])
def test_an_unknown_codename_prints_no_traceback_on_the_nodes_stderr(web, capfd, query):
    # anyone who reaches the page can ask: each request must not cost the node's log a traceback
    for _ in range(3):
        got, body = _http.get_json(web.address, "/api/series?" + query)
        assert got == 404 and "unknown codename nope" in body["error"]
    assert "Traceback" not in capfd.readouterr().err


def test_series_of_a_node_that_logs_nothing_says_so(node, tmp_path):
    with _web(node, tmp_path, series=None) as server:
        status, body = _http.get_json(server.address, "/api/series?codename=temperature")
    assert status == 404 and "logs nothing" in body["error"]


def test_the_page_and_its_files_come_from_the_node_and_nothing_from_the_internet(web):
    status, headers, page = _http.request(web.address, "GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    for name in ("core.js", "charts.js", "values.js", "plots.js", "status.js", "style.css"):
        assert ("/static/" + name).encode() in page
        status, _, body = _http.request(web.address, "GET", "/static/" + name)
        assert status == 200 and b"http://" not in body and b"https://" not in body
    assert b"http://" not in page and b"https://" not in page


def test_a_set_with_a_token_changes_the_key(node, web):
    status, body = _http.post_json(web.address, "/api/set", {"key": "setpoint", "value": 42.5}, token=TOKEN)
    assert status == 200 and body["retcode"] == 0
    assert node.value("setpoint") == 42.5
    status, body = _http.post_json(web.address, "/api/set", {"key": "lab.kv.note", "value": "bye", "token": TOKEN})
    assert status == 200 and node.value("note") == "bye"


@pytest.mark.parametrize("token, status, phrase", [
    (None, 401, "a write token is needed"),
    ("wrong", 403, "not one of this node's"),
])
def test_a_set_without_a_valid_token_is_refused_and_changes_nothing(node, web, token, status, phrase):
    got, body = _http.post_json(web.address, "/api/set", {"key": "setpoint", "value": 99}, token=token)
    assert got == status and phrase in body["error"]
    assert node.value("setpoint") == 20


def test_a_key_not_declared_writable_is_read_only(node, web):
    status, body = _http.post_json(web.address, "/api/set", {"key": "temperature", "value": 99}, token=TOKEN)
    assert status == 403 and "web: {writable: [temperature]}" in body["error"]


def test_a_node_without_tokens_has_a_read_only_page(node, tmp_path):
    with _web(node, tmp_path, tokens=()) as server:
        assert _http.get_json(server.address, "/api/values")[1]["writable"] is False
        status, body = _http.post_json(server.address, "/api/set", {"key": "setpoint", "value": 99}, token=TOKEN)
    assert status == 403 and "read-only" in body["error"]
    assert node.value("setpoint") == 20


def test_a_set_goes_through_the_locks_of_dripline(node, web):
    node.key("setpoint").lock()
    status, body = _http.post_json(web.address, "/api/set", {"key": "setpoint", "value": 99}, token=TOKEN)
    assert status == 409 and "retcode 307" in body["error"]
    assert node.value("setpoint") == 20


@pytest.mark.parametrize("value", [1000, "hot", None])
def test_a_value_the_key_does_not_accept_is_refused_and_the_old_one_stays(node, web, value):
    status, body = _http.post_json(web.address, "/api/set", {"key": "setpoint", "value": value}, token=TOKEN)
    assert status == 409 and "setpoint refused the value" in body["error"]
    assert node.value("setpoint") == 20


@pytest.mark.parametrize("body, status", [(b"not json", 400), (b"[1, 2]", 400), (b"x" * 70000, 413)])
def test_a_malformed_set_is_refused(web, body, status):
    got, _, reply = _http.request(web.address, "POST", "/api/set", body, {"Authorization": "Bearer " + TOKEN})
    assert got == status and "error" in json.loads(reply)


def test_events_start_with_a_snapshot_then_stream_what_changed(node, web):
    stream = _http.open_events(web.address)
    try:
        assert stream.status == 200 and stream.getheader("Content-Type") == "text/event-stream"
        event, data = _http.read_event(stream)
        assert event == "snapshot" and {row["id"] for row in data["rows"]} >= {"codename:temperature"}
        seen = set()
        with gevent.Timeout(10):
            while "codename:temperature" not in seen:
                event, data = _http.read_event(stream)
                assert event == "values"
                seen.update(data["changes"])
        when, value, _ = data["changes"]["codename:temperature"]
        assert isinstance(value, float) and when > 0
        node.key("setpoint").set_value(33)
        with gevent.Timeout(10):
            while True:
                event, data = _http.read_event(stream)
                if "key:lab.kv.setpoint" in data["changes"]:
                    break
        assert data["changes"]["key:lab.kv.setpoint"][1] == 33
    finally:
        stream.close()
        stream._flubber_connection.close()
    wait_until(lambda: web.broadcaster.clients == 0, timeout=20)


def test_a_non_finite_value_is_sent_as_strict_json():
    message = format_event("values", {"changes": {"key:x": [1.0, float("nan"), float("-inf")]}})
    data = message.split(b"data: ", 1)[1]

    def refuse(constant):
        raise AssertionError("%s is not JSON a browser parses" % constant)

    assert json.loads(data, parse_constant=refuse) == {"changes": {"key:x": [1.0, "nan", "-inf"]}}


def test_more_event_clients_than_allowed_are_answered_503(node, web):
    web.broadcaster.max_clients = 1
    first = _http.open_events(web.address)
    try:
        _http.read_event(first)
        status, body = _http.get_json(web.address, "/api/events")
        assert status == 503 and "try again later" in body["error"]
    finally:
        first.close()
        first._flubber_connection.close()


def test_start_returns_self_stop_is_idempotent_and_frees_the_port(node, tmp_path):
    server = _web(node, tmp_path)
    assert not server.running and server.url is None
    assert server.start() is server and server.running
    port = server.address[1]
    server.stop()
    server.stop()
    assert not server.running
    again = _web(node, tmp_path, port=port).start()
    again.stop()


def test_a_port_in_use_is_a_clear_error(node, tmp_path, web):
    with pytest.raises(WebError, match="--web HOST:PORT"):
        _web(node, tmp_path, port=web.address[1]).start()


def test_stop_ends_every_event_stream(node, tmp_path):
    server = _web(node, tmp_path).start()
    stream = _http.open_events(server.address)
    _http.read_event(stream)
    server.stop()
    with gevent.Timeout(10):
        with pytest.raises((EOFError, OSError)):
            while True:
                _http.read_event(stream)
    stream._flubber_connection.close()


def test_an_idle_connection_is_closed_and_a_live_stream_is_not(node, tmp_path):
    server = _web(node, tmp_path)
    server.idle_timeout = 0.5
    with server:
        idle = gevent.socket.create_connection(server.address)
        stream = _http.open_events(server.address)
        try:
            with gevent.Timeout(10, AssertionError("the idle connection stayed open")):
                assert idle.recv(100) == b""
            gevent.sleep(1.0)                  # twice the idle timeout: the stream still gets its updates
            event, _ = _http.read_event(stream)
            assert event in ("snapshot", "values")
        finally:
            idle.close()
            stream.close()
            stream._flubber_connection.close()
