"""The OpenAPI page (`/docs`) in a real browser against the real server: Swagger UI comes from the
server itself (every request the page makes goes to the loopback server; others would be blocked
and listed), it runs under the page's Content-Security-Policy (scripts from this origin only) and
lists the API's routes from /openapi.json (issue 16: no CDN on the origin that serves patient data)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_the_docs_page_renders_swagger_ui_from_the_server_itself(page, live_server, users):
    import httpx

    r = httpx.post(
        live_server.base_url + "/v1/auth/login",
        json={"username": users["coder"].username, "password": users["coder"].password},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    page.context.add_cookies([{"name": "chartcoder_session", "value": r.json()["token"], "url": live_server.base_url}])
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(live_server.base_url + "/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=30_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/v1/suggestions" in paths and "/v1/auth/login" in paths
    assert page.blocked_requests == []  # nothing from another host
    assert not [e for e in errors if "Content Security Policy" in e], errors
