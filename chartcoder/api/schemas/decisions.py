"""Decisions: a coder's accept, reject, add and change of codes, and finalizing and reopening."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chartcoder.api.schemas.common import Strict


class DecisionItem(Strict):
    action: Literal["accept", "reject", "add", "change"]
    code: str = Field(..., min_length=1, max_length=16)
    system: Literal["ICD-10-CM", "CPT", "HCPCS", "ICD-10-PCS"] = "ICD-10-CM"
    reason: str | None = Field(None, max_length=64)
    note: str | None = Field(None, max_length=500)
    replaces: str | None = Field(None, max_length=16)


class DecisionBatch(Strict):
    version: int = Field(..., ge=1)
    decisions: list[DecisionItem] = Field(..., min_length=1, max_length=200)


class VersionIn(Strict):
    version: int = Field(..., ge=1)


class ReopenIn(Strict):
    version: int = Field(..., ge=1)
    reason: str = Field(..., min_length=1, max_length=500)


class SendBackIn(Strict):
    version: int = Field(..., ge=1)
    reason: str = Field(..., min_length=1, max_length=500, description="What the coder should fix; shown to them.")


class LockIn(Strict):
    take_over: bool = Field(
        False, description="Take the lock from the person who holds it (audited); without it, a held lock is a 409."
    )
