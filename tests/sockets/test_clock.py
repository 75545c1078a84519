"""The sockets and the logger read the clock when called, so patching time.time moves them.

Scripts and test suites written against PyExpLabSys freeze or move time
with :func:`unittest.mock.patch` or freezegun; every time a socket reads
(``set_point`` without a timestamp, ``set_point_now``, old data, the
activity clock, the push socket's ``last``) and the logger's
``enqueue_point_now`` must follow.
"""
import calendar
import time
from unittest import mock

from freezegun import freeze_time

from flubber.loggers import ContinuousLogger
from flubber.sockets import DataPullSocket, DataPushSocket, DateDataPullSocket

FROZEN = "2024-05-06 07:08:09"
FROZEN_UNIX = float(calendar.timegm(time.strptime(FROZEN, "%Y-%m-%d %H:%M:%S")))


def test_set_point_now_takes_x_from_a_patched_time_time(make_socket, udp):
    sock = make_socket(DateDataPullSocket, "clock", ["a"])
    with mock.patch("time.time", return_value=1234.5):
        assert sock.set_point_now("a", 1.0) == 1234.5
    assert udp(sock.port).ask("a#raw") == b"1234.5,1.0"


def test_date_socket_ages_points_by_a_frozen_clock(make_socket, udp):
    sock = make_socket(DateDataPullSocket, "clock", ["a"], timeouts=10)
    peer = udp(sock.port)
    with freeze_time(FROZEN) as frozen:
        sock.set_point_now("a", 2.0)
        frozen.tick(9)
        assert peer.ask("a#raw") == b"%r,2.0" % FROZEN_UNIX
        frozen.tick(2)
        assert peer.ask("a#raw") == b"OLD_DATA"


def test_data_socket_stamps_set_point_with_a_frozen_clock(make_socket, udp):
    sock = make_socket(DataPullSocket, "clock", ["x"], timeouts=5)
    peer = udp(sock.port)
    with freeze_time(FROZEN) as frozen:
        sock.set_point("x", (1, 2))
        frozen.tick(4)
        assert peer.ask("x#raw") == b"1,2"
        frozen.tick(2)
        assert peer.ask("x#raw") == b"OLD_DATA"


def test_activity_follows_a_patched_time_time(make_socket):
    sock = make_socket(DataPullSocket, "clock", ["x"], activity_timeout=60, start=False)
    with mock.patch("time.time", return_value=5000.0):
        sock.poke()
    with mock.patch("time.time", return_value=5059.0):
        assert sock.status_entry()["status"] == "OK"
    with mock.patch("time.time", return_value=5061.0):
        entry = sock.status_entry()
    assert entry["status"] == "INACTIVE" and entry["since_last_activity"] == 61.0


def test_set_point_pokes_with_a_frozen_clock(make_socket):
    sock = make_socket(DateDataPullSocket, "clock", ["a"], activity_timeout=60, start=False)
    with freeze_time(FROZEN):
        sock.set_point("a", (1.0, 1.0))
        assert sock.status_entry()["since_last_activity"] == 0.0


def test_push_socket_stamps_data_with_a_frozen_clock(make_socket, udp):
    sock = make_socket(DataPushSocket, "clock")
    with freeze_time(FROZEN):
        assert udp(sock.port).ask('json_wn#{"a": 1}') == b"ACK#{'a': 1}"
    assert sock.last == (FROZEN_UNIX, {"a": 1}) and sock.updated == (FROZEN_UNIX, {"a": 1})


def test_enqueue_point_now_uses_a_frozen_clock(tmp_path):
    url = "sqlite:///%s" % (tmp_path / "clock.sqlite3")
    logger = ContinuousLogger("dateplots_clock", None, None, ["clock_a"], url=url,
                              create_tables=True).start()
    try:
        with freeze_time(FROZEN):
            assert logger.enqueue_point_now("clock_a", 3.0) == FROZEN_UNIX
    finally:
        assert logger.stop() == 0
