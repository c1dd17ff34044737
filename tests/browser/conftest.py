"""Browser-test fixtures: Debian's Chromium driven by Playwright, and the real server as a subprocess.

- `chromium_path`: /usr/bin/chromium (installed by scripts/install-test-deps, which `make test` runs),
  or the test is skipped saying so. We never run `playwright install`.
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
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
BIN = Path(sys.executable).parent  # .venv/bin under `make test`
CHROMIUM = Path("/usr/bin/chromium")
STARTUP_TIMEOUT = 90.0

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
        pytest.skip(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium package "
            "(scripts/install-test-deps installs it; `make test` runs that script first)"
        )
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


# --- the real server -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    """The API as a real process. `start()` waits for GET /healthz; `stop()` ends it; `kill()` sends
    SIGKILL (for crash tests); `start()` again restarts it on the same port, data dir and database."""

    data_dir: Path
    log_path: Path
    port: int = field(default_factory=free_port)
    ehr_key: str = field(default_factory=lambda: "cc_test_" + secrets.token_urlsafe(24))
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.data_dir / 'review.db'}"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHARTCODER_")}
        env.update(
            CHARTCODER_DATA_DIR=str(self.data_dir),
            CHARTCODER_MODEL="knowledge",
            CHARTCODER_DATABASE_URL=self.database_url,
            CHARTCODER_API_KEYS=self.ehr_key,  # an `ehr` key, per docs/review-api.md
            PYTHONUNBUFFERED="1",
        )
        return env

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, n: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])

    def start(self, timeout: float = STARTUP_TIMEOUT) -> LiveServer:
        assert self.proc is None or self.proc.poll() is not None, "the server is already running"
        # Reuse the checkout's term-index cache (as tests/api/test_serve.py does) so startup takes seconds.
        cache = self.data_dir / "cache"
        cache.mkdir(parents=True, exist_ok=True)
        for f in (ROOT / "var" / "cache").glob("term-index-*.json.gz"):
            if not (cache / f.name).exists():
                (cache / f.name).symlink_to(f)
        cmd = [str(BIN / "python"), "-m", "uvicorn", "chartcoder.api.main:app"]
        cmd += ["--host", "127.0.0.1", "--port", str(self.port)]
        with open(self.log_path, "ab") as log:  # appended to across restarts
            log.write(f"--- starting: {' '.join(cmd)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"the server exited with code {self.proc.returncode} while starting:\n{self.log_tail()}")
            try:
                if httpx.get(self.base_url + "/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"GET /healthz did not answer 200 within {timeout:.0f} s; server log:\n{self.log_tail()}")
            time.sleep(0.25)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def kill(self) -> None:
        """SIGKILL, no shutdown: what a crash test needs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def chartcoder(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Runs the `chartcoder` CLI against this server's data dir and database."""
        return subprocess.run(
            [str(BIN / "chartcoder"), *args],
            cwd=ROOT,
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
        )


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


@dataclass(frozen=True)
class User:
    username: str
    password: str
    role: str


def create_user(server: LiveServer, username: str, role: str, password: str | None = None) -> User:
    """`chartcoder users create USERNAME --role ROLE --password-stdin`, with the server's environment."""
    password = password or "pw-" + secrets.token_urlsafe(18)  # the API asks for at least 12 characters
    done = server.chartcoder("users", "create", username, "--role", role, "--password-stdin", input=password + "\n")
    if done.returncode != 0:
        out = (done.stdout + done.stderr).strip()
        if "No such command" in out and "users" in out:
            pytest.fail(
                "the CLI has no `chartcoder users create` yet (docs/review-api.md, issue 4): "
                "the browser tests need it to make the first admin and a coder"
            )
        pytest.fail(f"`chartcoder users create {username} --role {role}` failed ({done.returncode}):\n{out[-3000:]}")
    return User(username, password, role)


@pytest.fixture(scope="module")
def users(live_server: LiveServer) -> dict[str, User]:
    """The first admin and one coder on this module's server."""
    return {
        "admin": create_user(live_server, "admin1", "admin"),
        "coder": create_user(live_server, "coder1", "coder"),
    }


def sign_in(server: LiveServer, user: User) -> httpx.Client:
    """POST /v1/auth/login; the answered client sends `Authorization: Bearer <token>`."""
    r = httpx.post(
        server.base_url + "/v1/auth/login", json={"username": user.username, "password": user.password}, timeout=30
    )
    assert r.status_code == 200, f"sign-in of {user.username} answered {r.status_code}: {r.text[:500]}"
    token = r.json()["token"]
    return httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


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
