"""The exceptions of :mod:`flubber.instruments`, declared together.

The tree mirrors how callers catch them::

    InstrumentError                 anything a line instrument or its share raises
    +-- AddressError                an address string is malformed (also a ValueError)
    +-- InstrumentTimeoutError      no reply within the request's timeout
    +-- InstrumentConnectionError   the connection cannot be opened or dropped mid-request
    +-- InstrumentReplyError        a reply cannot be decoded or parsed as a number
    +-- InstrumentLockError         the instrument's lock was not granted, or expired
    +-- InstrumentStoppedError      a request to an instrument that is not running

A failed request never leaves the instrument out of step: the next request
gets its own reply or its own error.
"""

__all__ = [
    "InstrumentError",
    "AddressError",
    "InstrumentTimeoutError",
    "InstrumentConnectionError",
    "InstrumentReplyError",
    "InstrumentLockError",
    "InstrumentStoppedError",
]


class InstrumentError(Exception):
    """Base class of every exception of :mod:`flubber.instruments`.

    Catch this one around :meth:`~flubber.instruments.LineInstrument.query`
    to handle any failed request.
    """


class AddressError(InstrumentError, ValueError):
    """Raised by :func:`~flubber.instruments.parse_address` for a malformed address.

    The message shows the accepted forms (``tcp://HOST:PORT``,
    ``serial:///dev/ttyUSB0?baudrate=9600``, ``pipe:///path``,
    ``sim://scpi``) and, for a mistyped option, the closest valid one.
    """


class InstrumentTimeoutError(InstrumentError):
    """Raised when the instrument did not reply within the request's timeout.

    The request failed; a reply that comes later is discarded, never given to
    the next request. Raise the ``timeout`` when the instrument is just slow.
    """


class InstrumentConnectionError(InstrumentError):
    """Raised when the connection cannot be opened, or closed during a request.

    The instrument reconnects on a later request, waiting a back-off that
    doubles up to :attr:`~flubber.instruments.LineInstrument.max_backoff`;
    a request made while it waits fails at once with this error, naming
    the last connection error.
    """


class InstrumentReplyError(InstrumentError):
    """Raised when a reply cannot be decoded (wrong ``encoding``) or parsed.

    :attr:`reply` holds the reply text (or bytes when it could not be decoded).
    """

    def __init__(self, message, reply=None):
        super().__init__(message)
        #: The reply that could not be used.
        self.reply = reply


class InstrumentLockError(InstrumentError):
    """Raised when :meth:`~flubber.instruments.LineInstrument.lock` is not granted in time,
    or by a request made under a lock that expired (its lease ran out)."""


class InstrumentStoppedError(InstrumentError):
    """Raised by a request to an instrument that is stopped: call ``start()`` first."""
