"""Claim routes: build and scrub a claim for a finalized encounter (biller, admin), and read it back
as JSON, X12 837P, FHIR R4B Claim or CMS-1500 (field map or printable HTML)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from chartcoder.accounts.principal import Principal
from chartcoder.api.deps import Billing, RequireRole
from chartcoder.api.schemas.claims import CLAIM_FORMATS, ClaimRecordOut
from chartcoder.api.schemas.common import REVIEW_ERRORS, EncounterId
from chartcoder.billing.service import render, require_issuable
from chartcoder.domain.roles import Permission

router = APIRouter(prefix="/v1", responses=REVIEW_ERRORS, tags=["billing"])


@router.post(
    "/encounters/{encounter_id}/claim",
    response_model=ClaimRecordOut,
    response_model_exclude_unset=True,
    status_code=201,
)
async def build_claim(
    encounter_id: EncounterId,
    who: Annotated[Principal, Depends(RequireRole(Permission.BUILD_CLAIM))],
    billing: Billing,
) -> Any:
    """Assemble the claim of a finalized encounter and run the scrubber's edits over it. The
    answer holds the claim and every finding (errors block sending; warnings inform)."""
    return await run_in_threadpool(billing.build_claim, encounter_id, who)


@router.get(
    "/encounters/{encounter_id}/claim",
    response_model=ClaimRecordOut,
    response_model_exclude_unset=True,
    responses={
        200: {
            "description": "format=json: the stored claim record; cms1500: an object of CMS-1500 item -> value; "
            "837p, fhir and cms1500-html: the media types below.",
            "content": CLAIM_FORMATS,
        }
    },
)
def read_claim(
    encounter_id: EncounterId,
    who: Annotated[Principal, Depends(RequireRole(Permission.READ_CLAIM))],
    billing: Billing,
    format: Annotated[Literal["json", "837p", "fhir", "cms1500", "cms1500-html"], Query()] = "json",
    draft: Annotated[
        bool, Query(description="Render a claim with scrubber errors anyway, to look at (never to send).")
    ] = False,
) -> Any:
    """The encounter's newest claim: `json` (the stored record: the claim and its findings), `837p`
    (X12 005010X222A1), `fhir` (R4B Claim), `cms1500` (the form's fields) or `cms1500-html`. A claim
    with scrubber errors is rendered in none of the last four unless `draft=true` (422 naming the
    errors), as `chartcoder claim build` writes none without `--allow-errors`."""
    record, claim = billing.get_claim(encounter_id)
    if format == "json":
        return record
    require_issuable(record["findings"], draft=draft)  # the same rule as `chartcoder claim build`
    body, media = render(
        claim,
        format,
        control_number=record["control_number"],  # given out at build time: a re-read gives the same bytes
        created=datetime.fromisoformat(record["created_at"]),
        production=billing.builder.settings.environment == "production",
    )
    text = body if isinstance(body, str) else json.dumps(body, indent=2)
    headers = {}
    if format == "837p":
        headers["Content-Disposition"] = f'attachment; filename="{claim.claim_id}.x12"'
    return Response(text, media_type=media, headers=headers)
