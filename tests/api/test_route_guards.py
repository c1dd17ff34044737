"""Every route of the real app is guarded by a dependency, not by a check its body may forget: each
one depends on the current principal (chartcoder/api/deps.py), and a role-restricted one on
`RequireRole(...)`, whose roles come from the one table in chartcoder/domain/roles.py. Each restricted
route answers 403 to every role outside its permission (and to API keys where a person is needed),
and lets the allowed roles past the guard."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from chartcoder.domain.roles import ROLES, Permission

PASSWORD = "correct horse battery"

# Routes open without a principal, each for a stated reason (the request middleware lets exactly
# these through unauthenticated: chartcoder/api/middleware.py).
OPEN = {
    "/healthz": "liveness probe",
    "/readyz": "readiness probe",
    "/metrics": "its own rule: loopback, or CHARTCODER_METRICS_TOKEN",
    "/v1/auth/login": "signing in is how a principal is made",
    "/cds-services": "CDS Hooks discovery holds no patient data",
    "/": "the review page's HTML (it signs in through the API)",
}

# The permission of every restricted route, written out here so that widening a route is a visible
# change to this test as well as to the route.
EXPECTED = {
    ("POST", "/v1/encounters"): Permission.CREATE_ENCOUNTER,
    ("GET", "/v1/encounters"): Permission.LIST_ENCOUNTERS,
    ("POST", "/v1/encounters/search"): Permission.LIST_ENCOUNTERS,
    ("GET", "/v1/encounters/{encounter_id}"): Permission.READ_ENCOUNTER,
    ("POST", "/v1/encounters/{encounter_id}/decisions"): Permission.DECIDE,
    ("POST", "/v1/encounters/{encounter_id}/finalize"): Permission.DECIDE,
    ("POST", "/v1/encounters/{encounter_id}/reopen"): Permission.DECIDE,
    ("POST", "/v1/encounters/{encounter_id}/lock"): Permission.DECIDE,
    ("DELETE", "/v1/encounters/{encounter_id}/lock"): Permission.DECIDE,
    ("POST", "/v1/encounters/{encounter_id}/send-back"): Permission.SEND_BACK,
    ("PUT", "/v1/encounters/{encounter_id}/diagnosis-order"): Permission.DECIDE,
    ("PATCH", "/v1/encounters/{encounter_id}"): Permission.EDIT_ENCOUNTER,
    ("GET", "/v1/encounters/{encounter_id}/audit"): Permission.READ_AUDIT,
    ("GET", "/v1/audits/export"): Permission.EXPORT_AUDITS,
    ("GET", "/v1/users"): Permission.MANAGE_ACCOUNTS,
    ("POST", "/v1/users"): Permission.MANAGE_ACCOUNTS,
    ("PATCH", "/v1/users/{user_id}"): Permission.MANAGE_ACCOUNTS,
    ("GET", "/v1/keys"): Permission.MANAGE_ACCOUNTS,
    ("POST", "/v1/keys"): Permission.MANAGE_ACCOUNTS,
    ("DELETE", "/v1/keys/{key_id}"): Permission.MANAGE_ACCOUNTS,
    ("POST", "/v1/encounters/{encounter_id}/claim"): Permission.BUILD_CLAIM,
    ("GET", "/v1/encounters/{encounter_id}/claim"): Permission.READ_CLAIM,
    ("GET", "/v1/analytics/feedback"): Permission.READ_ANALYTICS,
    ("GET", "/v1/models"): Permission.WATCH_MODELS,
    ("POST", "/v1/models/register"): Permission.WATCH_MODELS,
    ("POST", "/v1/models/promote"): Permission.PROMOTE_MODELS,
    ("POST", "/v1/models/rollback"): Permission.PROMOTE_MODELS,
    ("POST", "/v1/fhir/encounters"): Permission.CREATE_ENCOUNTER,
    ("POST", "/cds-services/{service_id}"): Permission.CALL_CDS,
    ("POST", "/cds-services/{service_id}/feedback"): Permission.CALL_CDS,
}


# Permissions whose routes a signed-in person must call (RequireRole(..., person=...)): decisions carry a
# person's name, and so does a send-back.
PEOPLE_ONLY = (Permission.DECIDE, Permission.SEND_BACK)


@pytest.fixture(scope="module")
def guarded(tmp_path_factory, settings, service) -> Iterator[tuple[Any, TestClient, dict[str, dict[str, str]]]]:
    """The real app on its own SQLite file; an API key of every role and two signed-in people."""
    from chartcoder.api.app import create_app
    from chartcoder.config import Settings

    folder = tmp_path_factory.mktemp("guards")
    s = Settings(data_dir=settings.data_dir, database_url=f"sqlite:///{folder / 'review.db'}", registry_poll_seconds=0)
    app = create_app(s, service_factory=lambda: service)
    review = app.state.review
    keys = {role: {"Authorization": f"Bearer {review.accounts.create_key(f'{role} key', role).key}"} for role in ROLES}
    people = {}
    for role in ("coder", "admin"):
        review.accounts.create_user(f"{role}1", PASSWORD, role)
        people[role] = {"Authorization": f"Bearer {review.accounts.sign_in(f'{role}1', PASSWORD)[1]}"}
    with TestClient(app, raise_server_exceptions=False) as client:
        yield app, client, {"keys": keys, "people": people}  # type: ignore[misc]


def _calls(dependant: Any) -> Iterator[Any]:
    for dep in dependant.dependencies:
        yield dep.call
        yield from _calls(dep)


def _guard(route: Any) -> tuple[bool, Any]:
    """(depends on the current principal, the RequireRole guard or None)."""
    from chartcoder.api.deps import RequireRole, current_principal

    calls = list(_calls(route.dependant))
    roles = [c for c in calls if isinstance(c, RequireRole)]
    assert len(roles) <= 1, f"{route.path}: more than one RequireRole"
    return current_principal in calls, roles[0] if roles else None


def _contexts(app: Any) -> Iterator[Any]:
    """Every route as the app serves it, the routes of included routers too (with their prefix and
    the dependencies they were given)."""
    from fastapi.routing import iter_route_contexts

    yield from iter_route_contexts(app.routes)


def _api_routes(app: Any) -> Iterator[tuple[str, Any]]:
    for route in _contexts(app):
        if isinstance(route.original_route, APIRoute):
            for method in sorted(route.methods - {"HEAD"}):
                yield method, route


def _url(path: str) -> str:
    # A well-formed id of nothing that exists (the key and user ids of the fixture must survive).
    return re.sub(r"\{[^}]+\}", str(2**31 - 1), path)


def test_every_route_but_the_open_ones_depends_on_the_principal(guarded):
    app, _, _ = guarded
    from starlette.routing import Mount

    unguarded = []
    for method, route in _api_routes(app):
        has_principal, _ = _guard(route)
        if not has_principal and route.path not in OPEN:
            unguarded.append(f"{method} {route.path}")
    assert unguarded == [], f"routes without an auth dependency: {unguarded}"
    others = [r.path for r in _contexts(app) if not isinstance(r.original_route, APIRoute | Mount)]
    assert others == [], f"routes outside FastAPI's dependency system: {others}"
    mounts = {r.path for r in _contexts(app) if isinstance(r.original_route, Mount)}
    assert mounts <= {"/ui"}, mounts  # static files of the page: no patient data


def test_the_restricted_routes_are_the_expected_ones(guarded):
    app, _, _ = guarded
    found = {}
    for method, route in _api_routes(app):
        _, guard = _guard(route)
        if guard is not None:
            found[(method, route.path)] = guard.permission
    assert found == EXPECTED


@pytest.mark.parametrize(("method", "path"), sorted(EXPECTED))
def test_a_restricted_route_refuses_every_other_role(guarded, method, path):
    app, client, who = guarded
    permission = EXPECTED[(method, path)]
    from chartcoder.domain.roles import roles_for

    allowed = roles_for(permission)
    body = {} if method in ("POST", "PATCH") else None
    for role in ROLES:
        r = client.request(method, _url(path), headers=who["keys"][role], json=body)
        if role not in allowed:
            assert r.status_code == 403, (role, r.status_code, r.text)
            assert r.json()["error"] == "forbidden"
            assert r.json()["detail"].startswith("this needs the "), r.json()
            assert r.json()["detail"].endswith(f"role; you are {role}")
        elif permission in PEOPLE_ONLY:  # an API key of any role is refused
            assert r.status_code == 403 and "API keys cannot" in r.json()["detail"], r.text
        else:
            assert r.status_code != 403, (role, r.text)
    for role, headers in who["people"].items():
        r = client.request(method, _url(path), headers=headers, json=body)
        assert (r.status_code == 403) == (role not in allowed), (role, r.status_code, r.text)


def test_open_to_every_role_means_signed_in(guarded):
    _, client, who = guarded
    for path in ("/v1/codes/search?q=asthma", "/v1/review/reasons", "/v1/review/modifiers", "/v1/auth/me"):
        assert client.get(path).status_code == 401
        for role in ROLES:
            assert client.get(path, headers=who["keys"][role]).status_code == 200, (path, role)
