"""`chartcoder serve` as a real process on a loopback port: what `make serve` starts."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_builds_the_default_pack_then_answers_suggestions(tmp_path):
    """A machine with no pack: `serve` builds the default pack (a small one here, through
    CHARTCODER_DEFAULT_PACK_NOTES), then serves suggestions ranked by it."""
    port = free_port()
    data_dir = tmp_path / "data"
    (data_dir / "cache").mkdir(parents=True)
    # Reuse the checkout's term-index cache so the server starts in seconds.
    for f in (ROOT / "var" / "cache").glob("term-index-*.json.gz"):
        (data_dir / "cache" / f.name).symlink_to(f)
    models = tmp_path / "models"
    env = {
        **os.environ,
        "CHARTCODER_DATA_DIR": str(data_dir),
        "CHARTCODER_MODEL_DIR": str(models),
        "CHARTCODER_DEFAULT_PACK_NOTES": "150",
    }
    env.pop("CHARTCODER_MODEL", None)
    env.pop("CHARTCODER_DATABASE_URL", None)  # the default: a SQLite file in the data dir
    exe = str(Path(sys.executable).parent / "chartcoder")
    proc = subprocess.Popen(
        [exe, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 300
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as r:
                    assert json.load(r) == {"status": "ok"}
                    break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, proc.stderr.read().decode()
                assert time.time() < deadline, "server did not come up"
                time.sleep(0.5)
        key = (data_dir / "api-key").read_text().strip()
        note = "Assessment and Plan: 1. Right ankle sprain, initial visit. 2. GERD. Denies chest pain."
        req = urllib.request.Request(
            base + "/v1/suggestions",
            data=json.dumps({"text": note, "encounter": {"setting": "outpatient"}}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            body = json.load(r)
        assert body["model"].startswith("default@")
        codes = [s["code"] for s in body["suggestions"]]
        assert "S93.401A" in codes and "K21.9" in codes and "R07.9" not in codes
        for s in body["suggestions"]:
            for ev in s["evidence"]:
                assert note[ev["start"] : ev["end"]] == ev["text"]
        # First start: an admin whose password is in a file only its owner reads; it signs in, and
        # the review page is served.
        secret = data_dir / "initial-admin-password"
        assert secret.stat().st_mode & 0o777 == 0o600
        password = secret.read_text().strip()
        login = urllib.request.Request(
            base + "/v1/auth/login",
            data=json.dumps({"username": "admin", "password": password}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(login, timeout=30) as r:
            assert json.load(r)["user"]["role"] == "admin"
        with urllib.request.urlopen(base + "/", timeout=10) as r:
            assert b"<html" in r.read().lower()
        # No key: refused.
        req.remove_header("Authorization")
        try:
            urllib.request.urlopen(req, timeout=10)
            raise AssertionError("request without a key was accepted")
        except urllib.error.HTTPError as e:
            assert e.code == 401
    finally:
        proc.terminate()
        try:
            out, errs = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, errs = proc.communicate()
    # The note must never reach the logs.
    assert b"ankle sprain" not in out + errs
    assert password.encode() not in out + errs  # the password is in its file, never printed
    assert b"created the user" in errs and str(secret).encode() in errs
    assert b"building the default pack" in errs
    card = json.loads((models / "default" / "model_card.json").read_text())
    assert card["name"] == "default" and card["training"]["sources"][0]["format"] == "synthetic"
    assert 0.0 <= card["metrics"]["MAP"] <= 1.0
