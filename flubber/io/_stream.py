"""BaseStream: cooperative reads and coalesced writes over a non-blocking descriptor.

A transport subclass provides a non-blocking file descriptor and three
primitives (``_recv_some``, ``_send_some``, ``_close_transport``; the first two
are bound as ``self._recv`` and ``self._send``, which a transport may rebind) and calls
:meth:`BaseStream._set_connected` once the descriptor is ready. Everything
else, buffering, searching, waiting and closing, lives here.
"""
import logging

import gevent
from gevent import get_hub, getcurrent
from gevent.event import Event

from flubber.io._buffer import ReceiveBuffer, compile_pattern
from flubber.io._busypoll import busy_poll
from flubber.io._exceptions import (
    PEER_GONE_ERRNOS,
    ConcurrentReadError,
    IncompleteReadError,
    StreamBufferFullError,
    StreamClosedError,
    StreamError,
    StreamTimeoutError,
    translate_os_error,
)
from flubber.io._lines import LineSplitter

__all__ = ["BaseStream"]

# The LineSplitters read_until* read with, by (delimiter, max_bytes): under
# "raise" a splitter keeps no state, so every stream shares them (a splitter
# per stream cost 200 bytes per waiting connection, one per call 0.5 us).
_READERS = {}
_MAX_READERS = 256


def _line_reader(delimiter, max_bytes):
    """Return the shared :class:`LineSplitter` for *delimiter* and *max_bytes*."""
    if isinstance(delimiter, (bytearray, memoryview)):
        delimiter = bytes(delimiter)
    reader = LineSplitter(delimiter, max_bytes)  # validates first
    if len(_READERS) >= _MAX_READERS:
        _READERS.clear()
    _READERS[(delimiter, max_bytes)] = reader
    return reader

log = logging.getLogger(__name__)

_READ = 1
_WRITE = 2
#: BaseStream._flush_scheduled while the write watcher waits to send the rest
_WATCHING = 2
#: Bytes asked of a receive after one that brought this many or fewer: the
#: result then fits Python's small-object allocator (a 64 KiB receive costs
#: a malloc and a shrinking realloc, about 1,200 instructions)
_SMALL_READ = 512 - 33


class _Flusher:
    """Sends what the streams of one hub wrote at the end of the hub's turn.

    One loop callback per turn serves every stream written in it (a callback
    per written stream cost more than the send it was for). A stream adds
    itself to ``_streams`` in :meth:`BaseStream.write` and schedules
    :meth:`_run` when the list was empty.
    """

    __slots__ = ("_loop", "_streams")

    def __init__(self, loop):
        self._loop = loop
        self._streams = []

    def _run(self):
        streams, self._streams = self._streams, []
        for stream in streams:
            if stream._flush_scheduled is not True:
                continue  # closed, or the write watcher sends the rest
            stream._flush_scheduled = False  # a closed stream is never True here
            if stream._wbuf:
                try:
                    stream._drain()
                except Exception:  # pragma: no cover - _drain closes the stream on OS errors
                    log.exception("flushing %r failed", stream)


def _flusher_of(hub):
    """The :class:`_Flusher` of *hub* (one per hub, so per thread); the hub's first stream also sets up its busy polling."""
    flusher = getattr(hub, "_flubber_flusher", None)
    if flusher is None:
        flusher = hub._flubber_flusher = _Flusher(hub.loop)
        if getattr(hub, "_flubber_busy_poller", None) is None:
            busy_poll(hub=hub)
    return flusher


class BaseStream:
    """Basic class for defining a stream-like transport.

    Reads block the calling greenlet until data is there; other greenlets
    keep running. Writes are collected in a write buffer and sent in one
    system call: before this stream's reader blocks, at the end of the
    current turn of the hub, on :meth:`flush`, or at once when the buffer
    passes :attr:`write_buffer_size`.

    Only one greenlet may read a stream at a time (a second one gets
    :class:`~flubber.io.ConcurrentReadError`); any number may write.
    Timeouts come from gevent: wrap a call in ``with gevent.Timeout(5):``.
    A read interrupted by a timeout loses nothing: the bytes received so far
    stay buffered for the next read.

    The stream is also a context manager (closes on exit) and an iterator of
    lines (``for line in stream`` or ``next(stream)``, each ending in
    ``b"\\n"`` except perhaps the last; a ``for`` loop may stop and the
    next read goes on where it stopped).
    """

    #: Largest number of received bytes a read may hold while it searches for
    #: its delimiter or pattern. Passing it raises
    #: :class:`~flubber.io.StreamBufferFullError` and closes the stream.
    #: A ``max_bytes`` argument replaces it for one call.
    max_buffer_size = 1024 * 1024

    #: Written bytes the stream collects before it sends them at once; past
    #: this, :meth:`write` blocks the calling greenlet until the kernel has
    #: taken enough of them (back-pressure from a slow peer).
    write_buffer_size = 64 * 1024

    #: Bytes asked of the operating system by one receive call. After a
    #: receive that brought 479 bytes or fewer the next asks for 479 (small
    #: requests and answers then cost no large allocation); one that fills
    #: that goes back to this size.
    read_chunk_size = 64 * 1024

    #: Seconds :meth:`close` waits for buffered writes to go out.
    close_timeout = 5.0

    #: The exception class OS errors of this transport become.
    error_class = StreamError

    _can_read = True
    _can_write = True

    #: True where a receive shorter than asked means nothing more is waiting
    #: (a stream socket): the next read then waits for the loop to report
    #: the descriptor readable instead of trying a receive that fails.
    _short_read_drains = False
    _drained = False
    # connected and open, and readable / writable: the one test of a read's
    # and of write()'s fast path
    _read_ready = False
    _write_ready = False

    def __init__(self, max_buffer_size=None, write_buffer_size=None):
        # the sizes are copied onto the instance: Python 3.11 specialises a
        # read of an instance attribute, not of a class attribute through it
        self.max_buffer_size = self.max_buffer_size if max_buffer_size is None else max_buffer_size
        self.write_buffer_size = self.write_buffer_size if write_buffer_size is None else write_buffer_size
        self.read_chunk_size = self.read_chunk_size
        self._rbuf = ReceiveBuffer()
        # written bytes not yet sent: a list of bytes-like pieces and their total
        # (a whole line goes to send() as the object written; pieces are joined once)
        self._wbuf = []
        self._wlen = 0
        self._closed = False
        self._connected = False
        self._eof = False
        self._drained = False
        self._small_reads = False
        self._reader = None
        self._fileno = -1
        self._hub = get_hub()
        self._flusher = _flusher_of(self._hub)
        # the transport's primitives, bound once (a transport may rebind them,
        # e.g. to a socket's own recv and send)
        self._recv = self._recv_some
        self._send = self._send_some
        self._read_watcher = None
        self._write_watcher = None
        # who sends the written bytes: False nobody yet, True this turn's flush,
        # _WATCHING the write watcher (the kernel took less than offered)
        self._flush_scheduled = False
        self._write_progress = Event()
        self._writers_waiting = 0
        #: The error that closed the stream, if an error did (else ``None``).
        self.error = None

    # -- state -------------------------------------------------------------

    @property
    def readable(self):
        """True if the stream can be read from."""
        return self._can_read and not self._closed

    @property
    def writable(self):
        """True if the stream can be written to."""
        return self._can_write and not self._closed

    @property
    def closed(self):
        """True once the stream is closed; every operation then raises
        :class:`~flubber.io.StreamClosedError`."""
        return self._closed

    @property
    def connected(self):
        """True once the transport is connected (writes go out)."""
        return self._connected

    @property
    def at_eof(self):
        """True when the peer has closed its side and nothing is left to read."""
        self._rbuf.settle()
        return self._eof and not self._rbuf

    def fileno(self):
        """The underlying file descriptor (-1 before connect and after close)."""
        return self._fileno

    def _set_connected(self, fileno=None):
        """Mark the stream connected on descriptor *fileno* (internal API).

        Writes made before are sent now, in order.
        """
        if self._closed:
            raise StreamClosedError()
        if fileno is not None:
            self._fileno = fileno
        loop = self._hub.loop
        self._read_watcher = loop.io(self._fileno, _READ)
        self._write_watcher = loop.io(self._fileno, _WRITE)
        self._connected = True
        self._read_ready = self._can_read
        self._write_ready = self._can_write
        if self._wbuf:
            self._drain()

    def _check_open(self):
        if self._closed:
            raise StreamClosedError() from self.error

    # -- primitives of a transport -----------------------------------------

    def _recv_some(self, nbytes):  # pragma: no cover - abstract
        """Return up to *nbytes* bytes, ``b""`` at EOF; raise BlockingIOError when none yet.

        Bound once as ``self._recv`` when the stream is made; a transport that
        changes how it receives assigns ``self._recv`` (and ``self._send``).
        """
        raise NotImplementedError

    def _send_some(self, data):  # pragma: no cover - abstract
        """Send a prefix of *data*; return its length; raise BlockingIOError when full."""
        raise NotImplementedError

    def _close_transport(self):  # pragma: no cover - abstract
        """Release the descriptor."""
        raise NotImplementedError

    # -- reading -----------------------------------------------------------

    def _enter_read(self):
        if self._reader is not None:
            raise ConcurrentReadError()
        if self._rbuf._lent is not None:
            self._rbuf.settle()
        if self._closed:
            raise StreamClosedError() from self.error
        if not self._connected:
            raise StreamError("stream is not connected yet: connect it before reading")
        if not self._can_read:
            raise StreamError("%s is not readable" % type(self).__name__)
        self._reader = True  # a read is under way (only ever compared with None)

    def _fill(self):
        """Receive one chunk into the buffer; return False at end of stream."""
        data = self._receive()
        if data:
            self._rbuf.feed(data)
            return True
        return False

    def _receive(self):
        """Receive one chunk, waiting for it; ``b""`` at end of stream."""
        if self._eof:
            return b""
        if self._drained:
            # the last receive emptied the socket: ask the loop, not the kernel
            # (a receive now would only fail with EAGAIN)
            self._drained = False
            if not self._wbuf or self._drain(True) is not False:
                watcher = self._read_watcher  # _wait_readable, inline on this path
                if watcher is None:
                    raise StreamClosedError() from self.error
                self._hub.wait(watcher)
                if self._closed:
                    raise StreamClosedError() from self.error
        recv = self._recv
        size = self.read_chunk_size
        if self._small_reads and size > _SMALL_READ:
            size = _SMALL_READ
        while True:
            try:
                data = recv(size)
            except (BlockingIOError, InterruptedError):
                if self._wbuf:
                    self._drain()
                self._wait_readable()
                continue
            except OSError as exc:
                if exc.errno in PEER_GONE_ERRNOS:
                    # a reset is an end of stream; keep the cause for the curious
                    self.error = translate_os_error(exc, self.error_class, "read")
                    self._eof = True
                    return b""
                raise self._fail(exc, "read") from exc
            if not data:
                self._eof = True
            elif len(data) < size:
                self._small_reads = len(data) <= _SMALL_READ
                if self._short_read_drains:
                    self._drained = True
            else:
                self._small_reads = False  # more may wait: ask for a whole chunk next
            return data

    def _wait_readable(self):
        watcher = self._read_watcher
        if watcher is None:
            raise StreamClosedError() from self.error
        self._hub.wait(watcher)
        if self._closed:
            raise StreamClosedError() from self.error

    def _overflow(self, limit):
        error = StreamBufferFullError(
            "more than %d bytes arrived without the end of the read; raise max_bytes "
            "(or the stream's max_buffer_size) if such long reads are expected" % limit
        )
        self._close(error)
        return error

    def read_bytes(self, nbytes):
        """Read at most *nbytes* bytes.

        Returns as soon as any bytes are available; ``b""`` only at end of
        stream.

        :raises ValueError: *nbytes* is negative.
        :raises StreamClosedError: the stream was closed locally, before or
            during the call (a close caused by an error chains that error).
        :raises ConcurrentReadError: another greenlet is reading this stream.
        :raises StreamError: the stream is not connected or not readable; an
            OS error becomes the transport's subclass (:class:`TCPError`,
            :class:`PipeError`, ...) with its errno, and closes the stream.
        """
        if nbytes < 0:
            raise ValueError("nbytes must be >= 0, got %r" % (nbytes,))
        self._enter_read()
        try:
            if not self._rbuf and nbytes:
                self._fill()
            return self._rbuf.take(nbytes)
        finally:
            self._reader = None

    def read_exactly(self, nbytes):
        """Read exactly *nbytes* bytes.

        :raises IncompleteReadError: if the stream ends first; its
            ``partial`` holds the bytes that arrived (they are consumed).
        :raises StreamBufferFullError: more than :attr:`max_buffer_size` (or
            *nbytes*, if larger) bytes would have to be held; the stream is closed.
        :raises ValueError: *nbytes* is negative.
        :raises StreamClosedError: the stream was closed locally, before or
            during the call (a close caused by an error chains that error).
        :raises ConcurrentReadError: another greenlet is reading this stream.
        :raises StreamError: the stream is not connected or not readable; an
            OS error becomes the transport's subclass (:class:`TCPError`,
            :class:`PipeError`, ...) with its errno, and closes the stream.
        """
        if nbytes < 0:
            raise ValueError("nbytes must be >= 0, got %r" % (nbytes,))
        self._enter_read()
        try:
            rbuf = self._rbuf
            while len(rbuf) < nbytes:
                if len(rbuf) > max(self.max_buffer_size, nbytes):
                    raise self._overflow(max(self.max_buffer_size, nbytes))
                if not self._fill():
                    raise IncompleteReadError(rbuf.take_all(), nbytes)
            return rbuf.take(nbytes)
        finally:
            self._reader = None

    def read_until(self, delimiter, max_bytes=None):
        """Read until *delimiter* is found; the result ends with it.

        At end of stream without a delimiter, returns what is left (like
        :meth:`io.IOBase.readline`), then ``b""``.

        :param max_bytes: longest result allowed (default
            :attr:`max_buffer_size`); a longer one raises
            :class:`~flubber.io.StreamBufferFullError` and closes the stream.
        :raises StreamBufferFullError: no delimiter within *max_bytes*; the
            stream is closed.
        :raises ValueError: *delimiter* is empty.
        :raises StreamClosedError: the stream was closed locally, before or
            during the call (a close caused by an error chains that error).
        :raises ConcurrentReadError: another greenlet is reading this stream.
        :raises StreamError: the stream is not connected or not readable; an
            OS error becomes the transport's subclass (:class:`TCPError`,
            :class:`PipeError`, ...) with its errno, and closes the stream.
        """
        if not delimiter:
            raise ValueError("delimiter must not be empty")
        return self._read_line(delimiter, max_bytes)

    def read_until_regex(self, regex, max_bytes=None):
        """Read until the regular expression *regex* (bytes or compiled) matches.

        The result ends with the match. End of stream and *max_bytes* behave
        as in :meth:`read_until`. Compiled patterns are cached.

        :raises StreamBufferFullError: no match within *max_bytes*; the
            stream is closed.
        :raises StreamClosedError: the stream was closed locally, before or
            during the call (a close caused by an error chains that error).
        :raises ConcurrentReadError: another greenlet is reading this stream.
        :raises StreamError: the stream is not connected or not readable; an
            OS error becomes the transport's subclass (:class:`TCPError`,
            :class:`PipeError`, ...) with its errno, and closes the stream.
        """
        return self._read_line(compile_pattern(regex)[0], max_bytes)

    def _read_line(self, delimiter, max_bytes):
        """Read one line through a :class:`~flubber.io.LineSplitter`; shared by read_until*."""
        rbuf = self._rbuf
        data = rbuf._data
        pos = rbuf._pos
        if len(data) > pos and data.__class__ is bytes and delimiter.__class__ is bytes and self._reader is None \
                and not self._closed and rbuf._lent is None:
            # a line held whole in the received chunk (bytes, read from _pos on) is
            # cut out here; nothing can block, so there is no reader to register
            end = data.find(delimiter, pos)
            if end >= 0:
                end += len(delimiter)
                if end - pos <= (self.max_buffer_size if max_bytes is None else max_bytes):
                    rbuf._scan_key = None
                    if end == len(data):
                        rbuf._data = b""
                        rbuf._pos = 0
                        return data[pos:] if pos else data
                    rbuf._pos = end
                    return data[pos:end]
        return self._read_held_or_next(delimiter, max_bytes)

    def _read_held_or_next(self, delimiter, max_bytes):
        """_read_line past its first fast path: receive when empty, else search; the splitter for the rest."""
        if self._reader is not None or not self._read_ready:
            self._enter_read()  # raises the error that applies
        if self._rbuf._lent is not None:
            self._rbuf.settle()
        self._reader = True  # a read is under way (only ever compared with None)
        try:
            limit = self.max_buffer_size if max_bytes is None else max_bytes
            if delimiter.__class__ is bytes:
                # the usual cases without the splitter: a chunk that is one whole
                # line goes back as it came; a line held whole in the buffer is cut
                rbuf = self._rbuf
                if len(rbuf._data) == rbuf._pos:  # empty (no call to __bool__ on this path)
                    data = self._receive()
                    size = len(delimiter)
                    if len(data) <= limit and len(data) >= size and data.find(delimiter) == len(data) - size:
                        return data
                    if data:
                        rbuf.feed(data)
                end = rbuf.find_delimiter(delimiter)
                if 0 <= end <= limit:
                    return rbuf.take(end)
            try:
                reader = _READERS.get((delimiter, limit))
            except TypeError:  # an unhashable delimiter (bytearray)
                reader = None
            if reader is None:
                reader = _line_reader(delimiter, limit)
            try:
                return reader.read_line(self._fill, self._rbuf)
            except StreamBufferFullError:
                raise self._overflow(limit) from None
        finally:
            self._reader = None

    def read_until_eof(self, max_bytes=None):
        """Read everything until the peer closes its side.

        More than *max_bytes* (default :attr:`max_buffer_size`) raises
        :class:`~flubber.io.StreamBufferFullError`.

        :raises StreamBufferFullError: more than *max_bytes* arrived; the
            stream is closed.
        :raises StreamClosedError: the stream was closed locally, before or
            during the call (a close caused by an error chains that error).
        :raises ConcurrentReadError: another greenlet is reading this stream.
        :raises StreamError: the stream is not connected or not readable; an
            OS error becomes the transport's subclass (:class:`TCPError`,
            :class:`PipeError`, ...) with its errno, and closes the stream.
        """
        self._enter_read()
        try:
            limit = self.max_buffer_size if max_bytes is None else max_bytes
            while self._fill():
                if len(self._rbuf) > limit:
                    raise self._overflow(limit)
            return self._rbuf.take_all()
        finally:
            self._reader = None

    def __iter__(self):
        # a generator, not self: resuming it costs less per line than calling
        # __next__. The lines held whole in the buffer are cut at once (in C)
        # and handed out by a list iterator the generator delegates to, so a
        # line costs no bytecode here; any other read settles the buffer first,
        # which ends that iterator.
        rbuf = self._rbuf
        while True:
            if rbuf._lent is not None:
                rbuf.settle()
            if len(rbuf._data) > rbuf._pos and self._reader is None and not self._closed:
                lent = rbuf.lend_lines(self.max_buffer_size)
                if lent is not None:
                    yield from lent
                    continue  # the loop's top settles what was given out
            # no whole line held: receive, or find the line the above left
            line = self._read_held_or_next(b"\n", None)
            if not line:
                return
            yield line

    def __next__(self):
        line = self._read_line(b"\n", None)
        if not line:
            raise StopIteration
        return line

    # -- writing -----------------------------------------------------------

    def write(self, data):
        """Write *data* (bytes-like) on the stream.

        Returns at once while the write buffer holds less than
        :attr:`write_buffer_size`; past that, blocks until the kernel took
        enough. Before the stream is connected, data is buffered and sent in
        order on connect.

        :raises TypeError: *data* is a :class:`str` (encode it first).
        :raises StreamClosedError: the stream was closed, before or while
            this call waited for the kernel (a close caused by an error chains
            that error).
        :raises StreamError: the stream is not writable. An OS error while
            sending closes the stream with the transport's subclass
            (:class:`TCPError`, ...); the next call raises it as the cause
            of a :class:`StreamClosedError`.
        """
        if data.__class__ is bytes and self._flush_scheduled:
            # not the first write of this turn of the hub: the stream is open
            # and connected (closing unschedules), and the limit is known
            if not data:
                return
            self._wbuf.append(data)
            self._wlen += len(data)
            if self._wlen < self.write_buffer_size:
                return
        else:
            if data.__class__ is not bytes or not self._write_ready:
                if self._closed:
                    raise StreamClosedError() from self.error
                if isinstance(data, str):
                    raise TypeError("write() takes bytes, not str: encode it first, e.g. text.encode()")
                if not self._can_write:
                    raise StreamError("%s is not writable" % type(self).__name__)
                data = bytes(data)  # the caller may change a bytearray after the call
            if not data:
                return
            self._wbuf.append(data)
            self._wlen += len(data)
            if not self._connected:
                return  # connecting sends what was written
        if self._wlen >= self.write_buffer_size:
            self._drain()
            if self._wlen >= self.write_buffer_size:
                self._wait_written(self.write_buffer_size)
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            flusher = self._flusher  # flusher.add(self), inline
            if not flusher._streams:
                flusher._loop.run_callback(flusher._run)
            flusher._streams.append(self)

    def flush(self, timeout=None):
        """Block until everything written is in the kernel.

        :param timeout: seconds to wait at most (``None``: no limit).
        :raises StreamTimeoutError: *timeout* passed; the data stays queued.
        :raises StreamClosedError: the stream was closed, before or while
            this call waited.
        :raises StreamError: the stream is not connected yet.

        .. versionchanged:: 0.2
           A passed *timeout* raises :class:`~flubber.io.StreamTimeoutError`
           (a :class:`TimeoutError`) instead of :class:`gevent.Timeout`.
        """
        self._check_open()
        if not self._connected:
            raise StreamError("stream is not connected yet: connect it before flush()")
        if self._wbuf:
            self._drain()
        if self._wbuf:
            timer = gevent.Timeout(timeout)
            timer.start()  # no timer at all when timeout is None
            try:
                self._wait_written(1)
            except gevent.Timeout as exc:
                if exc is not timer:
                    raise
                raise StreamTimeoutError("flush: %d bytes still unsent after %g s; the peer is not reading"
                                         % (self._wlen, timeout)) from None
            finally:
                timer.close()

    def _wait_written(self, below):
        """Block until fewer than *below* bytes wait in the write buffer."""
        self._writers_waiting += 1
        try:
            while self._wlen >= below:
                if self._closed:
                    raise StreamClosedError() from self.error
                self._write_progress.clear()
                self._write_progress.wait()
            self._check_open()
        finally:
            self._writers_waiting -= 1

    def _drain(self, peer_gone_ok=False):
        """Send what the kernel takes now; let the hub send the rest when writable.

        With *peer_gone_ok*, a peer that is gone (EPIPE, ECONNRESET) leaves
        the stream open and the bytes queued, and the call returns False: the
        read that was about to wait receives the end of stream instead.
        """
        wbuf = self._wbuf
        send = self._send
        while wbuf:
            if len(wbuf) == 1:
                data = wbuf[0]
            else:  # one send for all pieces
                data = b"".join(wbuf)
                wbuf[:] = [data]
            try:
                sent = send(data)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                if peer_gone_ok and exc.errno in PEER_GONE_ERRNOS:
                    return False
                error = translate_os_error(exc, self.error_class, "write")
                error.__cause__ = exc
                self._close(error)
                return
            if sent == len(data):
                wbuf.clear()
                self._wlen = 0
            else:
                wbuf[0] = memoryview(data)[sent:]
                self._wlen = len(data) - sent
        if wbuf:
            if self._flush_scheduled is not _WATCHING:
                self._flush_scheduled = _WATCHING
                self._write_watcher.start(self._drain)
        elif self._flush_scheduled is _WATCHING:
            self._flush_scheduled = False
            self._write_watcher.stop()
        if self._writers_waiting:
            self._write_progress.set()

    # -- closing -----------------------------------------------------------

    def _fail(self, exc, action):
        """Close the stream because of OS error *exc*; return the error to raise."""
        error = translate_os_error(exc, self.error_class, action)
        error.__cause__ = exc
        self._close(error)
        return error

    def close(self, timeout=None):
        """Close the stream: send what is buffered (waiting at most *timeout*,
        default :attr:`close_timeout`), then release it. Idempotent.

        A greenlet blocked in a read of this stream gets
        :class:`~flubber.io.StreamClosedError`.
        """
        if self._closed:
            return
        if self._connected and self._wbuf and getcurrent() is not self._hub:
            try:
                self.flush(self.close_timeout if timeout is None else timeout)
            except StreamError as exc:
                log.debug("close(): %d unsent bytes dropped: %s", self._wlen, exc)
        self._close(None)

    def abort(self):
        """Close at once, dropping whatever is still unsent."""
        self._close(None)

    def _close(self, error):
        if self._closed:
            return
        self._closed = True
        self._read_ready = self._write_ready = self._flush_scheduled = False
        self._rbuf.settle()  # a line iterator stops
        if error is not None and self.error is None:
            self.error = error
        self._wbuf.clear()
        self._wlen = 0
        if self._write_watcher is not None:
            self._write_watcher.stop()
            self._write_watcher.close()
            self._write_watcher = None
        if self._writers_waiting:
            self._write_progress.set()
        read_watcher, self._read_watcher = self._read_watcher, None
        if read_watcher is None:
            self._close_transport()
            return
        wake = StreamClosedError()
        wake.__cause__ = self.error
        self._hub.cancel_waits_close_and_then([read_watcher], wake, self._close_transport)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
