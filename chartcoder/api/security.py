"""Response headers that keep the page and the API safe to expose (CSP, no sniffing, no framing, no
caching of answers that carry patient data, HSTS behind HTTPS), CORS for the origins an operator
lists (none by default), and the tighter body limits of routes that never carry a note."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders

from chartcoder.config import Settings

# The review page loads its own scripts and styles only (chartcoder/ui: no inline script). Style
# attributes are allowed (the feedback view sizes its bars with them; an attribute cannot run
# script); <style> elements and stylesheets from elsewhere are not.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# API answers: JSON, files, and the printable CMS-1500 (HTML with its own <style>): nothing in them
# may run or load anything.
API_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# The /docs page (chartcoder/api/docs.py): Swagger UI from this origin, no inline script; Swagger
# UI sets style attributes and inline SVG styles.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs",)
PAGE_PATHS = ("/", "/favicon.ico")

COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # URLs name encounters; another site need not learn them
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}

# Routes that never carry a note take small bodies (a password is at most 1,024 characters, a
# reason 500); everything else keeps the note-sized limit of BodyLimit.
SMALL_BODY = 16 * 1024
SMALL_BODY_ROUTES = frozenset(
    {
        "/v1/auth/login",
        "/v1/auth/logout",
        "/v1/users",
        "/v1/users/{user_id}",
        "/v1/keys",
        "/v1/encounters/{encounter_id}/finalize",
        "/v1/encounters/{encounter_id}/reopen",
        "/v1/encounters/{encounter_id}/claim",
        "/v1/models/register",
        "/v1/models/promote",
        "/v1/models/rollback",
    }
)


def body_limit(scope: dict[str, Any], default: int) -> int:
    """The body limit of the route a request matched (known once routing has run)."""
    route = scope.get("route")
    return min(default, SMALL_BODY) if getattr(route, "path", None) in SMALL_BODY_ROUTES else default


def policy_for(path: str) -> str:
    if path in PAGE_PATHS or path.startswith("/ui/"):
        return PAGE_POLICY
    if path.startswith(DOCS_PATHS):
        return DOCS_POLICY
    return API_POLICY


class SecurityHeaders:
    """Adds the security headers to every answer, the error answers of the middleware included.
    A header a route set itself is kept."""

    def __init__(self, app: Any, hsts_seconds: int = 0) -> None:
        self.app = app
        self.extra = dict(COMMON_HEADERS)
        if hsts_seconds:
            self.extra["Strict-Transport-Security"] = f"max-age={hsts_seconds}; includeSubDomains"

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.extra.items():
                    headers.setdefault(name, value)
                headers.setdefault("Content-Security-Policy", policy_for(path))
                if not path.startswith("/ui/"):  # the page's own code may be cached; answers may not
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, with_headers)


def cors_origins(settings: Settings) -> list[str]:
    return [o.strip().rstrip("/") for o in settings.cors_origins.split(",") if o.strip()]


def install(app: FastAPI, settings: Settings) -> None:
    """CORS (only when origins are listed) and the security headers, outermost, so that answers the
    request middleware writes itself (401, 413, 429) carry them too."""
    origins = cors_origins(settings)
    if origins:
        from fastapi.middleware.cors import CORSMiddleware

        # No credentials: other origins call with API keys, never with the page's session cookie,
        # so the cookie's CSRF defence (a custom header needs a preflight this refuses) still holds.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_credentials=False,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
            max_age=600,
        )
    app.add_middleware(SecurityHeaders, hsts_seconds=settings.hsts_seconds)
