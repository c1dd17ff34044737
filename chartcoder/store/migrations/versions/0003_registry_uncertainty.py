"""The model registry (registered packs, promotion history) and each encounter's uncertainty for the
active-learning worklist order, filled in for encounters stored before this migration.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chartcoder.domain.uncertainty import uncertainty
from chartcoder.store.base import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_packs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ref", sa.String(200), nullable=False, unique=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("folder", sa.String(255), nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.Column("system", sa.String(16)),
        sa.Column("card", sa.JSON, nullable=False),
        sa.Column("note", sa.String(500)),
        sa.Column("registered_by", sa.String(128), nullable=False),
        sa.Column("registered_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "model_promotions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("pack_id", sa.Integer, sa.ForeignKey("model_packs.id")),
        sa.Column("previous_pack_id", sa.Integer, sa.ForeignKey("model_packs.id")),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reason", sa.String(500)),
        sa.Column("at", UTCDateTime, nullable=False),
    )
    with op.batch_alter_table("encounters") as batch:
        batch.add_column(sa.Column("uncertainty", sa.Float))
    op.create_index("ix_encounters_status_uncertainty", "encounters", ["status", "uncertainty"])

    conn = op.get_bind()
    encounters = sa.table("encounters", sa.column("id", sa.String), sa.column("uncertainty", sa.Float))
    sets = sa.table(
        "suggestion_sets",
        sa.column("id", sa.Integer),
        sa.column("encounter_id", sa.String),
        sa.column("suggestions", sa.JSON),
    )
    last_id = 0
    while True:  # in batches: a large store is not read into memory at once
        rows = conn.execute(
            sa.select(sets.c.id, sets.c.encounter_id, sets.c.suggestions)
            .where(sets.c.id > last_id)
            .order_by(sets.c.id)
            .limit(1000)
        ).all()
        if not rows:
            break
        for set_id, encounter_id, suggestions in rows:
            value = uncertainty([s.get("score", 0.0) for s in suggestions or []])
            conn.execute(encounters.update().where(encounters.c.id == encounter_id).values(uncertainty=value))
            last_id = set_id


def downgrade() -> None:
    op.drop_index("ix_encounters_status_uncertainty", "encounters")
    with op.batch_alter_table("encounters") as batch:
        batch.drop_column("uncertainty")
    op.drop_table("model_promotions")
    op.drop_table("model_packs")
