"""The OpenAPI page (`/docs`) with Swagger UI from the app's own files (the Swagger UI 5 build that
the `fastapi-offline` package ships; 4.x cannot read the OpenAPI 3.1 FastAPI writes), not a CDN: a
script from another origin on the origin that serves patient data could read it. The page has no
inline script, so its policy allows scripts from this origin only. On by default, off in production
(`CHARTCODER_DOCS_ENABLED` decides); `/openapi.json` stays, behind sign-in."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from chartcoder.api.deps import current_principal

ASSETS = {  # the files the page loads, by the name it loads them under
    "swagger-ui.css": ("swagger-ui.css", "text/css"),
    "swagger-ui-bundle.js": ("swagger-ui-bundle.js", "text/javascript"),
    "favicon.png": ("favicon.png", "image/png"),
}

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} - API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/start.js"></script>
</body>
</html>
"""

# Changes made from this page use the signed-in session cookie, which needs the same header the
# review page sends (chartcoder/api/middleware.py refuses a cookie change without it).
START = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    requestInterceptor: function (req) { req.headers["X-Chartcoder-Client"] = "web"; return req; }
  });
});
"""


def swagger_dir() -> Path:
    """The package's static folder (found without importing it: its module builds a FastAPI app)."""
    from importlib.util import find_spec

    spec = find_spec("fastapi_offline")
    if spec is None or spec.origin is None:
        raise RuntimeError("the fastapi-offline package (Swagger UI's files for /docs) is not installed")
    return Path(spec.origin).parent / "static"


signed_in = [Depends(current_principal)]  # the request middleware asks for sign-in here too
openapi_router = APIRouter(dependencies=signed_in, include_in_schema=False)
router = APIRouter(prefix="/docs", dependencies=signed_in, include_in_schema=False)


@openapi_router.get("/openapi.json")
def openapi_document(request: Request) -> JSONResponse:
    """The OpenAPI document (FastAPI's own route is off, so that this one carries the auth dependency)."""
    return JSONResponse(request.app.openapi())


@router.get("")
def docs_page(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=request.app.title))


@router.get("/start.js")
def docs_start() -> Response:
    return Response(START, media_type="text/javascript")


@router.get("/{name}")
def docs_asset(name: str) -> Response:
    found = ASSETS.get(name)
    if found is None:
        return Response(status_code=404)
    file, media = found
    return FileResponse(swagger_dir() / file, media_type=media)
