"""The per-app objects routes reach through chartcoder/api/deps.py: settings, the review store and
service, the serving model (and its worker pool), billing, CDS Hooks, the rate limits; and the
lifespan that starts and stops what runs in the background. All of it lives on `app.state`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from chartcoder.api.ratelimit import RateLimiter
from chartcoder.api.signin import SignInThrottle
from chartcoder.config import Settings
from chartcoder.domain.errors import ResourceError
from chartcoder.files import private_dir, warn_if_loose
from chartcoder.models.pool import PooledService, SuggestionPool, front_service, pack_key
from chartcoder.models.registry import ModelRegistry
from chartcoder.models.service import SuggestionService, service_from_settings
from chartcoder.models.serving import ServingModel
from chartcoder.review.service import ReviewService
from chartcoder.store.database import ReviewStore


class ServiceSource:
    """The serving pack's suggestion service; with a worker pool, the same `suggest()` run there."""

    def __init__(self, serving: ServingModel, pool: SuggestionPool | None) -> None:
        self.serving = serving
        self.pool = pool

    def __call__(self) -> SuggestionService:
        service = self.serving.get()
        if self.pool is None:
            return service
        self.pool.serve_pack(pack_key(service))
        return PooledService(self.pool, service)  # type: ignore[return-value]  # same suggest(), run in the pool


def attach(
    app: FastAPI,
    settings: Settings,
    service_factory: Callable[[], SuggestionService] | None,
    store: ReviewStore | None,
) -> None:
    """Build the app's objects onto `app.state` (see create_app for what the arguments mean)."""
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
    load_service = ServiceSource(serving, pool)
    review = ReviewService(store, settings, load_service)
    from chartcoder.billing.service import BillingService

    s = app.state
    s.settings, s.review, s.serving, s.pool, s.load_service = settings, review, serving, pool, load_service
    s.billing = BillingService(review, settings)
    s.rate_limiter = RateLimiter(settings)
    s.signin_throttle = SignInThrottle(settings)
    _attach_cds(app, settings, review)


def _attach_cds(app: FastAPI, settings: Settings, review: ReviewService) -> None:
    """The CDS Hooks service and JWT verifier. The CDS clients file is read here, so a server with a
    broken file refuses to start (naming the problem) instead of refusing every EHR."""
    from chartcoder.interop.cds_auth import CdsClients, JwtVerifier
    from chartcoder.interop.cds_hooks import CdsHooksService

    clients = CdsClients.from_file(settings.cds_clients)
    if settings.cds_clients is not None and not settings.cds_base_url:
        # The JWT's audience is checked against this URL; taken from the request's Host header instead,
        # a token an EHR signed for another service could be replayed here.
        raise ResourceError(
            "CHARTCODER_CDS_CLIENTS is set but CHARTCODER_CDS_BASE_URL is not: set it to the public URL the "
            "EHRs call (e.g. https://coding.example.org), which every CDS JWT's 'aud' must name"
        )
    app.state.cds = CdsHooksService(review, lambda: settings.max_note_chars)
    app.state.cds_verifier = JwtVerifier(clients, review.store)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the worker pool (its workers load while this process does), load the serving pack,
    warm the code search index, poll the registry; stop them again at shutdown."""
    settings: Settings = app.state.settings
    serving: ServingModel = app.state.serving
    pool: SuggestionPool | None = app.state.pool
    if pool is not None:
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
