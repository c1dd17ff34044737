"""Claim assembly from a finalized encounter: sequencing, pointers from evidence, modifier 25, what
is missing, the practice and fee files; and `chartcoder claim build` on a real file."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from chartcoder.billing.assembler import (
    AssemblyError,
    assemble,
    load_fee_schedule,
    load_practice,
    sequence_diagnoses,
)
from chartcoder.billing.claim import claim_from_dict, claim_to_dict
from chartcoder.billing.scrubber import Scrubber
from chartcoder.billing.x12 import parse_837p, validate_837p, write_837p
from chartcoder.domain.errors import ResourceError

NOTE = (
    "Established patient seen for follow-up.\n"
    "Assessment: Type 2 diabetes mellitus with diabetic chronic kidney disease. CKD stage 3b. "
    "Hypertension. Seborrheic keratosis of the back, irritated.\n"
    "Procedure: shave removal of the irritated seborrheic keratosis. ECG performed for palpitations.\n"
    "Total time 32 minutes.\n"
)
PHRASES = {
    ("ICD-10-CM", "E11.22"): "Type 2 diabetes mellitus with diabetic chronic kidney disease",
    # hypertension with CKD is the combination code (guideline I.C.9.a.2), listed before N18.32 as its note says
    ("ICD-10-CM", "I12.9"): "Hypertension",
    ("ICD-10-CM", "N18.32"): "CKD stage 3b",
    ("ICD-10-CM", "L82.0"): "Seborrheic keratosis of the back, irritated",
    ("ICD-10-CM", "R00.2"): "palpitations",
    ("CPT", "99214"): "Total time 32 minutes",
    ("CPT", "11300"): "shave removal of the irritated seborrheic keratosis",
    ("CPT", "93000"): "ECG",
}


def encounter(accept=None, text: str = NOTE, **changes) -> dict:
    """A finalized encounter as the review API answers it, suggestions with real offsets."""
    suggestions = []
    for (system, code), phrase in PHRASES.items():
        start = text.find(phrase)
        evidence = [
            {"start": start, "end": start + len(phrase), "text": phrase, "assertion": "present", "section": None}
        ]
        suggestions.append(
            {
                "code": code,
                "system": system,
                "description": "",
                "score": 0.9,
                "evidence": evidence if start >= 0 else [],
            }
        )
    accept = accept if accept is not None else list(PHRASES)
    enc = {
        "id": "enc_0123456789abcdef01234567",
        "status": "finalized",
        "version": 4,
        "text": text,
        "setting": "outpatient",
        "date_of_service": "2026-11-20",
        "patient": {
            "name": "Jane Q Testpatient",
            "sex": "F",
            "birth_date": "1958-03-14",
            "address": {"line1": "1 Elm St", "city": "Springfield", "state": "IL", "zip": "62701"},
        },
        "payer": {"id": "60054", "name": "Aetna", "member_id": "W123456789"},
        "provider": {},
        "suggestion_set": {"suggestions": suggestions},
        "codes": [{"code": c, "system": s, "state": "accepted"} for s, c in accept],
    }
    enc.update(changes)
    return enc


@pytest.fixture(scope="module")
def practice():
    return load_practice()


@pytest.fixture(scope="module")
def fees():
    return load_fee_schedule()


def test_a_finalized_encounter_becomes_a_clean_valid_claim(practice, fees):
    claim = assemble(encounter(), practice, fees)
    assert [d.code for d in claim.diagnoses] == ["E11.22", "I12.9", "N18.32", "L82.0", "R00.2"]
    lines = {line.code: line for line in claim.lines}
    assert claim.lines[0].code == "99214"  # the visit first
    # each procedure points at the diagnosis named in its own sentence
    assert lines["11300"].pointers == (4,)  # the keratosis it removed
    assert lines["93000"].pointers == (5,)  # the palpitations the ECG was for
    assert lines["99214"].pointers == (1, 2, 3, 4)
    # the visit addressed diabetes, CKD and hypertension, which no procedure did: separately identifiable
    assert lines["99214"].modifiers == ("25",)
    assert lines["99214"].charge == fees.charge("99214") and claim.total_charge == sum(
        (fees.charge(c) for c in ("99214", "11300", "93000")), Decimal(0)
    )
    assert Scrubber.default().scrub(claim).findings == []
    x12 = write_837p(claim)
    assert validate_837p(x12) == []
    parsed = parse_837p(x12)
    assert [d for d in parsed.diagnoses] == [d.code for d in claim.diagnoses]
    assert [(line.code, line.modifiers, line.pointers) for line in parsed.lines] == [
        (line.code, line.modifiers, line.pointers) for line in claim.lines
    ]
    assert claim_from_dict(json.loads(json.dumps(claim_to_dict(claim)))) == claim


def test_no_modifier_25_when_the_visit_only_covers_the_procedures_diagnosis(practice, fees):
    text = (
        "Assessment: irritated seborrheic keratosis of the back. "
        "Procedure: shave removal of the keratosis. Total time 32 minutes."
    )
    phrases = {
        ("ICD-10-CM", "L82.0"): "irritated seborrheic keratosis of the back",
        ("CPT", "11300"): "shave removal of the keratosis",
        ("CPT", "99214"): "Total time 32 minutes",
    }
    enc = encounter(accept=list(phrases), text=text)
    enc["suggestion_set"]["suggestions"] = [
        {
            "code": c,
            "system": s,
            "score": 0.9,
            "evidence": [{"start": text.find(p), "end": text.find(p) + len(p), "text": p}],
        }
        for (s, c), p in phrases.items()
    ]
    claim = assemble(enc, practice, fees)
    em = next(line for line in claim.lines if line.code == "99214")
    assert em.modifiers == ()
    # and the scrubber says what to do about it
    assert {f.edit for f in Scrubber.default().scrub(claim).findings} == {"MODIFIER_25_MISSING"}


def test_code_first_conventions_order_the_diagnoses():
    # F02.80 (dementia in other diseases) is a manifestation: its etiology G30.9 comes first
    assert sequence_diagnoses(["F02.80", "G30.9"]) == ["G30.9", "F02.80"]
    # N18.32 says "code first ... diabetic CKD (E08.22-E13.22)": E11.22 goes before it
    assert sequence_diagnoses(["N18.32", "I10", "E11.22"])[0:2] == ["E11.22", "N18.32"]
    assert sequence_diagnoses(["I10", "E78.5"]) == ["I10", "E78.5"]  # no convention: the coder's order


def test_a_procedure_without_its_own_evidence_points_at_the_principal(practice, fees):
    enc = encounter()
    for s in enc["suggestion_set"]["suggestions"]:
        if s["code"] == "93000":
            s["evidence"] = []
    claim = assemble(enc, practice, fees)
    assert next(line for line in claim.lines if line.code == "93000").pointers == (1,)


@pytest.mark.parametrize(
    "change, needle",
    [
        ({"status": "open"}, "not finalized"),
        ({"patient": {"name": "Cher", "sex": "F", "birth_date": "1958-03-14"}}, "patient.name"),
        ({"payer": {"id": "60054"}}, "payer.member_id"),
        ({"date_of_service": None}, "date_of_service"),
        ({"codes": [{"code": "I10", "system": "ICD-10-CM", "state": "accepted"}]}, "no CPT or HCPCS"),
        ({"codes": [{"code": "99214", "system": "CPT", "state": "accepted"}]}, "no ICD-10-CM"),
        ({"codes": [{"code": "I10", "system": "ICD-10-CM", "state": "rejected"}]}, "no ICD-10-CM"),
    ],
)
def test_what_a_claim_lacks_is_said_plainly(practice, fees, change, needle):
    with pytest.raises(AssemblyError, match=needle):
        assemble(encounter(**change), practice, fees)


def test_a_code_without_a_fee_is_named(practice, tmp_path):
    (tmp_path / "fees.csv").write_text("code,modifier,charge\n99214,,200.00\n")
    with pytest.raises(AssemblyError, match=r"no fee for 11300, 93000"):
        assemble(encounter(), practice, load_fee_schedule(tmp_path / "fees.csv"))


def test_fee_schedule_and_practice_files_are_checked(tmp_path):
    bad = tmp_path / "fees.csv"
    bad.write_text("code,modifier,charge\n99214,,two hundred\n")
    with pytest.raises(ResourceError, match="line 2"):
        load_fee_schedule(bad)
    bad.write_text("code,modifier,charge\n99214,,-5\n")
    with pytest.raises(ResourceError, match="negative"):
        load_fee_schedule(bad)
    (tmp_path / "practice.yaml").write_text("billing_provider: {name: X}\n")
    with pytest.raises(ResourceError, match="npi"):
        load_practice(tmp_path / "practice.yaml")
    priced = tmp_path / "priced.csv"
    priced.write_text("code,modifier,charge\n20610,,150\n20610,RT,160.5\n")
    fees = load_fee_schedule(priced)
    assert fees.charge("20610") == Decimal("150.00") and fees.charge("20610", ("RT",)) == Decimal("160.50")


def test_cli_claim_build_writes_a_valid_837p_and_refuses_an_unclean_claim(tmp_path):
    exe = str(Path(sys.executable).parent / "chartcoder")
    good = tmp_path / "enc.json"
    good.write_text(json.dumps(encounter()))
    out = tmp_path / "claim.x12"
    done = subprocess.run(
        [exe, "claim", "build", str(good), "--format", "837p", "--out", str(out)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert validate_837p(out.read_text()) == []
    fhir = subprocess.run([exe, "claim", "build", str(good), "--format", "fhir"], capture_output=True, text=True)
    assert fhir.returncode == 0 and json.loads(fhir.stdout)["resourceType"] == "Claim"
    # a prostate diagnosis for a female patient: the scrubber's error stops the writing
    unclean = encounter(accept=[("ICD-10-CM", "N40.0"), ("CPT", "99214")])
    (tmp_path / "bad.json").write_text(json.dumps(unclean))
    refused = subprocess.run([exe, "claim", "build", str(tmp_path / "bad.json")], capture_output=True, text=True)
    assert refused.returncode == 1 and "SEX_CONFLICT" in refused.stderr and refused.stdout == ""
    # in every format, not only the 837P; --allow-errors (the explicit draft) writes it
    for fmt in ("json", "fhir", "cms1500", "cms1500-html"):
        also = subprocess.run(
            [exe, "claim", "build", str(tmp_path / "bad.json"), "--format", fmt], capture_output=True, text=True
        )
        assert also.returncode == 1 and "SEX_CONFLICT" in also.stderr and also.stdout == "", (fmt, also.stderr)
    draft = subprocess.run(
        [exe, "claim", "build", str(tmp_path / "bad.json"), "--format", "fhir", "--allow-errors"],
        capture_output=True,
        text=True,
    )
    assert draft.returncode == 0 and json.loads(draft.stdout)["resourceType"] == "Claim", draft.stderr
    (tmp_path / "odd.json").write_text(json.dumps({**encounter(), "patient": "x"}))
    odd = subprocess.run([exe, "claim", "build", str(tmp_path / "odd.json")], capture_output=True, text=True)
    assert odd.returncode == 2 and "Traceback" not in odd.stderr and "shape" in odd.stderr
    (tmp_path / "junk.json").write_text("{not json")
    junk = subprocess.run([exe, "claim", "build", str(tmp_path / "junk.json")], capture_output=True, text=True)
    assert junk.returncode == 2 and "not a JSON encounter" in junk.stderr


def test_ncci_and_mue_files_named_in_the_settings_are_used(tmp_path):
    from chartcoder.billing.service import ClaimBuilder
    from chartcoder.config import Settings

    fixtures = Path(__file__).with_name("fixtures")
    enc = encounter()
    enc["codes"].append({"code": "93010", "system": "CPT", "state": "added"})
    bare = ClaimBuilder(Settings(data_dir=tmp_path))
    assert "NCCI_PTP" not in {f["edit"] for f in bare.build(enc)[1]}  # no table loaded: nothing to find
    wired = ClaimBuilder(
        Settings(
            data_dir=tmp_path,
            ncci_ptp_files=str(fixtures / "ncci_ptp_practitioner.txt"),
            mue_file=fixtures / "mue_practitioner.csv",
        )
    )
    claim, findings = wired.build(enc)
    ptp = [f for f in findings if f["edit"] == "NCCI_PTP"]
    assert len(ptp) == 1 and "93010" in ptp[0]["message"] and ptp[0]["severity"] == "error"


# -- issue 18: what the coder sets on each line, and the diagnosis order ---------------------------

KNEE_NOTE = (
    "Follow-up of diabetes and hypertension, both stable on current medicines; refills sent.\n"
    "Left knee osteoarthritis: injected the left knee with triamcinolone 40 mg.\n"
)


def knee_encounter(**changes) -> dict:
    """Issue 18's case: a left-knee injection with 40 mg of triamcinolone (its NDC given), and a
    separately identifiable visit for diabetes and hypertension; the coder orders four diagnoses
    and points each line."""
    enc = encounter(text=KNEE_NOTE, accept=[])
    enc["suggestion_set"] = {"suggestions": []}
    enc["codes"] = [
        {"code": "E11.9", "system": "ICD-10-CM", "state": "accepted"},
        {"code": "I10", "system": "ICD-10-CM", "state": "accepted"},
        {"code": "M17.12", "system": "ICD-10-CM", "state": "added"},
        {"code": "Z79.4", "system": "ICD-10-CM", "state": "added"},
        {"code": "99214", "system": "CPT", "state": "accepted", "modifiers": ["25"],
         "pointers": ["E11.9", "I10", "Z79.4"]},
        {"code": "20610-LT", "system": "CPT", "state": "added", "pointers": ["M17.12"]},
        {
            "code": "J3301",
            "system": "HCPCS",
            "state": "added",
            "pointers": ["M17.12"],
            "dose": {"amount": "40", "unit": "mg"},
            "ndc": {"code": "00003-0293-05", "unit": "ML", "quantity": 1},
        },
    ]  # fmt: skip
    enc["diagnosis_order"] = ["M17.12", "E11.9", "I10", "Z79.4"]
    enc.update(changes)
    return enc


def test_the_coders_lines_reach_every_format(practice, fees):
    from chartcoder.billing.cms1500 import cms1500_fields
    from chartcoder.billing.fhir import fhir_claim_json

    claim = assemble(knee_encounter(), practice, fees)
    assert [d.code for d in claim.diagnoses] == ["M17.12", "E11.9", "I10", "Z79.4"]  # the coder's order
    em, knee, drug = claim.lines
    assert (em.code, em.modifiers, em.pointers) == ("99214", ("25",), (2, 3, 4))
    assert (knee.code, knee.modifiers, knee.pointers) == ("20610", ("LT",), (1,))
    assert (drug.code, drug.units, drug.charge) == ("J3301", Decimal(4), fees.charge("J3301") * 4)  # per 10 mg
    assert drug.ndc is not None and drug.ndc.code == "00003-0293-05"
    assert Scrubber.default().scrub(claim).findings == []
    x12 = write_837p(claim)
    assert validate_837p(x12) == []
    parsed = parse_837p(x12)
    assert parsed.diagnoses == ("M17.12", "E11.9", "I10", "Z79.4")
    assert [(x.code, x.modifiers, x.units, x.pointers, x.ndc) for x in parsed.lines] == [
        ("99214", ("25",), Decimal(1), (2, 3, 4), None),
        ("20610", ("LT",), Decimal(1), (1,), None),
        ("J3301", (), Decimal(4), (1,), "00003029305"),
    ]
    fhir = fhir_claim_json(claim)
    assert [(i["productOrService"]["coding"][0]["code"], [m["coding"][0]["code"] for m in i.get("modifier", [])],
             i["quantity"]["value"], i["diagnosisSequence"]) for i in fhir["item"]] == [
        ("99214", ["25"], 1, [2, 3, 4]), ("20610", ["LT"], 1, [1]), ("J3301", [], 4, [1])]  # fmt: skip
    form = cms1500_fields(claim)
    assert [(x["24D"], x["24D_modifiers"], x["24G"], x["24E"]) for x in form["24"]] == [
        ("99214", ["25"], "1", "BCD"), ("20610", ["LT"], "1", "A"), ("J3301", [], "4", "A")]  # fmt: skip
    assert form["24"][2]["24_shaded"] == "N400003029305 ML1"
    assert claim_from_dict(json.loads(json.dumps(claim_to_dict(claim)))) == claim


def test_the_coders_order_is_kept_and_the_scrubber_says_what_breaks_a_rule(practice, fees):
    """An explicit order is never re-sorted: a fall code first is refused by the scrubber
    (EXTERNAL_CAUSE_FIRST). Without an order the conventions move it, and say so (DIAGNOSIS_ORDER)."""
    codes = [
        {"code": "W19.XXXA", "system": "ICD-10-CM", "state": "added"},
        {"code": "S93.401A", "system": "ICD-10-CM", "state": "added"},
        {"code": "99213", "system": "CPT", "state": "added", "pointers": [1, 2]},
    ]
    ordered = assemble(encounter(codes=codes, diagnosis_order=["W19.XXXA", "S93.401A"]), practice, fees)
    assert [d.code for d in ordered.diagnoses] == ["W19.XXXA", "S93.401A"]
    assert {f.edit: f.severity for f in Scrubber.default().scrub(ordered).findings} == {"EXTERNAL_CAUSE_FIRST": "error"}
    moved = assemble(encounter(codes=codes), practice, fees)
    assert [d.code for d in moved.diagnoses] == ["S93.401A", "W19.XXXA"]
    [f] = Scrubber.default().scrub(moved).findings
    assert (f.edit, f.severity) == ("DIAGNOSIS_ORDER", "warning") and "S93.401A first instead of W19.XXXA" in f.message


def test_line_input_that_cannot_be_read_is_named(practice, fees):
    enc = knee_encounter(diagnosis_order=["M17.12", "R51.9"])
    enc["codes"][5] = {**enc["codes"][5], "pointers": ["M17.11"], "units": "two", "service_date": "yesterday"}
    enc["codes"][6] = {**enc["codes"][6], "dose": {"amount": "40", "unit": "spoonfuls"}}
    with pytest.raises(AssemblyError) as info:
        assemble(enc, practice, fees)
    message = str(info.value)
    for needle in ("points at 'M17.11'", "units 'two'", "service_date 'yesterday'", "dose must be", "names R51.9"):
        assert needle in message


def test_a_numeric_pointer_follows_its_diagnosis_when_the_conventions_re_sort(practice, fees):
    """The coder lists the fall first and points the visit at 1 (the fall) and the drug at 2: the
    conventions move the injury ahead of the fall, and the pointers move with the diagnoses."""
    codes = [
        {"code": "W19.XXXA", "system": "ICD-10-CM", "state": "added"},
        {"code": "S93.401A", "system": "ICD-10-CM", "state": "added"},
        {"code": "E11.22", "system": "ICD-10-CM", "state": "added"},
        {"code": "99213", "system": "CPT", "state": "added", "pointers": [1]},
        {"code": "93000", "system": "CPT", "state": "added", "pointers": [3, 2]},
    ]
    claim = assemble(encounter(codes=codes), practice, fees)
    codes_of = [d.code for d in claim.diagnoses]
    assert codes_of[0] == "S93.401A" and codes_of.index("W19.XXXA") > 0
    visit, ecg = claim.lines
    assert [codes_of[p - 1] for p in visit.pointers] == ["W19.XXXA"]
    assert [codes_of[p - 1] for p in ecg.pointers] == ["E11.22", "S93.401A"]


@pytest.mark.parametrize(
    ("dose", "needle"),
    [({"amount": "0", "unit": "mg"}, "dose amount must be a number more than zero"),
     ({"unit": "mg"}, "dose amount must be a number more than zero"),
     ({"amount": "-5", "unit": "mg"}, "dose amount must be a number more than zero"),
     ({"amount": "lots", "unit": "mg"}, "dose amount 'lots' is not a number")],
)  # fmt: skip
def test_a_dose_without_a_usable_amount_is_refused(practice, fees, dose, needle):
    enc = knee_encounter()
    enc["codes"][6] = {**enc["codes"][6], "dose": dose}
    with pytest.raises(AssemblyError) as info:
        assemble(enc, practice, fees)
    assert needle in str(info.value)


def test_a_per_dose_drug_without_a_dose_is_an_error(practice, fees):
    """J3301 with no dose would go out at one unit: the scrubber blocks it (UNITS_DOSE, error)."""
    enc = knee_encounter()
    enc["codes"][6] = {k: v for k, v in enc["codes"][6].items() if k != "dose"}
    claim = assemble(enc, practice, fees)
    assert claim.lines[2].units == 1
    [f] = Scrubber.default().scrub(claim).findings
    assert (f.edit, f.severity, f.line) == ("UNITS_DOSE", "error", 3)


@pytest.mark.parametrize(
    ("given", "modifiers"),
    [("LT", ("LT",)), ("lt, 59", ("LT", "59")), ("LT-59", ("LT", "59")), (["LT"], ("LT",)), ([], ())],
)
def test_modifiers_may_be_one_string(practice, fees, given, modifiers):
    enc = knee_encounter()
    enc["codes"][5] = {**enc["codes"][5], "code": "20610", "modifiers": given}
    assert assemble(enc, practice, fees).lines[1].modifiers == modifiers


def test_modifiers_of_another_shape_are_refused(practice, fees):
    enc = knee_encounter()
    enc["codes"][5] = {**enc["codes"][5], "modifiers": {"first": "LT"}}
    with pytest.raises(AssemblyError, match="modifiers must be a list"):
        assemble(enc, practice, fees)


def test_units_set_by_the_coder_win_and_a_wrong_dose_is_caught(practice, fees):
    enc = knee_encounter()
    enc["codes"][6] = {**enc["codes"][6], "units": 1}
    claim = assemble(enc, practice, fees)
    assert claim.lines[2].units == 1
    [f] = Scrubber.default().scrub(claim).findings
    assert f.edit == "UNITS_DOSE" and "4 units" in f.message


def test_cli_keeps_the_modifiers_of_an_encounter_file(tmp_path):
    """The encounter-file reader used to drop what a code carried; `20610-LT` now reaches the 837P."""
    exe = str(Path(sys.executable).parent / "chartcoder")
    path = tmp_path / "knee.json"
    path.write_text(json.dumps(knee_encounter()))
    done = subprocess.run([exe, "claim", "build", str(path), "--format", "837p"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (
        "SV1*HC:20610:LT*" in done.stdout and "SV1*HC:99214:25*" in done.stdout and "LIN**N4*00003029305" in done.stdout
    )
    assert validate_837p(done.stdout) == []
