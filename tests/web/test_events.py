"""Event streams under slow clients: bounded queues, old updates dropped, a client that stops reading cut off."""
import socket

import gevent
import gevent.socket
import pytest

from flubber.kvstore import KVStoreKey
from flubber.node import LabNode
from flubber.web import Broadcaster, LiveValues, WebServer
from tests.web import _http

pytestmark = pytest.mark.timeout(60)


def _node(extra_keys=()):
    endpoints = [{"name": "setpoint", "module": "kv_store_key", "initial_value": 20}]
    endpoints += [{"name": name, "module": "kv_store_key", "initial_value": 0} for name in extra_keys]
    return LabNode.from_dict({"name": "lab", "tcp": False,
                              "providers": [{"name": "kv", "module": "kv_store", "endpoints": endpoints}]})


def test_a_slow_client_loses_old_updates_and_gets_a_fresh_snapshot():
    node = _node()
    broadcaster = Broadcaster(LiveValues(node))
    subscriber = broadcaster.subscribe()
    stream = subscriber.messages()
    assert next(stream) == b"retry: 2000\n\n"
    assert next(stream).startswith(b"event: snapshot\n")
    for value in range(broadcaster.queue_size * 3):   # the client reads nothing meanwhile
        node.key("setpoint").set_value(value)
        broadcaster.publish()                         # never waits for the client
    assert subscriber.dropped >= broadcaster.queue_size
    assert subscriber.queue.qsize() <= broadcaster.queue_size
    message = next(stream)
    assert message.startswith(b"event: snapshot\n") and b'"value":%d' % (broadcaster.queue_size * 3 - 1) in message
    node.key("setpoint").set_value(-1)
    broadcaster.publish()
    assert next(stream).startswith(b"event: values\n")
    dropped = subscriber.dropped
    stream.close()
    assert broadcaster.clients == 0 and broadcaster.stats()["dropped"] == dropped


def test_a_client_that_stops_reading_is_cut_off_while_the_others_keep_up():
    node = _node(extra_keys=["blob"]).start()
    web = WebServer(node, port=0, interval=0.01)
    web.broadcaster.stall_timeout = 0.5
    web.broadcaster.send_buffer = 4096
    web.start()
    changer = gevent.spawn(_change_blob, node)
    stuck = gevent.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    reader = None
    try:
        stuck.connect(web.address)
        stuck.sendall(b"GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n")   # and never reads
        reader = _http.open_events(web.address)
        received = 0
        with gevent.Timeout(20, AssertionError("the stuck client was not cut off: %r" % web.broadcaster.stats())):
            while web.broadcaster.cut_off < 1:
                _http.read_event(reader)
                received += 1
        assert received > 10                      # the reading client kept getting updates meanwhile
        assert web.broadcaster.clients == 1       # only the reading one is left
        _http.read_event(reader)
        with gevent.Timeout(10, AssertionError("the stuck client's connection stayed open")):
            try:
                while stuck.recv(65536):          # what the kernel still held, then the end
                    pass
            except ConnectionResetError:
                pass
    finally:
        changer.kill()
        stuck.close()
        if reader is not None:
            reader.close()
            reader._flubber_connection.close()
        web.stop()
        node.stop()


def _change_blob(node):
    count = 0
    while True:
        count += 1
        node.key("blob").set_value("%d" % count + "x" * 20000)
        gevent.sleep(0.01)


class _ProbeKey(KVStoreKey):
    """A key read from "hardware": counts how often it is asked."""

    reads = 0

    def on_get(self):
        type(self).reads += 1
        return {"value_raw": 7.5}


def test_a_key_that_asks_hardware_is_read_seldom_and_plain_keys_every_sample():
    node = _node()
    node.kv.stores["kv"].add_endpoint(_ProbeKey(name="probe"))
    now = [1000.0]
    live = LiveValues(node, clock=lambda: now[0])
    for _ in range(20):            # 20 samples, 0.5 s apart: 10 s
        node.key("setpoint").set_value(now[0])
        changes = live.sample()
        assert "key:lab.kv.setpoint" in changes
        now[0] += 0.5
    assert _ProbeKey.reads == 2    # every custom_key_interval (5 s)
    rows = {row["id"]: row for row in live.snapshot()["rows"]}
    assert rows["key:lab.kv.probe"]["value"] == 7.5
