"""Where a node's saved state is kept: a JSON file replaced atomically, or a database table.

:class:`StateFile` and :class:`StateDatabase` load, save and set aside the
saved entries of one node; :func:`open_state` picks one from the node
file's ``persist`` section. When they are written is the business of
:class:`~flubber.kvstore.Persister` (:mod:`flubber.kvstore.persist`).
"""
import datetime
import json
import os
import time
import urllib.parse

from flubber.kvstore._exceptions import KVStoreError

__all__ = ["STATE_FORMAT", "StateError", "StateFile", "StateDatabase", "open_state", "default_state_path",
           "format_time"]

#: The ``format`` of a state file this version writes and reads.
STATE_FORMAT = "flubber-state/1"


class StateError(KVStoreError):
    """Raised by a state store whose saved state cannot be read or is damaged
    (not JSON, not a flubber state, an unreadable file, a database that
    refuses); the message names the file or database and what is wrong."""


def format_time(unixtime):
    """``2026-12-01 20:15:03`` (local time) for a unix time, ``?`` for None."""
    if unixtime is None:
        return "?"
    return datetime.datetime.fromtimestamp(unixtime).strftime("%Y-%m-%d %H:%M:%S")


def default_state_path(source, node_name, base_dir=None):
    """The state file of a node file: ``lab.yaml`` -> ``lab.state.json`` in the node file's folder."""
    name = os.path.basename(source) if source and not source.startswith("<") else node_name
    stem = os.path.splitext(name)[0] or node_name
    return os.path.join(base_dir or os.getcwd(), stem + ".state.json")


def _stamp():
    return time.strftime("%Y%m%d-%H%M%S")


def _check_entries(keys, where):
    """Return *keys* (``{name: {"value": ..., "set_at": ...}}``) after checking its shape."""
    if not isinstance(keys, dict):
        raise StateError("%s: 'keys' is not a mapping" % where)
    for name, entry in keys.items():
        if not isinstance(entry, dict) or "value" not in entry:
            raise StateError("%s: the entry of key %r has no value" % (where, name))
    return keys


class StateFile:
    """The state of one node in a JSON file, replaced atomically on every save.

    :param path: the file (its folder must exist when saving).
    """

    def __init__(self, path):
        #: The state file.
        self.path = os.path.abspath(path)

    def describe(self):
        """The file name, for messages."""
        return self.path

    def load(self):
        """Return ``(saved_at, {name: entry})``, or None when there is no state yet.

        :raises StateError: the file cannot be read, is not JSON or not a flubber state.
        """
        try:
            with open(self.path, "rb") as handle:
                raw = handle.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError("cannot read the state file %s: %s" % (self.path, exc.strerror or exc)) from exc
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise StateError("the state file %s is damaged: not JSON (%s)" % (self.path, exc)) from exc
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
            raise StateError("the state file %s is damaged: not a %s file" % (self.path, STATE_FORMAT))
        return data.get("saved_at"), _check_entries(data.get("keys"), self.path)

    def save(self, node_name, entries, saved_at):
        """Write the state atomically and durably (temporary file, fsync, rename, fsync of the folder).

        :raises OSError: the disk refuses (the old state is still there).
        """
        data = {"format": STATE_FORMAT, "node": node_name, "saved_at": saved_at, "keys": entries}
        payload = json.dumps(data, indent=1, sort_keys=True, allow_nan=False).encode("utf-8") + b"\n"
        folder = os.path.dirname(self.path)
        temporary = "%s.tmp-%d" % (self.path, os.getpid())
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            _remove(temporary)
            raise
        os.close(fd)
        try:
            os.replace(temporary, self.path)
        except BaseException:
            _remove(temporary)
            raise
        directory = os.open(folder, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def set_aside(self, why):
        """Rename the file to ``<file>.<why>-<time>`` (a damaged state is kept, never deleted); return the new name."""
        target = "%s.%s-%s" % (self.path, why, _stamp())
        try:
            os.replace(self.path, target)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError("cannot move the state file %s aside: %s" % (self.path, exc.strerror or exc)) from exc
        return target


def _remove(path):
    try:
        os.unlink(path)
    except OSError:
        pass


class StateDatabase:
    """The state of one node in the table ``flubber_state`` of an SQLite or MySQL/MariaDB database.

    :param url: ``sqlite:///relative.db``, ``sqlite:////absolute.db`` or
        ``mysql://user:password@host:port/database``.
    :param node_name: the node whose rows are read and written.

    A save replaces the node's rows in one transaction.
    """

    #: The table of saved keys, one row per node and key.
    table = "flubber_state"

    def __init__(self, url, node_name):
        self.url = url
        self.node_name = node_name
        parts = urllib.parse.urlsplit(url)
        self.kind = {"sqlite": "sqlite", "mysql": "mysql", "mariadb": "mysql"}.get(parts.scheme)
        if self.kind is None:
            raise StateError("persist url %r: use sqlite:///FILE or mysql://user:password@host/database" % (url,))
        if self.kind == "sqlite":
            self.path = urllib.parse.unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
            if not self.path:
                raise StateError("persist url %r names no file: write sqlite:///state.db" % (url,))
        else:
            self.params = {"host": parts.hostname or "127.0.0.1", "port": parts.port or 3306,
                           "user": urllib.parse.unquote(parts.username or ""),
                           "password": urllib.parse.unquote(parts.password or ""),
                           "database": parts.path.lstrip("/") or "cinfdata", "connect_timeout": 10}

    def describe(self):
        """The URL without its password, for messages."""
        parts = urllib.parse.urlsplit(self.url)
        if parts.password:
            netloc = parts.netloc.replace(":" + parts.password + "@", "@")
            return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
        return self.url

    def _connect(self):
        if self.kind == "sqlite":
            import sqlite3

            connection = sqlite3.connect(self.path, timeout=10)
            connection.execute("PRAGMA synchronous=FULL")
            return connection, "?"
        import MySQLdb

        return MySQLdb.connect(**self.params), "%s"

    def _create(self, cursor):
        cursor.execute("CREATE TABLE IF NOT EXISTS %s (node VARCHAR(191) NOT NULL, name VARCHAR(191) NOT NULL, "
                       "entry TEXT NOT NULL, saved_at DOUBLE NOT NULL, PRIMARY KEY (node, name))" % self.table)

    def load(self):
        """Return ``(saved_at, {name: entry})``, or None when the node has no saved row.

        :raises StateError: the database cannot be read or a row is damaged.
        """
        try:
            connection, mark = self._connect()
            try:
                cursor = connection.cursor()
                self._create(cursor)
                cursor.execute("SELECT name, entry, saved_at FROM %s WHERE node = %s" % (self.table, mark),
                               (self.node_name,))
                rows = cursor.fetchall()
                connection.commit()
            finally:
                connection.close()
        except StateError:
            raise
        except Exception as exc:  # sqlite3 and MySQLdb errors alike
            raise StateError("cannot read the saved state from %s: %s" % (self.describe(), exc)) from exc
        if not rows:
            return None
        keys = {}
        for name, entry, _saved_at in rows:
            try:
                keys[name] = json.loads(entry)
            except ValueError as exc:
                raise StateError("the saved state in %s is damaged: key %r is not JSON (%s)"
                                 % (self.describe(), name, exc)) from exc
        return max(row[2] for row in rows), _check_entries(keys, self.describe())

    def save(self, node_name, entries, saved_at):
        """Replace the node's rows in one transaction."""
        connection, mark = self._connect()
        try:
            cursor = connection.cursor()
            self._create(cursor)
            cursor.execute("DELETE FROM %s WHERE node = %s" % (self.table, mark), (self.node_name,))
            cursor.executemany("INSERT INTO %s (node, name, entry, saved_at) VALUES (%s, %s, %s, %s)"
                               % (self.table, mark, mark, mark, mark),
                               [(self.node_name, name, json.dumps(entry, allow_nan=False), saved_at)
                                for name, entry in entries.items()])
            connection.commit()
        finally:
            connection.close()

    def set_aside(self, why):
        """Move the node's rows to the node name ``<node>.<why>-<time>``; return that name."""
        target = "%s.%s-%s" % (self.node_name, why, _stamp())
        try:
            connection, mark = self._connect()
            try:
                cursor = connection.cursor()
                self._create(cursor)
                cursor.execute("UPDATE %s SET node = %s WHERE node = %s" % (self.table, mark, mark),
                               (target, self.node_name))
                connection.commit()
            finally:
                connection.close()
        except Exception as exc:
            raise StateError("cannot move the saved state in %s aside: %s" % (self.describe(), exc)) from exc
        return "%s (node %s)" % (self.describe(), target)


def open_state(settings, node_name):
    """Return the state store of a node file's ``persist`` *settings* (``{"path": ...}`` or ``{"url": ...}``)."""
    if settings.get("url"):
        return StateDatabase(settings["url"], node_name)
    return StateFile(settings["path"])
