"""Devices a dump runs its command on, each built on :mod:`flubber.io`.

A device opens a :class:`Session` for one command; the session hands back
the command's stdout and stderr as they arrive::

    device = LocalDevice(prefix="ssh lab-pc")
    with device.open("dmesg -k", timeout=5) as session:
        while True:
            event = session.read(timeout=5)     # None: 5 s of silence
            if event is None or event[0] == END:
                break
            channel, data = event               # STDOUT or STDERR, bytes

* :class:`LocalDevice` runs a local subprocess (optionally behind a prefix
  such as ``ssh host`` or ``adb shell``) and reads its stdout and stderr
  concurrently.
* :class:`TCPDevice` sends the command line over a TCP connection
  (telnet-like, no option negotiation) and reads until the prompt or silence.
* :class:`SerialDevice` does the same over a serial port (pyserial).

:func:`make_device` builds one from INI-style options (``kind = tcp`` ...).
"""
import collections
import logging
import os
import shlex
import signal
import socket
import time

import gevent
import gevent.lock
import gevent.subprocess
from gevent.queue import Empty, Queue

from flubber.dump._exceptions import DeviceError
from flubber.dump._protocol import OutputFilter, compile_prompt, positive_seconds
from flubber.io import SerialStream, StreamError, TCPClient, TTYStream

__all__ = [
    "STDOUT", "STDERR", "END",
    "Session", "Device", "LocalDevice", "LineDevice", "TCPDevice", "SerialDevice",
    "DEVICE_KINDS", "make_device",
]

log = logging.getLogger(__name__)

#: Channel of a :meth:`Session.read` event: bytes the command wrote to stdout.
STDOUT = "stdout"
#: Channel of a :meth:`Session.read` event: bytes the command wrote to stderr.
STDERR = "stderr"
#: Channel of a :meth:`Session.read` event: the output is complete (data is ``b""``).
END = "end"

_ERROR = "error"


class Session:
    """One command running on a device: read its output, then close it.

    Sessions come from :meth:`Device.open`; they are context managers.
    """

    #: Exit status of the command when the device knows it (local
    #: subprocesses; negative: killed by that signal), else ``None``.
    exit_status = None

    #: True when :meth:`close` had to stop a command that was still running.
    killed = False

    def read(self, timeout):
        """Return the next ``(channel, data)`` event, or ``None`` after *timeout* seconds of silence.

        *channel* is :data:`STDOUT` or :data:`STDERR` with non-empty *data*,
        or :data:`END` (data ``b""``) once the output is complete; :data:`END`
        is then returned again on every call.

        :raises DeviceError: when the connection broke; output received
            before the break was returned by the earlier calls.
        """
        raise NotImplementedError

    def close(self, wait=0):
        """Stop the command and release the device; idempotent.

        :param wait: seconds to let a command that closed its output exit on
            its own before it is stopped.
        """
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class Device:
    """Base class of the devices; :meth:`open` is the one method a device needs."""

    #: Name of the device kind in the ``[device]`` section of an INI file.
    kind = None

    def open(self, command, timeout):
        """Start *command* on the device and return its :class:`Session`.

        :param timeout: seconds allowed for connecting and for the device to
            show its first prompt.
        :raises DeviceError: when the command cannot be started.
        """
        raise NotImplementedError

    @classmethod
    def option_names(cls):
        """The INI option names this kind accepts besides ``kind``."""
        return tuple(cls._OPTIONS)

    @classmethod
    def from_options(cls, options):
        """Build the device from INI-style string *options* (without ``kind``).

        :raises ValueError: naming the bad or unknown option.
        """
        unknown = sorted(set(options) - set(cls._OPTIONS))
        if unknown:
            raise ValueError("unknown option%s %s for kind = %s; known options: %s" % (
                "s" if len(unknown) > 1 else "", ", ".join(unknown), cls.kind, ", ".join(cls._OPTIONS)))
        kwargs = {}
        for name, value in options.items():
            try:
                kwargs[name] = cls._OPTIONS[name](value)
            except ValueError as exc:
                raise ValueError("option %s: %s" % (name, exc)) from None
        return cls(**kwargs)

    _OPTIONS = {}


# -- option parsers --------------------------------------------------------------


def _positive_int(text):
    try:
        value = int(str(text).strip())
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError("must be a positive whole number, got %r" % (text,))
    return value


def _port(text):
    value = _positive_int(text)
    if value > 65535:
        raise ValueError("a TCP port is between 1 and 65535, got %r" % (text,))
    return value


_BOOLEANS = {"1": True, "yes": True, "true": True, "on": True,
             "0": False, "no": False, "false": False, "off": False}


def parse_bool(text):
    """Return the boolean of an INI value (yes/no, true/false, on/off, 1/0)."""
    if isinstance(text, bool):
        return text
    try:
        return _BOOLEANS[str(text).strip().lower()]
    except KeyError:
        raise ValueError("must be yes or no (or true/false, on/off, 1/0), got %r" % (text,)) from None


_ESCAPES = {"\\r": "\r", "\\n": "\n", "\\t": "\t", "\\\\": "\\"}


def parse_line_ending(text):
    r"""Return the line ending written as ``\r\n``, ``\n`` or ``\r`` in an INI file."""
    if not isinstance(text, str):
        return text
    out, i = [], 0
    while i < len(text):
        pair = text[i:i + 2]
        if pair in _ESCAPES:
            out.append(_ESCAPES[pair])
            i += 2
        else:
            out.append(text[i])
            i += 1
    value = "".join(out)
    if not value:
        raise ValueError("must not be empty; write \\n, \\r\\n or \\r")
    return value


def _prompt(text):
    compile_prompt(text)  # raises ValueError naming the problem
    return text


# -- local subprocesses ------------------------------------------------------------


class LocalSession(Session):
    """A local subprocess whose stdout and stderr are read concurrently.

    Two greenlets (one per output) read the process's output through
    :class:`~flubber.io.TTYStream` streams and hand chunks to the reading
    greenlet through a bounded queue (a fast command waits for the file,
    memory stays bounded).
    """

    #: Seconds a command gets to exit after SIGTERM before SIGKILL.
    kill_grace = 2.0

    #: Chunks waiting in the queue before the reader greenlets wait.
    queue_size = 8

    #: Bytes one read takes from the command's output at most (bigger
    #: chunks cost more page faults than they save in system calls).
    read_chunk_size = 128 * 1024

    #: Socket buffer between the command and the dump, bytes (the OS caps
    #: it at net.core.wmem_max); ``None`` keeps the OS default.
    socket_buffer_size = 1024 * 1024

    def __init__(self, argv, env=None, cwd=None):
        self.argv = argv
        self._queue = Queue(self.queue_size)
        self._open_outputs = 0
        self._closed = False
        self._streams = []
        self._readers = []
        ends = []
        try:
            try:
                for _ in (STDOUT, STDERR):
                    # a socket pair, not a pipe: see _output_channel()
                    ends.append(_output_channel(self.socket_buffer_size))
            except OSError as exc:
                raise DeviceError("cannot make the output channels of %s: %s" % (
                    shlex.join(argv), exc.strerror or exc)) from exc
            try:
                self._process = gevent.subprocess.Popen(
                    argv, stdin=gevent.subprocess.DEVNULL, stdout=ends[0][1].fileno(),
                    stderr=ends[1][1].fileno(), start_new_session=True, close_fds=True, env=env, cwd=cwd)
            except OSError as exc:
                raise DeviceError("cannot start %s: %s (is the program installed and on PATH?)" % (
                    shlex.join(argv), exc.strerror or exc)) from exc
            for channel, (ours, theirs) in zip((STDOUT, STDERR), ends):
                theirs.close()
                try:
                    stream = TTYStream(ours.fileno(), readable=True)
                except StreamError as exc:
                    raise DeviceError("cannot read the %s of %s: %s" % (channel, shlex.join(argv), exc)) from exc
                finally:
                    ours.close()
                stream.read_chunk_size = self.read_chunk_size
                self._streams.append(stream)
                self._readers.append(gevent.spawn(self._pump, channel, stream))
                self._open_outputs += 1
        except BaseException:
            for pair in ends:
                for end in pair:
                    end.close()
            self.close()
            raise

    @property
    def pid(self):
        """Process id of the command."""
        return self._process.pid

    def _pump(self, channel, stream):
        put = self._queue.put
        read = stream.read_bytes
        size = self.read_chunk_size
        try:
            while True:
                data = read(size)
                put((channel, data))
                if not data:
                    return
        except StreamError as exc:
            if not self._closed:
                put((_ERROR, DeviceError("reading the %s of %s failed: %s" % (channel, shlex.join(self.argv), exc))))

    def read(self, timeout):
        """See :meth:`Session.read`."""
        while True:
            if self._open_outputs == 0:
                return END, b""
            try:
                channel, data = self._queue.get(timeout=timeout)
            except Empty:
                return None
            if data:
                if channel is _ERROR:
                    self._open_outputs = 0
                    raise data
                return channel, data
            self._open_outputs -= 1

    def close(self, wait=0):
        """See :meth:`Session.close`: SIGTERM to the command's process group,
        SIGKILL after :attr:`kill_grace` seconds."""
        if self._closed:
            return
        self._closed = True
        process = getattr(self, "_process", None)
        if process is not None:
            if process.poll() is None and wait > 0:
                self._wait(process, wait)
            if process.poll() is None:
                self.killed = True
                self._signal(signal.SIGTERM)
                if not self._wait(process, self.kill_grace):
                    self._signal(signal.SIGKILL)
                    self._wait(process, None)
            self.exit_status = process.returncode
        gevent.killall(self._readers, block=False)
        for stream in self._streams:
            stream.abort()

    def _signal(self, signum):
        try:
            os.killpg(self._process.pid, signum)
        except ProcessLookupError:
            pass
        except PermissionError:  # pragma: no cover - a setuid prefix
            self._process.send_signal(signum)

    @staticmethod
    def _wait(process, timeout):
        try:
            process.wait(timeout=timeout)
            return True
        except gevent.subprocess.TimeoutExpired:
            return False


def _output_channel(buffer_size=None):
    """Return ``(ours, theirs)``: a connected socket pair for one output of a command.

    A socket pair, not :func:`os.pipe`: with 1 MiB socket buffers a 200 MB
    dump ran in 0.096 s here against 0.116 s through a pipe enlarged to 1 MiB
    with ``F_SETPIPE_SZ`` (``bench/run.py dump``).
    """
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    if buffer_size:
        try:
            theirs.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buffer_size)
            ours.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer_size)
        except OSError:  # pragma: no cover - the OS default is fine too
            pass
    ours.shutdown(socket.SHUT_WR)
    theirs.shutdown(socket.SHUT_RD)
    return ours, theirs


class LocalDevice(Device):
    """Runs commands as local subprocesses.

    :param prefix: a command line put in front of every command, e.g.
        ``"ssh lab-pc"`` or ``"adb -s SERIAL shell"``; the dump command is
        then passed to it as **one** argument (ssh and adb hand it to the
        remote shell). Without a prefix the command runs under *shell*.
    :param shell: the shell that runs a command when there is no prefix.
    :param env: environment of the commands (default: this process's).
    :param cwd: working folder of the commands.

    stdin is ``/dev/null``. Each command gets its own process group, so
    stopping it after the silence timeout also stops its children.
    """

    kind = "local"
    _OPTIONS = {"prefix": str, "shell": str, "cwd": str}

    def __init__(self, prefix=None, shell="/bin/sh", env=None, cwd=None):
        if isinstance(prefix, str):
            prefix = shlex.split(prefix)
        self.prefix = list(prefix) if prefix else []
        self.shell = shell
        self.env = env
        self.cwd = cwd

    def argv(self, command):
        """The argument list that runs *command*."""
        if self.prefix:
            return self.prefix + [command]
        return [self.shell, "-c", command]

    def open(self, command, timeout=None):
        """Start *command* as a subprocess; see :meth:`Device.open`."""
        return LocalSession(self.argv(command), env=self.env, cwd=self.cwd)

    def __repr__(self):
        return "LocalDevice(prefix=%r)" % (shlex.join(self.prefix),) if self.prefix else "LocalDevice()"


# -- line devices: TCP and serial ------------------------------------------------------


class LineSession(Session):
    """A command sent as one line over a stream; the output read until the prompt or silence.

    :param stream: a connected :class:`~flubber.io.BaseStream`, owned by the session.
    :param command: the command line (str), sent with *line_ending*.
    :param prompt: regular expression of the device's prompt, or ``None``;
        see :func:`~flubber.dump._protocol.compile_prompt`.
    :param strip_echo: drop a first output line equal to the command.
    :param on_close: called once when the session closes (releases a lock).
    """

    #: Seconds of quiet after a prompt-like line before it counts as the
    #: prompt (more data means it was output).
    prompt_grace = 0.05

    #: Bytes one read takes at most.
    read_chunk_size = 64 * 1024

    def __init__(self, stream, command, prompt=None, line_ending="\n", strip_echo=True, on_close=None):
        self._stream = stream
        self._prompt = compile_prompt(prompt)
        self._command = command.encode("utf-8")
        self._line_ending = line_ending.encode("utf-8")
        self._filter = OutputFilter(self._prompt, self._command if strip_echo else None)
        self._events = collections.deque()
        self._done = False
        self._closed = False
        self._on_close = on_close

    def start(self, timeout, wake=False):
        """Wait for the device's prompt (at most *timeout* s), then send the command.

        With *wake*, a bare line ending is sent first so a console prints a
        fresh prompt. Without a prompt the command is sent at once.
        """
        try:
            if self._prompt is not None:
                if wake:
                    self._stream.write(self._line_ending)
                self._wait_first_prompt(timeout)
            self._stream.write(self._command + self._line_ending)
            timer = gevent.Timeout(timeout)
            timer.start()
            try:
                self._stream.flush()
            except gevent.Timeout as exc:
                if exc is not timer:
                    raise
                raise DeviceError("the device took no data for %g s: is it reading its input?" % timeout) from None
            finally:
                timer.close()
        except StreamError as exc:
            raise DeviceError("sending the command to the device failed: %s" % (exc,)) from exc

    def _wait_first_prompt(self, timeout):
        banner = OutputFilter(self._prompt)
        deadline = _now() + timeout
        while True:
            remaining = deadline - _now()
            if banner.at_prompt:
                remaining = min(remaining, self.prompt_grace)
            data = self._recv(remaining) if remaining > 0 else None
            if data is None:
                if not banner.at_prompt:
                    log.warning("the device showed no prompt matching %r within %g s; sending the "
                                "command anyway (check the prompt setting)", self._prompt.pattern, timeout)
                return
            if not data:
                raise DeviceError("the device closed the connection before its first prompt")
            banner.feed(data)

    def _recv(self, timeout):
        """Return received bytes, ``b""`` at EOF, ``None`` after *timeout* s of silence."""
        timer = gevent.Timeout(timeout)
        timer.start()
        try:
            return self._stream.read_bytes(self.read_chunk_size)
        except gevent.Timeout as exc:
            if exc is not timer:
                raise
            return None
        finally:
            timer.close()

    def read(self, timeout):
        """See :meth:`Session.read`."""
        while not self._events:
            if self._done:
                return END, b""
            at_prompt = self._filter.at_prompt
            try:
                data = self._recv(self.prompt_grace if at_prompt else timeout)
            except StreamError as exc:
                self._finish(None, DeviceError("connection to the device broke: %s" % (exc,)))
                continue
            if data is None:
                if at_prompt:
                    self._finish(self._filter.confirm_prompt())
                    continue
                return None
            if not data:
                self._finish_at_eof()
                continue
            out = self._filter.feed(data)
            if out:
                return STDOUT, out
        channel, data = self._events.popleft()
        if channel is _ERROR:
            raise data
        return channel, data

    def _finish_at_eof(self):
        error = None
        if self._filter.at_prompt:
            out = self._filter.confirm_prompt()
        else:
            out = self._filter.finish()
            if self._stream.error is not None:
                error = DeviceError("connection to the device broke: %s" % (self._stream.error,))
            elif self._prompt is not None:
                error = DeviceError("the device closed the connection before the prompt came back: "
                                    "the output may be incomplete")
        self._finish(out, error)

    def _finish(self, out, error=None):
        self._done = True
        if out:
            self._events.append((STDOUT, out))
        if error is not None:
            self._events.append((_ERROR, error))

    def close(self, wait=0):
        """See :meth:`Session.close`: closes the connection."""
        if self._closed:
            return
        self._closed = True
        self.killed = not self._done
        self._stream.abort()
        if self._on_close is not None:
            self._on_close()


def _now():
    return time.monotonic()


class LineDevice(Device):
    """Base class of the devices that take a command line and answer on one stream.

    :param prompt: regular expression of the device's prompt, e.g.
        ``r"\\$ "`` or ``r"^\\S+> "``; with it the output ends at the prompt,
        and the dump waits for the first prompt before sending the command.
        Without it the output ends at silence or when the device closes.
    :param line_ending: sent after the command (``"\\n"``, ``"\\r\\n"``).
    :param strip_echo: drop a first output line equal to the command.
    """

    #: Options an INI ``[device]`` section must have for this kind.
    _REQUIRED = ()
    #: How they look, for the error message when one is missing.
    _EXAMPLE = ""

    def __init__(self, prompt=None, line_ending="\n", strip_echo=True):
        compile_prompt(prompt)  # a bad pattern fails here, not at the first dump
        self.prompt = prompt
        self.line_ending = parse_line_ending(line_ending)
        self.strip_echo = strip_echo

    @classmethod
    def from_options(cls, options):
        """See :meth:`Device.from_options`; the kind's required options must be there."""
        missing = [name for name in cls._REQUIRED if name not in options]
        if missing:
            raise ValueError("kind = %s needs %s (e.g. %s)" % (cls.kind, " and ".join(missing), cls._EXAMPLE))
        return super().from_options(options)

    def _start(self, stream, command, timeout, wake=False, on_close=None):
        """Return a started :class:`LineSession` on *stream* (closed again if starting fails)."""
        session = LineSession(stream, command, self.prompt, self.line_ending, self.strip_echo, on_close=on_close)
        try:
            session.start(timeout, wake=wake)
        except BaseException:
            session.close()
            raise
        return session


class TCPDevice(LineDevice):
    """A telnet-like device on a TCP port: one connection per command.

    The device is expected to read a command line and answer with its
    output, then either show a prompt, go silent or close the connection.
    Telnet option negotiation is not spoken (use a raw TCP port).

    :param host: host name or address.
    :param port: TCP port.
    :param connect_timeout: seconds to connect (default: the dump's timeout).

    *prompt*, *line_ending* and *strip_echo* are those of :class:`LineDevice`.
    """

    kind = "tcp"
    _OPTIONS = {"host": str, "port": _port, "prompt": _prompt, "line_ending": parse_line_ending,
                "strip_echo": parse_bool, "connect_timeout": positive_seconds}
    _REQUIRED = ("host", "port")
    _EXAMPLE = "host = 192.168.1.20, port = 23"

    def __init__(self, host, port, prompt=None, line_ending="\n", strip_echo=True, connect_timeout=None):
        super().__init__(prompt, line_ending, strip_echo)
        self.host = host
        self.port = int(port)
        self.connect_timeout = connect_timeout

    def open(self, command, timeout=5.0):
        """Connect, wait for the prompt (if any) and send *command*; see :meth:`Device.open`."""
        client = TCPClient()
        try:
            client.connect((self.host, self.port), timeout=self.connect_timeout or timeout)
        except StreamError as exc:
            client.abort()
            raise DeviceError("cannot connect to %s:%d: %s" % (self.host, self.port, exc)) from exc
        return self._start(client, command, timeout)

    def __repr__(self):
        return "TCPDevice(%r, %d)" % (self.host, self.port)


class SerialDevice(LineDevice):
    """A console on a serial port (pyserial): one command at a time.

    Concurrent dumps on the same device take turns (a serial line carries
    one conversation). The port is opened for each command and closed after.

    :param url: port name or pyserial URL (``/dev/ttyUSB0``, ``socket://host:port``).
    :param baudrate: bits per second.
    :param serial_options: further :class:`~flubber.io.SerialStream`
        settings (``parity``, ``rtscts``, ...).

    *prompt*, *line_ending* and *strip_echo* are those of :class:`LineDevice`;
    with a prompt a bare line ending is sent first so the console prints a
    fresh one.
    """

    kind = "serial"
    _OPTIONS = {"url": str, "baudrate": _positive_int, "prompt": _prompt, "line_ending": parse_line_ending,
                "strip_echo": parse_bool}
    _REQUIRED = ("url",)
    _EXAMPLE = "url = /dev/ttyUSB0, baudrate = 115200"

    def __init__(self, url, baudrate=9600, prompt=None, line_ending="\n", strip_echo=True, **serial_options):
        super().__init__(prompt, line_ending, strip_echo)
        self.url = url
        self.baudrate = int(baudrate)
        self.serial_options = serial_options
        self._turn = gevent.lock.Semaphore(1)

    def open(self, command, timeout=5.0):
        """Wait for the port, open it, wait for the prompt (if any) and send *command*."""
        self._turn.acquire()
        try:
            stream = SerialStream(self.url, baudrate=self.baudrate, **self.serial_options)
        except StreamError as exc:
            self._turn.release()
            raise DeviceError(str(exc)) from exc  # SerialStream's message names the port and the reason
        except BaseException:
            self._turn.release()
            raise
        return self._start(stream, command, timeout, wake=True, on_close=self._turn.release)

    def __repr__(self):
        return "SerialDevice(%r, %d)" % (self.url, self.baudrate)


#: The device classes by their ``kind`` in an INI ``[device]`` section.
DEVICE_KINDS = {cls.kind: cls for cls in (LocalDevice, TCPDevice, SerialDevice)}


def make_device(options=None):
    """Build a device from INI-style *options* (a mapping of strings).

    ``kind`` picks the class (``local`` when absent); the other options are
    its settings, e.g. ``{"kind": "tcp", "host": "10.0.0.5", "port": "23"}``.

    :raises ValueError: naming the unknown kind or the bad option.
    """
    options = dict(options or {})
    kind = str(options.pop("kind", "local")).strip().lower()
    try:
        cls = DEVICE_KINDS[kind]
    except KeyError:
        raise ValueError("kind must be one of %s, got %r" % (", ".join(DEVICE_KINDS), kind)) from None
    return cls.from_options(options)
