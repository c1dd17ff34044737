"""Issue 16, sign-in, files and defaults, against the real app, database files and logs:

- sign-in throttled per (account, address) pair, per account and per address: guessing one account
  from many addresses gets nowhere, a stranger cannot keep the owner out, a password sprayer behind
  a shared (NAT) address does not lock out its colleagues, the back-off doubles and is capped, and
  failed sign-ins are counted in /metrics;
- X-Forwarded-For believed from configured proxies only;
- the database, its WAL, the keys and caches private (0600 in a 0700 folder), a warning for looser
  ones, and the EHR key never in the server log;
- `environment` a closed set, the session cookie Secure by default, /docs from the app's own files
  (off in production), CDS card markdown that cannot link or load anything, user names normalized
  and look-alikes refused, the last admin kept.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
WRONG = "not the password at all"
PROXY = ("10.9.0.1", 40000)  # the reverse proxy every in-process request comes through


PEOPLE = (("coder1", "coder"), ("coder2", "coder"), ("admin1", "admin"))


@pytest.fixture
def make_client(settings, service, tmp_path, templates):
    """make_client(client=..., **settings) -> a TestClient on a fresh SQLite database and the knowledge
    engine, with users coder1, coder2 and admin1 (password PASSWORD), created once per module in a
    template database which each database here is a copy of."""
    from app_support import make_people

    from chartcoder.api.app import create_app
    from chartcoder.config import Settings
    from chartcoder.store.database import ReviewStore

    opened = []

    def seed(url: str) -> None:
        store = ReviewStore(url)
        make_people(Settings(data_dir=settings.data_dir, database_url=url), store, PEOPLE, sign_in=False)
        store.dispose()

    def make(client=PROXY, **overrides):
        values = {
            "data_dir": settings.data_dir,
            "model": "knowledge",
            "model_dir": tmp_path / "models",
            "database_url": f"sqlite:///{tmp_path / f'review{len(opened)}.db'}",
            "registry_poll_seconds": 0,
            "trusted_proxies": PROXY[0],
            **overrides,
        }
        templates.restore("people", values["database_url"], seed)
        app = create_app(Settings(**values), service_factory=lambda: service)
        c = TestClient(app, raise_server_exceptions=False, client=client)
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.app.state.review.store.dispose()


def login(c, username, password, address=None):
    headers = {"X-Forwarded-For": address} if address else {}
    return c.post("/v1/auth/login", json={"username": username, "password": password}, headers=headers)


def bearer(c, username, address="10.1.1.1"):
    r = login(c, username, PASSWORD, address)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


# -- sign-in throttling --------------------------------------------------------------------------


def test_guessing_one_account_from_many_addresses_never_reaches_the_right_password(make_client):
    """The hostile test: 200 wrong passwords against one account from 4 addresses, then the right one
    from a fifth, signed in. Now each pair and the account as a whole wait, doubling, after a few
    failures; the right password from a new address is refused before it is checked."""
    c = make_client()
    assert login(c, "coder1", PASSWORD, "10.1.1.1").status_code == 200  # the owner, at their desk
    statuses = [login(c, "coder1", WRONG, f"203.0.113.{i % 4 + 1}").status_code for i in range(200)]
    assert set(statuses) == {401, 429}
    checked = statuses.count(401)
    assert checked <= 30, f"{checked} of 200 guesses had their password checked"
    r = login(c, "coder1", PASSWORD, "203.0.113.99")
    assert r.status_code == 429, r.text
    body = r.json()
    assert "this account" in body["detail"] and body["error"] == "rate_limited"
    assert int(r.headers["Retry-After"]) == body["retry_after"] >= 1
    # the owner, at an address that signed in to this account before, is not kept out
    assert login(c, "coder1", PASSWORD, "10.1.1.1").status_code == 200


def test_a_sprayer_behind_a_shared_address_does_not_lock_out_the_people_behind_it(make_client):
    """61 bad sign-ins from a hospital's NAT address locked everyone behind it out for a minute. Now
    the address budget spares (account, address) pairs that signed in before."""
    c = make_client(rate_limit_login_per_minute=10)  # 60 by default; 10 keeps the test inside one minute
    nat = "198.51.100.7"
    for name in ("coder1", "coder2"):
        assert login(c, name, PASSWORD, nat).status_code == 200
    sprayed = [login(c, f"user{i}", WRONG, nat).status_code for i in range(11)]
    assert sprayed[-3:] == [429] * 3, sprayed  # the address budget applies to the sprayer
    assert login(c, "coder1", PASSWORD, nat).status_code == 200
    assert login(c, "coder2", PASSWORD, nat).status_code == 200
    # someone who never signed in from there waits like the sprayer (the address is busy)
    r = login(c, "admin1", PASSWORD, nat)
    assert r.status_code == 429 and "from this address" in r.json()["detail"]
    assert login(c, "admin1", PASSWORD, "10.1.1.2").status_code == 200  # elsewhere: fine


def test_a_stranger_behind_the_owners_own_address_cannot_keep_the_owners_browser_out(make_client):
    """Found in review: someone behind the owner's shared address, failing on purpose each time the
    wait ends, kept the owner's pair waiting for ever. The owner's browser now carries a device cookie
    from its last sign-in and is counted on its own; without it, the owner waits like the stranger."""
    c = make_client(signin_pair_free_failures=3)
    nat = "198.51.100.20"
    first = login(c, "coder1", PASSWORD, nat)
    assert first.status_code == 200
    device = first.cookies.get("chartcoder_device")
    assert device and len(device) >= 24
    jar = "chartcoder_device=" + device
    statuses = [login(c, "coder1", WRONG, nat).status_code for _ in range(6)]  # the stranger, no cookie
    assert statuses[:3] == [401] * 3 and 429 in statuses[3:], statuses
    assert login(c, "coder1", PASSWORD, nat).status_code == 429  # the owner without the cookie waits
    r = c.post(
        "/v1/auth/login",
        json={"username": "coder1", "password": PASSWORD},
        headers={"X-Forwarded-For": nat, "Cookie": jar},
    )
    assert r.status_code == 200, r.text  # the owner's browser signs in
    # a device token is the account's own: it spares nobody else, and a made-up one is an address
    other = c.post(
        "/v1/auth/login",
        json={"username": "coder2", "password": WRONG},
        headers={"X-Forwarded-For": nat, "Cookie": "chartcoder_device=made-up"},
    )
    assert other.status_code == 401
    stolen = [
        c.post(
            "/v1/auth/login",
            json={"username": "coder2", "password": WRONG},
            headers={"X-Forwarded-For": nat, "Cookie": jar},
        ).status_code
        for _ in range(4)
    ]
    assert stolen[-1] == 429, stolen  # coder1's device cookie gives coder2's guesser no budget of its own


def test_the_back_off_doubles_and_is_capped(make_client):
    c = make_client(signin_pair_free_failures=2, signin_max_backoff_seconds=4)
    where = "192.0.2.10"
    assert [login(c, "coder2", WRONG, where).status_code for _ in range(2)] == [401, 401]
    waits = []
    for _ in range(4):
        r = login(c, "coder2", PASSWORD, where)  # refused before the password is checked
        assert r.status_code == 429 and "this account from this address" in r.json()["detail"]
        waits.append(int(r.headers["Retry-After"]))
        time.sleep(waits[-1] + 0.1)
        assert login(c, "coder2", WRONG, where).status_code == 401
    assert waits == [1, 2, 4, 4]
    time.sleep(4.1)
    assert login(c, "coder2", PASSWORD, where).status_code == 200
    # a success starts the pair over: the next failure is free again
    assert login(c, "coder2", WRONG, where).status_code == 401
    assert login(c, "coder2", PASSWORD, where).status_code == 200


def test_an_unknown_user_name_is_throttled_like_a_real_one(make_client):
    """A refusal must not tell a guesser which names exist."""
    c = make_client(signin_pair_free_failures=2)
    for name in ("coder1", "nobody-here"):
        codes = [login(c, name, WRONG, "192.0.2.20").status_code for _ in range(3)]
        assert codes == [401, 401, 429], (name, codes)


def test_failed_sign_ins_are_counted_in_the_metrics(make_client):
    c = make_client(signin_pair_free_failures=1)

    def count(reason):
        return REGISTRY.get_sample_value("chartcoder_sign_in_failures_total", {"reason": reason}) or 0.0

    before = count("bad_credentials"), count("throttled")
    assert login(c, "coder1", WRONG, "192.0.2.30").status_code == 401
    assert login(c, "coder1", WRONG, "192.0.2.30").status_code == 429
    assert (count("bad_credentials"), count("throttled")) == (before[0] + 1, before[1] + 1)
    loopback = TestClient(c.app, client=("127.0.0.1", 5000))
    text = loopback.get("/metrics").text
    assert re.search(r'^chartcoder_sign_in_failures_total\{reason="bad_credentials"\} \d', text, re.M)


# -- forwarded addresses ---------------------------------------------------------------------------


def test_forwarded_addresses_are_believed_from_configured_proxies_only(make_client):
    """Each address has its own budget of sign-in attempts (2 a minute here): from the configured
    proxy, X-Forwarded-For names the address; from anyone else, loopback included, it is ignored."""
    c = make_client(rate_limit_login_per_minute=2)
    codes = [login(c, f"user{i}", WRONG, f"192.0.2.{40 + i}").status_code for i in range(4)]
    assert codes == [401, 401, 401, 401]  # four addresses, as the proxy says
    for peer in (("127.0.0.1", 5000), ("10.9.0.2", 5000)):
        direct = make_client(client=peer, rate_limit_login_per_minute=2)
        codes = [login(direct, f"user{i}", WRONG, f"192.0.2.{60 + i}").status_code for i in range(3)]
        assert codes == [401, 401, 429], (peer, codes)  # one address: the peer's own
    r = make_client(client=("10.9.0.3", 5000), trusted_proxies="10.9.0.0/24").get(
        "/v1/auth/me", headers={"X-Forwarded-For": "192.0.2.80", "X-Forwarded-Proto": "https"}
    )
    assert r.status_code == 401  # a CIDR is accepted; the request reaches the app


def test_the_proxy_setting_takes_addresses_and_networks_only():
    from chartcoder.config import SettingsError, load_settings

    assert load_settings(trusted_proxies="127.0.0.1, 10.0.0.0/8,::1").proxy_list == ["127.0.0.1", "10.0.0.0/8", "::1"]
    with pytest.raises(SettingsError, match=r"CHARTCODER_TRUSTED_PROXIES.*'\*' is not an IP address"):
        load_settings(trusted_proxies="*")


# -- files -----------------------------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_database_wal_and_data_folder_are_private(settings, service, tmp_path):
    """A fresh data folder under a permissive umask: the folder 0700, the database, its WAL and
    shared-memory files 0600, whatever the umask says."""
    from chartcoder.api.app import create_app
    from chartcoder.config import Settings

    data = tmp_path / "fresh" / "data"
    old = os.umask(0o002)
    try:
        cfg = Settings(data_dir=data, model="knowledge", registry_poll_seconds=0)
        app = create_app(cfg, service_factory=lambda: service)
        app.state.review.accounts.create_user("coder1", PASSWORD, "coder")
        with TestClient(app, client=PROXY) as c:
            assert login(c, "coder1", PASSWORD).status_code == 200  # a write: the WAL is there
            db = data / "chartcoder.db"
            files = [db, db.with_name("chartcoder.db-wal"), db.with_name("chartcoder.db-shm")]
            assert all(f.exists() for f in files)
            assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
            assert mode(data) == 0o700 and mode(data.parent) == 0o700
        app.state.review.store.dispose()
    finally:
        os.umask(old)


def test_a_looser_existing_database_is_warned_about_at_start(settings, service, tmp_path, caplog):
    from chartcoder.api.app import create_app
    from chartcoder.config import Settings

    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    db = data / "chartcoder.db"
    db.touch()
    os.chmod(db, 0o644)
    cfg = Settings(data_dir=data, model="knowledge", registry_poll_seconds=0)
    with caplog.at_level("WARNING", logger="chartcoder"):
        app = create_app(cfg, service_factory=lambda: service)
    app.state.review.store.dispose()
    warned = [r.getMessage() for r in caplog.records if "readable by others" in r.getMessage()]
    assert len(warned) == 1
    assert f"{data} (0755)" in warned[0] and f"{db} (0644)" in warned[0] and "go-rwx" in warned[0]
    assert mode(db) == 0o644  # warned about, not changed behind the operator's back


def test_the_key_notice_shows_the_key_only_once_and_only_to_a_terminal(tmp_path):
    from chartcoder.cli.serve import _key_notice

    path = tmp_path / "api-key"
    assert "cc_secret" in _key_notice("cc_secret", True, path, terminal=True)
    for created, terminal in ((True, False), (False, True), (False, False)):
        said = _key_notice("cc_secret", created, path, terminal)
        assert "cc_secret" not in said and str(path) in said


def _serve_env(data: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARTCODER_")}
    env.update(CHARTCODER_DATA_DIR=str(data), CHARTCODER_MODEL="knowledge", PYTHONUNBUFFERED="1", **extra)
    return env


def test_a_misspelt_environment_stops_serve_with_the_allowed_values(tmp_path):
    exe = str(Path(sys.executable).parent / "chartcoder")
    done = subprocess.run(
        [exe, "serve", "--port", "9"],
        env=_serve_env(tmp_path / "data", CHARTCODER_ENVIRONMENT="prodution"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "CHARTCODER_ENVIRONMENT" in done.stderr and "'prodution'" in done.stderr
    assert "development, production, test" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_keeps_the_key_out_of_its_log_and_believes_no_forwarded_address(tmp_path):
    """`chartcoder serve` as an operator runs it under a service manager (standard error to a log
    file): the new EHR key is in a 0600 file, never in the log; the first admin's password file is
    0600; the existing, looser cache folder is warned about; the session cookie is Secure; and
    X-Forwarded-For from a loopback client is not believed (uvicorn's own handling is off)."""
    import httpx

    data = tmp_path / "data"
    (data / "cache").mkdir(parents=True)
    os.chmod(data, 0o700)
    os.chmod(data / "cache", 0o755)  # looser than it should be: warned about
    for f in (ROOT / "var" / "cache").glob("term-index-*.json.gz"):
        (data / "cache" / f.name).symlink_to(f)  # the checkout's term index: start in seconds
    port = free_port()
    log_path = tmp_path / "serve.log"
    exe = str(Path(sys.executable).parent / "chartcoder")
    env = _serve_env(data, CHARTCODER_RATE_LIMIT_LOGIN_PER_MINUTE="3")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [exe, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log_path.read_text(errors="replace")[-3000:]
            time.sleep(0.5)
        key_file = data / "api-key"
        key = key_file.read_text().strip()
        password_file = data / "initial-admin-password"
        assert mode(key_file) == 0o600 and mode(password_file) == 0o600
        assert mode(data / "chartcoder.db") == 0o600
        assert httpx.get(base + "/v1/auth/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200

        admin = {"username": "admin", "password": password_file.read_text().strip()}
        r = httpx.post(base + "/v1/auth/login", json=admin)
        assert r.status_code == 200, r.text
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=strict" in cookie
        for f in ("chartcoder.db-wal", "chartcoder.db-shm"):
            assert mode(data / f) == 0o600, f

        # three attempts a minute per address: spoofed X-Forwarded-For values do not make new ones
        codes = [
            httpx.post(
                base + "/v1/auth/login",
                json={"username": f"user{i}", "password": WRONG},
                headers={"X-Forwarded-For": f"203.0.113.{i + 1}"},
            ).status_code
            for i in range(4)
        ]
        assert codes[-1] == 429 and codes.count(401) == 2, codes  # the admin's sign-in was the first
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    logged = log_path.read_text(errors="replace")
    assert key not in logged
    assert f"cat {key_file}" in logged
    assert "readable by others" in logged and f"{data / 'cache'} (0755)" in logged


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- defaults --------------------------------------------------------------------------------------


def test_environment_is_a_closed_set():
    from chartcoder.config import SettingsError, load_settings

    for good in ("development", "production", "test"):
        assert load_settings(environment=good).environment == good
    with pytest.raises(SettingsError, match="'Production' is not one of development, production, test"):
        load_settings(environment="Production")


def test_the_session_cookie_is_secure_unless_plain_http_is_chosen_for_development(make_client):
    from chartcoder.config import SettingsError, load_settings

    for env in ("development", "production"):
        r = login(make_client(environment=env), "coder1", PASSWORD)
        assert r.status_code == 200 and "; secure" in r.headers["set-cookie"].lower(), env
    r = login(make_client(plain_http=True), "coder1", PASSWORD)
    assert r.status_code == 200 and "secure" not in r.headers["set-cookie"].lower()
    with pytest.raises(SettingsError, match="CHARTCODER_PLAIN_HTTP=true is for development only"):
        load_settings(environment="production", plain_http=True)


def test_docs_load_swagger_ui_from_the_app_itself(make_client):
    c = make_client()
    h = bearer(c, "coder1")
    page = c.get("/docs", headers=h)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "<script>" not in page.text  # no inline script
    refs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert refs and all(ref.startswith("/docs/") for ref in refs), refs
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "http" not in policy
    for ref in refs:
        asset = c.get(ref, headers=h)
        assert asset.status_code == 200 and len(asset.content) > 100, ref
    assert "SwaggerUIBundle" in c.get("/docs/swagger-ui-bundle.js", headers=h).text
    assert c.get("/docs/index.html", headers=h).status_code == 404  # only the files the page needs
    assert c.get("/openapi.json", headers=h).status_code == 200
    # production: no /docs unless asked for
    prod = make_client(environment="production")
    assert prod.get("/docs", headers=bearer(prod, "coder1")).status_code == 404
    on = make_client(environment="production", docs_enabled=True)
    assert on.get("/docs", headers=bearer(on, "coder1")).status_code == 200


def test_cds_card_markdown_quotes_note_text_without_links_or_images(settings, service, tmp_path):
    """An image in a note (`![x](http://evil...)`) became an image in the card's markdown, which the
    EHR fetched. Rendered as GitHub-flavoured markdown (bare URLs linked too), the card has no link,
    no image and no HTML from the note, and still shows the note's words."""
    import uuid

    from app_support import signed_in_client
    from fhir_samples import bundle, document_reference, encounter, patient
    from markdown_it import MarkdownIt

    from chartcoder.config import Settings
    from chartcoder.store.database import ReviewStore

    key = "cds-test-static-key-0123456789"
    hostile = (
        "DISCHARGE SUMMARY\n"
        "Discharge diagnoses: community acquired pneumonia ![x](http://evil.example/p.png) "
        "<img src=http://evil.example/i.png> [click](javascript:alert(1)) see www.evil.example and "
        "http://evil.example/a *bold* `tick`.\n"
    )
    db = f"sqlite:///{tmp_path / 'review.db'}"
    store = ReviewStore(db)
    cfg = Settings(data_dir=settings.data_dir, database_url=db, api_keys=key, model="knowledge")
    body = {
        "hook": "encounter-discharge",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/prac-1", "patientId": "pat-1", "encounterId": "enc-1"},
        "prefetch": {
            "patient": patient(),
            "encounter": encounter("IMP"),
            "notes": bundle(document_reference(hostile), kind="searchset"),
        },
    }
    with signed_in_client(cfg, service, store, ()) as c:
        r = c.post("/cds-services/chartcoder-inpatient-coding", json=body, headers={"Authorization": f"Bearer {key}"})
    store.dispose()
    assert r.status_code == 200, r.text
    cards = r.json()["cards"]
    quoting = [card for card in cards if "evil" in card["detail"]]
    assert quoting, "no card quotes the note line (the test needs one)"
    gfm = MarkdownIt("gfm-like")
    for card in quoting:
        html = gfm.render(card["detail"])
        assert "<img" not in html and "<a " not in html and "<em>" not in html, html
        assert "![x](http://evil.example/p.png)" in html  # shown as the words it is
    for card in cards:
        assert "<a " not in gfm.render(card["detail"]) and "<img" not in gfm.render(card["detail"])


# -- user names and admins -------------------------------------------------------------------------


def test_user_names_are_normalized_and_look_alikes_refused(make_client):
    c = make_client()
    h = bearer(c, "admin1")

    def create(name):
        return c.post("/v1/users", json={"username": name, "password": PASSWORD, "role": "coder"}, headers=h)

    r = create("Jane.Doe")
    assert r.status_code == 201 and r.json()["username"] == "jane.doe"
    assert login(c, "JANE.DOE", PASSWORD).status_code == 200  # one account, however it is typed
    for same in ("jane.doe", "JANE.DOE", "ｊａｎｅ.ｄｏｅ"):  # the last in fullwidth letters
        r = create(same)
        assert r.status_code == 409 and r.json()["error"] == "user_exists", (same, r.text)
    alikes = (("\u0430dmin1", "admin1"), ("adrnin1", "admin1"), ("coderl", "coder1"), ("j\u0430ne.doe", "jane.doe"))
    for alike, of in alikes:
        r = create(alike)
        assert r.status_code == 409, (alike, r.text)
        body = r.json()
        assert body["error"] == "username_confusable" and repr(of) in body["detail"], body
    assert create("janet.doe").status_code == 201  # different enough
    assert create("maría").status_code == 201  # letters of other alphabets are fine on their own


def test_the_last_active_admin_cannot_be_deactivated_or_demoted(make_client):
    c = make_client()
    h = bearer(c, "admin1")
    users = {u["username"]: u["id"] for u in c.get("/v1/users", headers=h).json()}
    me = users["admin1"]
    for change in ({"active": False}, {"role": "coder"}):
        r = c.patch(f"/v1/users/{me}", json=change, headers=h)
        assert r.status_code == 409, r.text
        assert r.json()["error"] == "last_admin" and "last active admin" in r.json()["detail"]
    assert c.get("/v1/auth/me", headers=h).json()["role"] == "admin"  # nothing changed
    # with a second admin, the first can go
    assert c.patch(f"/v1/users/{users['coder2']}", json={"role": "admin"}, headers=h).status_code == 200
    assert c.patch(f"/v1/users/{me}", json={"active": False}, headers=h).status_code == 200
    h2 = bearer(c, "coder2", "10.1.1.3")
    r = c.patch(f"/v1/users/{users['coder2']}", json={"active": False}, headers=h2)
    assert r.status_code == 409 and r.json()["error"] == "last_admin"
