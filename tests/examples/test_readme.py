"""The README's example commands name the virtual environment's Python and scripts that exist."""
import os
import re
import subprocess
import sys

import pytest

from tests.processes import REPO, child_env

pytestmark = pytest.mark.timeout(120)

with open(os.path.join(REPO, "README.md")) as _handle:
    README = _handle.read()

SCRIPTS = sorted(set(re.findall(r"\.venv/bin/python (examples/\w+\.py)", README)))


def test_the_readme_never_says_a_bare_python_for_an_example():
    bare = [line for line in README.splitlines() if re.search(r"(?<![/\w])python examples/", line)
            and "activate" not in line]
    assert bare == []


def test_the_readme_gives_the_broker_step_of_the_plain_pika_example():
    section = README[README.index("`examples/kvstore_plain_pika.py`"):]
    assert "rabbitmq-server" in section
    assert "flubber serve examples/kvstore.yaml --broker amqp://guest:guest@127.0.0.1:5672/%2F" in section


@pytest.mark.parametrize("script", SCRIPTS)
def test_each_example_the_readme_names_exists_and_answers_help(script):
    result = subprocess.run([sys.executable, os.path.join(REPO, script), "--help"], capture_output=True,
                            text=True, timeout=60, env=child_env())
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout
