"""The outbox of notices (domainpriv/store/notify.py).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import domainpriv.store.base

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UTC = domainpriv.store.base.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("mandatory", sa.Boolean(), nullable=False),
        sa.Column("to_address", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC(), nullable=False),
        sa.Column("sent_at", UTC(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice")),
    )
    op.create_index(op.f("ix_notice_state_next_attempt_at"), "notice", ["state", "next_attempt_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_notice_state_next_attempt_at"), table_name="notice")
    op.drop_table("notice")
