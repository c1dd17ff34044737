"""The audit log's table: append-only, one row per change and who made it (a person, a stored key, or a
static key named in the detail)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chartcoder.store.accounts import User
from chartcoder.store.base import Base, UTCDateTime, utcnow


class AuditEvent(Base):
    """Append-only: the migrations add triggers that refuse UPDATE and DELETE on this table."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    encounter_id: Mapped[str | None] = mapped_column(ForeignKey("encounters.id"), index=True)
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    actor: Mapped[User | None] = relationship()
