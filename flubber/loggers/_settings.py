"""Where the points go: database URLs, connection settings, SQL identifiers (no I/O)."""
import re
from urllib.parse import unquote, urlsplit

from flubber._config import Where, check_port
from flubber.loggers._exceptions import LoggerConfigurationError

#: A table or column name flubber accepts: letters, digits, ``_`` and ``$``,
#: at most 64 characters (the MySQL limit). Such a name needs no escaping
#: and is still back-quoted in every statement.
IDENTIFIER = re.compile(r"^[A-Za-z0-9_$]{1,64}$")

#: URL schemes of a MySQL/MariaDB server.
MYSQL_SCHEMES = ("mysql", "mariadb")
#: Default TCP port of a MySQL/MariaDB server.
DEFAULT_PORT = 3306
#: Default database, as in PyExpLabSys.
DEFAULT_DATABASE = "cinfdata"


def check_identifier(name, what="table"):
    """Return *name* if it is a plain SQL identifier, else raise
    :class:`LoggerConfigurationError` naming *what* it was meant to be."""
    if not isinstance(name, str) or not IDENTIFIER.match(name):
        raise LoggerConfigurationError(
            "%s name %r is not usable: use 1 to 64 letters, digits, '_' or '$'" % (what, name))
    return name


class DatabaseSettings:
    """Connection settings of one database, MySQL/MariaDB or SQLite.

    ``kind`` is ``"mysql"`` or ``"sqlite"``; a MySQL target has ``host``,
    ``port``, ``username``, ``password`` and ``database``; an SQLite target
    has ``path`` (``":memory:"`` for a private in-memory database).
    """

    def __init__(self, kind, host=None, port=DEFAULT_PORT, username=None, password=None,
                 database=DEFAULT_DATABASE, path=None):
        self.kind = kind
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.path = path

    def describe(self):
        """Return the target as a URL without the password, for messages and status."""
        if self.kind == "sqlite":
            return "sqlite:///" + self.path
        user = (self.username + "@") if self.username else ""
        return "mysql://%s%s:%d/%s" % (user, self.host, self.port, self.database)

    def __repr__(self):
        return "<DatabaseSettings %s>" % self.describe()


def parse_url(url):
    """Return the :class:`DatabaseSettings` of *url*.

    ``mysql://user:password@host:port/database`` (or ``mariadb://``; port
    and database optional, user and password percent-encoded) names a
    server; ``sqlite:///relative/file.db``, ``sqlite:////absolute/file.db``
    and ``sqlite:///:memory:`` name an SQLite database, as in SQLAlchemy.
    """
    if not isinstance(url, str):
        raise LoggerConfigurationError("the database URL must be a string, got %r" % (url,))
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        if parts.netloc:
            raise LoggerConfigurationError(
                "SQLite URL %r has a host; write sqlite:///relative/path.db or "
                "sqlite:////absolute/path.db" % url)
        path = parts.path[1:] if parts.path.startswith("/") else parts.path
        return DatabaseSettings("sqlite", path=unquote(path) or ":memory:")
    if scheme in MYSQL_SCHEMES:
        try:
            port = parts.port or DEFAULT_PORT
        except ValueError:
            raise LoggerConfigurationError("database URL %r has an invalid port" % url) from None
        if not parts.hostname:
            raise LoggerConfigurationError(
                "database URL %r names no host; write mysql://user:password@host/database" % url)
        database = unquote(parts.path.lstrip("/")) or DEFAULT_DATABASE
        return DatabaseSettings(
            "mysql", host=parts.hostname, port=port,
            username=unquote(parts.username) if parts.username is not None else None,
            password=unquote(parts.password) if parts.password is not None else None,
            database=database)
    raise LoggerConfigurationError(
        "database URL %r: the scheme must be mysql://, mariadb:// or sqlite:///" % url)


def resolve_settings(url=None, host=None, port=None, username=None, password=None,
                     database=None, sqlite_path=None):
    """Combine the ways of naming a database into one :class:`DatabaseSettings`.

    * *url* given: it names the database; *username* and *password* fill in
      what the URL leaves out; *host*, *port*, *database* and *sqlite_path*
      must then be None.
    * else *host* given: a MySQL/MariaDB server (*port* default 3306,
      *database* default ``cinfdata``).
    * else the embedded default: the SQLite file *sqlite_path*, by default
      ``<database>.sqlite3`` in the current directory.
    """
    if url is not None:
        clashing = [name for name, value in (("host", host), ("port", port), ("database", database),
                                             ("sqlite_path", sqlite_path)) if value is not None]
        if clashing:
            raise LoggerConfigurationError(
                "give the database either as url=%r or as %s, not both" % (url, "/".join(clashing)))
        settings = parse_url(url)
        if settings.kind == "mysql":
            if settings.username is None:
                settings.username = username
            if settings.password is None:
                settings.password = password
        return settings
    database = DEFAULT_DATABASE if database is None else database
    if not isinstance(database, str) or not database:
        raise LoggerConfigurationError("database must be a non-empty string, got %r" % (database,))
    if host is not None:
        port = check_port(port, Where(path="port", error=LoggerConfigurationError), allow_zero=False,
                          default=DEFAULT_PORT)
        return DatabaseSettings("mysql", host=host, port=port, username=username,
                                password=password, database=database)
    if port is not None:
        raise LoggerConfigurationError("port=%r given without host: name the server too" % (port,))
    return DatabaseSettings("sqlite", path=sqlite_path or (database + ".sqlite3"))
