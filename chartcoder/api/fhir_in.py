"""FHIR in: `POST /v1/fhir/encounters` stores a review encounter from a FHIR R4 DocumentReference or
Bundle (chartcoder/interop/fhir_in.py reads it). Problems with the resource answer a FHIR
OperationOutcome (`application/fhir+json`) naming each problem and where it is."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from chartcoder.accounts.principal import Principal
from chartcoder.api.deps import RequireRole, Review
from chartcoder.api.schemas.common import REVIEW_ERRORS
from chartcoder.api.schemas.encounters import FhirEncounterOut
from chartcoder.domain.errors import InvalidInputError, NoteTooLongError
from chartcoder.domain.roles import Permission
from chartcoder.interop.fhir_in import FhirInputError, Issue, chart_from_resources, check_top_level, operation_outcome

FHIR_JSON = "application/fhir+json"
ACCEPTED_TYPES = (FHIR_JSON, "application/json")
_OUTCOME_SCHEMA = {
    "type": "object",
    "required": ["resourceType", "issue"],
    "properties": {"resourceType": {"type": "string", "enum": ["OperationOutcome"]}, "issue": {"type": "array"}},
}
_RESOURCE_SCHEMA = {
    "type": "object",
    "required": ["resourceType"],
    "properties": {"resourceType": {"type": "string", "enum": ["DocumentReference", "Bundle"]}},
    "description": "A FHIR R4 DocumentReference, or a Bundle holding DocumentReferences and optionally the "
    "Patient, Encounter, Practitioner, Coverage and payer Organization.",
}


def outcome_response(issues: list[Issue], status: int) -> JSONResponse:
    return JSONResponse(operation_outcome(issues), status_code=status, media_type=FHIR_JSON)


_outcome = {"description": "a FHIR OperationOutcome", "content": {FHIR_JSON: {"schema": _OUTCOME_SCHEMA}}}
_both = {
    "description": "too large: an OperationOutcome, or the error shape when the body limit stops it first",
    "content": {FHIR_JSON: {"schema": _OUTCOME_SCHEMA}, "application/json": {}},
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    **{k: v for k, v in REVIEW_ERRORS.items() if k not in (413, 422)},
    400: _outcome,
    413: _both,
    415: _outcome,
    422: _outcome,
}
router = APIRouter(prefix="/v1", tags=["fhir"])


@router.post(
    "/fhir/encounters",
    status_code=201,
    response_model=FhirEncounterOut,
    response_model_exclude_unset=True,
    responses=_RESPONSES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {t: {"schema": _RESOURCE_SCHEMA} for t in ACCEPTED_TYPES},
        }
    },
)
async def create_from_fhir(
    request: Request,
    response: Response,
    who: Annotated[Principal, Depends(RequireRole(Permission.CREATE_ENCOUNTER))],
    review: Review,
) -> Any:
    """Store an encounter from a FHIR R4 `DocumentReference` (base64 text/plain or text/html in
    `content[].attachment.data`) or a `Bundle` holding DocumentReferences with the Patient (sex,
    birth date), Encounter (class: setting; period: date of service), Practitioner (NPI) and
    Coverage (payer, member id). Answers the `Encounter` (as `POST /v1/encounters` does) plus
    `warnings`; a malformed resource answers a FHIR `OperationOutcome`."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in ACCEPTED_TYPES:
        return outcome_response(
            [
                Issue(
                    "error",
                    "not-supported",
                    f"Content-Type must be {FHIR_JSON} or application/json; got {ctype or 'none'!r}",
                )
            ],
            415,
        )
    body = await request.body()
    try:
        raw = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return outcome_response(
            [Issue("error", "structure", "the body is not JSON in UTF-8; send a FHIR R4 resource as JSON")], 400
        )
    settings = request.app.state.settings
    try:
        limit = settings.max_note_chars
        chart = await run_in_threadpool(lambda: chart_from_resources(check_top_level(raw), limit))
        from chartcoder.models.service import validate_note

        validate_note(chart.text, settings.max_note_chars)
    except FhirInputError as exc:
        return outcome_response(exc.issues, 400 if exc.kind == "invalid" else 422)
    except NoteTooLongError as exc:
        return outcome_response([Issue("error", "too-long", str(exc))], 413)
    except InvalidInputError as exc:
        return outcome_response([Issue("error", "invalid", str(exc))], 422)
    encounter = await run_in_threadpool(review.create_encounter, chart.encounter_data(), who)
    encounter["warnings"] = [i.diagnostics + (f" (at {i.expression})" if i.expression else "") for i in chart.warnings]
    response.headers["Location"] = f"/v1/encounters/{encounter['id']}"
    return encounter
