"""Notices no longer keep their body once they are done.

A notice's body can carry personal data (a disclosure to a complainant, a contact's details in a confirmation)
or a live secret (a password-reset link, a verification code). Once sent, failed for good or withheld, nothing
reads it again (the account's export never included bodies), so delivery now empties it; this revision empties
the bodies of the notices that were done before it. Not reversible: the text is gone.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE notice SET body = '' WHERE state IN ('sent', 'failed', 'withdrawn')")


def downgrade() -> None:
    pass  # the bodies emptied by upgrade() cannot be brought back; the schema is unchanged
