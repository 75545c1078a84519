"""SQLite, the embedded default: no server, one file.

The layout mirrors cinfdata so the same scripts and queries work::

    dateplots_descriptions(id INTEGER PRIMARY KEY, codename TEXT UNIQUE, description TEXT)
    <table>(id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT, type INTEGER, value REAL,
            origin INTEGER, seq INTEGER, UNIQUE (origin, seq))

``time`` is UTC text with microseconds, ``'2024-05-01 12:00:00.250000'``
(SQLite's date functions read it: ``julianday(time)``). Batches go
in with ``executemany`` and ``?`` parameters, ``ON CONFLICT (origin, seq) DO
NOTHING`` so a batch sent twice is stored once. The file is in WAL mode, so
readers (a plotting script) never block the logger for long; a writer
holding the lock makes the logger wait up to ``busy_timeout`` and retry.

Like the MySQL backend, every method blocks and runs in gevent's thread
pool (the sqlite3 module releases the GIL inside SQLite).
"""
import logging
import sqlite3

from flubber.loggers._backend import BAD_DATA, NEEDS_HUMAN, TRANSIENT, Backend

log = logging.getLogger(__name__)

#: Phrases of ``sqlite3.OperationalError`` messages that need a human.
NEEDS_HUMAN_MESSAGES = ("no such table", "no such column", "readonly database", "syntax error",
                        "has no column", "unable to open", "not a database")


def _quote(name):
    """Double-quote an identifier already checked by ``check_identifier``."""
    return '"' + name + '"'


class SQLiteBackend(Backend):
    """The SQLite database of a logger (see the module docstring).

    *busy_timeout* is how long one statement waits for another connection's
    write lock before it fails and the logger retries with back-off.
    """

    kind = "sqlite"

    def __init__(self, settings, table, descriptions_table="dateplots_descriptions", busy_timeout=5.0):
        super().__init__(settings, table, descriptions_table)
        self.busy_timeout = busy_timeout
        self._insert = None

    # -- connection -----------------------------------------------------
    def connect(self):
        """Open the file (WAL mode) unless it is open."""
        if self.conn is not None:
            return
        conn = sqlite3.connect(self.settings.path, timeout=self.busy_timeout, check_same_thread=False)
        try:
            if self.settings.path != ":memory:":
                conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as exc:  # e.g. a file system without shared memory
            log.info("SQLite file %s stays in rollback-journal mode: %s", self.settings.path, exc)
        self.conn = conn

    def reset(self):
        """Roll back: an SQLite connection survives its errors (and an
        in-memory database would be lost with it)."""
        if self.conn is not None:
            try:
                self.conn.rollback()
            except sqlite3.Error as exc:
                log.debug("SQLite rollback failed, reopening: %s", exc)
                self.close()

    def close(self):
        """Close the file; never raises."""
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error as exc:
                log.debug("closing SQLite: %s", exc)

    # -- setup ----------------------------------------------------------
    def _lookup(self, codenames):
        query = "SELECT id FROM %s WHERE codename = ?" % _quote(self.descriptions_table)
        try:
            return {codename: [row[0] for row in self.conn.execute(query, (codename,))]
                    for codename in codenames}
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return {codename: [] for codename in codenames}
            raise

    def _columns(self):
        table = _quote(self.table)
        columns = {row[1].lower(): (row[2] or "").lower()
                   for row in self.conn.execute("PRAGMA table_info(%s)" % table)}
        keys = []
        for row in self.conn.execute("PRAGMA index_list(%s)" % table):
            name, unique = row[1], row[2]
            if unique:
                keys.append([info[2].lower() for info in
                             self.conn.execute("PRAGMA index_info(%s)" % _quote(name))])
        return columns, keys

    def _time_kind(self, declared_type):
        if any(word in declared_type for word in ("real", "floa", "doub", "int", "num")):
            return "unixtime"
        return "utc_text"

    def resolve(self, codenames):
        """See :meth:`Backend.resolve`; also prepares the INSERT statement."""
        layout = super().resolve(codenames)
        table = _quote(self.table)
        if layout.dedup:
            self._insert = ("INSERT INTO %s (type, time, value, origin, seq) VALUES (?, ?, ?, ?, ?) "
                            "ON CONFLICT (origin, seq) DO NOTHING" % table)
        else:
            self._insert = "INSERT INTO %s (type, time, value) VALUES (?, ?, ?)" % table
        self.conn.rollback()
        return layout

    # -- writing --------------------------------------------------------
    def render(self, batch):
        """Return the parameter rows of *batch* for ``executemany``."""
        types = self.types
        convert = self._utc_text if self.layout.time_kind == "utc_text" else float
        if self.layout.dedup:
            origin = self.origin
            return [(types[codename], convert(unixtime), value, origin, seq)
                    for seq, codename, unixtime, value in batch]
        return [(types[codename], convert(unixtime), value) for _seq, codename, unixtime, value in batch]

    def write(self, rendered):
        """Insert and commit rendered rows (dedup table); return the number of new rows."""
        before = self.conn.total_changes
        self.conn.executemany(self._insert, rendered)
        inserted = self.conn.total_changes - before
        self.conn.commit()
        return inserted

    def insert(self, rendered, batch):
        """Insert the rendered *batch* (table without dedup key); return the
        marker ``(row id, type id, unixtime, value)`` of its last point."""
        self.conn.executemany(self._insert, rendered)
        row_id = self.conn.execute("SELECT last_insert_rowid()").fetchone()[0]
        _seq, codename, unixtime, value = batch[-1]
        return (row_id, self.types[codename], unixtime, value)

    def was_committed(self, marker):
        """Read the marked row back: True if it holds the marked point."""
        if self.layout.time_kind == "utc_text":
            # julianday() reads the UTC text; its double keeps ~50 us, plenty here
            query = "SELECT type, (julianday(time) - 2440587.5) * 86400.0, value FROM %s WHERE rowid = ?"
        else:
            query = "SELECT type, time, value FROM %s WHERE rowid = ?"
        row = self.conn.execute(query % _quote(self.table), (marker[0],)).fetchone()
        self.conn.rollback()
        return self.marker_matches(row, marker)

    # -- error meaning ----------------------------------------------------
    def classify(self, exc):
        """Map an sqlite3 error to :data:`TRANSIENT`, :data:`NEEDS_HUMAN` or :data:`BAD_DATA`."""
        if isinstance(exc, (sqlite3.IntegrityError, sqlite3.DataError)):
            return BAD_DATA
        if isinstance(exc, sqlite3.Error):
            message = str(exc).lower()
            if any(phrase in message for phrase in NEEDS_HUMAN_MESSAGES):
                return NEEDS_HUMAN
        return TRANSIENT

    def commit_outcome_unknown(self, exc):
        """False: a failed SQLite COMMIT left the transaction uncommitted."""
        return False

    # -- helper for create_tables ----------------------------------------
    def create_tables(self, descriptions):
        """Create the descriptions and data tables if missing (see
        :func:`~flubber.loggers.create_tables`); add missing codenames."""
        conn = self.conn
        table = _quote(self.table)
        descriptions_table = _quote(self.descriptions_table)
        with conn:
            conn.execute("CREATE TABLE IF NOT EXISTS %s (id INTEGER PRIMARY KEY, "
                         "codename TEXT NOT NULL UNIQUE, description TEXT)" % descriptions_table)
            conn.execute("CREATE TABLE IF NOT EXISTS %s (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                         "time TEXT NOT NULL, type INTEGER NOT NULL, value REAL, "
                         "origin INTEGER, seq INTEGER, UNIQUE (origin, seq))" % table)
            conn.execute("CREATE INDEX IF NOT EXISTS %s ON %s (type, time)"
                         % (_quote(self.table + "_type_time"), table))
            ids = {}
            for codename, description in descriptions.items():
                row = conn.execute("SELECT id FROM %s WHERE codename = ?" % descriptions_table,
                                   (codename,)).fetchone()
                if row is None:
                    cursor = conn.execute("INSERT INTO %s (codename, description) VALUES (?, ?)"
                                          % descriptions_table, (codename, description))
                    row = (cursor.lastrowid,)
                ids[codename] = row[0]
        return ids
