"""Fixtures for flubber.kvstore: nodes, a TCP server on an ephemeral port, a RabbitMQ service.

Names on the shared broker are made unique per test (``ns`` prefix), so
tests never answer each other's requests.
"""
import uuid

import pytest

from flubber.kvstore import (
    HardwareError, KVNode, KVStore, KVStoreKey, KVTCPServer, QueueSink, TCPKVClient,
)


class FakeClock:
    """A settable clock: ``clock()`` returns :attr:`now`; :meth:`advance` moves it."""

    def __init__(self, now=1_700_000_000.0):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds
        return self.now


class BrokenKey(KVStoreKey):
    """A key whose get fails with a bug (retcode 999)."""

    def on_get(self):
        raise RuntimeError("sensor driver bug")


class HardwareKey(KVStoreKey):
    """A key whose get fails like an instrument (retcode 200)."""

    def on_get(self):
        raise HardwareError("the multimeter does not answer; check its cable")


class Names:
    """Unique endpoint names for one test: ``names.foo`` is ``<prefix>foo``."""

    def __init__(self, prefix):
        self.prefix = prefix

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return self.prefix + name


def build_node(names, node_name=None):
    """The node every transport test uses.

    Store ``kv`` with keys ``foo`` (3, calibration ``2*{}``), ``valve``
    (``CLOSE``, dict calibration), ``note`` (no calibration), ``broken``
    (get raises a bug), ``hw`` (get raises a HardwareError).
    """
    store = KVStore(name=names.kv, endpoints=[
        KVStoreKey(name=names.foo, initial_value=3, calibration="2*{}"),
        KVStoreKey(name=names.valve, initial_value="CLOSE", calibration={"CLOSE": "closed", "OPEN": "open"}),
        KVStoreKey(name=names.note, initial_value="hello"),
        BrokenKey(name=names.broken, initial_value=1),
        HardwareKey(name=names.hw, initial_value=1),
    ])
    return KVNode(node_name or names.lab, [store])


@pytest.fixture
def names():
    """Unique names for this test's endpoints."""
    return Names("t%s_" % uuid.uuid4().hex[:8])


@pytest.fixture
def clock():
    """A fake clock starting at a fixed time."""
    return FakeClock()


@pytest.fixture
def node(names):
    """A :class:`KVNode` built by :func:`build_node` (not served)."""
    return build_node(names)


@pytest.fixture
def tcp_server(node):
    """A started :class:`KVTCPServer` for ``node`` on 127.0.0.1, ephemeral port."""
    server = KVTCPServer(node)
    server.bind(("127.0.0.1", 0))
    server.start()
    yield server
    server.close()


@pytest.fixture
def tcp_address(tcp_server):
    """``(host, port)`` of ``tcp_server``."""
    return tcp_server.sockname[:2]


@pytest.fixture
def amqp_service(node, rabbitmq_url):
    """A started (and ready) :class:`AMQPService` for ``node`` on the local RabbitMQ."""
    from flubber.kvstore import AMQPService

    service = AMQPService(node, rabbitmq_url, forward_remote=False).start()
    assert service.wait_ready(15), "the AMQP service did not get ready within 15 s"
    yield service
    service.stop()


class Harness:
    """One transport under test: the node, a client speaking through it, the names."""

    def __init__(self, transport, node, client, names):
        self.transport = transport
        self.node = node
        self.client = client
        self.names = names
        self.alerts = QueueSink()
        node.add_alert_sink(self.alerts)

    def key(self, name):
        """The key object named ``names.<name>``."""
        return self.node.endpoint(getattr(self.names, name))


@pytest.fixture(params=["tcp", pytest.param("amqp", marks=pytest.mark.rabbitmq)])
def kv(request, node, names):
    """A :class:`Harness` for each transport: TCP, then the real RabbitMQ."""
    if request.param == "tcp":
        server = request.getfixturevalue("tcp_server")
        client = TCPKVClient(server.sockname[:2], timeout=10)
    else:
        from flubber.kvstore import AMQPKVClient

        request.getfixturevalue("amqp_service")
        client = AMQPKVClient(request.getfixturevalue("rabbitmq_url"), timeout=10)
    yield Harness(request.param, node, client, names)
    client.close()
