"""Claims built from finalized encounters, with their scrubber findings.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chartcoder.store.base import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "claims",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("encounter_id", sa.String(40), sa.ForeignKey("encounters.id"), nullable=False),
        sa.Column("encounter_version", sa.Integer, nullable=False),
        sa.Column("claim", sa.JSON, nullable=False),
        sa.Column("findings", sa.JSON, nullable=False),
        sa.Column("clean", sa.Boolean, nullable=False),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id")),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_claims_encounter_id", "claims", ["encounter_id"])


def downgrade() -> None:
    op.drop_index("ix_claims_encounter_id", "claims")
    op.drop_table("claims")
