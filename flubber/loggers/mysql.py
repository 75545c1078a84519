"""MySQL/MariaDB through mysqlclient (``MySQLdb``), the real deployment.

Every method blocks and is meant to run in gevent's thread pool (the logger
does that); mysqlclient releases the GIL while it waits for the server.

The statements, for a table made by :func:`~flubber.loggers.create_tables`::

    INSERT INTO `dateplots_x` (`type`,`time`,`value`,`origin`,`seq`) VALUES
        (3,'2024-05-01 12:00:00.250000',21.5,8123...,1),(...),...
        ON DUPLICATE KEY UPDATE `seq`=`seq`

one autocommitted statement (one round trip) per batch, in enqueue order, in
a session whose time zone is UTC so the ``TIMESTAMP(6)`` column stores the
exact instant. Rows already stored by an earlier attempt are skipped by the
unique key, so a batch whose reply was lost is simply sent again. The values are
rendered by type, never from caller text: type ids, origin and seq with
``%d``, the value with ``repr`` of a finite float (or ``NULL``), the time as
text made from the validated float by :class:`~flubber.loggers._batch.UTCText`.
That is what mysqlclient's own ``%s`` binding does, in one pass: rendering
five values per row through the driver costs about five times more and
keeps the server waiting. An older cinfdata table (no ``origin``/``seq``)
gets ``INSERT INTO t (type, time, value)``; a ``DATETIME`` time column gets
``FROM_UNIXTIME(...)`` so the server converts in its own time zone, as
PyExpLabSys did.
"""
import logging

from flubber.loggers._backend import (
    BAD_DATA,
    NEEDS_HUMAN,
    TRANSIENT,
    Backend,
    Session,
)
from flubber.loggers._exceptions import LoggerConfigurationError, TableError

try:
    import MySQLdb
except ImportError:  # pragma: no cover - mysqlclient is an extra
    MySQLdb = None

log = logging.getLogger(__name__)

#: Server error codes that mean the data itself is refused: the logger
#: isolates the point and rejects it alone (column cannot be null, duplicate
#: entry of a user-defined unique key, out of range, truncated, incorrect
#: date, incorrect value, too long, foreign key, value out of range, check).
BAD_DATA_CODES = frozenset((1048, 1062, 1264, 1265, 1292, 1366, 1406, 1452, 1690, 4025))
#: Server error codes a human must fix (access denied, unknown database,
#: unknown column, syntax, command denied, unknown table, read-only ...):
#: fatal at ``start()``, retried with back-off afterwards.
NEEDS_HUMAN_CODES = frozenset((1036, 1044, 1045, 1049, 1054, 1064, 1109, 1142, 1143, 1146,
                               1227, 1290, 1356, 1698, 1792))
#: "Unknown thread id" from ``KILL``: the stale connection is already gone.
ER_NO_SUCH_THREAD = 1094
#: "Table doesn't exist".
ER_NO_SUCH_TABLE = 1146


def error_code(exc):
    """Return the MySQL error number of *exc*, or None."""
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], int):
        return args[0]
    return None


def _require_driver():
    if MySQLdb is None:
        raise LoggerConfigurationError(
            "logging into MySQL/MariaDB needs mysqlclient: pip install 'flubber[mysql]' "
            "(it builds against libmariadb-dev and pkg-config)")


def _quote(name):
    """Back-quote an identifier already checked by ``check_identifier``."""
    return "`" + name + "`"


class MySQLBackend(Backend):
    """The MySQL/MariaDB database of a logger (see the module docstring).

    *connect_timeout* bounds a connection attempt, *query_timeout* every
    read and write on the connection (a black-holed network or a hung
    server then fails the call instead of hanging it for ever; the logger
    ends the stale server session before it sends the batch again).
    """

    kind = "mysql"

    def __init__(self, settings, table, descriptions_table="dateplots_descriptions",
                 connect_timeout=10, query_timeout=60):
        _require_driver()
        super().__init__(settings, table, descriptions_table)
        self.connect_timeout = connect_timeout
        self.query_timeout = query_timeout
        self._prefix = None

    # -- connection -----------------------------------------------------
    def _connect_args(self):
        settings = self.settings
        args = {
            "host": settings.host,
            "port": settings.port,
            "database": settings.database,
            "connect_timeout": max(1, int(round(self.connect_timeout))),
            "charset": "utf8mb4",
            # a dedup table needs no explicit COMMIT: each multi-row INSERT is
            # its own transaction, one round trip (resending it is harmless)
            "autocommit": self.layout is not None and self.layout.dedup,
        }
        if self.query_timeout:
            args["read_timeout"] = args["write_timeout"] = max(1, int(round(self.query_timeout)))
        if settings.username is not None:
            args["user"] = settings.username
        if settings.password is not None:
            args["password"] = settings.password
        return args

    def connect(self):
        """Open the connection (UTC session for a ``TIMESTAMP`` table) unless open."""
        if self.conn is not None:
            return
        conn = MySQLdb.connect(**self._connect_args())
        try:
            cursor = conn.cursor()
            if self.layout is not None and self.layout.time_kind == "utc_text":
                cursor.execute("SET time_zone = '+00:00'")
            self.session = self._read_session(conn, cursor)
            cursor.close()
        except Exception:
            conn.close()
            raise
        self.conn = conn

    @staticmethod
    def _read_session(conn, cursor):
        """Return the :class:`Session` of *conn* (user and server boot if readable)."""
        thread_id = conn.thread_id()
        try:
            cursor.execute(
                "SELECT `USER`, UNIX_TIMESTAMP() - (SELECT `VARIABLE_VALUE` FROM "
                "information_schema.GLOBAL_STATUS WHERE `VARIABLE_NAME` = 'UPTIME') "
                "FROM information_schema.PROCESSLIST WHERE `ID` = CONNECTION_ID()")
            row = cursor.fetchone()
        except MySQLdb.Error as exc:
            if error_code(exc) is None or error_code(exc) >= 2000:
                raise
            row = None
        if not row:
            return Session(thread_id)
        boot = float(row[1]) if row[1] is not None else None
        return Session(thread_id, row[0], boot)

    def reset(self):
        """Drop the connection: after an error its state is not trusted."""
        self.close()

    def close(self):
        """Close the connection; never raises."""
        conn, self.conn = self.conn, None
        self.session = None
        if conn is not None:
            try:
                conn.close()
            except Exception as exc:  # a dead socket: nothing left to close
                log.debug("closing the MySQL connection: %s", exc)

    def end_stale_session(self, session):
        """End the server connection *session* left by a failed call.

        Its transaction might still be running (a query that timed out on the
        client keeps waiting for a lock on the server). It is ended with
        ``KILL CONNECTION`` only if it is still there under the same account
        on the same server boot; returns True once it is gone.
        """
        if session is None or session.thread_id is None or self.session is None:
            return True
        if session.boot is not None and self.session.boot is not None \
                and abs(session.boot - self.session.boot) > 5.0:
            return True  # the server restarted: the old connection died with it
        if session.thread_id == self.session.thread_id:
            return True
        cursor = self.conn.cursor()
        try:
            cursor.execute("SELECT `USER` FROM information_schema.PROCESSLIST WHERE `ID` = %s",
                           (session.thread_id,))
            row = cursor.fetchone()
            if row is None:
                return True
            if session.user is not None and row[0] != session.user:
                return True  # the id is someone else's now
            log.info("ending stale server connection %d before sending again", session.thread_id)
            try:
                cursor.execute("KILL CONNECTION %s", (session.thread_id,))
            except MySQLdb.OperationalError as exc:
                if error_code(exc) != ER_NO_SUCH_THREAD:
                    raise
            return False
        finally:
            cursor.close()

    # -- setup ----------------------------------------------------------
    def _lookup(self, codenames):
        cursor = self.conn.cursor()
        try:
            found = {}
            query = "SELECT `id` FROM %s WHERE `codename` = %%s" % _quote(self.descriptions_table)
            for codename in codenames:
                cursor.execute(query, (codename,))
                found[codename] = [row[0] for row in cursor.fetchall()]
            return found
        except MySQLdb.ProgrammingError as exc:
            if error_code(exc) == ER_NO_SUCH_TABLE:
                return {codename: [] for codename in codenames}
            raise
        finally:
            cursor.close()

    def _columns(self):
        cursor = self.conn.cursor()
        try:
            try:
                cursor.execute("SHOW COLUMNS FROM %s" % _quote(self.table))
            except MySQLdb.ProgrammingError as exc:
                if error_code(exc) == ER_NO_SUCH_TABLE:
                    return {}, []
                raise
            columns = {row[0].lower(): row[1].lower() if isinstance(row[1], str) else row[1].decode().lower()
                       for row in cursor.fetchall()}
            cursor.execute("SHOW INDEX FROM %s" % _quote(self.table))
            keys = {}
            for row in cursor.fetchall():
                non_unique, key_name, column = row[1], row[2], row[4]
                if not int(non_unique):
                    keys.setdefault(key_name, []).append(column.lower())
            return columns, list(keys.values())
        finally:
            cursor.close()

    def _time_kind(self, declared_type):
        if declared_type.startswith("timestamp"):
            return "utc_text"
        if declared_type.startswith("datetime"):
            return "from_unixtime"
        raise TableError("column `time` of table %r has type %s; it must be TIMESTAMP or DATETIME"
                         % (self.table, declared_type))

    def resolve(self, codenames):
        """See :meth:`Backend.resolve`; also switches the session to UTC for a
        ``TIMESTAMP`` table and prepares the statement prefix."""
        layout = super().resolve(codenames)
        if layout.time_kind == "utc_text":
            cursor = self.conn.cursor()
            cursor.execute("SET time_zone = '+00:00'")
            cursor.close()
        self.conn.commit()
        self.conn.autocommit(layout.dedup)
        table = _quote(self.table)
        if layout.dedup:
            self._prefix = "INSERT INTO %s (`type`,`time`,`value`,`origin`,`seq`) VALUES " % table
        else:
            self._prefix = "INSERT INTO %s (`type`,`time`,`value`) VALUES " % table
        return layout

    # -- writing --------------------------------------------------------
    def render(self, batch):
        """Return the multi-row INSERT statement of *batch* (see the module docstring)."""
        types = self.types
        if self.layout.dedup:
            text = self._utc_text
            origin = self.origin
            rows = ",".join([
                "(%d,'%s',%s,%d,%d)" % (types[codename], text(unixtime),
                                        "NULL" if value is None else repr(value), origin, seq)
                for seq, codename, unixtime, value in batch])
            return self._prefix + rows + " ON DUPLICATE KEY UPDATE `seq`=`seq`"
        if self.layout.time_kind == "utc_text":
            text = self._utc_text
            rows = ",".join([
                "(%d,'%s',%s)" % (types[codename], text(unixtime), "NULL" if value is None else repr(value))
                for _seq, codename, unixtime, value in batch])
        else:
            rows = ",".join([
                "(%d,FROM_UNIXTIME(%.6f),%s)" % (types[codename], unixtime,
                                                 "NULL" if value is None else repr(value))
                for _seq, codename, unixtime, value in batch])
        return self._prefix + rows

    def write(self, rendered):
        """Insert a rendered batch into a dedup table, in one autocommitted
        statement; return the number of new rows."""
        cursor = self.conn.cursor()
        try:
            cursor.execute(rendered)
            return cursor.rowcount
        finally:
            cursor.close()

    def insert(self, rendered, batch):
        """Insert a rendered *batch* (table without dedup key); return the
        marker ``(first row id, type id, unixtime, value)`` of its first point."""
        cursor = self.conn.cursor()
        try:
            cursor.execute(rendered)
            first_id = cursor.lastrowid
        finally:
            cursor.close()
        _seq, codename, unixtime, value = batch[0]
        return (first_id, self.types[codename], unixtime, value)

    def was_committed(self, marker):
        """Read the marked first row back: True if it holds the marked point."""
        row_id = marker[0]
        if not row_id:
            log.warning("table %r has no AUTO_INCREMENT id: a batch whose COMMIT reply was lost "
                        "is sent again and may be stored twice", self.table)
            return False
        cursor = self.conn.cursor()
        try:
            cursor.execute("SELECT `type`, UNIX_TIMESTAMP(`time`), `value` FROM %s WHERE `id` = %%s"
                           % _quote(self.table), (row_id,))
            row = cursor.fetchone()
        finally:
            cursor.close()
        self.conn.rollback()
        return self.marker_matches(row, marker)

    # -- error meaning ----------------------------------------------------
    def classify(self, exc):
        """Map a MySQL error number to :data:`TRANSIENT`, :data:`NEEDS_HUMAN` or :data:`BAD_DATA`."""
        code = error_code(exc)
        if code in BAD_DATA_CODES or (MySQLdb is not None and isinstance(exc, MySQLdb.DataError)):
            return BAD_DATA
        if code in NEEDS_HUMAN_CODES:
            return NEEDS_HUMAN
        return TRANSIENT

    def commit_outcome_unknown(self, exc):
        """Always True: the server may have committed before it (or the network)
        failed to answer. :meth:`was_committed` settles it."""
        return True

    # -- helper for create_tables ----------------------------------------
    def create_tables(self, descriptions):
        """Create ``dateplots_descriptions`` and the data table if missing (see
        :func:`~flubber.loggers.create_tables`); add missing codenames."""
        cursor = self.conn.cursor()
        try:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS %s ("
                "`id` SMALLINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, "
                "`codename` CHAR(255) NOT NULL, "
                "`description` CHAR(255) NULL, "
                "UNIQUE KEY `codename` (`codename`)"
                ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4" % _quote(self.descriptions_table))
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS %s ("
                "`id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, "
                "`time` TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), "
                "`type` SMALLINT UNSIGNED NOT NULL, "
                "`value` DOUBLE NULL, "
                "`origin` BIGINT UNSIGNED NULL, "
                "`seq` BIGINT UNSIGNED NULL, "
                "UNIQUE KEY `origin_seq` (`origin`, `seq`), "
                "KEY `type_time` (`type`, `time`)"
                ") ENGINE=InnoDB" % _quote(self.table))
            ids = {}
            table = _quote(self.descriptions_table)
            for codename, description in descriptions.items():
                cursor.execute("SELECT `id` FROM %s WHERE `codename` = %%s" % table, (codename,))
                rows = cursor.fetchall()
                if not rows:
                    cursor.execute(
                        "INSERT INTO %s (`id`, `codename`, `description`) "
                        "SELECT COALESCE(MAX(`id`), 0) + 1, %%s, %%s FROM %s" % (table, table),
                        (codename, description))
                    cursor.execute("SELECT `id` FROM %s WHERE `codename` = %%s" % table, (codename,))
                    rows = cursor.fetchall()
                ids[codename] = rows[0][0]
            self.conn.commit()
            return ids
        finally:
            cursor.close()
