"""TheDump on the TCP line device, against a shell served by a flubber.io TCPServer."""
import logging

import pytest

from flubber.dump import DeviceError, TCPDevice, TheDump

from tests.dump.conftest import ANSWERS
from tests.ports import refused_port

pytestmark = pytest.mark.timeout(60)

PROMPT = r"lab> "


def _read(path):
    with open(path, "rb") as handle:
        return handle.read()


def _device(server, **kwargs):
    return TCPDevice("127.0.0.1", server.sockname[1], **kwargs)


def test_output_ends_at_the_prompt_without_echo_or_prompt(shell_server, tmp_path):
    server = shell_server("prompt")
    dump = TheDump("dmesg", _device(server, prompt=PROMPT), output_dir=str(tmp_path), timeout=5)
    path = dump()
    assert _read(path) == ANSWERS[b"dmesg"]
    assert dump.result.ended == "end" and not dump.result.failed
    assert server.received == [b"dmesg"]


def test_the_echo_is_kept_when_strip_echo_is_off(shell_server, tmp_path):
    server = shell_server("prompt")
    device = _device(server, prompt=PROMPT, strip_echo=False, line_ending="\r\n")
    path = TheDump("uptime", device, output_dir=str(tmp_path))()
    assert _read(path) == b"uptime\r\n" + ANSWERS[b"uptime"]


def test_a_command_with_no_output_gives_an_empty_file(shell_server, tmp_path):
    server = shell_server("prompt")
    path = TheDump("empty", _device(server, prompt=PROMPT), output_dir=str(tmp_path))()
    assert _read(path) == b""


def test_without_a_prompt_the_output_ends_when_the_device_closes(shell_server, tmp_path):
    server = shell_server("close")
    dump = TheDump("uptime", _device(server), output_dir=str(tmp_path))
    assert _read(dump()) == ANSWERS[b"uptime"]
    assert dump.result.ended == "end" and not dump.result.failed


def test_without_a_prompt_the_output_ends_at_silence(shell_server, tmp_path):
    server = shell_server("silent")
    dump = TheDump("dmesg", _device(server), output_dir=str(tmp_path), timeout=0.3)
    assert _read(dump()) == ANSWERS[b"dmesg"]
    assert dump.result.ended == "silence" and not dump.result.failed


def test_a_device_that_drops_the_connection_mid_dump_keeps_the_partial_output(shell_server, tmp_path, caplog):
    server = shell_server("drop")
    dump = TheDump("dmesg", _device(server, prompt=PROMPT), output_dir=str(tmp_path))
    path = dump()
    assert _read(path) == ANSWERS[b"dmesg"][:len(ANSWERS[b"dmesg"]) // 2]
    assert dump.result.failed and "before the prompt" in dump.result.error
    assert any(record.levelno == logging.ERROR for record in caplog.records)


def test_a_connection_reset_mid_dump_keeps_the_partial_output(shell_server, tmp_path):
    server = shell_server("reset")
    dump = TheDump("dmesg", _device(server), output_dir=str(tmp_path))
    path = dump()
    assert _read(path) == ANSWERS[b"dmesg"][:len(ANSWERS[b"dmesg"]) // 2]
    assert dump.result.failed and "broke" in dump.result.error


def test_a_refused_connection_is_logged_and_the_next_dump_still_runs(shell_server, tmp_path, caplog):
    with refused_port() as closed_port:
        refused = TheDump("dmesg", TCPDevice("127.0.0.1", closed_port), identifier="refused",
                          output_dir=str(tmp_path))
        path = refused()
    assert _read(path) == b""
    assert refused.result.failed and "cannot connect" in refused.result.error
    assert "cannot connect" in caplog.text
    server = shell_server("prompt")
    after = TheDump("uptime", _device(server, prompt=PROMPT), output_dir=str(tmp_path))
    assert _read(after()) == ANSWERS[b"uptime"] and not after.result.failed


def test_a_wrong_prompt_still_captures_the_output_until_silence(shell_server, tmp_path, caplog):
    server = shell_server("prompt")
    dump = TheDump("uptime", _device(server, prompt=r"\$ "), output_dir=str(tmp_path), timeout=0.3)
    data = _read(dump())
    assert ANSWERS[b"uptime"] in data
    assert dump.result.ended == "silence"
    assert "no prompt matching" in caplog.text


def test_each_dump_gets_its_own_connection(shell_server, tmp_path):
    server = shell_server("prompt")
    device = _device(server, prompt=PROMPT)
    for command in ("dmesg", "uptime"):
        TheDump(command, device, output_dir=str(tmp_path))()
    assert server.received == [b"dmesg", b"uptime"]


def test_device_open_raises_device_error_when_nobody_listens():
    with refused_port() as port:
        with pytest.raises(DeviceError, match="cannot connect to 127.0.0.1:%d" % port):
            TCPDevice("127.0.0.1", port).open("dmesg", timeout=2)


def test_a_bad_prompt_is_refused_when_the_device_is_made():
    with pytest.raises(ValueError, match="not a valid regular expression"):
        TCPDevice("127.0.0.1", 23, prompt="(")
