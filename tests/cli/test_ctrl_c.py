"""``flubber pull`` and ``flubber get|set`` stop cleanly on Ctrl-C while they wait for a reply."""
import socket

import pytest

from tests.processes import assert_stopped_cleanly, interrupt, spawn

pytestmark = pytest.mark.timeout(60)


def test_pull_interrupted_while_waiting_says_nothing_came():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # takes the request, never answers
        silent.bind(("127.0.0.1", 0))
        silent.settimeout(30)
        port = silent.getsockname()[1]
        process = spawn("-m", "flubber", "pull", "127.0.0.1:%d" % port, "-t", "120")
        assert silent.recvfrom(100)[0] == b"json_wn"  # the command is now waiting for the reply
        status, out, err = interrupt(process)
    assert_stopped_cleanly(status, out, err,
                           r"^flubber pull: interrupted before 127\.0\.0\.1:%d replied to 'json_wn'; "
                           r"nothing printed$" % port)
    assert out == ""


@pytest.mark.parametrize("command, said", [
    (("get", "setpoint"), r"replied to get setpoint$"),
    (("set", "setpoint", "40"), r"replied to set setpoint; the node may still set it: `flubber get setpoint` tells$"),
])
def test_get_and_set_interrupted_while_waiting_say_what_is_unknown(command, said):
    with socket.socket() as listener:  # a TCP "node" that reads the request and never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(30)
        host = "127.0.0.1:%d" % listener.getsockname()[1]
        process = spawn("-m", "flubber", *command, "--host", host, "-t", "120")
        connection, _ = listener.accept()
        with connection:
            connection.settimeout(30)
            request = b""
            while not request.endswith(b"\n"):
                request += connection.recv(4096)
            status, out, err = interrupt(process)
    assert_stopped_cleanly(status, out, err, r"^flubber %s: interrupted before %s %s" % (command[0], host, said))
