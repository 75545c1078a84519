"""TheDump: run one command on a device and capture its output in a file.

Calling a :class:`TheDump`

#. opens the file for writing,
#. sends the command to the device,
#. writes stdout to the file line by line as it arrives (one write per
   received chunk),
#. sends stderr to the log line by line,
#. closes the file and returns its path.

The output ends when the command ends, when the device is silent for
``timeout`` seconds (how a never-ending ``logcat`` or ``dmesg -w`` is
captured), or at the optional overall ``deadline``. A connection error is
logged, the partial output is kept and the call still returns the path; the
:class:`DumpResult` in :attr:`TheDump.result` tells what happened.
:func:`run_dumps` runs many dumps concurrently, one greenlet each.
"""
import collections
import datetime
import logging
import os
import time

import gevent
import gevent.pool
from gevent import getcurrent

from flubber._lifecycle import Service

from flubber.dump._exceptions import DeviceError
from flubber._config import REQUIRED, Where, positive_seconds
from flubber.dump._protocol import check_identifier, identifier_for
from flubber.dump.devices import END, STDOUT, Device, LocalDevice
from flubber.io import UNIVERSAL_NEWLINE, LineSplitter, StreamError

__all__ = ["TheDump", "DumpResult", "run_dumps"]

log = logging.getLogger(__name__)


class DumpResult:
    """What one run of a :class:`TheDump` did; updated live while it runs.

    ``state`` goes ``"waiting"`` -> ``"running"`` -> ``"done"`` or
    ``"failed"``. ``ended`` says why the output ended: ``"end"`` (the
    command finished), ``"silence"`` (nothing for ``timeout`` seconds),
    ``"deadline"`` (the overall deadline), ``"stopped"`` (by
    :meth:`TheDump.stop`) or ``"error"``.
    """

    __slots__ = ("identifier", "command", "path", "state", "ended", "bytes", "stderr_lines",
                 "stderr_tail", "exit_status", "error", "started", "finished")

    def __init__(self, identifier, command, path=None):
        #: The dump's identifier.
        self.identifier = identifier
        #: The command sent to the device.
        self.command = command
        #: Path of the output file.
        self.path = path
        #: ``"waiting"``, ``"running"``, ``"done"`` or ``"failed"``.
        self.state = "waiting"
        #: Why the output ended (see above), ``None`` while running.
        self.ended = None
        #: Bytes of stdout received so far.
        self.bytes = 0
        #: Lines the command wrote to stderr.
        self.stderr_lines = 0
        #: The last few stderr lines (str), for error messages.
        self.stderr_tail = collections.deque(maxlen=5)
        #: Exit status when the device knows it (local commands), else ``None``.
        self.exit_status = None
        #: Why the dump failed (str), ``None`` if it did not.
        self.error = None
        #: :func:`time.monotonic` at start and end (``None`` until then).
        self.started = None
        self.finished = None

    @property
    def failed(self):
        """True when the dump failed: device or file error, or a non-zero exit status."""
        return self.state == "failed"

    @property
    def duration(self):
        """Seconds the dump ran (so far)."""
        if self.started is None:
            return 0.0
        return (self.finished or time.monotonic()) - self.started

    def __repr__(self):
        return "<DumpResult %s %s %d bytes -> %s%s>" % (
            self.identifier, self.state, self.bytes, self.path, (": " + self.error) if self.error else "")


class _FileSink:
    """Writes stdout to a file descriptor, whole lines per write, one write per chunk."""

    #: Bytes of an unfinished line held back before they are written anyway.
    hold_limit = 64 * 1024

    def __init__(self, fd, result):
        self._fd = fd
        self._tail = b""
        self._result = result

    def write(self, data):
        result = self._result
        result.bytes += len(data)
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            if len(self._tail) + len(data) < self.hold_limit:
                self._tail += data
                return
            cut = len(data)
        view = memoryview(data)
        if self._tail:
            _write_all(self._fd, [self._tail, view[:cut]])
        else:
            _write_all(self._fd, [view[:cut]])
        self._tail = data[cut:]

    def close(self):
        if self._tail:
            tail, self._tail = self._tail, b""
            _write_all(self._fd, [tail])


def _write_all(fd, parts):
    total = sum(len(part) for part in parts)
    written = os.writev(fd, parts)
    if written < total:  # rare on a regular file: a signal or a full disk
        rest = memoryview(b"".join(bytes(part) for part in parts))[written:]
        while rest:
            rest = rest[os.write(fd, rest):]


def _check_seconds(name, value, allow_none=False):
    return positive_seconds(value, Where(path=name), None if allow_none else REQUIRED, parse_text=True)


class _Stopped(gevent.GreenletExit):
    """Thrown into a dump's greenlet by :meth:`TheDump.stop`."""


class TheDump(Service):
    """Dump the output of *command* on *connection* to a file.

    :param command: the command line sent to the device, e.g. ``"dmesg -k"``.
    :param connection: the :class:`~flubber.dump.Device` that runs it
        (default: a :class:`~flubber.dump.LocalDevice`).
    :param identifier: names the file ``<identifier>.txt``; derived from the
        command when not given.
    :param filename: the file to write instead (relative paths are in
        *output_dir*).
    :param timeout: the silence timeout in seconds: the output ends when the
        device says nothing for that long.
    :param deadline: optional overall limit in seconds, counted from the
        moment the command was sent.
    :param output_dir: folder of the file (created when missing; default the
        current folder).
    :param timestamp: add the start time to the file name
        (``dmesg_20260131-142501.txt``) so repeated runs do not overwrite.

    Calling the dump runs it and returns the path of the file. It never
    raises for a device, connection or file error: that is logged and
    recorded in :attr:`result` (``result.failed``, ``result.error``).
    Killing the greenlet that runs it (:meth:`gevent.Greenlet.kill`) stops
    it as :meth:`stop` does: the device session is closed (a local
    command's whole process group ends), the output so far is kept and
    ``result.ended`` is ``"stopped"``.

    A dump is also a service with flubber's one lifecycle
    (:doc:`/lifecycle`): :meth:`start` runs it in a greenlet of its own and
    returns at once, :attr:`running` is True until the output ended (or
    :meth:`stop` ended it: ``result.ended == "stopped"``, the output so far
    kept), and a later :meth:`start` runs it again.

    >>> path = TheDump("uname -s", identifier="kernel", output_dir="/tmp")()  # doctest: +SKIP
    """

    #: Level of the log records that carry the command's stderr lines.
    stderr_log_level = logging.WARNING

    #: Longest unfinished stderr line held, bytes; past it the line is logged in pieces of this size.
    stderr_max_line = 64 * 1024

    #: :func:`time.strftime` format of the timestamp added to file names.
    timestamp_format = "%Y%m%d-%H%M%S"

    def __init__(self, command, connection=None, identifier=None, filename=None, timeout=5,
                 deadline=None, output_dir=None, timestamp=False):
        if not isinstance(command, str) or not command.strip():
            raise ValueError("command must be a non-empty string, got %r" % (command,))
        if connection is None:
            connection = LocalDevice()
        if not isinstance(connection, Device):
            raise TypeError("connection must be a flubber.dump device (LocalDevice, TCPDevice, "
                            "SerialDevice), got %r" % (connection,))
        self.command = command
        self.connection = connection
        self.identifier = check_identifier(identifier) if identifier is not None else identifier_for(command)
        self._filename = filename
        self.timeout = _check_seconds("timeout", timeout)
        self.deadline = _check_seconds("deadline", deadline, allow_none=True)
        self.output_dir = output_dir if output_dir is not None else os.curdir
        self.timestamp = bool(timestamp)
        self._stamp = None
        self._path = None
        #: The :class:`DumpResult` of the current or last run.
        self.result = DumpResult(self.identifier, command, self.filename)
        self._greenlet = None

    @property
    def filename(self):
        """Path of the output file: of the current or last run, else the one a run now would use."""
        if self._path is not None:
            return self._path
        return self._make_path(datetime.datetime.now())

    def _make_path(self, when, unique=False):
        if self._filename is not None:
            name = self._filename
        else:
            name = self.identifier + ".txt"
        if self.timestamp:
            stem, ext = os.path.splitext(name)
            name = "%s_%s%s" % (stem, when.strftime(self.timestamp_format), ext)
        path = os.path.join(self.output_dir, name)
        if unique and self.timestamp and os.path.exists(path):
            stem, ext = os.path.splitext(path)
            count = 1
            while os.path.exists("%s-%d%s" % (stem, count, ext)):
                count += 1
            path = "%s-%d%s" % (stem, count, ext)
        return path

    def __call__(self):
        """Run the dump and return the path of the file (see the class documentation)."""
        path = self._make_path(datetime.datetime.now(), unique=True)
        self._path = path
        result = self.result = DumpResult(self.identifier, self.command, path)
        result.state = "running"
        result.started = time.monotonic()
        try:
            folder = os.path.dirname(path)
            if folder:
                os.makedirs(folder, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            self._fail("cannot open %s for writing: %s" % (path, exc.strerror or exc))
            return path
        sink = _FileSink(fd, result)
        try:
            self._run(sink)
        except gevent.GreenletExit:  # stop(), or the greenlet running the dump was killed (Ctrl-C)
            result.ended = "stopped"
            log.info("dump %s: stopped; the output so far is kept", self.identifier)
        finally:
            try:
                sink.close()
            except OSError as exc:
                self._fail("writing %s failed: %s" % (path, exc.strerror or exc))
            os.close(fd)
            result.finished = time.monotonic()
            if result.state == "running":
                result.state = "done"
            log.info("dump %s: %s, %d bytes -> %s (ended: %s, %.2f s)", self.identifier,
                     result.state, result.bytes, path, result.ended, result.duration)
        return path

    # -- as a service ------------------------------------------------------------------------

    def start(self):
        """Run the dump in the background (a greenlet of its own); return the dump at once."""
        return super().start()

    def _start(self):
        self._greenlet = gevent.spawn(self._run_in_background)

    def _run_in_background(self):
        try:
            self()
        finally:
            if self._greenlet is getcurrent():
                self._greenlet = None
                self._service_ended()

    def stop(self, timeout=None):
        """End a dump started with :meth:`start`: the output so far is kept, the file closed.

        Waits at most *timeout* seconds (default :attr:`timeout`) for the
        device session to close. Idempotent; a dump that already ended is
        left as it is.
        """
        return super().stop(timeout)

    def _stop(self, timeout):
        greenlet, self._greenlet = self._greenlet, None
        if greenlet is not None and greenlet is not getcurrent():
            greenlet.kill(_Stopped, block=True, timeout=self.timeout if timeout is None else timeout)

    def _fail(self, message, level=logging.ERROR):
        result = self.result
        result.state = "failed"
        result.error = message
        if result.ended is None:
            result.ended = "error"
        result.finished = time.monotonic()
        log.log(level, "dump %s (%s) failed: %s (output so far kept in %s)",
                self.identifier, self.command, message, result.path)

    def _run(self, sink):
        result = self.result
        try:
            session = self.connection.open(self.command, self.timeout)
        except (DeviceError, StreamError) as exc:
            self._fail(str(exc))
            return
        stderr = LineSplitter(UNIVERSAL_NEWLINE, max_line=self.stderr_max_line, overflow="split")
        wait = 0
        try:
            try:
                result.ended = self._pump(session, sink, stderr)
                if result.ended == "end":
                    wait = self.timeout
            finally:
                self._log_stderr(stderr.finish())
                session.close(wait=wait)
                result.exit_status = session.exit_status
        except (DeviceError, StreamError) as exc:
            self._fail(str(exc))
            return
        except OSError as exc:
            self._fail("writing %s failed: %s" % (result.path, exc.strerror or exc))
            return
        if result.ended == "deadline":
            log.warning("dump %s: the deadline of %g s ended the output; the file may be incomplete",
                        self.identifier, self.deadline)
        status = result.exit_status
        if status and not session.killed:
            detail = "; stderr: " + " | ".join(result.stderr_tail) if result.stderr_tail else ""
            self._fail("the command exited with status %d%s" % (status, detail), logging.WARNING)

    def _pump(self, session, sink, stderr):
        """Move output until it ends; return why it ended."""
        timeout = self.timeout
        deadline_at = None if self.deadline is None else time.monotonic() + self.deadline
        read = session.read
        while True:
            wait = timeout
            if deadline_at is not None:
                left = deadline_at - time.monotonic()
                if left <= 0:
                    return "deadline"
                wait = min(wait, left)
            event = read(wait)
            if event is None:
                if deadline_at is not None and time.monotonic() >= deadline_at:
                    return "deadline"
                return "silence"
            channel, data = event
            if channel is STDOUT:
                sink.write(data)
            elif channel is END:
                return "end"
            else:
                for line in stderr.feed(data):
                    self._log_stderr(line)

    def _log_stderr(self, line):
        if not line:
            return
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        self.result.stderr_lines += 1
        self.result.stderr_tail.append(text)
        log.log(self.stderr_log_level, "dump %s stderr: %s", self.identifier, text)

    def __repr__(self):
        return "TheDump(%r, %r, identifier=%r)" % (self.command, self.connection, self.identifier)


def run_dumps(dumps, max_concurrent=None):
    """Run every dump of *dumps* concurrently, one greenlet each; return their results.

    :param max_concurrent: run at most this many at once (``None``: all).
    :returns: the list of :class:`DumpResult`, in the order of *dumps*.

    A dump that raises an unexpected exception is logged and marked failed;
    the others go on.
    """
    dumps = list(dumps)
    pool = gevent.pool.Pool(max_concurrent)
    for dump in dumps:
        pool.spawn(_run_one, dump)
    pool.join()
    return [dump.result for dump in dumps]


def _run_one(dump):
    try:
        dump()
    except Exception as exc:  # a bug must not stop the other dumps
        log.exception("dump %s crashed", dump.identifier)
        dump.result.state = "failed"
        dump.result.error = "crashed: %r" % (exc,)
