"""Where test databases come from: a SQLite file per test, or a private schema on the PostgreSQL server.

DOMAINPRIV_TEST_DATABASE_URL selects the PostgreSQL server (default: the machine's server at 127.0.0.1:5432,
database `test`). When it is unreachable the PostgreSQL half of every storage test is skipped with the reason,
unless DOMAINPRIV_REQUIRE_SERVICES=1 (set by CI), which turns that skip into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pg_url() -> str:
    return os.environ.get("DOMAINPRIV_TEST_DATABASE_URL", DEFAULT_PG_URL)


def services_required() -> bool:
    return os.environ.get("DOMAINPRIV_REQUIRE_SERVICES") == "1"


@cache
def pg_unavailable_reason() -> str | None:
    try:
        engine = create_engine(pg_url(), connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any failure means "not usable here"; the reason is shown in the skip
        return f"PostgreSQL at {make_url(pg_url()).render_as_string(hide_password=True)} unavailable: {exc!s:.200}"
    return None


def require_postgres() -> None:
    reason = pg_unavailable_reason()
    if reason is not None:
        if services_required():
            pytest.fail(f"DOMAINPRIV_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)


@contextmanager
def postgres_schema_url() -> Iterator[str]:
    """A fresh schema on the server; the URL puts it first on the search_path. Dropped afterwards."""
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_url())
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(pg_url()).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'domainpriv.sqlite3'}"
