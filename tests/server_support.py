"""The real server as a subprocess, for tests that need a process (browser, crash, log tests):
`LiveServer` starts `python -m uvicorn chartcoder.api.main:app` on a free loopback port with its own
data dir and database, and can stop, SIGKILL and restart it; `create_user` and `sign_in` go through
the CLI and the API as a person would."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # .venv/bin under `make test`
STARTUP_TIMEOUT = 300.0  # the server loads ICD-10-CM at start: 70+ s on a loaded two-core machine
# A CLI run against the server's data dir: seconds on a quiet machine, several times that on a loaded
# two-core CI runner; the timeout only catches a hang. Training runs pass a longer one.
CLI_TIMEOUT = 300.0
# An HTTP answer from the server, likewise: a promotion smoke-tests the pack in a child process, which
# on a loaded runner took over a minute while other clients kept the server busy.
HTTP_TIMEOUT = 180.0


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
    database: str | None = None  # a SQLAlchemy URL; default a SQLite file in the data dir
    port: int = field(default_factory=free_port)
    ehr_key: str = field(default_factory=lambda: "cc_test_" + secrets.token_urlsafe(24))
    extra_env: dict[str, str] = field(default_factory=dict)  # more CHARTCODER_* settings for this server
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database_url(self) -> str:
        return self.database or f"sqlite:///{self.data_dir / 'review.db'}"

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
        env.update(self.extra_env)
        return env

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, n: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])

    def start(self, timeout: float = STARTUP_TIMEOUT) -> LiveServer:
        assert self.proc is None or self.proc.poll() is not None, "the server is already running"
        # Reuse the checkout's term-index cache (as tests/cli/test_serve.py does) so startup takes seconds.
        cache = self.data_dir / "cache"
        cache.mkdir(parents=True, exist_ok=True)
        for f in (ROOT / "var" / "cache").glob("term-index-*.json.gz"):
            if not (cache / f.name).exists():
                (cache / f.name).symlink_to(f)
        cmd = [str(BIN / "python"), "-m", "uvicorn", "chartcoder.api.main:app"]
        # as `chartcoder serve` runs it: uvicorn believes no X-Forwarded-For (CHARTCODER_TRUSTED_PROXIES decides)
        cmd += ["--host", "127.0.0.1", "--port", str(self.port), "--no-proxy-headers"]
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

    def chartcoder(
        self, *args: str, input: str | None = None, timeout: float = CLI_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        """Runs the `chartcoder` CLI against this server's data dir and database."""
        return subprocess.run(
            [str(BIN / "chartcoder"), *args],
            cwd=ROOT,
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


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


def sign_in(server: LiveServer, user: User) -> httpx.Client:
    """POST /v1/auth/login; the answered client sends `Authorization: Bearer <token>`."""
    r = httpx.post(
        server.base_url + "/v1/auth/login", json={"username": user.username, "password": user.password}, timeout=30
    )
    assert r.status_code == 200, f"sign-in of {user.username} answered {r.status_code}: {r.text[:500]}"
    token = r.json()["token"]
    return httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=HTTP_TIMEOUT)
