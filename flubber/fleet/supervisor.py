"""Run one ``flubber serve`` process per node file and keep them running.

:class:`FleetSupervisor` starts a child process for every ``*.yaml`` of a
folder, writes each child's output to ``logs/NAME.log`` beside them, restarts
a child that exits with capped exponential back-off (the delay resets once a
child has run for a minute) and keeps ``.fleet/state.json`` up to date for
``flubber fleet status``. Stopping the supervisor stops every child
(SIGTERM, then SIGKILL after a grace period).
"""
import json
import logging
import os
import signal
import sys
import time

import gevent
import gevent.subprocess

from flubber._lifecycle import Service

__all__ = ["process_alive", "FleetSupervisor", "NodeProcess", "FleetError", "state_path", "read_state", "node_files"]

log = logging.getLogger(__name__)


class FleetError(Exception):
    """A fleet folder cannot be run or read; the message says what to do."""


def node_files(folder):
    """Return the node files (``*.yaml``, ``*.yml``) of *folder*, sorted; raise :class:`FleetError` when none."""
    if not os.path.isdir(folder):
        raise FleetError("%s is not a folder; give the folder that holds the node files" % folder)
    files = sorted(os.path.join(folder, name) for name in os.listdir(folder) if name.endswith((".yaml", ".yml")))
    if not files:
        raise FleetError("no node files (*.yaml) in %s; make some with `flubber fleet make %s --nodes 3`"
                         % (folder, folder))
    return files


def state_path(folder):
    """The supervisor's state file of the fleet in *folder*."""
    return os.path.join(folder, ".fleet", "state.json")


def read_state(folder):
    """Return the last state the supervisor of *folder* wrote (a dict), or None when it never ran."""
    try:
        with open(state_path(folder), encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise FleetError("%s is damaged (%s); remove it and run `flubber fleet up` again"
                         % (state_path(folder), exc)) from None


class NodeProcess:
    """One supervised ``flubber serve`` child.

    :param path: the node file. :param log_path: where its output goes.
    :param command: the command line that runs it (default: this Python's ``-m flubber serve PATH --no-status``).
    """

    def __init__(self, path, log_path, command=None, backoff=1.0, max_backoff=60.0, healthy_after=60.0):
        self.path = path
        self.name = os.path.splitext(os.path.basename(path))[0]
        self.log_path = log_path
        self.command = command or [sys.executable, "-m", "flubber", "serve", path, "--no-status"]
        self.backoff, self.max_backoff, self.healthy_after = backoff, max_backoff, healthy_after
        #: The running :class:`gevent.subprocess.Popen`, or None.
        self.process = None
        #: How many times the child was started again after it exited.
        self.restarts = 0
        #: When the running child started (or None).
        self.started_at = None
        #: The exit status of the last child that ended (None before any ended).
        self.last_exit = None
        self._delay = backoff
        self._spawning = None
        self._end_when_started = None

    @property
    def pid(self):
        """The running child's process id, or None."""
        return self.process.pid if self.process is not None and self.process.poll() is None else None

    def spawn(self):
        """Start the child (output appended to :attr:`log_path`)."""
        # Popen waits (cooperatively) for the child's exec: a stop arriving then must still find
        # the child, so the start runs in a greenlet of its own that terminate() waits for.
        self._end_when_started = None
        self._spawning = gevent.spawn(self._popen)
        started = self._spawning.get()
        self._spawning = None
        if isinstance(started, OSError):  # no program, no log file: raised here, not printed by gevent
            raise started
        self.process = started
        self.started_at = time.time()

    def _popen(self):
        try:
            with open(self.log_path, "ab") as output:
                output.write(("---- %s starting %s\n" % (time.strftime("%Y-%m-%d %H:%M:%S"),
                                                         " ".join(self.command))).encode())
                output.flush()
                process = gevent.subprocess.Popen(self.command, stdout=output, stderr=gevent.subprocess.STDOUT,
                                                  stdin=gevent.subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            return exc
        if self._end_when_started is not None:  # terminate() ran inside this start (a signal handler)
            self._end(process, self._end_when_started)
        return process

    def supervise(self, on_change):
        """Run the child and start it again whenever it exits (the greenlet of this node)."""
        while True:
            try:
                self.spawn()
            except OSError as exc:  # the supervisor keeps trying, as for a child that exits at once
                log.error("cannot start node %s (%s): %s; trying again in %g s", self.name, " ".join(self.command),
                          exc, self._delay)
                on_change()
                gevent.sleep(self._delay)
                self._delay = min(self._delay * 2, self.max_backoff)
                self.restarts += 1
                continue
            on_change()
            self.last_exit = self.process.wait()
            ran = time.time() - self.started_at
            log.warning("node %s exited with %s after %.1f s; starting it again in %g s", self.name,
                        self.last_exit, ran, self._delay if ran < self.healthy_after else self.backoff)
            self.process = None
            self.started_at = None
            if ran >= self.healthy_after:
                self._delay = self.backoff
            on_change()
            gevent.sleep(self._delay)
            self._delay = min(self._delay * 2, self.max_backoff)
            self.restarts += 1

    def terminate(self, grace=10.0):
        """Stop the child: SIGTERM, then SIGKILL after *grace* seconds. Return its exit status or None."""
        process, self.process = self.process, None
        spawning, self._spawning = self._spawning, None
        if process is None and spawning is not None:  # stopped while the child was being started
            if spawning is not gevent.getcurrent():
                spawning.join(grace)
            if not spawning.dead:
                # the start cannot finish while we wait: a signal handler interrupted it to stop the
                # fleet, and that stop waits for us. The start ends its child itself when it has one.
                self._end_when_started = grace
                return None
            process = spawning.value
            if isinstance(process, OSError):  # the start failed: nothing to end
                return None
        return self._end(process, grace)

    def _end(self, process, grace):
        if process is None or process.poll() is not None:
            return None if process is None else process.returncode
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            return process.wait(timeout=grace)
        except gevent.subprocess.TimeoutExpired:
            log.warning("node %s did not stop within %g s; killing it", self.name, grace)
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return process.wait()

    def as_dict(self):
        """The child's state for ``state.json``."""
        return {"name": self.name, "file": self.path, "pid": self.pid, "started_at": self.started_at,
                "restarts": self.restarts, "last_exit": self.last_exit, "log": self.log_path}


class FleetSupervisor(Service):
    """Supervise one ``flubber serve`` per node file of *folder*.

    :param folder: the folder of node files; logs go to ``folder/logs``.
    :param grace: seconds a child has to stop on SIGTERM before SIGKILL.

    A service with flubber's one lifecycle (:doc:`/lifecycle`); a second
    supervisor of the same folder refuses to start (:class:`FleetError`).
    """

    def __init__(self, folder, grace=10.0, backoff=1.0, max_backoff=60.0, command=None):
        self.folder = os.path.abspath(folder)
        self.grace = grace
        paths = node_files(self.folder)
        os.makedirs(os.path.join(self.folder, "logs"), exist_ok=True)
        os.makedirs(os.path.dirname(state_path(self.folder)), exist_ok=True)
        make = command or (lambda path: None)
        #: The supervised children, one per node file.
        self.nodes = [NodeProcess(path, os.path.join(self.folder, "logs", os.path.splitext(os.path.basename(path))[0]
                                                     + ".log"), command=make(path), backoff=backoff,
                                  max_backoff=max_backoff) for path in paths]
        self._greenlets = []
        self.started_at = None

    def start(self):
        """Start every child and its supervising greenlet; return self.

        :raises FleetError: another supervisor runs this folder.
        """
        return super().start()

    def _start(self):
        other = read_state(self.folder)
        if other and other.get("running") and process_alive(other.get("pid")) and other.get("pid") != os.getpid():
            raise FleetError("a fleet supervisor (pid %d) already runs %s; stop it with `flubber fleet down %s`"
                             % (other["pid"], self.folder, self.folder))
        self.started_at = time.time()
        self._greenlets = [gevent.spawn(node.supervise, self.write_state) for node in self.nodes]

    def stop(self, timeout=None):
        """Stop supervising and stop every child (in parallel, each within *timeout*, default
        :attr:`grace`). Idempotent."""
        return super().stop(timeout)

    def _stop(self, timeout):
        greenlets, self._greenlets = self._greenlets, []
        gevent.killall(greenlets)
        grace = self.grace if timeout is None else timeout
        gevent.joinall([gevent.spawn(node.terminate, grace) for node in self.nodes])
        self.write_state()

    def status(self):
        """The fleet's state: the supervisor's pid and each child (what ``state.json`` holds)."""
        return {"pid": os.getpid(), "running": self.running, "folder": self.folder, "started_at": self.started_at,
                "written_at": time.time(), "nodes": [node.as_dict() for node in self.nodes]}

    def write_state(self):
        """Write :meth:`status` to ``.fleet/state.json`` atomically."""
        path = state_path(self.folder)
        temporary = path + ".tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(self.status(), handle, indent=1)
        os.replace(temporary, path)


def process_alive(pid):
    """True when a process with id *pid* (an int) exists."""
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
