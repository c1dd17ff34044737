"""Shared fixtures: one real suggestion service per test process (loading ICD-10-CM takes seconds), and
the review-store fixtures: every storage and API test runs against a fresh SQLite file and a fresh
PostgreSQL database (127.0.0.1:5432, user postgres, trust auth on the development machines; set
CHARTCODER_TEST_POSTGRES_URL to point elsewhere). Where PostgreSQL is not reachable, its half of
the tests is skipped with that reason, and `.ci/run` prints it."""

from __future__ import annotations

import os
import uuid
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

ADMIN_URL = os.environ.get("CHARTCODER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _postgres_reason() -> str | None:
    try:
        import psycopg

        with psycopg.connect(ADMIN_URL.replace("+psycopg", ""), connect_timeout=3):
            return None
    except Exception as exc:  # any failure to connect means: skip, and say why
        return f"PostgreSQL not reachable at {ADMIN_URL} ({type(exc).__name__}); its tests are skipped"


@pytest.fixture(scope="session")
def postgres_reason() -> str | None:
    return _postgres_reason()


@pytest.fixture
def postgres_url(postgres_reason: str | None) -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards."""
    if postgres_reason:
        pytest.skip(postgres_reason)
    import psycopg

    name = f"chartcoder_test_{uuid.uuid4().hex[:12]}"
    plain = ADMIN_URL.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = ADMIN_URL.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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


@pytest.fixture
def client(db_url, settings, service):
    """A TestClient on a fresh database with one signed-in user per person role (`coder1`,
    `biller1`, `admin1`, `data_scientist1`, password PASSWORD): `client.h(role)` gives that user's
    bearer header, `client.db_url` the database."""
    from app_support import signed_in_client

    from chartcoder.config import Settings
    from chartcoder.store.database import ReviewStore

    store = ReviewStore(db_url)
    cfg = Settings(data_dir=settings.data_dir, database_url=db_url)
    with signed_in_client(cfg, service, store, ("coder", "biller", "admin", "data_scientist")) as c:
        c.db_url = db_url  # type: ignore[attr-defined]
        yield c
    store.dispose()
