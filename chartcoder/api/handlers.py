"""The error answers of the API: one JSON shape (`{"error", "detail", "request_id"}`, schemas.ErrorOut)
for every refusal, and the exception handlers that turn the domain's errors (chartcoder/domain/errors.py) into
it. Nothing here logs a message or input: they could carry note text."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from chartcoder import metrics
from chartcoder.api.ratelimit import Refusal, SignInThrottled
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

log = logging.getLogger("chartcoder.api")

BODY_NOT_JSON = "the body is not valid JSON in UTF-8; send a JSON object with Content-Type: application/json"


def error_response(status: int, error: str, detail: Any, request: Request, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        {"error": error, "detail": detail, "request_id": getattr(request.state, "request_id", None), **extra},
        status_code=status,
        headers=headers,
    )


def rate_limited(refusal: Refusal, request: Request) -> JSONResponse:
    metrics.rate_limited(refusal.budget)
    response = error_response(
        429, "rate_limited", refusal.message, request, limit=refusal.limit, retry_after=refusal.retry_after
    )
    response.headers["Retry-After"] = str(refusal.retry_after)
    return response


def validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors without the `input` echo (it may hold note text) and with a readable location."""
    out = []
    for e in exc.errors():
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
        msg = str(e.get("msg", "invalid value"))
        if e.get("type") == "json_invalid":
            msg = BODY_NOT_JSON
        out.append({"field": loc or "body", "message": msg, "type": e.get("type")})
    return out


# Domain errors answered with their message as the detail: (status, error code).
_PLAIN: list[tuple[type[Exception], int, str]] = [
    (NoteTooLongError, 413, "note_too_long"),
    (InvalidInputError, 422, "invalid_input"),
    (UnknownCodeError, 404, "unknown_code"),
    (NotFoundError, 404, "not_found"),
    (AuthenticationError, 401, "unauthorized"),
    (PermissionDeniedError, 403, "forbidden"),
]


def _plain(status: int, error: str) -> Any:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        return error_response(status, error, str(exc), request)

    return handle


async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    return error_response(422, "invalid_request", validation_detail(exc), request)


async def on_sign_in_throttled(request: Request, exc: SignInThrottled) -> JSONResponse:
    return rate_limited(exc.refusal, request)


async def on_conflict(request: Request, exc: ConflictError) -> JSONResponse:
    return error_response(409, exc.error, str(exc), request, current_version=exc.current_version, **exc.extra)


async def on_database_busy(request: Request, exc: OperationalError) -> JSONResponse:
    # The database is unreachable or locked past its timeout: nothing was written; say retry.
    log.warning("request_id=%s database unavailable: %s", request.state.request_id, type(exc.orig).__name__)
    response = error_response(
        503, "database_unavailable", "the database is busy or unreachable; retry shortly", request
    )
    response.headers["Retry-After"] = "2"
    return response


async def on_domain(request: Request, exc: ChartcoderError) -> JSONResponse:
    return error_response(400, "bad_request", str(exc), request)


async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):  # FastAPI's body reader
        detail = [{"field": "body", "message": BODY_NOT_JSON, "type": "json_invalid"}]
        return error_response(422, "invalid_request", detail, request)
    return error_response(exc.status_code, "http_error", exc.detail, request)


def install(app: FastAPI) -> None:
    """Every exception handler (the most specific class wins, so their order here does not matter)."""
    app.add_exception_handler(RequestValidationError, on_validation)  # type: ignore[arg-type]
    app.add_exception_handler(SignInThrottled, on_sign_in_throttled)  # type: ignore[arg-type]
    for cls, status, error in _PLAIN:
        app.add_exception_handler(cls, _plain(status, error))
    app.add_exception_handler(ConflictError, on_conflict)  # type: ignore[arg-type]
    app.add_exception_handler(OperationalError, on_database_busy)  # type: ignore[arg-type]
    app.add_exception_handler(ChartcoderError, on_domain)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, on_http)  # type: ignore[arg-type]
