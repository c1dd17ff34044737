"""The review store: users, API keys, sessions, encounters, suggestion sets, decisions, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chartcoder.store.base import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("password_hash", sa.String(256)),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id")),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime),
    )
    op.create_table(
        "encounters",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("external_id", sa.String(200)),
        sa.Column("note_text", sa.Text, nullable=False),
        sa.Column("setting", sa.String(16), nullable=False),
        sa.Column("date_of_service", sa.Date),
        sa.Column("patient", sa.JSON, nullable=False),
        sa.Column("provider", sa.JSON, nullable=False),
        sa.Column("payer", sa.JSON, nullable=False),
        sa.Column("payer_key", sa.String(200)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("confidence", sa.Float),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id")),
        sa.Column("created_by_key", sa.Integer, sa.ForeignKey("api_keys.id")),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("finalized_at", UTCDateTime),
        sa.Column("finalized_by", sa.Integer, sa.ForeignKey("users.id")),
    )
    op.create_index("ix_encounters_status_confidence", "encounters", ["status", "confidence"])
    op.create_index("ix_encounters_date_of_service", "encounters", ["date_of_service"])
    op.create_index("ix_encounters_payer_key", "encounters", ["payer_key"])
    op.create_table(
        "suggestion_sets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("encounter_id", sa.String(40), sa.ForeignKey("encounters.id"), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("code_set_release", sa.String(100), nullable=False),
        sa.Column("suggestions", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_suggestion_sets_encounter_id", "suggestion_sets", ["encounter_id"])
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("encounter_id", sa.String(40), sa.ForeignKey("encounters.id"), nullable=False),
        sa.Column("suggestion_set_id", sa.Integer, sa.ForeignKey("suggestion_sets.id")),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("system", sa.String(16), nullable=False),
        sa.Column("replaces", sa.String(16)),
        sa.Column("reason", sa.String(64)),
        sa.Column("note", sa.String(500)),
        sa.Column("score", sa.Float),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("encounter_version", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_decisions_encounter_id", "decisions", ["encounter_id"])
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("actor_id", sa.Integer, sa.ForeignKey("users.id")),
        sa.Column("actor_key_id", sa.Integer, sa.ForeignKey("api_keys.id")),
        sa.Column("encounter_id", sa.String(40), sa.ForeignKey("encounters.id")),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("ix_audit_events_encounter_id", "audit_events", ["encounter_id"])
    # The audit log is append-only, enforced by the database itself, not only by our code.
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events "
                "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
    for table in ("audit_events", "decisions", "suggestion_sets", "encounters", "sessions", "api_keys", "users"):
        op.drop_table(table)
