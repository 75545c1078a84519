"""Tables for a new setup, and the choice of database backend."""
import gevent

from flubber.loggers._backend import capture, unwrap
from flubber.loggers._exceptions import DatabaseError, LoggerConfigurationError, LoggerError
from flubber.loggers._settings import resolve_settings
from flubber.loggers.sqlite import SQLiteBackend

#: Name of the table that maps codenames to type ids, as in cinfdata.
DESCRIPTIONS_TABLE = "dateplots_descriptions"


def make_backend(settings, table, descriptions_table=DESCRIPTIONS_TABLE, connect_timeout=10,
                 query_timeout=60):
    """Return the backend (not yet connected) for :class:`DatabaseSettings` *settings*."""
    if settings.kind == "mysql":
        from flubber.loggers.mysql import MySQLBackend
        return MySQLBackend(settings, table, descriptions_table, connect_timeout=connect_timeout,
                            query_timeout=query_timeout)
    return SQLiteBackend(settings, table, descriptions_table)


def normalize_descriptions(codenames):
    """Return ``{codename: description}`` from a list of codenames (each its
    own description) or a mapping; refuse empty or non-string codenames."""
    if isinstance(codenames, str):
        raise LoggerConfigurationError(
            "codenames must be a list of codenames or a {codename: description} mapping, "
            "not the string %r" % codenames)
    if hasattr(codenames, "items"):
        items = list(codenames.items())
    else:
        items = [(codename, codename) for codename in codenames]
    result = {}
    for codename, description in items:
        if not isinstance(codename, str) or not codename:
            raise LoggerConfigurationError("a codename must be a non-empty string, got %r" % (codename,))
        if len(codename) > 255:
            raise LoggerConfigurationError("codename %r is longer than 255 characters" % codename)
        result[codename] = description if description is None else str(description)
    return result


def create_tables(table, codenames, url=None, *, username=None, password=None, host=None, port=None,
                  database=None, sqlite_path=None, descriptions_table=DESCRIPTIONS_TABLE):
    """Create the tables of a new setup and return ``{codename: type id}``.

    Makes, when missing, ``dateplots_descriptions`` (a unique key on
    ``codename``) and the data table *table* in the cinfdata layout plus the
    columns that make every write idempotent::

        id      BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY
        time    TIMESTAMP(6)      -- microseconds, stored as UTC
        type    SMALLINT UNSIGNED -- dateplots_descriptions.id
        value   DOUBLE NULL       -- NULL for NaN and infinities
        origin  BIGINT UNSIGNED   -- the logger that sent the point
        seq     BIGINT UNSIGNED   -- its running number
        UNIQUE KEY (origin, seq), KEY (type, time)

    (SQLite: the same names; ``time`` is UTC text with microseconds.) Then
    adds a description row for each codename not yet there: *codenames* is a
    list (each codename is its own description) or a ``{codename:
    description}`` mapping. Existing tables and rows are left as they are,
    so calling it again is harmless.

    The database is named as for :class:`~flubber.loggers.ContinuousLogger`:
    *url*, or *host*/*port*/*database*, or by default the SQLite file
    ``cinfdata.sqlite3``. Runs in gevent's thread pool; raises
    :class:`~flubber.loggers.DatabaseError` (driver error chained) when the
    database refuses, :class:`~flubber.loggers.TableError` when an existing
    *table* is not a dateplots table.
    """
    settings = resolve_settings(url=url, host=host, port=port, username=username, password=password,
                                database=database, sqlite_path=sqlite_path)
    descriptions = normalize_descriptions(codenames)
    backend = make_backend(settings, table, descriptions_table)

    def work():
        backend.connect()
        try:
            ids = backend.create_tables(descriptions)
            backend.resolve(set(descriptions))
            return ids
        finally:
            backend.close()

    try:
        return unwrap(gevent.get_hub().threadpool.apply(capture, (work,)))
    except LoggerError:
        raise
    except Exception as exc:
        raise DatabaseError("creating the tables of %r in %s failed: %s"
                            % (table, settings.describe(), exc)) from exc
