"""The CDS Hooks tables: each hook call answered (with the cards as answered, so a
repeated `hookInstance` gets the same cards), each card and its one suggestion (so feedback maps back
to an encounter and a code), every feedback item received (applied or not: feedback is never lost),
and the JWT ids already seen (replay protection shared by every API process). Migration 0004 makes
the tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chartcoder.store.base import Base, UTCDateTime, utcnow


class CdsCall(Base):
    """One answered hook call. `client` is who called (a configured CDS client, an API key or a
    person); `note_sha256` lets a later call for the same EHR encounter and the same note reuse the
    stored encounter instead of adding a duplicate to the worklist."""

    __tablename__ = "cds_calls"
    __table_args__ = (
        UniqueConstraint("client", "service_id", "hook_instance", name="uq_cds_calls_instance"),
        Index("ix_cds_calls_ehr_encounter", "client", "service_id", "ehr_encounter_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client: Mapped[str] = mapped_column(String(200))
    service_id: Mapped[str] = mapped_column(String(100))
    hook: Mapped[str] = mapped_column(String(100))
    hook_instance: Mapped[str] = mapped_column(String(100))
    encounter_id: Mapped[str | None] = mapped_column(ForeignKey("encounters.id"), index=True)
    ehr_encounter_id: Mapped[str | None] = mapped_column(String(200))
    ehr_patient_id: Mapped[str | None] = mapped_column(String(200))
    ehr_user: Mapped[str | None] = mapped_column(String(200))
    note_sha256: Mapped[str | None] = mapped_column(String(64))
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CdsCard(Base):
    """A card as answered: one code, one suggestion (accepting it accepts that code)."""

    __tablename__ = "cds_cards"

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    suggestion_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("cds_calls.id"), index=True)
    encounter_id: Mapped[str] = mapped_column(ForeignKey("encounters.id"), index=True)
    client: Mapped[str] = mapped_column(String(200))
    service_id: Mapped[str] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(String(16))
    system: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CdsFeedback(Base):
    """One feedback item as received, and what became of it (`result`: applied, already_applied,
    kept_person_decision, encounter_finalized)."""

    __tablename__ = "cds_feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    card_uuid: Mapped[str] = mapped_column(ForeignKey("cds_cards.uuid"), index=True)
    client: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(16))
    accepted_suggestions: Mapped[list[str]] = mapped_column(JSON, default=list)
    override_reason: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    user_comment: Mapped[str | None] = mapped_column(String(2000))
    outcome_timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    result: Mapped[str] = mapped_column(String(32))
    decision: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CdsSeenToken(Base):
    """A CDS client JWT's `jti`, kept until the token expires: the same token twice is a replay."""

    __tablename__ = "cds_seen_tokens"

    issuer: Mapped[str] = mapped_column(String(500), primary_key=True)
    jti: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
