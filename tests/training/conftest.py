"""One native thread per pool for the training tests, and an early start for the CLI's train runs.

The re-ranker's gradient-boosted trees run OpenMP loops; on a busy two-core machine two spinning
OpenMP threads made one fit on 15 notes take minutes instead of half a second (measured here while
another process held a core). Results do not depend on the thread count; the time does."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from threadpoolctl import threadpool_limits
from training_support import start_training, stop_training


@pytest.fixture(scope="session", autouse=True)
def _one_native_thread() -> Iterator[None]:
    with threadpool_limits(limits=1):
        yield


def pytest_collection_finish(session: pytest.Session) -> None:
    if hasattr(session.config, "workerinput"):
        return  # a pytest-xdist worker: the CLI tests start the runs when (and where) they need them
    if any(item.path.name == "test_training_cli.py" for item in session.items):
        start_training()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    stop_training()
