# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""A line stream over a connected non-blocking TCP descriptor, in C (a benchmark prototype).

This is the prototype issue 21 asked for: the receive buffer, the line search
and the write buffer of :class:`flubber.io.BaseStream` done in C, the waiting
left to gevent exactly as flubber does it (a libev io watcher and
``hub.wait``). It is built on demand by ``bench/proto/build.py`` and used
only by the ``flubber_c`` kind of ``bench/io_servers.py``; the flubber
package never imports it.

One greenlet reads and one writes (possibly the same); the descriptor stays
owned by the caller unless ``close_fd`` is true.
"""
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memchr, memcpy, memmove
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE

import os

from gevent import get_hub

cdef extern from "<sys/socket.h>" nogil:
    ssize_t c_recv "recv" (int fd, void *buf, size_t n, int flags)
    ssize_t c_send "send" (int fd, const void *buf, size_t n, int flags)
    int MSG_NOSIGNAL

cdef extern from "<errno.h>" nogil:
    int errno
    int EAGAIN, EWOULDBLOCK, EINTR, ECONNRESET, EPIPE, ENOTCONN

cdef extern from "<unistd.h>" nogil:
    int c_close "close" (int fd)

cdef enum:
    CHUNK = 65536

cdef bint _peer_gone(int err):
    return err == ECONNRESET or err == EPIPE or err == ENOTCONN


class LineTooLongError(ValueError):
    """More than ``max_line`` bytes arrived without a ``b"\\n"``; the stream is closed."""


class CStreamClosedError(OSError):
    """The stream was closed (locally) before or during the call."""


cdef class _Flusher:
    """Sends what the streams of one hub wrote, in one loop callback per hub turn."""
    cdef list streams
    cdef object loop

    def __init__(self, loop):
        self.streams = []
        self.loop = loop

    def run(self):
        """The loop callback: drain every stream written in this turn."""
        cdef CStream stream
        streams, self.streams = self.streams, []
        for stream in streams:
            stream.flush_scheduled = False
            if stream.wlen and not stream.closed:
                stream._drain()


cdef _Flusher _flusher_of(hub):
    flusher = getattr(hub, "_flubber_c_flusher", None)
    if flusher is None:
        flusher = hub._flubber_c_flusher = _Flusher(hub.loop)
    return flusher


cdef class CStream:
    """Lines in, bytes out on the connected non-blocking TCP descriptor *fd*.

    Iterating yields lines ending in ``b"\\n"`` (the rest, if any, at end of
    stream). :meth:`write` buffers; the buffer is sent before the reader
    waits, by one loop callback per hub turn, or at once past
    ``write_buffer_size`` (then the writer waits while the kernel refuses).
    """
    cdef int fd
    cdef bint close_fd, eof, closed, drained, flush_scheduled
    cdef char *rbuf
    cdef Py_ssize_t rcap, rstart, rend, max_line
    cdef char *wbuf
    cdef Py_ssize_t wcap, wlen, write_buffer_size
    cdef object hub, read_watcher, write_watcher
    cdef _Flusher flusher
    cdef public object error

    def __cinit__(self, int fd, Py_ssize_t max_line=1024 * 1024, Py_ssize_t write_buffer_size=64 * 1024,
                  bint close_fd=False):
        self.rbuf = <char *>malloc(CHUNK)
        self.wbuf = <char *>malloc(4096)
        if self.rbuf == NULL or self.wbuf == NULL:
            raise MemoryError()
        self.rcap = CHUNK
        self.wcap = 4096
        self.fd = fd
        self.close_fd = close_fd
        self.max_line = max_line
        self.write_buffer_size = write_buffer_size
        self.hub = get_hub()
        self.read_watcher = self.hub.loop.io(fd, 1)
        self.write_watcher = self.hub.loop.io(fd, 2)
        self.flusher = _flusher_of(self.hub)

    def __dealloc__(self):
        free(self.rbuf)
        free(self.wbuf)

    def fileno(self):
        """The descriptor (-1 once closed)."""
        return -1 if self.closed else self.fd

    # -- reading -------------------------------------------------------------

    def __iter__(self):
        return self

    def __next__(self):
        cdef char *start
        cdef char *nl
        cdef Py_ssize_t n
        while True:
            n = self.rend - self.rstart
            if n:
                start = self.rbuf + self.rstart
                nl = <char *>memchr(start, b'\n', n)
                if nl != NULL:
                    n = nl - start + 1
                    self.rstart += n
                    if self.rstart == self.rend:
                        self.rstart = self.rend = 0
                    return PyBytes_FromStringAndSize(start, n)
                if n > self.max_line:
                    self.close()
                    raise LineTooLongError("more than %d bytes without a newline" % self.max_line)
            if self.eof:
                if n:
                    start = self.rbuf + self.rstart
                    self.rstart = self.rend = 0
                    return PyBytes_FromStringAndSize(start, n)
                raise StopIteration
            self._fill()

    cdef int _fill(self) except -1:
        """Receive once into the buffer (waiting first if the last receive drained the socket)."""
        cdef ssize_t got
        cdef Py_ssize_t room
        if self.closed:
            raise CStreamClosedError("stream closed")
        if self.rstart and self.rcap - self.rend < CHUNK // 4:
            memmove(self.rbuf, self.rbuf + self.rstart, self.rend - self.rstart)
            self.rend -= self.rstart
            self.rstart = 0
        if self.rend == self.rcap:
            self._grow_rbuf()
        if self.drained:
            self.drained = False
            self._wait_readable()
        while True:
            room = self.rcap - self.rend
            got = c_recv(self.fd, self.rbuf + self.rend, room, 0)
            if got > 0:
                self.rend += got
                if got < room:
                    self.drained = True  # a short receive: the socket is empty
                return 0
            if got == 0:
                self.eof = True
                return 0
            if errno == EAGAIN or errno == EWOULDBLOCK or errno == EINTR:
                self._wait_readable()
                continue
            if _peer_gone(errno):
                self.eof = True
                return 0
            raise OSError(errno, os.strerror(errno))

    cdef int _grow_rbuf(self) except -1:
        cdef Py_ssize_t cap = self.rcap * 2
        cdef char *bigger
        if cap > self.max_line + CHUNK:
            cap = self.max_line + CHUNK
        bigger = <char *>realloc(self.rbuf, cap)
        if bigger == NULL:
            raise MemoryError()
        self.rbuf = bigger
        self.rcap = cap
        return 0

    cdef int _wait_readable(self) except -1:
        if self.wlen:
            self._drain()  # the replies go out before we wait for the next request
            if self.closed:
                raise CStreamClosedError("stream closed: sending failed") from self.error
        self.hub.wait(self.read_watcher)
        if self.closed:
            raise CStreamClosedError("stream closed while reading")
        return 0

    # -- writing -------------------------------------------------------------

    def write(self, bytes data not None):
        """Buffer *data*; send past ``write_buffer_size``, waiting while the kernel refuses."""
        cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
        cdef Py_ssize_t need = self.wlen + n
        cdef char *bigger
        if self.closed:
            raise CStreamClosedError("stream closed") from self.error
        if need > self.wcap:
            while self.wcap < need:
                self.wcap *= 2
            bigger = <char *>realloc(self.wbuf, self.wcap)
            if bigger == NULL:
                raise MemoryError()
            self.wbuf = bigger
        memcpy(self.wbuf + self.wlen, PyBytes_AS_STRING(data), n)
        self.wlen = need
        if need >= self.write_buffer_size:
            self._drain()
            while self.wlen >= self.write_buffer_size and not self.closed:
                self._wait_writable()
            if self.closed:
                raise CStreamClosedError("stream closed while writing") from self.error
            self._drain()  # the rest, below the limit, goes out when writable
        elif not self.flush_scheduled and not self.write_watcher.active:
            self.flush_scheduled = True
            if not self.flusher.streams:
                self.flusher.loop.run_callback(self.flusher.run)
            self.flusher.streams.append(self)

    cdef int _send_now(self) except -1:
        """One send() of the buffer; on a gone peer drop it and keep the error."""
        cdef ssize_t sent = c_send(self.fd, self.wbuf, self.wlen, MSG_NOSIGNAL)
        if sent >= 0:
            if sent < self.wlen:
                memmove(self.wbuf, self.wbuf + sent, self.wlen - sent)
            self.wlen -= sent
        elif errno != EAGAIN and errno != EWOULDBLOCK and errno != EINTR:
            self._abort(OSError(errno, os.strerror(errno)))
        return 0

    cdef _abort(self, error):
        """Close at once because of *error*: drop unsent bytes, wake a waiting reader."""
        self.error = error
        self.wlen = 0
        self.closed = True
        self.write_watcher.stop()
        if self.read_watcher.active:
            wake = CStreamClosedError("stream closed: %s" % (error,))
            wake.__cause__ = error
            self.hub.cancel_wait(self.read_watcher, wake)

    def _drain(self):
        """Send what the kernel takes now; the write watcher sends the rest when writable."""
        if self.wlen:
            self._send_now()
        if self.closed:
            return
        if self.wlen:
            if not self.write_watcher.active:
                self.write_watcher.start(self._drain)
        elif self.write_watcher.active:
            self.write_watcher.stop()

    cdef int _wait_writable(self) except -1:
        if self.write_watcher.active:
            self.write_watcher.stop()
        self.hub.wait(self.write_watcher)
        self._send_now()
        return 0

    def flush(self):
        """Block until every written byte is in the kernel (or the stream failed)."""
        while self.wlen and not self.closed:
            self._send_now()
            if self.wlen and not self.closed:
                self._wait_writable()

    def close(self):
        """Send what is buffered (bound it with ``gevent.Timeout``), stop the watchers; idempotent."""
        if self.closed:
            return
        try:
            self.flush()
        finally:
            self.closed = True
            self.write_watcher.stop()
            if self.read_watcher.active:
                self.hub.cancel_wait(self.read_watcher, CStreamClosedError("stream closed"))
            if self.close_fd:
                c_close(self.fd)
