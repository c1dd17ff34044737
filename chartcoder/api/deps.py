"""What a route asks FastAPI for: the app's settings and services (read from `app.state`, which the
app factory fills), the current principal, and `RequireRole(...)`, the one place a route's role
check is made (the roles and permissions table is chartcoder/domain/roles.py).

Authentication itself runs in the request middleware (chartcoder/api/middleware.py: API keys,
session tokens, CDS client JWTs, the rate limits); it leaves the principal on `request.state`."""

# No `from __future__ import annotations`: FastAPI reads RequireRole.__call__'s annotations at runtime.

from typing import Annotated

from fastapi import Depends, Request

from chartcoder.accounts.principal import Principal
from chartcoder.accounts.service import AccountService
from chartcoder.billing.service import BillingService
from chartcoder.config import Settings
from chartcoder.domain.errors import AuthenticationError
from chartcoder.domain.roles import Permission, roles_for
from chartcoder.interop.cds_hooks import CdsHooksService
from chartcoder.models.service import SuggestionService
from chartcoder.models.serving import ServingModel
from chartcoder.review.service import ReviewService


def app_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def current_principal(request: Request) -> Principal:
    """The caller the middleware authenticated (every route but the open ones depends on this)."""
    found: Principal | None = getattr(request.state, "principal", None)
    if found is None:  # the middleware lets no unauthenticated request this far; belt and braces
        raise AuthenticationError("sign in, or send an API key as 'Authorization: Bearer <key>'")
    return found


SettingsDep = Annotated[Settings, Depends(app_settings)]
Caller = Annotated[Principal, Depends(current_principal)]


class RequireRole:
    """A dependency answering the caller when their role holds `permission` (403 `forbidden` naming
    the roles otherwise). `person` (what is being done, for the message) also refuses API keys:
    code decisions carry a person's name."""

    def __init__(self, permission: Permission, *, person: str | None = None) -> None:
        self.permission = permission
        self.roles = roles_for(permission)
        self.person = person

    def __call__(self, who: Caller) -> Principal:
        who.require(*self.roles)
        if self.person is not None:
            who.require_person(self.person)
        return who

    def __repr__(self) -> str:
        return f"RequireRole({self.permission.value!r})"


def review_service(request: Request) -> ReviewService:
    return request.app.state.review  # type: ignore[no-any-return]


def account_service(request: Request) -> AccountService:
    return request.app.state.review.accounts  # type: ignore[no-any-return]


def billing_service(request: Request) -> BillingService:
    return request.app.state.billing  # type: ignore[no-any-return]


def serving_model(request: Request) -> ServingModel:
    return request.app.state.serving  # type: ignore[no-any-return]


def cds_service(request: Request) -> CdsHooksService:
    return request.app.state.cds  # type: ignore[no-any-return]


def suggestion_service(request: Request) -> SuggestionService:
    """The serving pack's service (run in the worker pool when there is one): app.state.load_service."""
    return request.app.state.load_service()  # type: ignore[no-any-return]


Review = Annotated[ReviewService, Depends(review_service)]
Accounts = Annotated[AccountService, Depends(account_service)]
Billing = Annotated[BillingService, Depends(billing_service)]
Serving = Annotated[ServingModel, Depends(serving_model)]
Cds = Annotated[CdsHooksService, Depends(cds_service)]
