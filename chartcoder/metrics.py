"""The process's Prometheus metrics: request latency, suggestions served, decisions, the serving model.

Labels hold route templates, methods, status classes, pack names and decision actions only: never a
path with ids in it, a query string, note text or a person.

One API process: the metrics live in its memory and `/metrics` shows them. Several uvicorn workers
(`chartcoder serve --workers N`): a scrape reaches one worker at random, so each worker's numbers
alone would jump about. `serve` then sets `PROMETHEUS_MULTIPROC_DIR` to a fresh folder before the
workers start; prometheus_client keeps every worker's values in files there and `/metrics` adds
them up (counters and histograms summed over workers, living or not; the model gauge per live
worker, labelled with its pid). Processes on other machines are scraped one by one, as usual.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUEST_SECONDS = Histogram(
    "chartcoder_http_request_duration_seconds",
    "Time from a request's arrival to its answer, by route template, method and status class.",
    ("route", "method", "status"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
SUGGESTION_SETS = Counter(
    "chartcoder_suggestion_sets",
    "Notes answered with suggestions (POST /v1/suggestions, encounters created, other surfaces), by model.",
    ("model",),
)
SUGGESTIONS = Counter(
    "chartcoder_suggestions_served",
    "Code suggestions served (one per code in an answer), by model.",
    ("model",),
)
DECISIONS = Counter(
    "chartcoder_decisions",
    "Coders' decisions stored, by action (accept, reject, add, change).",
    ("action",),
)
RATE_LIMITED = Counter(
    "chartcoder_rate_limited",
    "Requests refused with 429, by budget (person, key, ehr, burst, login, signin_pair, signin_account).",
    ("budget",),
)
SIGN_IN_FAILURES = Counter(
    "chartcoder_sign_in_failures",
    "Sign-ins that did not sign anyone in, by reason: bad_credentials (wrong name or password, or an inactive "
    "account) or throttled (refused before the password was checked).",
    ("reason",),
)
SUGGESTION_WORK = Counter(
    "chartcoder_suggestion_work",
    "Suggestion jobs of the worker pool by outcome: done, failed, over_budget (stopped at the time "
    "budget), cancelled (the client went away), queue_full (429), queue_timeout.",
    ("outcome",),
)
SUGGESTION_WORKERS = Gauge(
    "chartcoder_suggestion_workers",
    "The worker pool now: workers alive, busy (coding a note) and notes queued.",
    ("state",),
    multiprocess_mode="livesum",
)
MODEL_INFO = Gauge(
    "chartcoder_model_info",
    "1 for the model (pack name@version, or the knowledge engine) this process serves; 0 for one it served before.",
    ("model",),
    multiprocess_mode="liveall",
)

_serving: str | None = None


def status_class(status: int) -> str:
    return f"{status // 100}xx"


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    REQUEST_SECONDS.labels(route, method, status_class(status)).observe(seconds)


def suggestions_served(model: str, count: int) -> None:
    SUGGESTION_SETS.labels(model).inc()
    if count:
        SUGGESTIONS.labels(model).inc(count)


def suggestion_work(outcome: str) -> None:
    SUGGESTION_WORK.labels(outcome).inc()


def suggestion_workers(workers: int, busy: int, queued: int) -> None:
    SUGGESTION_WORKERS.labels("alive").set(workers)
    SUGGESTION_WORKERS.labels("busy").set(busy)
    SUGGESTION_WORKERS.labels("queued").set(queued)


def decisions_made(actions: Iterable[str]) -> None:
    for action in actions:
        DECISIONS.labels(action).inc()


def rate_limited(budget: str) -> None:
    RATE_LIMITED.labels(budget).inc()


def sign_in_failed(reason: str) -> None:
    SIGN_IN_FAILURES.labels(reason).inc()


def serving_model(name: str) -> None:
    """Record the model this process now serves (called on every switch; cheap when unchanged)."""
    global _serving
    if name == _serving:
        return
    if _serving is not None:
        MODEL_INFO.labels(_serving).set(0)  # a label set cannot be removed in multi-process mode
    MODEL_INFO.labels(name).set(1)
    _serving = name


def exposition() -> tuple[bytes, str]:
    """The text a Prometheus scrape gets, and its content type."""
    folder = os.environ.get(MULTIPROC_ENV)
    if not folder:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    from prometheus_client import multiprocess

    forget_dead_workers(Path(folder))
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_LATEST


_LIVE_FILE = re.compile(r"^gauge_live\w*_(\d+)\.db$")


def forget_dead_workers(folder: Path) -> None:
    """Drop the per-worker gauge files of workers that are gone (uvicorn restarts a crashed worker
    under a new pid; its old model gauge must not linger). Counters of dead workers are kept: their
    counts happened."""
    from prometheus_client import multiprocess

    for f in folder.glob("gauge_live*_*.db"):
        found = _LIVE_FILE.match(f.name)
        if found and not _alive(int(found.group(1))):
            multiprocess.mark_process_dead(int(found.group(1)), str(folder))  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
