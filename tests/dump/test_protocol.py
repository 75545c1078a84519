"""The no-I/O parts of the dump: echo and prompt, identifiers (lines: tests/io/test_lines.py)."""
import pytest

from flubber.dump._protocol import (
    OutputFilter,
    check_identifier,
    compile_prompt,
    identifier_for,
)


def _feed_all(output_filter, pieces):
    return b"".join(output_filter.feed(piece) for piece in pieces)


@pytest.mark.parametrize("pieces", [
    [b"dmesg\r\nline 1\r\nline 2\r\nlab> "],
    [b"dm", b"esg\r\nli", b"ne 1\r\nline 2\r\nla", b"b> "],
    [bytes([byte]) for byte in b"dmesg\r\nline 1\r\nline 2\r\nlab> "],
])
def test_filter_drops_echo_and_prompt_however_the_bytes_arrive(pieces):
    output_filter = OutputFilter(compile_prompt(r"lab> "), echo=b"dmesg")
    out = _feed_all(output_filter, pieces)
    assert output_filter.at_prompt
    assert out + output_filter.confirm_prompt() == b"line 1\r\nline 2\r\n"


def test_filter_keeps_a_prompt_like_line_when_more_output_follows():
    output_filter = OutputFilter(compile_prompt(r"> "))
    out = output_filter.feed(b"a\nvalue > ")
    assert output_filter.at_prompt
    out += output_filter.feed(b"3\nreal> ")
    assert output_filter.at_prompt
    assert out + output_filter.confirm_prompt() == b"a\nvalue > 3\nreal"  # the prompt is "> "


def test_filter_keeps_a_first_line_that_is_not_the_echo():
    output_filter = OutputFilter(None, echo=b"uptime")
    assert output_filter.feed(b"up 3 days\n") == b"up 3 days\n"
    assert output_filter.feed(b"uptime\n") == b"uptime\n"  # only the first line can be the echo


def test_filter_without_prompt_passes_everything_and_finish_returns_the_rest():
    output_filter = OutputFilter(compile_prompt(r"\$ "))
    assert output_filter.feed(b"one\ntwo") == b"one\n"
    assert not output_filter.at_prompt
    assert output_filter.finish() == b"two"


def test_prompt_may_be_anchored_at_a_line_start_and_may_end_in_a_newline():
    anchored = OutputFilter(compile_prompt(r"^\S+@\S+:~\$"))
    assert anchored.feed(b"x\nuser@lab:~$ ") == b""
    assert anchored.at_prompt and anchored.confirm_prompt() == b"x\n"
    ok_line = OutputFilter(compile_prompt(r"^OK\r?\n"))
    ok_line.feed(b"value 3\r\nOK\r\n")
    assert ok_line.at_prompt and ok_line.confirm_prompt() == b"value 3\r\n"


def test_confirm_prompt_needs_a_prompt():
    with pytest.raises(ValueError, match="does not end with the prompt"):
        OutputFilter(compile_prompt(r"> ")).confirm_prompt()


def test_compile_prompt_refuses_a_bad_regex_and_accepts_none():
    assert compile_prompt(None) is None and compile_prompt("") is None
    with pytest.raises(ValueError, match="not a valid regular expression"):
        compile_prompt("[unclosed")


@pytest.mark.parametrize("command, identifier", [
    ("dmesg -k", "dmesg_-k"),
    ("logcat -d -b all", "logcat_-d_-b_all"),
    ("cat /proc/meminfo", "cat_proc_meminfo"),
    ("///", "dump"),
    ("x" * 200, "x" * 80),
])
def test_identifier_for_makes_file_names(command, identifier):
    assert identifier_for(command) == identifier


@pytest.mark.parametrize("bad", ["", " ", "a/b", "..", ".", "nul\0byte", None])
def test_check_identifier_refuses_names_that_cannot_be_files(bad):
    with pytest.raises(ValueError):
        check_identifier(bad)
