"""Row counts of every table: "nothing changed" is checked by comparing two of these."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from domainpriv.store import Base


def table_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            name: conn.scalar(select(func.count()).select_from(table)) or 0
            for name, table in sorted(Base.metadata.tables.items())
        }
