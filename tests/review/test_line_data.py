"""Issue 18 through the API, on SQLite and PostgreSQL: a coder sets each line's modifiers, units, NDC,
dose and pointers and the diagnosis order; an encounter made without a patient or payer is completed
with PATCH; the biller's 837P carries exactly what the coder set and passes pyx12. Bad input is a 4xx
naming what was expected."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

KNEE_NOTE = (
    "Established patient with type 2 diabetes on insulin and essential hypertension, here for left knee pain.\n"
    "Assessment: Primary osteoarthritis of the left knee. Type 2 diabetes mellitus without complications. "
    "Essential hypertension. Long term use of insulin.\n"
    "Procedure: Left knee joint injection with triamcinolone acetonide 40 mg.\n"
    "Diabetes and blood pressure reviewed separately; insulin dose adjusted. Total time 30 minutes.\n"
)
PATIENT = {
    "id": "MRN-77",
    "name": "Ann Kneepatient",
    "sex": "F",
    "birth_date": "1955-06-01",
    "address": {"line1": "2 Oak Ave", "city": "Springfield", "state": "IL", "zip": "62701"},
}
PAYER = {"id": "60054", "name": "Aetna", "member_id": "W987654321"}
ORDER = ["M17.12", "E11.9", "I10", "Z79.4"]
NDC = {"code": "00003-0293-05", "unit": "ML", "quantity": 1}


def _new(client: Any) -> dict[str, Any]:
    """An encounter as the page's New encounter dialog makes it: a note and a date, nothing else."""
    r = client.post(
        "/v1/encounters", headers=client.h("coder"), json={"text": KNEE_NOTE, "date_of_service": "2026-11-20"}
    )
    assert r.status_code == 201, r.text
    return r.json()


def _decide(client: Any, enc: dict[str, Any], decisions: list[dict[str, Any]]) -> Any:
    return client.post(
        f"/v1/encounters/{enc['id']}/decisions",
        headers=client.h("coder"),
        json={"version": enc["version"], "decisions": decisions},
    )


def _diagnoses() -> list[dict[str, Any]]:
    return [{"action": "add", "code": c, "system": "ICD-10-CM"} for c in ORDER]


def _lines() -> list[dict[str, Any]]:
    return [
        {"action": "add", "code": "99214", "system": "CPT", "modifiers": ["25"], "pointers": ["E11.9", "I10", "Z79.4"]},
        {"action": "add", "code": "20610-LT", "system": "CPT", "pointers": ["M17.12"]},
        {
            "action": "add",
            "code": "J3301",
            "system": "HCPCS",
            "units": 4,
            "pointers": ["m1712"],
            "ndc": NDC,
            "dose": {"amount": "40", "unit": "mg"},
        },
    ]


def _coded(enc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["code"]: c for c in enc["codes"] if c["state"] in ("accepted", "added")}


def test_the_knee_injection_goes_from_the_coders_lines_to_a_valid_837p(client):
    from chartcoder.billing.x12 import parse_837p, validate_837p

    enc = _new(client)
    r = _decide(client, enc, _diagnoses() + _lines())
    assert r.status_code == 200, r.text
    enc = r.json()
    coded = _coded(enc)
    assert coded["20610"]["modifiers"] == ["LT"] and coded["20610"]["pointers"] == ["M17.12"]
    assert coded["J3301"]["units"] == "4" and coded["J3301"]["pointers"] == ["M17.12"]
    assert coded["J3301"]["ndc"] == {"code": "00003-0293-05", "unit": "ML", "quantity": "1"}
    assert coded["J3301"]["dose"] == {"amount": "40", "unit": "mg"}
    assert coded["99214"]["modifiers"] == ["25"] and coded["99214"]["service_date"] is None
    assert "modifiers" not in coded["M17.12"]  # line data belongs to procedure codes only

    r = client.put(
        f"/v1/encounters/{enc['id']}/diagnosis-order",
        headers=client.h("coder"),
        json={"version": enc["version"], "diagnosis_order": ORDER},
    )
    assert r.status_code == 200, r.text
    enc = r.json()
    assert enc["diagnosis_order"] == ORDER

    # The page made it without a patient or payer: the biller (or coder) completes it afterwards.
    r = client.patch(
        f"/v1/encounters/{enc['id']}",
        headers=client.h("biller"),
        json={"version": enc["version"], "patient": PATIENT, "payer": PAYER},
    )
    assert r.status_code == 200, r.text
    enc = r.json()
    assert enc["patient"]["name"] == PATIENT["name"] and enc["payer"]["member_id"] == PAYER["member_id"]
    r = client.post(f"/v1/encounters/{enc['id']}/finalize", headers=client.h("coder"), json={"version": enc["version"]})
    assert r.status_code == 200, r.text

    b = client.h("biller")
    built = client.post(f"/v1/encounters/{enc['id']}/claim", headers=b)
    assert built.status_code == 201, built.text
    errors = [f for f in built.json()["findings"] if f["severity"] == "error"]
    assert errors == [] and built.json()["clean"] is True
    x12 = client.get(f"/v1/encounters/{enc['id']}/claim?format=837p", headers=b).text
    assert validate_837p(x12) == []
    parsed = parse_837p(x12)
    assert list(parsed.diagnoses) == ORDER
    got = [(line.code, line.modifiers, line.units, line.pointers) for line in parsed.lines]
    assert got == [
        ("99214", ("25",), Decimal(1), (2, 3, 4)),
        ("20610", ("LT",), Decimal(1), (1,)),
        ("J3301", (), Decimal(4), (1,)),
    ]
    drug = parsed.lines[2]
    assert (drug.ndc, drug.ndc_quantity, drug.ndc_unit) == ("00003029305", Decimal(1), "ML")
    assert drug.charge == Decimal("120.00")  # the fee (30.00) x 4 units
    assert "SV1*HC:20610:LT*" in x12 and "LIN**N4*00003029305" in x12
    # The FHIR Claim and the CMS-1500 agree with the 837P line by line.
    fhir = client.get(f"/v1/encounters/{enc['id']}/claim?format=fhir", headers=b).json()
    assert [d["diagnosisCodeableConcept"]["coding"][0]["code"] for d in fhir["diagnosis"]] == ORDER
    items = [
        (
            i["productOrService"]["coding"][0]["code"],
            tuple(m["coding"][0]["code"] for m in i.get("modifier", [])),
            Decimal(str(i["quantity"]["value"])),
            tuple(i["diagnosisSequence"]),
        )
        for i in fhir["item"]
    ]
    assert items == got
    assert fhir["item"][2]["detail"][0]["productOrService"]["coding"][0]["code"] == "00003029305"
    form = client.get(f"/v1/encounters/{enc['id']}/claim?format=cms1500", headers=b).json()
    assert [(f["24D"], f["24D_modifiers"], f["24G"], f["24E"]) for f in form["24"]] == [
        ("99214", ["25"], "1", "BCD"),
        ("20610", ["LT"], "1", "A"),
        ("J3301", [], "4", "A"),
    ]
    assert form["24"][2]["24_shaded"].startswith("N400003029305")

    events = client.get(f"/v1/encounters/{enc['id']}/audit", headers=b).json()["events"]
    lines = {e["detail"]["code"]: e["detail"].get("line") for e in events if e["action"] == "decision.add"}
    assert lines["20610"] == {"modifiers": ["LT"], "pointers": ["M17.12"]}
    assert lines["J3301"]["units"] == "4" and lines["J3301"]["ndc"]["code"] == "00003-0293-05"
    order = [e["detail"] for e in events if e["action"] == "encounter.diagnosis_order"]
    assert order[-1]["order"] == ORDER
    updated = [e["detail"] for e in events if e["action"] == "encounter.updated"]
    assert "payer.member_id" in updated[-1]["fields"]
    assert PAYER["member_id"] not in str(updated)  # the audit names fields, never their values


def test_the_claim_follows_the_coders_order_and_a_later_decision_replaces_the_line(client):
    enc = _new(client)
    enc = _decide(client, enc, _diagnoses() + _lines()[1:2]).json()  # 20610-LT, pointing at M17.12
    # Deciding again states the line in full: 20610 now carries RT and no pointer list.
    r = _decide(client, enc, [{"action": "accept", "code": "20610", "system": "CPT", "modifiers": ["RT"]}])
    assert r.status_code == 200, r.text
    line = _coded(r.json())["20610"]
    assert line["modifiers"] == ["RT"] and line["pointers"] is None
    # A rejected diagnosis leaves the stored order; coded again, it comes back to its place.
    enc = client.put(
        f"/v1/encounters/{enc['id']}/diagnosis-order",
        headers=client.h("coder"),
        json={"version": r.json()["version"], "diagnosis_order": ["I10", "E11.9"]},
    ).json()
    assert enc["diagnosis_order"] == ["I10", "E11.9"]
    r = _decide(client, enc, [{"action": "reject", "code": "I10", "system": "ICD-10-CM", "reason": "other"}])
    assert r.status_code == 200, r.text
    enc = r.json()
    assert enc["diagnosis_order"] == ["E11.9"]
    enc = _decide(client, enc, [{"action": "accept", "code": "I10", "system": "ICD-10-CM"}]).json()
    assert enc["diagnosis_order"] == ["I10", "E11.9"]
    r = client.put(
        f"/v1/encounters/{enc['id']}/diagnosis-order",
        headers=client.h("coder"),
        json={"version": enc["version"], "diagnosis_order": None},
    )
    assert r.status_code == 200 and r.json()["diagnosis_order"] is None


def _refused(r: Any, *words: str) -> str:
    assert r.status_code == 422, r.text
    text = r.text
    for w in words:
        assert w in text, (w, text)
    return text


def test_bad_line_data_is_refused_naming_what_was_expected(client):
    enc = _new(client)
    enc = _decide(client, enc, _diagnoses()).json()
    cases = [
        ({"action": "add", "code": "E11.9", "system": "ICD-10-CM", "units": 2}, ("CPT or HCPCS codes only",)),
        ({"action": "add", "code": "99214", "system": "CPT", "modifiers": ["LT"]}, ("never goes on E/M visit",)),
        ({"action": "add", "code": "20610", "system": "CPT", "modifiers": ["ZZ"]}, ("not in chartcoder's modifier",)),
        ({"action": "add", "code": "20610-LT-RT", "system": "CPT"}, ("LT and RT",)),
        ({"action": "add", "code": "20610", "system": "CPT", "modifiers": ["LT", "59", "76", "XS", "77"]}, ()),
        ({"action": "add", "code": "20610", "system": "CPT", "units": "1.5"}, ("whole units",)),
        ({"action": "add", "code": "J3301", "system": "HCPCS", "units": 0}, ("greater than 0",)),
        ({"action": "add", "code": "J3301", "system": "HCPCS", "ndc": {**NDC, "code": "0003-0293-05"}}, ("5-4-2",)),
        ({"action": "add", "code": "J3301", "system": "HCPCS", "ndc": {**NDC, "unit": "KG"}}, ("ML",)),
        ({"action": "add", "code": "J3301", "system": "HCPCS", "dose": {"amount": 40, "unit": "oz"}}, ("mg",)),
        ({"action": "add", "code": "20610", "system": "CPT", "service_date": "11/20/2026"}, ("YYYY-MM-DD",)),
        ({"action": "add", "code": "20610", "system": "CPT", "pointers": ["A", "B", "C", "D", "E"]}, ("at most 4",)),
        ({"action": "reject", "code": "E11.9", "system": "ICD-10-CM", "reason": "other", "units": 1}, ("CPT",)),
        ({"action": "add", "code": "20610", "system": "CPT", "pointers": ["M17.11"]}, ("points at M17.11",)),
    ]
    for decision, words in cases:
        _refused(_decide(client, enc, [decision]), *words)
    # A diagnosis a line points at cannot be rejected without re-pointing the line in the same batch.
    enc = _decide(client, enc, _lines()).json()
    reject = {"action": "reject", "code": "M17.12", "system": "ICD-10-CM", "reason": "other"}
    _refused(_decide(client, enc, [reject]), "20610 points at M17.12", "J3301 points at M17.12")
    repoint = [
        {"action": "accept", "code": "20610", "system": "CPT", "modifiers": ["LT"], "pointers": ["E11.9"]},
        {"action": "accept", "code": "J3301", "system": "HCPCS", "units": 4, "pointers": ["E11.9"]},
    ]
    assert _decide(client, enc, [reject, *repoint]).status_code == 200
    # The sequence names accepted or added diagnoses, each once.
    enc = client.get(f"/v1/encounters/{enc['id']}", headers=client.h("coder")).json()
    url = f"/v1/encounters/{enc['id']}/diagnosis-order"
    h = client.h("coder")
    _refused(client.put(url, headers=h, json={"version": enc["version"], "diagnosis_order": ["M17.12"]}), "M17.12")
    _refused(client.put(url, headers=h, json={"version": enc["version"], "diagnosis_order": ["I10", "I10"]}), "once")
    assert client.get(f"/v1/encounters/{enc['id']}", headers=h).json()["version"] == enc["version"]


def test_encounter_details_are_patched_checked_and_versioned(client):
    enc = _new(client)
    url = f"/v1/encounters/{enc['id']}"
    h = client.h("coder")
    v = enc["version"]
    bad = [
        ({"patient": {"address": {**PATIENT["address"], "state": "XX"}}}, "not a U.S. state"),
        ({"patient": {"birth_date": "1955-13-01"}}, "birth_date"),
        ({"patient": {"sex": "X"}}, "sex"),
        ({"provider": {"npi": "1234567890"}}, "not a valid NPI"),
        ({"provider": {"referring": {"npi": "12345"}}}, "npi"),
        ({"payer": {"member_id": "W1", "plan": "gold"}}, "Extra inputs"),
        ({}, "nothing to change"),
    ]
    for body, words in bad:
        _refused(client.patch(url, headers=h, json={"version": v, **body}), words)
    ok = {
        "version": v,
        "patient": PATIENT,
        "payer": PAYER,
        "provider": {"npi": "1234567893", "name": "Dana Render", "referring": {"npi": "1234567893", "name": "Ref Doc"}},
    }
    r = client.patch(url, headers=h, json=ok)
    assert r.status_code == 200, r.text
    enc = r.json()
    assert enc["version"] == v + 1 and enc["provider"]["referring"]["name"] == "Ref Doc"
    # A field sent as null is removed, the rest stays; a stale version is a 409.
    r = client.patch(url, headers=h, json={"version": enc["version"], "payer": {"name": None, "id": "99999"}})
    assert r.status_code == 200, r.text
    assert r.json()["payer"] == {"id": "99999", "member_id": PAYER["member_id"]}
    assert r.json()["patient"] == PATIENT
    assert client.patch(url, headers=h, json={"version": v, "payer": {"id": "1"}}).status_code == 409
    # The worklist's payer filter follows the new payer id.
    listed = client.get("/v1/encounters?payer=99999", headers=h).json()["items"]
    assert [e["id"] for e in listed] == [enc["id"]]
    # A data scientist reads but does not edit.
    assert (
        client.patch(url, headers=client.h("data_scientist"), json={"version": 9, "payer": {"id": "1"}}).status_code
        == 403
    )


def test_the_modifier_list_is_the_billing_table(client):
    from chartcoder.billing.line_rules import modifier_table

    r = client.get("/v1/review/modifiers", headers=client.h("coder"))
    assert r.status_code == 200
    assert {m["code"] for m in r.json()} == set(modifier_table().modifiers)
    assert next(m for m in r.json() if m["code"] == "LT")["wording"] == "left side of the body"
