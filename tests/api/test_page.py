"""The review page's files as the app serves them (chartcoder/api/page.py): the ES modules with a
JavaScript media type (browsers refuse a module script served as anything else under nosniff), even
on a host whose mimetypes table says otherwise, under the page's Content-Security-Policy."""

from __future__ import annotations

import mimetypes

import pytest
from fastapi.testclient import TestClient

from chartcoder.api.page import UI_DIR


@pytest.fixture(scope="module")
def client(settings, service, tmp_path_factory):
    from chartcoder.api.app import create_app
    from chartcoder.config import Settings

    tmp = tmp_path_factory.mktemp("page")
    app = create_app(
        Settings(
            data_dir=settings.data_dir,
            model="knowledge",
            model_dir=tmp / "models",
            database_url=f"sqlite:///{tmp / 'review.db'}",
            registry_poll_seconds=0,
        ),
        service_factory=lambda: service,
    )
    return TestClient(app)


def page_files() -> list[str]:
    return sorted(p.relative_to(UI_DIR).as_posix() for p in UI_DIR.rglob("*") if p.suffix in {".js", ".css", ".html"})


def test_every_page_file_is_served_with_its_media_type_and_the_page_policy(client):
    files = page_files()
    assert "app.js" in files and "js/store.js" in files and "index.html" in files
    expected = {
        ".js": "text/javascript; charset=utf-8",
        ".css": "text/css; charset=utf-8",
        ".html": "text/html; charset=utf-8",
    }
    for name in files:
        r = client.get(f"/ui/{name}")
        assert r.status_code == 200, name
        assert r.headers["content-type"] == expected[name[name.rindex(".") :]], name
        assert r.headers["x-content-type-options"] == "nosniff", name
        assert "script-src 'self'" in r.headers["content-security-policy"], name
        assert r.content == (UI_DIR / name).read_bytes(), name
    page = client.get("/")
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.text == (UI_DIR / "index.html").read_text()


def test_modules_stay_javascript_when_the_hosts_mimetypes_table_says_text_plain(client):
    before = mimetypes.guess_type("x.js")[0]
    mimetypes.add_type("text/plain", ".js")  # as some Windows registries have it
    try:
        assert mimetypes.guess_type("x.js")[0] == "text/plain"
        r = client.get("/ui/js/store.js")
    finally:
        mimetypes.add_type(before or "text/javascript", ".js")
    assert mimetypes.guess_type("x.js")[0] == (before or "text/javascript")
    assert r.headers["content-type"] == "text/javascript; charset=utf-8"


def test_a_revalidated_module_answers_304_without_a_body(client):
    first = client.get("/ui/app.js")
    again = client.get("/ui/app.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
