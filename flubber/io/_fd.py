"""A stream over a plain file descriptor (TTYs, standard streams, serial ports).

Making a descriptor non-blocking changes its *open file description*, which
other processes sharing the terminal see too (a shell then reads EAGAIN).
So the stream reopens a terminal through ``/proc/self/fd`` when it can:
a private description that may be non-blocking alone. When that is not
possible or not safe (a pipe, whose reopened end would miss the writer's
hang-up; a socket; no /proc), it duplicates the descriptor, sets
O_NONBLOCK and restores the original flags when the stream closes and at exit.
"""
import atexit
import fcntl
import os
import stat
import weakref

from flubber.io._stream import BaseStream

__all__ = ["FdStream"]

_restore_at_exit = weakref.WeakSet()


@atexit.register
def _restore_all():
    for stream in list(_restore_at_exit):
        stream._restore_flags()


def _is_fifo(fd):
    try:
        return stat.S_ISFIFO(os.fstat(fd).st_mode)
    except OSError:
        return False


def _private_nonblocking_fd(fd, writable, readable):
    """Return ``(new_fd, flags_to_restore)`` for a non-blocking private copy of *fd*."""
    mode = os.O_RDWR if (readable and writable) else (os.O_WRONLY if writable else os.O_RDONLY)
    proc_path = "/proc/self/fd/%d" % fd
    try:
        target = os.readlink(proc_path)
    except OSError:
        target = ""
    # Reopening /dev/ptmx would make a new pty; sockets cannot be reopened at all;
    # a pipe reopened through /proc behaves as a FIFO opened anew, and epoll then
    # never reports the hang-up of a writer that opened before it (no end of stream).
    if target.startswith("/") and target not in ("/dev/ptmx", "/dev/pts/ptmx") and not _is_fifo(fd):
        try:
            new_fd = os.open(proc_path, mode | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
            return new_fd, None
        except OSError:
            pass
    new_fd = os.dup(fd)
    flags = fcntl.fcntl(new_fd, fcntl.F_GETFL)
    if not flags & os.O_NONBLOCK:
        fcntl.fcntl(new_fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        return new_fd, flags
    return new_fd, None


class FdStream(BaseStream):
    """A :class:`~flubber.io.BaseStream` over a non-blocking file descriptor."""

    _fd = -1
    _flags_to_restore = None

    def _adopt_fd(self, fd, private=True):
        """Use *fd*: a private non-blocking copy when *private*, else *fd* itself (owned)."""
        if private:
            fd, self._flags_to_restore = _private_nonblocking_fd(fd, self._can_write, self._can_read)
            if self._flags_to_restore is not None:
                _restore_at_exit.add(self)
        self._fd = fd
        self._set_connected(fd)

    def _recv_some(self, nbytes):
        try:
            return os.read(self._fd, nbytes)
        except OSError as exc:
            if exc.errno == 5:  # EIO: the other side of a pty hung up
                return b""
            raise

    def _send_some(self, data):
        return os.write(self._fd, data)

    def _restore_flags(self):
        flags, self._flags_to_restore = self._flags_to_restore, None
        if flags is not None and self._fd >= 0:
            try:
                fcntl.fcntl(self._fd, fcntl.F_SETFL, flags)
            except OSError:
                pass

    def _close_transport(self):
        self._restore_flags()
        _restore_at_exit.discard(self)
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)
