"""TheDump on the local subprocess device: real commands, real files."""
import logging
import os
import sys

import gevent
import pytest

from flubber.dump import END, STDERR, STDOUT, LocalDevice, TheDump

pytestmark = pytest.mark.timeout(60)


def _read(path):
    with open(path, "rb") as handle:
        return handle.read()


def test_multi_line_output_is_written_to_the_file_and_the_path_returned(tmp_path):
    dump = TheDump("printf 'one\\ntwo\\nthree\\n'", identifier="lines", output_dir=str(tmp_path), timeout=5)
    path = dump()
    assert path == str(tmp_path / "lines.txt")
    assert _read(path) == b"one\ntwo\nthree\n"
    assert dump.result.state == "done" and dump.result.ended == "end"
    assert (dump.result.bytes, dump.result.exit_status) == (14, 0)


def test_a_last_line_without_newline_is_kept(tmp_path):
    path = TheDump("printf 'a\\nb'", identifier="tail", output_dir=str(tmp_path))()
    assert _read(path) == b"a\nb"


def test_stderr_lines_go_to_the_log_not_to_the_file(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="flubber.dump")
    dump = TheDump("echo out; echo problem one >&2; echo problem two >&2", identifier="err",
                   output_dir=str(tmp_path))
    path = dump()
    assert _read(path) == b"out\n"
    messages = [record.getMessage() for record in caplog.records]
    assert "dump err stderr: problem one" in messages
    assert "dump err stderr: problem two" in messages
    assert dump.result.stderr_lines == 2 and not dump.result.failed


def test_a_command_that_never_ends_is_captured_until_the_silence_timeout(tmp_path):
    dump = TheDump("echo first; echo second; sleep 600", identifier="endless",
                   output_dir=str(tmp_path), timeout=0.3)
    path = dump()
    assert _read(path) == b"first\nsecond\n"
    assert dump.result.ended == "silence"
    assert not dump.result.failed  # how logcat and dmesg -w are meant to be captured
    assert dump.result.exit_status < 0  # stopped by a signal


def test_children_of_a_stopped_command_are_stopped_too(tmp_path):
    pidfile = tmp_path / "child.pid"
    dump = TheDump("sleep 600 & echo $! > %s; wait" % pidfile, identifier="kids",
                   output_dir=str(tmp_path), timeout=0.3)
    dump()
    child = int(pidfile.read_text())
    for _ in range(250):  # the SIGTERM went to the whole group; wait until it is handled
        if not _alive(child):
            break
        gevent.sleep(0.02)
    assert not _alive(child)


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead
    except FileNotFoundError:
        return False


def test_a_failing_command_is_a_failed_dump_with_its_stderr(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="flubber.dump")
    dump = TheDump("echo partial; echo 'no such thing' >&2; exit 3", identifier="fail",
                   output_dir=str(tmp_path))
    path = dump()
    assert _read(path) == b"partial\n"
    assert dump.result.failed and dump.result.exit_status == 3
    assert "status 3" in dump.result.error and "no such thing" in dump.result.error
    assert any("failed" in record.getMessage() for record in caplog.records)


def test_an_unknown_command_fails_with_status_127(tmp_path):
    dump = TheDump("surely-not-a-command-flubber", identifier="unknown", output_dir=str(tmp_path))
    dump()
    assert dump.result.failed and dump.result.exit_status == 127


def test_a_missing_prefix_program_is_logged_and_the_file_still_exists(tmp_path, caplog):
    dump = TheDump("dmesg", LocalDevice(prefix="no-such-ssh-flubber host"), identifier="noprefix",
                   output_dir=str(tmp_path))
    path = dump()
    assert os.path.exists(path) and _read(path) == b""
    assert dump.result.failed and "cannot start" in dump.result.error
    assert any(record.levelno == logging.ERROR for record in caplog.records)


def test_the_prefix_gets_the_command_as_one_argument(tmp_path):
    device = LocalDevice(prefix=[sys.executable, "-c", "import sys; print(repr(sys.argv[1:]))"])
    path = TheDump("dmesg -k | grep usb", device, identifier="prefixed", output_dir=str(tmp_path))()
    assert _read(path) == b"['dmesg -k | grep usb']\n"


def test_a_deadline_ends_a_command_that_never_goes_quiet(tmp_path, caplog):
    dump = TheDump("while true; do echo tick; sleep 0.01; done", identifier="ticks",
                   output_dir=str(tmp_path), timeout=5, deadline=0.3)
    path = dump()
    assert dump.result.ended == "deadline" and not dump.result.failed
    assert _read(path).startswith(b"tick\n")
    assert "deadline" in caplog.text


def test_a_long_line_without_newline_is_written_in_pieces(tmp_path):
    size = 300 * 1024
    path = TheDump("head -c %d /dev/zero" % size, identifier="zeros", output_dir=str(tmp_path))()
    assert _read(path) == b"\0" * size


def test_binary_and_large_output_arrives_intact(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(os.urandom(3 * 1024 * 1024))
    path = TheDump("cat %s" % source, identifier="copy", output_dir=str(tmp_path / "out"))()
    assert _read(path) == source.read_bytes()


def test_timestamped_names_do_not_overwrite_earlier_runs(tmp_path):
    dump = TheDump("echo run", identifier="stamped", output_dir=str(tmp_path), timestamp=True)
    first = dump()
    second = dump()
    assert first != second
    assert os.path.basename(first).startswith("stamped_") and first.endswith(".txt")
    assert _read(first) == _read(second) == b"run\n"
    assert dump.filename == second


def test_filename_defaults_to_identifier_txt_in_the_output_folder(tmp_path):
    assert TheDump("dmesg -k", output_dir=str(tmp_path)).filename == str(tmp_path / "dmesg_-k.txt")
    assert TheDump("x", identifier="boot", output_dir="out").filename == os.path.join("out", "boot.txt")
    assert TheDump("x", filename="mine.log", output_dir="out").filename == os.path.join("out", "mine.log")
    assert TheDump("x", filename="/abs/mine.log", output_dir="out").filename == "/abs/mine.log"


def test_an_unwritable_output_is_logged_and_the_path_still_returned(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    dump = TheDump("echo hi", identifier="nowhere", output_dir=str(blocker))
    assert dump() == str(blocker / "nowhere.txt")
    assert dump.result.failed and "cannot open" in dump.result.error


@pytest.mark.parametrize("kwargs, message", [
    ({"timeout": 0}, "timeout: must be a positive number of seconds"),
    ({"timeout": "soon"}, "timeout: must be a positive number of seconds"),
    ({"deadline": -1}, "deadline: must be a positive number of seconds"),
    ({"identifier": "a/b"}, "cannot name a file"),
])
def test_bad_arguments_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TheDump("dmesg", **kwargs)


def test_connection_must_be_a_device():
    with pytest.raises(TypeError, match="LocalDevice"):
        TheDump("dmesg", "localhost")


def test_a_session_hands_back_stdout_and_stderr_as_they_arrive():
    with LocalDevice().open("echo out; echo err >&2", timeout=5) as session:
        seen = set()
        while True:
            event = session.read(5)
            assert event is not None
            if event[0] == END:
                break
            seen.add(event)
        assert seen == {(STDOUT, b"out\n"), (STDERR, b"err\n")}
        assert session.read(5) == (END, b"")
    assert session.exit_status == 0


def test_no_descriptor_leaks_after_many_dumps(tmp_path):
    def open_fds():
        return len(os.listdir("/proc/self/fd"))

    TheDump("echo warm-up", identifier="warm", output_dir=str(tmp_path))()
    before = open_fds()
    for n in range(20):
        TheDump("echo %d; echo e >&2" % n, identifier="n", output_dir=str(tmp_path))()
        TheDump("sleep 600", identifier="s", output_dir=str(tmp_path), timeout=0.01)()
        TheDump("x", LocalDevice(prefix="no-such-program-flubber"), identifier="m", output_dir=str(tmp_path))()
    assert open_fds() == before
