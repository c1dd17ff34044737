"""CDS Hooks routes: `GET /cds-services` (discovery, open), `POST /cds-services/{id}` (a hook call) and
`POST /cds-services/{id}/feedback`, authenticated by a CDS client's JWT (chartcoder/interop/cds_auth.py)
or by our own API keys and sessions. Validate, call CdsHooksService, return; docs/integration.md."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse

from chartcoder.accounts.principal import Principal
from chartcoder.api.deps import Cds, RequireRole
from chartcoder.api.schemas.cds_hooks import CardsOut, DiscoveryOut, FeedbackOut, FeedbackRequest, HookRequest
from chartcoder.api.schemas.common import REVIEW_ERRORS
from chartcoder.config import Settings
from chartcoder.domain.errors import AuthenticationError
from chartcoder.domain.roles import Permission
from chartcoder.interop.cds_auth import looks_like_jwt
from chartcoder.interop.cds_hooks import CdsCaller, CdsHooksService, NoteMissingError, feedback_timestamp
from chartcoder.interop.fhir_in import FhirInputError

PREFIX = "/cds-services"
ServiceId = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")]


def is_cds_jwt(path: str, token: str | None, via_cookie: bool) -> bool:
    """A bearer JWT sent to a CDS service endpoint (our own keys and session tokens are not JWTs)."""
    return path.startswith(PREFIX + "/") and not via_cookie and looks_like_jwt(token)


def jwt_principal(request: Request, token: str) -> tuple[Principal | None, str | None]:
    """(the CDS client as a Principal, None) or (None, why the JWT was refused). The audience is the
    endpoint's URL under CHARTCODER_CDS_BASE_URL (or the URL the request came in on); feedback also
    accepts the service's own URL."""
    settings: Settings = request.app.state.settings
    base = (settings.cds_base_url or str(request.base_url)).rstrip("/")
    rest = request.url.path[len(PREFIX) :].strip("/")
    audiences = [f"{base}{PREFIX}/{rest}"]
    if rest.endswith("/feedback"):
        audiences.append(f"{base}{PREFIX}/{rest[: -len('/feedback')]}")
    audiences += [a + "/" for a in audiences]
    try:
        client = request.app.state.cds_verifier.verify(token, audiences)
    except AuthenticationError as exc:
        return None, f"CDS client JWT refused: {exc}"
    request.state.cds_client = client.name
    return Principal("ehr", f"cds:{client.name}"), None


def _caller(request: Request, who: Principal) -> CdsCaller:
    name = getattr(request.state, "cds_client", None)
    if name:
        return CdsCaller(who, f"cds:{name}")
    if who.user_id is not None:
        return CdsCaller(who, f"user:{who.username}")
    return CdsCaller(who, who.username)


def _base_url(request: Request) -> str:
    settings: Settings = request.app.state.settings
    return (settings.cds_base_url or str(request.base_url)).rstrip("/")


def _fhir_error(request: Request, exc: FhirInputError) -> JSONResponse:
    status = 412 if isinstance(exc, NoteMissingError) else 400 if exc.kind == "invalid" else 422
    error = "note_missing" if status == 412 else "invalid_fhir" if status == 400 else "unreadable_note"
    detail = [{"field": i.expression or "body", "message": i.diagnostics, "type": i.code} for i in exc.issues]
    return JSONResponse(
        {"error": error, "detail": detail, "request_id": getattr(request.state, "request_id", None)},
        status_code=status,
    )


router = APIRouter(
    prefix=PREFIX,
    tags=["cds-hooks"],
    responses={**REVIEW_ERRORS, 400: REVIEW_ERRORS[422], 412: REVIEW_ERRORS[422]},
)


@router.get("", response_model=DiscoveryOut)
def discovery() -> Any:
    """CDS Hooks discovery: the services, their hook and prefetch templates. Open (no
    authentication): it holds no patient data, and EHR administrators read it while configuring."""
    return CdsHooksService.discovery()


@router.post("/{service_id}", response_model=CardsOut, response_model_exclude_unset=True)
def call_service(
    service_id: ServiceId,
    body: HookRequest,
    who: Annotated[Principal, Depends(RequireRole(Permission.CALL_CDS))],
    request: Request,
    cds: Cds,
) -> Any:
    """A hook call: the note from `context`/`prefetch` is stored as a review encounter and answered
    with one card per suggested code (CDS Hooks response: `{"cards": [...]}`). No note: 412."""
    try:
        return cds.call(service_id, body.model_dump(), _caller(request, who), _base_url(request))
    except FhirInputError as exc:
        return _fhir_error(request, exc)


@router.post("/{service_id}/feedback", response_model=FeedbackOut, response_model_exclude_unset=True)
def feedback(
    service_id: ServiceId,
    body: FeedbackRequest,
    who: Annotated[Principal, Depends(RequireRole(Permission.CALL_CDS))],
    request: Request,
    cds: Cds,
) -> Any:
    """CDS Hooks feedback: `accepted` (acceptedSuggestions) accepts the card's code on the stored
    encounter; `overridden` rejects it with the override reason. Every item is recorded; the answer
    says per item what became of it."""
    items = []
    for item in body.feedback:
        data = item.model_dump()
        data["outcomeTimestamp"] = feedback_timestamp(item.outcomeTimestamp)
        items.append(data)
    return cds.feedback(service_id, items, _caller(request, who))
