"""The claims table (each claim built from a finalized encounter) and the control numbers given out
per submitter."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from chartcoder.store.base import Base, UTCDateTime, utcnow


class ClaimRecord(Base):
    """A claim built from a finalized encounter, with the scrubber's findings at the time. Building
    again adds a row; the newest is the encounter's claim."""

    __tablename__ = "claims"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    encounter_id: Mapped[str] = mapped_column(ForeignKey("encounters.id"), index=True)
    encounter_version: Mapped[int] = mapped_column(Integer)
    claim: Mapped[dict[str, Any]] = mapped_column(JSON)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    clean: Mapped[bool] = mapped_column(Boolean)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    control_number: Mapped[int | None] = mapped_column(Integer)  # the 837P's ISA13/GS06/ST02 (None before 0006)


class ControlNumber(Base):
    """The last interchange control number (837P ISA13, GS06, ST02) given out per submitter id.
    `next_control_number` increments it in one statement inside a write transaction, so two
    processes (the API, the CLI) never hand out the same number and the numbers only go up."""

    __tablename__ = "control_numbers"

    submitter_id: Mapped[str] = mapped_column(String(15), primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


MAX_CONTROL_NUMBER = 999_999_999  # nine digits in ISA13


def next_control_number(session: Session, submitter_id: str) -> int:
    """The submitter's next control number, 1, 2, 3... Run it in a write transaction: the UPDATE
    takes the row's lock (PostgreSQL) or the database's write lock (SQLite, BEGIN IMMEDIATE), so
    concurrent callers queue and each gets its own number. Past 999999999 it refuses: ISA13 has
    nine digits, and wrapping around would repeat numbers a clearinghouse has seen."""
    bump = (
        update(ControlNumber)
        .where(ControlNumber.submitter_id == submitter_id)
        .values(last_value=ControlNumber.last_value + 1, updated_at=utcnow())
        .returning(ControlNumber.last_value)
    )
    value = session.execute(bump).scalar()
    if value is None:
        try:
            with session.begin_nested():
                session.add(ControlNumber(submitter_id=submitter_id, last_value=1))
            return 1
        except IntegrityError:  # another process made the row first: take the next one
            value = session.execute(bump).scalar_one()
    if value > MAX_CONTROL_NUMBER:
        raise ValueError(f"submitter {submitter_id}: control numbers are used up (nine digits)")
    return int(value)
