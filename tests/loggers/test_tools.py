"""The example script, the ``flubber db`` command line and the benchmark's smoke run."""
import json
import os
import sqlite3
import subprocess
import sys

import pytest

from flubber.cli import main as flubber_main
from flubber.loggers import ContinuousLogger

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
EXAMPLE = os.path.join(REPO, "examples", "log_measurement.py")

pytestmark = pytest.mark.timeout(110)


def _run(*args, cwd=REPO, timeout=60):
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_example_logs_into_the_embedded_sqlite_default(tmp_path):
    result = _run(EXAMPLE, "--duration", "0.5", "--rate", "40", cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "logging to sqlite:///cinfdata.sqlite3" in result.stdout
    conn = sqlite3.connect(str(tmp_path / "cinfdata.sqlite3"))
    rows = conn.execute("SELECT d.codename, COUNT(*) FROM dateplots_dummy t JOIN dateplots_descriptions d "
                        "ON d.id = t.type GROUP BY d.codename ORDER BY d.codename").fetchall()
    assert [row[0] for row in rows] == ["dummy_sine_one", "dummy_temperature"]
    written = int(result.stdout.split("done: ")[1].split()[0])
    assert sum(row[1] for row in rows) == written > 10


def test_example_logs_into_mariadb_given_a_url(mysql_setup):
    result = _run(EXAMPLE, "--url", mysql_setup.url, "--table", mysql_setup.table, "--duration", "0.5",
                  "--rate", "40")
    assert result.returncode == 0, result.stderr
    try:
        assert mysql_setup.count() > 10
    finally:
        mysql_setup.db.query("DELETE FROM `dateplots_descriptions` WHERE `codename` IN "
                             "('dummy_sine_one', 'dummy_temperature') AND NOT EXISTS (SELECT 1 FROM "
                             "information_schema.TABLES WHERE TABLE_SCHEMA = 'test' AND TABLE_NAME = "
                             "'dateplots_dummy')")


def test_cli_create_tables_prints_type_ids(tmp_path, capsys):
    url = "sqlite:///%s" % (tmp_path / "lab.sqlite3")
    assert flubber_main(["db", "create-tables", "dateplots_oven", "oven_t1", "oven_t2=Oven, zone 2",
                         "--url", url]) == 0
    assert capsys.readouterr().out == "oven_t1 1\noven_t2 2\n"
    conn = sqlite3.connect(str(tmp_path / "lab.sqlite3"))
    assert conn.execute("SELECT description FROM dateplots_descriptions WHERE id = 2").fetchone() == ("Oven, zone 2",)


def test_cli_spool_and_drain_send_what_a_stopped_logger_left(sqlite_setup, tmp_path, capsys):
    spool = str(tmp_path / "left.spool")
    lock = sqlite3.connect(sqlite_setup.path, isolation_level=None, check_same_thread=False)
    lock.execute("BEGIN EXCLUSIVE")
    logger = ContinuousLogger(sqlite_setup.table, None, None, sqlite_setup.codenames, url=sqlite_setup.url,
                              spool=spool).start()
    for i in range(5):
        logger.enqueue_point(sqlite_setup.codenames[0], (1.7e9 + i, float(i)))
    assert logger.stop(timeout=0.1) == 5
    lock.rollback()
    lock.close()
    assert flubber_main(["db", "spool", spool]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["queued"] == 5 and info["first"] == [sqlite_setup.codenames[0], 1.7e9, 0.0]
    assert flubber_main(["db", "drain", spool]) == 0
    assert "sent 5 points" in capsys.readouterr().out
    assert sqlite_setup.values() == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_cli_reports_a_missing_spool(tmp_path, capsys):
    assert flubber_main(["db", "spool", str(tmp_path / "none.spool")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_benchmark_quick_mode_runs(mariadb_available):
    result = _run(os.path.join(REPO, "bench", "run.py"), "loggers", "--quick", timeout=100)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for label in ("ContinuousLogger -> MariaDB", "raw executemany, 1,000-row batches",
                  "INSERT + COMMIT per point (PyExpLabSys)", "Three outages in one run", "Bars:"):
        assert label in out
    assert "[met] zero lost, zero duplicated across three outages" in out
