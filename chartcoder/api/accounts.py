"""Routes of accounts: signing in and out, who am I, and the users and API keys an admin manages.
Validate, call the AccountService (chartcoder/accounts), return; docs/review-api.md is the contract."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from chartcoder.accounts.credentials import SESSION_HOURS
from chartcoder.accounts.principal import Principal
from chartcoder.api.deps import Accounts, Caller, RequireRole, SettingsDep
from chartcoder.api.middleware import SESSION_COOKIE
from chartcoder.api.ratelimit import SignInThrottled
from chartcoder.api.schemas.accounts import KeyCreate, KeyOut, LoginIn, LoginOut, UserCreate, UserOut, UserUpdate
from chartcoder.api.schemas.common import REVIEW_ERRORS, RowId
from chartcoder.api.signin import client_address
from chartcoder.domain.errors import AuthenticationError
from chartcoder.domain.roles import Permission

DEVICE_COOKIE = "chartcoder_device"  # a browser that signed in to an account before (chartcoder/api/signin.py)

router = APIRouter(prefix="/v1", responses=REVIEW_ERRORS)
Admin = Annotated[Principal, Depends(RequireRole(Permission.MANAGE_ACCOUNTS))]


@router.post("/auth/login", response_model=LoginOut, tags=["auth"])
def login(body: LoginIn, response: Response, accounts: Accounts, request: Request, settings: SettingsDep) -> Any:
    """Sign in with a password. Answers a session token (also usable as a bearer token) and
    sets it as an HttpOnly, SameSite=Strict cookie for the review page."""
    throttle = request.app.state.signin_throttle  # chartcoder/api/signin.py: pair, account, address
    address = client_address(request)
    device = request.cookies.get(DEVICE_COOKIE)  # this browser signed in to the account before
    refusal = throttle.begin(body.username, address, device)
    if refusal is not None:
        raise SignInThrottled(refusal)
    try:
        user, token, expires = accounts.sign_in(body.username, body.password)
    except AuthenticationError:
        throttle.failed(body.username, address, device)
        raise
    device = throttle.succeeded(body.username, address, device)
    secure = settings.secure_cookies
    if device is not None:
        response.set_cookie(
            DEVICE_COOKIE,
            device,
            max_age=settings.signin_known_address_days * 86_400,
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


@router.post("/auth/logout", status_code=204, tags=["auth"])
def logout(request: Request, accounts: Accounts, who: Caller) -> Response:
    """End the session the request was made with (an API key stays valid) and clear the cookie."""
    token = getattr(request.state, "token", None)
    if token:
        accounts.sign_out(token)
    out = Response(status_code=204)
    out.delete_cookie(SESSION_COOKIE, path="/")
    return out


@router.get("/auth/me", response_model=UserOut, tags=["auth"])
def me(who: Caller, accounts: Accounts) -> Any:
    """The signed-in person, or the API key's name and role."""
    if who.user_id is not None:
        return accounts.get_user(who.user_id)
    return {"id": 0, "username": who.username, "display_name": who.username, "role": who.role, "active": True}


@router.get("/users", response_model=list[UserOut], tags=["admin"])
def list_users(who: Admin, accounts: Accounts) -> Any:
    return accounts.list_users()


@router.post("/users", response_model=UserOut, status_code=201, tags=["admin"])
def create_user(body: UserCreate, who: Admin, accounts: Accounts) -> Any:
    return accounts.create_user(body.username, body.password, body.role, body.display_name, who)


@router.patch("/users/{user_id}", response_model=UserOut, tags=["admin"])
def update_user(user_id: RowId, body: UserUpdate, who: Admin, accounts: Accounts) -> Any:
    return accounts.update_user(user_id, body.model_dump(), who)


@router.get("/keys", response_model=list[KeyOut], response_model_exclude_none=True, tags=["admin"])
def list_keys(who: Admin, accounts: Accounts) -> Any:
    return accounts.list_keys()


@router.post("/keys", response_model=KeyOut, status_code=201, tags=["admin"])
def create_key(body: KeyCreate, who: Admin, accounts: Accounts) -> Any:
    return accounts.create_key(body.name, body.role, who)


@router.delete("/keys/{key_id}", status_code=204, tags=["admin"])
def revoke_key(key_id: RowId, who: Admin, accounts: Accounts) -> Response:
    accounts.revoke_key(key_id, who)
    return Response(status_code=204)
