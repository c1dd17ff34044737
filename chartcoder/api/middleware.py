"""The request middleware: a request id, the body limits, authentication (API keys, session tokens,
CDS client JWTs) and the rate limits, then the route; the log line and metric of every request. The
caller found here is left on `request.state` for chartcoder/api/deps.py; routes never read
credentials themselves. Middleware order (innermost first) is set in `install`."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from chartcoder.api import cds_hooks, observability, security, work
from chartcoder.api.handlers import error_response, rate_limited
from chartcoder.config import Settings

log = logging.getLogger("chartcoder.api")

SESSION_COOKIE = "chartcoder_session"
OPEN_PATHS = {
    "/healthz",
    "/readyz",
    "/metrics",  # its own access rule: loopback, or CHARTCODER_METRICS_TOKEN
    "/",
    "/favicon.ico",
    "/v1/auth/login",
    "/cds-services",  # CDS Hooks discovery: no patient data (docs/integration.md)
}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
SIGN_IN_HINT = (
    "sign in (POST /v1/auth/login), or send an API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
)


def max_body(settings: Settings) -> int:
    return settings.max_note_chars * 4 + 64 * 1024  # UTF-8 worst case plus the JSON around it


def _is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith("/ui/")


class BodyLimit:
    """Refuses a body larger than `limit` bytes while it streams in: Content-Length can be absent
    (chunked transfer) or wrong, so the bytes themselves are counted."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        total = 0

        async def counted() -> Any:
            nonlocal total
            message = await receive()
            if message["type"] == "http.request":
                total += len(message.get("body", b""))
                limit = security.body_limit(scope, self.limit)  # tighter on routes that carry no note
                if total > limit:
                    raise StarletteHTTPException(413, f"request body over {limit:,} bytes")
            return message

        await self.app(scope, counted, send)


async def request_context(request: Request, call_next: Callable[[Request], Any]) -> Any:
    rid = request.headers.get("x-request-id") or uuid.uuid4().hex
    request.state.request_id = rid[:64]
    started = time.perf_counter()
    settings: Settings = request.app.state.settings
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > max_body(settings)):
        response = error_response(
            413,
            "payload_too_large",
            f"request body over {max_body(settings):,} bytes; notes are limited to {settings.max_note_chars:,} "
            "characters",
            request,
        )
    elif b"%00" in request.scope.get("raw_path", b"") or b"%00" in request.scope.get("query_string", b""):
        response = error_response(
            422, "invalid_request", "the URL contains a NUL character (%00); send plain text", request
        )
    elif _is_open(request.url.path):
        response = await _guarded(call_next, request)
    else:
        response = await _authenticated(call_next, request)
    response.headers["X-Request-ID"] = request.state.request_id
    # Request id, caller, route template, status and latency only: never note text, paths or queries.
    observability.record_request(request, response.status_code, time.perf_counter() - started)
    return response


async def _authenticated(call_next: Callable[[Request], Any], request: Request) -> Any:
    """The route, for a caller the credentials stand for, within the caller's rate limits."""
    token, via_cookie = credentials(request)
    jwt_refused = None  # a CDS client's JWT on /cds-services/*, verified against its configured keys
    if token and cds_hooks.is_cds_jwt(request.url.path, token, via_cookie):
        who, jwt_refused = await run_in_threadpool(cds_hooks.jwt_principal, request, token)
    else:
        review = request.app.state.review
        who = await run_in_threadpool(review.accounts.principal_for, token, via_cookie) if token else None
    if who is None:
        return error_response(401, "unauthorized", jwt_refused or SIGN_IN_HINT, request)
    if via_cookie and request.method not in SAFE_METHODS and request.headers.get("x-chartcoder-client") != "web":
        return error_response(
            403,
            "forbidden",
            "a change made with the session cookie must carry the header 'X-Chartcoder-Client: web'",
            request,
        )
    request.state.principal = who
    request.state.token = token
    refusal = await request.app.state.rate_limiter.check(who, token)
    return rate_limited(refusal, request) if refusal else await _guarded(call_next, request)


async def _guarded(call_next: Callable[[Request], Any], request: Request) -> Any:
    """Runs the route; an unexpected exception becomes a 500 that names the request id, and the log
    gets its type only: a traceback or message could carry note text or patient data."""
    try:
        return await call_next(request)
    except Exception as exc:
        log.error("request_id=%s unhandled %s", request.state.request_id, type(exc).__name__)
        return error_response(500, "internal_error", "something went wrong on our side; quote the request id", request)


def credentials(request: Request) -> tuple[str | None, bool]:
    """The presented token and whether it came from the session cookie (bearer and X-API-Key win)."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip(), False
    if request.headers.get("x-api-key"):
        return request.headers["x-api-key"].strip(), False
    cookie = request.cookies.get(SESSION_COOKIE)
    return (cookie, True) if cookie else (None, False)


def install(app: FastAPI, settings: Settings) -> None:
    """The middleware, innermost first: the request's work scope, the streamed body limit, the request
    context above, the proxy headers (from the listed peers only), then CORS and the security headers
    outermost, so that every answer carries them."""
    work.install(app)
    app.add_middleware(BodyLimit, limit=max_body(settings))
    app.middleware("http")(request_context)
    if settings.proxy_list:  # X-Forwarded-For / -Proto believed from these peers only (never by default)
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.proxy_list)
    security.install(app, settings)
