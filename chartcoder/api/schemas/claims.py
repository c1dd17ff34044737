"""Claims: the stored claim record of a finalized encounter and the scrubber's findings on it."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chartcoder.api.schemas.common import Out, Stored


class FindingOut(Stored):
    """One scrubber edit that fired on the claim."""

    edit: str = Field(..., description="The edit's id.")
    severity: str = Field(..., description="error (blocks sending the claim) or warning (informs).")
    message: str
    fix: str | None = Field(None, description="What to change.")
    where: str | None = Field(None, description="'claim', 'diagnosis N' or 'line N'.")
    diagnosis: int | None = Field(None, description="The diagnosis pointer (1-12) it is about, if one.")
    line: int | None = Field(None, description="The service line (1-50) it is about, if one.")
    suggestions: list[str] | None = Field(None, description="Codes to choose from (billable children, ...).")


class ClaimRecordOut(Out):
    """A claim as built and stored: the claim itself and every finding of the scrubber."""

    id: int = Field(..., description="The claim's id.")
    control_number: int = Field(
        ...,
        description="The 837P interchange control number (ISA13, GS06, ST02), given out per submitter "
        "from the database when the claim is built: unique and increasing, shared with the CLI.",
    )
    encounter_id: str
    encounter_version: int = Field(..., description="The encounter version the claim was built from.")
    created_at: str = Field(..., description="ISO 8601, UTC.")
    clean: bool = Field(..., description="No finding is an error: the claim can be sent.")
    findings: list[FindingOut]
    claim: dict[str, Any] = Field(
        ...,
        description="The claim (chartcoder/billing/claim.py): payer, parties, diagnoses and service lines; "
        "dates as YYYY-MM-DD, money and units as decimal strings.",
    )


# The other formats of GET /v1/encounters/{encounter_id}/claim, by media type.
CLAIM_FORMATS: dict[str, dict[str, Any]] = {
    "application/edi-x12": {"schema": {"type": "string", "description": "format=837p: an X12 005010X222A1 837P."}},
    "application/fhir+json": {
        "schema": {
            "type": "object",
            "required": ["resourceType"],
            "properties": {"resourceType": {"type": "string", "enum": ["Claim"]}},
            "description": "format=fhir: a FHIR R4B Claim resource.",
        },
    },
    "text/html": {"schema": {"type": "string", "description": "format=cms1500-html: the printable CMS-1500."}},
}
