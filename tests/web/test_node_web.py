"""The node file's web section and `flubber serve --web`: checked, started with the node, printed."""
import re
import subprocess
import sys

import gevent.socket
import pytest

from flubber.kvstore import ConfigError
from flubber.node import LabNode
from flubber.nodefile import write_tokens
from tests.sync import wait_until
from tests.web import _http

pytestmark = pytest.mark.timeout(60)


def _data(**extra):
    data = {"name": "lab", "tcp": False,
            "providers": [{"name": "kv", "module": "kv_store", "endpoints": [
                {"name": "setpoint", "module": "kv_store_key", "initial_value": 20}]}],
            "instruments": [{"name": "temperature", "driver": "flubber.instruments.simulated:Oven",
                             "args": {"setpoint_key": "setpoint"}, "interval": 0.1, "unit": "K"}],
            "sockets": {"pull": {"host": "127.0.0.1", "port": 0}}}
    data.update(extra)
    return data


@pytest.mark.parametrize("web, phrase", [
    ({"hots": "127.0.0.1"}, "did you mean 'host'"),
    ({"port": 70000}, "web port: must be a port"),
    ({"writable": "setpoint"}, "web writable: must be a list"),
    ("8080", "web: must be a mapping"),
    ({"writable": ["setpiont"]}, "web writable: no key 'setpiont' on this node; did you mean 'setpoint'?"),
])
def test_a_bad_web_section_names_what_to_change(web, phrase):
    with pytest.raises(ConfigError, match=phrase):
        LabNode.from_dict(_data(web=web), source="lab.yaml")


def test_the_node_starts_and_stops_its_page():
    node = LabNode.from_dict(_data(web={"host": "127.0.0.1", "port": 0, "writable": ["setpoint"]})).start()
    try:
        assert node.web.running and node.status()["web"] == node.web.url
        wait_until(lambda: node.web.live.snapshot()["rows"][0]["value"] is not None, timeout=30,
                   what="a temperature reading on the page")
        status, body = _http.get_json(node.web.address, "/api/values")
        rows = {row["id"]: row for row in body["rows"]}
        assert rows["codename:temperature"]["unit"] == "K"             # the node file's unit wins
        assert body["writable"] is False                                # no write tokens: read-only
        web = node.web
    finally:
        node.stop()
    assert not web.running and node.web is None


def test_no_web_section_means_no_page():
    node = LabNode.from_dict(_data()).start()
    try:
        assert node.web is None and node.status()["web"] is None
    finally:
        node.stop()


def test_the_page_takes_the_write_tokens_of_the_tcp_section_and_its_file(tmp_path):
    path = tmp_path / "tokens"
    path.write_text("# lab tokens\nfrom-file\n")
    node = LabNode.from_dict(_data(tcp={"host": "127.0.0.1", "port": 0, "tokens": ["inline"],
                                        "tokens_file": str(path)},
                                   web={"host": "127.0.0.1", "port": 0, "writable": ["setpoint"]}))
    assert write_tokens(node.config) == ["inline", "from-file"]
    node.start()
    try:
        for value, token in ((30, "inline"), (31, "from-file")):
            status, _ = _http.post_json(node.web.address, "/api/set", {"key": "setpoint", "value": value}, token=token)
            assert status == 200 and node.value("setpoint") == value
    finally:
        node.stop()


def _serve(tmp_path, *args):
    return subprocess.Popen(
        [sys.executable, "-m", "flubber", "serve", "examples/lab.yaml", "--tcp", "127.0.0.1:0", "--pull-port", "0",
         "--push-port", "0", "--share-port", "0", "--db", "sqlite:///%s" % (tmp_path / "lab.sqlite"), "--no-status",
         "--state", str(tmp_path / "lab.state.json"), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_the_demo_node_prints_the_url_of_its_page(tmp_path):
    process = _serve(tmp_path, "--web", "127.0.0.1:0")
    try:
        lines = []
        for line in process.stdout:          # the banner ends with the commands to try, the page among them
            lines.append(line)
            if "in a browser" in line:
                break
        text = "".join(lines)
        match = re.search(r"web page on (http://127\.0\.0\.1:\d+/) \(read-only\)", text)
        assert match, text
        assert "  open %s in a browser\n" % match.group(1) in lines
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_a_web_port_in_use_stops_serve_with_a_hint(tmp_path):
    blocker = gevent.socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    try:
        process = _serve(tmp_path, "--web", "127.0.0.1:%d" % port)
        _, errors = process.communicate(timeout=60)
    finally:
        blocker.close()
    assert process.returncode == 1
    assert "cannot serve the web page on 127.0.0.1:%d" % port in errors and "--web HOST:PORT" in errors
