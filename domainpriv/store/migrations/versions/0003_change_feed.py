"""The change feed inside the database: which domains each change affected, and the pruning horizon.

Existing data needs no rows: a reader starts from the newest position, with an empty cache.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import domainpriv.store.base

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

POSITION = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "domain_change",
        sa.Column("position", POSITION, autoincrement=True, nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=True),
        sa.Column("audit_seq", sa.Integer(), nullable=False),
        sa.Column("changed_at", domainpriv.store.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_domain_change")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("domain_change", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_domain_change_changed_at"), ["changed_at"], unique=False)
    state = op.create_table(
        "change_feed_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("pruned_through", POSITION, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_feed_state")),
    )
    op.bulk_insert(state, [{"id": 1, "pruned_through": 0}])


def downgrade() -> None:
    op.drop_table("change_feed_state")
    with op.batch_alter_table("domain_change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_domain_change_changed_at"))
    op.drop_table("domain_change")
