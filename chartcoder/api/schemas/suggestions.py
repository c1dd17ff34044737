"""Suggestions and code lookup: the note and its encounter context in, ranked codes with evidence out."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from chartcoder.domain.encounter import EncounterContext


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


class IcdCodeDetail(BaseModel):
    """An ICD-10-CM code and its tabular notes."""

    code: str
    system: Literal["ICD-10-CM"]
    description: str
    billable: bool = Field(..., description="Valid on a claim (a leaf of the tabular list).")
    kind: str = Field(..., description="chapter, block, category or subcategory")
    parent: str | None
    children: list[str]
    inclusion_terms: list[str]
    includes: list[str]
    excludes1: list[str] = Field(..., description="Never coded together with this code.")
    excludes2: list[str] = Field(..., description="Not part of this condition; may be coded together.")
    code_first: list[str]
    use_additional_code: list[str]
    code_also: list[str]
    seventh_characters: dict[str, str] = Field(..., description="The 7th characters it takes, and their meaning.")
    manifestation: bool = Field(..., description="A manifestation code: never the first-listed diagnosis.")


class ProcedureCodeDetail(BaseModel):
    """A CPT or HCPCS code (our own short wording)."""

    code: str
    system: Literal["CPT", "HCPCS"]
    description: str
    category: str
    source: str = Field(..., description="built-in, or the code file it came from.")
    billable: bool


CodeDetail = Annotated[IcdCodeDetail | ProcedureCodeDetail, Field(discriminator="system")]
