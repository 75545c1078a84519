"""Every reply of the table in docs/sockets.rst, over real UDP.

docs/sockets_replies.csv lists requests to six sockets set up by
:func:`build_sockets`, what PyExpLabSys' ``common/sockets.py`` answers and
what flubber answers (``same`` when the bytes are equal). The original's
column was recorded by running PyExpLabSys' own sockets with
:func:`build_sockets` and these requests; this test holds flubber to the
flubber column, and to the original's wherever the table says ``same``.

:func:`build_sockets` uses only what both implementations share, so it
builds the same sockets from ``PyExpLabSys.common.sockets`` or from
``flubber.sockets``.
"""
import csv
import json
import pathlib

import pytest

import flubber.sockets

from .conftest import HOST

TABLE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "sockets_replies.csv"

#: What the callback of the ``callback_direct`` sockets returns, by the
#: request's ``"r"`` (``raise`` makes it raise RuntimeError).
RETURNS = {
    "dict": {"answer": 42, "values": [42, 47], "good": False, "f": 1.5},
    "lists": [[7.0, 42.0], [7.5, 45.5]],
    "none": None,
    "text": "plain text",
    "int": 5,
    "tuple": (1, 2),
    "set": {3},
    "mixed_in_dict": {"a": [1, "x"]},
    "empty_in_dict": {"a": []},
    "dict_in_dict": {"a": {"n": 1}},
    "none_in_dict": {"a": None},
    "mixed_lists": [[1, 2.0]],
    "flat_list": [1, 2],
    "empty_list": [],
    "empty_rows": [[], []],
    "none_rows": [[None]],
    "nan": float("nan"),
}


def callback(data):
    """The ``callback_direct`` sockets' callback: return ``RETURNS[data['r']]``."""
    if data.get("r") == "raise":
        raise RuntimeError("heater on fire")
    return RETURNS[data.get("r")]


def build_sockets(module, ports, **extra):
    """Build (not start) the table's sockets from *module*; return ``{kind: socket}``.

    *ports* maps each kind to its UDP port; *extra* are keyword arguments
    for every constructor (flubber's ``host``).
    """
    date = module.DateDataPullSocket("pels table date", ["a", "b", "c", "d"],
                                     port=ports["date"], timeouts=[None, 1.0, None, None], **extra)
    date.set_point("a", (1718000000.5, 21.5))
    date.set_point("b", (1000.0, 3))                # older than its 1 s timeout
    date.set_point("c", (1718000002, "on"))
    date.set_point("d", (1718000003.25, None))
    data = module.DataPullSocket("pels table data", ["x1", "x2"], port=ports["data"],
                                 timeouts=[None, 5.0], **extra)
    data.set_point("x1", (1.5, 2))                  # x2 keeps (0.0, 0.0), set at time 0: old
    sockets = {"date": date, "data": data,
               "push": module.DataPushSocket("pels table push", port=ports["push"], **extra)}
    for return_format in ("json", "raw", "string"):
        kind = "push " + return_format
        sockets[kind] = module.DataPushSocket(
            "pels table " + kind, port=ports[kind], action="callback_direct", callback=callback,
            return_format=return_format, **extra)
    return sockets


def read_table(path=TABLE):
    """Return the table's rows: ``(socket, request, original reply, flubber reply, note)``.

    The cells are reStructuredText for the docs, where a backslash is
    written doubled; they are returned as the bytes on the wire read.
    """
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["socket", "request", "PyExpLabSys replies", "flubber replies", "note"]
    return [tuple(cell.replace("\\\\", "\\") for cell in row) for row in rows[1:]]


ROWS = read_table()
KINDS = ["date", "data", "push", "push json", "push raw", "push string"]


@pytest.fixture(scope="module")
def table_sockets():
    sockets = build_sockets(flubber.sockets, {kind: 0 for kind in KINDS}, host=HOST)  # each binds a free port
    for sock in sockets.values():
        sock.start()
    yield sockets
    for sock in sockets.values():
        sock.stop()


def test_table_covers_every_socket_and_documents_every_difference():
    assert sorted({row[0] for row in ROWS}) == sorted(KINDS)
    for kind, request, original, mine, note in ROWS:
        assert mine == "same" or note, "row %r %r differs without a note" % (kind, request)


@pytest.mark.parametrize("kind, request_, original, mine, note", ROWS,
                         ids=["%s %s" % (row[0], row[1][:40]) for row in ROWS])
def test_reply_as_in_the_table(table_sockets, udp, kind, request_, original, mine, note):
    expected = original if mine == "same" else mine
    assert udp(table_sockets[kind].port).ask(request_.encode("utf-8")) == expected.encode("ascii")


#: The layout of PyExpLabSys' ``status`` reply, recorded from its own
#: sockets on Linux: ``system_status`` keys in order, with the keys of the
#: nested dicts; every socket's entry of ``socket_server_status``.
STATUS_LAYOUT = {
    "filesystem_usage": ["total_bytes", "free_bytes"], "last_apt_cache_change_unixtime": None,
    "last_git_fetch_unixtime": ["PyExpLabSys", "machines"], "load_average": ["1m", "5m", "15m"],
    "mac_address": None, "machine_name": None, "max_python_mem_usage_bytes": None,
    "number_of_python_threads": None, "os_version": None, "purpose": ["id", "purpose", "long_description"],
    "python_version": None, "rpi_model": None, "rpi_temperature": None, "sd_card_serial": None,
    "uptime": ["uptime_sec", "idle_sec"],
}
SOCKET_STATUS_KEYS = ["name", "type", "status", "since_last_activity"]


@pytest.mark.parametrize("kind", ["date", "push"])
def test_status_has_the_layout_of_pyexplabsys(table_sockets, udp, kind):
    status = json.loads(udp(table_sockets[kind].port).ask("status"))
    assert list(status) == ["system_status", "socket_server_status"]
    system = status["system_status"]
    assert {key: list(value) if isinstance(value, dict) else None
            for key, value in system.items()} == STATUS_LAYOUT
    assert system["mac_address"] and isinstance(system["load_average"]["1m"], float)
    entries = status["socket_server_status"]
    assert str(table_sockets[kind].port) in entries
    assert all(list(entry) == SOCKET_STATUS_KEYS for entry in entries.values())
