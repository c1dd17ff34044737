"""Routes of the review workflow (sign-in, encounters, decisions, audit, users, keys): validate, check
the caller's role, call the ReviewService, return. The contract is docs/review-api.md."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from chartcoder.accounts.credentials import SESSION_HOURS
from chartcoder.accounts.principal import Principal
from chartcoder.api.ratelimit import SignInThrottled
from chartcoder.api.schemas import IsoDate
from chartcoder.api.signin import client_address
from chartcoder.domain.errors import AuthenticationError, InvalidInputError
from chartcoder.review.decisions import DecisionIn
from chartcoder.review.service import ReviewService
from chartcoder.review.states import REASONS

SESSION_COOKIE = "chartcoder_session"
DEVICE_COOKIE = "chartcoder_device"  # a browser that signed in to an account before (chartcoder/api/signin.py)
CODERS = ("coder", "admin")
READERS = ("coder", "biller", "data_scientist", "admin")
Role = Literal["coder", "biller", "ehr", "data_scientist", "admin"]


def _types(annotation: Any) -> set[Any]:
    """Every type an annotation admits (`int | None` -> {int, NoneType}), through Annotated and unions."""
    args = get_args(annotation)
    if not args:
        return {annotation}
    return {annotation, *(t for a in args for t in _types(a))}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # JSON true/false is not a number: pydantic would read `"age": false` as 0.
        if (
            isinstance(value, bool)
            and info.field_name
            and bool not in _types(cls.model_fields[info.field_name].annotation)
        ):
            raise ValueError("expected a number or text, not true/false")
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # NUL is never text a person typed, and PostgreSQL refuses it in text columns.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("contains a NUL character; send plain text")
        return value


class LoginIn(Strict):
    username: str = Field(..., min_length=1, max_length=64)
    password: str = Field(..., min_length=1, max_length=1024)


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    active: bool


class LoginOut(BaseModel):
    user: UserOut
    token: str
    expires_at: str


class AddressIn(Strict):
    line1: str = Field(..., min_length=1, max_length=55)
    line2: str | None = Field(None, max_length=55)
    city: str = Field(..., min_length=1, max_length=30)
    state: str = Field(..., pattern=r"^[A-Z]{2}$")
    zip: str = Field(..., pattern=r"^[0-9]{5}([0-9]{4})?$")


class Patient(Strict):
    id: str | None = Field(None, max_length=100)
    address: AddressIn | None = None
    name: str | None = Field(None, max_length=200)
    sex: Literal["F", "M", "U"] | None = None
    birth_date: IsoDate | None = None
    age: int | None = Field(None, ge=0, le=130)


class Provider(Strict):
    npi: str | None = Field(None, pattern=r"^\d{10}$")
    name: str | None = Field(None, max_length=200)


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


class DecisionItem(Strict):
    action: Literal["accept", "reject", "add", "change"]
    code: str = Field(..., min_length=1, max_length=16)
    system: Literal["ICD-10-CM", "CPT", "HCPCS", "ICD-10-PCS"] = "ICD-10-CM"
    reason: str | None = Field(None, max_length=64)
    note: str | None = Field(None, max_length=500)
    replaces: str | None = Field(None, max_length=16)


class DecisionBatch(Strict):
    version: int = Field(..., ge=1)
    decisions: list[DecisionItem] = Field(..., min_length=1, max_length=200)


class VersionIn(Strict):
    version: int = Field(..., ge=1)


class ReopenIn(Strict):
    version: int = Field(..., ge=1)
    reason: str = Field(..., min_length=1, max_length=500)


class UserCreate(Strict):
    username: str = Field(..., min_length=1, max_length=64)
    password: str = Field(..., min_length=12, max_length=1024)
    role: Role
    display_name: str | None = Field(None, max_length=128)


class UserUpdate(Strict):
    role: Role | None = None
    active: bool | None = None
    password: str | None = Field(None, min_length=12, max_length=1024)


class KeyCreate(Strict):
    name: str = Field(..., min_length=1, max_length=128)
    role: Role


class KeyOut(BaseModel):
    id: int
    name: str
    role: str
    prefix: str
    created_at: str
    revoked_at: str | None = None
    key: str | None = Field(None, description="Shown once, when the key is created.")


class Reason(BaseModel):
    code: str
    label: str


def principal(request: Request) -> Principal:
    found: Principal | None = getattr(request.state, "principal", None)
    if found is None:  # the middleware lets no unauthenticated request this far; belt and braces
        raise AuthenticationError("sign in, or send an API key as 'Authorization: Bearer <key>'")
    return found


def review_service(request: Request) -> ReviewService:
    return request.app.state.review  # type: ignore[no-any-return]


Caller = Annotated[Principal, Depends(principal)]
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
EncounterId = Annotated[str, Path(min_length=1, max_length=64)]
Review = Annotated[ReviewService, Depends(review_service)]


def build_router(error_responses: dict[int | str, dict[str, Any]]) -> APIRouter:
    r = APIRouter(prefix="/v1", responses=error_responses)

    @r.post("/auth/login", response_model=LoginOut, tags=["auth"])
    def login(body: LoginIn, response: Response, review: Review, request: Request) -> Any:
        """Sign in with a password. Answers a session token (also usable as a bearer token) and
        sets it as an HttpOnly, SameSite=Strict cookie for the review page."""
        throttle = request.app.state.signin_throttle  # chartcoder/api/signin.py: pair, account, address
        address = client_address(request)
        device = request.cookies.get(DEVICE_COOKIE)  # this browser signed in to the account before
        refusal = throttle.begin(body.username, address, device)
        if refusal is not None:
            raise SignInThrottled(refusal)
        try:
            user, token, expires = review.sign_in(body.username, body.password)
        except AuthenticationError:
            throttle.failed(body.username, address, device)
            raise
        device = throttle.succeeded(body.username, address, device)
        secure = request.app.state.settings.secure_cookies
        if device is not None:
            days = request.app.state.settings.signin_known_address_days
            response.set_cookie(
                DEVICE_COOKIE,
                device,
                max_age=days * 86_400,
                httponly=True,
                samesite="strict",
                secure=secure,
                path="/v1/auth/login",
            )
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=SESSION_HOURS * 3600,
            httponly=True,
            samesite="strict",
            secure=secure,  # off only with CHARTCODER_PLAIN_HTTP (development)
            path="/",
        )
        return {"user": user, "token": token, "expires_at": expires.isoformat()}

    @r.post("/auth/logout", status_code=204, tags=["auth"])
    def logout(request: Request, response: Response, review: Review, who: Caller) -> Response:
        token = getattr(request.state, "token", None)
        if token:
            review.sign_out(token)
        out = Response(status_code=204)
        out.delete_cookie(SESSION_COOKIE, path="/")
        return out

    @r.get("/auth/me", response_model=UserOut, tags=["auth"])
    def me(who: Caller, review: Review) -> Any:
        """The signed-in person, or the API key's name and role."""
        if who.user_id is not None:
            return review.get_user(who.user_id)
        return {
            "id": who.user_id or 0,
            "username": who.username,
            "display_name": who.username,
            "role": who.role,
            "active": True,
        }

    @r.get("/review/reasons", response_model=list[Reason], tags=["review"])
    def reasons(who: Caller) -> Any:
        return [{"code": c, "label": label} for c, label in REASONS]

    @r.post("/encounters", status_code=201, tags=["review"])
    async def create_encounter(body: EncounterCreate, who: Caller, review: Review, request: Request) -> Any:
        """Store an encounter and the suggestions computed for its note."""
        who.require("coder", "ehr", "admin")
        from chartcoder.models.service import validate_note

        validate_note(body.text, request.app.state.settings.max_note_chars)
        data = body.model_dump(mode="json")
        data["date_of_service"] = body.date_of_service
        return await run_in_threadpool(review.create_encounter, data, who)

    @r.get("/encounters", tags=["review"])
    def worklist(
        who: Caller,
        review: Review,
        status: Literal["open", "finalized", "all"] = "open",
        date_from: IsoDate | None = None,
        date_to: IsoDate | None = None,
        payer: Annotated[str | None, Query(max_length=200)] = None,
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
        most uncertain first, for active learning)."""
        who.require(*READERS)
        return review.worklist(status, date_from, date_to, payer, order, limit, offset)

    @r.get("/encounters/{encounter_id}", tags=["review"])
    def read_encounter(encounter_id: EncounterId, who: Caller, review: Review) -> Any:
        who.require(*READERS, "ehr")
        return review.get_encounter(encounter_id)

    @r.post("/encounters/{encounter_id}/decisions", tags=["review"])
    def decide(encounter_id: EncounterId, body: DecisionBatch, who: Caller, review: Review) -> Any:
        """Accept, reject, add or change codes, all or none; `version` must be the current one."""
        who.require(*CODERS)
        who.require_person("decide on codes")
        batch = [DecisionIn(**d.model_dump()) for d in body.decisions]
        return review.decide(encounter_id, body.version, batch, who)

    @r.post("/encounters/{encounter_id}/finalize", tags=["review"])
    def finalize(encounter_id: EncounterId, body: VersionIn, who: Caller, review: Review) -> Any:
        who.require(*CODERS)
        who.require_person("finalize an encounter")
        return review.finalize(encounter_id, body.version, who)

    @r.post("/encounters/{encounter_id}/reopen", tags=["review"])
    def reopen(encounter_id: EncounterId, body: ReopenIn, who: Caller, review: Review) -> Any:
        who.require(*CODERS)
        who.require_person("reopen an encounter")
        return review.reopen(encounter_id, body.version, body.reason, who)

    @r.get("/encounters/{encounter_id}/audit", tags=["review"])
    def audit(encounter_id: EncounterId, who: Caller, review: Review) -> Any:
        who.require(*READERS)
        return {"events": review.audit_trail(encounter_id)}

    @r.get(
        "/audits/export",
        tags=["retraining"],
        responses={200: {"content": {"application/x-ndjson": {}}, "description": "audited charts, one per line"}},
    )
    def export_audits(
        who: Caller,
        review: Review,
        since: IsoDate | None = None,
        until: IsoDate | None = None,
    ) -> Response:
        """Finalized encounters as audited-chart JSONL (what `chartcoder train --format jsonl` reads):
        accepted and added codes are positives, rejected ones negatives. Finalized from `since` through
        `until` (inclusive days, UTC). The headers `X-Chartcoder-Charts`, `-Codes` and `-Decisions`
        say what it holds."""
        who.require("data_scientist", "admin")
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

    @r.get("/users", response_model=list[UserOut], tags=["admin"])
    def list_users(who: Caller, review: Review) -> Any:
        who.require("admin")
        return review.list_users()

    @r.post("/users", response_model=UserOut, status_code=201, tags=["admin"])
    def create_user(body: UserCreate, who: Caller, review: Review) -> Any:
        who.require("admin")
        return review.create_user(body.username, body.password, body.role, body.display_name, who)

    @r.patch("/users/{user_id}", response_model=UserOut, tags=["admin"])
    def update_user(user_id: RowId, body: UserUpdate, who: Caller, review: Review) -> Any:
        who.require("admin")
        return review.update_user(user_id, body.model_dump(), who)

    @r.get("/keys", response_model=list[KeyOut], response_model_exclude_none=True, tags=["admin"])
    def list_keys(who: Caller, review: Review) -> Any:
        who.require("admin")
        return review.list_keys()

    @r.post("/keys", response_model=KeyOut, status_code=201, tags=["admin"])
    def create_key(body: KeyCreate, who: Caller, review: Review) -> Any:
        who.require("admin")
        return review.create_key(body.name, body.role, who)

    @r.delete("/keys/{key_id}", status_code=204, tags=["admin"])
    def revoke_key(key_id: RowId, who: Caller, review: Review) -> Response:
        who.require("admin")
        review.revoke_key(key_id, who)
        return Response(status_code=204)

    return r
