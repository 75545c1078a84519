"""Measurement points into a database, from a greenlet, never losing one.

::

    from flubber.loggers import ContinuousLogger

    logger = ContinuousLogger("dateplots_dummy", "dummy", "dummy", ["dummy_sine_one"],
                              url="mysql://dummy:dummy@db.example.org/cinfdata",
                              spool="dummy.spool")
    logger.start()
    logger.enqueue_point_now("dummy_sine_one", 0.5)
    ...
    logger.stop()      # drains; returns how many points are left

:class:`ContinuousLogger` writes into the cinfdata layout
(``dateplots_descriptions`` and ``dateplots_<setup>``) on MySQL/MariaDB
through mysqlclient, or into an SQLite file (the embedded default, no server
needed). :func:`create_tables` makes the tables of a new setup,
:func:`describe_spool` tells what a spool file holds, :func:`parse_url`
and :func:`check_identifier` check a database URL and a table name. The
errors are exported here too; ``flubber db`` is the command line.
:mod:`flubber.loggers.mysql` and :mod:`flubber.loggers.sqlite` are the two
backends, :mod:`flubber.loggers.tables` the cinfdata table layout.
"""
from flubber.loggers._exceptions import (
    DatabaseError,
    InvalidPointError,
    LoggerConfigurationError,
    LoggerError,
    LoggerFailedError,
    LoggerStoppedError,
    QueueFullError,
    QueueFullTimeoutError,
    SpoolError,
    TableError,
    UnknownCodenameError,
)
from flubber.loggers._settings import check_identifier, parse_url
from flubber.loggers._spool import describe_spool
from flubber.loggers.continuous import FULL_POLICIES, ContinuousLogger
from flubber.loggers.tables import DESCRIPTIONS_TABLE, create_tables

__all__ = [
    "ContinuousLogger",
    "create_tables",
    "describe_spool",
    "check_identifier",
    "parse_url",
    "DESCRIPTIONS_TABLE",
    "FULL_POLICIES",
    "LoggerError",
    "LoggerConfigurationError",
    "InvalidPointError",
    "UnknownCodenameError",
    "QueueFullError",
    "QueueFullTimeoutError",
    "LoggerStoppedError",
    "LoggerFailedError",
    "TableError",
    "SpoolError",
    "DatabaseError",
]
