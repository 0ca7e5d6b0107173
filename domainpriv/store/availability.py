"""Whether the database can be used right now, said in one line an operator can act on.

A command run against a server that is down, a database that was never created or a schema that was never
migrated used to end in a hundred-line SQLAlchemy traceback. This module turns those conditions into two errors
whose message names the database (never its password) and what to do:

* :class:`DatabaseUnavailable`: it cannot be reached or used (connection refused, unknown host, timeout,
  authentication failed, no such database, server shutting down or starting up, SQLite file unusable);
* :class:`SchemaNotReady`: it is reachable, but its schema is missing, older than this code's migrations, or
  newer than this code knows.

Personal data never reaches these messages. A driver's error text can quote SQL parameters (contact values), so
it is never copied: the condition is read from sqlstates, SQLite result codes and exception types, and only for
libpq's connection failures (which carry no sqlstate) from the text, to pick one of our own reasons.
"""

from __future__ import annotations

import errno
import re
import sqlite3
from functools import cache
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.script.revision import ResolutionError
from alembic.util import CommandError
from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url

from domainpriv.errors import DomainprivError
from domainpriv.store.migrate import MIGRATIONS, current_revision, head_revision

__all__ = ["DatabaseUnavailable", "SchemaNotReady", "check_schema", "classify", "database_label"]

CHECK_URL = "check database.url / DOMAINPRIV_DATABASE_URL"
RUN_UPGRADE = "run `domainpriv db upgrade`"
TRY_AGAIN = "try again once the server accepts connections"

# Query-string keys that say where the database is and carry no secret; every other key (password, sslkey,
# sslpassword, options, ...) is left out of the label.
_LABEL_QUERY_KEYS = frozenset({"host", "port", "service"})


class DatabaseUnavailable(DomainprivError):
    """The database cannot be reached or used right now; the message says which database and what to do."""

    def __init__(self, database: str, reason: str, todo: str = CHECK_URL) -> None:
        self.database = database
        self.reason = reason
        self.todo = todo
        super().__init__(f"cannot use database {database}: {reason}; {todo}")


class SchemaNotReady(DomainprivError):
    """The database is reachable, but its schema is not the one this code's migrations end at.

    `current` is None when the database has no domainpriv schema (or, from :func:`classify`, lacks a table);
    `newer` is True when `current` is a revision this code does not know, i.e. a newer domainpriv migrated it.
    """

    def __init__(
        self, database: str, current: str | None, head: str | None, *, newer: bool = False, table_missing: bool = False
    ) -> None:
        self.database = database
        self.current = current
        self.head = head
        self.newer = newer
        if table_missing:
            message = (
                f"database {database} lacks domainpriv's tables (no schema yet, or an incomplete one): {RUN_UPGRADE}"
            )
        elif current is None:
            message = f"database {database} has no domainpriv schema yet: {RUN_UPGRADE}"
        elif newer:
            message = (
                f"database {database} is at revision {current}, newer than this version of domainpriv knows "
                f"(its newest is {head}): run the domainpriv version that migrated it"
            )
        else:
            message = f"database {database} is at revision {current}, this version needs {head}: {RUN_UPGRADE}"
        super().__init__(message)


def database_label(url: str | URL) -> str:
    """What messages call the database: its URL without password, driver or secrets; for SQLite the file path.

    ``postgresql+psycopg://app:pw@db.internal:5432/domainpriv?sslpassword=x`` becomes
    ``postgresql://app@db.internal:5432/domainpriv``; only the query keys naming the place (host, port, service)
    are kept. A URL that cannot be parsed is not echoed at all (it may hold a password).
    """
    try:
        parsed = make_url(url)
    except Exception:  # unparseable (ArgumentError, ValueError on a bad port): never echo what may hold a password
        return "<unparseable database.url>"
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            return "<in-memory SQLite>"
        return parsed.database
    query = {key: value for key, value in parsed.query.items() if key in _LABEL_QUERY_KEYS}
    clean = URL.create(
        backend,
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=query,
    )  # no password: URL.set() cannot remove one, and "***" would still say there is one
    return clean.render_as_string(hide_password=True)


def classify(exc: BaseException, url: str | URL | None) -> DomainprivError | None:
    """Turn an exception raised while using the database at `url` into DatabaseUnavailable or SchemaNotReady.

    Understands SQLAlchemy's wrappers, psycopg and sqlite3 errors, the OSError of a SQLite folder that cannot be
    made, a URL that cannot be parsed or whose driver is missing, and Alembic failing to find the database's
    revision among this code's migrations (`db upgrade` on a newer schema). Returns None for anything else: that is a
    bug, and the caller lets it propagate. The result never quotes the exception's text.
    """
    if isinstance(exc, DatabaseUnavailable | SchemaNotReady):
        return exc
    label = database_label(url) if url is not None else "<not configured>"
    orig: BaseException = exc
    if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None:
        orig = exc.orig
    elif isinstance(exc, sa_exc.DisconnectionError):
        return DatabaseUnavailable(label, "the connection to the server was lost", TRY_AGAIN)
    elif isinstance(exc, sa_exc.TimeoutError):  # the pool had no free connection in time
        return DatabaseUnavailable(label, "timed out waiting for a free connection", "try again")
    elif isinstance(exc, CommandError) and isinstance(exc.__cause__, ResolutionError):
        # Alembic cannot place the database's revision: `db upgrade` on a schema a newer domainpriv migrated.
        unknown = exc.__cause__.argument
        if isinstance(unknown, str) and unknown not in _known_revisions():
            return SchemaNotReady(label, unknown, head_revision(), newer=True)
        return None
    if isinstance(orig, sqlite3.Error):
        return _classify_sqlite(orig, label)
    if type(orig).__module__.startswith("psycopg"):
        return _classify_postgres(orig, label, url)
    if isinstance(orig, OSError) and url is not None:
        return _classify_sqlite_folder(orig, label, url)
    if isinstance(orig, sa_exc.ArgumentError | ImportError | ValueError) and url is not None:
        return _classify_url(label, url)
    return None


def check_schema(engine: Engine) -> None:
    """Raise SchemaNotReady unless the database's Alembic revision is this code's head; cheap (one small query).

    Raises DatabaseUnavailable when the database cannot be reached to ask.
    """
    try:
        with engine.connect() as conn:
            current = current_revision(conn)
    except Exception as exc:
        problem = classify(exc, engine.url)
        if problem is None:
            raise
        raise problem from None  # the driver's text is not ours to show (it may quote parameters)
    head = head_revision()
    if current == head:
        return
    label = database_label(engine.url)
    raise SchemaNotReady(label, current, head, newer=current is not None and current not in _known_revisions())


@cache
def _known_revisions() -> frozenset[str]:
    return frozenset(script.revision for script in ScriptDirectory(str(MIGRATIONS)).walk_revisions())


# -- SQLite ----------------------------------------------------------------------------------------------------

# Primary result codes (https://www.sqlite.org/rescode.html) and what they mean to an operator.
_SQLITE_CODES: dict[int, tuple[str, str]] = {
    3: ("access to the SQLite file was denied", CHECK_URL),  # SQLITE_PERM
    5: ("another process holds the SQLite write lock", "try again, or raise database.sqlite_busy_timeout_seconds"),
    6: ("the SQLite database is locked", "try again"),  # SQLITE_LOCKED
    8: ("the SQLite file is read-only", "make the file and its folder writable for this user"),  # SQLITE_READONLY
    10: ("an I/O error occurred on the SQLite file", "check the disk and the file system"),  # SQLITE_IOERR
    11: ("the SQLite file is damaged", "restore it from a backup"),  # SQLITE_CORRUPT
    13: ("the disk holding the SQLite file is full", "free some space"),  # SQLITE_FULL
    14: ("the SQLite file cannot be opened (is the path a folder, or unreadable?)", CHECK_URL),  # SQLITE_CANTOPEN
    23: ("access to the SQLite file was denied", CHECK_URL),  # SQLITE_AUTH
    26: ("the file is not a SQLite database", CHECK_URL),  # SQLITE_NOTADB
}


def _classify_sqlite(orig: sqlite3.Error, label: str) -> DomainprivError | None:
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int) and (code & 0xFF) in _SQLITE_CODES:
        reason, todo = _SQLITE_CODES[code & 0xFF]
        return DatabaseUnavailable(label, reason, todo)
    # "no such table" is the generic SQLITE_ERROR: only its text tells it apart (and is not copied).
    if isinstance(orig, sqlite3.OperationalError) and str(orig).startswith("no such table"):
        return SchemaNotReady(label, None, head_revision(), table_missing=True)
    return None


def _classify_sqlite_folder(orig: OSError, label: str, url: str | URL) -> DomainprivError | None:
    """The SQLite file's folder could not be created or read (make_engine creates it)."""
    try:
        parsed = make_url(url)
    except Exception:  # not a URL at all: this OSError is not about it
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database or orig.filename is None:
        return None
    path = Path(parsed.database)
    if Path(str(orig.filename)) not in {path, *path.parents}:
        return None  # some other file (an export target, an import source): not the database's business
    if orig.errno in (errno.ENOTDIR, errno.EEXIST):
        reason = "its folder cannot be created (a file is in the way)"
    elif orig.errno in (errno.EACCES, errno.EPERM):
        reason = "its folder cannot be created or read (permission denied)"
    elif orig.errno == errno.EROFS:
        reason = "its folder is on a read-only file system"
    else:
        reason = "its folder cannot be created or read"
    return DatabaseUnavailable(label, reason, CHECK_URL)


# -- PostgreSQL ------------------------------------------------------------------------------------------------

_MISSING_DATABASE = "the database does not exist on the server"


def _create_it(url: str | URL | None) -> str:
    try:
        name = make_url(url).database if url is not None else None
    except Exception:  # the URL parsed before we got here; this is belt and braces
        name = None
    create = f"create it (`createdb {name}`)" if name else "create it"
    return f"{create}, then {RUN_UPGRADE}; or {CHECK_URL}"


def _classify_postgres(orig: BaseException, label: str, url: str | URL | None) -> DomainprivError | None:
    import psycopg  # already imported: the exception came from it

    if not isinstance(orig, psycopg.Error):
        return None
    state = orig.sqlstate
    if state == "42P01":  # undefined_table
        return SchemaNotReady(label, None, head_revision(), table_missing=True)
    if state == "3F000":  # invalid_schema_name: the search_path names no existing schema
        return DatabaseUnavailable(label, "the schema on its search_path does not exist", f"create it, or {CHECK_URL}")
    if state == "3D000":  # invalid_catalog_name
        return DatabaseUnavailable(label, _MISSING_DATABASE, _create_it(url))
    if state in ("57P01", "57P02"):  # admin_shutdown, crash_shutdown
        return DatabaseUnavailable(label, "the server ended the connection (shutdown)", TRY_AGAIN)
    if state == "57P03":  # cannot_connect_now
        return DatabaseUnavailable(label, "the server is starting up or shutting down", TRY_AGAIN)
    if state == "53300":  # too_many_connections
        return DatabaseUnavailable(label, "the server has no free connection slots", "try again later")
    if state == "42501":  # insufficient_privilege
        return DatabaseUnavailable(
            label, "its user lacks a privilege on domainpriv's tables", f"grant it, or {CHECK_URL}"
        )
    if state is not None and state.startswith("28"):  # invalid_authorization_specification, invalid_password
        return DatabaseUnavailable(label, "authentication failed", _CHECK_CREDENTIALS)
    if state is not None and state.startswith("08"):  # connection_exception
        return DatabaseUnavailable(label, "the connection to the server failed", TRY_AGAIN)
    if state is None and isinstance(orig, psycopg.errors.ConnectionTimeout):
        return DatabaseUnavailable(label, "the connection timed out", f"is the server up? {CHECK_URL}")
    if state is None and isinstance(orig, psycopg.OperationalError):
        reason, todo = _connection_failure(str(orig), url)
        return DatabaseUnavailable(label, reason, todo)
    return None


_CHECK_CREDENTIALS = "check the user and password in database.url / DOMAINPRIV_DATABASE_URL"

# libpq reports connection failures as text only (no sqlstate reaches the client). Each pattern picks one of our
# reasons; the text itself (which names hosts, users, databases as libpq sees fit) is never shown.
_CONNECTION_FAILURES: list[tuple[re.Pattern[str], str, str | None]] = [  # todo None: "create it"
    (re.compile(r'database ".*" does not exist'), _MISSING_DATABASE, None),
    (re.compile(r'role ".*" does not exist'), "its user does not exist on the server", _CHECK_CREDENTIALS),
    (
        re.compile(r"password authentication failed|authentication failed|no password supplied|password is required"),
        "authentication failed",
        _CHECK_CREDENTIALS,
    ),
    (re.compile(r"pg_hba\.conf"), "the server refuses this user from this host (pg_hba.conf)", _CHECK_CREDENTIALS),
    (re.compile(r"connection refused"), "connection refused (is the server running and listening there?)", CHECK_URL),
    (
        re.compile(r"resolve host|translate host name|name or service not known|nodename nor servname|name resolution"),
        "its host name cannot be resolved",
        CHECK_URL,
    ),
    (re.compile(r"timeout expired|timed out"), "the connection timed out", f"is the server up? {CHECK_URL}"),
    (re.compile(r"system is shutting down"), "the server is shutting down", TRY_AGAIN),
    (re.compile(r"system is starting up|recovery mode|not yet accepting"), "the server is starting up", TRY_AGAIN),
    (
        re.compile(r"too many clients|connection slots are reserved"),
        "the server has no free connection slots",
        "try again later",
    ),
    (re.compile(r"no route to host|network is unreachable|host is unreachable"), "its host is unreachable", CHECK_URL),
    (re.compile(r"no such file or directory"), "no server is listening on its Unix socket", CHECK_URL),
    (re.compile(r"closed the connection|terminating connection"), "the server closed the connection", TRY_AGAIN),
    (re.compile(r"ssl|tls"), "the TLS negotiation with the server failed", CHECK_URL),
]


def _connection_failure(text: str, url: str | URL | None) -> tuple[str, str]:
    lowered = text.lower()
    for pattern, reason, todo in _CONNECTION_FAILURES:
        if pattern.search(lowered):
            return reason, _create_it(url) if todo is None else todo
    return "cannot connect to the server", CHECK_URL


# -- the URL itself --------------------------------------------------------------------------------------------


def _classify_url(label: str, url: str | URL) -> DomainprivError | None:
    """A URL that does not parse, or whose dialect or driver cannot be loaded; None if the URL is fine."""
    try:
        parsed = make_url(url)
    except Exception:  # any parse failure is the URL's fault
        return DatabaseUnavailable(label, "database.url is not a valid database URL", CHECK_URL)
    try:
        parsed.get_dialect().import_dbapi()
    except Exception:  # NoSuchModuleError (unknown dialect) or ImportError (driver not installed)
        return DatabaseUnavailable(label, f"its driver {parsed.drivername} is unknown or not installed", CHECK_URL)
    return None
