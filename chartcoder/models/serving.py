"""The pack an API process serves, switched in place when the registry's active pack changes.

Requests read `ServingModel.get()`, a plain attribute read, and keep the service object they got
until they finish; a switch loads the new pack beside the old one and then replaces the reference
in one assignment. So a request in flight finishes on the pack it started with, a new request gets
the new one, and no request waits for or fails because of a switch. The new service shares the old
one's NLP pipeline and knowledge engine (they do not depend on the pack), so a switch costs one
pack load and its memory for as long as requests still hold the old one.

Each process polls the registry every `CHARTCODER_REGISTRY_POLL_SECONDS` (one small query), so a
promotion made through the CLI, another process's API or another machine reaches every process
within that time; the process that takes an admin's promote request switches before answering.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from chartcoder import metrics
from chartcoder.models.registry import ActivePack, ModelRegistry
from chartcoder.models.service import SuggestionService

log = logging.getLogger("chartcoder.serving")


class ServingModel:
    def __init__(self, base: Callable[[], SuggestionService], registry: ModelRegistry | None) -> None:
        self._base_factory = base
        self._base: SuggestionService | None = None
        self._service: SuggestionService | None = None
        self._serving: ActivePack | None = None
        self.registry = registry
        self._switching = threading.Lock()
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self.last_error: str | None = None

    @property
    def loaded(self) -> bool:
        return self._service is not None

    @property
    def serving_ref(self) -> str | None:
        """The registered pack serving (None: the configured pack)."""
        return self._serving.ref if self._serving else None

    def get(self) -> SuggestionService:
        service = self._service
        if service is None:
            service = self.sync()
        return service

    def sync(self) -> SuggestionService:
        """Serve what the registry says is active, loading it if this process does not serve it yet.
        A pack that fails to load is logged and the current one keeps serving."""
        with self._switching:
            if self._base is None:
                self._base = self._base_factory()
            wanted = self._wanted()
            if self._service is None or wanted != self._serving:
                try:
                    self._switch(wanted)
                except Exception as exc:  # a broken pack must not take the service down
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    log.error("could not switch to %s: %s", wanted.ref if wanted else "the configured pack", exc)
                    if self._service is None:
                        self._service, self._serving = self._base, None
            assert self._service is not None
            return self._service

    def _wanted(self) -> ActivePack | None:
        if self.registry is None:
            return None
        try:
            return self.registry.active()
        except Exception as exc:  # the database is away: keep serving what we serve
            log.warning("registry unreachable (%s); serving %s", type(exc).__name__, self.serving_ref or "configured")
            return self._serving

    def _switch(self, wanted: ActivePack | None) -> None:
        assert self._base is not None
        if wanted is None:
            service = self._base
        else:
            assert self.registry is not None
            service = self._base.with_pack(self.registry.load(wanted))
        self._service, self._serving = service, wanted  # one reference swap; requests in flight keep theirs
        self.last_error = None
        metrics.serving_model(service.model_name)
        log.info("serving %s", service.model_name)

    # -- polling ---------------------------------------------------------------------------------
    def start_polling(self, seconds: float) -> None:
        if self.registry is None or seconds <= 0 or self._poller is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(seconds):
                try:
                    self.sync()
                except Exception as exc:  # never let the poller die
                    log.error("registry poll failed: %s", type(exc).__name__)

        self._poller = threading.Thread(target=loop, name="chartcoder-registry-poll", daemon=True)
        self._poller.start()

    def stop_polling(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=5)
            self._poller = None
