"""The exceptions of :mod:`flubber.io`, and the one place OS errors are translated.

The tree mirrors how callers catch them::

    StreamError                  any stream failure (catch this one)
    +-- StreamClosedError        operation on a stream that was closed locally
    +-- StreamBufferFullError    a peer sent more than a buffer limit allows
    +-- IncompleteReadError      EOF before read_exactly() had its bytes
    +-- ConcurrentReadError      two greenlets read one stream at once
    +-- StreamTimeoutError       a deadline passed (also a builtin TimeoutError)
    +-- TCPError, PipeError, TTYError, SerialError
                                 OS errors of one transport (errno kept)
        +-- TCPTimeoutError, PipeTimeoutError
                                 a connect that timed out: both the transport's
                                 error and a StreamTimeoutError
        +-- TLSError             (under TCPError) a TLS handshake failed
            +-- TLSTimeoutError  ... did not finish in time (also a StreamTimeoutError)

A deadline given to a flubber.io call (``connect(timeout=...)``,
``flush(timeout)``) that passes raises a :class:`StreamTimeoutError`, which
is also the builtin :class:`TimeoutError`, as every timeout of flubber is.
A ``with gevent.Timeout(...)`` block of your own around a read still ends
with your :class:`gevent.Timeout`: flubber never catches it.
"""
import errno as _errno

__all__ = [
    "StreamError",
    "StreamClosedError",
    "StreamBufferFullError",
    "IncompleteReadError",
    "ConcurrentReadError",
    "StreamTimeoutError",
    "TCPError",
    "TCPTimeoutError",
    "TLSError",
    "TLSTimeoutError",
    "PipeError",
    "PipeTimeoutError",
    "TTYError",
    "SerialError",
]

#: errnos that mean the peer went away: a read sees them as end of stream.
PEER_GONE_ERRNOS = frozenset({_errno.ECONNRESET, _errno.ECONNABORTED, _errno.EPIPE, _errno.ESHUTDOWN})

#: errnos that only mean "try again later" on a non-blocking descriptor.
WOULD_BLOCK_ERRNOS = frozenset({_errno.EAGAIN, _errno.EWOULDBLOCK, _errno.EINPROGRESS, _errno.EINTR})


class StreamError(Exception):
    """Base class of every stream error.

    Raised by all stream and server operations. :attr:`errno` is the OS
    error number when the error came from the operating system (the original
    :class:`OSError` is chained as ``__cause__``), else ``None``.
    """

    def __init__(self, message, errno=None):
        super().__init__(message)
        self.errno = errno


class StreamClosedError(StreamError):
    """Raised by an operation on a stream that was closed.

    Also raised in a greenlet blocked in a read when another greenlet
    closes the stream. The message is ``"stream is closed"``; when the close
    was caused by an error, that error is the ``__cause__``.
    """

    def __init__(self, message="stream is closed", errno=None):
        super().__init__(message, errno)


class StreamBufferFullError(StreamError):
    """Raised when a read would need more than the buffer limit.

    The limit is the stream's :attr:`~flubber.io.BaseStream.max_buffer_size`,
    or the ``max_bytes`` of the call. The stream is closed: a peer that sends
    an endless line cannot grow memory without bound.
    """


class IncompleteReadError(StreamError):
    """Raised by :meth:`~flubber.io.BaseStream.read_exactly` on EOF before enough bytes.

    :attr:`partial` holds the bytes that did arrive; :attr:`expected` the
    number asked for.
    """

    def __init__(self, partial, expected):
        super().__init__("stream ended after %d of %d bytes" % (len(partial), expected))
        self.partial = partial
        self.expected = expected


class ConcurrentReadError(StreamError):
    """Raised when a greenlet reads a stream another greenlet is already reading.

    Interleaved reads would corrupt both results; give each stream one reader
    (or hand data between greenlets with a :class:`gevent.queue.Queue`).
    """

    def __init__(self, message="another greenlet is already reading this stream"):
        super().__init__(message)


class StreamTimeoutError(StreamError, TimeoutError):
    """Raised when a deadline given to a stream call passes.

    Also a builtin :class:`TimeoutError`. Raised by
    :meth:`~flubber.io.BaseStream.flush` with a *timeout* (the data stays
    queued) and, as :class:`TCPTimeoutError` or :class:`PipeTimeoutError`,
    by a connect whose *timeout* passed. Raise the timeout, or check that
    the peer reads (flush) or listens (connect).
    """


class TCPError(StreamError):
    """OS-level error on a TCP stream, server or connect (errno kept)."""


class TLSError(TCPError):
    """The TLS handshake of a TCP connection failed (a :class:`TCPError`).

    Raised by :meth:`~flubber.io.TCPClient.connect` with an ``ssl_context``
    when the server's certificate is refused (wrong CA, wrong name), the
    server does not speak TLS, or the handshake times out; on a TLS server it
    ends the connection of a client that failed the handshake (logged, the
    server goes on).
    """


class TCPTimeoutError(TCPError, StreamTimeoutError):
    """A TCP connect did not complete within its *timeout*.

    Raised by :meth:`~flubber.io.TCPClient.connect` and
    :func:`~flubber.io.connect_tcp`; both a :class:`TCPError` and a
    :class:`StreamTimeoutError` (so a builtin :class:`TimeoutError`).
    """


class TLSTimeoutError(TLSError, StreamTimeoutError):
    """A TLS handshake did not finish in time.

    Raised by :meth:`~flubber.io.TCPClient.connect` when the handshake takes
    longer than its *timeout* (on a server: ``handshake_timeout``); both a
    :class:`TLSError` and a :class:`StreamTimeoutError` (so a builtin
    :class:`TimeoutError`). Check that the peer speaks TLS on that port.
    """


class PipeError(StreamError):
    """OS-level error on a pipe (Unix domain socket) stream or server (errno kept)."""


class PipeTimeoutError(PipeError, StreamTimeoutError):
    """A pipe connect did not complete within its *timeout*.

    Raised by :meth:`~flubber.io.PipeClient.connect`; both a
    :class:`PipeError` and a :class:`StreamTimeoutError`.
    """


class TTYError(StreamError):
    """OS-level error on a TTY or standard stream (errno kept)."""


class SerialError(StreamError):
    """Error of a serial port: opening it with pyserial or reading/writing it."""


#: The timeout class of each transport's error class (others use :class:`StreamTimeoutError`).
TIMEOUT_CLASSES = {TCPError: TCPTimeoutError, PipeError: PipeTimeoutError}


def timeout_error(error_class, message):
    """Return the timeout error of the transport whose errors are *error_class*."""
    return TIMEOUT_CLASSES.get(error_class, StreamTimeoutError)(message)


def translate_os_error(exc, error_class, action):
    """Return *error_class* describing :class:`OSError` *exc* raised while *action*.

    The caller raises the result ``from exc`` so the cause stays visible.
    """
    detail = exc.strerror or str(exc)
    return error_class("%s failed: %s" % (action, detail), errno=exc.errno)
