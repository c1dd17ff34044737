"""Sign-in, sessions and API keys over HTTP, against a real SQLite file and a real PostgreSQL
database: the session cookie, keys shown once and revocable, keys that cannot decide, sessions that
end on expiry, password change and role change, and failed sign-ins in the audit log."""

from __future__ import annotations

from review_support import EHR_STATIC, NOTE, PASSWORD


def test_sign_in_sessions_and_cookies(api):
    c = api.client
    wrong = c.post("/v1/auth/login", json={"username": "coder1", "password": "wrong password!"})
    nobody = c.post("/v1/auth/login", json={"username": "nobody", "password": "wrong password!"})
    assert wrong.status_code == nobody.status_code == 401
    assert wrong.json()["detail"] == nobody.json()["detail"]  # no hint which one was wrong
    r = c.post("/v1/auth/login", json={"username": "coder1", "password": PASSWORD})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "; secure" in cookie  # sent over https only
    assert c.get("/v1/auth/me").json()["username"] == "coder1"  # the cookie signs the page in
    assert c.post("/v1/encounters", json={"text": NOTE}).status_code == 403  # no CSRF header
    assert c.post("/v1/encounters", json={"text": NOTE}, headers={"X-Chartcoder-Client": "web"}).status_code == 201
    c.cookies.set("chartcoder_session", api.tokens["ehr"])  # an API key is never accepted as a cookie
    assert c.get("/v1/auth/me").status_code == 401
    c.cookies.clear()
    uid = next(u.id for u in api.review.accounts.list_users() if u.username == "coder2")
    assert api.call("admin", "PATCH", f"/v1/users/{uid}", json={"active": False}).status_code == 200
    assert api.call("coder2", "GET", "/v1/auth/me").status_code == 401  # deactivated: signed out everywhere
    assert c.post("/v1/auth/login", json={"username": "coder2", "password": PASSWORD}).status_code == 401


def test_api_keys_are_shown_once_and_can_be_revoked(api):
    r = api.call("admin", "POST", "/v1/keys", json={"name": "Epic prod", "role": "ehr"})
    assert r.status_code == 201
    made = r.json()
    assert made["key"].startswith("cck_") and made["prefix"] == made["key"][:10]
    listed = api.call("admin", "GET", "/v1/keys").json()
    assert all("key" not in k for k in listed)
    assert made["key"] not in str(listed)
    h = {"X-API-Key": made["key"]}
    assert api.client.post("/v1/encounters", json={"text": NOTE}, headers=h).status_code == 201
    assert api.call("admin", "DELETE", f"/v1/keys/{made['id']}").status_code == 204
    assert api.client.post("/v1/encounters", json={"text": NOTE}, headers=h).status_code == 401
    # the static EHR key from the settings still works, with the ehr role
    s = {"Authorization": f"Bearer {EHR_STATIC}"}
    assert api.client.post("/v1/encounters", json={"text": NOTE}, headers=s).status_code == 201
    assert api.client.get("/v1/encounters", headers=s).status_code == 403


def test_api_keys_cannot_make_decisions_whatever_their_role(api):
    enc = api.create()
    key = api.review.accounts.create_key("robot", "coder").key
    h = {"Authorization": f"Bearer {key}"}
    body = {"version": 1, "decisions": [{"action": "accept", "code": "E11.22"}]}
    r = api.client.post(f"/v1/encounters/{enc['id']}/decisions", json=body, headers=h)
    assert r.status_code == 403 and "signed-in person" in r.json()["detail"]
    assert api.client.post(f"/v1/encounters/{enc['id']}/finalize", json={"version": 1}, headers=h).status_code == 403
    assert api.client.get(f"/v1/encounters/{enc['id']}", headers=h).json()["version"] == 1


def test_sessions_end_on_expiry_password_change_and_role_change(api):
    from sqlalchemy import update

    from chartcoder.accounts.credentials import token_digest
    from chartcoder.store.accounts import SignInSession
    from chartcoder.store.base import utcnow

    me = api.call("coder", "GET", "/v1/auth/me")
    assert me.status_code == 200
    with api.review.store.session() as s:
        s.execute(
            update(SignInSession)
            .where(SignInSession.token_hash == token_digest(api.tokens["coder"]))
            .values(expires_at=utcnow())
        )
    assert api.call("coder", "GET", "/v1/auth/me").status_code == 401
    uid = next(u.id for u in api.review.accounts.list_users() if u.username == "coder2")
    assert api.call("coder2", "GET", "/v1/auth/me").status_code == 200
    r = api.call("admin", "PATCH", f"/v1/users/{uid}", json={"password": "a whole new password"})
    assert r.status_code == 200
    assert api.call("coder2", "GET", "/v1/auth/me").status_code == 401
    token = api.review.accounts.sign_in("coder2", "a whole new password")[1]
    assert api.client.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert api.call("admin", "PATCH", f"/v1/users/{uid}", json={"role": "biller"}).status_code == 200
    assert api.client.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_failed_sign_ins_are_audited(api):
    from sqlalchemy import select

    from chartcoder.store.audit import AuditEvent

    assert (
        api.client.post("/v1/auth/login", json={"username": "coder1", "password": "not it at all"}).status_code == 401
    )
    with api.review.store.session(write=False) as s:
        failed = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "user.sign_in_failed")))
    assert [e.detail["user"] for e in failed] == ["coder1"]
