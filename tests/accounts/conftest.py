"""The review API on a fresh database per test, with one user of every person role signed in
(tests/review_support.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def api(db_url, settings, service, templates):
    from review_support import review_api

    yield from review_api(db_url, settings, service, templates)
