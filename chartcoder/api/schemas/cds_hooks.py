"""CDS Hooks (https://cds-hooks.org, 2.0): the hook call and feedback an EHR sends, and the discovery,
cards and feedback results answered."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chartcoder.api.schemas.common import Out, Stored
from chartcoder.interop.fhir_in import text_problem


class Lenient(BaseModel):
    """CDS Hooks objects may carry fields a later version adds and an `extension`: kept, not refused."""

    model_config = ConfigDict(extra="allow")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        problem = text_problem(value) if isinstance(value, str) else None
        if problem:
            raise ValueError(problem)
        return value


class HookRequest(Lenient):
    hook: str = Field(..., min_length=1, max_length=100, description="The hook that fired, e.g. encounter-discharge.")
    hookInstance: str = Field(..., min_length=1, max_length=100, description="A UUID for this hook call.")
    fhirServer: str | None = Field(None, max_length=2000)
    fhirAuthorization: dict[str, Any] | None = None
    context: dict[str, Any] = Field(..., description="userId, patientId and encounterId for encounter-discharge.")
    prefetch: dict[str, Any] | None = Field(
        None, description="The prefetch templates' results: 'notes' (DocumentReferences), 'patient', 'encounter', ..."
    )


class Coding(Lenient):
    code: str = Field(..., min_length=1, max_length=200)
    system: str = Field(..., min_length=1, max_length=500)
    display: str | None = Field(None, max_length=500)


class OverrideReason(Lenient):
    reason: Coding | None = None
    userComment: str | None = Field(None, max_length=2000)


class AcceptedSuggestion(Lenient):
    id: str = Field(..., min_length=1, max_length=64)


class FeedbackItem(Lenient):
    card: str = Field(..., min_length=1, max_length=64, description="The card.uuid answered.")
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] | None = Field(None, max_length=50)
    overrideReason: OverrideReason | None = None
    outcomeTimestamp: str = Field(..., min_length=10, max_length=40, description="ISO 8601, UTC.")


class FeedbackRequest(Lenient):
    feedback: list[FeedbackItem] = Field(..., min_length=1, max_length=200)


class ServiceOut(BaseModel):
    hook: str
    title: str
    description: str
    id: str
    prefetch: dict[str, str]
    usageRequirements: str


class DiscoveryOut(BaseModel):
    services: list[ServiceOut]


class Card(Stored):
    """A CDS Hooks card: one suggested code, its evidence in the note and the action that records it."""

    uuid: str | None = Field(None, description="Quoted back in feedback.")
    summary: str
    detail: str | None = Field(None, description="Markdown: the evidence in the note, the warnings.")
    indicator: Literal["info", "warning", "critical"]
    source: dict[str, Any] = Field(..., description="label and topic (diagnosis or procedure code).")
    suggestions: list[dict[str, Any]] | None = Field(
        None, description="One suggestion: a create action and the code under the chartcoder extension."
    )
    selectionBehavior: str | None = None
    overrideReasons: list[dict[str, Any]] | None = Field(None, description="Codings of the reasons to reject.")
    links: list[dict[str, Any]] | None = Field(None, description="The encounter in chartcoder's review page.")


class CardsOut(Stored):
    """The CDS Hooks response; the same hookInstance again answers the same cards."""

    cards: list[Card]


class DecisionSummary(Out):
    action: str
    code: str
    system: str
    reason: str | None = None


class FeedbackResult(Out):
    """What became of one feedback item."""

    card: str
    outcome: str
    code: str
    system: str
    result: Literal["applied", "already_applied", "kept_person_decision", "encounter_finalized", "not_applied"]
    error: str | None = Field(None, description="not_applied: why (retry the feedback).")
    decided_by: str | None = Field(None, description="kept_person_decision: the coder whose decision stands.")
    decision: DecisionSummary | None = Field(None, description="applied: the decision recorded.")


class FeedbackOut(Out):
    feedback: list[FeedbackResult] = Field(..., description="In the order of the items sent.")
