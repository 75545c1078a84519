"""Every ``flubber ...`` example in the help is a command line the parser accepts as written."""
import re
import shlex

import pytest

from flubber.cli import build_parser


def _subparsers():
    parser = build_parser()
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return parser, action.choices


def _examples():
    """Yield (where, command line) for every example in an epilog or option help that starts with flubber."""
    _, commands = _subparsers()
    for name, sub in sorted(commands.items()):
        epilog = (sub.epilog or "").replace("%%", "%")
        if "examples:" in epilog:  # "a | b | c" on one line, or one per line with a comment after 2 spaces
            for example in re.split(r" \| |\n", epilog.split("examples:", 1)[1]):
                example = re.split(r"\s{2,}", example.strip())[0]
                if example.startswith("flubber "):
                    yield "flubber %s epilog" % name, example
        for action in sub._actions:
            match = re.search(r"example: (flubber .*)$", (action.help or "").replace("%%", "%"))
            if match:
                yield "flubber %s %s" % (name, "/".join(action.option_strings) or action.dest), match.group(1)


EXAMPLES = sorted(set(_examples()))


def test_there_are_examples_to_check():
    assert len(EXAMPLES) > 40


@pytest.mark.parametrize("where, example", EXAMPLES, ids=[example for _, example in EXAMPLES])
def test_help_example_parses(where, example):
    parser, _ = _subparsers()
    argv = shlex.split(example)
    assert argv[0] == "flubber"
    try:
        parser.parse_args(argv[1:])
    except SystemExit:
        pytest.fail("%s: the example %r is not a valid command line" % (where, example))
