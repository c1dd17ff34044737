"""Model registry routes: list registered packs and the switch history (data_scientist, admin),
register a pack from the model folder (data_scientist, admin), promote and roll back (admin). A
promotion answers once this process serves the new pack; the others follow within
CHARTCODER_REGISTRY_POLL_SECONDS."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from chartcoder.api.review import Caller, Strict
from chartcoder.domain.errors import InvalidInputError
from chartcoder.models.registry import REGISTRY_FOLDER, ModelRegistry, validate_ref
from chartcoder.models.serving import ServingModel

WATCHERS = ("data_scientist", "admin")


def serving_model(request: Request) -> ServingModel:
    return request.app.state.serving  # type: ignore[no-any-return]


Serving = Annotated[ServingModel, Depends(serving_model)]


class RegisterIn(Strict):
    path: str = Field(
        ...,
        min_length=1,
        max_length=500,
        description="A pack folder under the server's model folder (CHARTCODER_MODEL_DIR), relative to it "
        "or absolute; `chartcoder train --out` writes one.",
    )
    note: str | None = Field(None, max_length=500, description="What this pack is, for the history.")


class PromoteIn(Strict):
    ref: str = Field(..., min_length=3, max_length=200, description="The pack's name@version.")
    reason: str | None = Field(None, max_length=500)


class RollbackIn(Strict):
    reason: str | None = Field(None, max_length=500)


def _registry(serving: ServingModel) -> ModelRegistry:
    assert serving.registry is not None
    return serving.registry


def _state(serving: ServingModel) -> dict[str, Any]:
    service = serving.get()
    return {"serving": service.model_name, "serving_ref": serving.serving_ref, "last_error": serving.last_error}


def build_router(error_responses: dict[int | str, dict[str, Any]]) -> APIRouter:
    r = APIRouter(prefix="/v1/models", responses=error_responses, tags=["models"])

    @r.get("")
    def list_models(who: Caller, serving: Serving) -> Any:
        """Registered packs (newest first, with their card metrics), the active one, the recent
        promotions and rollbacks, and what this process serves right now."""
        who.require(*WATCHERS)
        return {**_registry(serving).listing(), **_state(serving)}

    @r.post("/register", status_code=201)
    async def register(body: RegisterIn, who: Caller, request: Request, serving: Serving) -> Any:
        """Verify a pack and copy it into the registry. Registering the same pack twice is harmless;
        a different pack under a registered name@version is refused (409)."""
        who.require(*WATCHERS)
        root = Path(request.app.state.settings.model_dir).resolve()
        given = Path(body.path)
        path = (given if given.is_absolute() else root / given).resolve()
        if not path.is_relative_to(root) or path.is_relative_to(root / REGISTRY_FOLDER) or path == root:
            raise InvalidInputError(
                f"'path' must be a pack folder under the model folder {root} (and not in its registry); "
                f"got {body.path!r}. Train with `chartcoder train --out {root}/NAME`."
            )
        if not path.is_dir():
            raise InvalidInputError(f"'path' {body.path!r}: no such pack folder under {root}")
        return await run_in_threadpool(_registry(serving).register, path, who.username, body.note)

    @r.post("/promote")
    async def promote(body: PromoteIn, who: Caller, serving: Serving) -> Any:
        """Make a registered pack the one every API process serves. The pack is verified and loaded
        before the switch is recorded; this process switches before answering, requests in flight
        finish on the pack they started with."""
        who.require("admin")
        ref = validate_ref(body.ref)
        event = await run_in_threadpool(_registry(serving).promote, ref, who.username, body.reason)
        await run_in_threadpool(serving.sync)
        return {"promotion": event, **_state(serving)}

    @r.post("/rollback")
    async def rollback(body: RollbackIn, who: Caller, serving: Serving) -> Any:
        """Return to the pack that served before the current one (the configured pack when none
        did); a second rollback goes one step further back."""
        who.require("admin")
        event = await run_in_threadpool(_registry(serving).rollback, who.username, body.reason)
        await run_in_threadpool(serving.sync)
        return {"promotion": event, **_state(serving)}

    return r
