"""The Model feedback view of the review page in headless Chromium: a data scientist opens it with the
keyboard and reads the acceptance rate over time per pack version (an inline SVG chart and its table),
the codes most often rejected and most often added by hand, with the numbers the API answers; a coder
neither sees it nor can open it.

Three finalized encounters of one note (the knowledge engine suggests E11.22, N18.32, I12.9, R00.2,
93000 and 99214 for it). A and B were suggested by an older pack version (its name is set in the
database, as an earlier deployment would have left it) and finalized on 16 and 18 November 2026, C by
the serving engine on 23 November:

- A: accept E11.22, N18.32; reject I12.9; add Z79.4  -> 2 of 3 accepted
- B: accept E11.22; reject R00.2 and I12.9; add Z79.4 -> 1 of 3
- C: accept E11.22, N18.32, I12.9, 99214; reject 93000 -> 4 of 5
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from server_support import create_user, sign_in
from test_accessibility import LOW_CONTRAST, UNNAMED

pytestmark = pytest.mark.browser

NOTE = (
    "Established patient seen for follow-up. Assessment: Type 2 diabetes mellitus with diabetic chronic kidney "
    "disease stage 3b. Essential hypertension. Procedure: ECG performed for palpitations. Total time 32 minutes."
)
OLD = "old@aaaaaaaaaaaa"
SYSTEM = {"93000": "CPT", "99214": "CPT"}


def _d(action: str, code: str, reason: str | None = None) -> dict:
    out = {"action": action, "code": code, "system": SYSTEM.get(code, "ICD-10-CM")}
    if reason:
        out["reason"] = reason
    return out


@pytest.fixture(scope="module")
def scientist(live_server):
    return create_user(live_server, "scientist1", "data_scientist")


@pytest.fixture(scope="module")
def reviewed(live_server, users):
    """Codes the three encounters through the API as the coder, then backdates them and names the
    older pack in the database. Answers the serving engine's model name."""
    from sqlalchemy import create_engine, update

    from chartcoder.store.review import Encounter, SuggestionSet

    plan = {
        "A": ([_d("accept", "E11.22"), _d("accept", "N18.32"), _d("reject", "I12.9", "not_documented")], 16, OLD),
        "B": (
            [_d("accept", "E11.22"), _d("reject", "R00.2", "negated"), _d("reject", "I12.9", "not_documented")],
            18,
            OLD,
        ),
        "C": (
            [_d("accept", c) for c in ("E11.22", "N18.32", "I12.9", "99214")] + [_d("reject", "93000", "other")],
            23,
            None,
        ),
    }
    engine = create_engine(live_server.database_url)
    model = None
    with sign_in(live_server, users["coder"]) as coder:
        for name, (decisions, day, pack) in plan.items():
            r = coder.post("/v1/encounters", json={"text": NOTE, "external_id": f"FEEDBACK-{name}"})
            assert r.status_code == 201, r.text
            enc = r.json()
            suggested = {s["code"] for s in enc["suggestion_set"]["suggestions"]}
            assert {"E11.22", "N18.32", "I12.9", "R00.2", "93000", "99214"} <= suggested, sorted(suggested)
            assert "Z79.4" not in suggested
            if name != "C":
                decisions = [*decisions, _d("add", "Z79.4")]
            r = coder.post(f"/v1/encounters/{enc['id']}/decisions", json={"version": 1, "decisions": decisions})
            assert r.status_code == 200, r.text
            r = coder.post(f"/v1/encounters/{enc['id']}/finalize", json={"version": r.json()["version"]})
            assert r.status_code == 200, r.text
            model = enc["suggestion_set"]["model"]
            with engine.begin() as conn:
                at = datetime(2026, 11, day, 14, tzinfo=UTC)
                conn.execute(update(Encounter).where(Encounter.id == enc["id"]).values(finalized_at=at))
                if pack:
                    conn.execute(
                        update(SuggestionSet).where(SuggestionSet.encounter_id == enc["id"]).values(model=pack)
                    )
    engine.dispose()
    return model


def sign_in_page(page, server, user) -> None:
    page.goto(server.base_url + "/")
    page.get_by_test_id("login-username").fill(user.username)
    page.get_by_test_id("login-password").fill(user.password)
    page.get_by_test_id("login-submit").click()
    page.locator("#worklist-title").wait_for()


def points(page) -> list[tuple[str, str, str]]:
    found = page.get_by_test_id("chart-point").evaluate_all(
        "els => els.map(e => [e.dataset.pack, e.dataset.period, e.dataset.rate])"
    )
    return [tuple(p) for p in found]


def test_a_data_scientist_reads_the_model_feedback(page, live_server, scientist, reviewed, api, artifacts_dir):
    from playwright.sync_api import expect

    serving = reviewed
    report = api(scientist).get("/v1/analytics/feedback").json()
    assert report["totals"]["accepted"] == 7 and report["totals"]["rejected"] == 4

    sign_in_page(page, live_server, scientist)
    expect(page.get_by_test_id("nav-feedback")).to_be_visible()
    page.keyboard.press("m")
    expect(page).to_have_url(re.compile(r"#/feedback$"))
    view = page.get_by_test_id("feedback-view")
    expect(view).to_be_visible()
    expect(page.get_by_test_id("feedback-rate")).to_contain_text("63.6% (7 of 11 decided)")
    expect(page.get_by_test_id("feedback-encounters")).to_contain_text("3")
    expect(page.get_by_test_id("feedback-added")).to_contain_text("2")

    # The chart: one line per pack version, a point per day with decisions, at the API's rates.
    chart = page.get_by_test_id("feedback-chart")
    expect(chart).to_be_visible()
    expect(page.get_by_test_id("chart-series")).to_have_count(2)
    api_points = [
        (s["pack"], p["period"], p["acceptance_rate"]) for s in report["over_time"]["series"] for p in s["points"]
    ]
    assert api_points == [(OLD, "2026-11-16", 0.6667), (OLD, "2026-11-18", 0.3333), (serving, "2026-11-23", 0.8)]
    assert points(page) == [(p, d, str(r)) for p, d, r in api_points]
    # Higher rate, higher point: the SVG's y grows downwards.
    ys = page.get_by_test_id("chart-point").evaluate_all(
        "els => els.map(e => e.firstElementChild.nextElementSibling.getBoundingClientRect().top)"
    )
    assert ys[2] < ys[0] < ys[1]
    name = chart.evaluate(
        "el => el.getAttribute('aria-labelledby').split(' ').map(id => document.getElementById(id).textContent)"
    )
    assert name[0] == "Acceptance rate by day, per pack version"
    assert "2026-11-16 66.7%" in name[1] and "2026-11-23 80.0%" in name[1]
    legend = page.get_by_test_id("chart-legend-item").evaluate_all("els => els.map(e => e.dataset.pack)")
    assert legend == [OLD, serving]

    # The same numbers as a table (the chart's accessible alternative).
    page.get_by_text("The chart's numbers as a table").click()
    rows = page.get_by_test_id("feedback-period-row")
    expect(rows).to_have_count(3)
    expect(rows.nth(1)).to_contain_text("2026-11-18")
    expect(rows.nth(1)).to_contain_text("33.3%")

    # Most rejected (ties: higher rejection rate, then system and code), most added by hand.
    rejected = page.get_by_test_id("top-rejected-row").evaluate_all(
        "els => els.map(e => [e.dataset.code, e.dataset.count])"
    )
    assert rejected == [[r["code"], str(r["rejected"])] for r in report["top_rejected"]]
    assert rejected[0] == ["I12.9", "2"]
    expect(page.get_by_test_id("top-rejected-row").first).to_contain_text("2 of 3")
    expect(page.get_by_test_id("top-rejected-row").first).to_contain_text("Not documented in the note (2)")
    added = page.get_by_test_id("top-added-row")
    expect(added).to_have_count(1)
    expect(added.first).to_have_attribute("data-code", "Z79.4")
    expect(added.first).to_have_attribute("data-count", "2")
    expect(added.first).to_contain_text("insulin")
    expect(page.locator(f'[data-testid=feedback-pack-row][data-pack="{OLD}"]')).to_contain_text("50.0%")
    expect(page.locator(f'[data-testid=feedback-pack-row][data-pack="{serving}"]')).to_contain_text("80.0%")

    assert page.evaluate(UNNAMED) == []
    assert page.evaluate(LOW_CONTRAST) == []
    page.screenshot(path=str(artifacts_dir / "feedback-view.png"), full_page=True)

    # By ISO week, then one pack version only: the filters go through the hash and the API.
    page.locator("#fb-bucket").select_option("week")
    expect(page).to_have_url(re.compile(r"#/feedback\?bucket=week$"))
    expect(page.get_by_test_id("chart-point")).to_have_count(2)
    assert points(page) == [(OLD, "2026-W47", "0.5"), (serving, "2026-W48", "0.8")]
    page.locator("#fb-pack").select_option(OLD)
    expect(page.get_by_test_id("chart-series")).to_have_count(1)
    expect(page.get_by_test_id("feedback-rate")).to_contain_text("50.0% (3 of 6 decided)")

    # g goes back to the worklist (keys do nothing while a field has focus).
    page.locator("#feedback-title").focus()
    page.keyboard.press("g")
    expect(page.locator("#worklist-title")).to_be_visible()
    assert page.blocked_requests == []  # type: ignore[attr-defined]


def test_a_coder_neither_sees_nor_opens_the_model_feedback(page, live_server, users, reviewed, api):
    from playwright.sync_api import expect

    sign_in_page(page, live_server, users["coder"])
    expect(page.get_by_test_id("nav-feedback")).to_be_hidden()
    page.keyboard.press("m")
    expect(page.locator("#worklist-title")).to_be_visible()
    assert "#/feedback" not in page.url
    page.goto(live_server.base_url + "/#/feedback")
    expect(page.get_by_test_id("feedback-denied")).to_contain_text("for data scientists and admins")
    expect(page.get_by_test_id("feedback-chart")).to_have_count(0)
    assert api(users["coder"]).get("/v1/analytics/feedback").status_code == 403


def test_the_help_lists_the_key_and_admins_see_the_view(page, live_server, users, reviewed):
    from playwright.sync_api import expect

    sign_in_page(page, live_server, users["admin"])
    page.keyboard.press("?")
    expect(page.locator("#help")).to_contain_text("model feedback")
    page.keyboard.press("Escape")
    page.get_by_test_id("nav-feedback").click()
    expect(page.get_by_test_id("chart-series")).to_have_count(2)
