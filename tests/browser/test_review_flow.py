"""The review page keeps up with a coder's keyboard, keeps two coders off one chart, and lets a biller
send a chart back (issue 18), end to end in headless Chromium against the real server:

- one key per decision: after `a` or `r` the selection moves to the next pending code; reasons past the
  9th have keys (q, w, e); Esc leaves the search for the code list; Enter on a header code does not add
  it and lists its billable codes; each piece of evidence shows its assertion and section; Shift+A
  accepts all suggested codes and Shift+R rejects the rest with one reason; `e` changes a code; `o`
  reopens.
- the chart lock: a second coder sees who has the chart open, is refused until they take it over, and
  the first coder is then told who took it.
- the biller's worklist (claim status, patient, MRN, payer, amount; filters) and "send back to coder".
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import pytest
from page_keys import keys_to_codes, row, select_with_keys, selected_code
from server_support import create_user

pytestmark = pytest.mark.browser

# Synthetic; the knowledge engine suggests (among others) E11.22, N18.32, I12.9, M17.11, E78.5.
NOTE = """Chief complaint: follow-up of chronic conditions.
History of present illness: 67-year-old woman with type 2 diabetes mellitus with diabetic chronic kidney \
disease, CKD stage 3b, here for follow-up. She also has essential hypertension and hyperlipidemia. Right knee \
pain from primary osteoarthritis of the right knee, worse on stairs. She denies chest pain.
Assessment and Plan:
1. Type 2 diabetes mellitus with diabetic chronic kidney disease, stage 3b CKD. Continue metformin and check A1c.
2. Essential hypertension, controlled on lisinopril.
3. Primary osteoarthritis of right knee. Acetaminophen and physical therapy.
4. Hyperlipidemia: continue atorvastatin.
"""
# Synthetic, billable (address, payer, provider): E11.22, N18.32, I12.9, R00.2, 93000, 99214 are suggested.
CLAIM_NOTE = (
    "Established patient seen for follow-up. Assessment: Type 2 diabetes mellitus with diabetic chronic kidney "
    "disease stage 3b. Essential hypertension. Procedure: ECG performed for palpitations. Total time 32 minutes."
)
ADDRESS = {"line1": "12 Elm Street", "city": "Springfield", "state": "IL", "zip": "62704"}
LOOPBACK = re.compile(r"^(https?|wss?)://(127\.0\.0\.1|localhost)(:\d+)?/|^(data|blob|about):")


@pytest.fixture(scope="module")
def people(live_server, users):
    return {
        **users,
        "coder2": create_user(live_server, "coder2", "coder"),
        "biller": create_user(live_server, "biller1", "biller"),
    }


@contextlib.contextmanager
def fresh_page(browser) -> Iterator[Any]:
    """A page in its own browser context (its own cookies: another person), loopback only."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    context.route("**/*", lambda route: route.continue_() if LOOPBACK.match(route.request.url) else route.abort())
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page, server, user) -> None:
    page.goto(server.base_url + "/")
    page.get_by_test_id("login-username").fill(user.username)
    page.get_by_test_id("login-password").fill(user.password)
    page.get_by_test_id("login-submit").click()
    page.locator("[data-testid=worklist-row], .worklist .empty").first.wait_for()


def open_encounter(page, server, encounter_id: str) -> None:
    page.goto(f"{server.base_url}/#/encounter/{encounter_id}")
    page.get_by_test_id("note-text").wait_for()
    page.locator("[data-testid=code-row]").first.wait_for()


def create(client, text: str = NOTE, **fields) -> dict[str, Any]:
    r = client.post("/v1/encounters", json={"text": text, "setting": "outpatient", **fields})
    assert r.status_code == 201, r.text
    return r.json()


def codes_of(client, enc_id: str) -> dict[str, dict[str, Any]]:
    return {c["code"]: c for c in client.get(f"/v1/encounters/{enc_id}").json()["codes"]}


def rows_in_order(page) -> list[tuple[str, str, str]]:
    return page.locator("[data-testid=code-row]").evaluate_all(
        "rows => rows.map(r => [r.dataset.code, r.dataset.state, r.dataset.group])"
    )


def wait_saved(page, code: str, state: str) -> None:
    from playwright.sync_api import expect

    expect(row(page, code, state)).to_have_count(1)


def test_one_key_per_decision_reason_keys_evidence_and_search(page, live_server, people, api):
    from playwright.sync_api import expect

    coder = api(people["coder"])
    reasons = [r["code"] for r in coder.get("/v1/review/reasons").json()]
    assert reasons[10] == "integral_symptom" and len(reasons) == 12, reasons
    enc = create(coder, external_id="EHR-KEYS-1")
    sign_in(page, live_server, people["coder"])
    open_encounter(page, live_server, enc["id"])

    # Evidence: each piece shows its assertion and its section.
    items = page.locator("[data-testid=evidence-item]")
    assert items.count() > 0
    for i in range(min(items.count(), 10)):
        item = items.nth(i)
        assertion, section = item.get_attribute("data-assertion"), item.get_attribute("data-section")
        text = item.inner_text()
        assert assertion and (("present" in text) if assertion == "present" else assertion != "present"), text
        assert (section.replace("_", " ") if section else "no section") in text, (section, text)

    # a: accepted, and the selection moved to the next pending code: one key per decision.
    keys_to_codes(page)
    first = selected_code(page)
    order = rows_in_order(page)
    pending = [c for c, s, _ in order if s == "pending"]
    assert first == pending[0], (first, order)
    page.keyboard.press("a")
    wait_saved(page, first, "accepted")
    assert selected_code(page) == pending[1]

    # r: the picker; w picks the 11th reason (integral symptom), Enter confirms; the selection moves on.
    second = pending[1]
    page.keyboard.press("r")
    picker = page.get_by_test_id("reason-picker")
    expect(picker).to_be_visible()
    expect(picker.locator("[data-testid=reason-option][data-reason=other]")).to_have_attribute("data-key", "e")
    page.keyboard.press("w")
    expect(picker.locator("[data-reason=integral_symptom] input")).to_be_checked()
    page.keyboard.press("Enter")
    wait_saved(page, second, "rejected")
    assert selected_code(page) == pending[2]
    assert codes_of(coder, enc["id"])[second]["reason"] == "integral_symptom"

    # Esc leaves the search box and puts focus back on the code list (j/k work at once).
    page.keyboard.press("/")
    search = page.get_by_test_id("code-search")
    expect(search).to_be_focused()
    search.press_sequentially("asthma", delay=10)
    page.locator("[data-testid=search-result]").first.wait_for()
    page.keyboard.press("Escape")
    assert page.evaluate("document.activeElement.id") == "codes"
    before = selected_code(page)
    page.keyboard.press("j")
    page.wait_for_function(
        "prev => document.querySelector('[data-testid=code-row][aria-selected=true]').dataset.code !== prev", arg=before
    )

    # Enter on a header code (E11, not billable) does not add it: it says why and lists billable E11 codes.
    page.keyboard.press("/")
    search.fill("")
    search.press_sequentially("E11", delay=10)
    expect(page.locator("[data-testid=search-result]").first).to_have_attribute("data-code", "E11")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("search-note")).to_contain_text("E11 is a header")
    # The list is replaced by E11's billable codes (E11 itself and its subcategories leave it).
    page.wait_for_function(
        "() => { const rs = [...document.querySelectorAll('[data-testid=search-result]')];"
        " return rs.length > 0 && rs.every(r => r.dataset.code.startsWith('E11.')); }"
    )
    results = page.locator("[data-testid=search-result]").evaluate_all("rs => rs.map(r => r.dataset.code)")
    assert "E11.9" in results and "E11.0" not in results and "E11.6" not in results, results
    assert "E11" not in codes_of(coder, enc["id"])
    page.keyboard.press("Escape")


def test_accept_all_reject_the_rest_change_and_reopen(page, live_server, people, api):
    from playwright.sync_api import expect

    coder = api(people["coder"])
    enc = create(coder, external_id="EHR-KEYS-2")
    sign_in(page, live_server, people["coder"])
    open_encounter(page, live_server, enc["id"])
    suggested = [c for c, s, g in rows_in_order(page) if s == "pending" and g == "suggested"]
    considered = [c for c, s, g in rows_in_order(page) if s == "pending" and g == "consider"]
    assert "E11.22" in suggested, suggested

    # Shift+A: the dialog lists the suggested codes still pending; confirming accepts them in one batch.
    keys_to_codes(page)
    page.keyboard.press("Shift+A")
    dialog = page.get_by_test_id("accept-all-dialog")
    listed = dialog.locator("[data-testid=batch-code]").evaluate_all("xs => xs.map(x => x.dataset.code)")
    assert listed == suggested
    page.get_by_test_id("accept-all-confirm").click()
    for code in suggested:
        wait_saved(page, code, "accepted")
    after = codes_of(coder, enc["id"])
    assert all(after[c]["state"] == "accepted" for c in suggested)
    assert all(after[c]["state"] == "pending" for c in considered)

    # e: change E11.22 into E11.21 with a reason (the API's change).
    select_with_keys(page, "E11.22")
    page.keyboard.press("e")
    expect(page.get_by_test_id("change-dialog")).to_be_visible()
    page.get_by_test_id("change-code").fill("E11.21")
    page.get_by_test_id("change-confirm").click()
    wait_saved(page, "E11.21", "added")
    changed = codes_of(coder, enc["id"])
    assert changed["E11.21"]["replaces"] == "E11.22" and changed["E11.22"]["state"] == "rejected"
    assert changed["E11.22"]["reason"] == "more_specific_code"

    # Shift+R: reject the rest (every code still pending) with one reason, picked with its key.
    if considered:
        keys_to_codes(page)
        page.keyboard.press("Shift+R")
        dialog = page.get_by_test_id("reject-rest-dialog")
        expect(dialog).to_be_visible()
        assert dialog.locator("[data-testid=batch-code]").count() == len(considered)
        page.keyboard.press("4")
        page.get_by_test_id("reject-rest-confirm").click()
        for code in considered:
            wait_saved(page, code, "rejected")
        rest = codes_of(coder, enc["id"])
        assert all(rest[c]["reason"] == "uncertain_outpatient" for c in considered)
    assert not [c for c in codes_of(coder, enc["id"]).values() if c["state"] == "pending"]

    # f finalizes; o reopens (with a reason).
    keys_to_codes(page)
    page.keyboard.press("f")
    page.get_by_test_id("finalize-confirm").click()
    expect(page.get_by_test_id("encounter-status")).to_have_attribute("data-status", "finalized")
    keys_to_codes(page)
    page.keyboard.press("o")
    page.get_by_test_id("reopen-reason").fill("payer asked for the stage code")
    page.get_by_test_id("reopen-confirm").click()
    expect(page.get_by_test_id("encounter-status")).to_have_attribute("data-status", "open")
    audit = [e["action"] for e in coder.get(f"/v1/encounters/{enc['id']}/audit").json()["events"]]
    assert audit[-2:] == ["encounter.finalized", "encounter.reopened"], audit


def test_the_chart_lock_between_two_coders(page, browser, live_server, people, api):
    from playwright.sync_api import expect

    coder = api(people["coder"])
    enc = create(coder, external_id="EHR-LOCK-1")
    sign_in(page, live_server, people["coder"])
    open_encounter(page, live_server, enc["id"])
    page.wait_for_function(
        "id => fetch('/v1/encounters/' + id).then(r => r.json()).then(e => e.lock && e.lock.username === 'coder1')",
        arg=enc["id"],
    )
    expect(page.get_by_test_id("lock-banner")).to_be_hidden()

    with fresh_page(browser) as other:
        sign_in(other, live_server, people["coder2"])
        open_encounter(other, live_server, enc["id"])
        banner = other.get_by_test_id("lock-banner")
        expect(banner).to_be_visible()
        expect(other.get_by_test_id("lock-holder")).to_contain_text("coder1")
        # Refused while coder1 holds it: the status line names them, nothing is stored.
        keys_to_codes(other)
        first = selected_code(other)
        other.keyboard.press("a")
        expect(other.get_by_test_id("status-message")).to_contain_text("coder1")
        assert codes_of(coder, enc["id"])[first]["state"] == "pending"

        # Taken over explicitly (t); now coder2 codes.
        keys_to_codes(other)
        other.keyboard.press("t")
        expect(banner).to_be_hidden()
        keys_to_codes(other)
        other.keyboard.press("a")
        wait_saved(other, first, "accepted")

        # coder1's next decision is refused, naming coder2; coder1's page shows who holds the chart now.
        select_with_keys(page, first)
        page.keyboard.press("j")
        page.keyboard.press("a")
        expect(page.get_by_test_id("status-message")).to_contain_text("coder2")
        expect(page.get_by_test_id("lock-banner")).to_be_visible()
        expect(page.get_by_test_id("lock-holder")).to_contain_text("coder2")
    events = coder.get(f"/v1/encounters/{enc['id']}/audit").json()["events"]
    taken = [e for e in events if e["action"] == "encounter.lock_taken_over"]
    assert [(e["actor"]["username"], e["detail"]["from"]) for e in taken] == [("coder2", "coder1")]
    decided = [e["actor"]["username"] for e in events if e["action"].startswith("decision.")]
    assert decided == ["coder2"]


def _billable(client, external_id: str, name: str, mrn: str) -> dict[str, Any]:
    enc = create(
        client,
        CLAIM_NOTE,
        external_id=external_id,
        date_of_service="2026-11-20",
        patient={"id": mrn, "name": name, "sex": "F", "birth_date": "1958-03-14", "address": ADDRESS},
        provider={"npi": "1234567893", "name": "Dr Test"},
        payer={"id": "60054", "name": "Aetna", "member_id": "W123456789"},
    )
    wanted = {"E11.22", "N18.32", "I12.9", "R00.2", "93000", "99214"}
    decisions = [
        {"action": "accept", "code": c["code"], "system": c["system"]} for c in enc["codes"] if c["code"] in wanted
    ]
    r = client.post(f"/v1/encounters/{enc['id']}/decisions", json={"version": 1, "decisions": decisions})
    assert r.status_code == 200, r.text
    r = client.post(f"/v1/encounters/{enc['id']}/finalize", json={"version": 2})
    assert r.status_code == 200, r.text
    return r.json()


def test_the_billers_worklist_and_send_back(page, browser, live_server, people, api, artifacts_dir):
    from playwright.sync_api import expect

    coder, biller = api(people["coder"]), api(people["biller"])
    billed = _billable(coder, "EHR-BILL-1", "Wanda Billtest", "MRN-BILL-1")
    waiting = _billable(coder, "EHR-BILL-2", "Xavier Notbuilt", "MRN-BILL-2")
    r = biller.post(f"/v1/encounters/{billed['id']}/claim")
    assert r.status_code in (200, 201), r.text
    total = r.json()["claim"]["total_charge"]

    sign_in(page, live_server, people["biller"])
    row_ = page.locator(f'[data-testid=worklist-row][data-encounter-id="{billed["id"]}"]')
    expect(row_.get_by_test_id("worklist-patient")).to_have_text("Wanda Billtest")
    expect(row_.get_by_test_id("worklist-mrn")).to_have_text("MRN-BILL-1")
    expect(row_).to_contain_text("Aetna")
    status = row_.get_attribute("data-claim-status")
    assert status in ("clean", "findings"), status
    expect(row_.get_by_test_id("worklist-claim-status")).to_have_text("Clean" if status == "clean" else "Has findings")
    expect(row_.get_by_test_id("worklist-amount")).to_have_text(f"${float(total):,.2f}")
    other = page.locator(f'[data-testid=worklist-row][data-encounter-id="{waiting["id"]}"]')
    expect(other.get_by_test_id("worklist-claim-status")).to_have_text("Not built")

    # Filters: claim status, then patient (MRN, any case).
    page.select_option("#f-claim_status", "not_built")
    expect(page.locator("[data-testid=worklist-row]")).to_have_count(1)
    expect(page.locator("[data-testid=worklist-row]")).to_have_attribute("data-encounter-id", waiting["id"])
    page.select_option("#f-claim_status", "")
    page.get_by_test_id("filter-patient").fill("mrn-bill-1")
    page.get_by_test_id("filter-patient").press("Enter")
    expect(page.locator("[data-testid=worklist-row]")).to_have_count(1)
    expect(page.locator("[data-testid=worklist-row]")).to_have_attribute("data-encounter-id", billed["id"])
    assert "mrn-bill-1" not in page.url.casefold()  # the patient filter stays out of the address (history)
    page.screenshot(path=str(artifacts_dir / "biller-worklist.png"), full_page=True)

    # Send back to coder (b), with a reason.
    open_encounter(page, live_server, billed["id"])
    keys_to_codes(page)
    page.keyboard.press("b")
    page.get_by_test_id("send-back-reason").fill("Palpitations R00.2 is integral; please recheck the ECG pointer")
    page.get_by_test_id("send-back-confirm").click()
    expect(page.get_by_test_id("encounter-status")).to_have_attribute("data-status", "open")
    events = biller.get(f"/v1/encounters/{billed['id']}/audit").json()["events"]
    assert events[-1]["action"] == "encounter.sent_back" and events[-1]["actor"]["username"] == "biller1"
    assert events[-1]["detail"]["reason"].startswith("Palpitations R00.2 is integral")

    # The coder finds it open again, marked sent back, with the reason on the encounter.
    with fresh_page(browser) as coder_page:
        sign_in(coder_page, live_server, people["coder"])
        mine = coder_page.locator(f'[data-testid=worklist-row][data-encounter-id="{billed["id"]}"]')
        expect(mine.get_by_test_id("worklist-claim-status")).to_contain_text("Sent back to coder")
        open_encounter(coder_page, live_server, billed["id"])
        expect(coder_page.get_by_test_id("sent-back-banner")).to_be_visible()
        expect(coder_page.get_by_test_id("sent-back-reason")).to_have_text(
            "Palpitations R00.2 is integral; please recheck the ECG pointer"
        )
        expect(coder_page.get_by_test_id("sent-back-banner")).to_contain_text("biller1")
    # A coder cannot send back (the API refuses; the page offers no button).
    r = coder.post(f"/v1/encounters/{waiting['id']}/send-back", json={"version": waiting["version"], "reason": "x"})
    assert r.status_code == 403
