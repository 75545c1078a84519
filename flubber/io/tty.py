"""TTY and standard streams: :class:`TTYStream`, :class:`StdinStream`,
:class:`StdoutStream`, :class:`StderrStream`.

The stream never leaks O_NONBLOCK to other processes sharing the terminal
(see :mod:`flubber.io._fd`), and a terminal put in raw mode is restored when
the stream closes and when the process exits.
"""
import atexit
import os
import sys
import termios
import tty as _tty

from flubber.io._exceptions import TTYError, translate_os_error
from flubber.io._fd import FdStream

__all__ = ["TTYStream", "StdinStream", "StdoutStream", "StderrStream"]


class TTYStream(FdStream):
    """Class representing a TTY stream on descriptor *fd*.

    :param fd: an open descriptor (a terminal, a pty, or a pipe for the
        standard streams); the stream works on a private copy and never
        closes *fd* itself.
    :param readable: True to read from the stream; False makes it write-only.
    """

    error_class = TTYError

    def __init__(self, fd, readable=False, **kwargs):
        super().__init__(**kwargs)
        if hasattr(fd, "fileno"):
            fd = fd.fileno()
        self._can_read = bool(readable)
        self._source_fd = fd
        self._saved_termios = None
        try:
            self._adopt_fd(fd)
        except OSError as exc:
            self._closed = True
            raise translate_os_error(exc, TTYError, "open descriptor %r" % (fd,)) from exc

    @property
    def isatty(self):
        """True when the descriptor is a terminal."""
        return os.isatty(self._source_fd)

    @property
    def winsize(self):
        """The current window size as ``(columns, rows)``.

        :raises TTYError: when the descriptor is not a terminal.
        """
        try:
            size = os.get_terminal_size(self._source_fd)
        except OSError as exc:
            raise translate_os_error(exc, TTYError, "winsize") from exc
        return size.columns, size.lines

    def set_raw(self):
        """Put the terminal in raw mode (no echo, no line editing, byte by byte).

        The previous mode comes back on :meth:`restore_mode`, on close and at exit.
        """
        try:
            saved = termios.tcgetattr(self._source_fd)
            _tty.setraw(self._source_fd)
        except termios.error as exc:
            raise TTYError("cannot set raw mode: %s (is the descriptor a terminal?)" % (exc,)) from exc
        if self._saved_termios is None:
            self._saved_termios = saved
            atexit.register(self.restore_mode)

    def restore_mode(self):
        """Restore the terminal mode saved by :meth:`set_raw` (no-op otherwise)."""
        saved, self._saved_termios = self._saved_termios, None
        if saved is not None:
            try:
                termios.tcsetattr(self._source_fd, termios.TCSAFLUSH, saved)
            except termios.error:
                pass
            atexit.unregister(self.restore_mode)

    def _close_transport(self):
        self.restore_mode()
        super()._close_transport()


class StdinStream(TTYStream):
    """Convenience class to use stdin as a cooperative (readable) stream."""

    _can_write = False

    def __init__(self, **kwargs):
        super().__init__(sys.stdin.fileno(), readable=True, **kwargs)


class StdoutStream(TTYStream):
    """Convenience class to use stdout as a cooperative (write-only) stream."""

    def __init__(self, **kwargs):
        sys.stdout.flush()
        super().__init__(sys.stdout.fileno(), readable=False, **kwargs)


class StderrStream(TTYStream):
    """Convenience class to use stderr as a cooperative (write-only) stream."""

    def __init__(self, **kwargs):
        sys.stderr.flush()
        super().__init__(sys.stderr.fileno(), readable=False, **kwargs)
