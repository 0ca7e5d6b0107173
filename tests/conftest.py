"""Fixtures: every test that takes `engine` (or `uow`) runs once on SQLite and once on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from domainpriv.config import load_settings
from domainpriv.rdds import DatabaseSource, publication_policy
from domainpriv.store import UnitOfWork, make_engine
from domainpriv.store.migrate import upgrade
from support.databases import postgres_schema_url, sqlite_url


class FrozenClock:
    """An injectable clock: `now` stays put until a test moves it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a private schema on the PostgreSQL server."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
    else:
        with postgres_schema_url() as url:
            yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 11, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def uow(engine: Engine, clock: FrozenClock) -> UnitOfWork:
    return UnitOfWork(engine, clock=clock)


@pytest.fixture
def demo_uow(uow: UnitOfWork) -> UnitOfWork:
    """`uow` on a database holding the 60-domain demo data set (seed 1)."""
    import orjson

    from domainpriv import demo
    from domainpriv.audit import Actor
    from domainpriv.transfer import import_registrations

    lines = (orjson.dumps(r) for r in demo.demo_records(60, 1))
    import_registrations(uow, actor=Actor("cli", "tests"), lines=lines, reason="demo for tests")
    return uow


@pytest.fixture
def demo_source(demo_uow: UnitOfWork) -> DatabaseSource:
    """The public record source the servers use, on the demo data."""
    return DatabaseSource(demo_uow, publication_policy(load_settings(environ={})))
