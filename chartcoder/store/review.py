"""The review tables: encounters, suggestion sets, coders' decisions (the audit log is in `audit`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chartcoder.store.accounts import User
from chartcoder.store.base import Base, UTCDateTime, utcnow


class Encounter(Base):
    __tablename__ = "encounters"
    __table_args__ = (
        Index("ix_encounters_status_confidence", "status", "confidence"),
        Index("ix_encounters_date_of_service", "date_of_service"),
        Index("ix_encounters_status_uncertainty", "status", "uncertainty"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(200))
    note_text: Mapped[str] = mapped_column(Text)
    setting: Mapped[str] = mapped_column(String(16))
    date_of_service: Mapped[date | None] = mapped_column(Date)
    patient: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    provider: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    payer: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    payer_key: Mapped[str | None] = mapped_column(String(200), index=True)
    # The coder's diagnosis order (ICD-10-CM codes, first-listed first); None: the conventions order them.
    diagnosis_order: Mapped[list[str] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="open")
    version: Mapped[int] = mapped_column(Integer, default=1)
    confidence: Mapped[float | None] = mapped_column(Float)
    uncertainty: Mapped[float | None] = mapped_column(Float)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_key: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finalized_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finalized_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # A biller's "send back to coder": who, when and why; cleared when the encounter is finalized again.
    sent_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_back_by: Mapped[int | None] = mapped_column(Integer)  # a users.id (no FK: see migration 0005)
    sent_back_reason: Mapped[str | None] = mapped_column(String(500))
    # The patient's name and id (MRN), case-folded, for the worklist's patient filter.
    patient_key: Mapped[str | None] = mapped_column(String(320), index=True)

    __mapper_args__ = {"version_id_col": version}


class SuggestionSet(Base):
    __tablename__ = "suggestion_sets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    encounter_id: Mapped[str] = mapped_column(ForeignKey("encounters.id"), index=True)
    model: Mapped[str] = mapped_column(String(200))
    code_set_release: Mapped[str] = mapped_column(String(100))
    suggestions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Decision(Base):
    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    encounter_id: Mapped[str] = mapped_column(ForeignKey("encounters.id"), index=True)
    suggestion_set_id: Mapped[int | None] = mapped_column(ForeignKey("suggestion_sets.id"))
    action: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(16))
    system: Mapped[str] = mapped_column(String(16))
    replaces: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(String(500))
    score: Mapped[float | None] = mapped_column(Float)
    # A CPT/HCPCS line's data as the coder set it (modifiers, units, service_date, pointers, ndc, dose).
    line: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    encounter_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()


class ChartLock(Base):
    """Who has an encounter open to code it, since when. One per encounter; another coder takes it
    over explicitly (the audit log keeps the take-over)."""

    __tablename__ = "chart_locks"

    encounter_id: Mapped[str] = mapped_column(ForeignKey("encounters.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()


def patient_key(patient: dict[str, Any]) -> str | None:
    """The patient's name and id as the worklist's patient filter matches them (case-folded)."""
    words = " ".join(str(patient.get(k) or "").strip() for k in ("name", "id")).strip()
    return words.casefold()[:320] or None
