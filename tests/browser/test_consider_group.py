"""The review page shows the "consider" group apart from the proposal (issue 15, no confident guesses).

The server codes a synthetic note whose assessment names one diagnosis while the history mentions two
coexisting conditions: the assessment's code is the proposal, the history's are ranked below it as
"consider". The page must list the proposal first and open the consider group with its label, once.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

NOTE = """Chief complaint: cough.
History of present illness: 45-year-old with cough for 5 days. She also has asthma, well controlled, \
and seasonal allergic rhinitis.
Assessment and Plan:
1. Acute bronchitis. Supportive care.
"""


def test_consider_codes_are_listed_apart_below_the_proposal(page, live_server, users, api):
    from playwright.sync_api import expect

    coder = api(users["coder"])
    r = coder.post(
        "/v1/encounters",
        json={"external_id": "EHR-CONSIDER-1", "text": NOTE, "setting": "outpatient", "date_of_service": "2026-11-20"},
    )
    assert r.status_code == 201, r.text
    enc = r.json()
    groups = {s["code"]: s["group"] for s in enc["suggestion_set"]["suggestions"] if s["system"] == "ICD-10-CM"}
    assert groups.get("J20.9") == "suggested", groups
    assert groups.get("J45.909") == "consider", groups

    page.goto(live_server.base_url + "/")
    page.get_by_test_id("login-username").fill(users["coder"].username)
    page.get_by_test_id("login-password").fill(users["coder"].password)
    page.get_by_test_id("login-submit").click()
    page.locator(f'[data-testid=worklist-row][data-encounter-id="{enc["id"]}"]').click()
    page.locator("[data-testid=code-row]").first.wait_for()

    rows = page.locator("[data-testid=code-row]")
    order = [
        (rows.nth(i).get_attribute("data-code"), rows.nth(i).get_attribute("data-group")) for i in range(rows.count())
    ]
    first_consider = next(i for i, (_, g) in enumerate(order) if g == "consider")
    assert all(g == "suggested" for _, g in order[:first_consider]), order
    assert all(g == "consider" for _, g in order[first_consider:]), order
    assert ("J20.9", "suggested") in order[:first_consider]
    label = page.get_by_test_id("consider-label")
    expect(label).to_have_count(1)
    # The label sits inside the first consider row, so a coder sees where the proposal ends.
    expect(rows.nth(first_consider).get_by_test_id("consider-label")).to_be_visible()
