"""Every subcommand's help works, lists every option with an example; python -m flubber works."""
import subprocess
import sys

import pytest

from flubber.cli import build_parser, main

pytestmark = pytest.mark.timeout(60)


def _subparsers():
    parser = build_parser()
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return action.choices


@pytest.mark.parametrize("name", sorted(_subparsers()))
def test_each_subcommand_help_renders_and_every_option_has_an_example(name, capsys):
    parser = _subparsers()[name]
    with pytest.raises(SystemExit) as info:
        main([name, "--help"])
    assert info.value.code == 0
    assert "usage: flubber %s" % name in capsys.readouterr().out
    for action in parser._actions:
        if action.dest == "help" or action.help is None:
            continue
        assert "example" in action.help, "flubber %s %s: help has no example" % (name, action.option_strings or
                                                                                 action.dest)


def test_python_dash_m_flubber_prints_help():
    result = subprocess.run([sys.executable, "-m", "flubber", "--help"], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0
    for command in ("serve", "pull", "get", "set", "cmd", "plot", "dump"):
        assert command in result.stdout


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage: flubber" in capsys.readouterr().out
