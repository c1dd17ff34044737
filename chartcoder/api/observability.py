"""What the API tells its operators: one JSON log line per request, the Prometheus metrics at
/metrics, and readiness.

A request's log line and its metric name the route template (`/v1/encounters/{encounter_id}`), never
the path itself or its query string: paths carry encounter ids and query strings can carry words a
person typed (a payer, a search). Nothing here reads a body.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
from collections.abc import MutableMapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from chartcoder import metrics
from chartcoder.config import Settings
from chartcoder.models.serving import ServingModel

log = logging.getLogger("chartcoder.api")
UNMATCHED = "(unmatched)"


def route_template(app: FastAPI, scope: MutableMapping[str, Any]) -> str:
    """The template of the route a request is for, also for requests the middleware answered
    before routing (401, 413, 429); UNMATCHED for a path no route knows (its text is not kept)."""
    route = scope.get("route")
    if route is not None and getattr(route, "path", None):
        return str(route.path)
    path: str = scope.get("path", "")
    if path.startswith("/ui/"):
        return "/ui/{path}"
    for template, pattern in _templates(app):
        if pattern.fullmatch(path):
            return template
    return UNMATCHED


def _templates(app: FastAPI) -> list[tuple[str, re.Pattern[str]]]:
    """Every route's template as a pattern, fixed paths first (`/v1/models/promote` before a
    `{param}`), built once per app from the OpenAPI paths plus the routes kept out of the schema."""
    found: list[tuple[str, re.Pattern[str]]] | None = getattr(app.state, "route_templates", None)
    if found is None:
        try:
            paths = set(app.openapi().get("paths", {}))
        except Exception as exc:  # a broken schema must not break the requests that are logged
            log.warning("route templates unavailable (%s); unrouted requests log %s", type(exc).__name__, UNMATCHED)
            paths = set()
        paths |= {"/", "/metrics", "/docs", "/docs/{name}", "/openapi.json"}
        ordered = sorted(paths, key=lambda t: (t.count("{"), t))
        found = [(t, re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(t)))) for t in ordered]
        app.state.route_templates = found
    return found


def record_request(request: Request, status: int, seconds: float) -> None:
    """The request's log line and its latency observation."""
    route = route_template(request.app, request.scope)
    who = getattr(request.state, "principal", None)
    log.info(
        "request",
        extra={
            "request_id": getattr(request.state, "request_id", None),
            "user": who.username if who is not None else None,
            "role": who.role if who is not None else None,
            "method": request.method,
            "route": route,
            "status": status,
            "ms": round(seconds * 1000, 1),
        },
    )
    metrics.observe_request(route, request.method, status, seconds)


# -- /metrics ------------------------------------------------------------------------------------


def metrics_refusal(request: Request, settings: Settings) -> tuple[int, str, str] | None:
    """Who may read /metrics: with CHARTCODER_METRICS_TOKEN set, whoever sends it as a bearer token;
    without, clients on the loopback interface only (a scraper on the same host)."""
    if settings.metrics_token:
        auth = request.headers.get("authorization", "")
        given = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if hmac.compare_digest(given.encode(), settings.metrics_token.encode()):
            return None
        return (
            401,
            "unauthorized",
            "send the metrics token (CHARTCODER_METRICS_TOKEN) as 'Authorization: Bearer <token>'",
        )
    host = request.client.host if request.client else ""
    if _is_loopback(host):
        return None
    return (
        403,
        "forbidden",
        (
            "/metrics answers loopback clients only; set CHARTCODER_METRICS_TOKEN to let a scraper on another "
            "host read it with that bearer token"
        ),
    )


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def metrics_response(serving: ServingModel) -> Response:
    if serving.loaded:
        metrics.serving_model(serving.get().model_name)
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type)


# -- readiness -----------------------------------------------------------------------------------


def readiness(serving: ServingModel, settings: Settings) -> tuple[bool, str | None, str]:
    """(ready, the model served, why not). Ready once the suggestion engine is loaded and serves a
    model pack: the registry's promoted one, or the configured one. CHARTCODER_MODEL=knowledge
    chooses the guideline engine without a pack, so it is ready as soon as it is loaded. Any other
    setting served without a pack (the default pack not built yet) is not ready: suggestions would
    come from the engine alone, not from the model the operator configured."""
    if not serving.loaded:
        return False, None, "the suggestion engine is still loading"
    service = serving.get()
    if service.pack is None and settings.model not in ("knowledge",):
        return (
            False,
            service.model_name,
            f"no model pack is loaded: CHARTCODER_MODEL={settings.model!r} names a pack that is not built "
            f"under {settings.model_dir} (only the guideline engine answers); build it (`chartcoder serve` "
            "builds the default pack) or promote a registered pack, or set CHARTCODER_MODEL=knowledge",
        )
    return True, service.model_name, ""
