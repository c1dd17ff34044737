"""The review page (chartcoder/ui): `index.html` at `/`, its ES modules and styles under `/ui/`.

Static files, no build step. Browsers run a module script only when it is served with a JavaScript
media type (answers carry `X-Content-Type-Options: nosniff`), so the page's files answer with their
standard types whatever the host's mimetypes table says (some map `.js` to `text/plain`).
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

UI_DIR = Path(__file__).resolve().parents[1] / "ui"

MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}


class PageFiles(StaticFiles):
    """StaticFiles with fixed media types for the page's scripts, styles and HTML."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        media_type = MEDIA_TYPES.get(Path(full_path).suffix)
        if media_type and response.status_code != 304:
            response.headers["content-type"] = media_type
        return response


router = APIRouter(include_in_schema=False)


@router.get("/")
def review_page() -> FileResponse:
    return FileResponse(UI_DIR / "index.html", media_type=MEDIA_TYPES[".html"])


def install(app: FastAPI) -> None:
    """Serves the page, when the package ships it."""
    if not UI_DIR.is_dir():
        return
    app.mount("/ui", PageFiles(directory=UI_DIR), name="ui")
    app.include_router(router)
