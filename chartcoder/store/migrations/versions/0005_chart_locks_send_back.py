"""The review page's chart lock (who has an encounter open), a biller's "send back to coder" on the
encounter, and the patient key the worklist's patient filter reads (filled in for stored encounters).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from chartcoder.store.base import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chart_locks",
        sa.Column("encounter_id", sa.String(40), sa.ForeignKey("encounters.id"), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("since", UTCDateTime, nullable=False),
    )
    with op.batch_alter_table("encounters") as batch:
        batch.add_column(sa.Column("sent_back_at", UTCDateTime))
        # a user id without a foreign key: adding one would make SQLite rebuild this table, which the
        # tables referring to it refuse (users are deactivated, never deleted)
        batch.add_column(sa.Column("sent_back_by", sa.Integer))
        batch.add_column(sa.Column("sent_back_reason", sa.String(500)))
        batch.add_column(sa.Column("patient_key", sa.String(320)))
    op.create_index("ix_encounters_patient_key", "encounters", ["patient_key"])

    conn = op.get_bind()
    encounters = sa.table(
        "encounters", sa.column("id", sa.String), sa.column("patient", sa.JSON), sa.column("patient_key", sa.String)
    )
    last_id = ""
    while True:  # in batches: a large store is not read into memory at once
        rows = conn.execute(
            sa.select(encounters.c.id, encounters.c.patient)
            .where(encounters.c.id > last_id)
            .order_by(encounters.c.id)
            .limit(1000)
        ).all()
        if not rows:
            break
        for encounter_id, patient in rows:
            key = patient_key(patient or {})
            if key:
                conn.execute(encounters.update().where(encounters.c.id == encounter_id).values(patient_key=key))
            last_id = encounter_id


def patient_key(patient: dict[str, Any]) -> str | None:
    """A copy of chartcoder.store.review.patient_key as of this revision: a migration must keep doing
    what it did when it was written, whatever the application code becomes."""
    words = " ".join(str(patient.get(k) or "").strip() for k in ("name", "id")).strip()
    return words.casefold()[:320] or None


def downgrade() -> None:
    op.drop_index("ix_encounters_patient_key", "encounters")
    with op.batch_alter_table("encounters") as batch:
        batch.drop_column("patient_key")
        batch.drop_column("sent_back_reason")
        batch.drop_column("sent_back_by")
        batch.drop_column("sent_back_at")
    op.drop_table("chart_locks")
