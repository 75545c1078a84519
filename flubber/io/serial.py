"""Serial ports through pyserial, read and written cooperatively.

pyserial opens and configures the port (baud rate, parity, ...); flubber then
waits on the port's descriptor with the gevent hub, so a slow instrument never
blocks other greenlets. Any port pyserial opens with a file descriptor works:
``/dev/ttyUSB0``, a pty (tests), ``socket://host:port``.
"""
import fcntl
import logging
import os
import termios

from flubber.io._exceptions import SerialError
from flubber.io._fd import FdStream

__all__ = ["SerialStream"]

log = logging.getLogger(__name__)


class SerialStream(FdStream):
    """A serial port as a cooperative stream.

    :param port: device path (``/dev/ttyUSB0``) or pyserial URL.
    :param baudrate: bits per second.
    :param serial_options: further keyword arguments of
        :func:`serial.serial_for_url` (``bytesize``, ``parity``,
        ``stopbits``, ``rtscts``, ``exclusive``, ...).
    :raises SerialError: when pyserial is missing or cannot open the port.
    """

    error_class = SerialError

    def __init__(self, port, baudrate=9600, max_buffer_size=None, write_buffer_size=None, **serial_options):
        super().__init__(max_buffer_size=max_buffer_size, write_buffer_size=write_buffer_size)
        try:
            import serial
        except ImportError as exc:
            self._closed = True
            raise SerialError("SerialStream needs pyserial: pip install 'flubber[serial]'") from exc
        try:
            self._port = serial.serial_for_url(port, baudrate=baudrate, timeout=0, **serial_options)
        except (serial.SerialException, ValueError, OSError) as exc:
            self._closed = True
            raise SerialError("cannot open serial port %r: %s" % (port, exc)) from exc
        try:
            fd = self._port.fileno()
        except Exception as exc:
            self._port.close()
            self._closed = True
            raise SerialError("serial port %r has no file descriptor to wait on; use a device "
                              "path or a socket:// URL" % (port,)) from exc
        self.port = port
        self._wake_on_first_byte(fd)
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        self._adopt_fd(fd, private=False)

    @staticmethod
    def _wake_on_first_byte(fd):
        # pyserial sets VMIN=0, under which an empty read returns 0 bytes (looks
        # like end of stream) instead of EAGAIN; VMIN=1 restores EAGAIN.
        try:
            attrs = termios.tcgetattr(fd)
        except termios.error:
            return  # not a terminal (socket:// and friends)
        attrs[6][termios.VMIN] = 1
        attrs[6][termios.VTIME] = 0
        termios.tcsetattr(fd, termios.TCSANOW, attrs)

    @property
    def serial(self):
        """The underlying :class:`serial.Serial` (to change settings such as ``baudrate``)."""
        return self._port

    def _close_transport(self):
        self._fd = -1
        self._port.close()
