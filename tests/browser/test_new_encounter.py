"""New encounter from the worklist: someone who just ran `make serve` signs in and codes a note
without any other tool. A coder presses n, pastes a note, creates it with Ctrl+Enter, lands on the
new encounter with its suggested codes and accepts one with a; the API must hold that note and that
decision. Refusals (an empty note, a note over the limit, a field the server refuses) are shown in
the dialog and never lose what was typed; the button is offered only to roles that may create.
"""

from __future__ import annotations

import re

import pytest
from server_support import create_user

pytestmark = pytest.mark.browser

# Synthetic; the knowledge engine suggests codes for each of these.
NOTE = """Chief complaint: routine follow-up.
History: 71-year-old man with essential hypertension, type 2 diabetes mellitus with diabetic chronic \
kidney disease, CKD stage 3b, and hyperlipidemia. Feels well; no chest pain.
Assessment and Plan:
1. Type 2 diabetes mellitus with diabetic chronic kidney disease, CKD stage 3b. Continue metformin.
2. Essential hypertension, controlled on amlodipine.
3. Hyperlipidemia: continue rosuvastatin.
"""
MARKER = "continue rosuvastatin"  # must never appear in the browser console
ENCOUNTER_URL = re.compile(r"#/encounter/(enc_[0-9a-f]+)$")


def sign_in(page, server, user) -> None:
    page.goto(server.base_url + "/")
    page.get_by_test_id("login-username").fill(user.username)
    page.get_by_test_id("login-password").fill(user.password)
    page.get_by_test_id("login-submit").click()
    page.locator("#worklist-count").filter(has_text=re.compile(r"of \d+ encounters")).wait_for()


def open_dialog_with_key(page):
    from playwright.sync_api import expect

    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.keyboard.press("n")
    dialog = page.get_by_test_id("new-encounter-dialog")
    expect(dialog).to_be_visible()
    return dialog


@pytest.fixture(scope="module")
def biller(live_server):
    return create_user(live_server, "biller1", "biller")


def test_coder_creates_an_encounter_and_codes_it(page, live_server, users, api, artifacts_dir):
    from playwright.sync_api import expect

    console: list[str] = []
    page.on("console", lambda msg: console.append(msg.text))
    sign_in(page, live_server, users["coder"])
    expect(page.get_by_test_id("new-encounter")).to_be_visible()

    dialog = open_dialog_with_key(page)
    assert dialog.get_attribute("role") == "dialog"
    assert dialog.get_attribute("aria-modal") == "true"
    title_id = dialog.get_attribute("aria-labelledby")
    assert title_id and page.locator(f"#{title_id}").inner_text() == "New encounter"
    text = page.get_by_test_id("new-encounter-text")
    expect(text).to_be_focused()
    assert text.input_value() == ""  # the n that opened it is not typed into the note

    # Every field has a label.
    for label in ["Note text", "Setting", "Date of service", "External id", "Payer name", "Patient sex"]:
        expect(dialog.get_by_label(label, exact=False).first).to_be_visible()
    expect(dialog.get_by_label("Patient birth date")).to_be_visible()

    text.fill(NOTE)
    page.get_by_test_id("new-encounter-setting").select_option("outpatient")
    page.get_by_test_id("new-encounter-date").fill("2026-11-21")
    dialog.get_by_label("External id").fill("EHR-NEW-1")
    dialog.get_by_label("Payer name").fill("Aetna")
    dialog.get_by_label("Patient sex").select_option("M")
    dialog.get_by_label("Patient birth date").fill("1955-06-30")
    page.screenshot(path=str(artifacts_dir / "new-encounter-dialog.png"))

    # Tab stays inside the dialog.
    for _ in range(12):
        page.keyboard.press("Tab")
        assert page.evaluate("() => !!document.activeElement.closest('[data-testid=new-encounter-dialog]')")

    text.focus()
    page.keyboard.press("Control+Enter")
    expect(page).to_have_url(ENCOUNTER_URL, timeout=60_000)
    enc_id = ENCOUNTER_URL.search(page.url).group(1)
    expect(dialog).to_have_count(0)
    expect(page.get_by_test_id("note-text")).to_contain_text("CKD stage 3b")
    rows = page.locator("[data-testid=code-row]")
    rows.first.wait_for()
    assert rows.count() >= 2

    # Accept the selected (first pending) code with a.
    code = page.locator("[data-testid=code-row][aria-selected=true]").get_attribute("data-code")
    assert code
    page.keyboard.press("a")
    expect(page.locator(f'[data-testid=code-row][data-code="{code}"][data-state=accepted]')).to_have_count(1)
    expect(page.get_by_test_id("status-message")).to_contain_text(f"Saved: accept {code}")

    enc = api(users["coder"]).get(f"/v1/encounters/{enc_id}").json()
    assert enc["text"] == NOTE
    assert (enc["external_id"], enc["setting"], enc["date_of_service"]) == ("EHR-NEW-1", "outpatient", "2026-11-21")
    assert enc["payer"].get("name") == "Aetna"
    assert (enc["patient"].get("sex"), enc["patient"].get("birth_date")) == ("M", "1955-06-30")
    decided = [(c["code"], c["state"], c["decided_by"]) for c in enc["codes"] if c["state"] != "pending"]
    assert decided == [(code, "accepted", users["coder"].username)]
    assert enc["suggestion_set"]["suggestions"], "the encounter was stored without suggestions"

    assert not [m for m in console if MARKER in m or "CKD stage 3b" in m], "note text reached the console"
    assert page.blocked_requests == []


def test_empty_note_is_refused_in_the_dialog(page, live_server, users):
    from playwright.sync_api import expect

    posts: list[str] = []
    page.on(
        "request", lambda r: posts.append(r.url) if r.method == "POST" and r.url.endswith("/v1/encounters") else None
    )
    sign_in(page, live_server, users["coder"])
    button = page.get_by_test_id("new-encounter")
    button.click()
    dialog = page.get_by_test_id("new-encounter-dialog")
    expect(dialog).to_be_visible()

    page.get_by_test_id("new-encounter-submit").click()
    error = page.get_by_test_id("new-encounter-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("required")
    assert error.get_attribute("role") == "alert"
    expect(dialog).to_be_visible()
    expect(page.get_by_test_id("new-encounter-text")).to_be_focused()

    page.get_by_test_id("new-encounter-text").fill("   \n  ")  # blank is empty too
    page.keyboard.press("Control+Enter")
    expect(error).to_contain_text("required")
    expect(dialog).to_be_visible()
    assert posts == []
    assert page.url.endswith("#/worklist")

    # Escape cancels; focus goes back to the button.
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(button).to_be_focused()


def test_refusals_keep_what_was_typed(page, live_server, users):
    from playwright.sync_api import expect

    sign_in(page, live_server, users["coder"])
    dialog = open_dialog_with_key(page)
    text = page.get_by_test_id("new-encounter-text")
    error = page.get_by_test_id("new-encounter-error")

    # 413: a note over the server's limit (200,000 characters by default).
    long_note = ("Essential hypertension. " * 8400)[:200_001]
    text.fill(long_note)
    page.get_by_test_id("new-encounter-submit").click()
    expect(error).to_contain_text("200,000", timeout=30_000)
    expect(error).to_contain_text("CHARTCODER_MAX_NOTE_CHARS")
    expect(dialog).to_be_visible()
    assert text.input_value() == long_note
    expect(text).to_be_focused()
    expect(page.get_by_test_id("new-encounter-submit")).to_be_enabled()

    # 422: a field the server refuses; its message is readable and the note is still there.
    text.fill(NOTE)
    dialog.get_by_label("External id").fill("X" * 201)
    page.get_by_test_id("new-encounter-submit").click()
    expect(error).to_contain_text("external_id")
    expect(error).not_to_contain_text("[object Object]")
    expect(dialog.get_by_label("External id")).to_be_focused()
    assert text.input_value() == NOTE

    # Cancelled, then opened again: what was typed is back.
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    dialog = open_dialog_with_key(page)
    assert page.get_by_test_id("new-encounter-text").input_value() == NOTE
    assert page.url.endswith("#/worklist")


@pytest.mark.parametrize("role", ["admin", "biller"])
def test_new_encounter_is_offered_only_to_roles_that_may_create(page, live_server, users, biller, role):
    from playwright.sync_api import expect

    user = biller if role == "biller" else users["admin"]
    sign_in(page, live_server, user)
    if role == "admin":
        expect(page.get_by_test_id("new-encounter")).to_be_visible()
        return
    expect(page.get_by_test_id("new-encounter")).to_have_count(0)
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.keyboard.press("n")
    page.wait_for_timeout(200)
    expect(page.get_by_test_id("new-encounter-dialog")).to_have_count(0)
