"""Alembic environment: always driven from domainpriv.store.migrate with an open connection."""

from __future__ import annotations

from alembic import context

import domainpriv.store  # noqa: F401  # registers every model on Base.metadata
from domainpriv.store.base import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things in place
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
