"""Self-checks of the browser-test fixtures: Chromium renders and runs a page, the live server starts."""

from __future__ import annotations

import base64

import httpx
import pytest

pytestmark = pytest.mark.browser

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>fixture check</title></head>
<body><h1 data-testid="status-message">ready</h1><input data-testid="code-search" aria-label="search">
<script>
document.addEventListener('keydown', e => {
  if (e.key === '/' && document.activeElement.tagName !== 'INPUT') {
    e.preventDefault(); document.querySelector('[data-testid=code-search]').focus();
  }
});
document.querySelector('[data-testid=code-search]').addEventListener('input', e => {
  document.querySelector('[data-testid=status-message]').textContent = 'typed ' + e.target.value;
});
</script></body></html>"""


def test_browser_fixture_renders_a_page(browser, page, artifacts_dir):
    assert browser.version.split(".")[0].isdigit()
    assert "HeadlessChrome" in page.evaluate("navigator.userAgent")
    page.goto("data:text/html;base64," + base64.b64encode(PAGE.encode()).decode())
    assert page.title() == "fixture check"
    assert page.get_by_test_id("status-message").text_content() == "ready"
    # The keyboard reaches the page's handlers, as the review page's shortcuts need.
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.dataset.testid") == "code-search"
    page.keyboard.type("E11.22")
    assert page.get_by_test_id("status-message").text_content() == "typed E11.22"
    shot = page.screenshot(path=str(artifacts_dir / "fixture-check.png"))
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 1000
    assert page.blocked_requests == []


def test_page_fixture_blocks_requests_off_the_loopback(page):
    """The review page must not load anything from elsewhere; the fixture aborts and lists such requests."""
    html = '<img src="https://example.invalid/x.png">'
    page.goto("data:text/html;base64," + base64.b64encode(html.encode()).decode())
    page.wait_for_load_state("load")
    assert page.blocked_requests == ["https://example.invalid/x.png"]


def test_live_server_answers_healthz_and_logs_to_a_file(live_server):
    r = httpx.get(live_server.base_url + "/healthz", timeout=10)
    assert r.status_code == 200
    assert live_server.base_url.startswith("http://127.0.0.1:")
    assert live_server.data_dir.is_dir()
    assert live_server.log_path.is_file()
    assert "uvicorn" in live_server.log_text() or "Uvicorn" in live_server.log_text()
    # Every other route needs credentials.
    assert httpx.get(live_server.base_url + "/v1/encounters", timeout=10).status_code == 401
