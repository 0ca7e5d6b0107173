"""What database errors say: the database named without secrets, the condition in our words, no driver text."""

from __future__ import annotations

import errno
import sqlite3

import psycopg
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from domainpriv.store.availability import DatabaseUnavailable, SchemaNotReady, classify, database_label

PG = "postgresql+psycopg://app:s3cret-pw@db.internal:5432/domainpriv"
PERSONAL = "alice.smith@mail.example"


@pytest.mark.parametrize(
    ("url", "label"),
    [
        (PG, "postgresql://app@db.internal:5432/domainpriv"),
        ("postgresql+psycopg://app@db.internal/domainpriv", "postgresql://app@db.internal/domainpriv"),
        (
            "postgresql+psycopg://app:pw@/domainpriv?host=/run/postgresql&password=qs-secret&sslpassword=k",
            "postgresql://app@/domainpriv?host=%2Frun%2Fpostgresql",
        ),
        ("postgresql://app@h/d?options=-csearch_path%3Dx&sslkey=/keys/k.pem", "postgresql://app@h/d"),
        ("sqlite:///var/domainpriv.sqlite3", "var/domainpriv.sqlite3"),
        ("sqlite:////srv/data/domainpriv.sqlite3?mode=ro", "/srv/data/domainpriv.sqlite3"),
        ("sqlite://", "<in-memory SQLite>"),
        ("postgresql+psycopg://app:s3cret-pw@h:notaport/x", "<unparseable database.url>"),
        ("not a url s3cret-pw", "<unparseable database.url>"),
    ],
)
def test_database_label_hides_passwords_and_query_secrets(url: str, label: str) -> None:
    assert database_label(url) == label
    for secret in ("s3cret-pw", "qs-secret", "sslpassword", "***", "+psycopg"):
        assert secret not in database_label(url)


def test_database_label_takes_a_parsed_url_too() -> None:
    assert database_label(make_url(PG)) == "postgresql://app@db.internal:5432/domainpriv"


def wrapped(orig: BaseException) -> sa_exc.DBAPIError:
    """What SQLAlchemy raises, quoting a statement and parameters holding personal data."""
    base = sqlite3.Error if isinstance(orig, sqlite3.Error) else psycopg.Error
    return sa_exc.DBAPIError.instance("SELECT * FROM contact WHERE email = %(email)s", {"email": PERSONAL}, orig, base)


def test_connection_refused_is_database_unavailable_in_our_words() -> None:
    orig = psycopg.OperationalError(
        'connection failed: connection to server at "10.0.0.5", port 5432 failed: Connection refused\n'
        f"\tIs the server running on that host and accepting TCP/IP connections? {PERSONAL}"
    )
    problem = classify(wrapped(orig), PG)
    assert isinstance(problem, DatabaseUnavailable)
    assert problem.database == "postgresql://app@db.internal:5432/domainpriv"
    assert problem.reason.startswith("connection refused")
    assert str(problem).startswith("cannot use database postgresql://app@db.internal:5432/domainpriv: connection")
    assert PERSONAL not in str(problem) and "10.0.0.5" not in str(problem) and "s3cret-pw" not in str(problem)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('connection failed: FATAL:  database "domainpriv" does not exist', "the database does not exist"),
        ('connection failed: FATAL:  password authentication failed for user "app"', "authentication failed"),
        ('connection failed: FATAL:  role "app" does not exist', "its user does not exist"),
        ("failed to resolve host 'db.internal': [Errno -2] Name or service not known", "host name cannot be resolved"),
        ("connection timeout expired", "timed out"),
        ("connection failed: FATAL:  the database system is shutting down", "shutting down"),
        ("connection failed: FATAL:  the database system is starting up", "starting up"),
        ("connection failed: FATAL:  sorry, too many clients already", "no free connection slots"),
        ("something libpq never said before", "cannot connect"),
    ],
)
def test_connection_failures_pick_our_own_reason(text: str, reason: str) -> None:
    problem = classify(wrapped(psycopg.OperationalError(text)), PG)
    assert isinstance(problem, DatabaseUnavailable) and reason in problem.reason
    assert text not in str(problem)


def test_missing_database_says_how_to_create_it() -> None:
    problem = classify(psycopg.OperationalError('FATAL:  database "domainpriv" does not exist'), PG)
    assert "`createdb domainpriv`" in str(problem) and "`domainpriv db upgrade`" in str(problem)


@pytest.mark.parametrize(
    ("orig", "kind"),
    [
        (psycopg.errors.UndefinedTable(f'relation "contact" does not exist {PERSONAL}'), SchemaNotReady),
        (psycopg.errors.InvalidCatalogName(), DatabaseUnavailable),
        (psycopg.errors.AdminShutdown(), DatabaseUnavailable),
        (psycopg.errors.CannotConnectNow(), DatabaseUnavailable),
        (psycopg.errors.InvalidPassword(), DatabaseUnavailable),
        (sqlite3.OperationalError("no such table: contact"), SchemaNotReady),
    ],
)
def test_sqlstates_and_sqlite_errors_are_classified(orig: Exception, kind: type[Exception]) -> None:
    problem = classify(wrapped(orig), PG)
    assert isinstance(problem, kind)
    assert PERSONAL not in str(problem) and "contact" not in str(problem)


def test_schema_not_ready_messages() -> None:
    assert (
        str(SchemaNotReady("D", None, "0003")) == "database D has no domainpriv schema yet: run `domainpriv db upgrade`"
    )
    assert str(SchemaNotReady("D", "0001", "0003")) == (
        "database D is at revision 0001, this version needs 0003: run `domainpriv db upgrade`"
    )
    newer = SchemaNotReady("D", "9999", "0003", newer=True)
    assert "newer than this version" in str(newer) and "db upgrade" not in str(newer)


def test_sqlite_folder_that_cannot_be_made_is_unavailable_but_other_files_are_not_ours() -> None:
    url = "sqlite:////srv/a-file/sub/domainpriv.sqlite3"
    blocked = NotADirectoryError(errno.ENOTDIR, "Not a directory", "/srv/a-file/sub")
    problem = classify(blocked, url)
    assert isinstance(problem, DatabaseUnavailable) and "a file is in the way" in problem.reason
    assert classify(FileNotFoundError(errno.ENOENT, "No such file", "/tmp/export.jsonl"), url) is None


@pytest.mark.parametrize(
    "exc",
    [
        KeyError("x"),
        ValueError("a bug"),
        psycopg.errors.UniqueViolation(),
        sa_exc.IntegrityError("INSERT", {"email": PERSONAL}, sqlite3.IntegrityError("UNIQUE constraint failed")),
        sqlite3.OperationalError("near SELEC: syntax error"),
    ],
)
def test_anything_else_is_a_bug_left_to_propagate(exc: Exception) -> None:
    assert classify(exc, PG) is None


def test_a_url_that_does_not_parse_or_has_no_driver_is_unavailable() -> None:
    bad = "postgresql+psycopg://app:s3cret-pw@h:notaport/x"
    problem = classify(ValueError("invalid literal for int()"), bad)
    assert isinstance(problem, DatabaseUnavailable) and "s3cret-pw" not in str(problem)
    missing = classify(sa_exc.NoSuchModuleError("Can't load plugin"), "nosuchdialect://app:s3cret-pw@h/x")
    assert isinstance(missing, DatabaseUnavailable) and "s3cret-pw" not in str(missing)
