"""The model registry's tables: registered packs and the append-only promotion history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chartcoder.store.base import Base, UTCDateTime, utcnow


class RegisteredPack(Base):
    """A model pack copied into the registry folder (`model_dir/registry/<folder>`), with the SHA-256
    of its manifest at registration: a pack changed on disk afterwards is refused when promoted or
    loaded."""

    __tablename__ = "model_packs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[str] = mapped_column(String(64))
    folder: Mapped[str] = mapped_column(String(255))
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    system: Mapped[str | None] = mapped_column(String(16))
    card: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(String(500))
    registered_by: Mapped[str] = mapped_column(String(128))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Promotion(Base):
    """Append-only history of which pack serves. The newest row is the active pack; a row with no pack
    means the configured pack (CHARTCODER_MODEL) serves again."""

    __tablename__ = "model_promotions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pack_id: Mapped[int | None] = mapped_column(ForeignKey("model_packs.id"))
    previous_pack_id: Mapped[int | None] = mapped_column(ForeignKey("model_packs.id"))
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    pack: Mapped[RegisteredPack | None] = relationship(foreign_keys=[pack_id])
