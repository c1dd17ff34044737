"""Shared fixtures: one real suggestion service per test process (loading ICD-10-CM takes seconds)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CODIESP = ROOT.parent / "shared" / "data" / "codiesp"

# Tests share the term-index cache of the checkout (git-ignored) so it is built once per machine.
os.environ.setdefault("CHARTCODER_DATA_DIR", str(ROOT / "var"))
# Packs the tests train are signed with the user's own pack signing key (CHARTCODER_PACK_SIGNING_KEY,
# default ~/.config/chartcoder/pack-signing.key, made on first use), which the code under test trusts;
# so does a models/default signed with `chartcoder models sign models/default` (docs/models.md).


@pytest.fixture(scope="session")
def settings():
    from chartcoder.config import Settings

    return Settings(data_dir=ROOT / "var")


@pytest.fixture(scope="session")
def service(settings):
    from chartcoder.models.service import SuggestionService

    return SuggestionService(settings)


@pytest.fixture(scope="session")
def suggest(service):
    """suggest(text, **encounter) -> SuggestionSet, through the real pipeline and engine."""
    from chartcoder.domain.encounter import Encounter

    def run(text: str, top_k: int = 20, **encounter):
        return service.suggest(text, Encounter(**encounter), top_k)

    return run
