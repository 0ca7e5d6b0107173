"""Alembic migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

from sqlalchemy import Engine, inspect

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
