"""The review API over HTTP, against a real SQLite file and a real PostgreSQL database: every route,
every role, and the 401/403/404/409/422 answers the contract (docs/review-api.md) promises. (Sign-in,
sessions and API keys: tests/accounts/test_sessions_and_keys.py.)"""

from __future__ import annotations

import threading

import pytest
from review_support import NOTE, PASSWORD, ROLES


def test_an_encounter_is_stored_with_its_suggestions(api):
    enc = api.create(
        external_id="EHR-1",
        date_of_service="2026-11-20",
        patient={"id": "MRN-1", "sex": "M", "birth_date": "1960-02-01"},
        provider={"npi": "1234567893", "name": "Dr Test"},
        payer={"id": "60054", "name": "Aetna"},
    )
    assert enc["status"] == "open" and enc["version"] == 1
    assert enc["text"] == NOTE
    codes = {c["code"] for c in enc["codes"]}
    assert {"E11.22", "N18.32", "M17.11", "E78.5"} <= codes  # what the note says
    assert all(c["state"] == "pending" and c["suggested"] for c in enc["codes"])
    sset = enc["suggestion_set"]
    assert sset["model"] and sset["code_set_release"].startswith("ICD-10-CM")
    for s in sset["suggestions"]:
        for e in s["evidence"]:
            assert NOTE[e["start"] : e["end"]] == e["text"]
    assert enc["confidence"] == max(s["score"] for s in sset["suggestions"])
    again = api.call("coder", "GET", f"/v1/encounters/{enc['id']}").json()
    assert again == enc
    assert api.call("ehr", "GET", f"/v1/encounters/{enc['id']}").status_code == 200


def test_a_full_review_and_its_audit_trail(api):
    enc = api.create()
    eid = enc["id"]
    r = api.decide(
        eid,
        1,
        {"action": "accept", "code": "E11.22"},
        {"action": "accept", "code": "N18.32"},
        {"action": "reject", "code": "E78.5", "reason": "not_documented", "note": "no lipid panel"},
        {"action": "add", "code": "z79.84"},  # written loosely: stored as the code set writes it
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["version"] == 2
    state = {c["code"]: c for c in body["codes"]}
    assert state["E11.22"]["state"] == state["N18.32"]["state"] == "accepted"
    assert state["E78.5"]["state"] == "rejected" and state["E78.5"]["reason"] == "not_documented"
    assert state["Z79.84"]["state"] == "added" and not state["Z79.84"]["suggested"]
    assert state["E11.22"]["decided_by"] == "coder1"
    r = api.decide(eid, 2, {"action": "change", "code": "M17.12", "replaces": "M17.11", "reason": "wrong_laterality"})
    assert r.status_code == 200, r.text
    state = {c["code"]: c for c in r.json()["codes"]}
    assert state["M17.11"]["state"] == "rejected" and state["M17.12"]["state"] == "added"
    assert state["M17.12"]["replaces"] == "M17.11"
    r = api.call("coder", "POST", f"/v1/encounters/{eid}/finalize", json={"version": 3})
    assert r.status_code == 200 and r.json()["status"] == "finalized" and r.json()["finalized_by"] == "coder1"
    r = api.call(
        "coder", "POST", f"/v1/encounters/{eid}/reopen", json={"version": 4, "reason": "payer asked for a fix"}
    )
    assert r.status_code == 200 and r.json()["status"] == "open" and r.json()["version"] == 5

    events = api.call("biller", "GET", f"/v1/encounters/{eid}/audit").json()["events"]
    assert [e["action"] for e in events] == [
        "encounter.created",
        "suggestions.stored",
        "decision.accept",
        "decision.accept",
        "decision.reject",
        "decision.add",
        "decision.change",
        "encounter.finalized",
        "encounter.reopened",
    ]
    assert all(e["actor"]["username"] == "coder1" for e in events)
    reject = events[4]["detail"]
    assert reject["code"] == "E78.5" and reject["reason"] == "not_documented" and reject["version"] == 2
    assert reject["model"] == enc["suggestion_set"]["model"]
    assert sorted(events[7]["detail"]["codes"]) == [
        "ICD-10-CM:E11.22",
        "ICD-10-CM:M17.12",
        "ICD-10-CM:N18.32",
        "ICD-10-CM:Z79.84",
    ]
    assert events[8]["detail"]["reason"] == "payer asked for a fix"
    assert all(NOTE not in str(e["detail"]) for e in events)


def test_a_stale_version_gets_409_and_changes_nothing(api):
    enc = api.create()
    assert api.decide(enc["id"], 1, {"action": "accept", "code": "E11.22"}).status_code == 200
    r = api.decide(enc["id"], 1, {"action": "reject", "code": "E11.22", "reason": "other"}, role="coder2")
    assert r.status_code == 409
    assert r.json()["error"] == "version_conflict" and r.json()["current_version"] == 2
    now = api.call("coder", "GET", f"/v1/encounters/{enc['id']}").json()
    assert {c["code"]: c["state"] for c in now["codes"]}["E11.22"] == "accepted" and now["version"] == 2


def test_two_coders_racing_from_one_version_cannot_both_win(api):
    """Both read version 1 and decide at the same moment: one wins, the other gets 409, nothing is
    lost or doubled (the UPDATE carries WHERE version = 1)."""
    from chartcoder.accounts.principal import Principal
    from chartcoder.domain.errors import ConflictError
    from chartcoder.review.decisions import DecisionIn

    for round_ in range(5):
        enc = api.create()
        users = {u.username: u.id for u in api.review.accounts.list_users()}
        barrier = threading.Barrier(2)
        outcome: dict[str, str] = {}

        def decide(name: str, action: str, enc=enc, users=users, barrier=barrier, outcome=outcome) -> None:
            who = Principal("coder", name, user_id=users[name])
            barrier.wait()
            try:
                api.review.decide(
                    enc["id"],
                    1,
                    [DecisionIn(action, "I12.9", "ICD-10-CM", reason="other" if action == "reject" else None)],
                    who,
                )
                outcome[name] = "ok"
            except ConflictError:
                outcome[name] = "409"

        threads = [threading.Thread(target=decide, args=a) for a in (("coder1", "accept"), ("coder2", "reject"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcome.values()) == ["409", "ok"], (round_, outcome)
        events = api.call("coder", "GET", f"/v1/encounters/{enc['id']}/audit").json()["events"]
        decisions = [e for e in events if e["action"].startswith("decision.")]
        assert len(decisions) == 1
        winner = next(n for n, o in outcome.items() if o == "ok")
        assert decisions[0]["actor"]["username"] == winner


def test_a_finalized_encounter_refuses_decisions(api):
    enc = api.create()
    api.decide(enc["id"], 1, {"action": "accept", "code": "E11.22"})
    assert api.call("coder", "POST", f"/v1/encounters/{enc['id']}/finalize", json={"version": 2}).status_code == 200
    r = api.decide(enc["id"], 3, {"action": "reject", "code": "E11.22", "reason": "other"})
    assert r.status_code == 409 and r.json()["error"] == "encounter_finalized"
    r = api.call("coder", "POST", f"/v1/encounters/{enc['id']}/finalize", json={"version": 3})
    assert r.status_code == 409 and r.json()["error"] == "encounter_finalized"
    states = {c["code"]: c["state"] for c in api.call("coder", "GET", f"/v1/encounters/{enc['id']}").json()["codes"]}
    assert states["E11.22"] == "accepted"


@pytest.mark.parametrize(
    "decisions, needle",
    [
        ([], "decisions"),
        ([{"action": "approve", "code": "E11.22"}], "action"),
        ([{"action": "add", "code": "E11.99"}], "Unknown code"),
        ([{"action": "add", "code": "ZZZZZ"}], "Unknown code"),
        ([{"action": "accept", "code": "J45.909"}], "neither suggested nor added"),
        ([{"action": "reject", "code": "E11.22"}], "needs a 'reason'"),
        ([{"action": "reject", "code": "E11.22", "reason": "because"}], "reason must be one of"),
        ([{"action": "change", "code": "E11.9", "reason": "more_specific_code"}], "needs 'replaces'"),
        ([{"action": "accept", "code": "E11.22", "system": "LOINC"}], "system"),
        ([{"action": "accept", "code": "E11.22", "surprise": 1}], "surprise"),
        # all or nothing: the valid first decision is not kept when the second is refused
        ([{"action": "accept", "code": "E11.22"}, {"action": "reject", "code": "I12.9"}], "needs a 'reason'"),
    ],
)
def test_bad_decisions_get_422_and_store_nothing(api, decisions, needle):
    enc = api.create()
    r = api.decide(enc["id"], 1, *decisions)
    assert r.status_code == 422, r.text
    assert needle in str(r.json()["detail"])
    after = api.call("coder", "GET", f"/v1/encounters/{enc['id']}").json()
    assert after["version"] == 1 and all(c["state"] == "pending" for c in after["codes"])


def test_other_422s(api):
    enc = api.create()
    eid = enc["id"]
    r = api.call("coder", "POST", f"/v1/encounters/{eid}/finalize", json={"version": 1})
    assert r.status_code == 422 and "accept or add at least one code" in r.json()["detail"]
    assert api.call("coder", "POST", f"/v1/encounters/{eid}/reopen", json={"version": 1}).status_code == 422
    r = api.call("coder", "POST", f"/v1/encounters/{eid}/reopen", json={"version": 1, "reason": "x"})
    assert r.status_code == 409 and r.json()["error"] == "not_finalized"
    for body in (
        {"text": ""},
        {"text": "   "},
        {"text": NOTE, "setting": "clinic"},
        {"text": NOTE, "date_of_service": "20-11-2026"},
        {"text": NOTE, "patient": {"sex": "X"}},
        {"text": NOTE, "provider": {"npi": "12345"}},
        {"not_text": NOTE},
    ):
        r = api.call("coder", "POST", "/v1/encounters", json=body)
        assert r.status_code == 422, (body, r.text)
    r = api.call("coder", "POST", "/v1/encounters", json={"text": "x" * 20_001})
    assert r.status_code == 413
    r = api.call("coder", "GET", "/v1/encounters?order=random")
    assert r.status_code == 422
    r = api.call("admin", "POST", "/v1/users", json={"username": "shorty", "password": "short", "role": "coder"})
    assert r.status_code == 422
    r = api.call("admin", "POST", "/v1/users", json={"username": "x1", "password": PASSWORD, "role": "root"})
    assert r.status_code == 422


def test_unknown_things_get_404(api):
    for method, path, body in (
        ("GET", "/v1/encounters/enc_nope", None),
        (
            "POST",
            "/v1/encounters/enc_nope/decisions",
            {"version": 1, "decisions": [{"action": "accept", "code": "I10"}]},
        ),
        ("POST", "/v1/encounters/enc_nope/finalize", {"version": 1}),
        ("POST", "/v1/encounters/enc_nope/reopen", {"version": 1, "reason": "x"}),
        ("GET", "/v1/encounters/enc_nope/audit", None),
    ):
        r = api.call("coder", method, path, json=body)
        assert r.status_code == 404, (path, r.text)
        assert r.json()["error"] == "not_found"
    assert api.call("coder", "GET", "/v1/encounters/" + "x" * 300).status_code == 422  # longer than any id
    assert api.call("admin", "PATCH", "/v1/users/9999", json={"active": False}).status_code == 404
    assert api.call("admin", "DELETE", "/v1/keys/9999").status_code == 404


def test_the_worklist_filters_and_puts_the_least_confident_first(api):
    a = api.create(date_of_service="2026-11-01", payer={"id": "P1"})
    b = api.create(
        text="Patient seen. Doing well. Return in one year.", date_of_service="2026-11-10", payer={"id": "P2"}
    )
    c = api.create(text="Assessment: essential hypertension.", date_of_service="2026-11-20", payer={"id": "P1"})
    listing = api.call("coder", "GET", "/v1/encounters").json()
    assert listing["total"] == 3
    ids = [i["id"] for i in listing["items"]]
    confidences = [i["confidence"] for i in listing["items"]]
    known = [x for x in confidences if x is not None]
    assert known == sorted(known) and confidences[: confidences.count(None)] == [None] * confidences.count(None)
    assert "text" not in listing["items"][0] and "codes" not in listing["items"][0]
    assert listing["items"][ids.index(a["id"])]["n_pending"] == len(a["codes"])
    by_date = api.call("coder", "GET", "/v1/encounters?order=date").json()["items"]
    assert [i["id"] for i in by_date] == [c["id"], b["id"], a["id"]]
    p1 = api.call("coder", "GET", "/v1/encounters?payer=P1").json()
    assert {i["id"] for i in p1["items"]} == {a["id"], c["id"]}
    window = api.call("coder", "GET", "/v1/encounters?date_from=2026-11-05&date_to=2026-11-15").json()
    assert [i["id"] for i in window["items"]] == [b["id"]]
    page = api.call("coder", "GET", "/v1/encounters?limit=1&offset=1&order=created").json()
    assert page["total"] == 3 and [i["id"] for i in page["items"]] == [b["id"]]
    api.decide(a["id"], 1, {"action": "accept", "code": "E11.22"})
    api.call("coder", "POST", f"/v1/encounters/{a['id']}/finalize", json={"version": 2})
    assert {i["id"] for i in api.call("coder", "GET", "/v1/encounters").json()["items"]} == {b["id"], c["id"]}
    done = api.call("coder", "GET", "/v1/encounters?status=finalized").json()["items"]
    assert [i["id"] for i in done] == [a["id"]] and done[0]["n_decided"] == 1


# (method, path template, body, roles allowed, status for an allowed role). {enc} is an encounter
# id, {user} and {key} ids; the three encounter changes run in this order on one encounter.
ROUTES = [
    ("POST", "/v1/suggestions", {"text": NOTE}, ROLES, 200),
    ("GET", "/v1/codes/search?q=diabetes", None, ROLES, 200),
    ("GET", "/v1/review/reasons", None, ROLES, 200),
    ("GET", "/v1/auth/me", None, ROLES, 200),
    ("POST", "/v1/encounters", {"text": NOTE}, ("coder", "ehr", "admin"), 201),
    ("GET", "/v1/encounters", None, ("coder", "biller", "data_scientist", "admin"), 200),
    ("GET", "/v1/encounters/{enc}", None, ROLES, 200),
    (
        "POST",
        "/v1/encounters/{enc}/decisions",
        {"version": 1, "decisions": [{"action": "accept", "code": "E11.22"}]},
        ("coder", "admin"),
        200,
    ),
    ("POST", "/v1/encounters/{enc}/finalize", {"version": 2}, ("coder", "admin"), 200),
    ("POST", "/v1/encounters/{enc}/reopen", {"version": 3, "reason": "x"}, ("coder", "admin"), 200),
    ("GET", "/v1/encounters/{enc}/audit", None, ("coder", "biller", "data_scientist", "admin"), 200),
    ("GET", "/v1/users", None, ("admin",), 200),
    ("POST", "/v1/users", {"username": "new-{role}", "password": PASSWORD, "role": "coder"}, ("admin",), 201),
    ("PATCH", "/v1/users/{user}", {"role": "biller"}, ("admin",), 200),
    ("GET", "/v1/keys", None, ("admin",), 200),
    ("POST", "/v1/keys", {"name": "k", "role": "ehr"}, ("admin",), 201),
    ("DELETE", "/v1/keys/{key}", None, ("admin",), 204),
    ("GET", "/openapi.json", None, ROLES, 200),
    ("POST", "/v1/auth/logout", None, ROLES, 204),
]


def _fill(path: str, body, ids: dict[str, str], role: str):
    path = path.format(**ids)
    if isinstance(body, dict):
        body = {k: (v.format(role=role) if isinstance(v, str) and "{role}" in v else v) for k, v in body.items()}
        body = {k: v for k, v in body.items() if v is not None}
    return path, body


def test_every_route_but_health_needs_authentication(api):
    enc = api.create()
    ids = {"enc": enc["id"], "user": "1", "key": "1"}
    for method, path, body, _, _ in ROUTES:
        p, b = _fill(path, body, ids, "none")
        for headers in (
            {},
            {"Authorization": "Bearer cck_not-a-key"},
            {"X-API-Key": "wrong"},
            {"Authorization": "Basic abc"},
        ):
            r = api.client.request(method, p, json=b, headers=headers)
            assert r.status_code == 401, (method, p, headers, r.status_code)
            assert r.json()["error"] == "unauthorized"
    assert api.client.get("/healthz").status_code == 200
    assert api.client.get("/").status_code == 200  # the sign-in page itself holds no data


@pytest.mark.parametrize("role", ROLES)
def test_roles_are_enforced_on_every_route(api, role):
    enc = api.create()
    target = api.review.accounts.create_user(f"target-{role}", PASSWORD, "coder")
    key = api.review.accounts.create_key("to revoke", "ehr")
    ids = {"enc": enc["id"], "user": str(target.id), "key": str(key.id)}
    token = api.tokens[role]
    for method, path, body, allowed, status in ROUTES:
        if path == "/v1/auth/logout":
            continue  # ends the session the rest of the loop uses; checked below
        p, b = _fill(path, body, ids, role)
        r = api.client.request(method, p, json=b, headers={"Authorization": f"Bearer {token}"})
        if role in allowed:
            assert r.status_code == status, (role, method, p, r.status_code, r.text)
        else:
            assert r.status_code == 403, (role, method, p, r.status_code)
            assert r.json()["error"] == "forbidden" and role in r.json()["detail"]
    r = api.client.post("/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 204
    if role != "ehr":  # a signed-out session is dead; an API key is not a session
        assert api.client.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_the_audit_log_refuses_updates_and_deletes(api):
    from sqlalchemy import delete, update
    from sqlalchemy.exc import DBAPIError

    from chartcoder.store.audit import AuditEvent

    api.create()
    for stmt in (update(AuditEvent).values(action="tampered"), delete(AuditEvent)):
        with pytest.raises(DBAPIError, match="append-only"), api.review.store.session() as s:
            s.execute(stmt)
    with api.review.store.session() as s:
        assert s.query(AuditEvent).filter(AuditEvent.action == "tampered").count() == 0
        assert s.query(AuditEvent).count() >= 2


def test_nul_characters_and_huge_numbers_get_4xx_not_500(api):
    enc = api.create()
    eid = enc["id"]
    for method, path, body in (
        ("POST", "/v1/encounters", {"text": "Hypertension.", "external_id": "E\x00X"}),
        ("POST", "/v1/encounters", {"text": "Hypertension.", "payer": {"id": "\x00"}}),
        ("POST", "/v1/encounters", {"text": "Hypertension.", "patient": {"name": "A\x00B"}}),
        (
            "POST",
            f"/v1/encounters/{eid}/decisions",
            {"version": 1, "decisions": [{"action": "reject", "code": "E11.22", "reason": "other", "note": "\x00"}]},
        ),
        ("POST", f"/v1/encounters/{eid}/reopen", {"version": 1, "reason": "\x00"}),
        ("GET", "/v1/encounters?payer=%00", None),
        ("GET", "/v1/encounters/%00", None),
        ("GET", "/v1/encounters?offset=9223372036854775808", None),
        ("PATCH", "/v1/users/99999999999999999999", {"active": False}),
        ("DELETE", "/v1/keys/9223372036854775808", None),
        (
            "POST",
            f"/v1/encounters/{eid}/decisions",
            {"version": 1, "decisions": [{"action": "add", "code": "ZZZZ", "system": "ICD-10-PCS"}]},
        ),
    ):
        role = "admin" if path.startswith(("/v1/users", "/v1/keys")) else "coder"
        r = api.call(role, method, path, json=body)
        assert r.status_code == 422, (method, path, r.status_code, r.text)
    r = api.client.post("/v1/auth/login", json={"username": "coder1\x00", "password": PASSWORD})
    assert r.status_code == 422
    assert api.call("coder", "GET", f"/v1/encounters/{eid}").json()["version"] == 1


def test_openapi_and_docs_need_authentication(api):
    assert api.client.get("/openapi.json").status_code == 401
    assert api.client.get("/docs").status_code == 401
    assert api.call("coder", "GET", "/docs").status_code == 200


def test_true_or_false_is_not_a_number(api):
    """Found by the fuzzer: pydantic reads JSON false as 0, so `"age": false` made a newborn."""
    r = api.call("coder", "POST", "/v1/encounters", json={"text": NOTE, "patient": {"age": False}})
    assert r.status_code == 422 and "not true/false" in r.text, r.text
    r = api.call("coder", "POST", "/v1/encounters", json={"text": NOTE, "patient": {"age": 0}})
    assert r.status_code == 201 and r.json()["patient"]["age"] == 0
