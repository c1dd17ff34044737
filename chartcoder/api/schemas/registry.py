"""The model registry: registering, promoting and rolling back model packs, and what is served."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chartcoder.api.schemas.common import Out, Strict


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


class PackOut(Out):
    """A registered pack, with the metrics of its model card."""

    ref: str = Field(..., description="name@version")
    name: str
    version: str
    system: str | None = Field(None, description="The code system it ranks, as its card says.")
    labels: int | None = Field(None, description="How many codes it knows (the card's label_count).")
    metrics: dict[str, Any] = Field(..., description="The card's evaluation metrics.")
    created: str | None = Field(None, description="When it was trained (from its card).")
    note: str | None = None
    registered_by: str
    registered_at: str = Field(..., description="ISO 8601, UTC.")
    active: bool = Field(..., description="The registry's active (promoted) pack.")


class RegisteredOut(PackOut):
    already_registered: bool = Field(..., description="The same pack was registered before: nothing changed.")


class PromotionOut(Out):
    """One promotion or rollback in the registry's history."""

    id: int
    action: str = Field(..., description="promote or rollback")
    pack: str | None = Field(None, description="The pack it made active; none for the configured pack.")
    previous: str | None = Field(None, description="The pack that was active before.")
    actor: str
    reason: str | None = None
    at: str = Field(..., description="ISO 8601, UTC.")
    serves: str = Field(..., description="What serves since: a pack's name@version or the configured pack.")


class ModelsListing(Out):
    active: str | None = Field(None, description="The active pack (name@version); none: the configured one.")
    packs: list[PackOut] = Field(..., description="Newest first.")
    history: list[PromotionOut] = Field(..., description="The recent promotions and rollbacks, newest first.")
    serving: str = Field(..., description="The model this process serves right now.")
    serving_ref: str | None = Field(None, description="Its registry ref, when it is a registered pack.")
    last_error: str | None = Field(None, description="Why the last switch to the active pack failed, if it did.")


class SwitchOut(Out):
    promotion: PromotionOut
    serving: str
    serving_ref: str | None = None
    last_error: str | None = None
