"""Encounters: what an EHR or a coder sends to store a note for review, and what the review answers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from chartcoder.api.schemas.common import IsoDate, Out, Stored, Strict
from chartcoder.billing.line_input import state_problem
from chartcoder.billing.scrubber import npi_valid


class AddressIn(Strict):
    line1: str = Field(..., min_length=1, max_length=55)
    line2: str | None = Field(None, max_length=55)
    city: str = Field(..., min_length=1, max_length=30)
    state: str = Field(..., pattern=r"^[A-Z]{2}$", description="A U.S. state, territory or military code (IL).")
    zip: str = Field(..., pattern=r"^[0-9]{5}([0-9]{4})?$")

    @field_validator("state")
    @classmethod
    def _known_state(cls, value: str) -> str:
        if why := state_problem(value):
            raise ValueError(why)
        return value


def _npi_checked(value: str | None) -> str | None:
    if value is not None and not npi_valid(value):
        raise ValueError("is not a valid NPI: ten digits whose last is the check digit (Luhn, prefix 80840)")
    return value


class Patient(Strict):
    id: str | None = Field(None, max_length=100)
    address: AddressIn | None = None
    name: str | None = Field(None, max_length=200)
    sex: Literal["F", "M", "U"] | None = None
    birth_date: IsoDate | None = None
    age: int | None = Field(None, ge=0, le=130)


class ProviderRef(Strict):
    """A clinician named on the claim besides the rendering one (the referring provider)."""

    npi: str | None = Field(None, pattern=r"^\d{10}$")
    name: str | None = Field(None, max_length=200, description="First Last, or Last, First.")

    check_npi = field_validator("npi")(_npi_checked)


class Provider(Strict):
    """The rendering provider (the clinician who saw the patient), and who referred the patient."""

    npi: str | None = Field(None, pattern=r"^\d{10}$")
    name: str | None = Field(None, max_length=200)
    referring: ProviderRef | None = None

    check_npi = field_validator("npi")(_npi_checked)


class Payer(Strict):
    id: str | None = Field(None, max_length=80)
    name: str | None = Field(None, max_length=200)
    member_id: str | None = Field(None, max_length=80, description="The patient's (subscriber's) id at the payer.")


class EncounterCreate(Strict):
    text: str = Field(..., description="The clinical note, plain text.")
    external_id: str | None = Field(None, max_length=200, description="The EHR's id for this encounter.")
    setting: Literal["outpatient", "inpatient"] = "outpatient"
    date_of_service: IsoDate | None = None
    patient: Patient = Field(default_factory=Patient)
    provider: Provider = Field(default_factory=Provider)
    payer: Payer = Field(default_factory=Payer)


class EncounterPatch(Strict):
    """PATCH /v1/encounters/{id}: each field given replaces the stored one (an address or the referring
    provider whole), null removes it, a field left out stays."""

    version: int = Field(..., ge=1)
    patient: Patient | None = None
    provider: Provider | None = None
    payer: Payer | None = None

    def changes(self) -> dict[str, dict[str, Any]]:
        """Only what the caller sent, section by section (nulls kept: they remove a field)."""
        return {
            k: getattr(self, k).model_dump(mode="json", exclude_unset=True)
            for k in ("patient", "provider", "payer")
            if getattr(self, k) is not None
        }


class Reason(BaseModel):
    code: str
    label: str


class AddressOut(Stored):
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None


class PatientOut(Stored):
    """The patient as stored (fields sent as null are left out)."""

    id: str | None = None
    address: AddressOut | None = None
    name: str | None = None
    sex: str | None = None
    birth_date: str | None = Field(None, description="YYYY-MM-DD.")
    age: int | None = None


class ProviderRefOut(Stored):
    npi: str | None = None
    name: str | None = None


class ProviderOut(Stored):
    npi: str | None = None
    name: str | None = None
    referring: ProviderRefOut | None = None


class PayerOut(Stored):
    id: str | None = None
    name: str | None = None
    member_id: str | None = None


class SentBack(Out):
    """A biller's send-back to the coder, shown until the encounter is finalized again."""

    by: str | None = Field(None, description="The biller's user name.")
    at: str = Field(..., description="ISO 8601, UTC.")
    reason: str = Field(..., description="What the coder should fix.")


class ChartLockOut(Out):
    """Who has the encounter open to code it (the chart lock)."""

    username: str
    display_name: str
    since: str = Field(..., description="ISO 8601, UTC: when they took the lock.")


class LockAnswer(Out):
    encounter_id: str
    lock: ChartLockOut
    taken_over_from: str | None = Field(None, description="Who held the lock before a take-over (user name).")


class ClaimSummary(Out):
    """The newest claim of an encounter as the biller's worklist shows it."""

    status: Literal["not_built", "clean", "findings", "outdated", "sent_back"] | None = Field(
        None,
        description="not_built: finalized, no claim yet; clean / findings: the newest claim, built from the "
        "current version, has no error / has errors; outdated: built from an older version; sent_back: "
        "returned to the coder; none while being coded.",
    )
    id: int | None = None
    total_charge: str | None = Field(None, description="The claim's total charge, a decimal string.")
    built_at: str | None = Field(None, description="ISO 8601, UTC.")


class EncounterSummary(Out):
    """An encounter as the worklist shows it."""

    id: str = Field(..., description="The encounter's id (enc_...).")
    external_id: str | None = Field(None, description="The EHR's id for this encounter.")
    status: Literal["open", "finalized"]
    version: int = Field(..., description="Changes with every decision; send it back to decide, finalize or reopen.")
    setting: str = Field(..., description="outpatient or inpatient.")
    date_of_service: str | None = Field(None, description="YYYY-MM-DD.")
    patient: PatientOut
    provider: ProviderOut
    payer: PayerOut
    confidence: float | None = Field(None, description="The top suggestion's score (none without suggestions).")
    uncertainty: float | None = Field(None, description="Summed binary entropy of the suggestions' scores.")
    created_at: str = Field(..., description="ISO 8601, UTC.")
    updated_at: str = Field(..., description="ISO 8601, UTC.")
    finalized_at: str | None = Field(None, description="ISO 8601, UTC; none while open.")
    finalized_by: str | None = Field(None, description="Who finalized it (user name); none in worklist items.")
    sent_back: SentBack | None = Field(None, description="A biller sent it back to the coder (until finalized again).")


class WorklistItem(EncounterSummary):
    n_suggestions: int = Field(..., description="Codes the model suggested.")
    n_pending: int = Field(..., description="Codes no one has decided on yet.")
    n_decided: int = Field(..., description="Codes accepted, added or rejected.")
    claim: ClaimSummary | None = Field(
        None, description="The newest claim; only for callers who may read claims (biller, coder, admin)."
    )


class WorklistSearch(Strict):
    """The worklist's filters in a request body (POST /v1/encounters/search): the patient filter names a
    patient, which must not travel in a URL (proxy and server logs, browser history)."""

    status: Literal["open", "finalized", "all"] = "open"
    date_from: IsoDate | None = None
    date_to: IsoDate | None = None
    payer: str | None = Field(None, max_length=200)
    patient: str | None = Field(None, max_length=200, description="Part of the patient's name or id (MRN), any case.")
    claim_status: Literal["not_built", "clean", "findings", "outdated", "sent_back"] | None = None
    order: Literal["confidence", "uncertainty", "date", "created"] = "confidence"
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0, le=10**9)


class Worklist(Out):
    items: list[WorklistItem]
    total: int = Field(..., description="Encounters matching the filters (all pages).")


class StoredSuggestion(Stored):
    """A suggestion as stored with the encounter (the shape of SuggestionOut: evidence, warnings, group)."""

    code: str
    system: str
    description: str
    score: float


class SuggestionSetOut(Out):
    id: int
    model: str = Field(..., description="The model pack that made the suggestions.")
    code_set_release: str
    created_at: str = Field(..., description="ISO 8601, UTC.")
    suggestions: list[StoredSuggestion]


class NdcOut(Out):
    code: str = Field(..., description="As entered: 11 digits, 5-4-2, hyphens optional.")
    unit: str = Field(..., description="F2, GR, ME, ML or UN.")
    quantity: str = Field(..., description="A decimal string.")


class DoseOut(Out):
    amount: str = Field(..., description="A decimal string.")
    unit: str = Field(..., description="mg, mcg, g, mL or units.")


class CodeState(Out):
    """Where a suggested or added code stands after the decisions so far."""

    code: str
    system: str
    description: str
    state: Literal["pending", "accepted", "added", "rejected"]
    score: float | None = Field(None, description="The model's score; none for a code a person added.")
    suggested: bool = Field(..., description="The model suggested it.")
    reason: str | None = Field(None, description="The reason code of a rejection or change.")
    note: str | None = None
    replaces: str | None = Field(None, description="The code this one replaced (a change).")
    decided_by: str | None = Field(None, description="The user name of the last decision.")
    decided_at: str | None = Field(None, description="ISO 8601, UTC.")
    # The line's data (CPT/HCPCS codes only; each null when not set): docs/review-api.md, "Line data".
    modifiers: list[str] | None = Field(None, description="In billing order; [] means none.")
    units: str | None = Field(None, description="A decimal string.")
    service_date: str | None = Field(None, description="YYYY-MM-DD; null: the encounter's date of service.")
    pointers: list[str] | None = Field(None, description="The ICD-10-CM codes the line is for.")
    ndc: NdcOut | None = None
    dose: DoseOut | None = None


class EncounterOut(EncounterSummary):
    """An encounter with its note, the suggestions stored for it and the state of every code."""

    text: str = Field(..., description="The clinical note.")
    suggestion_set: SuggestionSetOut | None = None
    codes: list[CodeState]
    lock: ChartLockOut | None = Field(None, description="Who has it open to code it (the chart lock), if anyone.")
    diagnosis_order: list[str] | None = Field(
        None,
        description="The coder's diagnosis order (first-listed first) among the diagnoses coded now; null: "
        "none set, the claim orders them by the sequencing conventions.",
    )


class FhirEncounterOut(EncounterOut):
    warnings: list[str] = Field(..., description="What was read past or guessed in the FHIR resources.")


class ModifierOut(Out):
    code: str
    group: str = Field(..., description="side, finger, toe, eyelid, distinct, ...")
    wording: str = Field(..., description="What it means, in chartcoder's words.")


class AuditActor(Out):
    id: int
    username: str
    role: str


class AuditEventOut(Out):
    id: int
    at: str = Field(..., description="ISO 8601, UTC.")
    actor: AuditActor | None = Field(None, description="The person; none for an API key.")
    key_id: int | None = Field(None, description="The API key that acted, if one did.")
    action: str = Field(..., description="encounter.created, decision.made, encounter.finalized, ...")
    detail: dict[str, Any]


class AuditTrail(Out):
    events: list[AuditEventOut] = Field(..., description="Oldest first.")
