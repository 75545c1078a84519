"""Hypothesis throws random and almost-valid datagrams at both sockets.

Every request must get exactly one well-formed reply, and the socket must
keep serving with no internal error. Bounded: a few hundred examples each.
"""
import json
import re

import pytest

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flubber.sockets import DataPushSocket, DateDataPullSocket

CODENAMES = ["t1", "p_2", "x"]
PULL_COMMANDS = ["raw", "json", "raw_wn", "json_wn", "codenames_raw", "codenames_json", "name",
                 "status"]
NUMBER = r"-?[0-9.e+-]+|True|False|None|nan|inf|-inf|text"
POINT_RAW = r"(?:OLD_DATA|(?:%s),(?:%s))" % (NUMBER, NUMBER)

almost_valid = st.one_of(
    st.sampled_from(PULL_COMMANDS + ["commands", "json_wn#", "raw_wn#", ""]),
    st.builds(lambda name, form: "%s#%s" % (name, form),
              st.sampled_from(CODENAMES + ["", "nope", "t1#t1"]),
              st.sampled_from(["raw", "json", "RAW", "", "raw#"])),
    st.builds(lambda body: "json_wn#" + json.dumps(body),
              st.dictionaries(st.text(max_size=8), st.one_of(
                  st.integers(), st.floats(allow_nan=False), st.text(max_size=8), st.booleans(),
                  st.lists(st.integers(), max_size=3)), max_size=4)),
    st.builds(lambda parts: "raw_wn#" + ";".join(parts),
              st.lists(st.builds(lambda n, t, v: "%s:%s:%s" % (n, t, v),
                                 st.text(alphabet="abc", max_size=3),
                                 st.sampled_from(["int", "float", "str", "bool", "complex"]),
                                 st.text(alphabet="0123456789.,-TrueFals", max_size=8)),
                       max_size=3)),
    st.text(max_size=40),
).map(lambda text: text.encode("utf-8"))

requests = st.one_of(almost_valid, st.binary(max_size=300), st.binary(min_size=8100, max_size=8300))

FUZZ = settings(max_examples=300, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])


def pull_reply_is_well_formed(request, reply):
    text = reply.decode("ascii")                      # raises if not ASCII
    assert len(reply) <= 65507
    command = request.decode("ascii", "replace")
    if len(request) > 8192 or command not in PULL_COMMANDS and not re.fullmatch(
            r"(%s)#(raw|json)" % "|".join(CODENAMES), command):
        assert text == "UNKNOWN_COMMMAND"
    elif command == "raw":
        assert re.fullmatch(r"%s(;%s){2}" % (POINT_RAW, POINT_RAW), text)
    elif command == "raw_wn":
        assert re.fullmatch(";".join("%s:%s" % (name, POINT_RAW) for name in CODENAMES), text)
    elif command.endswith("#raw"):
        assert re.fullmatch(POINT_RAW, text)
    elif command == "codenames_raw":
        assert text == ",".join(CODENAMES)
    elif command == "name":
        assert text == "fuzz pull"
    else:
        value = json.loads(text)
        if command == "json_wn":
            assert list(value) == CODENAMES
        elif command == "json":
            assert len(value) == 3
        elif command == "codenames_json":
            assert value == CODENAMES
        elif command == "status":
            assert set(value) == {"system_status", "socket_server_status"}
        else:
            assert value == "OLD_DATA" or len(value) == 2


def push_reply_is_well_formed(request, reply):
    text = reply.decode("ascii")
    assert len(reply) <= 65507
    if request == b"status":
        assert set(json.loads(text)) == {"system_status", "socket_server_status"}
        return
    prefix, hash_, _ = text.partition("#")
    assert hash_ and prefix in ("ACK", "ERROR", "RET")
    if request in (b"name", b"commands"):
        assert prefix == "RET"
        return
    if request.startswith(b"json_wn#") and len(request) <= 8192:
        try:
            body = json.loads(request[8:].decode("ascii"))
        except ValueError:
            body = None
        # a second '#' is refused as PyExpLabSys refuses it
        assert prefix == ("ACK" if isinstance(body, dict) and request.count(b"#") == 1
                          else "ERROR")
    elif not request.startswith(b"raw_wn#"):
        assert prefix == "ERROR"


@pytest.mark.parametrize("kind", ["pull", "push"])
def test_fuzzed_requests_each_get_one_well_formed_reply(make_socket, udp, kind):
    if kind == "pull":
        sock = make_socket(DateDataPullSocket, "fuzz pull", CODENAMES, timeouts=[None, 0.0, 60])
        sock.set_point_now("t1", 1.5)
        sock.set_point_now("x", "text")
        check_reply, name_reply = pull_reply_is_well_formed, b"fuzz pull"
    else:
        sock = make_socket(DataPushSocket, "fuzz push", action="enqueue")
        check_reply, name_reply = push_reply_is_well_formed, b"RET#fuzz push"
    peer = udp(sock.port)

    @FUZZ
    @given(requests)
    def check(request):
        check_reply(request, peer.ask(request))

    check()
    assert peer.pending(0.1) == []
    assert peer.ask("name") == name_reply
    assert sock.stats.errors == 0 and sock.stats.requests == sock.stats.replies
