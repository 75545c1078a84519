"""DumpConfiguration: the INI file, its defaults and its errors."""
import os
import textwrap

import pytest

from flubber.dump import (
    DumpConfiguration,
    DumpConfigurationError,
    DumpConstants,
    LocalDevice,
    SerialDevice,
    TCPDevice,
    TheDump,
    make_device,
)

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def _config(text):
    return DumpConfiguration.from_string(textwrap.dedent(text), filename="lab.ini")


def _error(text):
    with pytest.raises(DumpConfigurationError) as info:
        _config(text)
    message = str(info.value)
    assert message.startswith("lab.ini"), message
    return message


def test_timeout_and_commands_in_file_order(tmp_path):
    path = tmp_path / "lab.ini"
    path.write_text("[dump]\ntimeout = 2.5\ndmesg = dmesg -k\nLogCat = logcat -d\n")
    config = DumpConfiguration(str(path))
    assert config.timeout == 2.5
    assert config.commands == {"dmesg": "dmesg -k", "LogCat": "logcat -d"}
    assert list(config.commands) == ["dmesg", "LogCat"]
    assert isinstance(config.device, LocalDevice)
    assert config.filename == str(path)


def test_defaults_follow_the_constants():
    config = _config("[dump]\ndmesg = dmesg\n")
    assert config.timeout == DumpConstants.default_timeout == 5
    assert (config.deadline, config.output_dir, config.timestamp) == (None, ".", False)


def test_a_missing_section_means_no_dumps():
    config = _config("[other]\nx = 1\n")
    assert config.commands == {} and config.dumps() == []


@pytest.mark.parametrize("section, meant", [("dmp", "dump"), ("Dump", "dump"), ("devices", "device"),
                                            ("dump_option", "dump_options")])
def test_a_misspelt_section_is_an_error_that_suggests_the_closest(section, meant):
    with pytest.raises(DumpConfigurationError) as info:
        DumpConfiguration.from_string("[%s]\ntimeout = 1\nx = ls\n" % section, "lab.ini")
    assert str(info.value) == ("lab.ini: [%s]: unknown section; did you mean %r?; a dump file has the "
                               "sections [dump], [device], [dump_options]" % (section, meant))


def test_sections_of_another_program_sharing_the_file_are_left_alone():
    config = DumpConfiguration.from_string("[camera]\nfps = 5\n[dump]\nx = ls\n", "app.ini")
    assert config.commands == {"x": "ls"}
    assert config.sections == ["camera", "dump"]


def test_an_empty_file_means_no_dumps():
    assert _config("").commands == {}


@pytest.mark.parametrize("value", ["0", "-1", "soon", "inf", "nan", ""])
def test_a_timeout_that_is_not_a_positive_number_names_the_file(value):
    message = _error("[dump]\ntimeout = %s\ndmesg = dmesg\n" % value)
    assert "[dump] timeout" in message and "positive number" in message


def test_percent_signs_and_hashes_stay_in_commands():
    config = _config("[dump]\nstamp = date +%s # not a comment\n")
    assert config.commands["stamp"] == "date +%s # not a comment"


def test_a_default_section_does_not_add_commands():
    config = _config("[DEFAULT]\nx = 1\n[dump]\ndmesg = dmesg\n")
    assert config.commands == {"dmesg": "dmesg"}


def test_a_missing_file_is_a_clear_error(tmp_path):
    missing = str(tmp_path / "nope.ini")
    with pytest.raises(DumpConfigurationError, match="cannot read the dump configuration .*nope.ini"):
        DumpConfiguration(missing)


@pytest.mark.parametrize("text, expected", [
    ("dmesg = dmesg\n", "not a valid INI file"),
    ("[dump]\ndmesg = a\ndmesg = b\n", "not a valid INI file"),
    ("[dump]\ndmesg =\n", "the command is empty"),
    ("[dump]\na/b = dmesg\n", "cannot name a file"),
    ("[dump]\njust a line\n", "not a valid INI file"),
])
def test_bad_dump_sections_are_clear_errors(text, expected):
    assert expected in _error(text)


def test_device_section_picks_a_tcp_device():
    config = _config("""
        [dump]
        dmesg = dmesg
        [device]
        kind = tcp
        host = 10.0.0.5
        port = 2323
        prompt = ^\\S+> $
        line_ending = \\r\\n
        strip_echo = no
        connect_timeout = 1.5
    """)
    device = config.device
    assert isinstance(device, TCPDevice)
    assert (device.host, device.port, device.prompt) == ("10.0.0.5", 2323, r"^\S+> $")
    assert (device.line_ending, device.strip_echo, device.connect_timeout) == ("\r\n", False, 1.5)


def test_device_section_picks_a_serial_or_a_prefixed_local_device():
    serial = _config("[device]\nkind = serial\nurl = /dev/ttyUSB0\nbaudrate = 115200\n").device
    assert isinstance(serial, SerialDevice) and (serial.url, serial.baudrate) == ("/dev/ttyUSB0", 115200)
    local = _config("[device]\nkind = local\nprefix = ssh -p 2222 lab-pc\n").device
    assert local.argv("dmesg -k") == ["ssh", "-p", "2222", "lab-pc", "dmesg -k"]


@pytest.mark.parametrize("text, expected", [
    ("kind = usb\n", "kind must be one of local, tcp, serial"),
    ("kind = tcp\nhost = x\n", "needs port"),
    ("kind = tcp\nport = 23\n", "needs host"),
    ("kind = tcp\nhost = x\nport = 70000\n", "must be a port from 1 to 65535"),
    ("kind = tcp\nhost = x\nport = telnet\n", "must be a port from 1 to 65535"),
    ("kind = tcp\nhost = x\nport = 23\nprompt = (\n", "not a valid regular expression"),
    ("kind = tcp\nhost = x\nport = 23\nstrip_echo = maybe\n", "yes or no"),
    ("kind = tcp\nhost = x\nport = 23\nbaudrate = 9600\n", "unknown option baudrate"),
    ("kind = serial\n", "needs url"),
    ("kind = serial\nurl = /dev/ttyS0\nbaudrate = fast\n", "positive whole number"),
    ("kind = local\nhost = x\n", "unknown option host"),
])
def test_bad_device_sections_are_clear_errors(text, expected):
    message = _error("[device]\n" + text)
    assert "[device]" in message and expected in message


def test_dump_options_section():
    config = _config("[dump]\nx = echo\n[dump_options]\ndeadline = 30\noutput_dir = out\ntimestamp = yes\n")
    assert (config.deadline, config.output_dir, config.timestamp) == (30.0, "out", True)
    (dump,) = config.dumps()
    assert (dump.deadline, dump.output_dir, dump.timestamp, dump.identifier) == (30.0, "out", True, "x")


@pytest.mark.parametrize("text, expected", [
    ("deadline = 0\n", "[dump_options] deadline: must be a positive number"),
    ("timestamp = often\n", "[dump_options] timestamp: must be yes or no"),
    ("output_dir =\n", "[dump_options] output_dir: must name a folder"),
    ("colour = red\n", "[dump_options] colour: unknown option"),
])
def test_bad_dump_options_are_clear_errors(text, expected):
    assert expected in _error("[dump_options]\n" + text)


def test_dumps_share_the_device_and_take_overrides():
    config = _config("[dump]\ntimeout = 3\na = echo a\nb = echo b\n")
    dumps = config.dumps(output_dir="elsewhere", timestamp=True, deadline=9, timeout=1)
    assert [dump.identifier for dump in dumps] == ["a", "b"]
    assert all(isinstance(dump, TheDump) for dump in dumps)
    assert dumps[0].connection is dumps[1].connection is config.device
    assert (dumps[0].output_dir, dumps[0].timestamp, dumps[0].deadline, dumps[0].timeout) == (
        "elsewhere", True, 9, 1)


def test_the_commented_example_is_valid_and_configures_nothing():
    assert _config(DumpConstants.example).commands == {}


def test_the_example_uncommented_gives_the_dmesg_dump():
    lines = [line[1:].strip() if line.startswith("#[") or line.startswith("# dump =") else line
             for line in DumpConstants.example.splitlines()]
    config = _config("\n".join(lines))
    assert config.commands == {"dump": "dmesg -k"}


def test_the_example_ini_file_is_valid():
    config = DumpConfiguration(os.path.join(EXAMPLES, "dump.ini"))
    assert {"uname", "meminfo", "ticks"} <= set(config.commands)
    assert isinstance(config.device, LocalDevice) and config.deadline == 30


def test_make_device_defaults_to_local_and_refuses_unknown_kinds():
    assert isinstance(make_device(), LocalDevice)
    assert isinstance(make_device({"kind": "TCP", "host": "h", "port": "23"}), TCPDevice)
    with pytest.raises(ValueError, match="kind must be one of"):
        make_device({"kind": "gpib"})
