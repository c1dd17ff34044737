"""Liveness, readiness and the Prometheus metrics: the routes an orchestrator and a scraper call.
Open (no principal): /metrics has its own rule (loopback, or CHARTCODER_METRICS_TOKEN)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from chartcoder.api import observability
from chartcoder.api.deps import Serving, SettingsDep
from chartcoder.api.handlers import error_response
from chartcoder.api.schemas.common import ErrorOut, Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, response_model_exclude_none=True)
async def healthz() -> Health:  # on the event loop: answers while every worker thread is busy
    """The process is up and answering."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": ErrorOut}})
def readyz(request: Request, serving: Serving, settings: SettingsDep) -> Any:
    """The serving pack is loaded (and the suggestion workers have started): send traffic."""
    ready, model, why = observability.readiness(serving, settings)
    pool = request.app.state.pool
    if ready and pool is not None and not pool.ready:
        ready, why = False, "the suggestion workers are still starting"
    if not ready:
        return error_response(503, "not_ready", why, request, model=model)
    return Health(status="ok", model=model)


@router.get("/metrics", include_in_schema=False, response_class=PlainTextResponse)
def prometheus_metrics(request: Request, serving: Serving, settings: SettingsDep) -> Any:
    refused = observability.metrics_refusal(request, settings)
    if refused:
        return error_response(*refused, request)
    return observability.metrics_response(serving)
