"""Line data (issue 18): a decision on a CPT/HCPCS code carries the line the coder set (modifiers,
units, service date, diagnosis pointers, NDC, dose), and an encounter the coder's diagnosis order.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("line", sa.JSON, nullable=True))
    with op.batch_alter_table("encounters") as batch:
        batch.add_column(sa.Column("diagnosis_order", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("encounters") as batch:
        batch.drop_column("diagnosis_order")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("line")
