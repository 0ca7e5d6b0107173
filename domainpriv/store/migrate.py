"""Schema creation and migration through Alembic, driven programmatically (no alembic.ini to find)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from domainpriv.store.base import Base

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _config(connection: object | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the schema to `revision`; idempotent. Returns (revision before, revision after)."""
    with engine.begin() as conn:
        before = current_revision(conn)
        command.upgrade(_config(conn), revision)
        after = current_revision(conn)
    return before, after


def current_revision(conn: object) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()  # type: ignore[arg-type]


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def schema_drift(engine: Engine) -> list[object]:
    """Differences between the migrated schema and the models; empty when the migrations are complete."""
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, Base.metadata))
