"""flubber.sockets.DATA: PyExpLabSys' shared DATA dict as a read-only view of each socket's state."""
import collections.abc

import pytest

from flubber.sockets import DATA, DataPullSocket, DataPushSocket, DateDataPullSocket, PushClient

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def sockets():
    made = []

    def make(cls, *args, **kwargs):
        sock = cls(*args, port=0, host="127.0.0.1", **kwargs)
        made.append(sock)
        return sock

    yield make
    for sock in made:
        sock.stop()


def test_a_date_socket_entry_has_pyexplabsys_keys_and_live_points(sockets):
    pull = sockets(DateDataPullSocket, "oven", ["t", "p"], timeouts=[2.0, None])
    pull.set_point("t", (1700000000.0, 21.5))
    entry = DATA[pull.port]
    assert entry["type"] == "date"
    assert entry["name"] == "oven"
    assert entry["codenames"] == ["t", "p"]
    assert entry["data"]["t"] == (1700000000.0, 21.5)
    assert entry["timeouts"] == {"t": 2.0, "p": None}
    assert set(entry["activity"]) == {"check_activity", "activity_timeout", "last_activity"}
    pull.set_point("t", (1700000001.0, 22.0))
    assert DATA[pull.port]["data"]["t"] == (1700000001.0, 22.0)


def test_a_data_socket_entry_has_timestamps(sockets):
    pull = sockets(DataPullSocket, "spectrum", ["s"])
    pull.set_point("s", (500.0, 3.0), timestamp=1700000000.0)
    entry = DATA[pull.port]
    assert entry["type"] == "data"
    assert entry["timestamps"] == {"s": 1700000000.0}


def test_a_push_socket_entry_shows_what_was_pushed(sockets):
    push = sockets(DataPushSocket, "setpoints")
    push.start()
    with PushClient("127.0.0.1", push.port) as client:
        client.push({"setpoint": 20.5})
    entry = DATA[push.port]
    assert entry["type"] == "push" and entry["name"] == "setpoints" and entry["action"] == "store_last"
    assert entry["last"] == {"setpoint": 20.5}
    assert entry["updated"] == {"setpoint": 20.5}
    assert entry["last_time"] is not None


def test_an_entry_is_a_copy_and_the_view_is_read_only(sockets):
    pull = sockets(DateDataPullSocket, "oven", ["t"])
    entry = DATA[pull.port]
    entry["data"]["t"] = (1.0, 99.0)
    assert DATA[pull.port]["data"]["t"] != (1.0, 99.0)
    assert isinstance(DATA, collections.abc.Mapping)
    with pytest.raises(TypeError):
        DATA[pull.port] = {}


def test_ports_appear_on_construction_and_leave_on_stop(sockets):
    pull = sockets(DateDataPullSocket, "oven", ["t"])
    push = sockets(DataPushSocket, "setpoints")
    assert pull.port in DATA and push.port in DATA
    assert {pull.port, push.port} <= set(DATA)
    count = len(DATA)
    pull.stop()
    assert pull.port not in DATA
    assert len(DATA) == count - 1
    with pytest.raises(KeyError):
        DATA[pull.port]
