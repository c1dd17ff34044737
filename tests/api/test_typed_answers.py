"""The answers that gained a response model are byte for byte what the services return, rendered as
JSON (the same fields, values and order): typing the API documented it and changed nothing a client
reads. Real app, real SQLite file, real suggestion engine; each answer is compared with the service's
own result read back right after it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

PASSWORD = "correct horse battery"
NOTE = (
    "Established patient seen for follow-up.\n"
    "Assessment: Type 2 diabetes mellitus with diabetic chronic kidney disease stage 3b. Essential hypertension.\n"
    "Procedure: ECG performed for palpitations.\nTotal time 32 minutes.\n"
)
PATIENT = {
    "name": "Jane Testpatient",
    "sex": "F",
    "birth_date": "1958-03-14",
    "address": {"line1": "1 Elm St", "line2": None, "city": "Springfield", "state": "IL", "zip": "62701"},
}
PAYER = {"id": "60054", "name": "Aetna", "member_id": "W123456789"}


def rendered(value: Any) -> bytes:
    """How the API rendered a service's result before the routes had response models."""
    return JSONResponse(jsonable_encoder(value)).body


@pytest.fixture(scope="module")
def api(tmp_path_factory, settings, service) -> Iterator[tuple[Any, TestClient, Any]]:
    from chartcoder.api.app import create_app
    from chartcoder.config import Settings

    folder = tmp_path_factory.mktemp("typed")
    s = Settings(data_dir=settings.data_dir, database_url=f"sqlite:///{folder / 'review.db'}", registry_poll_seconds=0)
    app = create_app(s, service_factory=lambda: service)
    review = app.state.review
    tokens = {}
    for role in ("coder", "biller", "data_scientist"):
        review.accounts.create_user(f"{role}1", PASSWORD, role)
        tokens[role] = review.accounts.sign_in(f"{role}1", PASSWORD)[1]
    with TestClient(app, raise_server_exceptions=False) as client:
        yield app, client, lambda role: {"Authorization": f"Bearer {tokens[role]}"}


def test_the_review_answers_are_the_services_results(api):
    app, client, h = api
    review = app.state.review
    r = client.post(
        "/v1/encounters",
        headers=h("coder"),
        json={"text": NOTE, "date_of_service": "2026-11-20", "patient": PATIENT, "payer": PAYER},
    )
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    assert r.content == rendered(review.get_encounter(eid))
    assert client.get(f"/v1/encounters/{eid}", headers=h("coder")).content == rendered(review.get_encounter(eid))
    codes = {c["code"]: c for c in r.json()["codes"]}
    wanted = ("E11.22", "N18.32", "R00.2", "93000", "99214")
    assert set(wanted) <= set(codes), sorted(codes)
    batch = [{"action": "accept", "code": k, "system": codes[k]["system"]} for k in wanted]
    other = next(c for c in codes.values() if c["code"] not in wanted)
    batch.append({"action": "reject", "code": other["code"], "system": other["system"], "reason": "not_documented"})
    batch.append({"action": "add", "code": "Z79.84", "system": "ICD-10-CM", "note": "on oral hypoglycemics"})
    r = client.post(f"/v1/encounters/{eid}/decisions", headers=h("coder"), json={"version": 1, "decisions": batch})
    assert r.status_code == 200, r.text
    assert r.content == rendered(review.get_encounter(eid))
    r = client.post(f"/v1/encounters/{eid}/finalize", headers=h("coder"), json={"version": 2})
    assert r.status_code == 200, r.text
    assert r.content == rendered(review.get_encounter(eid))
    assert r.json()["finalized_by"] == "coder1" and r.json()["patient"]["address"]["line2"] is None
    for query in ("status=all", "status=finalized&order=date", "status=open"):
        r = client.get(f"/v1/encounters?{query}", headers=h("coder"))
        args = dict(p.split("=") for p in query.split("&"))
        assert r.content == rendered(review.worklist(args["status"], order=args.get("order", "confidence")))
    r = client.get(f"/v1/encounters/{eid}/audit", headers=h("coder"))
    assert r.content == rendered({"events": review.audit_trail(eid)})

    r = client.post(f"/v1/encounters/{eid}/claim", headers=h("biller"))
    assert r.status_code == 201, r.text
    record, _ = app.state.billing.get_claim(eid)
    assert r.content == rendered(record)
    assert client.get(f"/v1/encounters/{eid}/claim", headers=h("biller")).content == rendered(record)

    from chartcoder.review.analytics import FeedbackAnalytics, FeedbackQuery

    r = client.get("/v1/analytics/feedback?bucket=week", headers=h("data_scientist"))
    assert r.status_code == 200, r.text
    assert r.content == rendered(FeedbackAnalytics(review.store).report(FeedbackQuery(bucket="week")))
    assert r.json()["totals"]["accepted"] >= 5 and r.json()["top_added"][0]["code"] == "Z79.84"
    assert r.json()["top_rejected"][0]["code"] == other["code"]


def test_code_details_and_the_registry_listing_are_unchanged(api):
    app, client, h = api
    from chartcoder.codes.lookup import show

    for system, code in (("ICD-10-CM", "E11.22"), ("ICD-10-CM", "S52.5"), ("CPT", "99214"), ("HCPCS", "G0439")):
        r = client.get(f"/v1/codes/{system}/{code}", headers=h("coder"))
        assert r.status_code == 200, r.text
        assert r.content == rendered(show(code, system, app.state.settings))
    r = client.get("/v1/models", headers=h("data_scientist"))
    assert r.status_code == 200, r.text
    serving = app.state.serving
    listing = {
        **serving.registry.listing(),
        "serving": serving.get().model_name,
        "serving_ref": serving.serving_ref,
        "last_error": serving.last_error,
    }
    assert r.content == rendered(listing)
