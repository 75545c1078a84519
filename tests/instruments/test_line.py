"""LineInstrument over TCP, a pty opened as a serial port, and a Unix socket (and sim://)."""
import gevent
import gevent.event
import pytest

from flubber.instruments import (
    InstrumentConnectionError,
    InstrumentLockError,
    InstrumentReplyError,
    InstrumentStoppedError,
    InstrumentTimeoutError,
    LineInstrument,
    ScpiServer,
    ScpiSimulator,
)
from flubber.io import TCPServer
from tests.ports import refused_port
from tests.sync import wait_until

from .conftest import LISTEN


def test_query_returns_the_reply_without_its_terminator(simulator, make_instrument):
    meter = make_instrument(simulator.address, timeout=5)
    assert meter.query("*IDN?").startswith("FLUBBER,SCPI-SIM,")
    assert meter.query("ECHO? hello world") == "hello world"


def test_write_then_query_reads_back(simulator, make_instrument):
    meter = make_instrument(simulator.address, timeout=5)
    meter.write("SOUR:TEMP 37.5")
    assert meter.query_float("SOUR:TEMP?") == 37.5
    assert meter.stats.writes == 1 and meter.stats.queries == 1


def test_query_float_with_a_parse_regex(simulator, make_instrument):
    meter = make_instrument(simulator.address, timeout=5)
    assert meter.query_float("ECHO? TEMP=+2.50E+01 C", parse=r"TEMP=([-+0-9.eE]+)") == 25.0
    with pytest.raises(InstrumentReplyError, match="give a parse regex") as info:
        meter.query_float("ECHO? TEMP=25")
    assert info.value.reply == "TEMP=25"


@pytest.mark.parametrize("sim_end, options", [
    ("\r\n", {"terminator": "\r\n"}),
    ("\r", {"terminator": "\r"}),
    ("\n", {"write_terminator": "\r\n", "read_terminator": "\n"}),
])
def test_terminators(make_simulator, make_instrument, transport, sim_end, options):
    server = make_simulator(LISTEN[transport](), terminator=sim_end)
    meter = make_instrument(server.address, timeout=5, **options)
    assert meter.query("ECHO? a") == "a"
    assert meter.query("ECHO? b") == "b"


def test_a_request_holding_the_terminator_is_refused(simulator, make_instrument):
    meter = make_instrument(simulator.address, timeout=5)
    with pytest.raises(ValueError, match="one line per request"):
        meter.query("ECHO? a\nECHO? b")


def test_encoding_latin1_carries_a_degree_sign(make_simulator, make_instrument):
    server = make_simulator()
    meter = make_instrument(server.address, timeout=5, encoding="latin-1")
    assert meter.query("ECHO? 25\u00b0C") == "25\u00b0C"


def test_a_text_outside_the_encoding_is_refused_before_sending(make_instrument):
    with pytest.raises(ValueError, match="cannot be sent in ascii"):
        make_instrument("sim://scpi").query("ECHO? \u00b0")


def test_a_reply_outside_the_encoding_is_a_reply_error(make_instrument):
    def degree_sign_instrument(connection):
        while connection.read_until(b"\n"):
            connection.write(b"25\xb0C\n")

    server = TCPServer(handler=degree_sign_instrument)
    server.bind(("127.0.0.1", 0))
    server.start()
    try:
        meter = make_instrument("tcp://127.0.0.1:%d" % server.sockname[1], timeout=5)
        with pytest.raises(InstrumentReplyError, match="not ascii text.*another encoding") as info:
            meter.query("TEMP?")
        assert info.value.reply == b"25\xb0C"
    finally:
        server.close()


def test_requests_of_many_greenlets_each_get_their_own_reply_in_order(simulator, make_instrument):
    meter = make_instrument(simulator.address, timeout=10)
    results = {}

    def client(number):
        results[number] = [meter.query("ECHO? %d-%d" % (number, i)) for i in range(20)]

    gevent.joinall([gevent.spawn(client, n) for n in range(10)], raise_error=True)
    for number, replies in results.items():
        assert replies == ["%d-%d" % (number, i) for i in range(20)]
    assert meter.stats.queries == 200 and meter.stats.errors == 0


def test_a_late_reply_is_discarded_not_given_to_the_next_request(simulator, make_instrument):
    meter = make_instrument(simulator.address, timeout=5, late_reply_wait=5)
    simulator.simulator.delay = 0.3
    with pytest.raises(InstrumentTimeoutError, match="no reply to 'ECHO\\? late' within 0.05 s"):
        meter.query("ECHO? late", timeout=0.05)
    simulator.simulator.delay = 0.0
    assert meter.query("ECHO? next") == "next"
    assert meter.stats.late_replies == 1 and meter.stats.timeouts == 1


@pytest.mark.parametrize("transport", ["tcp", "pipe"])
def test_a_reply_later_than_the_late_wait_cannot_arrive_on_the_new_connection(make_simulator, make_instrument,
                                                                                transport):
    server = make_simulator(LISTEN[transport]())
    meter = make_instrument(server.address, timeout=5, late_reply_wait=0.01)
    server.simulator.delay = 0.3
    with pytest.raises(InstrumentTimeoutError):
        meter.query("ECHO? late", timeout=0.05)
    server.simulator.delay = 0.0
    assert meter.query("ECHO? next") == "next"
    assert meter.stats.connects == 2 and meter.stats.late_replies == 0


def test_a_query_the_instrument_never_answers_times_out_and_the_next_one_works(simulator, make_instrument):
    meter = make_instrument(simulator.address, timeout=5, late_reply_wait=0.05)
    with pytest.raises(InstrumentTimeoutError):
        meter.query("NO:SUCH:THING?", timeout=0.1)
    assert meter.query("SYST:ERR?") == '-113,"Undefined header"'


@pytest.mark.parametrize("transport", ["tcp", "pipe"])  # a pty cannot come back at the same path
def test_reconnects_after_the_simulator_restarts(make_simulator, make_instrument, transport):
    server = make_simulator(LISTEN[transport]())
    meter = make_instrument(server.address, timeout=5)
    meter.min_backoff = 0.01
    assert meter.query("ECHO? before") == "before"
    address = server.address
    listen = address if transport == "tcp" else server.listen
    server.stop()
    with pytest.raises(InstrumentConnectionError, match="closed the connection before replying"):
        meter.query("ECHO? during")
    restarted = make_simulator(listen)
    assert restarted.address == address
    assert meter.query("ECHO? after") == "after"  # a broken connection is reopened at once, no back-off
    assert meter.stats.disconnects == 1 and meter.stats.connects == 2


def test_an_unreachable_instrument_fails_at_once_during_the_back_off(make_instrument):
    with refused_port() as port:
        meter = make_instrument("tcp://127.0.0.1:%d" % port, timeout=5)
        meter.min_backoff = 60.0
        with pytest.raises(InstrumentConnectionError, match="cannot connect.*next attempt is in 60 s"):
            meter.query("*IDN?")
        with pytest.raises(InstrumentConnectionError, match="is unreachable .*; the next attempt is in"):
            meter.query("*IDN?")
    assert meter.stats.connect_failures == 1 and meter.stats.errors == 2


def test_the_back_off_doubles_up_to_its_cap(make_instrument):
    with refused_port() as port:
        meter = make_instrument("tcp://127.0.0.1:%d" % port, timeout=5)
        meter.min_backoff, meter.max_backoff = 0.001, 0.004
        backoffs = []
        for _ in range(5):
            with pytest.raises(InstrumentConnectionError):
                meter.query("*IDN?")
            backoffs.append(meter.backoff)
            gevent.sleep(meter.backoff)  # the back-off is time by nature: let it pass
    assert backoffs == [0.001, 0.002, 0.004, 0.004, 0.004]


def test_lock_keeps_other_greenlets_waiting_until_released(simulator, make_instrument):
    meter = make_instrument(simulator.address, timeout=5)
    order = []
    locked = gevent.event.Event()
    go_on = gevent.event.Event()

    def holder():
        with meter.lock(owner="holder"):
            order.append(meter.query("ECHO? h1"))
            locked.set()
            go_on.wait(5)
            order.append(meter.query("ECHO? h2"))

    def other():
        locked.wait(5)
        order.append(meter.query("ECHO? other"))

    greenlets = [gevent.spawn(holder), gevent.spawn(other)]
    locked.wait(5)
    wait_until(lambda: meter.status()["waiting"] == 1, what="the other greenlet's request in the queue")
    assert meter.holder == "holder" and meter.status()["waiting"] == 1
    go_on.set()
    gevent.joinall(greenlets, raise_error=True)
    assert order == ["h1", "h2", "other"]
    assert meter.holder is None


def test_locks_nest_within_one_greenlet(simulator, make_instrument):
    meter = make_instrument(simulator.address, timeout=5)
    with meter.lock():
        with meter.lock():
            assert meter.query("ECHO? inner") == "inner"
        assert meter.holder is not None
        assert meter.query("ECHO? outer") == "outer"
    assert meter.holder is None and meter.stats.locks == 1


def test_a_lock_not_granted_in_time_names_the_holder(simulator, make_instrument):
    meter = make_instrument(simulator.address, timeout=5)
    locked = gevent.event.Event()
    done = gevent.event.Event()

    def holder():
        with meter.lock(owner="script A"):
            locked.set()
            done.wait(5)

    greenlet = gevent.spawn(holder)
    locked.wait(5)
    with pytest.raises(InstrumentLockError, match="held by script A"):
        meter.acquire(timeout=0.05)
    with pytest.raises(InstrumentTimeoutError, match="locked by script A"):
        meter.query("*IDN?", timeout=0.05)
    done.set()
    greenlet.join()
    assert meter.query("ECHO? free") == "free"


def test_an_idle_lock_expires_after_its_lease(simulator, make_instrument):
    meter = make_instrument(simulator.address, timeout=5)
    meter.acquire(lease=0.05, owner="sleepy")
    replies = []
    other = gevent.spawn(lambda: replies.append(meter.query("ECHO? other")))
    other.join(5)
    assert replies == ["other"] and meter.stats.locks_expired == 1
    with pytest.raises(InstrumentLockError, match="the lock of sleepy expired after 0.05 s"):
        meter.query("ECHO? mine")
    assert meter.release() is False
    assert meter.query("ECHO? mine") == "mine"


def test_sim_address_runs_the_simulator_in_process(make_instrument):
    meter = make_instrument("sim://scpi?delay=0", timeout=5)
    meter.write("SOUR:TEMP 80")
    assert meter.query_float("SOUR:TEMP?") == 80.0
    assert meter.simulator.oven.default_setpoint == 80.0


def test_stop_fails_waiting_requests_and_is_idempotent(make_simulator):
    server = make_simulator(delay=0.5)
    meter = LineInstrument(server.address, timeout=5).start()
    waiting = [gevent.spawn(meter.query, "ECHO? %d" % n) for n in range(3)]
    gevent.idle()  # the three queries wait for their replies
    meter.stop()
    meter.stop()
    for greenlet in waiting:
        greenlet.join(5)
        assert isinstance(greenlet.exception, InstrumentStoppedError)
    assert not meter.running
    with pytest.raises(InstrumentStoppedError, match="is stopped: start\\(\\) it again"):
        meter.query("*IDN?")


def test_a_stopped_instrument_starts_again(simulator, make_instrument):
    meter = make_instrument(simulator.address, timeout=5)
    assert meter.query("ECHO? first") == "first"
    meter.stop()
    assert meter.start() is meter and meter.running
    assert meter.query("ECHO? again") == "again"
    assert meter.stats.connects == 2


def test_start_returns_self_and_a_first_request_starts_it(simulator):
    meter = LineInstrument(simulator.address, timeout=5)
    try:
        assert not meter.running
        assert meter.query("ECHO? auto") == "auto" and meter.running
        assert meter.start() is meter
    finally:
        meter.stop()


@pytest.mark.parametrize("options, message", [
    ({"timeout": 0}, "timeout: must be a positive number of seconds"),
    ({"terminator": ""}, "terminator must be a non-empty string"),
    ({"encoding": "klingon"}, "klingon"),
])
def test_bad_options_are_refused_at_construction(options, message):
    with pytest.raises((ValueError, LookupError), match=message):
        LineInstrument("sim://scpi", **options)


def test_a_custom_simulator_server_over_pipe_with_abstract_name(make_instrument):
    server = ScpiServer("pipe://@flubber-test-abstract-%d" % id(object()), simulator=ScpiSimulator(delay=0)).start()
    try:
        meter = make_instrument(server.address, timeout=5)
        assert meter.query("ECHO? abstract") == "abstract"
    finally:
        server.stop()
