"""The web page at its descriptor limit: accept pauses with one warning, as the KV TCP server's does."""
import http.client
import re
import time

import pytest

from tests.security.conftest import node_config
from tests.security.test_tcp_limits import IDLE_CLIENTS, _limit_descriptors, _open_idle, paused_with_one_warning

pytestmark = pytest.mark.timeout(120)


def test_running_out_of_descriptors_on_the_web_port_pauses_accept_with_one_warning(start_node):
    node = start_node(node_config(web={"host": "127.0.0.1", "port": 0}), preexec_fn=_limit_descriptors)
    port = int(re.search(r"web page on http://127\.0\.0\.1:(\d+)/", node.stdout).group(1))
    idle = _open_idle(("127.0.0.1", port), IDLE_CLIENTS)
    try:
        deadline = time.monotonic() + 60
        while "Too many open files" not in node.stderr and time.monotonic() < deadline:
            time.sleep(0.05)  # the node accepts until it has no descriptor left
        for sock in idle[:100]:  # then free some
            sock.close()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request("GET", "/api/values")
        assert connection.getresponse().status == 200
        connection.close()
    finally:
        paused_with_one_warning(node, idle)
