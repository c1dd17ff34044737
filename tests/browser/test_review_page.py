"""The review page end to end in headless Chromium (issue 4, Done means 2).

A coder signs in, opens an encounter from the worklist, accepts two codes and rejects one with a
reason (keyboard: j/k, a, r), adds one through the code search (/), finalizes (f); then the API must
show exactly those decisions and an audit trail of exactly those events, in order, by that coder.
"""

from __future__ import annotations

import json
import re

import pytest
from page_keys import keys_to_codes, row, select_with_keys, selected_code

pytestmark = pytest.mark.browser

# Synthetic; the knowledge engine suggests (among others) N18.32, I12.9, Z79.84, E11.22, M17.11, E78.5.
NOTE = """Chief complaint: follow-up of chronic conditions.
History of present illness: 67-year-old woman with type 2 diabetes mellitus with diabetic chronic kidney \
disease, CKD stage 3b, here for follow-up. She also has essential hypertension and hyperlipidemia. Right knee \
pain from primary osteoarthritis of the right knee, worse on stairs. She denies chest pain.
Assessment and Plan:
1. Type 2 diabetes mellitus with diabetic chronic kidney disease, stage 3b CKD. Continue metformin and check A1c.
2. Essential hypertension, controlled on lisinopril.
3. Primary osteoarthritis of right knee. Acetaminophen and physical therapy.
4. Hyperlipidemia: continue atorvastatin.
5. No chest pain today.
"""
PATIENT = {"id": "MRN-BROWSER-1", "name": "Browser Testpatient", "sex": "F", "birth_date": "1958-03-14"}

ACCEPT = ["E11.22", "M17.11"]
REJECT, REASON = "Z79.84", "not_documented"
SEARCH, ADD = "nicotine dependence cigarettes", "F17.210"
SYSTEM = "ICD-10-CM"


def sign_in_and_open(page, server, user, encounter_id: str) -> None:
    page.goto(server.base_url + "/")
    page.get_by_test_id("login-username").fill(user.username)
    page.get_by_test_id("login-password").fill(user.password)
    page.get_by_test_id("login-submit").click()
    page.locator(f'[data-testid=worklist-row][data-encounter-id="{encounter_id}"]').click()
    page.get_by_test_id("note-text").wait_for()
    page.locator("[data-testid=code-row]").first.wait_for()


@pytest.fixture
def encounter(users, api):
    coder = api(users["coder"])
    r = coder.post(
        "/v1/encounters",
        json={
            "external_id": "EHR-BROWSER-1",
            "text": NOTE,
            "setting": "outpatient",
            "date_of_service": "2026-11-20",
            "patient": PATIENT,
            "provider": {"npi": "1234567893", "name": "Dr Test"},
            "payer": {"id": "60054", "name": "Aetna"},
        },
    )
    assert r.status_code == 201, r.text
    enc = r.json()
    suggested = {c["code"] for c in enc["codes"] if c["system"] == SYSTEM and c["state"] == "pending"}
    assert {*ACCEPT, REJECT} <= suggested, f"the knowledge engine did not suggest them all: {sorted(suggested)}"
    assert ADD not in {c["code"] for c in enc["codes"]}
    return enc


def test_coder_reviews_an_encounter_with_the_keyboard(page, live_server, users, api, encounter, artifacts_dir):
    from playwright.sync_api import expect

    coder = api(users["coder"])
    reasons = {r["code"] for r in coder.get("/v1/review/reasons").json()}
    assert REASON in reasons, reasons
    enc_id = encounter["id"]

    sign_in_and_open(page, live_server, users["coder"], enc_id)
    expect(page.get_by_test_id("note-text")).to_contain_text("primary osteoarthritis of the right knee")

    # Accept two codes: j/k to each, then a.
    for code in ACCEPT:
        select_with_keys(page, code)
        page.keyboard.press("a")
        expect(row(page, code, "accepted")).to_have_count(1)

    # Reject a third: r, pick the reason, confirm.
    select_with_keys(page, REJECT)
    page.keyboard.press("r")
    picker = page.get_by_test_id("reason-picker")
    expect(picker).to_be_visible()
    picker.locator(f'[data-testid=reason-option][data-reason="{REASON}"]').click()
    page.get_by_test_id("reason-confirm").click()
    expect(row(page, REJECT, "rejected")).to_have_count(1)
    expect(picker).to_be_hidden()

    # Add a code through the search: / focuses the search field.
    keys_to_codes(page)
    page.keyboard.press("/")
    search = page.get_by_test_id("code-search")
    expect(search).to_be_focused()
    search.press_sequentially(SEARCH, delay=20)
    page.locator(f'[data-testid=search-result][data-code="{ADD}"]').click()
    expect(row(page, ADD, "added")).to_have_count(1)

    # The view, with every decision shown, is the test's artifact.
    page.screenshot(path=str(artifacts_dir / "encounter-view.png"), full_page=True)

    # Finalize: f, confirm.
    keys_to_codes(page)
    page.keyboard.press("f")
    page.get_by_test_id("finalize-confirm").click()
    expect(page.get_by_test_id("encounter-status")).to_contain_text(re.compile("finalized", re.I))
    page.screenshot(path=str(artifacts_dir / "encounter-view-finalized.png"), full_page=True)
    assert page.blocked_requests == [], "the page loaded something from off the server"

    # The API holds exactly what was done.
    enc = coder.get(f"/v1/encounters/{enc_id}").json()
    assert enc["status"] == "finalized"
    by = enc["finalized_by"]  # a username, as `decided_by` is (or a user object)
    assert (by.get("username") if isinstance(by, dict) else by) == users["coder"].username
    decided = {(c["code"], c["state"], c["reason"]) for c in enc["codes"] if c["state"] != "pending"}
    assert decided == {
        (ACCEPT[0], "accepted", None),
        (ACCEPT[1], "accepted", None),
        (REJECT, "rejected", REASON),
        (ADD, "added", None),
    }
    for c in enc["codes"]:
        if c["state"] != "pending":
            assert c["decided_by"] == users["coder"].username, c
            assert c["system"] == SYSTEM
    added = next(c for c in enc["codes"] if c["code"] == ADD)
    assert added["suggested"] is False and added["replaces"] is None

    audit = coder.get(f"/v1/encounters/{enc_id}/audit").json()["events"]
    review = [e for e in audit if e["action"] not in ("encounter.created", "suggestions.stored")]
    assert [e["action"] for e in review] == [
        "decision.accept",
        "decision.accept",
        "decision.reject",
        "decision.add",
        "encounter.finalized",
    ], [e["action"] for e in audit]
    for event, code in zip(review, [*ACCEPT, REJECT, ADD], strict=False):
        assert code in json.dumps(event["detail"]), event
    assert REASON in json.dumps(review[2]["detail"])
    for e in review:
        assert e["actor"] is not None
        assert (e["actor"]["username"], e["actor"]["role"]) == (users["coder"].username, "coder")
    assert [e["id"] for e in audit] == sorted(e["id"] for e in audit)  # oldest first
    # The audit trail never holds note text or patient data.
    dumped = json.dumps(audit)
    for secret in ("osteoarthritis of the right knee", "atorvastatin", PATIENT["name"], PATIENT["id"]):
        assert secret not in dumped


def test_clicking_an_evidence_highlight_selects_its_code(page, live_server, users, api):
    coder = api(users["coder"])
    r = coder.post("/v1/encounters", json={"text": NOTE, "external_id": "EHR-BROWSER-2"})
    assert r.status_code == 201, r.text
    sign_in_and_open(page, live_server, users["coder"], r.json()["id"])

    spans = page.locator("[data-testid=evidence]")
    assert spans.count() > 0, "no evidence highlighted in the note"
    before = selected_code(page)
    # A highlight whose codes do not include the one selected now, so the click must change the selection.
    for i in range(spans.count()):
        codes = [c for c in re.split(r"[\s,;]+", spans.nth(i).get_attribute("data-codes") or "") if c]
        if codes and before not in codes:
            target = spans.nth(i)
            break
    else:
        pytest.fail(f"every highlight names the selected code {before}")

    target.hover()
    target.click()
    page.wait_for_function(
        "codes => { const r = document.querySelector('[data-testid=code-row][aria-selected=true]');"
        " return !!r && codes.includes(r.dataset.code); }",
        arg=codes,
    )
    assert page.locator("[data-testid=code-row][aria-selected=true]").count() == 1
    assert selected_code(page) in codes
