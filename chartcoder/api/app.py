"""FastAPI app factory: routes validate, call the suggestion service, and return. No business logic here."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from chartcoder import __version__, metrics
from chartcoder.api import analytics as analytics_routes
from chartcoder.api import billing as billing_routes
from chartcoder.api import cds_hooks as cds_routes
from chartcoder.api import docs, observability, page, schemas, security, work
from chartcoder.api import fhir_in as fhir_routes
from chartcoder.api import models as model_routes
from chartcoder.api.ratelimit import RateLimiter, Refusal, SignInThrottled
from chartcoder.api.review import SESSION_COOKIE, build_router
from chartcoder.api.signin import SignInThrottle
from chartcoder.config import Settings, get_settings
from chartcoder.domain.errors import (
    AuthenticationError,
    ChartcoderError,
    ConflictError,
    InvalidInputError,
    NoteTooLongError,
    NotFoundError,
    PermissionDeniedError,
    UnknownCodeError,
)
from chartcoder.files import private_dir, warn_if_loose
from chartcoder.models.pool import PooledService, SuggestionPool, front_service, pack_key
from chartcoder.models.registry import ModelRegistry
from chartcoder.models.service import SuggestionService, service_from_settings
from chartcoder.models.serving import ServingModel
from chartcoder.review.service import ReviewService
from chartcoder.store.database import ReviewStore

log = logging.getLogger("chartcoder.api")

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
BODY_NOT_JSON = "the body is not valid JSON in UTF-8; send a JSON object with Content-Type: application/json"


def _is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith("/ui/")


def _error(status: int, error: str, detail: Any, request: Request, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        {"error": error, "detail": detail, "request_id": getattr(request.state, "request_id", None), **extra},
        status_code=status,
        headers=headers,
    )


def _validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors without the `input` echo (it may hold note text) and with a readable location."""
    out = []
    for e in exc.errors():
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
        msg = str(e.get("msg", "invalid value"))
        if e.get("type") == "json_invalid":
            msg = BODY_NOT_JSON
        out.append({"field": loc or "body", "message": msg, "type": e.get("type")})
    return out


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


def create_app(
    settings: Settings | None = None,
    service_factory: Callable[[], SuggestionService] | None = None,
    store: ReviewStore | None = None,
) -> FastAPI:
    """Build the app. `service_factory` lets tests share one loaded service across apps; `store`,
    one review database (by default the one `CHARTCODER_DATABASE_URL` names, migrated here)."""
    settings = settings or get_settings()
    private_dir(settings.data_dir)  # 0700 when it is made here; an existing one keeps its mode
    store = store or ReviewStore(settings.resolved_database_url)
    warn_if_loose(settings.data_dir, settings.resolved_database_url)  # a warning, once per process
    # Suggestion work runs in worker processes (chartcoder/models/pool.py) unless it is off, or a
    # service was handed in (tests share one loaded service in-process); this process then only
    # names the serving pack and loads no NLP of its own.
    pool = SuggestionPool(settings) if settings.suggest_workers > 0 and service_factory is None else None
    serving = ServingModel(
        service_factory or (lambda: front_service(settings) if pool is not None else service_from_settings(settings)),
        ModelRegistry(store, settings.model_dir, settings),
    )

    def load_service() -> SuggestionService:
        service = serving.get()
        if pool is None:
            return service
        pool.serve_pack(pack_key(service))
        return PooledService(pool, service)  # type: ignore[return-value]  # same suggest(), run in the pool

    review = ReviewService(store, settings, load_service)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if pool is not None:  # the workers load while this process does
            from chartcoder.models.pack import active_pack_path

            pool.start(pack=str(p) if (p := active_pack_path(settings.model, settings.model_dir)) else None)
        await run_in_threadpool(serving.sync)  # the promoted pack, or the configured one
        from chartcoder.codes.icd10cm import icd10cm

        icd10cm().search("warm")  # builds the coder search index before the first request needs it
        serving.start_polling(settings.registry_poll_seconds)
        try:
            yield
        finally:
            serving.stop_polling()
            if pool is not None:
                await run_in_threadpool(pool.stop)

    app = FastAPI(
        title="chartcoder",
        version=__version__,
        description="Ranked ICD-10-CM and CPT/HCPCS code suggestions with the evidence for each. "
        "Authenticate with `Authorization: Bearer <API key>` (or `X-API-Key`).",
        lifespan=lifespan,
        docs_url=None,  # our own /docs with Swagger UI from the app's files (chartcoder/api/docs.py)
        redoc_url=None,
    )
    if settings.docs_on:
        docs.install(app, "chartcoder")
    app.state.settings = settings
    app.state.review = review
    app.state.serving = serving
    app.state.pool = pool
    from chartcoder.billing.service import BillingService

    app.state.billing = BillingService(review, settings)
    work.install(app)  # first: the innermost middleware
    max_body = settings.max_note_chars * 4 + 64 * 1024  # UTF-8 worst case plus the JSON around it
    app.add_middleware(BodyLimit, limit=max_body)
    limiter = app.state.rate_limiter = RateLimiter(settings)
    app.state.signin_throttle = SignInThrottle(settings)

    @app.middleware("http")
    async def request_context(request: Request, call_next: Callable[[Request], Any]) -> Any:
        rid = request.headers.get("x-request-id") or uuid.uuid4().hex
        request.state.request_id = rid[:64]
        started = time.perf_counter()
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > max_body):
            response = _error(
                413,
                "payload_too_large",
                f"request body over {max_body:,} bytes; notes are limited to {settings.max_note_chars:,} characters",
                request,
            )
        elif b"%00" in request.scope.get("raw_path", b"") or b"%00" in request.scope.get("query_string", b""):
            response = _error(
                422, "invalid_request", "the URL contains a NUL character (%00); send plain text", request
            )
        elif _is_open(request.url.path):
            response = await _guarded(call_next, request)
        else:
            token, via_cookie = _credentials(request)
            jwt_refused = None  # a CDS client's JWT on /cds-services/*, verified against its configured keys
            if token and cds_routes.is_cds_jwt(request.url.path, token, via_cookie):
                who, jwt_refused = await run_in_threadpool(cds_routes.jwt_principal, request, token)
            else:
                who = await run_in_threadpool(review.principal_for, token, via_cookie) if token else None
            if who is None:
                response = _error(
                    401,
                    "unauthorized",
                    jwt_refused
                    or "sign in (POST /v1/auth/login), or send an API key as 'Authorization: Bearer <key>' "
                    "or 'X-API-Key: <key>'",
                    request,
                )
            elif (
                via_cookie
                and request.method not in SAFE_METHODS
                and request.headers.get("x-chartcoder-client") != "web"
            ):
                response = _error(
                    403,
                    "forbidden",
                    "a change made with the session cookie must carry the header 'X-Chartcoder-Client: web'",
                    request,
                )
            else:
                request.state.principal = who
                request.state.token = token
                refusal = await limiter.check(who, token)
                response = _rate_limited(refusal, request) if refusal else await _guarded(call_next, request)
        response.headers["X-Request-ID"] = request.state.request_id
        # Request id, caller, route template, status and latency only: never note text, paths or queries.
        observability.record_request(request, response.status_code, time.perf_counter() - started)
        return response

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, "invalid_request", _validation_detail(exc), request)

    @app.exception_handler(SignInThrottled)
    async def on_sign_in_throttled(request: Request, exc: SignInThrottled) -> JSONResponse:
        return _rate_limited(exc.refusal, request)

    @app.exception_handler(NoteTooLongError)
    async def on_too_long(request: Request, exc: NoteTooLongError) -> JSONResponse:
        return _error(413, "note_too_long", str(exc), request)

    @app.exception_handler(InvalidInputError)
    async def on_invalid(request: Request, exc: InvalidInputError) -> JSONResponse:
        return _error(422, "invalid_input", str(exc), request)

    @app.exception_handler(UnknownCodeError)
    async def on_unknown_code(request: Request, exc: UnknownCodeError) -> JSONResponse:
        return _error(404, "unknown_code", str(exc), request)

    @app.exception_handler(NotFoundError)
    async def on_not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return _error(404, "not_found", str(exc), request)

    @app.exception_handler(ConflictError)
    async def on_conflict(request: Request, exc: ConflictError) -> JSONResponse:
        return _error(409, exc.error, str(exc), request, current_version=exc.current_version)

    @app.exception_handler(AuthenticationError)
    async def on_unauthenticated(request: Request, exc: AuthenticationError) -> JSONResponse:
        return _error(401, "unauthorized", str(exc), request)

    @app.exception_handler(PermissionDeniedError)
    async def on_forbidden(request: Request, exc: PermissionDeniedError) -> JSONResponse:
        return _error(403, "forbidden", str(exc), request)

    @app.exception_handler(OperationalError)
    async def on_database_busy(request: Request, exc: OperationalError) -> JSONResponse:
        # The database is unreachable or locked past its timeout: nothing was written; say retry.
        log.warning("request_id=%s database unavailable: %s", request.state.request_id, type(exc.orig).__name__)
        response = _error(503, "database_unavailable", "the database is busy or unreachable; retry shortly", request)
        response.headers["Retry-After"] = "2"
        return response

    @app.exception_handler(ChartcoderError)
    async def on_domain(request: Request, exc: ChartcoderError) -> JSONResponse:
        return _error(400, "bad_request", str(exc), request)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):  # FastAPI's body reader
            return _error(
                422, "invalid_request", [{"field": "body", "message": BODY_NOT_JSON, "type": "json_invalid"}], request
            )
        return _error(exc.status_code, "http_error", exc.detail, request)

    @app.get("/healthz", response_model=schemas.Health, response_model_exclude_none=True, tags=["health"])
    async def healthz() -> schemas.Health:  # on the event loop: answers while every worker thread is busy
        return schemas.Health(status="ok")

    @app.get("/readyz", response_model=schemas.Health, tags=["health"], responses={503: {"model": schemas.ErrorOut}})
    def readyz(request: Request) -> Any:
        ready, model, why = observability.readiness(serving, settings)
        if ready and pool is not None and not pool.ready:
            ready, why = False, "the suggestion workers are still starting"
        if not ready:
            return _error(503, "not_ready", why, request, model=model)
        return schemas.Health(status="ok", model=model)

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics(request: Request) -> Any:
        refused = observability.metrics_refusal(request, settings)
        if refused:
            return _error(*refused, request)
        return observability.metrics_response(serving)

    error_responses: dict[int | str, dict[str, Any]] = {
        401: {"model": schemas.ErrorOut},
        413: {"model": schemas.ErrorOut},
        422: {"model": schemas.ErrorOut},
        429: {"model": schemas.ErrorOut, "description": "Rate limit reached; Retry-After says when to retry."},
    }
    review_errors: dict[int | str, dict[str, Any]] = {
        **error_responses,
        403: {"model": schemas.ErrorOut},
        404: {"model": schemas.ErrorOut},
        409: {"model": schemas.ErrorOut},
    }
    app.include_router(build_router(review_errors))
    app.include_router(billing_routes.build_router(review_errors))
    app.include_router(analytics_routes.build_router(review_errors))
    app.include_router(model_routes.build_router(review_errors))
    app.include_router(fhir_routes.build_router(review_errors))
    cds_routes.install(app, settings, review, review_errors)

    page.install(app)  # the review page: / and /ui/ (chartcoder/api/page.py)

    @app.post(
        "/v1/suggestions",
        response_model=schemas.SuggestionResponse,
        tags=["suggestions"],
        responses={**error_responses, 503: {"model": schemas.ErrorOut}},
    )
    async def create_suggestions(
        body: schemas.SuggestionRequest, service: SuggestionService = Depends(load_service)
    ) -> Any:
        """Rank ICD-10-CM and CPT/HCPCS codes for a note; every suggestion carries its evidence spans,
        whose offsets slice `text` to exactly the evidence text. The note is coded by a worker
        process under a time budget (503 `suggestion_budget_exceeded` past it), queued fairly among
        callers (429 `suggestion_queue_full` past CHARTCODER_SUGGEST_QUEUE_PER_CALLER)."""
        args = (body.text, body.encounter.to_domain(), body.top_k, settings.max_note_chars)
        if isinstance(service, PooledService):
            result = await service.asuggest(*args)
        else:
            result = await run_in_threadpool(service.suggest, *args)
        return result.to_dict(body.id)

    @app.get("/v1/codes/search", response_model=list[schemas.CodeOut], tags=["codes"], responses=error_responses)
    def search_codes(
        q: Annotated[str, Query(min_length=1, max_length=100, description="Words or a code prefix (up to 8 words)")],
        system: Annotated[str, Query(pattern="^(ICD-10-CM|CPT|HCPCS|all)$")] = "all",
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        billable_only: bool = False,
    ) -> Any:
        from chartcoder.codes.lookup import search

        if len(q.split()) > 8:
            raise InvalidInputError("'q' has more than 8 words; search with fewer, more specific words.")
        return [
            c.__dict__ for c in search(q, system=system, limit=limit, billable_only=billable_only, settings=settings)
        ]

    @app.get(
        "/v1/codes/{system}/{code}", tags=["codes"], responses={**error_responses, 404: {"model": schemas.ErrorOut}}
    )
    def show_code(system: str, code: Annotated[str, Path(min_length=1, max_length=16)]) -> Any:
        from chartcoder.codes.lookup import show

        if system not in {"ICD-10-CM", "CPT", "HCPCS"}:
            raise InvalidInputError(f"'system' must be ICD-10-CM, CPT or HCPCS; got {system!r}.")
        return show(code, system, settings)

    if settings.proxy_list:  # X-Forwarded-For / -Proto believed from these peers only (never by default)
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.proxy_list)
    security.install(app, settings)  # last: outermost, so every answer gets the headers
    return app


async def _guarded(call_next: Callable[[Request], Any], request: Request) -> Any:
    """Runs the route; an unexpected exception becomes a 500 that names the request id, and the log
    gets its type only: a traceback or message could carry note text or patient data."""
    try:
        return await call_next(request)
    except Exception as exc:
        log.error("request_id=%s unhandled %s", request.state.request_id, type(exc).__name__)
        return _error(500, "internal_error", "something went wrong on our side; quote the request id", request)


def _rate_limited(refusal: Refusal, request: Request) -> JSONResponse:
    metrics.rate_limited(refusal.budget)
    response = _error(
        429, "rate_limited", refusal.message, request, limit=refusal.limit, retry_after=refusal.retry_after
    )
    response.headers["Retry-After"] = str(refusal.retry_after)
    return response


def _credentials(request: Request) -> tuple[str | None, bool]:
    """The presented token and whether it came from the session cookie (bearer and X-API-Key win)."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip(), False
    if request.headers.get("x-api-key"):
        return request.headers["x-api-key"].strip(), False
    cookie = request.cookies.get(SESSION_COOKIE)
    return (cookie, True) if cookie else (None, False)
