"""Model registry routes: list registered packs and the switch history (data_scientist, admin),
register a pack from the model folder (data_scientist, admin), promote and roll back (admin). A
promotion answers once this process serves the new pack; the others follow within
CHARTCODER_REGISTRY_POLL_SECONDS."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool

from chartcoder.accounts.principal import Principal
from chartcoder.api.deps import RequireRole, Serving
from chartcoder.api.schemas.common import REVIEW_ERRORS
from chartcoder.api.schemas.registry import ModelsListing, PromoteIn, RegisteredOut, RegisterIn, RollbackIn, SwitchOut
from chartcoder.domain.roles import Permission
from chartcoder.models.registry import ModelRegistry, validate_ref
from chartcoder.models.serving import ServingModel


def _registry(serving: ServingModel) -> ModelRegistry:
    assert serving.registry is not None
    return serving.registry


def _state(serving: ServingModel) -> dict[str, Any]:
    service = serving.get()
    return {"serving": service.model_name, "serving_ref": serving.serving_ref, "last_error": serving.last_error}


router = APIRouter(prefix="/v1/models", responses=REVIEW_ERRORS, tags=["models"])


@router.get("", response_model=ModelsListing, response_model_exclude_unset=True)
def list_models(who: Annotated[Principal, Depends(RequireRole(Permission.WATCH_MODELS))], serving: Serving) -> Any:
    """Registered packs (newest first, with their card metrics), the active one, the recent
    promotions and rollbacks, and what this process serves right now."""
    return {**_registry(serving).listing(), **_state(serving)}


@router.post("/register", response_model=RegisteredOut, response_model_exclude_unset=True, status_code=201)
async def register(
    body: RegisterIn,
    who: Annotated[Principal, Depends(RequireRole(Permission.WATCH_MODELS))],
    serving: Serving,
) -> Any:
    """Verify a pack and copy it into the registry. Registering the same pack twice is harmless;
    a different pack under a registered name@version is refused (409)."""
    path = _registry(serving).pack_source(body.path)
    return await run_in_threadpool(_registry(serving).register, path, who.username, body.note)


@router.post("/promote", response_model=SwitchOut, response_model_exclude_unset=True)
async def promote(
    body: PromoteIn, who: Annotated[Principal, Depends(RequireRole(Permission.PROMOTE_MODELS))], serving: Serving
) -> Any:
    """Make a registered pack the one every API process serves. The pack is verified and loaded
    before the switch is recorded; this process switches before answering, requests in flight
    finish on the pack they started with."""
    ref = validate_ref(body.ref)
    event = await run_in_threadpool(_registry(serving).promote, ref, who.username, body.reason)
    await run_in_threadpool(serving.sync)
    return {"promotion": event, **_state(serving)}


@router.post("/rollback", response_model=SwitchOut, response_model_exclude_unset=True)
async def rollback(
    body: RollbackIn, who: Annotated[Principal, Depends(RequireRole(Permission.PROMOTE_MODELS))], serving: Serving
) -> Any:
    """Return to the pack that served before the current one (the configured pack when none
    did); a second rollback goes one step further back."""
    event = await run_in_threadpool(_registry(serving).rollback, who.username, body.reason)
    await run_in_threadpool(serving.sync)
    return {"promotion": event, **_state(serving)}
