"""Claim routes: build and scrub a claim for a finalized encounter (biller, admin), and read it back
as JSON, X12 837P, FHIR R4B Claim or CMS-1500 (field map or printable HTML)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from chartcoder.api.review import Caller
from chartcoder.billing.service import BillingService, render, require_issuable

BILLERS = ("biller", "admin")
CLAIM_READERS = ("biller", "admin", "coder")


def billing_service(request: Request) -> BillingService:
    return request.app.state.billing  # type: ignore[no-any-return]


Billing = Annotated[BillingService, Depends(billing_service)]
EncounterId = Annotated[str, Path(min_length=1, max_length=64)]


def build_router(error_responses: dict[int | str, dict[str, Any]]) -> APIRouter:
    r = APIRouter(prefix="/v1", responses=error_responses, tags=["billing"])

    @r.post("/encounters/{encounter_id}/claim", status_code=201)
    async def build_claim(encounter_id: EncounterId, who: Caller, billing: Billing) -> Any:
        """Assemble the claim of a finalized encounter and run the scrubber's edits over it. The
        answer holds the claim and every finding (errors block sending; warnings inform)."""
        who.require(*BILLERS)
        return await run_in_threadpool(billing.build_claim, encounter_id, who)

    @r.get(
        "/encounters/{encounter_id}/claim",
        responses={200: {"content": {"application/edi-x12": {}, "application/fhir+json": {}, "text/html": {}}}},
    )
    def read_claim(
        encounter_id: EncounterId,
        who: Caller,
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
        who.require(*CLAIM_READERS)
        record, claim = billing.get_claim(encounter_id)
        if format == "json":
            return record
        require_issuable(record["findings"], draft=draft)  # the same rule as `chartcoder claim build`
        body, media = render(
            claim,
            format,
            control_number=record["id"],  # one interchange per stored claim; a re-read gives the same bytes
            created=datetime.fromisoformat(record["created_at"]),
            production=billing.builder.settings.environment == "production",
        )
        text = body if isinstance(body, str) else json.dumps(body, indent=2)
        headers = {}
        if format == "837p":
            headers["Content-Disposition"] = f'attachment; filename="{claim.claim_id}.x12"'
        return Response(text, media_type=media, headers=headers)

    return r
