"""The app factory: the app's objects (chartcoder/api/state.py), its routers, middleware
(chartcoder/api/middleware.py) and error answers (chartcoder/api/handlers.py). Routes validate, call
a service and return; no business logic here."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from chartcoder import __version__
from chartcoder.api import (
    accounts,
    analytics,
    billing,
    cds_hooks,
    docs,
    fhir_in,
    handlers,
    health,
    middleware,
    models,
    page,
    review,
    state,
    suggestions,
)
from chartcoder.config import Settings, get_settings
from chartcoder.models.service import SuggestionService
from chartcoder.store.database import ReviewStore

ROUTERS = (
    health.router,
    accounts.router,
    review.router,
    billing.router,
    analytics.router,
    models.router,
    fhir_in.router,
    cds_hooks.router,
    suggestions.router,
    docs.openapi_router,
)


def create_app(
    settings: Settings | None = None,
    service_factory: Callable[[], SuggestionService] | None = None,
    store: ReviewStore | None = None,
) -> FastAPI:
    """Build the app. `service_factory` lets tests share one loaded service across apps; `store`,
    one review database (by default the one `CHARTCODER_DATABASE_URL` names, migrated here)."""
    settings = settings or get_settings()
    app = FastAPI(
        title="chartcoder",
        version=__version__,
        description="Ranked ICD-10-CM and CPT/HCPCS code suggestions with the evidence for each. "
        "Authenticate with `Authorization: Bearer <API key>` (or `X-API-Key`).",
        lifespan=state.lifespan,
        openapi_url=None,  # chartcoder/api/docs.py serves /openapi.json behind the auth dependency
        docs_url=None,  # our own /docs with Swagger UI from the app's files (chartcoder/api/docs.py)
        redoc_url=None,
    )
    state.attach(app, settings, service_factory, store)
    if settings.docs_on:
        docs.swagger_dir()  # the page's files are there, or the server says so at start
        app.include_router(docs.router)
    for router in ROUTERS:
        app.include_router(router)
    page.install(app)  # the review page: / and /ui/ (chartcoder/api/page.py)
    handlers.install(app)
    middleware.install(app, settings)
    return app
