"""Run ``flubber`` and the examples as a user does, in a child process, and stop them with Ctrl-C."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest

#: The checkout these tests run from; children import flubber from it.
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: The examples folder.
EXAMPLES = os.path.join(REPO, "examples")


def child_env(path=()):
    """Environment for a child Python that imports flubber from this checkout (and the folders *path*), unbuffered."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([REPO, *map(str, path), env.get("PYTHONPATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    return env


def flubber(*args, timeout=60, cwd=None):
    """Run ``flubber ARGS`` in a child process; return the CompletedProcess (text output)."""
    return subprocess.run([sys.executable, "-m", "flubber", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=child_env())


#: Every child :func:`spawn` started; the ``tests/conftest.py`` fixture ends those a test left running.
CHILDREN = []


def spawn(*argv, cwd=None, stdin=subprocess.DEVNULL, path=()):
    """Start ``python ARGV`` (a script or ``-m flubber ...``) with text pipes for its output; return the Popen.

    *stdin* is ``subprocess.PIPE`` for a child that reads what the test types; *path* adds import folders.
    A child still running when its test ends (a failed assertion, the test's timeout) is killed then.
    """
    process = subprocess.Popen([sys.executable, *argv], stdin=stdin, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=cwd, env=child_env(path))
    CHILDREN.append(process)
    return process


def end_children(since):
    """Kill the children started after the first *since* of :data:`CHILDREN` that still run; forget them."""
    left = CHILDREN[since:]
    del CHILDREN[since:]
    for process in left:
        if process.poll() is None:
            process.kill()
            process.communicate()


def wait_for_line(process, pattern, stream="stdout", limit=200, seconds=60):
    """Read *process*'s *stream* line by line until one matches *pattern*; return (match, lines read).

    Bounded by *limit* lines and *seconds* (a child that prints nothing more is ended by the test's
    timeout); fails the test (with what was read) otherwise.
    """
    lines = []
    handle = getattr(process, stream)
    deadline = time.monotonic() + seconds
    while len(lines) < limit and time.monotonic() < deadline:
        line = handle.readline()
        if not line:
            break
        lines.append(line)
        match = re.search(pattern, line)
        if match:
            return match, lines
    pytest.fail("no line matching %r in:\n%s" % (pattern, "".join(lines)))


def interrupt(process, timeout=30):
    """Send SIGINT (Ctrl-C) to *process*; return (exit status, the rest of stdout, stderr).

    The child's stdin stays open until it exited, so the Ctrl-C, not an end of input, ends it.
    """
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout)
    finally:
        if process.poll() is None:
            process.kill()
        out, err = process.communicate()
    return process.returncode, out, err


def assert_stopped_cleanly(status, out, err, summary):
    """Assert a Ctrl-C ended a child the way users expect: exit 130, no traceback, *summary* (a regex) said."""
    assert status == 130, "exit status %r\nstdout:\n%s\nstderr:\n%s" % (status, out, err)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert re.search(summary, out + err, re.MULTILINE), "no %r in\nstdout:\n%s\nstderr:\n%s" % (summary, out, err)


def serve(node_file, *options, cwd=None, path=(), status=False):
    """Start ``flubber serve NODE_FILE --tcp 127.0.0.1:0 --no-status OPTIONS``; return (Popen, TCP port, banner).

    With *status*, without ``--no-status``: the node prints a status line every ``--status-interval``.
    Returns once the banner named the TCP port and what the node runs (up to "try from another
    terminal:"); the caller stops the process (:func:`interrupt`).
    """
    process = spawn("-m", "flubber", "serve", str(node_file), "--tcp", "127.0.0.1:0",
                    *(() if status else ("--no-status",)), *options, cwd=cwd, path=path)
    try:
        match, banner = wait_for_line(process, r"dripline over TCP on 127\.0\.0\.1:(\d+)")
        banner += wait_for_line(process, r"^try from another terminal:")[1]  # the rest of what the node says
    except BaseException:
        process.kill()
        process.communicate()
        raise
    return process, int(match.group(1)), banner
