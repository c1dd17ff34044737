"""Claims over HTTP on SQLite and PostgreSQL: a finalized encounter becomes a scrubbed claim, kept
with its findings, readable as JSON, 837P (valid by pyx12), FHIR R4B and CMS-1500; roles enforced."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

NOTE = (
    "Established patient seen for follow-up.\n"
    "Assessment: Type 2 diabetes mellitus with diabetic chronic kidney disease stage 3b. Essential hypertension.\n"
    "Procedure: ECG performed for palpitations.\nTotal time 32 minutes.\n"
)
PATIENT = {
    "name": "Jane Testpatient",
    "sex": "F",
    "birth_date": "1958-03-14",
    "address": {"line1": "1 Elm St", "city": "Springfield", "state": "IL", "zip": "62701"},
}
PAYER = {"id": "60054", "name": "Aetna", "member_id": "W123456789"}


def finalized(client, patient=PATIENT, payer=PAYER) -> str:
    h = client.h("coder")
    enc = client.post(
        "/v1/encounters",
        headers=h,
        json={"text": NOTE, "date_of_service": "2026-11-20", "patient": patient, "payer": payer},
    ).json()
    codes = {c["code"]: c for c in enc["codes"]}
    assert {"E11.22", "N18.32", "R00.2", "93000", "99214"} <= set(codes), sorted(codes)
    batch = [
        {"action": "accept", "code": k, "system": codes[k]["system"]}
        for k in ("E11.22", "N18.32", "R00.2", "93000", "99214")
    ]
    r = client.post(f"/v1/encounters/{enc['id']}/decisions", headers=h, json={"version": 1, "decisions": batch})
    assert r.status_code == 200, r.text
    assert client.post(f"/v1/encounters/{enc['id']}/finalize", headers=h, json={"version": 2}).status_code == 200
    return enc["id"]


def test_a_finalized_encounter_becomes_a_claim_in_every_format(client):
    from fhir.resources.R4B.claim import Claim as FhirClaim

    from chartcoder.billing.x12 import parse_837p, validate_837p

    eid = finalized(client)
    b = client.h("biller")
    assert client.get(f"/v1/encounters/{eid}/claim", headers=b).status_code == 404  # none built yet
    r = client.post(f"/v1/encounters/{eid}/claim", headers=b)
    assert r.status_code == 201, r.text
    built = r.json()
    assert built["clean"] is True and built["findings"] == []
    claim = built["claim"]
    assert [d["code"] for d in claim["diagnoses"]] == ["E11.22", "N18.32", "R00.2"]
    lines = {line["code"]: line for line in claim["lines"]}
    assert lines["93000"]["pointers"] == [3]  # the ECG was for the palpitations
    assert client.get(f"/v1/encounters/{eid}/claim", headers=client.h("coder")).json()["id"] == built["id"]

    x12 = client.get(f"/v1/encounters/{eid}/claim?format=837p", headers=b)
    assert x12.status_code == 200 and x12.headers["content-type"].startswith("application/edi-x12")
    assert validate_837p(x12.text) == []
    parsed = parse_837p(x12.text)
    assert list(parsed.diagnoses) == [d["code"] for d in claim["diagnoses"]]
    assert [(line.code, tuple(line.pointers), Decimal(line.charge)) for line in parsed.lines] == [
        (line["code"], tuple(line["pointers"]), Decimal(line["charge"])) for line in claim["lines"]
    ]
    fhir = client.get(f"/v1/encounters/{eid}/claim?format=fhir", headers=b)
    assert FhirClaim.model_validate(fhir.json()).total.value == float(claim["total_charge"])
    form = client.get(f"/v1/encounters/{eid}/claim?format=cms1500", headers=b).json()
    assert form["28"] == claim["total_charge"]
    html = client.get(f"/v1/encounters/{eid}/claim?format=cms1500-html", headers=b)
    assert html.headers["content-type"].startswith("text/html") and "93000" in html.text
    events = client.get(f"/v1/encounters/{eid}/audit", headers=b).json()["events"]
    assert events[-1]["action"] == "claim.built" and events[-1]["actor"]["username"] == "biller1"
    assert events[-1]["detail"]["clean"] is True


def test_claims_need_the_biller_role_a_finalized_encounter_and_billing_data(client):
    eid = finalized(client)
    for role in ("coder", "data_scientist"):
        assert client.post(f"/v1/encounters/{eid}/claim", headers=client.h(role)).status_code == 403
    assert client.get(f"/v1/encounters/{eid}/claim", headers=client.h("data_scientist")).status_code == 403
    assert client.post("/v1/encounters/enc_nope/claim", headers=client.h("biller")).status_code == 404
    assert client.get(f"/v1/encounters/{eid}/claim?format=pdf", headers=client.h("biller")).status_code == 422
    # no address, no member id: a 422 that lists both
    bare = finalized(client, patient={k: v for k, v in PATIENT.items() if k != "address"}, payer={"id": "60054"})
    r = client.post(f"/v1/encounters/{bare}/claim", headers=client.h("biller"))
    assert r.status_code == 422 and "patient.address" in r.json()["detail"] and "payer.member_id" in r.json()["detail"]
    # reopened: not billable until finalized again
    enc = client.get(f"/v1/encounters/{eid}", headers=client.h("coder")).json()
    client.post(
        f"/v1/encounters/{eid}/reopen", headers=client.h("coder"), json={"version": enc["version"], "reason": "fix"}
    )
    r = client.post(f"/v1/encounters/{eid}/claim", headers=client.h("admin"))
    assert r.status_code == 422 and "not finalized" in r.json()["detail"]


def test_a_claim_with_scrubber_errors_is_issued_in_no_format_unless_a_draft_is_asked_for(client, tmp_path):
    eid = finalized(client)
    h = client.h("coder")
    enc = client.get(f"/v1/encounters/{eid}", headers=h).json()
    client.post(f"/v1/encounters/{eid}/reopen", headers=h, json={"version": enc["version"], "reason": "add a code"})
    # a prostate diagnosis on a female patient's claim
    r = client.post(
        f"/v1/encounters/{eid}/decisions",
        headers=h,
        json={"version": enc["version"] + 1, "decisions": [{"action": "add", "code": "N40.0"}]},
    )
    assert r.status_code == 200, r.text
    client.post(f"/v1/encounters/{eid}/finalize", headers=h, json={"version": r.json()["version"]})
    built = client.post(f"/v1/encounters/{eid}/claim", headers=client.h("biller")).json()
    assert built["clean"] is False and "SEX_CONFLICT" in {f["edit"] for f in built["findings"]}
    b = client.h("biller")
    details = set()
    for fmt in ("837p", "fhir", "cms1500", "cms1500-html"):
        r = client.get(f"/v1/encounters/{eid}/claim?format={fmt}", headers=b)
        assert r.status_code == 422, (fmt, r.text)
        details.add(r.json()["detail"])
    (detail,) = details  # one rule, one message, whatever the format
    assert "1 scrubber error(s): SEX_CONFLICT" in detail and "draft=true" in detail
    # the stored record (the claim with its findings) stays readable: it is how the errors are seen
    record = client.get(f"/v1/encounters/{eid}/claim", headers=b).json()
    assert record["clean"] is False
    # asked for explicitly, a draft renders
    fhir = client.get(f"/v1/encounters/{eid}/claim?format=fhir&draft=true", headers=b)
    assert fhir.status_code == 200 and fhir.json()["resourceType"] == "Claim"
    assert client.get(f"/v1/encounters/{eid}/claim?format=837p&draft=true", headers=b).status_code == 200

    # the CLI refuses the same encounter with the same message (one function decides for both)
    (tmp_path / "enc.json").write_text(json.dumps(client.get(f"/v1/encounters/{eid}", headers=h).json()))
    exe = str(Path(sys.executable).parent / "chartcoder")
    env = {**os.environ, "COLUMNS": "1000", "NO_COLOR": "1"}
    for fmt in ("837p", "fhir"):
        cli = subprocess.run(
            [exe, "claim", "build", str(tmp_path / "enc.json"), "--format", fmt],
            capture_output=True,
            text=True,
            env=env,
        )
        assert cli.returncode == 1 and cli.stdout == "", cli.stderr
        assert detail in cli.stderr
    drafted = subprocess.run(
        [exe, "claim", "build", str(tmp_path / "enc.json"), "--format", "fhir", "--allow-errors"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert drafted.returncode == 0 and json.loads(drafted.stdout)["resourceType"] == "Claim", drafted.stderr


def test_each_stored_claim_is_its_own_interchange_and_reads_back_the_same(client):
    eid = finalized(client)
    b = client.h("biller")
    first = client.post(f"/v1/encounters/{eid}/claim", headers=b).json()
    one = client.get(f"/v1/encounters/{eid}/claim?format=837p", headers=b).text
    assert one == client.get(f"/v1/encounters/{eid}/claim?format=837p", headers=b).text  # same bytes again
    isa = one.split("~")[0].split("*")
    assert int(isa[13]) == first["control_number"] and isa[15] == "T"  # a development server marks test data
    second = client.post(f"/v1/encounters/{eid}/claim", headers=b).json()
    two = client.get(f"/v1/encounters/{eid}/claim?format=837p", headers=b).text
    assert int(two.split("~")[0].split("*")[13]) == second["control_number"] > first["control_number"]
    # built again: its own CLM01 (never the first one's with frequency 1), and the biller is told why
    assert second["claim"]["claim_id"] == first["claim"]["claim_id"][:18] + "R2"
    assert "REBUILT_CLAIM" in {f["edit"] for f in second["findings"]} and second["clean"]
    assert f"CLM*{second['claim']['claim_id']}*" in two


def test_inpatient_and_unroutable_payers_are_refused_plainly(client):
    h = client.h("coder")
    enc = client.post(
        "/v1/encounters",
        headers=h,
        json={
            "text": NOTE,
            "setting": "inpatient",
            "date_of_service": "2026-11-20",
            "patient": PATIENT,
            "payer": PAYER,
        },
    ).json()
    codes = [c for c in enc["codes"] if c["code"] in ("E11.22", "93000")]
    r = client.post(
        f"/v1/encounters/{enc['id']}/decisions",
        headers=h,
        json={
            "version": 1,
            "decisions": [{"action": "accept", "code": c["code"], "system": c["system"]} for c in codes],
        },
    )
    client.post(f"/v1/encounters/{enc['id']}/finalize", headers=h, json={"version": r.json()["version"]})
    r = client.post(f"/v1/encounters/{enc['id']}/claim", headers=client.h("biller"))
    assert r.status_code == 422 and "inpatient" in r.json()["detail"]
    # a payer known by name in the practice's list is routed by its id; an unknown name is refused
    known = finalized(client, payer={"name": "Aetna", "member_id": "W1"})
    built = client.post(f"/v1/encounters/{known}/claim", headers=client.h("biller")).json()
    assert built["claim"]["payer"]["payer_id"] == "60054"
    # a payer in neither the payer table nor the practice file is a finding that blocks the claim,
    # never a guess at commercial; a payer with neither id nor name is refused
    unknown = finalized(client, payer={"name": "Blue Cross of Somewhere", "member_id": "W1"})
    r = client.post(f"/v1/encounters/{unknown}/claim", headers=client.h("biller"))
    assert not r.json()["clean"] and "PAYER_UNKNOWN" in {f["edit"] for f in r.json()["findings"]}
    assert r.json()["claim"]["payer"]["claim_filing"] != "CI"
    nameless = finalized(client, payer={"member_id": "W1"})
    r = client.post(f"/v1/encounters/{nameless}/claim", headers=client.h("biller"))
    assert r.status_code == 422 and "payer.id" in r.json()["detail"]
