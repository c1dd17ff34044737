"""CDS Hooks: answered hook calls, their cards, the feedback received on them, and the JWT ids seen
(replay protection).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chartcoder.store.base import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cds_calls",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("client", sa.String(200), nullable=False),
        sa.Column("service_id", sa.String(100), nullable=False),
        sa.Column("hook", sa.String(100), nullable=False),
        sa.Column("hook_instance", sa.String(100), nullable=False),
        sa.Column("encounter_id", sa.String(40), sa.ForeignKey("encounters.id")),
        sa.Column("ehr_encounter_id", sa.String(200)),
        sa.Column("ehr_patient_id", sa.String(200)),
        sa.Column("ehr_user", sa.String(200)),
        sa.Column("note_sha256", sa.String(64)),
        sa.Column("response", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("client", "service_id", "hook_instance", name="uq_cds_calls_instance"),
    )
    op.create_index("ix_cds_calls_encounter_id", "cds_calls", ["encounter_id"])
    op.create_index("ix_cds_calls_ehr_encounter", "cds_calls", ["client", "service_id", "ehr_encounter_id"])
    op.create_table(
        "cds_cards",
        sa.Column("uuid", sa.String(36), primary_key=True),
        sa.Column("suggestion_uuid", sa.String(36), nullable=False, unique=True),
        sa.Column("call_id", sa.Integer, sa.ForeignKey("cds_calls.id"), nullable=False),
        sa.Column("encounter_id", sa.String(40), sa.ForeignKey("encounters.id"), nullable=False),
        sa.Column("client", sa.String(200), nullable=False),
        sa.Column("service_id", sa.String(100), nullable=False),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("system", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_cds_cards_call_id", "cds_cards", ["call_id"])
    op.create_index("ix_cds_cards_encounter_id", "cds_cards", ["encounter_id"])
    op.create_table(
        "cds_feedback",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("card_uuid", sa.String(36), sa.ForeignKey("cds_cards.uuid"), nullable=False),
        sa.Column("client", sa.String(200), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("accepted_suggestions", sa.JSON, nullable=False),
        sa.Column("override_reason", sa.JSON),
        sa.Column("user_comment", sa.String(2000)),
        sa.Column("outcome_timestamp", UTCDateTime, nullable=False),
        sa.Column("result", sa.String(32), nullable=False),
        sa.Column("decision", sa.JSON),
        sa.Column("received_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_cds_feedback_card_uuid", "cds_feedback", ["card_uuid"])
    op.create_table(
        "cds_seen_tokens",
        sa.Column("issuer", sa.String(500), primary_key=True),
        sa.Column("jti", sa.String(255), primary_key=True),
        sa.Column("expires_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_cds_seen_tokens_expires_at", "cds_seen_tokens", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_cds_seen_tokens_expires_at", "cds_seen_tokens")
    op.drop_table("cds_seen_tokens")
    op.drop_index("ix_cds_feedback_card_uuid", "cds_feedback")
    op.drop_table("cds_feedback")
    op.drop_index("ix_cds_cards_encounter_id", "cds_cards")
    op.drop_index("ix_cds_cards_call_id", "cds_cards")
    op.drop_table("cds_cards")
    op.drop_index("ix_cds_calls_ehr_encounter", "cds_calls")
    op.drop_index("ix_cds_calls_encounter_id", "cds_calls")
    op.drop_table("cds_calls")
