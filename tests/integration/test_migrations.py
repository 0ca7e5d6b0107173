"""Alembic migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, inspect, text

from domainpriv.store import make_engine
from domainpriv.store.migrate import head_revision, schema_drift, upgrade


def test_upgrade_is_idempotent_and_matches_the_models(engine: Engine) -> None:
    assert upgrade(engine) == (head_revision(), head_revision())
    assert schema_drift(engine) == []
    tables = set(inspect(engine).get_table_names())
    assert {
        "account",
        "contact",
        "domain",
        "nameserver",
        "consent",
        "audit_event",
        "privacy_service",
    } <= tables


def test_lookup_indexes_exist(engine: Engine) -> None:
    insp = inspect(engine)
    indexed = {tuple(ix["column_names"]) for ix in insp.get_indexes("domain")}
    unique = {tuple(uc["column_names"]) for uc in insp.get_unique_constraints("domain")}
    assert ("name",) in unique  # lookup by domain name
    assert {("account_id",), ("updated_at",), ("registrant_id",), ("tech_id",)} <= indexed
    assert ("host",) in {tuple(ix["column_names"]) for ix in insp.get_indexes("nameserver")}


def test_0009_empties_the_bodies_of_notices_that_are_done_and_keeps_the_queued(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine, "0008")
        insert = text(
            "INSERT INTO notice (kind, mandatory, to_address, subject, body, created_at, state, attempts, "
            "next_attempt_at) VALUES ('k', true, 'a@b.example', 's', :body, :at, :state, 0, :at)"
        )
        at = datetime(2026, 12, 1, tzinfo=UTC)
        with engine.begin() as conn:
            for state in ("queued", "sent", "failed", "withdrawn"):
                conn.execute(insert, {"body": f"secret link of a {state} notice", "at": at, "state": state})
        upgrade(engine)
        with engine.connect() as conn:
            bodies = dict(conn.execute(text("SELECT state, body FROM notice")).all())
        assert bodies == {"queued": "secret link of a queued notice", "sent": "", "failed": "", "withdrawn": ""}
    finally:
        engine.dispose()
