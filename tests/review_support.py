"""The review API in-process for the review and account tests: `review_api(...)` yields an `Api` on a
fresh database (a copy of this module's template, tests/store_support.py) holding one user of every
person role signed in, a second coder and one EHR key. Not a conftest, so that test folders import it
by name; each folder's conftest wraps it in its `api` fixture."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient

EHR_STATIC = "static-ehr-key-0123456789"
PASSWORD = "correct horse battery"
NOTE = (
    "Chief complaint: follow-up of chronic problems.\n"
    "Assessment and plan:\n"
    "1. Type 2 diabetes mellitus with diabetic chronic kidney disease, CKD stage 3b.\n"
    "2. Essential hypertension, controlled on lisinopril.\n"
    "3. Primary osteoarthritis of the right knee.\n"
    "4. Hyperlipidemia, continue atorvastatin.\n"
    "He denies chest pain.\n"
)
ROLES = ("coder", "biller", "ehr", "data_scientist", "admin")


def _settings(settings, db_url: str):
    from chartcoder.config import Settings

    return Settings(data_dir=settings.data_dir, database_url=db_url, api_keys=EHR_STATIC, max_note_chars=20_000)


def _people(settings, service, db_url: str) -> dict[str, str]:
    """Makes, on a new database, one user of every person role signed in through POST /v1/auth/login,
    a second coder and one EHR key: {role or coder2: token or key}."""
    from chartcoder.api.app import create_app
    from chartcoder.store.database import ReviewStore

    store = ReviewStore(db_url)
    app = create_app(_settings(settings, db_url), service_factory=lambda: service, store=store)
    review = app.state.review
    tokens: dict[str, str] = {}
    # https: the session cookie is Secure, and a client sends it over https only
    with TestClient(app, raise_server_exceptions=False, base_url="https://testserver") as client:
        for role in ROLES:
            if role == "ehr":
                tokens[role] = review.accounts.create_key("test EHR", "ehr").key
                continue
            review.accounts.create_user(f"{role}1", PASSWORD, role, f"Test {role}")
            r = client.post("/v1/auth/login", json={"username": f"{role}1", "password": PASSWORD})
            assert r.status_code == 200, r.text
            tokens[role] = r.json()["token"]
        review.accounts.create_user("coder2", PASSWORD, "coder")
        tokens["coder2"] = review.accounts.sign_in("coder2", PASSWORD)[1]
    store.dispose()
    return tokens


def review_api(db_url: str, settings: Any, service: Any, templates: Any) -> Iterator[Api]:
    """A client on a fresh database with one user of every person role and one EHR key (made once per
    module and kind of database by `_people`; each test gets its own copy of that database)."""
    from chartcoder.api.app import create_app
    from chartcoder.store.database import ReviewStore

    tokens = templates.restore("people", db_url, lambda url: _people(settings, service, url))
    store = ReviewStore(db_url)
    app = create_app(_settings(settings, db_url), service_factory=lambda: service, store=store)
    with TestClient(app, raise_server_exceptions=False, base_url="https://testserver") as client:
        yield Api(client, dict(tokens), app.state.review)
    store.dispose()


class Api:
    def __init__(self, client: TestClient, tokens: dict[str, str], review) -> None:
        self.client = client
        self.tokens = tokens
        self.review = review

    def h(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def call(self, role: str | None, method: str, path: str, **kw):
        headers = self.h(role) if role else {}
        return self.client.request(method, path, headers=headers, **kw)

    def create(self, role: str = "coder", **fields) -> dict:
        body = {"text": NOTE, **fields}
        r = self.call(role, "POST", "/v1/encounters", json=body)
        assert r.status_code == 201, r.text
        return r.json()

    def decide(self, enc_id: str, version: int, *decisions: dict, role: str = "coder"):
        return self.call(
            role, "POST", f"/v1/encounters/{enc_id}/decisions", json={"version": version, "decisions": list(decisions)}
        )
