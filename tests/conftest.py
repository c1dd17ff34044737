"""Shared fixtures: one real suggestion service per test process (loading ICD-10-CM takes seconds), and
the review-store fixtures: every storage and API test runs against a fresh SQLite file and a fresh
PostgreSQL database (127.0.0.1:5432, user postgres, trust auth on the development machines; set
CHARTCODER_TEST_POSTGRES_URL to point elsewhere). Where PostgreSQL is not reachable, its half of
the tests is skipped with that reason, and `.ci/run` prints it."""

from __future__ import annotations

import os
from collections.abc import Iterator
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


# --- review stores: SQLite and PostgreSQL ---------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_reason() -> str | None:
    from store_support import postgres_reason

    return postgres_reason()


@pytest.fixture
def postgres_url(postgres_reason: str | None) -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards."""
    if postgres_reason:
        pytest.skip(postgres_reason)
    from store_support import drop_postgres_database, new_postgres_database

    url = new_postgres_database()
    yield url
    drop_postgres_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'review.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(db_url: str):
    from chartcoder.store.database import ReviewStore

    s = ReviewStore(db_url)
    yield s
    s.dispose()


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory):
    """This module's template databases (tests/store_support.py): made once, copied into each test's
    own database."""
    from store_support import Templates

    made = Templates(tmp_path_factory.mktemp("templates"))
    yield made
    made.close()


PERSON_ROLES = ("coder", "biller", "admin", "data_scientist")


@pytest.fixture
def client(db_url, settings, service, templates):
    """A TestClient on a fresh database with one signed-in user per person role (`coder1`,
    `biller1`, `admin1`, `data_scientist1`, password PASSWORD): `client.h(role)` gives that user's
    bearer header, `client.db_url` the database. The users are created and signed in once per module
    and kind of database, and each test gets its own copy of that database."""
    from app_support import sign_in_users, signed_in_client

    from chartcoder.config import Settings
    from chartcoder.store.database import ReviewStore

    def seed(url: str) -> dict[str, str]:
        made = ReviewStore(url)
        tokens = sign_in_users(Settings(data_dir=settings.data_dir, database_url=url), made, PERSON_ROLES)
        made.dispose()
        return tokens

    tokens = templates.restore("signed-in", db_url, seed)
    store = ReviewStore(db_url)
    cfg = Settings(data_dir=settings.data_dir, database_url=db_url)
    with signed_in_client(cfg, service, store, PERSON_ROLES, tokens) as c:
        c.db_url = db_url  # type: ignore[attr-defined]
        yield c
    store.dispose()
