"""CDS Hooks routes: `GET /cds-services` (discovery, open), `POST /cds-services/{id}` (a hook call) and
`POST /cds-services/{id}/feedback`, authenticated by a CDS client's JWT (chartcoder/interop/cds_auth.py)
or by our own API keys and sessions. Validate, call CdsHooksService, return; docs/integration.md."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from chartcoder.accounts.principal import Principal
from chartcoder.api.review import Caller
from chartcoder.config import Settings
from chartcoder.domain.errors import AuthenticationError, ResourceError
from chartcoder.interop.cds_auth import CdsClients, JwtVerifier, looks_like_jwt
from chartcoder.interop.cds_hooks import CdsCaller, CdsHooksService, NoteMissingError, feedback_timestamp
from chartcoder.interop.fhir_in import FhirInputError, text_problem
from chartcoder.review.service import ReviewService

PREFIX = "/cds-services"
CALLERS = ("coder", "ehr", "admin")
ServiceId = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")]


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


def install(app: FastAPI, settings: Settings, review: ReviewService, error_responses: dict[int | str, Any]) -> None:
    """The CDS Hooks routes and what they need on app.state. The CDS clients file is read here, so a
    server with a broken file refuses to start (naming the problem) instead of refusing every EHR."""
    clients = CdsClients.from_file(settings.cds_clients)
    if settings.cds_clients is not None and not settings.cds_base_url:
        # The JWT's audience is checked against this URL; taken from the request's Host header instead,
        # a token an EHR signed for another service could be replayed here.
        raise ResourceError(
            "CHARTCODER_CDS_CLIENTS is set but CHARTCODER_CDS_BASE_URL is not: set it to the public URL the "
            "EHRs call (e.g. https://coding.example.org), which every CDS JWT's 'aud' must name"
        )
    app.state.cds = CdsHooksService(review, lambda: settings.max_note_chars)
    app.state.cds_verifier = JwtVerifier(clients, review.store)
    app.include_router(_router({**error_responses, 400: error_responses[422], 412: error_responses[422]}))


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


def _router(error_responses: dict[int | str, Any]) -> APIRouter:
    r = APIRouter(prefix=PREFIX, tags=["cds-hooks"], responses=error_responses)

    @r.get("", response_model=DiscoveryOut)
    def discovery() -> Any:
        """CDS Hooks discovery: the services, their hook and prefetch templates. Open (no
        authentication): it holds no patient data, and EHR administrators read it while configuring."""
        return CdsHooksService.discovery()

    @r.post("/{service_id}", response_model=dict[str, Any])
    def call_service(service_id: ServiceId, body: HookRequest, who: Caller, request: Request) -> Any:
        """A hook call: the note from `context`/`prefetch` is stored as a review encounter and answered
        with one card per suggested code (CDS Hooks response: `{"cards": [...]}`). No note: 412."""
        who.require(*CALLERS)
        cds: CdsHooksService = request.app.state.cds
        try:
            return cds.call(service_id, body.model_dump(), _caller(request, who), _base_url(request))
        except FhirInputError as exc:
            return _fhir_error(request, exc)

    @r.post("/{service_id}/feedback", response_model=dict[str, Any])
    def feedback(service_id: ServiceId, body: FeedbackRequest, who: Caller, request: Request) -> Any:
        """CDS Hooks feedback: `accepted` (acceptedSuggestions) accepts the card's code on the stored
        encounter; `overridden` rejects it with the override reason. Every item is recorded; the answer
        says per item what became of it."""
        who.require(*CALLERS)
        items = []
        for item in body.feedback:
            data = item.model_dump()
            data["outcomeTimestamp"] = feedback_timestamp(item.outcomeTimestamp)
            items.append(data)
        cds: CdsHooksService = request.app.state.cds
        return cds.feedback(service_id, items, _caller(request, who))

    return r
