"""The service lifecycle contract (docs/lifecycle.rst): every flubber service passes every test here.

The services: the stream servers (TCP, pipe, the KV store's TCP server),
the UDP sockets (pull, date pull, push), ContinuousLogger (SQLite),
TheDump, KVNode, NodeServer, AMQPService (RabbitMQ), LabNode, the SCPI
simulator, LineInstrument, InstrumentShare, WebServer, the alarm board,
its history writer and notification channels, and the fleet supervisor.

Each case builds one real service on loopback (ports from port 0, files in
tmp_path; RabbitMQ only for the AMQP transport, skipped loudly when absent)
with a ``probe`` that shows it really serves, and a ``load`` that gives its
``stop(timeout)`` something to cut short. The tests then check, the same way
for all: ``start()`` returns the service, ``running`` flips, ``stop()`` is
idempotent and safe from another greenlet, from two at once and from a
signal handler, ``serve_forever`` ends on a stop signal, a stopped service
starts again and serves, and ``stop(timeout)`` returns while the service is
busy.
"""
import os
import signal
import sqlite3
import subprocess
import sys
import uuid

import gevent
import pytest

from flubber import Service, ServiceState
from flubber.alarms import AlarmBoard, AlarmHistory, AlarmLimits, CommandTarget, NotificationChannel
from flubber.dump import LocalDevice, TheDump
from flubber.fleet import FleetSupervisor
from flubber.instruments import InstrumentError, InstrumentShare, LineInstrument, ScpiServer, ScpiSimulator
from flubber.io import PipeClient, PipeServer, StreamError, TCPServer, connect_tcp
from flubber.kvstore import KVNode, KVStore, KVStoreKey, KVTCPServer, TCPKVClient
from flubber.kvstore.config import parse_node_config
from flubber.kvstore.serve import NodeServer
from flubber.loggers import ContinuousLogger, create_tables
from flubber.node import LabNode
from flubber.sockets import DataPullSocket, DataPushSocket, DateDataPullSocket, UDPClient
from flubber.web import WebServer
from tests.sync import wait_until

pytestmark = pytest.mark.timeout(60)

LOCALHOST = "127.0.0.1"
#: A hang detector, not a timing: every stop(timeout) here must return long before it.
STOP_BOUND = 30.0


class Case:
    """One service under test: how to see that it serves and how to keep it busy."""

    def __init__(self, service, probe, load=None, cleanup=None):
        self.service = service
        self._probe = probe
        self._load = load
        self._cleanups = [cleanup] if cleanup else []

    def probe(self):
        """Return True when the running service does its job (raises if it cannot)."""
        return self._probe()

    def load(self):
        """Give the running service work that a stop must cut short."""
        if self._load is not None:
            cleanup = self._load()
            if cleanup is not None:
                self._cleanups.append(cleanup)

    def cleanup(self):
        self.service.stop(timeout=5)
        for cleanup in reversed(self._cleanups):
            cleanup()


# -- the services ---------------------------------------------------------------------------

def _greet_then_hold(connection):
    """Say hi, serve until the client goes; when the server closes the connection, hold on anyway
    (a handler that ignores the close, which only stop()'s timeout ends)."""
    connection.write(b"hi\n")
    try:
        while connection.read_bytes(4096):
            pass
    except StreamError:
        gevent.sleep(3600)


def _stream_server_case(server, connect):
    def probe():
        client = connect()
        try:
            return client.read_until(b"\n") == b"hi\n"
        finally:
            client.close()

    def load():
        client = connect()  # held open: its handler must be ended by stop()
        assert client.read_until(b"\n") == b"hi\n"
        return client.abort

    return Case(server, probe, load)


def tcp_server(context):
    server = TCPServer(handler=_greet_then_hold)
    server.bind((LOCALHOST, 0))
    return _stream_server_case(server, lambda: connect_tcp(server.sockname, timeout=5))


def pipe_server(context):
    path = str(context.tmp_path / "contract.sock")
    server = PipeServer(handler=_greet_then_hold)
    server.bind(path)

    def connect():
        client = PipeClient()
        client.connect(path, timeout=5)
        return client

    return _stream_server_case(server, connect)


def _kv_node(name="contract"):
    store = KVStore(name="kv")
    store.add_endpoint(KVStoreKey(name="setpoint", initial_value=20))
    return KVNode(name, [store])


def kv_tcp_server(context):
    server = KVTCPServer(_kv_node())
    server.bind((LOCALHOST, 0))

    def probe():
        with TCPKVClient(server.sockname[:2], timeout=5) as client:
            return client.get("setpoint") is not None

    def load():
        client = connect_tcp(server.sockname, timeout=5)  # an idle client the stop must close
        return client.abort

    return Case(server, probe, load)


def _udp_probe(sock, reply_prefix=""):
    def probe():
        client = UDPClient(LOCALHOST, sock.port, timeout=5)
        try:
            return client.request("name") == reply_prefix + sock.name
        finally:
            client.close()
    return probe


def pull_socket(context):
    sock = DataPullSocket("contract pull", ["a"], port=0, host=LOCALHOST)
    return Case(sock, _udp_probe(sock))


def date_pull_socket(context):
    sock = DateDataPullSocket("contract date pull", ["a"], port=0, host=LOCALHOST)
    return Case(sock, _udp_probe(sock))


def push_socket(context):
    sock = DataPushSocket("contract push", port=0, host=LOCALHOST)
    return Case(sock, _udp_probe(sock, "RET#"))


def continuous_logger(context):
    path = context.tmp_path / "contract.sqlite"
    url = "sqlite:///%s" % path
    create_tables("dateplots_contract", {"contract_a": "contract a"}, url=url)
    logger = ContinuousLogger("dateplots_contract", None, None, ["contract_a"], url=url)

    def probe():
        logger.enqueue_point_now("contract_a", 1.0)
        return logger.flush(timeout=20) == 0

    def load():
        # another connection holds the database: nothing can be written, so stop() must give up
        lock = sqlite3.connect(str(path), timeout=0.1, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        for value in range(100):
            logger.enqueue_point_now("contract_a", float(value))

        def release():
            lock.rollback()
            lock.close()
        return release

    return Case(logger, probe, load)


def the_dump(context):
    dump = TheDump("while :; do echo tick; sleep 0.05; done", LocalDevice(), identifier="ticks",
                   output_dir=str(context.tmp_path), timeout=30)

    def probe():
        gevent.sleep(0)
        return dump.result.state == "running"

    return Case(dump, probe)


def kv_node(context):
    node = _kv_node()
    return Case(node, lambda: node.running)


def _node_config(name):
    return {
        "name": name,
        "tcp": {"host": LOCALHOST, "port": 0},
        "providers": [{"name": "kv", "module": "kv_store", "endpoints": [
            {"name": "setpoint", "module": "kv_store_key", "initial_value": 20}]}],
    }


def _kv_probe(server):
    def probe():
        with TCPKVClient(server.tcp_address, timeout=5) as client:
            return client.get("setpoint") is not None
    return probe


def node_server(context):
    server = NodeServer(parse_node_config(_node_config("contract")))
    return Case(server, _kv_probe(server))


def amqp_service(context):
    url = context.request.getfixturevalue("rabbitmq_url")
    from flubber.kvstore import AMQPService  # needs pika, like the transport

    service = AMQPService(_kv_node("contract-%s" % uuid.uuid4().hex[:8]), url, workers=1)
    return Case(service, lambda: service.wait_ready(20))


def lab_node(context):
    config = _node_config("contractlab")
    config["instruments"] = [{"name": "temperature", "driver": "flubber.instruments.simulated:Oven",
                              "args": {"setpoint_key": "setpoint", "tau": 0.3, "noise": 0.0},
                              "interval": 0.05}]
    config["sockets"] = {"pull": {"host": LOCALHOST, "port": 0}}
    config["logger"] = {"url": "sqlite:///%s" % (context.tmp_path / "lab.sqlite"), "table": "dateplots_lab"}
    node = LabNode.from_dict(config)
    return Case(node, _kv_probe(node.server))


def scpi_simulator(context):
    server = ScpiServer("tcp://127.0.0.1:0", ScpiSimulator(delay=0))

    def probe():
        with LineInstrument(server.address, timeout=5) as meter:
            return meter.query("*IDN?").startswith("FLUBBER")

    return Case(server, probe)


def line_instrument(context):
    simulator = ScpiServer("tcp://127.0.0.1:0", ScpiSimulator(delay=0.2)).start()
    meter = LineInstrument(simulator.address, timeout=5)

    def ask():
        try:
            meter.query("*IDN?")
        except InstrumentError:  # InstrumentStoppedError: the stop failed it, as it should
            pass

    def load():
        for _ in range(3):  # requests in flight, which the stop fails instead of waiting them out
            gevent.spawn(ask)
        gevent.sleep(0)

    return Case(meter, lambda: meter.query("*IDN?").startswith("FLUBBER"), load, cleanup=simulator.stop)


def instrument_share(context):
    simulator = ScpiServer("tcp://127.0.0.1:0", ScpiSimulator(delay=0)).start()
    meter = LineInstrument(simulator.address, timeout=5).start()
    share = InstrumentShare(meter, port=0, lock_timeout=5)

    def probe():
        client = connect_tcp(share.address, timeout=5)
        try:
            client.write(b"*IDN?\n")
            return client.read_until(b"\n").startswith(b"FLUBBER")
        finally:
            client.abort()

    def cleanup():
        meter.stop()
        simulator.stop()

    return Case(share, probe, cleanup=cleanup)


def web_server(context):
    node = LabNode.from_dict({"name": "contractweb", "tcp": False, "providers": [
        {"name": "kv", "module": "kv_store", "endpoints": [
            {"name": "setpoint", "module": "kv_store_key", "initial_value": 20}]}]})
    web = WebServer(node, port=0, interval=0.05)

    def probe():
        client = connect_tcp(web.address, timeout=5)
        try:
            client.write(b"GET /api/values HTTP/1.0\r\nHost: x\r\n\r\n")
            return b" 200 " in client.read_until(b"\r\n")
        finally:
            client.abort()

    def load():
        client = connect_tcp(web.address, timeout=5)  # an event stream the stop must cut
        client.write(b"GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n")
        return client.abort

    return Case(web, probe, load)


def _alarm_board(context):
    history = AlarmHistory("sqlite:///%s" % (context.tmp_path / "alarms.sqlite"), "contract")
    channel = NotificationChannel(CommandTarget(["true"]))
    board = AlarmBoard("contract", {"t": AlarmLimits(high=10)}, channels=[channel], history=history, tick=0.05)
    return board, history, channel


def _alarm_change_stored(board, history):
    """Move alarm ``t`` across its limit; True once the history writer stored the change."""
    written = history.written
    board.update("t", 20 if board.get("t").severity.name == "OK" else 0)
    return wait_until(lambda: history.written > written, 20, "the alarm change stored")


def alarm_board(context):
    board, history, _channel = _alarm_board(context)
    return Case(board, lambda: _alarm_change_stored(board, history))


def alarm_history(context):
    board, history, _channel = _alarm_board(context)
    return Case(history, lambda: _alarm_change_stored(board, history))


def notification_channel(context):
    _board, _history, channel = _alarm_board(context)
    return Case(channel, lambda: channel.running)


def fleet_supervisor(context):
    folder = context.tmp_path / "fleet"
    folder.mkdir()
    (folder / "one.yaml").write_text("name: one\n")
    sleeper = [sys.executable, "-c", "import time; time.sleep(600)"]  # stands in for `flubber serve`
    supervisor = FleetSupervisor(str(folder), grace=5, command=lambda path: sleeper)

    def probe():
        node = supervisor.nodes[0]
        return wait_until(lambda: node.pid is not None and node.process.poll() is None, 20, "the child runs")

    return Case(supervisor, probe)


SERVICES = [tcp_server, pipe_server, kv_tcp_server, pull_socket, date_pull_socket, push_socket,
            continuous_logger, the_dump, kv_node, node_server, amqp_service, lab_node,
            scpi_simulator, line_instrument, instrument_share, web_server,
            alarm_board, alarm_history, notification_channel, fleet_supervisor]


class _Context:
    def __init__(self, request, tmp_path):
        self.request = request
        self.tmp_path = tmp_path


@pytest.fixture(params=SERVICES, ids=[factory.__name__ for factory in SERVICES])
def case(request, tmp_path):
    made = request.param(_Context(request, tmp_path))
    yield made
    made.cleanup()


def _stopped_within_bound(service, timeout=None):
    """Call stop(timeout) with a hang detector; return what stop returned."""
    with gevent.Timeout(STOP_BOUND, AssertionError("stop(%r) did not return" % (timeout,))):
        return service.stop(timeout)


# -- the contract ------------------------------------------------------------------------------

def test_every_service_is_a_service(case):
    assert isinstance(case.service, Service)


def test_start_returns_the_service_and_it_serves(case):
    assert case.service.start() is case.service
    assert case.probe()


def test_running_flips_with_start_and_stop(case):
    service = case.service
    assert not service.running
    service.start()
    assert service.running
    assert service.service_state is ServiceState.RUNNING
    service.stop()
    assert not service.running
    assert service.service_state is ServiceState.STOPPED


def test_start_on_a_running_service_does_nothing(case):
    service = case.service.start()
    assert service.start() is service
    assert service.running and case.probe()


def test_stop_before_start_is_harmless(case):
    case.service.stop()
    case.service.stop()
    assert not case.service.running


def test_stop_is_idempotent(case):
    service = case.service.start()
    _stopped_within_bound(service)
    _stopped_within_bound(service)
    assert not service.running
    assert service.wait(0)


def test_stop_from_another_greenlet(case):
    service = case.service.start()
    stopper = gevent.spawn(service.stop)
    assert service.wait(STOP_BOUND)
    stopper.get(timeout=STOP_BOUND)
    assert not service.running


def test_two_greenlets_stopping_at_once_both_return_once_it_stopped(case):
    service = case.service.start()
    case.load()
    stoppers = [gevent.spawn(service.stop, 1.0) for _ in range(2)]
    gevent.joinall(stoppers, timeout=STOP_BOUND, raise_error=True)
    assert all(stopper.dead for stopper in stoppers)
    assert service.service_state is ServiceState.STOPPED


def _kill_in_a_greenlet():
    os.kill(os.getpid(), signal.SIGUSR1)  # the handler runs here, in the calling greenlet


def _kill_from_another_process():
    # as Ctrl-C or `kill` arrive: while the program waits, so the handler runs in gevent's hub
    return subprocess.Popen(["kill", "-USR1", str(os.getpid())])


@pytest.mark.parametrize("send", [_kill_in_a_greenlet, _kill_from_another_process],
                         ids=["in-a-greenlet", "from-another-process"])
def test_stop_from_a_signal_handler(case, send):
    service = case.service.start()
    assert case.probe()  # settled: the signal comes while the program waits, as Ctrl-C does
    previous = signal.signal(signal.SIGUSR1, lambda number, frame: service.stop())
    try:
        killer = send()
        assert service.wait(STOP_BOUND)
        if killer is not None:
            assert killer.wait(STOP_BOUND) == 0
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert not service.running


def test_serve_forever_ends_on_a_stop_signal(case):
    service = case.service
    serving = gevent.spawn(service.serve_forever, stop_signals=(signal.SIGUSR2,))
    with gevent.Timeout(STOP_BOUND, AssertionError("serve_forever did not start the service")):
        while not service.running:
            gevent.sleep(0.01)
    os.kill(os.getpid(), signal.SIGUSR2)
    serving.get(timeout=STOP_BOUND)
    assert not service.running


def test_serve_forever_returns_after_its_duration(case):
    case.service.serve_forever(stop_signals=(), duration=0.2)
    assert not case.service.running


def test_a_stopped_service_starts_again_and_serves(case):
    service = case.service.start()
    assert case.probe()
    _stopped_within_bound(service)
    assert service.start() is service
    assert service.running
    assert case.probe()


def test_stop_with_a_timeout_returns_while_the_service_is_busy(case):
    service = case.service.start()
    case.load()
    _stopped_within_bound(service, timeout=0.5)
    assert not service.running


def test_the_context_manager_starts_and_stops(case):
    with case.service as service:
        assert service is case.service
        assert service.running
    assert not case.service.running
