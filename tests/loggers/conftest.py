"""Fixtures for flubber.loggers: the real MariaDB (database ``test``) and SQLite files.

Every MariaDB test gets its own table ``dateplots_flubber_t_<random>`` and
codenames, dropped (and their description rows deleted) afterwards, so the
tests can share the server with anything else.
"""
import sqlite3
import uuid

import gevent
import pytest

from flubber.loggers import create_tables

MYSQL_HOST = "127.0.0.1"
MYSQL_PORT = 3306
MYSQL_URL = "mysql://root:@127.0.0.1:3306/test"

LEGACY_TABLE = (  # the cinfdata layout as PyExpLabSys knows it
    "CREATE TABLE `{table}` (`id` INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, "
    "`time` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, `type` SMALLINT UNSIGNED NOT NULL, "
    "`value` DOUBLE NULL) ENGINE=InnoDB")
DATETIME_TABLE = (
    "CREATE TABLE `{table}` (`id` INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, "
    "`time` DATETIME(6) NOT NULL, `type` SMALLINT UNSIGNED NOT NULL, `value` DOUBLE NULL) ENGINE=InnoDB")


class Database:
    """The test's own connection to MariaDB (autocommit); calls run in the
    thread pool so the hub (and the logger under test) keeps running."""

    def __init__(self):
        import MySQLdb
        self.conn = MySQLdb.connect(host=MYSQL_HOST, port=MYSQL_PORT, user="root", password="",
                                    database="test", autocommit=True)

    def _run(self, sql, args):
        cursor = self.conn.cursor()
        try:
            cursor.execute(sql, args)
            return cursor.fetchall()
        finally:
            cursor.close()

    def query(self, sql, args=None):
        """Run *sql* and return its rows."""
        return gevent.get_hub().threadpool.apply(self._run, (sql, args))

    def scalar(self, sql, args=None):
        """Run *sql* and return the first column of its first row."""
        return self.query(sql, args)[0][0]

    def close(self):
        self.conn.close()


class MySQLSetup:
    """A unique data table and codenames in the ``test`` database."""

    def __init__(self, db):
        self.db = db
        name = "flubber_t_" + uuid.uuid4().hex[:10]
        self.table = "dateplots_" + name
        self.codenames = [name + "_a", name + "_b"]
        self.url = MYSQL_URL

    def create(self, layout="flubber"):
        """Create the table: ``flubber`` (create_tables), ``legacy`` (cinfdata
        as PyExpLabSys has it) or ``datetime`` (a DATETIME time column)."""
        if layout == "legacy":
            self.db.query(LEGACY_TABLE.format(table=self.table))
        elif layout == "datetime":
            self.db.query(DATETIME_TABLE.format(table=self.table))
        return create_tables(self.table, self.codenames, url=self.url)

    def count(self):
        return self.db.scalar("SELECT COUNT(*) FROM `%s`" % self.table)

    def values(self):
        """The stored values in insertion (id) order."""
        return [row[0] for row in self.db.query("SELECT `value` FROM `%s` ORDER BY `id`" % self.table)]

    def drop(self):
        self.db.query("DROP TABLE IF EXISTS `%s`" % self.table)
        try:
            self.db.query("DELETE FROM `dateplots_descriptions` WHERE `codename` IN (%s, %s)",
                          tuple(self.codenames))
        except Exception:  # the descriptions table was never made
            pass


@pytest.fixture
def db(mariadb_available):
    """A connection to MariaDB's ``test`` database (skips loudly without MariaDB)."""
    database = Database()
    yield database
    database.close()


@pytest.fixture
def mysql_setup(db):
    """An unused table name and codenames; dropped after the test."""
    setup = MySQLSetup(db)
    yield setup
    setup.drop()


class SQLiteSetup:
    """A fresh SQLite file with a dateplots table and two codenames."""

    def __init__(self, path):
        self.path = str(path)
        self.url = "sqlite:///" + self.path
        self.table = "dateplots_test"
        self.codenames = ["test_a", "test_b"]

    def create(self):
        return create_tables(self.table, self.codenames, url=self.url)

    def query(self, sql, args=()):
        conn = sqlite3.connect(self.path)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def count(self):
        return self.query("SELECT COUNT(*) FROM %s" % self.table)[0][0]

    def values(self):
        return [row[0] for row in self.query("SELECT value FROM %s ORDER BY id" % self.table)]


@pytest.fixture
def sqlite_setup(tmp_path):
    """A fresh SQLite database file with the tables made."""
    setup = SQLiteSetup(tmp_path / "data.sqlite3")
    setup.create()
    return setup


class Ticker:
    """A greenlet that counts how often it got to run (every *interval* s)."""

    def __init__(self, interval=0.005):
        self.ticks = 0
        self._greenlet = gevent.spawn(self._run, interval)

    def _run(self, interval):
        while True:
            gevent.sleep(interval)
            self.ticks += 1

    def wait_ticks(self, count, timeout=30.0):
        """Block until *count* more ticks happened (safety *timeout*)."""
        target = self.ticks + count
        with gevent.Timeout(timeout):
            while self.ticks < target:
                gevent.sleep(0.005)

    def stop(self):
        self._greenlet.kill()


def wait_for(predicate, timeout=30.0, interval=0.01):
    """Poll *predicate* cooperatively until it is true (gevent.Timeout after *timeout*)."""
    with gevent.Timeout(timeout):
        while not predicate():
            gevent.sleep(interval)
