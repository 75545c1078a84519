"""Exceptions of :mod:`flubber.loggers`, declared together.

The tree mirrors how callers catch them::

    LoggerError
    +-- LoggerConfigurationError (also ValueError)  bad argument, URL or table name
    +-- InvalidPointError        (also ValueError)  enqueue of a malformed point
    +-- UnknownCodenameError     (also KeyError)    codename not known here or in the database
    +-- QueueFullError                              the bounded queue is full
    |   +-- QueueFullTimeoutError (also TimeoutError) ... for all of block_timeout
    +-- LoggerStoppedError                          enqueue after stop()
    |   +-- LoggerFailedError                       the logger gave up on its own
    +-- TableError                                  the data table is missing or unusable
    +-- SpoolError                                  the spool file cannot be used
    +-- DatabaseError                               a database call of a helper failed

Errors of the database while the logger runs (the server is down, a
connection was killed, a lock is held) are never raised to the experiment
script: the logger keeps the points, retries with back-off and reports the
error in :meth:`~flubber.loggers.ContinuousLogger.status`.

Because the argument errors are also :class:`ValueError` (and an unknown
codename also a :class:`KeyError`), a script written for PyExpLabSys that
catches those keeps working.
"""


class LoggerError(Exception):
    """Base class of every error raised by :mod:`flubber.loggers`."""


class LoggerConfigurationError(LoggerError, ValueError):
    """The logger or :func:`~flubber.loggers.create_tables` got an argument
    it cannot use.

    Raised by the :class:`~flubber.loggers.ContinuousLogger` constructor
    (before anything is opened) for an unparsable database URL, a table name
    that is not a plain SQL identifier, an empty or repeated codename, a
    ``full_policy`` other than ``"block"`` or ``"raise"``, or a non-positive
    size or timeout. The message names the offending value.
    """


class InvalidPointError(LoggerError, ValueError):
    """A point cannot be logged.

    Raised by ``enqueue_point`` and ``enqueue_point_now`` at the call, so the
    bad point never enters the queue: the point is not a ``(unixtime,
    value)`` pair, the time is not a finite number of seconds between
    1970-01-01 00:00:01 and 2038-01-19 03:14:07 UTC (the range of a SQL
    ``TIMESTAMP``), or the value is not a real number (``bool``, ``str`` and
    ``None`` are refused; NaN and infinities are accepted and stored as
    ``NULL``).
    """


class UnknownCodenameError(LoggerError, KeyError):
    """A codename is not known.

    Raised by ``enqueue_point`` when the codename was not among the
    ``measurement_codenames`` of the constructor, and by ``start()`` when a
    codename does not have exactly one row in ``dateplots_descriptions``
    (create it with :func:`~flubber.loggers.create_tables`).
    """

    def __str__(self):
        # KeyError quotes its argument; the message reads better as is.
        return str(self.args[0]) if self.args else ""


class QueueFullError(LoggerError):
    """The logger's bounded queue holds ``max_queue`` points.

    Raised by ``enqueue_point`` at once under ``full_policy="raise"``, or
    under ``full_policy="block"`` when ``block_timeout`` passed without room.
    The point was not queued; nothing already queued is dropped. Raise
    ``max_queue``, add a spool, or find out why the database does not take
    the points (``status()["last_error"]``).
    """


class QueueFullTimeoutError(QueueFullError, TimeoutError):
    """The queue stayed full for the whole ``block_timeout``.

    Raised by ``enqueue_point`` under ``full_policy="block"``; a
    :class:`QueueFullError` and a builtin :class:`TimeoutError`, like every
    deadline that passes in flubber. The point was not queued.
    """


class LoggerStoppedError(LoggerError):
    """``enqueue_point`` was called after ``stop()``.

    Call ``start()`` again (a stopped logger can be restarted) or make a new
    logger.
    """


class LoggerFailedError(LoggerStoppedError):
    """The logger stopped on its own because it can never succeed.

    Raised by ``enqueue_point`` after the writer met an error that retrying
    cannot fix, for example a codename missing from ``dateplots_descriptions``
    found on a first connection made after ``start()`` returned. The cause is
    chained and in ``status()["last_error"]``; queued points are kept (in the
    spool, if there is one).
    """


class TableError(LoggerError):
    """The data table cannot take points.

    Raised by ``start()`` when the table does not exist or lacks one of the
    ``type``, ``time`` and ``value`` columns, and by
    :func:`~flubber.loggers.create_tables` when an existing table of that name
    has another layout. The message says how to create a suitable table.
    """


class SpoolError(LoggerError):
    """The on-disk spool cannot be used.

    Raised by ``start()`` when another process has the spool file open, when
    the file holds points for another database or table, or when it is not a
    flubber spool. Nothing was sent; the file is left as it is.
    """


class DatabaseError(LoggerError):
    """The database refuses what the caller asked for at once.

    Raised by :func:`~flubber.loggers.create_tables`, which runs its
    statements directly, when the database refuses them; and by
    ``start()`` when the server refuses the account or the database (wrong
    password, unknown database, missing privilege). The driver's exception
    is chained as ``__cause__`` or quoted in the message.
    """
