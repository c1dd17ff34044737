"""Request and response schemas of the HTTP API; bounds are declared here, not checked by hand."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from chartcoder.domain.encounter import EncounterContext

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date_only(value: object) -> object:
    # pydantic also reads a number ("0", 86400) as a Unix time; the API promises YYYY-MM-DD only
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value) or isinstance(value, int | float):
        raise ValueError("must be a date written YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]



class SuggestionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(..., description="The clinical note, plain text (UTF-8).")
    encounter: EncounterContext = Field(default_factory=EncounterContext)
    top_k: int | None = Field(None, ge=1, le=100, description="How many suggestions to return (default 20).")
    id: str | None = Field(None, max_length=200, description="Your identifier for the note; echoed back.")


class EvidenceOut(BaseModel):
    start: int = Field(..., ge=0)
    end: int = Field(..., ge=0)
    text: str
    assertion: str
    section: str | None


class SuggestionOut(BaseModel):
    code: str
    system: Literal["ICD-10-CM", "CPT", "HCPCS", "ICD-10-PCS"]
    description: str
    score: float = Field(..., ge=0, le=1)
    evidence: list[EvidenceOut]
    warnings: list[str]
    group: Literal["suggested", "consider"] = Field(
        "suggested",
        description="suggested: the proposal, above the shown threshold with evidence in the note; "
        "consider: ranked below as a separate group (weak or no supporting words)",
    )


class SuggestionResponse(BaseModel):
    id: str | None = None
    model: str
    suggestions: list[SuggestionOut]


class CodeOut(BaseModel):
    code: str
    system: str
    description: str
    billable: bool


class ErrorOut(BaseModel):
    error: str
    detail: str | list[dict[str, object]]
    request_id: str | None = None


class Health(BaseModel):
    status: Literal["ok"]
    model: str | None = None
