"""Self-service: staff roles, the consent ledger's policy version, unsubscribe links, re-verification, the
change of registrant and its transfer lock, notices linked to their account.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import domainpriv.store.base

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UTC = domainpriv.store.base.UTCDateTime
PURPOSE = sa.Enum(
    "publish_contact_data", "publish_organization", "marketing", "partner_offers", "reseller_newsletter",
    name="consentpurpose", native_enum=False, length=32,
)  # fmt: skip
STAFF_ROLE = sa.Enum("support", "legal", "escrow-ops", "admin", name="staffrole", native_enum=False, length=16)


def _account_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["account_id"], ["account.id"], name=op.f(f"fk_{table}_account_id_account"), ondelete="CASCADE"
    )


def upgrade() -> None:
    with op.batch_alter_table("account") as batch_op:
        batch_op.add_column(sa.Column("staff_role", STAFF_ROLE, nullable=True))
    with op.batch_alter_table("consent") as batch_op:
        batch_op.add_column(sa.Column("policy_version", sa.String(length=32), nullable=True))
    with op.batch_alter_table("domain") as batch_op:
        batch_op.add_column(sa.Column("transfer_locked_until", UTC(), nullable=True))
    with op.batch_alter_table("login_session") as batch_op:
        batch_op.add_column(sa.Column("reverified_at", UTC(), nullable=True))
    with op.batch_alter_table("notice") as batch_op:
        batch_op.add_column(sa.Column("account_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_notice_account_id"), ["account_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_notice_account_id_account"), "account", ["account_id"], ["id"], ondelete="SET NULL"
        )
    op.create_table(
        "unsubscribe_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("purpose", PURPOSE, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        _account_fk("unsubscribe_link"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unsubscribe_link")),
        sa.UniqueConstraint("digest", name=op.f("uq_unsubscribe_link_digest")),
    )
    op.create_index(op.f("ix_unsubscribe_link_account_id"), "unsubscribe_link", ["account_id"], unique=False)
    op.create_table(
        "verification_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("expires_at", UTC(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", UTC(), nullable=True),
        _account_fk("verification_code"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_code")),
    )
    op.create_index(op.f("ix_verification_code_account_id"), "verification_code", ["account_id"], unique=False)
    op.create_table(
        "registrant_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("domain_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("new_data", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=80), nullable=False),
        sa.Column("lock_opt_out", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("expires_at", UTC(), nullable=False),
        sa.Column("confirmed_at", UTC(), nullable=True),
        sa.Column("cancelled_at", UTC(), nullable=True),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["domain.id"], name=op.f("fk_registrant_change_domain_id_domain"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registrant_change")),
        sa.UniqueConstraint("digest", name=op.f("uq_registrant_change_digest")),
    )
    op.create_index(op.f("ix_registrant_change_domain_id"), "registrant_change", ["domain_id"], unique=False)


def downgrade() -> None:
    op.drop_table("registrant_change")
    op.drop_table("verification_code")
    op.drop_table("unsubscribe_link")
    with op.batch_alter_table("notice") as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_notice_account_id_account"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_notice_account_id"))
        batch_op.drop_column("account_id")
    with op.batch_alter_table("login_session") as batch_op:
        batch_op.drop_column("reverified_at")
    with op.batch_alter_table("domain") as batch_op:
        batch_op.drop_column("transfer_locked_until")
    with op.batch_alter_table("consent") as batch_op:
        batch_op.drop_column("policy_version")
    with op.batch_alter_table("account") as batch_op:
        batch_op.drop_column("staff_role")
