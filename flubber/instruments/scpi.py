"""A simulated SCPI temperature controller, for tests, the demo and labs without hardware.

:class:`ScpiSimulator` is the instrument's logic with no I/O: one request
line in, the reply line (or ``None``) out. :class:`ScpiServer` serves it
like a real instrument, ONE connection at a time, on a TCP port (LAN
instruments use 5025), a Unix socket, or a pty that programs open as a
serial port::

    flubber simulate scpi --port 5025          # tcp://127.0.0.1:5025
    flubber simulate scpi --pty                # prints serial:///dev/pts/N

Commands (case-insensitive; short or long SCPI form, ``MEAS:TEMP?`` or
``MEASure:TEMPerature?``):

=====================  ===================================================
``*IDN?``              ``FLUBBER,SCPI-SIM,<serial>,<version>``
``*RST``               setpoint back to 20, error queue cleared
``*CLS``               error queue cleared
``*OPC?``              ``1``
``MEAS:TEMP?``         the temperature, degrees C: it follows the setpoint
                       with a first-order lag (:class:`~flubber.instruments.simulated.Oven`)
``SOUR:TEMP <value>``  set the setpoint; ``SOUR:TEMP?`` reads it
``SYST:ERR?``          the oldest queued error, ``0,"No error"`` when none
``ECHO? <text>``       ``<text>`` (tests match replies to requests with it)
``SIM:DELAY <s>``      the reply delay in seconds; ``SIM:DELAY?`` reads it
=====================  ===================================================

Like a real SCPI instrument, an unknown command or bad value sends no reply:
it queues an error (``-113,"Undefined header"``, ``-224,"Illegal parameter
value"``) that ``SYST:ERR?`` reads.
"""
import logging
import os
import pty
import re
import tty
from collections import deque

import gevent

from flubber import __version__
from flubber._lifecycle import Service
from flubber.instruments._exceptions import AddressError
from flubber.instruments.simulated import Oven
from flubber.io import PipeServer, StreamError, TCPServer, TTYStream, parse_tcp_address

__all__ = ["ScpiSimulator", "ScpiServer"]

log = logging.getLogger(__name__)

_NO_ERROR = '0,"No error"'
_UNDEFINED_HEADER = '-113,"Undefined header"'
_ILLEGAL_VALUE = '-224,"Illegal parameter value"'
_MISSING_PARAMETER = '-109,"Missing parameter"'
_QUEUE_OVERFLOW = '-350,"Queue overflow"'


def _header_pattern(*parts):
    """Regex for a SCPI header of (short, long) parts: ``MEAS``, ``MEASU``, ... ``MEASURE`` all match."""
    pieces = []
    for short, long in parts:
        rest = long[len(short):]
        optional = "".join("(?:%s" % re.escape(char) for char in rest) + ")?" * len(rest)
        pieces.append(re.escape(short) + optional)
    return ":?" + ":".join(pieces)


class ScpiSimulator:
    """The logic of the simulated SCPI instrument: :meth:`handle` one line, get its reply.

    :param delay: seconds the server waits before each reply (a real
        instrument needs a few ms to measure); ``SIM:DELAY`` changes it.
    :param setpoint: the initial setpoint, degrees C.
    :param start: the initial temperature, degrees C.
    :param tau: the temperature's time constant, seconds.
    :param noise: standard deviation of the temperature noise.
    :param seed: seed of the noise (reproducible readings in tests).
    """

    #: Errors the queue holds; one more replaces the last with -350 "Queue overflow".
    error_queue_size = 10

    def __init__(self, delay=0.002, setpoint=20.0, start=20.0, tau=10.0, noise=0.02, seed=None):
        self.delay = float(delay)
        self.oven = Oven(start=start, tau=tau, noise=noise, default_setpoint=setpoint, seed=seed)
        self._initial_setpoint = float(setpoint)
        self.errors = deque()
        #: Lines handled so far.
        self.requests = 0
        self._commands = [
            (re.compile(r"\*IDN\?$", re.I), self._idn),
            (re.compile(r"\*RST$", re.I), self._reset),
            (re.compile(r"\*CLS$", re.I), self._clear),
            (re.compile(r"\*OPC\?$", re.I), lambda argument: "1"),
            (re.compile(_header_pattern(("MEAS", "MEASURE"), ("TEMP", "TEMPERATURE")) + r"\?$", re.I),
             self._measure),
            (re.compile(_header_pattern(("SOUR", "SOURCE"), ("TEMP", "TEMPERATURE")) + r"\?$", re.I),
             lambda argument: "%g" % self.oven.default_setpoint),
            (re.compile(_header_pattern(("SOUR", "SOURCE"), ("TEMP", "TEMPERATURE")) + "$", re.I),
             self._set_setpoint),
            (re.compile(_header_pattern(("SYST", "SYSTEM"), ("ERR", "ERROR")) + r"(?::NEXT)?\?$", re.I),
             self._next_error),
            (re.compile(r"ECHO\?$", re.I), lambda argument: argument),
            (re.compile(r"SIM:DELAY\?$", re.I), lambda argument: "%g" % self.delay),
            (re.compile(r"SIM:DELAY$", re.I), self._set_delay),
        ]

    def handle(self, line):
        """Handle one request *line* (no terminator); return the reply text, or ``None`` for no reply."""
        self.requests += 1
        header, _, argument = line.strip().partition(" ")
        argument = argument.strip()
        for pattern, action in self._commands:
            if pattern.match(header):
                return action(argument)
        self.push_error(_UNDEFINED_HEADER)
        return None

    def push_error(self, error):
        """Queue *error* (``'-113,"Undefined header"'``) for ``SYST:ERR?``."""
        if len(self.errors) >= self.error_queue_size:
            self.errors[-1] = _QUEUE_OVERFLOW
        else:
            self.errors.append(error)

    def _idn(self, argument):
        return "FLUBBER,SCPI-SIM,%d,%s" % (os.getpid(), __version__)

    def _reset(self, argument):
        self.oven.default_setpoint = self._initial_setpoint
        self.errors.clear()

    def _clear(self, argument):
        self.errors.clear()

    def _measure(self, argument):
        return "%.4f" % self.oven()

    def _number(self, argument):
        if not argument:
            self.push_error(_MISSING_PARAMETER)
            return None
        try:
            return float(argument)
        except ValueError:
            self.push_error(_ILLEGAL_VALUE)
            return None

    def _set_setpoint(self, argument):
        value = self._number(argument)
        if value is not None:
            self.oven.default_setpoint = value

    def _set_delay(self, argument):
        value = self._number(argument)
        if value is not None and value < 0:
            self.push_error(_ILLEGAL_VALUE)
        elif value is not None:
            self.delay = value

    def _next_error(self, argument):
        return self.errors.popleft() if self.errors else _NO_ERROR


class ScpiServer(Service):
    """Serves a :class:`ScpiSimulator` like a real instrument: one connection at a time.

    A :class:`~flubber.Service`: :meth:`start` serves in the background,
    :meth:`stop` closes the connection, :meth:`serve_forever` runs
    ``flubber simulate``.

    :param listen: ``"tcp://HOST:PORT"`` (port 0: a free one),
        ``"pipe:///path"`` or ``"pipe://@name"``, or ``"pty"`` for a
        pseudo-terminal that programs open as a serial port
        (:attr:`device` names it).
    :param simulator: the :class:`ScpiSimulator` to serve (default: a new one).
    :param terminator: the line terminator of requests and replies (a
        trailing ``"\\r"`` of a request is ignored too).

    A second client connecting while one is served waits, as it would
    with most LAN instruments, until the first disconnects.
    """

    #: The longest request line accepted, bytes.
    max_line = 4096

    def __init__(self, listen="tcp://127.0.0.1:5025", simulator=None, terminator="\n"):
        self.simulator = simulator if simulator is not None else ScpiSimulator()
        self.terminator = terminator.encode("latin-1")
        self.listen = listen
        #: The pty's device path (``/dev/pts/N``) when serving on a pty, else ``None``.
        self.device = None
        self._server = None
        self._pty_stream = None
        self._pty_slave = None
        self._pty_greenlet = None
        self._scheme = self._check_listen(listen)

    @staticmethod
    def _check_listen(listen):
        scheme, sep, _ = str(listen).partition("://")
        if listen == "pty":
            return "pty"
        if not sep or scheme not in ("tcp", "pipe"):
            raise AddressError("the simulator listens on tcp://HOST:PORT, pipe:///path or pty, not %r" % (listen,))
        return scheme

    @property
    def address(self):
        """The instrument address that reaches this simulator (``tcp://127.0.0.1:5025``, ...)."""
        if self._scheme == "pty":
            return "serial://%s?baudrate=115200" % self.device if self.device else None
        if self._server is None:
            return None
        if self._scheme == "tcp":
            host, port = self._server.sockname[:2]
            return "tcp://%s:%d" % ("[%s]" % host if ":" in host else host, port)
        return "pipe://%s" % self._server.pipename

    def _start(self):
        """Bind (or open the pty) and serve in the background."""
        if self._scheme == "pty":
            self._start_pty()
        else:
            server_class = TCPServer if self._scheme == "tcp" else PipeServer
            server = server_class(handler=self._serve_stream, max_connections=1)
            target = self.listen.partition("://")[2]
            try:
                server.bind(parse_tcp_address(target) if self._scheme == "tcp" else target)
                server.start()
            except BaseException:
                server.close()
                raise
            self._server = server
        log.info("SCPI simulator on %s", self.address)

    def _start_pty(self):
        master, slave = pty.openpty()
        tty.setraw(slave)
        try:
            stream = TTYStream(master, readable=True)
        except BaseException:
            os.close(master)
            os.close(slave)
            raise
        os.close(master)
        # the simulator keeps the slave open, as a device is always there: the master
        # then never reads a hang-up while no program has the port open
        self._pty_slave = slave
        self.device = os.ttyname(slave)
        self._pty_stream = stream
        self._pty_greenlet = gevent.spawn(self._serve_stream, stream)

    def _serve_stream(self, stream):
        """Answer request lines on *stream* until it ends."""
        terminator = self.terminator
        simulator = self.simulator
        try:
            while True:
                line = stream.read_until(terminator, max_bytes=self.max_line)
                if not line.endswith(terminator):
                    return
                text = line[:-len(terminator)].decode("latin-1").rstrip("\r")
                if not text.strip():
                    continue
                reply = simulator.handle(text)
                if reply is None:
                    continue
                if simulator.delay > 0:
                    gevent.sleep(simulator.delay)
                stream.write(reply.encode("latin-1") + terminator)
        except StreamError as exc:
            log.debug("SCPI simulator: connection ended: %s", exc)

    def _stop(self, timeout):
        """Stop serving and close the connection."""
        server, self._server = self._server, None
        if server is not None:
            server.stop(timeout)
        greenlet, self._pty_greenlet = self._pty_greenlet, None
        if greenlet is not None:
            greenlet.kill(timeout=timeout)
        stream, self._pty_stream = self._pty_stream, None
        if stream is not None:
            stream.abort()
        slave, self._pty_slave = self._pty_slave, None
        if slave is not None:
            os.close(slave)

    def __repr__(self):
        return "<ScpiServer %s%s>" % (self.address or self.listen, "" if self.running else " stopped")
