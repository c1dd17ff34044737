"""The chart lock and the biller's send-back over HTTP (issue 18), on a real SQLite file and a real
PostgreSQL database: who holds a chart, taking it over explicitly, conflicts that name the other person,
a finalized encounter sent back to the coder with a reason, and the biller's worklist fields and filters."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

PASSWORD = "correct horse battery"
NOTE = (
    "Assessment and plan:\n"
    "1. Type 2 diabetes mellitus with diabetic chronic kidney disease, CKD stage 3b.\n"
    "2. Essential hypertension, controlled on lisinopril.\n"
)


@pytest.fixture
def api(db_url, settings, service):
    """Signed-in coder1 ("Ada Coder"), coder2, biller1, admin1, and an EHR key; `call(who, ...)`."""
    from chartcoder.api.app import create_app
    from chartcoder.config import Settings
    from chartcoder.store.database import ReviewStore

    store = ReviewStore(db_url)
    app = create_app(
        Settings(data_dir=settings.data_dir, database_url=db_url), service_factory=lambda: service, store=store
    )
    review = app.state.review
    tokens = {"ehr": review.accounts.create_key("test EHR", "ehr").key}
    for name, role, display in [
        ("coder1", "coder", "Ada Coder"),
        ("coder2", "coder", "Bo Coder"),
        ("biller1", "biller", "Cy Biller"),
        ("admin1", "admin", "Di Admin"),
        ("sci1", "data_scientist", "Ed Scientist"),
    ]:
        review.accounts.create_user(name, PASSWORD, role, display)
        tokens[name] = review.accounts.sign_in(name, PASSWORD)[1]
    with TestClient(app, raise_server_exceptions=False) as client:

        def call(who: str, method: str, path: str, **kw):
            return client.request(method, path, headers={"Authorization": f"Bearer {tokens[who]}"}, **kw)

        yield call
    store.dispose()


def _create(call, **fields) -> dict:
    r = call("coder1", "POST", "/v1/encounters", json={"text": NOTE, **fields})
    assert r.status_code == 201, r.text
    return r.json()


def _events(call, eid: str) -> list[dict]:
    return call("coder1", "GET", f"/v1/encounters/{eid}/audit").json()["events"]


def test_a_chart_lock_names_its_holder_and_is_taken_over_only_explicitly(api):
    eid = _create(api)["id"]
    r = api("coder1", "POST", f"/v1/encounters/{eid}/lock", json={})
    assert r.status_code == 200, r.text
    assert r.json()["lock"]["username"] == "coder1" and r.json()["taken_over_from"] is None
    assert api("coder2", "GET", f"/v1/encounters/{eid}").json()["lock"]["display_name"] == "Ada Coder"

    # A second coder: 409 naming the holder, on opening and on deciding.
    r = api("coder2", "POST", f"/v1/encounters/{eid}/lock", json={})
    assert r.status_code == 409 and r.json()["error"] == "chart_locked"
    assert "Ada Coder (coder1)" in r.json()["detail"] and r.json()["lock"]["username"] == "coder1"
    r = api(
        "coder2", "POST", f"/v1/encounters/{eid}/decisions",
        json={"version": 1, "decisions": [{"action": "accept", "code": "E11.22"}]},
    )  # fmt: skip
    assert r.status_code == 409 and r.json()["error"] == "chart_locked" and "coder1" in r.json()["detail"]
    r = api("coder2", "DELETE", f"/v1/encounters/{eid}/lock")
    assert r.status_code == 409 and "coder1" in r.json()["detail"]  # not theirs to release
    assert api("coder2", "GET", f"/v1/encounters/{eid}").json()["version"] == 1  # nothing changed

    # Taken over explicitly: audited; now the first coder is the one refused.
    r = api("coder2", "POST", f"/v1/encounters/{eid}/lock", json={"take_over": True})
    assert r.status_code == 200 and r.json()["lock"]["username"] == "coder2"
    assert r.json()["taken_over_from"] == "coder1"
    taken = [e for e in _events(api, eid) if e["action"] == "encounter.lock_taken_over"]
    assert len(taken) == 1 and taken[0]["actor"]["username"] == "coder2" and taken[0]["detail"]["from"] == "coder1"
    r = api("coder1", "POST", f"/v1/encounters/{eid}/finalize", json={"version": 1})
    assert r.status_code == 409 and r.json()["error"] == "chart_locked" and "Bo Coder (coder2)" in r.json()["detail"]

    # The holder decides, finalizes (which ends the lock); releasing a lock nobody holds is fine.
    r = api(
        "coder2", "POST", f"/v1/encounters/{eid}/decisions",
        json={"version": 1, "decisions": [{"action": "accept", "code": "E11.22"}]},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    r = api("coder2", "POST", f"/v1/encounters/{eid}/finalize", json={"version": 2})
    assert r.status_code == 200 and r.json()["lock"] is None and r.json()["version"] == 3
    assert api("coder1", "DELETE", f"/v1/encounters/{eid}/lock").status_code == 204


def test_lock_refusals(api):
    eid = _create(api)["id"]
    for who in ("biller1", "ehr"):
        r = api(who, "POST", f"/v1/encounters/{eid}/lock", json={})
        assert r.status_code == 403 and r.json()["error"] == "forbidden", r.text
    r = api("coder1", "POST", f"/v1/encounters/{eid}/lock", json={"take_over": "please"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "take_over"
    r = api("coder1", "POST", f"/v1/encounters/{eid}/lock", json={"holder": "coder1"})
    assert r.status_code == 422
    r = api("coder1", "POST", "/v1/encounters/enc_nothing/lock", json={})
    assert r.status_code == 404 and "enc_nothing" in r.json()["detail"]
    # Released by its holder, the lock is gone and the chart is free for anyone.
    assert api("coder1", "POST", f"/v1/encounters/{eid}/lock", json={}).status_code == 200
    assert api("coder1", "DELETE", f"/v1/encounters/{eid}/lock").status_code == 204
    assert api("coder1", "GET", f"/v1/encounters/{eid}").json()["lock"] is None
    assert api("coder2", "POST", f"/v1/encounters/{eid}/lock", json={}).status_code == 200


def test_a_stale_version_names_who_changed_the_encounter(api):
    eid = _create(api)["id"]
    body = {"version": 1, "decisions": [{"action": "accept", "code": "E11.22"}]}
    assert api("coder1", "POST", f"/v1/encounters/{eid}/decisions", json=body).status_code == 200
    r = api("coder2", "POST", f"/v1/encounters/{eid}/decisions", json=body)
    assert r.status_code == 409 and r.json()["error"] == "version_conflict"
    assert r.json()["changed_by"] == "coder1" and "coder1 changed it" in r.json()["detail"]
    assert r.json()["current_version"] == 2

    # A take-over leaves the version as it was: the conflict still names the one who changed it.
    assert api("coder1", "POST", f"/v1/encounters/{eid}/lock", json={}).status_code == 200
    assert api("coder2", "POST", f"/v1/encounters/{eid}/lock", json={"take_over": True}).status_code == 200
    assert api("coder2", "DELETE", f"/v1/encounters/{eid}/lock").status_code == 204
    r = api("admin1", "POST", f"/v1/encounters/{eid}/decisions", json=body)
    assert r.status_code == 409 and r.json()["changed_by"] == "coder1", r.text
    assert "coder1 changed it (decision.accept" in r.json()["detail"]


def _finalized(api, **fields) -> dict:
    enc = _create(api, **fields)
    body = {"version": 1, "decisions": [{"action": "accept", "code": "E11.22"}]}
    assert api("coder1", "POST", f"/v1/encounters/{enc['id']}/decisions", json=body).status_code == 200
    r = api("coder1", "POST", f"/v1/encounters/{enc['id']}/finalize", json={"version": 2})
    assert r.status_code == 200, r.text
    return r.json()


def test_a_biller_sends_a_chart_back_to_the_coder_with_a_reason(api):
    enc = _finalized(api, patient={"id": "MRN-77", "name": "Test Sendback"})
    eid, v = enc["id"], enc["version"]
    path = f"/v1/encounters/{eid}/send-back"
    # Bad input and wrong roles change nothing.
    for body, field in [
        ({"version": v}, "reason"),
        ({"reason": "x"}, "version"),
        ({"version": v, "reason": ""}, "reason"),
    ]:
        r = api("biller1", "POST", path, json=body)
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == field, r.text
    r = api("biller1", "POST", path, json={"version": v, "reason": "   "})
    assert r.status_code == 422 and "reason" in r.json()["detail"]
    for who in ("coder1", "ehr"):
        r = api(who, "POST", path, json={"version": v, "reason": "wrong side"})
        assert r.status_code == 403 and r.json()["error"] == "forbidden", (who, r.text)
    r = api("biller1", "POST", path, json={"version": v - 1, "reason": "wrong side"})
    assert r.status_code == 409 and r.json()["error"] == "version_conflict"
    assert api("biller1", "GET", f"/v1/encounters/{eid}").json()["status"] == "finalized"

    r = api("biller1", "POST", path, json={"version": v, "reason": "E11.22 needs the CKD stage code N18.32"})
    assert r.status_code == 200, r.text
    back = r.json()
    assert back["status"] == "open" and back["version"] == v + 1 and back["finalized_at"] is None
    assert back["sent_back"]["by"] == "biller1"
    assert back["sent_back"]["reason"] == "E11.22 needs the CKD stage code N18.32"
    event = _events(api, eid)[-1]
    assert event["action"] == "encounter.sent_back" and event["actor"]["username"] == "biller1"
    assert event["detail"]["reason"] == "E11.22 needs the CKD stage code N18.32"
    # Open now: sending it back again is a conflict; the coder sees the reason in the worklist too.
    r = api("biller1", "POST", path, json={"version": v + 1, "reason": "again"})
    assert r.status_code == 409 and r.json()["error"] == "not_finalized"
    items = api("coder1", "GET", "/v1/encounters?status=open&claim_status=sent_back").json()["items"]
    assert [i["id"] for i in items] == [eid] and items[0]["sent_back"]["by"] == "biller1"
    assert items[0]["claim"]["status"] == "sent_back"

    # Finalized again, the send-back is over.
    r = api("coder1", "POST", f"/v1/encounters/{eid}/finalize", json={"version": v + 1})
    assert r.status_code == 200 and r.json()["sent_back"] is None


def test_the_billers_worklist_has_claim_status_patient_and_filters(api):
    done = _finalized(api, patient={"id": "MRN-4242", "name": "Zed Quill"}, payer={"id": "P1", "name": "Acme Health"})
    _create(api, patient={"id": "MRN-1", "name": "Other Person"})
    r = api("biller1", "GET", "/v1/encounters?status=finalized&claim_status=not_built")
    assert r.status_code == 200
    items = r.json()["items"]
    assert [i["id"] for i in items] == [done["id"]]
    assert items[0]["claim"] == {"status": "not_built", "id": None, "total_charge": None, "built_at": None}
    assert items[0]["patient"] == {"id": "MRN-4242", "name": "Zed Quill"}
    for q in ("zed", "QUILL", "mrn-42", "4242"):
        found = api("biller1", "POST", "/v1/encounters/search", json={"status": "all", "patient": q}).json()["items"]
        assert [i["id"] for i in found] == [done["id"]], q
    none = api("biller1", "POST", "/v1/encounters/search", json={"status": "all", "patient": "%"}).json()
    assert none["total"] == 0  # % and _ are matched as themselves
    # Never in a URL (logs, browser history): the GET refuses a patient filter instead of ignoring it.
    r = api("biller1", "GET", "/v1/encounters", params={"status": "all", "patient": "zed"})
    assert r.status_code == 422 and "POST /v1/encounters/search" in r.json()["detail"]
    r = api("biller1", "POST", "/v1/encounters/search", json={"patient": "zed", "sort": "name"})
    assert r.status_code == 422
    r = api("sci1", "POST", "/v1/encounters/search", json={"status": "all", "claim_status": "clean"})
    assert r.status_code == 403
    r = api("biller1", "GET", "/v1/encounters?claim_status=paid")
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "query.claim_status"


def test_the_worklist_shows_claims_only_to_those_who_may_read_them(api):
    done = _finalized(api)
    for who in ("biller1", "coder1", "admin1"):
        items = api(who, "GET", "/v1/encounters?status=all").json()["items"]
        assert [i["claim"]["status"] for i in items] == ["not_built"], who
    r = api("sci1", "GET", "/v1/encounters?status=all")
    assert r.status_code == 200 and [i["id"] for i in r.json()["items"]] == [done["id"]]
    assert "claim" not in r.json()["items"][0]
    r = api("sci1", "GET", "/v1/encounters?status=all&claim_status=not_built")
    assert r.status_code == 403 and r.json()["error"] == "forbidden" and "claim_status" in r.json()["detail"]


def test_only_an_open_encounter_can_be_locked(api):
    done = _finalized(api)
    eid, v = done["id"], done["version"]
    r = api("coder2", "POST", f"/v1/encounters/{eid}/lock", json={})
    assert r.status_code == 409 and r.json()["error"] == "encounter_finalized" and "reopen" in r.json()["detail"]
    # Nobody holds it, so the first coder reopens it, and then it can be locked.
    r = api("coder1", "POST", f"/v1/encounters/{eid}/reopen", json={"version": v, "reason": "add the CKD stage"})
    assert r.status_code == 200, r.text
    assert api("coder2", "POST", f"/v1/encounters/{eid}/lock", json={}).status_code == 200


def test_an_idle_chart_lock_lapses(api, db_url):
    from datetime import timedelta

    from sqlalchemy import update

    from chartcoder.store.base import utcnow
    from chartcoder.store.database import ReviewStore
    from chartcoder.store.review import ChartLock, Encounter

    eid = _create(api)["id"]
    assert api("coder1", "POST", f"/v1/encounters/{eid}/lock", json={}).status_code == 200
    assert api("coder2", "POST", f"/v1/encounters/{eid}/lock", json={}).status_code == 409
    # 31 minutes idle (the default lapse is 30): neither the lock taken nor the encounter changed since.
    store = ReviewStore(db_url)
    then = utcnow() - timedelta(minutes=31)
    with store.session() as s:
        s.execute(update(ChartLock.__table__).where(ChartLock.encounter_id == eid).values(since=then))
        s.execute(update(Encounter.__table__).where(Encounter.id == eid).values(updated_at=then))
    store.dispose()
    assert api("coder2", "GET", f"/v1/encounters/{eid}").json()["lock"] is None
    body = {"version": 1, "decisions": [{"action": "accept", "code": "E11.22"}]}
    assert api("coder2", "POST", f"/v1/encounters/{eid}/decisions", json=body).status_code == 200
    r = api("coder2", "POST", f"/v1/encounters/{eid}/lock", json={})
    assert r.status_code == 200 and r.json()["lock"]["username"] == "coder2" and r.json()["taken_over_from"] is None


# Synthetic, as in tests/browser/test_claim_page.py: the knowledge engine suggests these codes for it.
CLAIM_NOTE = (
    "Established patient seen for follow-up. Assessment: Type 2 diabetes mellitus with diabetic chronic kidney "
    "disease stage 3b. Essential hypertension. Procedure: ECG performed for palpitations. Total time 32 minutes."
)
BILLABLE = {"E11.22", "N18.32", "I12.9", "R00.2", "93000", "99214"}


def _billed(api, external_id: str, added: list[dict]) -> tuple[dict, dict]:
    """A finalized encounter with the claim a biller built from it: (encounter, claim record)."""
    enc = _create(
        api,
        text=CLAIM_NOTE,
        external_id=external_id,
        date_of_service="2026-11-20",
        patient={
            "id": f"MRN-{external_id}",
            "name": "Jane Claimtest",
            "sex": "F",
            "birth_date": "1958-03-14",
            "address": {"line1": "12 Elm Street", "city": "Springfield", "state": "IL", "zip": "62704"},
        },
        provider={"npi": "1234567893", "name": "Dr Test"},
        payer={"id": "60054", "name": "Aetna", "member_id": "W123456789"},
    )
    decisions = [
        {"action": "accept", "code": c["code"], "system": c["system"]} for c in enc["codes"] if c["code"] in BILLABLE
    ]
    assert {d["code"] for d in decisions} == BILLABLE, decisions
    r = api(
        "coder1", "POST", f"/v1/encounters/{enc['id']}/decisions", json={"version": 1, "decisions": decisions + added}
    )
    assert r.status_code == 200, r.text
    r = api("coder1", "POST", f"/v1/encounters/{enc['id']}/finalize", json={"version": r.json()["version"]})
    assert r.status_code == 200, r.text
    built = api("biller1", "POST", f"/v1/encounters/{enc['id']}/claim")
    assert built.status_code == 201, built.text
    return r.json(), built.json()


def test_the_claim_status_filters_follow_the_built_claims(api):
    clean, clean_claim = _billed(api, "C1", [])
    male_only = [{"action": "add", "code": "N40.0", "system": "ICD-10-CM"}]  # the patient is F
    bad, bad_claim = _billed(api, "C2", male_only)
    waiting = _finalized(api)
    assert clean_claim["clean"] is True and bad_claim["clean"] is False, (clean_claim, bad_claim)

    def listed(claim_status: str) -> list[dict]:
        r = api("biller1", "GET", f"/v1/encounters?status=all&claim_status={claim_status}")
        assert r.status_code == 200, r.text
        return r.json()["items"]

    for claim_status, enc, record in [("clean", clean, clean_claim), ("findings", bad, bad_claim)]:
        items = listed(claim_status)
        assert [i["id"] for i in items] == [enc["id"]], claim_status
        total = record["claim"]["total_charge"]
        assert total is not None and items[0]["claim"]["total_charge"] == str(total)
        assert items[0]["claim"]["status"] == claim_status and items[0]["claim"]["id"] == record["id"]
    assert [i["id"] for i in listed("not_built")] == [waiting["id"]]
    assert listed("outdated") == []

    # Reopened and finalized again: the clean claim was built from an older version now.
    r = api(
        "coder1",
        "POST",
        f"/v1/encounters/{clean['id']}/reopen",
        json={"version": clean["version"], "reason": "recheck"},
    )
    assert r.status_code == 200, r.text
    r = api("coder1", "POST", f"/v1/encounters/{clean['id']}/finalize", json={"version": r.json()["version"]})
    assert r.status_code == 200, r.text
    assert [i["id"] for i in listed("outdated")] == [clean["id"]]
    assert listed("outdated")[0]["claim"]["status"] == "outdated"
    assert listed("clean") == []
    assert [i["id"] for i in listed("findings")] == [bad["id"]]
