"""Interchange control numbers per submitter, and the one each stored claim's 837P carries.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chartcoder.store.base import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "control_numbers",
        sa.Column("submitter_id", sa.String(15), primary_key=True),
        sa.Column("last_value", sa.Integer, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    with op.batch_alter_table("claims") as batch:
        batch.add_column(sa.Column("control_number", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("claims") as batch:
        batch.drop_column("control_number")
    op.drop_table("control_numbers")
