"""The API in-process for tests: `signed_in_client` builds the app on a given review store with the
shared suggestion service, signs in one user per role (`<role>1`, password PASSWORD; `sign_in_users`)
and yields a TestClient whose `h(role)` gives that user's bearer header; `registry_app` builds the app on a model
folder for the registry's routes. Not a conftest, so that test folders
import it by name."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

PASSWORD = "correct horse battery"


def make_people(settings: Any, store: Any, people: Sequence[tuple[str, str]], sign_in: bool = True) -> dict[str, str]:
    """Creates each (username, role), password PASSWORD, through the account service on `store`, and
    with `sign_in` signs each in: {username: session token}."""
    from chartcoder.accounts.service import AccountService

    accounts = AccountService(store, settings)
    tokens = {}
    for username, role in people:
        accounts.create_user(username, PASSWORD, role)
        if sign_in:
            tokens[username] = accounts.sign_in(username, PASSWORD)[1]
    return tokens


def sign_in_users(settings: Any, store: Any, roles: Sequence[str]) -> dict[str, str]:
    """One signed-in user per role (`<role>1`, password PASSWORD) on `store`: {role: session token}."""
    tokens = make_people(settings, store, [(f"{role}1", role) for role in roles])
    return {role: tokens[f"{role}1"] for role in roles}


@contextmanager
def signed_in_client(
    settings: Any, service: Any, store: Any, roles: Sequence[str], tokens: dict[str, str] | None = None
) -> Iterator[Any]:
    """The app on `store` with one signed-in user per role; `tokens` are those users' session tokens
    where the store already holds them (a copy of a template database), else they are made here."""
    from fastapi.testclient import TestClient

    from chartcoder.api.app import create_app

    if tokens is None:
        tokens = sign_in_users(settings, store, roles)
    app = create_app(settings, service_factory=lambda: service, store=store)
    with TestClient(app, raise_server_exceptions=False) as c:
        c.h = lambda role: {"Authorization": f"Bearer {tokens[role]}"}  # type: ignore[attr-defined]
        yield c


def registry_app(db_url: str, model_dir: Any, settings: Any, service: Any) -> tuple[Any, Any]:
    """The app on its own database and model folder (registry polling off), with a coder, an admin and
    a data scientist signed in: (app, h) where h(role) is that user's bearer header."""
    from chartcoder.api.app import create_app
    from chartcoder.config import Settings

    app = create_app(
        Settings(data_dir=settings.data_dir, database_url=db_url, model_dir=model_dir, registry_poll_seconds=0),
        service_factory=lambda: service,
    )
    tokens = {}
    for role in ("coder", "admin", "data_scientist"):
        app.state.review.accounts.create_user(f"{role}1", PASSWORD, role)
        tokens[role] = app.state.review.accounts.sign_in(f"{role}1", PASSWORD)[1]
    return app, lambda role: {"Authorization": f"Bearer {tokens[role]}"}
