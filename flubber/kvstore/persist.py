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
import json
import logging
import time

import gevent
from gevent.event import Event

from flubber._lifecycle import Service
from flubber._threads import call_in_thread
from flubber.kvstore._exceptions import DriplineError
from flubber.kvstore._state import (
    STATE_FORMAT,
    StateDatabase,
    StateError,
    StateFile,
    default_state_path,
    format_time,
    open_state,
)

__all__ = ["STATE_FORMAT", "StateError", "StateFile", "StateDatabase", "Persister", "open_state",
           "default_state_path", "format_time"]

log = logging.getLogger(__name__)


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
