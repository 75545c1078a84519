"""What the logger needs from a database, and what both databases share.

A backend's methods block; :class:`~flubber.loggers.ContinuousLogger` calls
them one at a time in gevent's thread pool, so the hub keeps running while
the database is slow. A backend never retries: it raises, and the logger
decides with :meth:`Backend.classify` and
:meth:`Backend.commit_outcome_unknown` what the error means.
"""
import logging

from flubber.loggers._batch import UTCText
from flubber.loggers._exceptions import TableError, UnknownCodenameError
from flubber.loggers._settings import check_identifier

log = logging.getLogger(__name__)

#: Error class: the database or the way to it is down; retry with back-off.
TRANSIENT = "transient"
#: Error class: something a human must fix (missing table, access denied);
#: fatal at ``start()``, retried with back-off later so no point is lost.
NEEDS_HUMAN = "needs-human"
#: Error class: the database refuses the data itself; the logger splits the
#: batch until it finds the point and rejects that point alone.
BAD_DATA = "bad-data"

#: Columns every data table must have.
REQUIRED_COLUMNS = ("type", "time", "value")
#: Columns that, with a unique key on both, make writes idempotent.
DEDUP_COLUMNS = ("origin", "seq")


def capture(func, *args):
    """Run ``func(*args)`` and return ``(True, result)`` or ``(False, exception)``.

    Thread-pool tasks go through this: an exception comes back as a value
    and is raised again in the waiting greenlet, instead of gevent printing
    its traceback for every expected database error.
    """
    try:
        return True, func(*args)
    except Exception as exc:  # handed to the caller, never lost
        return False, exc


def unwrap(outcome):
    """Return the result of a :func:`capture` outcome or raise its exception."""
    ok, value = outcome
    if ok:
        return value
    raise value


class TableLayout:
    """What the logger found out about the data table at start.

    ``dedup`` -- the table has ``origin`` and ``seq`` under one unique key:
    every batch is written with "ignore duplicates" and may be sent again
    safely. Otherwise (an older cinfdata table) a batch whose COMMIT reply
    was lost is checked by its first row id before it is sent again.
    ``time_kind`` -- how times are written: ``"utc_text"`` (a ``TIMESTAMP``
    column, session time zone UTC, or an SQLite text column),
    ``"from_unixtime"`` (a MySQL ``DATETIME`` column, converted by the server
    in its time zone as PyExpLabSys did) or ``"unixtime"`` (a numeric SQLite
    column).
    """

    def __init__(self, dedup, time_kind, time_type=""):
        self.dedup = dedup
        self.time_kind = time_kind
        self.time_type = time_type

    def __repr__(self):
        return "<TableLayout dedup=%s time=%s (%s)>" % (self.dedup, self.time_kind, self.time_type)


class Session:
    """Identity of one server connection, to end it safely after a failure.

    ``thread_id`` is the server's connection id, ``user`` the account as the
    process list shows it, ``boot`` the server's start time (unix seconds,
    approximate): a different boot means the old connection is gone anyway
    and its id may belong to someone else now.
    """

    def __init__(self, thread_id, user=None, boot=None):
        self.thread_id = thread_id
        self.user = user
        self.boot = boot

    def as_dict(self):
        """Return the session as a JSON-friendly dict (kept in the spool)."""
        return {"thread_id": self.thread_id, "user": self.user, "boot": self.boot}

    @classmethod
    def from_dict(cls, data):
        """Inverse of :meth:`as_dict`."""
        return cls(data.get("thread_id"), data.get("user"), data.get("boot"))

    def __repr__(self):
        return "<Session %s user=%s boot=%s>" % (self.thread_id, self.user, self.boot)


class Backend:
    """Base class of the two databases; all methods block.

    The logger sets :attr:`origin` and calls, in worker threads, one at a
    time: :meth:`connect`, :meth:`resolve` (once per start), then
    :meth:`write` (idempotent tables) or :meth:`insert` + :meth:`commit`
    (others), :meth:`was_committed`, :meth:`end_stale_session`,
    :meth:`reset` after an error and :meth:`close` at the end. Only
    :meth:`render`, which touches no connection, may run at the same time
    as one of them.
    """

    #: ``"mysql"`` or ``"sqlite"``.
    kind = None

    def __init__(self, settings, table, descriptions_table="dateplots_descriptions"):
        self.settings = settings
        self.table = check_identifier(table, "table")
        self.descriptions_table = check_identifier(descriptions_table, "descriptions table")
        #: codename -> type id, filled by :meth:`resolve`.
        self.types = {}
        #: :class:`TableLayout`, filled by :meth:`resolve`.
        self.layout = None
        #: The logger's origin number, written with every point of a dedup table.
        self.origin = 0
        #: :class:`Session` of the open connection, or None.
        self.session = None
        #: The DB-API connection, or None.
        self.conn = None
        self._utc_text = UTCText()

    # -- connection -----------------------------------------------------
    def connect(self):
        """Open the connection unless it is open."""
        raise NotImplementedError

    def reset(self):
        """Bring the connection back to a known state after an error."""
        raise NotImplementedError

    def close(self):
        """Close the connection; never raises."""
        raise NotImplementedError

    def end_stale_session(self, session):
        """Make sure the server connection *session* is gone.

        Return True when it is gone (or cannot be ours), False when it was
        told to end and should be checked again shortly.
        """
        return True

    # -- setup ----------------------------------------------------------
    def resolve(self, codenames):
        """Look up the type id of every codename and inspect the table.

        Raises :class:`UnknownCodenameError` naming every codename without
        exactly one row in the descriptions table, :class:`TableError` when
        the table is missing or lacks a column.
        """
        found = self._lookup(sorted(codenames))
        bad = ["%r (%d rows)" % (name, len(ids)) for name, ids in sorted(found.items()) if len(ids) != 1]
        if bad:
            raise UnknownCodenameError(
                "codename %s must have exactly one row in %s of %s; add it with "
                "flubber.loggers.create_tables(%r, [...], ...) or pass create_tables=True"
                % (", ".join(bad), self.descriptions_table, self.settings.describe(), self.table))
        self.types = {name: ids[0] for name, ids in found.items()}
        columns, unique_keys = self._columns()
        if not columns:
            raise TableError(
                "table %r does not exist in %s; create it with flubber.loggers.create_tables(%r, "
                "codenames, ...) or pass create_tables=True" % (
                    self.table, self.settings.describe(), self.table))
        missing = [name for name in REQUIRED_COLUMNS if name not in columns]
        if missing:
            raise TableError(
                "table %r of %s has no column %s: it is not a dateplots table (type, time, value)"
                % (self.table, self.settings.describe(), ", ".join(missing)))
        dedup = any(sorted(key) == sorted(DEDUP_COLUMNS) for key in unique_keys)
        self.layout = TableLayout(dedup, self._time_kind(columns["time"]), columns["time"])
        if not dedup:
            log.warning(
                "table %r of %s has no unique key on (origin, seq): a batch whose COMMIT reply is "
                "lost is checked by row id before it is sent again (tables made by "
                "flubber.loggers.create_tables need no check)", self.table, self.settings.describe())
        return self.layout

    def _lookup(self, codenames):
        """Return ``{codename: [type ids]}`` from the descriptions table."""
        raise NotImplementedError

    def _columns(self):
        """Return ``({column: declared type}, [unique key column lists])``;
        an empty dict when the table does not exist."""
        raise NotImplementedError

    def _time_kind(self, declared_type):
        """Return the :class:`TableLayout` time kind of a ``time`` column."""
        raise NotImplementedError

    # -- writing --------------------------------------------------------
    def render(self, batch):
        """Return *batch* ready for the database (a statement, or rows).

        Uses no connection and may run in one thread while another thread
        writes the previous batch: the logger prepares batch k+1 while the
        server stores batch k.
        """
        raise NotImplementedError

    def write(self, rendered):
        """Insert a rendered batch into a dedup table and commit; return how
        many points were new (the others were stored by an earlier attempt)."""
        raise NotImplementedError

    def insert(self, rendered, batch):
        """Insert a rendered *batch* into a table without dedup key, without
        committing; return a marker for :meth:`was_committed`."""
        raise NotImplementedError

    def commit(self):
        """Commit the open transaction."""
        self.conn.commit()

    def rollback(self):
        """Roll the open transaction back (the connection stays usable)."""
        self.conn.rollback()

    def was_committed(self, marker):
        """Return True if the batch that :meth:`insert` marked with *marker*
        is in the table."""
        raise NotImplementedError

    # -- error meaning ----------------------------------------------------
    def classify(self, exc):
        """Return :data:`TRANSIENT`, :data:`NEEDS_HUMAN` or :data:`BAD_DATA` for *exc*."""
        raise NotImplementedError

    def commit_outcome_unknown(self, exc):
        """True when *exc*, raised by :meth:`commit`, leaves open whether the
        transaction was committed (the reply was lost)."""
        return False

    # -- helper for create_tables ----------------------------------------
    def create_tables(self, descriptions):
        """Create the descriptions and data tables if missing and add the
        codenames of *descriptions* (``{codename: description}``) that are
        not there yet; return ``{codename: type id}``."""
        raise NotImplementedError

    def marker_matches(self, row, marker):
        """True if *row* ``(type, unixtime, value)`` read back from the
        table is the marked point of *marker*."""
        if row is None:
            return False
        _row_id, type_id, unixtime, value = marker
        got_type, got_time, got_value = row
        if got_type is None or int(got_type) != type_id:
            return False
        if (got_value is None) != (value is None):
            return False
        if value is not None and float(got_value) != value:
            return False
        # a legacy TIMESTAMP without fraction rounds to the second
        return got_time is not None and abs(float(got_time) - unixtime) <= 1.0
