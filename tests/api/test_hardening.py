"""The API hardened for a hospital network: body limits on every route (chunked too), per-caller rate
limits (429 + Retry-After), CORS closed unless origins are listed, security headers on the page and
the API, one JSON log line per request without paths or note text, Prometheus metrics at /metrics,
and readiness that fails while no model pack is loaded."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import textwrap
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from chartcoder.api.page import UI_DIR
from chartcoder.logs import JsonFormatter

EHR_KEY = "ehr-key-aaaaaaaaaaaa"
EHR_KEY_2 = "ehr-key-bbbbbbbbbbbb"
PASSWORD = "correct horse battery"
NOTE = "Assessment: type 2 diabetes mellitus with hyperglycemia. Essential hypertension. Denies chest pain."
LOOPBACK = ("127.0.0.1", 40000)


PEOPLE = (("coder1", "coder"), ("coder2", "coder"), ("admin1", "admin"))


@pytest.fixture
def make_client(settings, service, tmp_path, templates):
    """make_client(**settings) -> a TestClient on a fresh SQLite database, the knowledge engine, two
    static EHR keys and users coder1 / coder2 / admin1 (signed in once per module in a template
    database, which each database here is a copy of); `c.h(name)` is that user's bearer header."""
    from app_support import make_people

    from chartcoder.api.app import create_app
    from chartcoder.config import Settings
    from chartcoder.store.database import ReviewStore

    opened = []

    def seed(url: str) -> dict[str, str]:
        store = ReviewStore(url)
        tokens = make_people(Settings(data_dir=settings.data_dir, database_url=url), store, PEOPLE)
        store.dispose()
        return tokens

    def make(client: tuple[str, int] = ("testclient", 50000), lifespan: bool = True, **overrides):
        values = {
            "data_dir": settings.data_dir,
            "model": "knowledge",
            "model_dir": tmp_path / "models",
            "database_url": f"sqlite:///{tmp_path / f'review{len(opened)}.db'}",
            "api_keys": f"{EHR_KEY},{EHR_KEY_2}",
            "max_note_chars": 5_000,
            "registry_poll_seconds": 0,
            **overrides,
        }
        tokens = templates.restore("people", values["database_url"], seed)
        app = create_app(Settings(**values), service_factory=lambda: service)
        c = TestClient(app, raise_server_exceptions=False, client=client)
        if lifespan:
            c.__enter__()
        opened.append((c, lifespan))
        c.h = lambda name: {"Authorization": f"Bearer {tokens[name]}"}  # type: ignore[attr-defined]
        return c

    yield make
    for c, entered in opened:
        if entered:
            c.__exit__(None, None, None)
        c.app.state.review.store.dispose()


def ehr(key: str = EHR_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# -- body limits ---------------------------------------------------------------------------------


def _chunks(total: int, prefix: bytes = b'{"text": "', suffix: bytes = b'"}'):
    yield prefix
    for _ in range(total // 10_000):
        yield b"a" * 10_000
    yield suffix


@pytest.mark.parametrize("path", ["/v1/suggestions", "/v1/encounters"])
def test_a_chunked_body_over_the_limit_is_refused_on_note_routes(make_client, path):
    c = make_client()
    r = c.post(path, content=_chunks(200_000), headers={**ehr(), "Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    assert r.json()["error"] == "http_error" and "bytes" in r.json()["detail"]


def test_routes_without_a_note_take_small_bodies(make_client):
    c = make_client()
    big = {"username": "coder1", "password": "p" * 1000, "padding": "x" * 20_000}
    r = c.post("/v1/auth/login", json=big)
    assert r.status_code == 413 and "16,384 bytes" in r.json()["detail"]
    r = c.post(
        "/v1/encounters/enc_x/finalize",
        content=_chunks(40_000, b'{"version": 1, "x": "'),
        headers={**c.h("coder1"), "Content-Type": "application/json"},
    )
    assert r.status_code == 413 and "16,384 bytes" in r.json()["detail"]
    # the same size is fine where a note travels
    r = c.post("/v1/suggestions", json={"text": NOTE + " " + "word " * 800}, headers=ehr())
    assert r.status_code == 200, r.text


def test_a_declared_length_over_the_limit_is_refused_before_authentication(make_client):
    c = make_client()
    r = c.post("/v1/suggestions", content=b"{}", headers={"Content-Length": "99999999"})
    assert r.status_code == 413 and "5,000 characters" in r.json()["detail"]


# -- rate limits ---------------------------------------------------------------------------------


def test_a_caller_over_its_budget_gets_429_with_retry_after(make_client):
    c = make_client(rate_limit_per_minute=3, rate_limit_ehr_per_minute=5, rate_limit_burst=0)
    for _ in range(3):
        assert c.get("/v1/auth/me", headers=c.h("coder1")).status_code == 200
    r = c.get("/v1/auth/me", headers=c.h("coder1"))
    assert r.status_code == 429
    body = r.json()
    assert body["error"] == "rate_limited" and body["limit"] == "3 requests per minute"
    assert "3 requests per minute" in body["detail"] and body["request_id"]
    assert 1 <= int(r.headers["Retry-After"]) <= 60 and body["retry_after"] == int(r.headers["Retry-After"])
    # another person, and the same person's budget is theirs whatever session they use
    assert c.get("/v1/auth/me", headers=c.h("coder2")).status_code == 200
    second_session = c.app.state.review.accounts.sign_in("coder1", PASSWORD)[1]
    assert c.get("/v1/auth/me", headers={"Authorization": f"Bearer {second_session}"}).status_code == 429
    # EHR keys have their own, larger budget, one per key
    for _ in range(5):
        assert c.post("/v1/suggestions", json={"text": NOTE}, headers=ehr()).status_code == 200
    r = c.post("/v1/suggestions", json={"text": NOTE}, headers=ehr())
    assert r.status_code == 429 and r.json()["limit"] == "5 requests per minute"
    assert c.post("/v1/suggestions", json={"text": NOTE}, headers=ehr(EHR_KEY_2)).status_code == 200
    # health checks are never limited
    for _ in range(10):
        assert c.get("/healthz").status_code == 200 and c.get("/readyz").status_code == 200


def test_stored_keys_count_apart(make_client):
    c = make_client(rate_limit_per_minute=2, rate_limit_ehr_per_minute=2, rate_limit_burst=0)
    keys = [c.app.state.review.accounts.create_key(f"ehr{i}", "ehr").key for i in range(2)]
    for key in keys:
        assert [c.get("/v1/review/reasons", headers=ehr(key)).status_code for _ in range(3)] == [200, 200, 429]


def test_sign_in_attempts_are_limited_per_address(make_client):
    c = make_client(rate_limit_login_per_minute=2)
    wrong = {"username": "coder1", "password": "not the password"}
    assert [c.post("/v1/auth/login", json=wrong).status_code for _ in range(2)] == [401, 401]
    r = c.post("/v1/auth/login", json={"username": "coder1", "password": PASSWORD})
    assert r.status_code == 429 and "from this address" in r.json()["detail"] and r.headers["Retry-After"]


def test_a_burst_cap_limits_requests_in_one_second(settings):
    """Straight against the limiter: three hits take microseconds, far inside the one-second window."""
    import asyncio

    from chartcoder.accounts.principal import Principal
    from chartcoder.api.ratelimit import RateLimiter
    from chartcoder.config import Settings

    limiter = RateLimiter(Settings(data_dir=settings.data_dir, rate_limit_per_minute=100, rate_limit_burst=2))
    who = Principal("coder", "coder1", user_id=7)
    answers = [asyncio.run(limiter.check(who, "token")) for _ in range(3)]
    assert answers[:2] == [None, None]
    assert answers[2] is not None and answers[2].limit == "2 requests per second" and answers[2].retry_after == 1


def test_an_unreachable_shared_store_lets_requests_through(settings, monkeypatch, caplog):
    import asyncio

    from chartcoder.accounts.principal import Principal
    from chartcoder.api.ratelimit import RateLimiter
    from chartcoder.config import Settings

    limiter = RateLimiter(Settings(data_dir=settings.data_dir, rate_limit_per_minute=1))

    def away(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(limiter._window, "hit", away)
    with caplog.at_level(logging.WARNING, logger="chartcoder.api"):
        assert asyncio.run(limiter.check(Principal("coder", "c", user_id=1), "t")) is None
    assert "ConnectionError" in caplog.text


def test_each_kind_of_caller_has_its_own_budget_key():
    from chartcoder.accounts.principal import Principal
    from chartcoder.api.ratelimit import caller_key

    assert caller_key(Principal("coder", "coder1", user_id=3), "ccs_a") == caller_key(
        Principal("coder", "coder1", user_id=3), "ccs_b"
    )  # a person's sessions share one budget
    assert caller_key(Principal("ehr", "key:EHR", key_id=4), "k") == "key:4"
    static = [caller_key(Principal("ehr", "key:static"), k) for k in (EHR_KEY, EHR_KEY_2)]
    assert static[0] != static[1] and EHR_KEY not in static[0]  # apart, and the key itself is not kept
    # a CDS client signs a new JWT for every call: its name, not the token, is the key
    assert caller_key(Principal("ehr", "cds:epic"), "jwt-1") == caller_key(Principal("ehr", "cds:epic"), "jwt-2")


def test_zero_turns_the_limits_off(make_client):
    c = make_client(rate_limit_per_minute=0, rate_limit_ehr_per_minute=0, rate_limit_burst=0)
    assert {c.get("/v1/auth/me", headers=c.h("coder1")).status_code for _ in range(30)} == {200}


# -- CORS ----------------------------------------------------------------------------------------

PREFLIGHT = {"Origin": "https://ehr.example.org", "Access-Control-Request-Method": "POST"}


def test_cors_is_closed_by_default(make_client):
    c = make_client()
    r = c.options("/v1/suggestions", headers={**PREFLIGHT, "Access-Control-Request-Headers": "authorization"})
    assert "access-control-allow-origin" not in r.headers
    r = c.post("/v1/suggestions", json={"text": NOTE}, headers={**ehr(), "Origin": "https://ehr.example.org"})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


def test_cors_answers_only_the_listed_origins(make_client):
    c = make_client(cors_origins="https://ehr.example.org, https://other.example.org/")
    r = c.options("/v1/suggestions", headers={**PREFLIGHT, "Access-Control-Request-Headers": "authorization"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "https://ehr.example.org"
    assert "access-control-allow-credentials" not in r.headers  # keys, never the page's cookie
    r = c.post("/v1/suggestions", json={"text": NOTE}, headers={**ehr(), "Origin": "https://other.example.org"})
    assert r.headers["access-control-allow-origin"] == "https://other.example.org"
    assert "X-Request-ID" in r.headers["access-control-expose-headers"]
    r = c.options("/v1/suggestions", headers={**PREFLIGHT, "Origin": "https://evil.example.com"})
    assert r.status_code == 400 and "access-control-allow-origin" not in r.headers
    # a preflight for the cookie's CSRF header from a listed origin is refused too: no credentials
    r = c.options("/v1/encounters", headers={**PREFLIGHT, "Access-Control-Request-Headers": "x-chartcoder-client"})
    assert r.status_code == 400


# -- security headers ----------------------------------------------------------------------------


def _csp(response) -> dict[str, str]:
    out = {}
    for part in response.headers["Content-Security-Policy"].split(";"):
        name, _, value = part.strip().partition(" ")
        out[name] = value
    return out


def test_the_page_and_the_api_carry_security_headers(make_client):
    c = make_client()
    answers = {
        "page": c.get("/"),
        "script": c.get("/ui/app.js"),
        "json": c.post("/v1/suggestions", json={"text": NOTE}, headers=ehr()),
        "401": c.get("/v1/encounters"),
        "404": c.get("/v1/no-such-route", headers=ehr()),
        "413": c.post("/v1/suggestions", content=b"{}", headers={"Content-Length": "99999999"}),
    }
    for name, r in answers.items():
        assert r.headers["X-Content-Type-Options"] == "nosniff", name
        assert r.headers["X-Frame-Options"] == "DENY", name
        assert r.headers["Referrer-Policy"] == "no-referrer", name
        assert "camera=()" in r.headers["Permissions-Policy"], name
        assert _csp(r)["frame-ancestors"] == "'none'", name
        assert "Strict-Transport-Security" not in r.headers, name  # not configured: plain HTTP
    page = _csp(answers["page"])
    assert page["script-src"] == "'self'" and page["default-src"] == "'self'" and page["object-src"] == "'none'"
    assert _csp(answers["json"])["default-src"] == "'none'"
    for name in ("page", "json", "401", "404"):
        assert answers[name].headers["Cache-Control"] == "no-store", name
    assert "no-store" not in answers["script"].headers.get("Cache-Control", "")  # the page's code may be cached


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self.handlers: list[str] = []
        self.styles = 0

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        if tag == "script" and not names.get("src"):
            self.inline.append(tag)
        self.handlers += [k for k in names if k.startswith("on")]
        self.styles += tag == "style" or "style" in names


def test_the_page_needs_nothing_the_policy_forbids():
    """The page's CSP allows only its own scripts and stylesheets: index.html may hold no inline
    script, event-handler attribute or <style> (the browser tests run the page under the policy)."""
    parser = _Scripts()
    parser.feed((UI_DIR / "index.html").read_text())
    assert parser.inline == [] and parser.handlers == [] and parser.styles == 0
    for js in UI_DIR.rglob("*.js"):
        source = js.read_text()
        assert not re.search(r"\beval\(|new Function\(|\.innerHTML\s*=", source), js.name


def test_hsts_only_when_configured(make_client):
    c = make_client(hsts_seconds=31_536_000)
    assert c.get("/healthz").headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


# -- JSON logs -----------------------------------------------------------------------------------


def test_each_request_logs_one_json_line_with_the_route_template(make_client, caplog):
    c = make_client()
    enc = c.post("/v1/encounters", json={"text": NOTE, "external_id": "EHR-9"}, headers=c.h("coder1")).json()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="chartcoder.api"):
        c.get(f"/v1/encounters/{enc['id']}", headers={**c.h("coder1"), "X-Request-ID": "rid-1"})
        c.get("/v1/encounters", params={"payer": "Quistorff Mutual"}, headers=c.h("coder1"))
        c.post("/v1/suggestions", json={"text": NOTE}, headers=ehr())
        c.get(f"/v1/encounters/{enc['id']}/audit")  # no credentials: 401, still the route's template
        c.get("/v1/patients/MRN-5550123")  # no such route: its path is not kept either
    formatter = JsonFormatter()
    lines = [formatter.format(r) for r in caplog.records if r.name == "chartcoder.api" and r.getMessage() == "request"]
    records = [json.loads(line) for line in lines]
    assert [(r["method"], r["route"], r["status"]) for r in records] == [
        ("GET", "/v1/encounters/{encounter_id}", 200),
        ("GET", "/v1/encounters", 200),
        ("POST", "/v1/suggestions", 200),
        ("GET", "/v1/encounters/{encounter_id}/audit", 401),
        ("GET", "(unmatched)", 401),
    ]
    first = records[0]
    assert first["request_id"] == "rid-1" and first["user"] == "coder1" and first["role"] == "coder"
    assert first["level"] == "INFO" and first["logger"] == "chartcoder.api" and first["ts"].endswith("+00:00")
    assert isinstance(first["ms"], float) and first["ms"] >= 0
    assert records[2]["user"] == "key:static" and records[3]["user"] is None
    text = "\n".join(lines)
    for secret in (enc["id"], "Quistorff", "payer", "diabetes", "MRN-5550123"):
        assert secret not in text


def test_the_formatter_keeps_an_exception_type_not_its_message():
    try:
        raise ValueError("note text: patient has HIV")
    except ValueError:
        record = logging.LogRecord("chartcoder.x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    out = json.loads(JsonFormatter().format(record))
    assert out["exc_type"] == "ValueError" and "HIV" not in json.dumps(out)


# -- metrics -------------------------------------------------------------------------------------


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_count_requests_suggestions_decisions_and_name_the_model(make_client):
    c = make_client(client=LOOPBACK)
    model = c.get("/readyz").json()["model"]
    before = {
        "sets": _sample("chartcoder_suggestion_sets_total", model=model),
        "codes": _sample("chartcoder_suggestions_served_total", model=model),
        "requests": _sample(
            "chartcoder_http_request_duration_seconds_count", route="/v1/suggestions", method="POST", status="2xx"
        ),
        "accept": _sample("chartcoder_decisions_total", action="accept"),
        "reject": _sample("chartcoder_decisions_total", action="reject"),
    }
    answer = c.post("/v1/suggestions", json={"text": NOTE}, headers=ehr()).json()
    enc = c.post("/v1/encounters", json={"text": NOTE}, headers=c.h("coder1")).json()
    codes = [x["code"] for x in enc["codes"]]
    decisions = [
        {"action": "accept", "code": codes[0]},
        {"action": "reject", "code": codes[1], "reason": "not_documented"},
    ]
    r = c.post(
        f"/v1/encounters/{enc['id']}/decisions", json={"version": 1, "decisions": decisions}, headers=c.h("coder1")
    )
    assert r.status_code == 200, r.text

    page = c.get("/metrics")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain")
    assert f'chartcoder_model_info{{model="{model}"}} 1.0' in page.text
    assert _sample("chartcoder_suggestion_sets_total", model=model) == before["sets"] + 2  # the API and the encounter
    assert _sample("chartcoder_suggestions_served_total", model=model) == (
        before["codes"] + len(answer["suggestions"]) + len(enc["suggestion_set"]["suggestions"])
    )
    assert (
        _sample("chartcoder_http_request_duration_seconds_count", route="/v1/suggestions", method="POST", status="2xx")
        == before["requests"] + 1
    )
    assert _sample("chartcoder_decisions_total", action="accept") == before["accept"] + 1
    assert _sample("chartcoder_decisions_total", action="reject") == before["reject"] + 1
    assert 'route="/v1/encounters/{encounter_id}/decisions"' in page.text
    assert enc["id"] not in page.text and "diabetes" not in page.text


def test_metrics_answer_loopback_or_the_metrics_token_only(make_client):
    remote = make_client()  # the test client's address is not loopback
    r = remote.get("/metrics", headers=ehr())
    assert r.status_code == 403 and "CHARTCODER_METRICS_TOKEN" in r.json()["detail"]
    guarded = make_client(client=LOOPBACK, metrics_token="scrape-secret-1")
    assert guarded.get("/metrics").status_code == 401
    assert guarded.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = guarded.get("/metrics", headers={"Authorization": "Bearer scrape-secret-1"})
    assert ok.status_code == 200 and "chartcoder_http_request_duration_seconds" in ok.text


def test_worker_processes_share_one_metrics_page(tmp_path):
    """Multi-process mode as `chartcoder serve --workers 2` sets it up: two worker processes count,
    a third (the one a scrape reaches) shows their sum; a finished worker's model gauge is dropped,
    its counts are kept."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    worker = textwrap.dedent(
        """
        import sys
        from chartcoder import metrics
        metrics.serving_model(sys.argv[1])
        metrics.suggestions_served(sys.argv[1], 3)
        metrics.decisions_made(["accept", "accept"])
        metrics.observe_request("/v1/suggestions", "POST", 200, 0.02)
        """
    )
    for model in ("pack@v1", "pack@v1"):
        subprocess.run([sys.executable, "-c", worker, model], env=env, check=True, timeout=60)
    show = "from chartcoder import metrics; metrics.serving_model('pack@v2'); print(metrics.exposition()[0].decode())"
    page = subprocess.run([sys.executable, "-c", show], env=env, check=True, timeout=60, capture_output=True, text=True)
    text = page.stdout
    assert 'chartcoder_suggestion_sets_total{model="pack@v1"} 2.0' in text
    assert 'chartcoder_suggestions_served_total{model="pack@v1"} 6.0' in text
    assert 'chartcoder_decisions_total{action="accept"} 4.0' in text
    count = 'chartcoder_http_request_duration_seconds_count{method="POST",route="/v1/suggestions",status="2xx"} 2.0'
    assert count in text
    info = [line for line in text.splitlines() if line.startswith("chartcoder_model_info{")]
    assert len(info) == 1 and 'model="pack@v2"' in info[0] and info[0].endswith(" 1.0"), info


# -- readiness -----------------------------------------------------------------------------------


def test_readyz_fails_while_no_model_pack_is_loaded(make_client):
    # configured for the default pack, which is not built in this model folder: the engine alone answers
    c = make_client(model="default")
    r = c.get("/readyz")
    assert r.status_code == 503
    body = r.json()
    assert body["error"] == "not_ready" and "no model pack is loaded" in body["detail"]
    assert body["model"].startswith("chartcoder-knowledge")
    assert c.get("/healthz").status_code == 200  # alive, just not ready
    # the knowledge engine chosen on purpose is the configured model: ready
    assert make_client(model="knowledge").get("/readyz").json()["status"] == "ok"


def test_readyz_fails_until_the_engine_is_loaded(make_client):
    c = make_client(lifespan=False)  # the start-up that loads the engine has not run
    r = c.get("/readyz")
    assert r.status_code == 503 and "still loading" in r.json()["detail"]
