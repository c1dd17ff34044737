"""FHIR in over HTTP: a DocumentReference or a Bundle becomes a review encounter (note text, setting,
date of service, patient, provider, payer); malformed resources answer a FHIR R4 OperationOutcome
(application/fhir+json, 4xx), never a 500."""

from __future__ import annotations

import json

import pytest
from app_support import signed_in_client
from fhir_samples import (
    DISCHARGE_NOTE,
    OFFICE_NOTE,
    b64,
    bundle,
    coverage,
    document_reference,
    encounter,
    patient,
    payer,
    practitioner,
)

KEY = "fhir-in-test-key-0123456789"
FHIR_JSON = {"Content-Type": "application/fhir+json"}


@pytest.fixture(scope="module")
def client(settings, service, tmp_path_factory):
    from chartcoder.config import Settings
    from chartcoder.store.database import ReviewStore

    db = tmp_path_factory.mktemp("fhir-in") / "review.db"
    store = ReviewStore(f"sqlite:///{db}")
    cfg = Settings(data_dir=settings.data_dir, database_url=f"sqlite:///{db}", api_keys=KEY, max_note_chars=5_000)
    with signed_in_client(cfg, service, store, ("coder", "biller")) as c:
        yield c
    store.dispose()


def post(client, resource, headers=None, raw: bytes | None = None):
    h = {"Authorization": f"Bearer {KEY}", **FHIR_JSON, **(headers or {})}
    body = raw if raw is not None else json.dumps(resource).encode()
    return client.post("/v1/fhir/encounters", content=body, headers=h)


def outcome(r, status: int) -> list[dict]:
    """The answer must be a valid R4 OperationOutcome with `status`; its issues."""
    from fhir.resources.R4B.operationoutcome import OperationOutcome

    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/fhir+json")
    OperationOutcome.model_validate(r.json())
    assert r.json()["resourceType"] == "OperationOutcome"
    return r.json()["issue"]


def test_a_document_reference_becomes_an_encounter_with_suggestions(client):
    r = post(client, document_reference(OFFICE_NOTE))
    assert r.status_code == 201, r.text
    enc = r.json()
    assert r.headers["location"] == f"/v1/encounters/{enc['id']}"
    assert enc["text"] == OFFICE_NOTE
    assert enc["setting"] == "outpatient" and enc["status"] == "open"
    assert enc["external_id"] == "enc-1"  # DocumentReference.context.encounter
    codes = {c["code"] for c in enc["codes"]}
    assert {"E11.22", "N18.32", "93000"} <= codes
    assert enc["warnings"] == []
    for sug in enc["suggestion_set"]["suggestions"]:  # offsets slice the decoded note
        for ev in sug["evidence"]:
            assert OFFICE_NOTE[ev["start"] : ev["end"]] == ev["text"]
    # ... and it is on the coders' worklist like any other encounter
    stored = client.get(f"/v1/encounters/{enc['id']}", headers=client.h("coder")).json()
    assert stored["text"] == OFFICE_NOTE


def test_a_bundle_carries_patient_encounter_practitioner_and_coverage(client):
    res = bundle(
        document_reference(DISCHARGE_NOTE),
        patient(),
        encounter("IMP", "2026-11-18T22:00:00Z"),
        practitioner(),
        coverage(),
        payer(),
    )
    r = post(client, res)
    assert r.status_code == 201, r.text
    enc = r.json()
    assert enc["setting"] == "inpatient"  # Encounter.class IMP
    assert enc["date_of_service"] == "2026-11-18"  # Encounter.period.start
    assert enc["external_id"] == "V-1001"  # Encounter.identifier
    assert enc["patient"] == {
        "id": "MRN-0001",
        "name": "Jane Testpatient",
        "sex": "F",
        "birth_date": "1958-03-14",
        "address": {"line1": "1 Elm St", "city": "Springfield", "state": "IL", "zip": "62701"},
    }
    assert enc["provider"] == {"npi": "1234567893", "name": "Doctor Test"}
    assert enc["payer"] == {"id": "60054", "name": "Aetna", "member_id": "W123456789"}
    assert "J18.9" in {c["code"] for c in enc["codes"]}


def test_html_notes_are_read_as_text_and_plain_text_wins_over_html(client):
    html = "<html><head><style>p{}</style></head><body><p>Assessment:</p><p>Essential hypertension.</p></body></html>"
    r = post(client, document_reference(content_type="text/html", data=b64(html)))
    assert r.status_code == 201, r.text
    assert r.json()["text"] == "Assessment:\n\nEssential hypertension."  # a paragraph: a blank line
    assert "I10" in {c["code"] for c in r.json()["codes"]}
    doc = document_reference(OFFICE_NOTE)
    doc["content"].insert(0, {"attachment": {"contentType": "text/html", "data": b64("<p>other</p>")}})
    assert post(client, doc).json()["text"] == OFFICE_NOTE


def test_several_documents_are_joined_oldest_first_and_errors_left_out(client):
    later = document_reference("Assessment: Essential hypertension.\n", rid="n2", date="2026-11-21T00:00:00Z")
    earlier = document_reference("Chief complaint: palpitations.\n", rid="n1", date="2026-11-19T00:00:00Z")
    wrong = document_reference("Assessment: Asthma.\n", rid="n3", status="entered-in-error")
    r = post(client, bundle(later, wrong, earlier))
    assert r.status_code == 201, r.text
    assert r.json()["text"] == "Chief complaint: palpitations.\n\n\nAssessment: Essential hypertension.\n"
    assert any("entered-in-error" in w for w in r.json()["warnings"])


def test_odd_but_valid_details_become_warnings_not_errors(client):
    pat = patient()
    pat["birthDate"] = "1958"
    res = bundle(document_reference(OFFICE_NOTE), pat, practitioner(npi="12345"), encounter("XYZ"))
    r = post(client, res)
    assert r.status_code == 201, r.text
    enc = r.json()
    assert "birth_date" not in enc["patient"] and "npi" not in enc["provider"]
    assert enc["setting"] == "outpatient"
    text = " ".join(enc["warnings"])
    assert "partial date" in text and "NPI" in text and "XYZ" in text


@pytest.mark.parametrize(
    ("body", "status", "expect"),
    [
        (b"{not json", 400, "not JSON"),
        (b"[1, 2]", 400, "expected a FHIR resource"),
        (json.dumps({"resourceType": "Patient", "id": "p"}).encode(), 400, "expected a DocumentReference or a Bundle"),
        (json.dumps({"text": "a note"}).encode(), 400, "no resourceType"),
    ],
)
def test_what_is_not_a_note_resource_is_a_400_operation_outcome(client, body, status, expect):
    issues = outcome(post(client, None, raw=body), status)
    assert expect in issues[0]["diagnostics"]


def test_malformed_resources_name_every_problem_and_where(client):
    doc = document_reference(OFFICE_NOTE)
    del doc["status"]
    issues = outcome(post(client, doc), 400)
    assert issues[0]["expression"] == ["DocumentReference.status"] and "required" in issues[0]["diagnostics"]
    doc = document_reference(OFFICE_NOTE)
    doc["content"][0]["attachment"]["bogus"] = 1
    doc["content"][0]["attachment"]["creation"] = "yesterday"
    issues = outcome(post(client, doc), 400)
    where = {e for i in issues for e in i.get("expression", [])}
    assert {
        "DocumentReference.content[0].attachment.bogus",
        "DocumentReference.content[0].attachment.creation",
    } <= where

    bad_status = document_reference(OFFICE_NOTE, status="final")
    issues = outcome(post(client, bundle(bad_status)), 400)
    assert issues[0]["expression"] == ["Bundle.entry[0].resource.status"]
    assert "current, entered-in-error, superseded" in issues[0]["diagnostics"]


@pytest.mark.parametrize(
    "data", ["@@@ this is not base64 @@@", "aGVsbG8", "!!!!", "aGVs@bG8="], ids=["words", "padding", "bangs", "one-bad"]
)
def test_base64_garbage_is_a_400_not_a_silently_shortened_note(client, data):
    issues = outcome(post(client, document_reference(data=data)), 400)
    assert "not valid base64" in issues[0]["diagnostics"]
    assert issues[0]["expression"] == ["DocumentReference.content[0].attachment.data"]


def test_bytes_that_are_not_text_are_a_400(client):
    issues = outcome(post(client, document_reference(data=b64(b"\xff\xfe\xfa binary"))), 400)
    assert "not valid utf-8 text" in issues[0]["diagnostics"]
    issues = outcome(post(client, document_reference(data=b64("a\x00b"))), 400)
    assert "NUL" in issues[0]["diagnostics"]
    doc = document_reference(OFFICE_NOTE)
    doc["id"] = "x\x00"
    assert "NUL" in outcome(post(client, doc), 400)[0]["diagnostics"]


def test_valid_fhir_without_a_readable_note_is_a_422(client):
    pdf = document_reference(content_type="application/pdf", data=b64(b"%PDF-1.4"))
    issues = outcome(post(client, pdf), 422)
    assert issues[0]["code"] == "not-supported" and "text/plain or text/html" in issues[0]["diagnostics"]
    by_url = document_reference(OFFICE_NOTE)
    by_url["content"][0]["attachment"] = {"contentType": "text/plain", "url": "https://ehr.example.org/Binary/1"}
    assert "does not fetch" in outcome(post(client, by_url), 422)[0]["diagnostics"]
    issues = outcome(post(client, bundle(patient(), encounter())), 422)
    assert "no DocumentReference" in issues[0]["diagnostics"]
    issues = outcome(post(client, document_reference("   \n ")), 422)
    assert "empty" in issues[0]["diagnostics"]


def test_too_long_wrong_type_and_wrong_role(client):
    issues = outcome(post(client, document_reference("word " * 2_000)), 413)
    assert issues[0]["code"] == "too-long" and "5,000" in issues[0]["diagnostics"]
    issues = outcome(post(client, document_reference(OFFICE_NOTE), headers={"Content-Type": "text/plain"}), 415)
    assert "application/fhir+json" in issues[0]["diagnostics"]
    r = client.post(
        "/v1/fhir/encounters",
        json=document_reference(OFFICE_NOTE),
        headers={**client.h("biller"), **FHIR_JSON},
    )
    assert r.status_code == 403 and "coder, ehr or admin" in r.json()["detail"]
    assert client.post("/v1/fhir/encounters", json=document_reference(OFFICE_NOTE)).status_code == 401


def test_lone_surrogates_and_deep_nesting_are_4xx_not_500(client):
    raw = json.dumps(document_reference(OFFICE_NOTE)).replace('"note-1"', '"\\ud800"').encode()
    issues = outcome(post(client, None, raw=raw), 400)
    assert "not valid Unicode" in issues[0]["diagnostics"] and issues[0]["expression"] == ["DocumentReference.id"]
    outcome(post(client, None, raw=b"[" * 20_000 + b"]" * 20_000), 400)
    deep: dict = {"x": 1}
    for _ in range(900):
        deep = {"x": deep}
    doc = document_reference(OFFICE_NOTE)
    doc["extension"] = [{"url": "urn:x", "valueString": "y", "deep": deep}]
    assert outcome(post(client, doc), 400)
