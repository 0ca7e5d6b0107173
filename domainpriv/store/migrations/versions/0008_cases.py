"""Cases: complaints, disclosure requests and abuse reports (domainpriv/store/cases.py), their history, evidence
files, the disclosure ledger and the saved state of deactivations. The sweep's index on `due_at` holds only the
cases with something pending.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import domainpriv.store.base

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UTC = domainpriv.store.base.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "legal_case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("domain_name", sa.String(length=253), nullable=False),
        sa.Column("domain_id", sa.Integer(), nullable=True),
        sa.Column("requester_name", sa.String(length=255), nullable=False),
        sa.Column("requester_email", sa.String(length=254), nullable=False),
        sa.Column("requester_org", sa.String(length=255), nullable=True),
        sa.Column("requester_address", sa.String(length=800), nullable=True),
        sa.Column("requester_phone", sa.String(length=17), nullable=True),
        sa.Column("authentication", sa.String(length=32), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("allegation", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=True),
        sa.Column("fields_requested", sa.String(length=1024), nullable=False),
        sa.Column("legal_order_at", UTC(), nullable=True),
        sa.Column("received_at", UTC(), nullable=False),
        sa.Column("ack_due_at", UTC(), nullable=True),
        sa.Column("acknowledged_at", UTC(), nullable=True),
        sa.Column("decision_due_at", UTC(), nullable=True),
        sa.Column("decided_at", UTC(), nullable=True),
        sa.Column("decision", sa.String(length=32), nullable=True),
        sa.Column("closed_at", UTC(), nullable=True),
        sa.Column("customer_notified_at", UTC(), nullable=True),
        sa.Column("customer_deadline_at", UTC(), nullable=True),
        sa.Column("customer_notice", sa.Text(), nullable=True),
        sa.Column("reminder_at", UTC(), nullable=True),
        sa.Column("reminder_sent_at", UTC(), nullable=True),
        sa.Column("deadline_passed_at", UTC(), nullable=True),
        sa.Column("refusal_reasons", sa.Text(), nullable=True),
        sa.Column("balancing_notes", sa.Text(), nullable=True),
        sa.Column("missed_clocks", sa.String(length=64), nullable=False),
        sa.Column("due_at", UTC(), nullable=True),
        sa.Column("retry_at", UTC(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["domain.id"], name=op.f("fk_legal_case_domain_id_domain"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_case")),
        sa.UniqueConstraint("reference", name=op.f("uq_legal_case_reference")),
    )
    op.create_index(op.f("ix_legal_case_domain_id"), "legal_case", ["domain_id"], unique=False)
    op.create_index(op.f("ix_legal_case_domain_name"), "legal_case", ["domain_name"], unique=False)
    op.create_index(
        op.f("ix_legal_case_due_at"),
        "legal_case",
        ["due_at"],
        unique=False,
        postgresql_where=sa.text("due_at IS NOT NULL"),
        sqlite_where=sa.text("due_at IS NOT NULL"),
    )
    op.create_index(op.f("ix_legal_case_state"), "legal_case", ["state"], unique=False)
    op.create_table(
        "case_deactivation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("domain_name", sa.String(length=253), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("statuses_before", sa.String(length=512), nullable=False),
        sa.Column("statuses_added", sa.String(length=512), nullable=False),
        sa.Column("privacy_before", sa.String(length=16), nullable=True),
        sa.Column("privacy_set", sa.String(length=16), nullable=True),
        sa.Column("dns", sa.String(length=16), nullable=False),
        sa.Column("dns_saved", sa.Text(), nullable=True),
        sa.Column("dns_attempts", sa.Integer(), nullable=False),
        sa.Column("dns_next_attempt_at", UTC(), nullable=True),
        sa.Column("dns_last_error", sa.String(length=500), nullable=True),
        sa.Column("dns_retryable", sa.Boolean(), nullable=True),
        sa.Column("deactivated_at", UTC(), nullable=False),
        sa.Column("restored_at", UTC(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["legal_case.id"], name=op.f("fk_case_deactivation_case_id_legal_case"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_deactivation")),
    )
    op.create_index(op.f("ix_case_deactivation_case_id"), "case_deactivation", ["case_id"], unique=False)
    op.create_index(op.f("ix_case_deactivation_domain_name"), "case_deactivation", ["domain_name"], unique=False)
    op.create_table(
        "case_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_state", sa.String(length=32), nullable=False),
        sa.Column("to_state", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["legal_case.id"], name=op.f("fk_case_event_case_id_legal_case"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_event")),
    )
    op.create_index(op.f("ix_case_event_case_id"), "case_event", ["case_id"], unique=False)
    op.create_table(
        "case_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("added_by", sa.String(length=80), nullable=False),
        sa.Column("added_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["legal_case.id"], name=op.f("fk_case_evidence_case_id_legal_case"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_evidence")),
    )
    op.create_index(op.f("ix_case_evidence_case_id"), "case_evidence", ["case_id"], unique=False)
    op.create_table(
        "disclosure_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("domain_name", sa.String(length=253), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("recipient_name", sa.String(length=255), nullable=False),
        sa.Column("recipient_org", sa.String(length=255), nullable=True),
        sa.Column("recipient_email", sa.String(length=254), nullable=False),
        sa.Column("fields", sa.String(length=1024), nullable=False),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("legal_order", sa.Boolean(), nullable=False),
        sa.Column("at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_disclosure_entry_account_id_account"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["case_id"], ["legal_case.id"], name=op.f("fk_disclosure_entry_case_id_legal_case")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disclosure_entry")),
    )
    op.create_index(op.f("ix_disclosure_entry_account_id"), "disclosure_entry", ["account_id"], unique=False)
    op.create_index(op.f("ix_disclosure_entry_case_id"), "disclosure_entry", ["case_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_disclosure_entry_case_id"), table_name="disclosure_entry")
    op.drop_index(op.f("ix_disclosure_entry_account_id"), table_name="disclosure_entry")
    op.drop_table("disclosure_entry")
    op.drop_index(op.f("ix_case_evidence_case_id"), table_name="case_evidence")
    op.drop_table("case_evidence")
    op.drop_index(op.f("ix_case_event_case_id"), table_name="case_event")
    op.drop_table("case_event")
    op.drop_index(op.f("ix_case_deactivation_domain_name"), table_name="case_deactivation")
    op.drop_index(op.f("ix_case_deactivation_case_id"), table_name="case_deactivation")
    op.drop_table("case_deactivation")
    op.drop_index(op.f("ix_legal_case_state"), table_name="legal_case")
    op.drop_index(
        op.f("ix_legal_case_due_at"),
        table_name="legal_case",
        postgresql_where=sa.text("due_at IS NOT NULL"),
        sqlite_where=sa.text("due_at IS NOT NULL"),
    )
    op.drop_index(op.f("ix_legal_case_domain_name"), table_name="legal_case")
    op.drop_index(op.f("ix_legal_case_domain_id"), table_name="legal_case")
    op.drop_table("legal_case")
