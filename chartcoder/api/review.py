"""Routes of the review workflow (encounters, decisions, audit, the audited-chart export): validate,
call the ReviewService, return; the role each needs is its RequireRole dependency. The contract is
docs/review-api.md."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi.concurrency import run_in_threadpool

from chartcoder.accounts.principal import Principal
from chartcoder.api.deps import Caller, RequireRole, Review, SettingsDep
from chartcoder.api.schemas.common import REVIEW_ERRORS, EncounterId, IsoDate
from chartcoder.api.schemas.decisions import DecisionBatch, DiagnosisOrderIn, LockIn, ReopenIn, SendBackIn, VersionIn
from chartcoder.api.schemas.encounters import (
    AuditTrail,
    EncounterCreate,
    EncounterOut,
    EncounterPatch,
    LockAnswer,
    ModifierOut,
    Reason,
    Worklist,
    WorklistSearch,
)
from chartcoder.domain.errors import InvalidInputError, PermissionDeniedError
from chartcoder.domain.roles import Permission, roles_for
from chartcoder.review.decisions import DecisionIn
from chartcoder.review.states import REASONS

router = APIRouter(prefix="/v1", responses=REVIEW_ERRORS)


def _allowed(permission: Permission, person: str | None = None) -> Any:
    return Depends(RequireRole(permission, person=person))


@router.get("/review/reasons", response_model=list[Reason], tags=["review"])
def reasons(who: Caller) -> Any:
    """The reasons a coder can give for rejecting or changing a code."""
    return [{"code": c, "label": label} for c, label in REASONS]


@router.get("/review/modifiers", response_model=list[ModifierOut], tags=["review"])
def modifiers(who: Caller) -> Any:
    """The modifiers a CPT/HCPCS line may carry (the billing layer's modifier table, in our own words)."""
    from chartcoder.billing.line_rules import modifier_table

    return [{"code": m.code, "group": m.group, "wording": m.wording} for m in modifier_table().modifiers.values()]


@router.post(
    "/encounters", response_model=EncounterOut, response_model_exclude_unset=True, status_code=201, tags=["review"]
)
async def create_encounter(
    body: EncounterCreate,
    who: Annotated[Principal, _allowed(Permission.CREATE_ENCOUNTER)],
    review: Review,
    settings: SettingsDep,
) -> Any:
    """Store an encounter and the suggestions computed for its note."""
    from chartcoder.models.service import validate_note

    validate_note(body.text, settings.max_note_chars)
    data = body.model_dump(mode="json")
    data["date_of_service"] = body.date_of_service
    return await run_in_threadpool(review.create_encounter, data, who)


@router.get("/encounters", response_model=Worklist, response_model_exclude_unset=True, tags=["review"])
def worklist(
    who: Annotated[Principal, _allowed(Permission.LIST_ENCOUNTERS)],
    review: Review,
    status: Literal["open", "finalized", "all"] = "open",
    date_from: IsoDate | None = None,
    date_to: IsoDate | None = None,
    payer: Annotated[str | None, Query(max_length=200)] = None,
    patient: Annotated[str | None, Query(include_in_schema=False)] = None,
    claim_status: Annotated[
        Literal["not_built", "clean", "findings", "outdated", "sent_back"] | None,
        Query(description="The newest claim's status (the biller's filter); see ClaimSummary."),
    ] = None,
    order: Annotated[
        Literal["confidence", "uncertainty", "date", "created"],
        Query(
            description="confidence: least confident first (lowest top score); uncertainty: active "
            "learning, the encounters whose suggestions the model was least sure of first (summed "
            "binary entropy of the scores); date: newest date of service first; created: oldest first. "
            "Encounters with no suggestion at all come first in both model orders."
        ),
    ] = "confidence",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> Any:
    """The worklist: encounters by status, date of service and payer, least confident first (or
    most uncertain first, for active learning). Each item's claim (and the claim_status filter) only
    for callers who may read claims. The patient filter is POST /v1/encounters/search's (never in a URL)."""
    if patient is not None:
        raise InvalidInputError(
            "'patient' is not taken in the URL (it would name the patient in logs and browser history); "
            "send the filters in the body of POST /v1/encounters/search."
        )
    claims = _may_read_claims(who, claim_status)
    return review.worklist(status, date_from, date_to, payer, order, limit, offset, claim_status, None, claims)


@router.post("/encounters/search", response_model=Worklist, response_model_exclude_unset=True, tags=["review"])
def search_worklist(
    body: WorklistSearch, who: Annotated[Principal, _allowed(Permission.LIST_ENCOUNTERS)], review: Review
) -> Any:
    """The worklist with its filters in the body, the patient filter (part of the name or MRN, any case)
    among them: a patient's name never travels in a URL. Answers as GET /v1/encounters."""
    f = body
    claims = _may_read_claims(who, f.claim_status)
    return review.worklist(
        f.status, f.date_from, f.date_to, f.payer, f.order, f.limit, f.offset, f.claim_status, f.patient, claims
    )


def _may_read_claims(who: Principal, claim_status: str | None) -> bool:
    """Whether the worklist shows `who` the claims; filtering by claim status without that is a 403."""
    claims = who.role in roles_for(Permission.READ_CLAIM)
    if claim_status and not claims:
        wanted = " or ".join(roles_for(Permission.READ_CLAIM))
        raise PermissionDeniedError(
            f"the claim_status filter needs a role that reads claims ({wanted}); you are {who.role}"
        )
    return claims


@router.get(
    "/encounters/{encounter_id}", response_model=EncounterOut, response_model_exclude_unset=True, tags=["review"]
)
def read_encounter(
    encounter_id: EncounterId, who: Annotated[Principal, _allowed(Permission.READ_ENCOUNTER)], review: Review
) -> Any:
    return review.get_encounter(encounter_id)


@router.post(
    "/encounters/{encounter_id}/decisions",
    response_model=EncounterOut,
    response_model_exclude_unset=True,
    tags=["review"],
)
def decide(
    encounter_id: EncounterId,
    body: DecisionBatch,
    who: Annotated[Principal, _allowed(Permission.DECIDE, "decide on codes")],
    review: Review,
) -> Any:
    """Accept, reject, add or change codes, all or none; `version` must be the current one. A CPT/HCPCS
    code may carry its line: modifiers, units, service_date, pointers, ndc, dose."""
    batch = [
        DecisionIn(d.action, d.code, d.system, d.reason, d.note, d.replaces, line=d.line()) for d in body.decisions
    ]
    return review.decide(encounter_id, body.version, batch, who)


@router.put(
    "/encounters/{encounter_id}/diagnosis-order",
    response_model=EncounterOut,
    response_model_exclude_unset=True,
    tags=["review"],
)
def diagnosis_order(
    encounter_id: EncounterId,
    body: DiagnosisOrderIn,
    who: Annotated[Principal, _allowed(Permission.DECIDE, "sequence the diagnoses")],
    review: Review,
) -> Any:
    """The coder's diagnosis order, first-listed first (accepted or added ICD-10-CM codes, each once);
    the claim lists them so. null gives the order back to the sequencing conventions."""
    return review.set_diagnosis_order(encounter_id, body.version, body.diagnosis_order, who)


@router.patch(
    "/encounters/{encounter_id}", response_model=EncounterOut, response_model_exclude_unset=True, tags=["review"]
)
def update_encounter(
    encounter_id: EncounterId,
    body: EncounterPatch,
    who: Annotated[Principal, _allowed(Permission.EDIT_ENCOUNTER)],
    review: Review,
) -> Any:
    """Correct the patient (demographics, address), payer (id, name, member id) or providers (rendering,
    referring), also on a finalized encounter: a field given replaces the stored one, null removes it."""
    return review.update_encounter(encounter_id, body.version, body.changes(), who)


@router.post(
    "/encounters/{encounter_id}/finalize",
    response_model=EncounterOut,
    response_model_exclude_unset=True,
    tags=["review"],
)
def finalize(
    encounter_id: EncounterId,
    body: VersionIn,
    who: Annotated[Principal, _allowed(Permission.DECIDE, "finalize an encounter")],
    review: Review,
) -> Any:
    return review.finalize(encounter_id, body.version, who)


@router.post(
    "/encounters/{encounter_id}/reopen", response_model=EncounterOut, response_model_exclude_unset=True, tags=["review"]
)
def reopen(
    encounter_id: EncounterId,
    body: ReopenIn,
    who: Annotated[Principal, _allowed(Permission.DECIDE, "reopen an encounter")],
    review: Review,
) -> Any:
    return review.reopen(encounter_id, body.version, body.reason, who)


@router.post(
    "/encounters/{encounter_id}/send-back",
    response_model=EncounterOut,
    response_model_exclude_unset=True,
    tags=["review"],
)
def send_back(
    encounter_id: EncounterId,
    body: SendBackIn,
    who: Annotated[Principal, _allowed(Permission.SEND_BACK, "send an encounter back to the coder")],
    review: Review,
) -> Any:
    """A biller sends a finalized encounter back to the coder with a reason: it opens again, and the
    reason is shown on it until it is finalized again (audited as encounter.sent_back)."""
    return review.send_back(encounter_id, body.version, body.reason, who)


@router.post(
    "/encounters/{encounter_id}/lock", response_model=LockAnswer, response_model_exclude_unset=True, tags=["review"]
)
def lock(
    encounter_id: EncounterId,
    body: LockIn,
    who: Annotated[Principal, _allowed(Permission.DECIDE, "open a chart to code it")],
    review: Review,
) -> Any:
    """Take the chart lock (who has the encounter open, since when). Held by someone else: 409
    `chart_locked` naming them, unless `take_over` is true (audited as encounter.lock_taken_over)."""
    return review.lock(encounter_id, who, body.take_over)


@router.delete("/encounters/{encounter_id}/lock", status_code=204, response_class=Response, tags=["review"])
def unlock(
    encounter_id: EncounterId,
    who: Annotated[Principal, _allowed(Permission.DECIDE, "release a chart lock")],
    review: Review,
) -> Response:
    """Release your own chart lock (204, also when no lock is held); someone else's is a 409."""
    review.unlock(encounter_id, who)
    return Response(status_code=204)


@router.get(
    "/encounters/{encounter_id}/audit", response_model=AuditTrail, response_model_exclude_unset=True, tags=["review"]
)
def audit(encounter_id: EncounterId, who: Annotated[Principal, _allowed(Permission.READ_AUDIT)], review: Review) -> Any:
    return {"events": review.audit_trail(encounter_id)}


@router.get(
    "/audits/export",
    tags=["retraining"],
    response_class=Response,
    responses={
        200: {
            "description": "audited charts, one per line",
            "content": {
                "application/x-ndjson": {
                    "schema": {"type": "string", "description": "One audited chart (a JSON object) per line."}
                }
            },
        }
    },
)
def export_audits(
    who: Annotated[Principal, _allowed(Permission.EXPORT_AUDITS)],
    review: Review,
    since: IsoDate | None = None,
    until: IsoDate | None = None,
) -> Response:
    """Finalized encounters as audited-chart JSONL (what `chartcoder train --format jsonl` reads):
    accepted and added codes are positives, rejected ones negatives. Finalized from `since` through
    `until` (inclusive days, UTC). The headers `X-Chartcoder-Charts`, `-Codes` and `-Decisions`
    say what it holds."""
    if since and until and since > until:
        raise InvalidInputError(f"'since' ({since}) is after 'until' ({until}).")
    lines, codes, decisions = [], 0, 0
    for chart, n in review.iter_audited(since, until):
        lines.append(json.dumps(chart, ensure_ascii=False))
        codes += len(chart["codes"])
        decisions += n
    body = "".join(line + "\n" for line in lines)
    headers = {
        "X-Chartcoder-Charts": str(len(lines)),
        "X-Chartcoder-Codes": str(codes),
        "X-Chartcoder-Decisions": str(decisions),
        "Content-Disposition": 'attachment; filename="audited-charts.jsonl"',
    }
    return Response(body, media_type="application/x-ndjson", headers=headers)
