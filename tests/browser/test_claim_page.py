"""The claim preview on the review page, end to end in headless Chromium (Done means: a finalized
encounter from the review issue becomes a claim through the API and the page).

A coder codes an encounter with the keyboard and finalizes it; a biller, in a fresh browser context,
finds it in the worklist's finalized encounters, presses c and reads the scrubbed claim; then the API
hands out the same claim as a valid 837P, a valid FHIR R4B Claim and a printable CMS-1500, and the
audit trail names the biller. Also: coders read claims but cannot build them, and an encounter that
cannot be billed shows the server's reason in the panel.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from page_keys import keys_to_codes, row, select_with_keys
from server_support import create_user
from test_accessibility import LOW_CONTRAST, UNNAMED

pytestmark = pytest.mark.browser

# Synthetic. The knowledge engine suggests E11.22, N18.32, I12.9 (hypertension with CKD), R00.2,
# 93000 (the ECG) and 99214 (E/M by total time) for it.
NOTE = (
    "Established patient seen for follow-up. Assessment: Type 2 diabetes mellitus with diabetic chronic kidney "
    "disease stage 3b. Essential hypertension. Procedure: ECG performed for palpitations. Total time 32 minutes."
)
ADDRESS = {"line1": "12 Elm Street", "city": "Springfield", "state": "IL", "zip": "62704"}
PATIENT = {"id": "MRN-CLAIM-1", "name": "Jane Claimtest", "sex": "F", "birth_date": "1958-03-14", "address": ADDRESS}
PAYER = {"id": "60054", "name": "Aetna", "member_id": "W123456789"}

ACCEPT_DX = ["E11.22", "N18.32", "I12.9", "R00.2"]
ACCEPT_PX = ["93000", "99214"]
ECG, PALPITATIONS = "93000", "R00.2"
LOOPBACK = re.compile(r"^(https?|wss?)://(127\.0\.0\.1|localhost)(:\d+)?/|^(data|blob|about):")


def encounter_body(external_id: str, *, address: bool = True) -> dict[str, Any]:
    patient = dict(PATIENT)
    if not address:
        del patient["address"]
    return {
        "external_id": external_id,
        "text": NOTE,
        "setting": "outpatient",
        "date_of_service": "2026-11-20",
        "patient": patient,
        "provider": {"npi": "1234567893", "name": "Dr Test"},
        "payer": PAYER,
    }


@pytest.fixture(scope="module")
def biller(live_server):
    return create_user(live_server, "biller1", "biller")


def create_encounter(client, external_id: str, *, address: bool = True) -> dict[str, Any]:
    r = client.post("/v1/encounters", json=encounter_body(external_id, address=address))
    assert r.status_code == 201, r.text
    enc = r.json()
    suggested = {c["code"] for c in enc["codes"] if c["state"] == "pending"}
    assert {*ACCEPT_DX, *ACCEPT_PX} <= suggested, f"the knowledge engine did not suggest them all: {sorted(suggested)}"
    return enc


def finalize_through_api(client, enc: dict[str, Any]) -> dict[str, Any]:
    wanted = {*ACCEPT_DX, *ACCEPT_PX}
    decisions = [
        {"action": "accept", "code": c["code"], "system": c["system"]} for c in enc["codes"] if c["code"] in wanted
    ]
    r = client.post(f"/v1/encounters/{enc['id']}/decisions", json={"version": enc["version"], "decisions": decisions})
    assert r.status_code == 200, r.text
    r = client.post(f"/v1/encounters/{enc['id']}/finalize", json={"version": r.json()["version"]})
    assert r.status_code == 200, r.text
    return r.json()


@contextlib.contextmanager
def fresh_page(browser) -> Iterator[Any]:
    """A page in its own browser context (its own cookies), loopback only, as the `page` fixture."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    context.route("**/*", lambda route: route.continue_() if LOOPBACK.match(route.request.url) else route.abort())
    try:
        yield context.new_page()
    finally:
        context.close()


# --- small helpers copied from test_review_page.py ----------------------------------------------


def sign_in(page, server, user, hash_: str = "") -> None:
    page.goto(server.base_url + "/" + hash_)
    page.get_by_test_id("login-username").fill(user.username)
    page.get_by_test_id("login-password").fill(user.password)
    page.get_by_test_id("login-submit").click()


def worklist_row(page, encounter_id: str):
    return page.locator(f'[data-testid=worklist-row][data-encounter-id="{encounter_id}"]')


def open_encounter(page, server, encounter_id: str) -> None:
    page.goto(f"{server.base_url}/#/encounter/{encounter_id}")
    page.get_by_test_id("note-text").wait_for()
    page.locator("[data-testid=code-row]").first.wait_for()


# --- the tests -----------------------------------------------------------------------------------


def test_a_finalized_encounter_becomes_a_claim_through_the_api_and_the_page(
    page, browser, live_server, users, api, biller, artifacts_dir
):
    from fhir.resources.R4B.claim import Claim as FhirClaim
    from playwright.sync_api import expect

    from chartcoder.billing.x12 import parse_837p, validate_837p

    enc = create_encounter(api(users["coder"]), "EHR-CLAIM-1")
    enc_id = enc["id"]
    uncaught: list[str] = []
    page.on("pageerror", lambda exc: uncaught.append(str(exc)))

    # The coder, in their own browser context: accept the codes with the keyboard, finalize.
    with fresh_page(browser) as coder_page:
        sign_in(coder_page, live_server, users["coder"])
        worklist_row(coder_page, enc_id).click()
        coder_page.locator("[data-testid=code-row]").first.wait_for()
        for code in [*ACCEPT_DX, *ACCEPT_PX]:
            select_with_keys(coder_page, code)
            coder_page.keyboard.press("a")
            expect(row(coder_page, code, "accepted")).to_have_count(1)
        keys_to_codes(coder_page)
        coder_page.keyboard.press("f")
        coder_page.get_by_test_id("finalize-confirm").click()
        expect(coder_page.get_by_test_id("encounter-status")).to_have_attribute("data-status", "finalized")
        # Coders read claims but do not build them: the panel shows, without the button.
        expect(coder_page.get_by_test_id("claim-panel")).to_contain_text("No claim built yet")
        expect(coder_page.get_by_test_id("build-claim")).to_have_count(0)

    # The biller, in a fresh context: the worklist's status filter finds the finalized encounter.
    sign_in(page, live_server, biller, "#/worklist?status=open")
    expect(page.locator("#f-status")).to_have_value("open")
    expect(page.get_by_test_id("worklist-row").first.or_(page.locator("td.empty"))).to_be_visible()
    expect(worklist_row(page, enc_id)).to_have_count(0)
    page.locator("#f-status").select_option("finalized")
    expect(page).to_have_url(re.compile(r"status=finalized"))
    expect(worklist_row(page, enc_id)).to_be_visible()
    page.get_by_role("button", name="Clear").click()  # a biller's worklist defaults to finalized encounters
    expect(page.locator("#f-status")).to_have_value("finalized")
    expect(worklist_row(page, enc_id)).to_be_visible()
    worklist_row(page, enc_id).click()
    page.locator("[data-testid=code-row]").first.wait_for()
    panel = page.get_by_test_id("claim-panel")
    expect(panel).to_contain_text("No claim built yet")

    # c builds the claim (POST, scrubbed) and shows it.
    keys_to_codes(page)
    page.keyboard.press("c")
    status = page.get_by_test_id("claim-status")
    expect(status).to_be_visible()
    expect(status).to_have_attribute("data-clean", "true")
    expect(page.get_by_test_id("claim-finding")).to_have_count(0)
    expect(page.get_by_test_id("claim-error")).to_be_empty()

    biller_api = api(biller)
    r = biller_api.get(f"/v1/encounters/{enc_id}/claim", params={"format": "json"})
    assert r.status_code == 200, r.text
    record = r.json()
    claim = record["claim"]
    assert record["clean"] is True and record["findings"] == [], record["findings"]
    api_dx = [d["code"] for d in claim["diagnoses"]]
    api_lines = {ln["code"]: ln for ln in claim["lines"]}
    assert sorted(api_dx) == sorted(ACCEPT_DX)
    assert sorted(api_lines) == sorted(ACCEPT_PX)

    # The page shows what was accepted, in the claim's order, with its numbers.
    page_dx = page.get_by_test_id("claim-diagnosis").evaluate_all("rows => rows.map(r => r.dataset.code)")
    assert page_dx == api_dx
    for i, d in enumerate(claim["diagnoses"], start=1):
        dx_row = page.locator(f'[data-testid=claim-diagnosis][data-code="{d["code"]}"]')
        expect(dx_row).to_contain_text(str(i))
        expect(dx_row).to_contain_text(d["description"])
    page_lines = page.get_by_test_id("claim-line").evaluate_all(
        "rows => rows.map(r => [r.dataset.code, r.dataset.pointers])"
    )
    assert [code for code, _ in page_lines] == [ln["code"] for ln in claim["lines"]]
    pointers = dict(page_lines)
    for code, ln in api_lines.items():
        assert pointers[code] == ",".join(str(p) for p in ln["pointers"])
    palpitations_number = api_dx.index(PALPITATIONS) + 1
    assert pointers[ECG] == str(palpitations_number), f"{ECG} points at {pointers[ECG]}, not {PALPITATIONS}"
    ecg_row = page.locator(f'[data-testid=claim-line][data-code="{ECG}"]')
    expect(ecg_row).to_contain_text(f"${Decimal(api_lines[ECG]['charge']):,.2f}")
    total = Decimal(claim["total_charge"])
    assert total == sum(Decimal(ln["charge"]) for ln in claim["lines"])
    expect(page.get_by_test_id("claim-total")).to_have_text(f"${total:,.2f}")
    expect(panel).to_contain_text(claim["claim_id"])
    expect(panel).to_contain_text("Aetna")
    page.get_by_test_id("claim-panel").screenshot(path=str(artifacts_dir / "claim-panel.png"))
    assert page.evaluate(UNNAMED) == []  # every control and link in the panel has a name
    assert page.evaluate(LOW_CONTRAST) == []

    # The page's format links: the 837P downloads, the CMS-1500 opens in a new tab (session cookie).
    with page.expect_download() as download:
        page.get_by_test_id("claim-download-837p").click()
    assert download.value.suggested_filename == f"{claim['claim_id']}.x12"
    downloaded = download.value.path().read_text()
    assert validate_837p(downloaded) == []
    expect(page.get_by_test_id("claim-fhir")).to_have_attribute("href", re.compile(r"format=fhir"))
    with page.context.expect_page() as opened:
        page.get_by_test_id("claim-open-cms1500").click()
    form = opened.value
    form.wait_for_load_state()
    for code in [*api_dx, *api_lines]:
        assert code.replace(".", "") in form.content().replace(".", ""), f"{code} not on the CMS-1500"
    form.close()
    assert page.blocked_requests == [], "the page loaded something from off the server"
    assert uncaught == []

    # Through the API, as the biller: the same claim as 837P, FHIR and CMS-1500.
    r = biller_api.get(f"/v1/encounters/{enc_id}/claim", params={"format": "837p"})
    assert r.status_code == 200, r.text
    x12 = r.text
    assert validate_837p(x12) == []
    parsed = parse_837p(x12)
    assert list(parsed.diagnoses) == api_dx
    assert [ln.code for ln in parsed.lines] == [ln["code"] for ln in claim["lines"]]
    for pl in parsed.lines:
        assert pl.charge == Decimal(api_lines[pl.code]["charge"])
        assert list(pl.pointers) == api_lines[pl.code]["pointers"]
    assert parsed.total_charge == total
    assert parsed.claim_id == claim["claim_id"]
    assert (parsed.payer_id, parsed.member_id) == (PAYER["id"], PAYER["member_id"])

    r = biller_api.get(f"/v1/encounters/{enc_id}/claim", params={"format": "fhir"})
    assert r.status_code == 200, r.text
    fhir = FhirClaim.model_validate(r.json())
    fhir_dx = [d.diagnosisCodeableConcept.coding[0].code for d in fhir.diagnosis]
    assert [c.replace(".", "") for c in fhir_dx] == [c.replace(".", "") for c in api_dx]
    assert sorted(i.productOrService.coding[0].code for i in fhir.item) == sorted(ACCEPT_PX)

    r = biller_api.get(f"/v1/encounters/{enc_id}/claim", params={"format": "cms1500-html"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    html = r.text.replace(".", "")
    assert "<html" in r.text.lower()
    for code in [*api_dx, *api_lines]:
        assert code.replace(".", "") in html, f"{code} not on the CMS-1500"

    events = biller_api.get(f"/v1/encounters/{enc_id}/audit").json()["events"]
    built = [e for e in events if e["action"] == "claim.built"]
    assert len(built) == 1, [e["action"] for e in events]
    assert (built[0]["actor"]["username"], built[0]["actor"]["role"]) == (biller.username, "biller")
    assert built[0]["detail"]["clean"] is True
    assert Decimal(built[0]["detail"]["total_charge"]) == total


def test_a_coder_reads_the_claim_but_cannot_build_it(page, live_server, users, api, biller):
    from playwright.sync_api import expect

    coder = api(users["coder"])
    enc = finalize_through_api(coder, create_encounter(coder, "EHR-CLAIM-2"))
    r = coder.post(f"/v1/encounters/{enc['id']}/claim")
    assert r.status_code == 403, r.text
    assert r.json()["error"] == "forbidden"
    r = api(biller).post(f"/v1/encounters/{enc['id']}/claim")
    assert r.status_code == 201, r.text
    claim = r.json()["claim"]

    sign_in(page, live_server, users["coder"])
    open_encounter(page, live_server, enc["id"])
    expect(page.get_by_test_id("claim-status")).to_have_attribute("data-clean", "true")
    expect(page.get_by_test_id("claim-panel")).to_contain_text(claim["claim_id"])
    expect(page.get_by_test_id("claim-line")).to_have_count(len(claim["lines"]))
    expect(page.get_by_test_id("build-claim")).to_have_count(0)
    keys_to_codes(page)
    page.keyboard.press("c")  # refused on the page, said in the status line; nothing is POSTed
    expect(page.get_by_test_id("status-message")).to_contain_text("Only billers and admins build claims")
    events = coder.get(f"/v1/encounters/{enc['id']}/audit").json()["events"]
    assert [e["action"] for e in events].count("claim.built") == 1


def test_an_encounter_that_cannot_be_billed_shows_why_in_the_panel(page, live_server, users, api, biller):
    from playwright.sync_api import expect

    coder = api(users["coder"])
    enc = finalize_through_api(coder, create_encounter(coder, "EHR-CLAIM-3", address=False))
    r = api(biller).post(f"/v1/encounters/{enc['id']}/claim")
    assert r.status_code == 422, r.text
    assert "patient.address" in r.json()["detail"]

    sign_in(page, live_server, biller)
    open_encounter(page, live_server, enc["id"])
    expect(page.get_by_test_id("claim-panel")).to_contain_text("No claim built yet")
    page.get_by_test_id("build-claim").click()
    error = page.get_by_test_id("claim-error")
    expect(error).to_contain_text("missing patient.address")
    expect(error).to_have_attribute("role", "alert")
    expect(error).to_be_visible()
    expect(page.get_by_test_id("claim-status")).to_have_count(0)
    expect(page.get_by_test_id("status-message")).to_contain_text("not built")
    assert page.evaluate(LOW_CONTRAST) == []
    assert api(biller).get(f"/v1/encounters/{enc['id']}/claim").status_code == 404


def test_a_claim_with_errors_shows_its_findings_by_severity(page, live_server, users, api, biller, artifacts_dir):
    from playwright.sync_api import expect

    coder = api(users["coder"])
    body = encounter_body("EHR-CLAIM-4") | {"text": "Procedure: ECG performed for palpitations."}
    enc = coder.post("/v1/encounters", json=body).json()
    decisions = [{"action": "accept", "code": c["code"], "system": c["system"]} for c in enc["codes"]]
    assert {d["code"] for d in decisions} >= {ECG, PALPITATIONS}, decisions
    decisions += [
        {"action": "add", "code": "E11.2", "system": "ICD-10-CM"},  # a header, not billable
        {"action": "add", "code": "N40.0", "system": "ICD-10-CM"},  # male only; the patient is F
    ]
    r = coder.post(f"/v1/encounters/{enc['id']}/decisions", json={"version": enc["version"], "decisions": decisions})
    assert r.status_code == 200, r.text
    r = coder.post(f"/v1/encounters/{enc['id']}/finalize", json={"version": r.json()["version"]})
    assert r.status_code == 200, r.text

    sign_in(page, live_server, biller)
    open_encounter(page, live_server, enc["id"])
    page.get_by_test_id("build-claim").click()
    expect(page.get_by_test_id("claim-status")).to_have_attribute("data-clean", "false")
    record = api(biller).get(f"/v1/encounters/{enc['id']}/claim").json()
    assert record["clean"] is False
    findings = page.get_by_test_id("claim-finding")
    expect(findings).to_have_count(len(record["findings"]))
    shown = findings.evaluate_all("els => els.map(e => [e.dataset.severity, e.dataset.edit])")
    assert shown == sorted(shown, key=lambda s: s[0] != "error"), "errors are listed before warnings"
    assert {(f["severity"], f["edit"]) for f in record["findings"]} == {tuple(s) for s in shown}
    not_billable = page.locator('[data-testid=claim-finding][data-edit="ICD_NOT_BILLABLE"]')
    expect(not_billable).to_have_attribute("data-severity", "error")
    for code in ("E11.21", "E11.22", "E11.29"):
        expect(not_billable.locator("li", has_text=code)).to_have_count(1)
    expect(not_billable).to_contain_text("diagnosis")
    expect(page.locator('[data-testid=claim-finding][data-edit="SEX_CONFLICT"]')).to_contain_text("female")
    expect(page.get_by_test_id("claim-panel")).to_contain_text(re.compile(r"Errors \(2\)"))
    assert page.evaluate(UNNAMED) == []
    assert page.evaluate(LOW_CONTRAST) == []
    page.get_by_test_id("claim-panel").evaluate("el => el.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(artifacts_dir / "claim-panel-findings.png"))
