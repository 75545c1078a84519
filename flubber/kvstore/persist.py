"""Settings that survive a restart: the saved values of ``persist: true`` keys.

A key declared with ``persist: true`` keeps its last set value (and a
calibration set over the network) across a restart of the node::

    persist: {path: lab.state.json}      # or {url: "sqlite:///state.db"} or {url: "mysql://u:pw@host/db"}
    providers:
      - name: kv
        module: kv_store
        endpoints:
          - {name: setpoint, module: kv_store_key, initial_value: 25, persist: true}

Without a ``persist`` section the state file is ``<node file>.state.json``
next to the node file. At start the saved value wins over
``initial_value``; the log and the node's status say which keys were
restored and from when. Lock state is never saved: a restarted node is
unlocked.

How a value is kept (:class:`Persister`):

* after every successful set the key is marked; one writer greenlet saves
  the state of every persisted key, all changes since its last save in one
  write (the last value is always saved). Changes nobody waits for (a
  driver's, a script's ``set_value``) are saved at most every
  :attr:`Persister.min_interval` seconds; a set request is saved by the
  next write at once (after the one under way, if any);
* a file is written to a temporary file in the same folder, flushed with
  ``fsync``, renamed over the old one and the folder synced, so a crash or
  SIGKILL at any moment leaves the old or the new state, never a torn file;
  a database saves in one transaction;
* the writing runs in gevent's thread pool, so the hub never waits for a
  disk; the set request that changed the value waits for the save (at most
  :attr:`Persister.ack_timeout`) before its reply, so a value whose reply
  came is on disk when the disk is healthy;
* a failing disk is logged and shown in the status; the node keeps serving
  and retries;
* a damaged or unreadable state is reported in one line, kept aside
  (``lab.state.json.damaged-20261201-201503``) and the node starts from the
  initial values.
"""
import datetime
import json
import logging
import os
import time
import urllib.parse

import gevent
from gevent.event import Event

from flubber._lifecycle import Service
from flubber._threads import call_in_thread
from flubber.kvstore._exceptions import DriplineError, KVStoreError

__all__ = ["STATE_FORMAT", "StateError", "StateFile", "StateDatabase", "Persister", "open_state",
           "default_state_path", "format_time"]

log = logging.getLogger(__name__)

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


class Persister(Service):
    """Restore the ``persist`` keys of a node at start and save them after every set.

    :param node_name: the node's name (written into the state).
    :param store: a :class:`StateFile` or :class:`StateDatabase`.
    :param keys: the :class:`~flubber.kvstore.KVStoreKey` objects to keep.
    """

    #: Shortest time between two saves of changes nobody waits for, in
    #: seconds: they are coalesced into the next save (at most 5 a second).
    #: A waiting set request starts the next save at once.
    min_interval = 0.2
    #: Longest time a set request waits for its value to be saved before it
    #: replies anyway (a slow or failing disk never holds a request longer).
    ack_timeout = 1.0
    #: Longest pause between two attempts while saving fails.
    max_retry_interval = 5.0

    def __init__(self, node_name, store, keys):
        self.node_name = node_name
        self.store = store
        #: The persisted keys by name.
        self.keys = {key.name: key for key in keys}
        #: ``{name: saved_at}`` of the keys restored by :meth:`restore`.
        self.restored = {}
        #: Notes of :meth:`restore`: saved values ignored, a damaged state set aside.
        self.notes = []
        #: Saves done, and failed attempts.
        self.saves = 0
        self.failures = 0
        #: Unix time of the last save, the last error text (None when the last attempt worked).
        self.last_save_time = None
        self.last_error = None
        self._generation = 0
        self._saved_generation = 0
        self._dirty = Event()
        self._urgent = Event()
        self._waiters = []
        self._writer = None

    # -- restoring ----------------------------------------------------------------------------

    def read(self):
        """Return what a start would do: ``(saved_at, {name: (value or None, saved entry)}, notes)``.

        Nothing is changed. A damaged state raises :class:`StateError`.
        """
        loaded = self.store.load()
        if loaded is None:
            return None, {}, []
        saved_at, entries = loaded
        plan, notes = {}, []
        for name, entry in sorted(entries.items()):
            key = self.keys.get(name)
            if key is None:
                notes.append("the saved value %s of key %r is ignored: the node file has no such key with "
                             "persist: true" % (_shown(entry.get("value")), name))
                continue
            try:
                plan[name] = key.check_restored(entry)
            except DriplineError as exc:
                notes.append("the saved value %s of key %r is ignored: %s; it starts at its initial value"
                             % (_shown(entry.get("value")), name, exc))
        return saved_at, {name: (plan[name], entries[name]) for name in plan}, notes

    def restore(self, reset=False):
        """Set the saved values on the keys (before the node serves); return :attr:`restored`.

        With *reset* the saved state is moved aside and every key starts from
        its initial value. A damaged state is moved aside too, with an error
        in the log; the node then starts from the initial values.
        """
        self.restored, self.notes = {}, []
        if reset:
            moved = self.store.set_aside("reset")
            self.notes.append("--reset-state: every key starts from its initial value%s"
                              % (" (the old state kept as %s)" % moved if moved else ""))
            log.warning("node %s: %s", self.node_name, self.notes[-1])
            return self.restored
        try:
            _saved_at, plan, notes = self.read()
        except StateError as exc:
            try:
                moved = self.store.set_aside("damaged")
            except StateError as error:
                moved = None
                log.error("node %s: %s", self.node_name, error)
            self.notes.append("%s; %sstarting from the initial values" % (
                exc, "kept aside as %s; " % moved if moved else ""))
            log.error("node %s: SAVED STATE NOT RESTORED: %s", self.node_name, self.notes[-1])
            return self.restored
        for note in notes:
            self.notes.append(note)
            log.warning("node %s: %s", self.node_name, note)
        for name, (state, entry) in plan.items():
            self.keys[name].apply_restored(state)
            self.restored[name] = entry.get("set_at")
            log.info("node %s: restored %s = %s (saved %s)", self.node_name, name, _shown(state["value"]),
                     format_time(entry.get("set_at")))
        return self.restored

    # -- saving ------------------------------------------------------------------------------------

    def _start(self):
        for key in self.keys.values():
            key.persister = self
        self._writer = gevent.spawn(self._write_loop)

    def _stop(self, timeout):
        for key in self.keys.values():
            key.persister = None
        if self._generation > self._saved_generation:  # the last sets: saved before the node goes
            self._dirty.set()
            self.wait_saved(self._generation, timeout if timeout is not None else 10.0)
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.kill()
        self._release(saved=False)

    def changed(self, key):
        """Note that *key* changed; return the generation a :meth:`wait_saved` can wait for."""
        self._generation += 1
        self._dirty.set()
        return self._generation

    def wait_saved(self, generation, timeout=None):
        """Wait until the save that includes *generation* is done (at most *timeout* s); True when saved."""
        if self._saved_generation >= generation:
            return True
        if self._writer is None or self.last_error is not None:  # a failing disk holds no request
            return False
        waiter = Event()
        entry = (generation, waiter)
        self._waiters.append(entry)
        self._urgent.set()  # a request waits: no coalescing pause before its save
        try:
            waiter.wait(self.ack_timeout if timeout is None else timeout)
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)
        return self._saved_generation >= generation

    def _release(self, saved=True):
        waiters, self._waiters = self._waiters, []
        for generation, waiter in waiters:
            if not saved or generation <= self._saved_generation:
                waiter.set()
            else:
                self._waiters.append((generation, waiter))

    def snapshot(self):
        """The state to save now: ``{name: entry}`` of every persisted key."""
        return {name: key.persisted_state() for name, key in self.keys.items()}

    def _write_loop(self):
        retry = self.min_interval
        while True:
            self._dirty.wait()
            self._dirty.clear()
            generation = self._generation
            started = time.monotonic()
            try:
                entries = self.snapshot()
                call_in_thread(self.store.save, self.node_name, entries, time.time())
            except Exception as exc:  # the disk or database refuses: report, keep serving, try again
                self.failures += 1
                error = "%s: %s" % (type(exc).__name__, getattr(exc, "strerror", None) or exc)
                if error != self.last_error or self.failures in (10, 100) or self.failures % 1000 == 0:
                    log.error("node %s: cannot save the persisted keys to %s (%s); the node keeps serving "
                              "and tries again (%d failures so far)", self.node_name, self.store.describe(),
                              error, self.failures)
                self.last_error = error
                self._dirty.set()
                self._release(saved=False)  # nobody waits on a failing disk
                gevent.sleep(retry)
                retry = min(retry * 2, self.max_retry_interval)
                continue
            if self.last_error is not None:
                log.warning("node %s: saving the persisted keys to %s works again", self.node_name,
                            self.store.describe())
            self.last_error = None
            retry = self.min_interval
            self.saves += 1
            self.last_save_time = time.time()
            self._saved_generation = max(self._saved_generation, generation)
            self._release()
            pause = self.min_interval - (time.monotonic() - started)
            if pause > 0 and not self._waiters:  # coalesce, unless a request waits for the next save
                self._urgent.clear()
                self._urgent.wait(pause)

    def status(self):
        """A JSON-friendly snapshot: where, which keys, what was restored, saves and the last error."""
        return {
            "where": self.store.describe(),
            "keys": sorted(self.keys),
            "restored": dict(self.restored),
            "notes": list(self.notes),
            "saves": self.saves,
            "failures": self.failures,
            "last_save_time": self.last_save_time,
            "last_error": self.last_error,
            "pending": self._generation > self._saved_generation,
        }


def _shown(value):
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
