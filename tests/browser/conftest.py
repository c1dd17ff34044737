"""Browser-test fixtures: Debian's Chromium driven by Playwright, and the real server as a subprocess.

- `chromium_path`: /usr/bin/chromium (installed by scripts/install-test-deps, which `make test` runs);
  without it the browser tests fail saying why (skip them knowingly with
  CHARTCODER_ALLOW_NO_BROWSER=1). We never run `playwright install`.
- `browser`: one headless Chromium per test process, with background networking switched off.
- `page`: a fresh browser context and page per test; requests to anything but the loopback server are
  aborted (the review page must be self-contained) and listed in `page.blocked_requests`; on failure a
  screenshot goes to tests/artifacts/.
- `live_server`: `python -m uvicorn chartcoder.api.main:app` on a free loopback port, with its own data
  dir, the knowledge engine (no model pack to build) and a SQLite database; its stdout and stderr go to
  one log file that tests may read. One per test module.
- `users`: the first admin and a coder, created with `chartcoder users create ... --password-stdin`.
- `api`: `api(user)` signs in through POST /v1/auth/login and answers an httpx client carrying the token.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_support import LiveServer, User, create_user, sign_in

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--disable-extensions",
    "--disable-breakpad",
    "--disable-client-side-phishing-detection",
    "--disable-domain-reliability",
    "--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication,CertificateTransparencyComponentUpdater",
    "--metrics-recording-only",
    "--no-default-browser-check",
    "--no-first-run",
    "--no-pings",
    "--password-store=basic",
    "--use-mock-keychain",
]


# --- Chromium and Playwright ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not os.access(CHROMIUM, os.X_OK):
        reason = (
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium package "
            "(scripts/install-test-deps installs it; `make test` runs that script first)"
        )
        if os.environ.get("CHARTCODER_ALLOW_NO_BROWSER") == "1":
            pytest.skip(reason)
        # A review page nobody drove is not a tested review page: fail, unless told to skip.
        pytest.fail(reason + "; set CHARTCODER_ALLOW_NO_BROWSER=1 to skip them knowingly", pytrace=False)
    return str(CHROMIUM)


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the playwright package is not installed in this venv: pip install -e '.[dev]' (make test does)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keeps each phase's report on the item so `page` can screenshot a failed test."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


_LOCAL = re.compile(r"^(https?|wss?)://(127\.0\.0\.1|localhost)(:\d+)?/")


@pytest.fixture
def page(browser: Any, artifacts_dir: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    blocked: list[str] = []

    def only_loopback(route: Any) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:", "about:")) or _LOCAL.match(url):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    context.route("**/*", only_loopback)
    pg = context.new_page()
    pg.blocked_requests = blocked  # type: ignore[attr-defined]
    problems: list[str] = []
    pg.on("pageerror", lambda exc: problems.append(f"uncaught {exc}"))
    pg.on("console", lambda msg: problems.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None)
    pg.on("requestfailed", lambda req: problems.append(f"request failed: {req.method} {req.url} {req.failure}"))
    try:
        yield pg
    finally:
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            name = re.sub(r"[^\w.-]+", "_", request.node.name)
            with contextlib.suppress(Exception):  # the page may be gone; the failure itself is what matters
                pg.screenshot(path=str(artifacts_dir / f"failed-{name}.png"), full_page=True)
            # Shown under "Captured stdout teardown" of the failed test.
            print(f"page url: {pg.url}", *(f"browser: {m}" for m in problems), sep="\n")
            if blocked:
                print("blocked requests (not to the loopback server):", *blocked, sep="\n  ")
        context.close()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("live-server")
    server = LiveServer(data_dir=tmp / "data", log_path=tmp / "server.log")
    server.data_dir.mkdir()
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- users and the API ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def users(live_server: LiveServer) -> dict[str, User]:
    """The first admin and one coder on this module's server."""
    return {
        "admin": create_user(live_server, "admin1", "admin"),
        "coder": create_user(live_server, "coder1", "coder"),
    }


@pytest.fixture
def api(live_server: LiveServer) -> Iterator[Callable[[User], httpx.Client]]:
    """api(user) -> an httpx client signed in as that user (closed after the test)."""
    clients: list[httpx.Client] = []

    def make(user: User) -> httpx.Client:
        client = sign_in(live_server, user)
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.close()


@pytest.fixture
def ehr_api(live_server: LiveServer) -> Iterator[httpx.Client]:
    """A client with the server's `ehr` API key (from CHARTCODER_API_KEYS)."""
    with httpx.Client(
        base_url=live_server.base_url, headers={"Authorization": f"Bearer {live_server.ehr_key}"}, timeout=60
    ) as client:
        yield client
