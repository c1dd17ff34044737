"""The API side of bounded suggestion work (chartcoder/models/pool.py): who the caller is, noticing a
client that goes away, and the answers for work refused or stopped by a bound."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from chartcoder.models.pool import CURRENT_WORK, RequestWork, SuggestionWorkError


def caller_key(principal: Any) -> str:
    """The caller a request's suggestion work is queued under: a person, an API key, a CDS client."""
    if principal is None:
        return "-"
    name = str(getattr(principal, "username", "-"))
    return f"user:{name}" if getattr(principal, "user_id", None) is not None else name


class RequestWorkScope:
    """Innermost middleware: gives each HTTP request a `RequestWork` (in a context variable, which
    the route and the threads it starts inherit) and, once the request body has been read, waits for
    the client's disconnect: suggestion work the request started is then stopped. The wait ends
    when the answer is sent (the server then reports the request as over)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        state = scope.get("state") or {}
        work = RequestWork(caller_key(state.get("principal")), state.get("request_id"))
        body_read = asyncio.Event()
        answered = False

        async def watched_receive() -> Any:
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                body_read.set()
            elif message["type"] == "http.disconnect" and not answered:
                work.disconnected()
            return message

        async def watch() -> None:
            await body_read.wait()
            message = await receive()  # after the whole body, the next message is the disconnect
            if message["type"] == "http.disconnect" and not answered:
                work.disconnected()

        async def noting_send(message: Any) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = True
            await send(message)

        token = CURRENT_WORK.set(work)
        watcher = asyncio.create_task(watch())
        try:
            await self.app(scope, watched_receive, noting_send)
        finally:
            watcher.cancel()
            CURRENT_WORK.reset(token)


def install(app: FastAPI) -> None:
    """The middleware (added before the others, so it is the innermost and sees the caller the
    request middleware found) and the answer for a bound met."""
    app.add_middleware(RequestWorkScope)

    @app.exception_handler(SuggestionWorkError)
    async def on_work_error(request: Request, exc: SuggestionWorkError) -> JSONResponse:
        response = JSONResponse(
            {"error": exc.error, "detail": str(exc), "request_id": getattr(request.state, "request_id", None)},
            status_code=exc.status,
        )
        if exc.retry_after is not None:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
