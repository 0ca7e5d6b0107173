"""DS records instead of a DNSSEC flag.

RDAP must list the DS records of a signed delegation (Response Profile 2.6.1, -46801), so the domain keeps them;
"signed" is derived from their presence. A domain flagged signed before this revision had no DS data to keep
and becomes unsigned: re-import or set its DS records.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("domain", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ds_records", sa.Text(), nullable=False, server_default=""))
        batch_op.drop_column("dnssec")


def downgrade() -> None:
    with op.batch_alter_table("domain", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dnssec", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute("UPDATE domain SET dnssec = (ds_records <> '')")
    with op.batch_alter_table("domain", schema=None) as batch_op:
        batch_op.drop_column("ds_records")
