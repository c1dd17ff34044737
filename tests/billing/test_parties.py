"""The claim's parties (issue 18, billing part 2): a dependent on a parent's plan, a secondary claim
after the primary paid, corrections, the payer table, names with suffixes and letters outside
ASCII, long addresses, the auto-accident and referring-provider items; and control numbers that
differ between two `chartcoder claim build` runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from test_assembler import encounter

from chartcoder.billing.assembler import AssemblyError, PayerTable, assemble, load_fee_schedule, load_payers
from chartcoder.billing.assembler import load_practice as practice_file
from chartcoder.billing.claim import claim_from_dict, claim_to_dict
from chartcoder.billing.cms1500 import cms1500_fields
from chartcoder.billing.names import FoldError, fold_x12, split_name
from chartcoder.billing.scrubber import Scrubber
from chartcoder.billing.service import rebuilt
from chartcoder.billing.x12 import validate_837p, write_837p
from chartcoder.domain.errors import ResourceError

PARENT = {"name": "Maria Testparent", "birth_date": "1980-02-03", "sex": "F"}
MEDICARE = {"id": "00431", "member_id": "1EG4TE5MK73", "paid_amount": "60.00"}


@pytest.fixture(scope="module")
def practice():
    return practice_file()


@pytest.fixture(scope="module")
def fees():
    return load_fee_schedule()


@pytest.fixture(scope="module")
def scrubber():
    return Scrubber.default()


def segments(text: str) -> list[str]:
    return [s.strip() for s in text.split("~") if s.strip()]


def edits(scrubber: Scrubber, claim) -> set[str]:
    return {f.edit for f in scrubber.check(claim)}


# -- names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("John Smith Jr", ("Smith", "John", "JR")),
        ("John Smith Jr.", ("Smith", "John", "JR")),
        ("Smith Jr, John", ("Smith", "John", "JR")),
        ("Smith, John, III", ("Smith", "John", "III")),
        ("Mary Ann Lee III", ("Lee", "Mary Ann", "III")),
        ("Jane Q Testpatient", ("Testpatient", "Jane Q", None)),
        ("Ann Jr", ("Jr", "Ann", None)),  # two words are a first and a last name, never emptied
        ("AB II", ("II", "AB", None)),
    ],
)
def test_suffixes_are_split_off_the_name(name, parts):
    assert split_name(name) == parts


def test_letters_are_transliterated_never_dropped():
    assert fold_x12("Søren Ørsted") == ("SOREN ORSTED", True)
    assert fold_x12("Straße") == ("STRASSE", True)
    assert fold_x12("José Muñoz-Æbelø") == ("JOSE MUNOZ-AEBELO", True)
    assert fold_x12("Plain Name") == ("PLAIN NAME", False)
    with pytest.raises(FoldError, match="CYRILLIC"):
        fold_x12("Иванов")


def test_the_837p_carries_the_suffix_in_nm107_and_refuses_what_it_cannot_carry(practice, fees):
    claim = assemble(encounter(patient={**encounter()["patient"], "name": "Søren Ørsted Jr"}), practice, fees)
    assert (claim.subscriber.last_name, claim.subscriber.suffix) == ("Ørsted", "JR")
    text = write_837p(claim)
    assert "NM1*IL*1*ORSTED*SOREN***JR*MI*W123456789" in segments(text)
    assert validate_837p(text) == []
    assert cms1500_fields(claim)["2"] == "Ørsted JR, Søren"
    long_line = "1234 North Springfield Industrial Park Boulevard Apartment 9"
    far = assemble(encounter(patient={**encounter()["patient"], "address": {
        "line1": long_line, "city": "Springfield", "state": "IL", "zip": "62701"}}), practice, fees)  # fmt: skip
    with pytest.raises(ValueError, match="holds 55"):
        write_837p(far)
    assert "ADDRESS_LENGTH" in edits(Scrubber.default(), far)


# -- dependents and secondary claims ----------------------------------------------------------------


def test_a_dependent_on_a_parents_plan_gets_the_patient_loop(practice, fees, scrubber):
    payer = {"id": "60054", "member_id": "W555", "relationship": "child", "subscriber": PARENT}
    claim = assemble(encounter(payer=payer), practice, fees)
    assert claim.patient is not None and claim.relationship == "19"
    assert (claim.subscriber.last_name, claim.subscriber.member_id) == ("Testparent", "W555")
    assert edits(scrubber, claim) == set()
    text = write_837p(claim)
    segs = segments(text)
    assert "HL*2*1*22*1" in segs and "SBR*P********CI" in segs  # SBR02 blank: the subscriber is not the patient
    assert segs[segs.index("HL*3*2*23*0") + 1] == "PAT*19"
    assert "NM1*QC*1*TESTPATIENT*JANE Q" in segs
    assert validate_837p(text) == []
    form = cms1500_fields(claim)
    assert (form["4"], form["6"], form["2"]) == ("Testparent, Maria", "Child", "Testpatient, Jane Q")
    self_paid = assemble(encounter(), practice, fees)
    assert self_paid.patient is None and "SBR*P*18*******CI" in segments(write_837p(self_paid))
    with pytest.raises(AssemblyError, match="subscriber"):
        assemble(encounter(payer={"id": "60054", "member_id": "W5", "relationship": "spouse"}), practice, fees)


def test_a_secondary_claim_carries_the_primary_plan_and_what_it_paid(practice, fees, scrubber):
    secondary = {"id": "60054", "member_id": "W123456789", "group_number": "G77"}
    claim = assemble(encounter(payer=MEDICARE, secondary_payer=secondary, claim_to="secondary"), practice, fees)
    assert (claim.payer.name, claim.payer.responsibility) == ("Aetna", "S")
    assert claim.other_coverage is not None and claim.other_coverage.payer.claim_filing == "MB"
    assert edits(scrubber, claim) == set()
    text = write_837p(claim)
    segs = segments(text)
    assert "SBR*S*18*G77******CI" in segs
    at = segs.index("SBR*P*18*******MB")  # 2320: the primary, Medicare Part B
    assert segs[at + 1 : at + 3] == ["AMT*D*60", "OI***Y***Y"]
    assert "NM1*IL*1*TESTPATIENT*JANE Q****MI*1EG4TE5MK73" in segs  # 2330A
    assert "NM1*PR*2*MEDICARE PART B*****PI*00431" in segs  # 2330B
    assert at < segs.index("LX*1")
    assert validate_837p(text) == []
    form = cms1500_fields(claim)
    assert (form["11d"], form["9"], form["9a"], form["9d"], form["11"]) == (
        "YES", "Testpatient, Jane Q", "1EG4TE5MK73", "Medicare Part B", "G77")  # fmt: skip
    assert claim_from_dict(json.loads(json.dumps(claim_to_dict(claim)))) == claim
    # billed to Medicare as primary with a secondary plan: 11d YES, item 11 NONE, no paid amount
    primary = assemble(encounter(payer=MEDICARE, secondary_payer=secondary), practice, fees)
    assert primary.payer.responsibility == "P" and primary.other_coverage is not None
    assert primary.other_coverage.paid_amount is None
    assert (cms1500_fields(primary)["11"], cms1500_fields(primary)["11d"]) == ("NONE", "YES")
    assert validate_837p(write_837p(primary)) == []


def test_a_dependents_secondary_claim_with_a_referring_provider_passes_pyx12(practice, fees):
    primary = {**MEDICARE, "relationship": "spouse", "subscriber": PARENT}
    secondary = {"id": "60054", "member_id": "W123456789"}
    referring = {"name": "Ana Rivera", "npi": "1245319599"}
    claim = assemble(
        encounter(payer=primary, secondary_payer=secondary, claim_to="secondary", referring_provider=referring),
        practice,
        fees,
    )
    assert claim.patient is None and claim.other_coverage is not None
    assert claim.other_coverage.relationship == "01"
    segs = segments(write_837p(claim))
    assert "NM1*DN*1*RIVERA*ANA****XX*1245319599" in segs
    assert "SBR*P*01*******MB" in segs
    assert validate_837p(write_837p(claim)) == []
    assert (cms1500_fields(claim)["17"], cms1500_fields(claim)["17b"]) == ("DN Ana Rivera", "1245319599")


# -- payers ---------------------------------------------------------------------------------------


def test_an_unknown_payer_is_a_finding_never_commercial(practice, fees, scrubber, tmp_path):
    claim = assemble(encounter(payer={"id": "99999", "name": "Acme Health", "member_id": "A1"}), practice, fees)
    assert claim.payer.claim_filing != "CI" and not claim.payer.listed
    found = scrubber.check(claim)
    assert [(f.edit, f.severity) for f in found] == [("PAYER_UNKNOWN", "error")]
    table = tmp_path / "payers.csv"
    table.write_text("payer_id,name,claim_filing\n99999,Acme Health,HM\n60054,Aetna Better Health,MC\n")
    payers = load_payers(table, practice)
    listed = assemble(encounter(payer={"id": "99999", "member_id": "A1"}), practice, fees, payers=payers)
    assert (listed.payer.name, listed.payer.claim_filing, listed.payer.listed) == ("Acme Health", "HM", True)
    assert "SBR*P*18*******HM" in segments(write_837p(listed))
    # the table wins over the practice file; the practice file fills in what the table lacks
    assert payers.find("60054", None).claim_filing == "MC"
    assert payers.find("00431", None).claim_filing == "MB"
    assert PayerTable(practice.payers).find(None, "medicare part b").payer_id == "00431"
    table.write_text("payer_id,name,claim_filing\n1,No Filing,\n")
    with pytest.raises(ResourceError, match="claim_filing"):
        load_payers(table, practice)


# -- corrections ----------------------------------------------------------------------------------


def test_a_replacement_needs_the_payers_claim_number(practice, fees, scrubber):
    with pytest.raises(AssemblyError, match="payer_claim_number"):
        assemble(encounter(correction={"frequency": "7"}), practice, fees)
    with pytest.raises(AssemblyError, match="7 .replacement. or 8 .void."):
        assemble(encounter(correction={"frequency": "5"}), practice, fees)
    claim = assemble(encounter(correction={"frequency": "7", "payer_claim_number": "2026123400001"}), practice, fees)
    assert edits(scrubber, claim) == set()
    segs = segments(write_837p(claim))
    assert any(s.startswith("CLM*") and "*11:B:7*" in s for s in segs)
    assert "REF*F8*2026123400001" in segs
    assert validate_837p(write_837p(claim)) == []
    void = assemble(encounter(correction={"frequency": "8", "payer_claim_number": "2026123400001"}), practice, fees)
    assert cms1500_fields(void)["22"] == "8" and cms1500_fields(void)["22_original_ref"] == "2026123400001"


def test_a_claim_rebuilt_after_a_reopen_gets_its_own_claim_id(practice, fees, scrubber):
    first = assemble(encounter(), practice, fees)
    second, third = rebuilt(first, 1), rebuilt(first, 2)
    assert len({first.claim_id, second.claim_id, third.claim_id}) == 3
    assert second.claim_id.endswith("R2") and len(second.claim_id) <= 20
    assert third.extra["previous_claim_id"] == second.claim_id
    assert [f.edit for f in scrubber.check(second)] == ["REBUILT_CLAIM"]
    correction = assemble(encounter(correction={"frequency": "7", "payer_claim_number": "P1"}), practice, fees)
    assert rebuilt(correction, 1) == correction  # a replacement refers to the payer's number


# -- the auto accident ----------------------------------------------------------------------------


def test_an_auto_accident_cause_fills_10b_and_clm11(practice, fees):
    codes = [*encounter()["codes"], {"code": "V43.52XA", "system": "ICD-10-CM", "state": "added"}]
    claim = assemble(encounter(codes=codes, accident_state="IL"), practice, fees)
    form = cms1500_fields(claim)
    assert (form["10b"], form["10b_state"]) == ("YES", "IL")
    text = write_837p(claim)
    assert any(s.startswith("CLM*") and s.endswith("**AA:::IL") for s in segments(text))
    assert validate_837p(text) == []
    assert cms1500_fields(assemble(encounter(), practice, fees))["10b"] == "NO"
    fall = [*encounter()["codes"], {"code": "W19.XXXA", "system": "ICD-10-CM", "state": "added"}]
    assert cms1500_fields(assemble(encounter(codes=fall), practice, fees))["10b"] == "NO"


# -- control numbers through the CLI ----------------------------------------------------------------


def _control(text: str) -> tuple[str, str, str]:
    isa13 = re.search(r"^ISA(?:\*[^*]*){12}\*([0-9]{9})\*", text, re.M)
    gs06 = re.search(r"^GS(?:\*[^*]*){5}\*([0-9]+)\*", text, re.M)
    st02 = re.search(r"^ST\*837\*([0-9]+)\*", text, re.M)
    assert isa13 and gs06 and st02
    return isa13.group(1), gs06.group(1), st02.group(1)


def test_two_claims_built_by_the_cli_have_different_increasing_control_numbers(tmp_path):
    exe = str(Path(sys.executable).parent / "chartcoder")
    source = tmp_path / "enc.json"
    source.write_text(json.dumps(encounter()))
    env = {**os.environ, "CHARTCODER_DATABASE_URL": f"sqlite:///{tmp_path / 'cc.db'}"}
    numbers = []
    for n in range(2):
        out = tmp_path / f"claim{n}.x12"
        done = subprocess.run(
            [exe, "claim", "build", str(source), "--out", str(out)], capture_output=True, text=True, env=env
        )
        assert done.returncode == 0, done.stderr
        text = out.read_text()
        assert validate_837p(text) == []
        isa13, gs06, st02 = _control(text)
        assert int(isa13) == int(gs06) == int(st02)
        numbers.append(int(isa13))
    assert numbers[1] > numbers[0] >= 1
    assert Decimal(numbers[1] - numbers[0]) == 1


def test_the_fhir_claim_lists_both_plans_in_order_and_adjudicates_the_billed_one(practice, fees):
    from fhir.resources.R4B.claim import Claim as FhirClaim

    from chartcoder.billing.fhir import fhir_claim_json

    primary = {**MEDICARE, "relationship": "spouse", "subscriber": PARENT}
    claim = assemble(
        encounter(payer=primary, secondary_payer={"id": "60054", "member_id": "W1"}, claim_to="secondary"),
        practice,
        fees,
    )
    data = fhir_claim_json(claim)
    FhirClaim.model_validate(data)
    assert [(i["sequence"], i["focal"], i["coverage"]["reference"]) for i in data["insurance"]] == [
        (1, False, "#other-coverage"),
        (2, True, "#coverage"),
    ]
    contained = {r["id"]: r for r in data["contained"]}
    assert contained["other-coverage"]["subscriberId"] == "1EG4TE5MK73"
    assert contained["other-coverage"]["relationship"]["coding"][0]["code"] == "spouse"
    assert contained["other-payer"]["name"] == "Medicare Part B" and contained["coverage"]["order"] == 2
    alone = fhir_claim_json(assemble(encounter(), practice, fees))
    assert [(i["sequence"], i["focal"]) for i in alone["insurance"]] == [(1, True)]
