"""The API in-process for tests: `signed_in_client` builds the app on a given review store with the
shared suggestion service, signs in one user per role (`<role>1`, password PASSWORD) and yields a
TestClient whose `h(role)` gives that user's bearer header. Not a conftest, so that test folders
import it by name."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

PASSWORD = "correct horse battery"


@contextmanager
def signed_in_client(settings: Any, service: Any, store: Any, roles: Sequence[str]) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from chartcoder.api.app import create_app

    app = create_app(settings, service_factory=lambda: service, store=store)
    tokens = {}
    for role in roles:
        app.state.review.create_user(f"{role}1", PASSWORD, role)
        tokens[role] = app.state.review.sign_in(f"{role}1", PASSWORD)[1]
    with TestClient(app, raise_server_exceptions=False) as c:
        c.h = lambda role: {"Authorization": f"Bearer {tokens[role]}"}  # type: ignore[attr-defined]
        yield c
