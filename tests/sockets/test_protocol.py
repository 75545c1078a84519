"""The pull and push protocol without sockets: exact reply bytes, validation."""
import json

import pytest

from flubber.sockets import (
    BAD_CHARS,
    OLD_DATA,
    PUSH_ACK,
    PUSH_ERROR,
    PUSH_EXCEP,
    PUSH_RET,
    TYPE_FROM_STRING,
    UNKNOWN_COMMAND,
    BadPointError,
    PullProtocol,
    PushProtocol,
    SocketConfigurationError,
    UnknownCodenameError,
    bool_translate,
)


class Clock:
    """A settable unix clock."""

    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


def pull(is_date=True, codenames=("a", "b"), **kwargs):
    clock = kwargs.pop("clock", Clock())
    return PullProtocol("proto", codenames, is_date, clock=clock, **kwargs)


def test_module_constants_have_the_original_values():
    assert BAD_CHARS == ["#", ",", ";", ":", "&"]
    assert UNKNOWN_COMMAND == "UNKNOWN_COMMMAND"
    assert OLD_DATA == "OLD_DATA"
    assert (PUSH_ACK, PUSH_ERROR, PUSH_EXCEP, PUSH_RET) == ("ACK", "ERROR", "EXCEP", "RET")
    assert TYPE_FROM_STRING["int"] is int and TYPE_FROM_STRING["float"] is float
    assert TYPE_FROM_STRING["str"] is str and TYPE_FROM_STRING["bool"] is bool_translate


def test_bool_translate_accepts_only_true_and_false():
    assert bool_translate("True") is True and bool_translate("False") is False
    with pytest.raises(ValueError, match="'true'"):
        bool_translate("true")


def test_all_value_replies_are_in_codename_order():
    proto = pull(codenames=["b", "a"])
    proto.set_point("a", (1.5, 2))
    proto.set_point("b", (3, -4.25))
    assert proto.reply(b"raw") == b"3,-4.25;1.5,2"
    assert proto.reply(b"json") == b"[[3, -4.25], [1.5, 2]]"
    assert proto.reply(b"raw_wn") == b"b:3,-4.25;a:1.5,2"
    assert proto.reply(b"json_wn") == b'{"b": [3, -4.25], "a": [1.5, 2]}'


def test_single_value_and_name_replies():
    proto = pull()
    proto.set_point("b", (1e-7, True))
    assert proto.reply(b"b#raw") == b"1e-07,True"
    assert proto.reply(b"b#json") == b"[1e-07, true]"
    assert proto.reply(b"codenames_raw") == b"a,b"
    assert proto.reply(b"codenames_json") == b'["a", "b"]'
    assert proto.reply(b"name") == b"proto"


def test_points_start_at_the_defaults():
    assert pull(default_x=1, default_y=47).reply(b"raw") == b"1,47;1,47"
    assert pull().reply(b"json") == b"[[0.0, 0.0], [0.0, 0.0]]"


@pytest.mark.parametrize("request_", [
    b"", b"RAW", b"raw ", b" raw", b"c#raw", b"a#xml", b"a#raw#", b"a#b#raw", b"#raw",
    b"json_wn#", b"\xff", "r\u00e5".encode(), b"raw\x00",
])
def test_anything_else_is_unknown_command(request_):
    assert pull().reply(request_) == b"UNKNOWN_COMMMAND"


def test_oversized_request_is_unknown_command():
    proto = pull(max_request_size=16)
    assert proto.reply(b"a" * 17) == b"UNKNOWN_COMMMAND"
    assert proto.reply(b"codenames_json") == b'["a", "b"]'     # 14 bytes: fine


def test_date_points_age_by_their_x():
    clock = Clock(1000.0)
    proto = pull(timeouts=[1.0, None], clock=clock)
    proto.set_point("a", (999.5, 1))
    proto.set_point("b", (0.0, 2))
    assert proto.reply(b"raw") == b"999.5,1;0.0,2"
    clock.now = 1000.6
    assert proto.reply(b"raw") == b"OLD_DATA;0.0,2"
    assert proto.reply(b"json") == b'["OLD_DATA", [0.0, 2]]'
    assert proto.reply(b"raw_wn") == b"a:OLD_DATA;b:0.0,2"
    assert proto.reply(b"json_wn") == b'{"a": "OLD_DATA", "b": [0.0, 2]}'
    assert proto.reply(b"a#raw") == b"OLD_DATA"
    assert proto.reply(b"a#json") == b'"OLD_DATA"'


def test_date_point_exactly_at_the_timeout_is_not_old():
    clock = Clock(1001.0)
    proto = pull(timeouts=1.0, clock=clock)
    proto.set_point("a", (1000.0, 1))
    assert proto.reply(b"a#raw") == b"1000.0,1"


def test_data_points_age_by_when_they_were_set():
    clock = Clock(1000.0)
    proto = pull(is_date=False, timeouts=2, clock=clock)
    assert proto.reply(b"raw") == b"OLD_DATA;OLD_DATA"     # never set: set at time 0
    proto.set_point("a", (5, 6))
    proto.set_point("b", (7, 8), timestamp=997.0)
    assert proto.reply(b"raw") == b"5,6;OLD_DATA"
    clock.now = 1002.5
    assert proto.reply(b"raw") == b"OLD_DATA;OLD_DATA"


def test_set_point_rejects_unknown_codename_naming_the_known_ones():
    with pytest.raises(UnknownCodenameError, match=r"'c'.*\['a', 'b'\]"):
        pull().set_point("c", (1, 2))


@pytest.mark.parametrize("point", [(1,), (1, 2, 3), 5, None, (1, object()), ([1], 2)])
def test_set_point_rejects_a_point_that_is_not_a_pair_of_values(point):
    with pytest.raises(BadPointError):
        pull(is_date=False).set_point("a", point)


def test_date_set_point_needs_a_numeric_x():
    with pytest.raises(BadPointError, match="unix time"):
        pull().set_point("a", ("yesterday", 2))


def test_number_types_become_plain_numbers():
    import fractions
    proto = pull(is_date=False)
    proto.set_point("a", (fractions.Fraction(1, 2), 7))
    assert proto.reply(b"a#json") == b"[0.5, 7]"


@pytest.mark.parametrize("codenames, fragment", [
    (["a", "a"], "'a' is given more than once"),
    (["ok", "b#d"], "'b#d' contains '#'"),
    (["x,y"], "'x,y' contains ','"),
    (["x;y"], "contains ';'"),
    (["x:y"], "contains ':'"),
    (["x&y"], "contains '&'"),
    (["caf\u00e9"], "not ASCII"),
    ("abc", "not the single string 'abc'"),
    ([1], "codename 1 is not a string"),
])
def test_bad_codenames_raise_value_error_naming_them(codenames, fragment):
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(")) as info:
        pull(codenames=codenames)
    assert isinstance(info.value, SocketConfigurationError)


def test_timeouts_list_must_match_the_codenames():
    with pytest.raises(SocketConfigurationError, match=r"timeouts \[1, 2, 3\] has 3 values but there are 2"):
        pull(timeouts=[1, 2, 3])


@pytest.mark.parametrize("timeouts", ["1.0", -1, [1, "x"], [True, 1]])
def test_bad_timeout_values_are_named(timeouts):
    with pytest.raises(ValueError, match="timeout"):
        pull(timeouts=timeouts)


def test_too_large_pull_reply_becomes_an_error_that_says_so():
    proto = pull(is_date=False, codenames=["c%d" % i for i in range(3)])
    for index in range(3):
        proto.set_point("c%d" % index, (1, "y" * 30000))
    reply = proto.reply(b"json_wn")
    assert reply.startswith(b"ERROR#") and b"NAME#raw" in reply and len(reply) < 200
    assert len(proto.reply(b"c1#raw")) == 30002


def test_non_ascii_values_are_sent_escaped():
    proto = pull(is_date=False)
    proto.set_point("a", (1, "\u00b0C"))
    assert proto.reply(b"a#raw") == b"1,\\xb0C"
    assert proto.reply(b"a#json") == b'[1, "\\u00b0C"]'


def test_status_reply_is_json_of_the_status_source():
    source = {"system_status": {"x": 1}, "socket_server_status": {9000: {"name": "n"}}}
    proto = PullProtocol("p", ["a"], True, status_source=lambda: source)
    assert json.loads(proto.reply(b"status")) == {
        "system_status": {"x": 1}, "socket_server_status": {"9000": {"name": "n"}}}


def test_activity_status():
    clock = Clock(1000.0)
    proto = pull(activity_timeout=10, clock=clock)
    assert proto.status_entry() == {"name": "proto", "type": "date", "status": "OK",
                                    "since_last_activity": 0.0}
    clock.now = 1011.0
    assert proto.status_entry()["status"] == "INACTIVE"
    proto.set_point("a", (1011.0, 1))              # poke_on_set
    assert proto.status_entry()["status"] == "OK"
    quiet = pull(check_activity=False, clock=clock)
    assert quiet.status_entry()["status"] == "DISABLED"
    assert quiet.status_entry()["since_last_activity"] is None


def test_poke_on_set_false_does_not_count_as_activity():
    clock = Clock(1000.0)
    proto = pull(activity_timeout=10, poke_on_set=False, clock=clock)
    clock.now = 1020.0
    proto.set_point("a", (1020.0, 1))
    assert proto.status_entry()["status"] == "INACTIVE"


# -- push ----------------------------------------------------------------

def push(**kwargs):
    return PushProtocol("pusher", clock=Clock(), **kwargs)


def test_push_name_commands_and_status():
    proto = push()
    assert proto.parse(b"name") == (b"RET#pusher", None)
    assert proto.parse(b"commands") == (
        b'RET#["json_wn#", "raw_wn#", "name", "status", "commands"]', None)
    reply, data = proto.parse(b"status")
    assert data is None and json.loads(reply)["socket_server_status"]


def test_push_json_with_names_gives_the_data():
    assert push().parse(b'json_wn#{"greeting": "hi", "n": 47}') == (
        None, {"greeting": "hi", "n": 47})


def test_push_refuses_a_second_hash_as_pyexplabsys_does():
    assert push().parse(b'json_wn#{"tag": "#1"}') == (b"ERROR#UNKNOWN_COMMMAND", None)


def test_push_takes_a_hash_written_as_a_json_escape():
    assert push().parse(b'json_wn#{"tag": "\\u00231"}') == (None, {"tag": "#1"})


def test_push_raw_with_names_converts_every_type():
    reply, data = push().parse(b"raw_wn#greeting:str:Live long;numbers:int:47,42;"
                               b"f:float:1.5;ok:bool:True;flags:bool:False,True")
    assert reply is None
    assert data == {"greeting": "Live long", "numbers": [47, 42], "f": 1.5, "ok": True,
                    "flags": [False, True]}


@pytest.mark.parametrize("request_, expected", [
    (b"", b"ERROR#UNKNOWN_COMMMAND"),
    (b"hello", b"ERROR#UNKNOWN_COMMMAND"),
    (b"xml#{}", b"ERROR#UNKNOWN_COMMMAND"),
    (b"json_wn", b"ERROR#UNKNOWN_COMMMAND"),
    (b"json_wn#{", b"ERROR#The string '{' could not be decoded as JSON"),
    (b"json_wn#[1, 2]",
     b"ERROR#The object '[1, 2]' returned after decoding the JSON string is not a dict"),
    (b"raw_wn#", b"ERROR#The data part '' did not match the expected format of 3 parts "
                 b"divided by ':'"),
    (b"raw_wn#a:int", b"ERROR#The data part 'a:int' did not match the expected format of 3 "
                      b"parts divided by ':'"),
    (b"raw_wn#a:complex:1", b"ERROR#The data type 'complex' is unknown. Only "
                            b"dict_keys(['int', 'float', 'str', 'bool']) are allowed"),
    (b"raw_wn#a:int:1.5", b"ERROR#Unable to convert values to 'int'. Error is: invalid literal "
                          b"for int() with base 10: '1.5'"),
    (b"raw_wn#a:bool:yes", b"ERROR#Unable to convert values to 'bool'. Error is: Cannot "
                           b"translate the string 'yes' to a boolean. Only the strings 'True' "
                           b"or 'False' are allowed"),
    (b"\xc3\xa5", b"ERROR#the request is not ASCII; send ASCII with non-ASCII text "
                  b"JSON-escaped"),
])
def test_push_errors(request_, expected):
    assert push().parse(request_) == (expected, None)


def test_push_oversized_request_is_an_error():
    reply, data = push(max_request_size=10).parse(b"json_wn#{}  ")
    assert data is None and reply == b"ERROR#the request is longer than 10 bytes"


def test_push_error_on_a_long_body_quotes_it_whole_as_pyexplabsys_does():
    body = b"{" + b"x" * 8000
    reply, _ = push().parse(b"json_wn#" + body)
    assert reply == b"ERROR#The string '" + body + b"' could not be decoded as JSON"


def test_push_store_last_and_updated():
    proto = push()
    proto.store({"a": 1, "b": 2})
    proto.store({"b": 3})
    assert proto.last == {"b": 3} and proto.updated == {"a": 1, "b": 3}
    assert proto.last_time == 1000.0 == proto.updated_time
    proto.set_last_to_none()
    proto.clear_updated()
    assert (proto.last, proto.last_time, proto.updated, proto.updated_time) == (None, None, {}, None)


def test_push_ack_echoes_the_data_as_python_shows_it():
    assert push().ack({"a": 1, "s": "x"}) == b"ACK#{'a': 1, 's': 'x'}"


def test_push_ack_too_large_to_echo_is_still_an_ack():
    reply = push().ack({"k%d" % i: "v" * 100 for i in range(1000)})
    assert reply == b"ACK#data with 1000 codenames received; too large to echo"


@pytest.mark.parametrize("return_format, value, expected", [
    ("json", {"a": [1, 2.5]}, b'RET#{"a": [1, 2.5]}'),
    ("json", None, b"RET#null"),
    ("string", {"a": 1}, b"RET#{'a': 1}"),
    ("string", "plain", b"RET#plain"),
    ("raw", None, b"RET#None"),
    ("raw", {"answer": 42, "values": [42, 47], "good": False, "f": 1.5},
     b"RET#answer:int:42;values:int:42,47;good:bool:False;f:float:1.5"),
    ("raw", [[7.0, 42.0], [7.5, 45.5]], b"RET#float:7.0,42.0&7.5,45.5"),
])
def test_push_return_formats(return_format, value, expected):
    assert push(return_format=return_format).format_return(value) == expected


@pytest.mark.parametrize("return_format, value", [
    ("json", {1, 2}),
    ("raw", 5),
    ("raw", {"a": [1, "x"]}),
    ("raw", {"a": []}),
    ("raw", {"a": {"nested": 1}}),
    ("raw", [[1, 2.0]]),
    ("raw", [1, 2]),
    ("raw", []),
    ("raw", [[None]]),
])
def test_push_unformattable_return_values_give_excep(return_format, value):
    assert push(return_format=return_format).format_return(value).startswith(b"EXCEP#")


def test_push_callback_failure_reply():
    assert PushProtocol.callback_failed(RuntimeError("heater on fire")) == b"EXCEP#heater on fire"


def test_push_rejects_unknown_return_format():
    with pytest.raises(SocketConfigurationError, match="'xml'"):
        push(return_format="xml")


# -- reply cache -----------------------------------------------------------

def test_cached_replies_follow_set_point():
    proto = pull(is_date=False)
    assert proto.reply(b"a#raw") == b"0.0,0.0"
    proto.set_point("a", (1, 2))
    assert proto.reply(b"a#raw") == b"1,2"
    assert proto.reply(b"a#raw") == b"1,2"


def test_cached_replies_turn_old_exactly_when_the_point_does():
    clock = Clock(1000.0)
    proto = pull(timeouts=[1.0, None], clock=clock)
    proto.set_point("a", (1000.0, 5))
    assert proto.reply(b"raw") == b"1000.0,5;0.0,0.0"
    clock.now = 1000.999
    assert proto.reply(b"raw") == b"1000.0,5;0.0,0.0"
    clock.now = 1001.001
    assert proto.reply(b"raw") == b"OLD_DATA;0.0,0.0"
    assert proto.reply(b"a#json") == b'"OLD_DATA"'


def test_cache_is_dropped_when_the_clock_goes_back():
    clock = Clock(1000.0)
    proto = pull(timeouts=1.0, clock=clock)
    proto.set_point("a", (999.5, 5))
    clock.now = 1002.0
    assert proto.reply(b"a#raw") == b"OLD_DATA"
    clock.now = 1000.0                       # NTP stepped the clock back
    assert proto.reply(b"a#raw") == b"999.5,5"


def test_unknown_requests_are_not_cached():
    proto = pull()
    for index in range(1000):
        assert proto.reply(b"junk %d" % index) == b"UNKNOWN_COMMMAND"
        proto.reply(b"a#raw")
    assert len(proto._cache) == 1


def test_status_is_never_cached():
    calls = []
    proto = PullProtocol("p", ["a"], True, status_source=lambda: calls.append(1) or {})
    proto.reply(b"status")
    proto.reply(b"status")
    assert len(calls) == 2
