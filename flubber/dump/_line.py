"""Line devices: a command line sent over one stream (TCP, serial), the output read until the prompt or silence."""
import collections
import logging
import time

import gevent
import gevent.lock

from flubber.dump._exceptions import DeviceError, DeviceTimeoutError
from flubber.dump._options import (
    parse_bool,
    parse_line_ending,
    parse_port,
    parse_positive_int,
    parse_prompt,
    parse_seconds,
)
from flubber.dump._protocol import OutputFilter, compile_prompt
from flubber.dump._session import _ERROR, END, STDOUT, Device, Session
from flubber.io import SerialStream, StreamError, StreamTimeoutError, TCPClient

log = logging.getLogger(__name__)


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
            try:
                self._stream.flush(timeout)
            except StreamTimeoutError:
                raise DeviceTimeoutError("the device took no data for %g s: is it reading its input?"
                                         % timeout) from None
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
    _OPTIONS = {"host": str, "port": parse_port, "prompt": parse_prompt, "line_ending": parse_line_ending,
                "strip_echo": parse_bool, "connect_timeout": parse_seconds}
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
    _OPTIONS = {"url": str, "baudrate": parse_positive_int, "prompt": parse_prompt,
                "line_ending": parse_line_ending, "strip_echo": parse_bool}
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
