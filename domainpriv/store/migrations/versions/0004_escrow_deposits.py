"""Escrow deposits and their files (domainpriv/store/escrow.py).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import domainpriv.store.base

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

POSITION = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = domainpriv.store.base.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "escrow_deposit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deposit_date", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("profile", sa.String(length=32), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("scheduled_for", UTC(), nullable=True),
        sa.Column("upload_wanted", sa.Boolean(), nullable=False),
        sa.Column("watermark", UTC(), nullable=True),
        sa.Column("feed_position", POSITION, nullable=True),
        sa.Column("base_deposit_id", sa.Integer(), nullable=True),
        sa.Column("base_position", POSITION, nullable=True),
        sa.Column("domains", sa.Integer(), nullable=True),
        sa.Column("deletions", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.Column("built_at", UTC(), nullable=True),
        sa.Column("uploaded_at", UTC(), nullable=True),
        sa.ForeignKeyConstraint(
            ["base_deposit_id"], ["escrow_deposit.id"], name=op.f("fk_escrow_deposit_base_deposit_id_escrow_deposit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escrow_deposit")),
        sa.UniqueConstraint(
            "deposit_date", "kind", "revision", name=op.f("uq_escrow_deposit_deposit_date_kind_revision")
        ),
        sa.UniqueConstraint("kind", "scheduled_for", name=op.f("uq_escrow_deposit_kind_scheduled_for")),
    )
    with op.batch_alter_table("escrow_deposit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_escrow_deposit_state"), ["state"], unique=False)
    op.create_table(
        "escrow_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deposit_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("csv_name", sa.String(length=255), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("csv_bytes", sa.Integer(), nullable=True),
        sa.Column("csv_sha256", sa.String(length=64), nullable=True),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_at", UTC(), nullable=True),
        sa.ForeignKeyConstraint(
            ["deposit_id"],
            ["escrow_deposit.id"],
            name=op.f("fk_escrow_file_deposit_id_escrow_deposit"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escrow_file")),
        sa.UniqueConstraint("deposit_id", "name", name=op.f("uq_escrow_file_deposit_id_name")),
    )
    with op.batch_alter_table("escrow_file", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_escrow_file_deposit_id"), ["deposit_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("escrow_file", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_escrow_file_deposit_id"))
    op.drop_table("escrow_file")
    with op.batch_alter_table("escrow_deposit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_escrow_deposit_state"))
    op.drop_table("escrow_deposit")
