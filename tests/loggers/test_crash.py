"""A logging process with a spool is killed with SIGKILL mid-run; a new
process on the same spool sends the rest: every spooled point stored once, in order."""
import os
import signal
import subprocess
import sys

import pytest

from tests.loggers.conftest import wait_for

pytestmark = pytest.mark.slow

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CHILD = os.path.join(HERE, "spool_child.py")
COUNT = 20000


def _child(*args):
    return [sys.executable, CHILD, *map(str, args)]


@pytest.fixture(params=["mariadb", "mariadb-legacy", "sqlite"])
def target(request):
    """(url, table, codename, count(), values()) of a fresh table."""
    if request.param == "sqlite":
        setup = request.getfixturevalue("sqlite_setup")
    else:
        setup = request.getfixturevalue("mysql_setup")
        setup.create(layout="legacy" if request.param.endswith("legacy") else "flubber")
    return setup


def test_sigkilled_logger_with_spool_restarts_and_completes(target, tmp_path):
    spool = tmp_path / "crash.spool"
    progress = tmp_path / "progress"
    codename = target.codenames[0]
    child = subprocess.Popen(_child("produce", target.url, target.table, codename, spool, COUNT, progress),
                             cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: child.poll() is not None or target.count() >= 3000, timeout=60, interval=0.002)
        assert child.poll() is None, "the child ended before the kill: %s" % child.stderr.read().decode()
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()
    lines = progress.read_text().split()
    spooled = int(lines[-1]) if lines else 0
    stored_at_kill = target.count()
    assert stored_at_kill < COUNT, "the kill came too late to test anything"

    drain = subprocess.run(_child("drain", target.url, target.table, codename, spool),
                           cwd=REPO, capture_output=True, timeout=90)
    assert drain.returncode == 0, drain.stderr.decode()[-3000:]
    assert b"remaining 0" in drain.stdout

    values = target.values()
    assert len(values) >= max(spooled, stored_at_kill), \
        "spooled %d, stored %d at the kill, %d now" % (spooled, stored_at_kill, len(values))
    assert len(set(values)) == len(values), "%d duplicates" % (len(values) - len(set(values)))
    assert values == [float(i) for i in range(len(values))], "points lost or out of order"
