"""``flubber dump CONFIG.ini``: plain lines off a terminal, a live table on one, the exit status."""
import io
import os
import subprocess
import sys
import textwrap

import pytest

from flubber.cli import build_parser, main

pytestmark = pytest.mark.timeout(60)

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def _ini(tmp_path, text):
    path = tmp_path / "lab.ini"
    path.write_text(textwrap.dedent(text))
    return str(path)


GOOD = """
    [dump]
    timeout = 2
    hello = echo hello
    two = printf 'a\\nb\\n'
"""


def test_plain_lines_and_exit_status_zero_when_all_succeed(tmp_path, capsys):
    out = tmp_path / "out"
    status = main(["dump", _ini(tmp_path, GOOD), "--output-dir", str(out), "--progress", "plain"])
    printed = capsys.readouterr().out
    assert status == 0
    assert (out / "hello.txt").read_text() == "hello\n"
    assert (out / "two.txt").read_text() == "a\nb\n"
    assert "dump hello: started" in printed and "dump two: done" in printed
    assert "2 dumps: 2 done, 0 failed" in printed


def test_exit_status_one_when_a_dump_fails(tmp_path, capsys):
    ini = _ini(tmp_path, GOOD + "    bad = echo oops >&2; exit 5\n")
    status = main(["dump", ini, "--output-dir", str(tmp_path), "--progress", "plain"])
    printed = capsys.readouterr().out
    assert status == 1
    assert "dump bad: FAILED" in printed and "status 5" in printed
    assert "3 dumps: 2 done, 1 failed" in printed


def test_exit_status_two_and_the_file_named_for_a_bad_configuration(tmp_path, capsys):
    ini = _ini(tmp_path, "[dump]\ntimeout = never\nx = echo\n")
    assert main(["dump", ini]) == 2
    error = capsys.readouterr().err
    assert "lab.ini" in error and "timeout" in error and "positive number" in error


def test_no_dump_section_is_not_an_error(tmp_path, capsys):
    assert main(["dump", _ini(tmp_path, "[other]\n")]) == 0
    assert "no dumps configured" in capsys.readouterr().out


def test_command_line_options_override_the_file(tmp_path, capsys):
    ini = _ini(tmp_path, "[dump]\nendless = echo start; sleep 600\n")
    status = main(["dump", ini, "--output-dir", str(tmp_path), "--timeout", "0.2", "--timestamp",
                   "--max-concurrent", "1", "--progress", "plain"])
    assert status == 0
    (name,) = [name for name in os.listdir(tmp_path) if name.startswith("endless_")]
    assert (tmp_path / name).read_text() == "start\n"
    assert "(silence)" in capsys.readouterr().out


def test_the_live_table_shows_every_dump_and_its_state(tmp_path):
    from rich.console import Console

    from flubber.cli import dump as dump_cli
    from flubber.dump import DumpConfiguration

    out = io.StringIO()
    dumps = DumpConfiguration(_ini(tmp_path, GOOD + "    bad = exit 1\n")).dumps(output_dir=str(tmp_path))
    dump_cli._run_with_table(dumps, None, out, console=Console(file=out, force_terminal=True, width=100))
    shown = out.getvalue()
    for identifier in ("hello", "two", "bad"):
        assert identifier in shown
    assert "done" in shown and "failed" in shown


def test_rich_progress_is_chosen_with_progress_rich(tmp_path):
    args = build_parser().parse_args(["dump", _ini(tmp_path, GOOD), "--output-dir", str(tmp_path),
                                      "--progress", "rich"])
    out = io.StringIO()
    assert args.func(args, out=out) == 0
    assert "2 dumps: 2 done, 0 failed" in out.getvalue()


def test_help_lists_every_option_with_an_example():
    text = build_parser()._subparsers._group_actions[0].choices["dump"].format_help()
    for option in ("--output-dir", "--timestamp", "--timeout", "--deadline", "--max-concurrent", "--progress"):
        assert option in text
    assert text.count("example:") >= 7


def test_the_example_ini_runs_from_the_real_command_line(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "flubber", "dump", os.path.join(ROOT, "examples", "dump.ini"),
         "--output-dir", str(tmp_path), "--timeout", "0.5"],
        capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 dumps: 4 done, 0 failed" in done.stdout
    assert (tmp_path / "ticks.txt").read_text() == "tick 1\ntick 2\ntick 3\n"


def test_the_demo_script_dumps_three_devices(tmp_path):
    done = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "dump_demo.py"),
                           "--output-dir", str(tmp_path)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "console.txt").read_text() == "booting\nready\n"
    status = (tmp_path / "scope-status.txt").read_text()
    assert status.startswith("channel 1: 1.007 V") and "scope>" not in status
