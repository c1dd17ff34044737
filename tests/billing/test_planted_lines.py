"""Planted errors for the sequencing, party and line-level edits (issue 18): each case is one error
written from the edit's definition (the guideline or rule named beside it) into an otherwise clean
claim, and must be caught by exactly the edit meant for it. With the 32 cases of test_scrubber.py
this makes the planted-error suite; `test_the_suite_is_big_enough` counts both. Valid claims - a
left-knee injection with its drug and NDC, a preventive and a problem visit with 25, a dependent in
Puerto Rico, a replacement claim - raise nothing, and their 837Ps pass pyx12."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from test_assembler import encounter
from test_scrubber import CLEAN_LINES, DOS, MUE_FILE, PLANTED, PTP_FILE, TODAY, line, make_claim

from chartcoder.billing.assembler import assemble, load_fee_schedule, load_practice
from chartcoder.billing.claim import Address, Claim, Dose, Ndc, OtherCoverage, Payer, Person, Provider, ServiceLine
from chartcoder.billing.ncci import load_mue, load_ptp
from chartcoder.billing.scrubber import EDIT_IDS, Scrubber
from chartcoder.billing.x12 import parse_837p, parse_837p_claims, validate_837p, write_837p

KNEE = ("M17.12",)
MEDICARE = Payer("Medicare Part B", "MCRB1", claim_filing="MB")
MEDICAID = Payer("State Medicaid", "MCD01", claim_filing="MC")
KENALOG_NDC = Ndc("00003029305", "ML", Decimal(1))


def clean_lines() -> list[ServiceLine]:
    return [line(code, charge, ptrs) for code, charge, ptrs in CLEAN_LINES]


def with_address(claim: Claim, role: str, state: str) -> Claim:
    """The claim with one party's address moved to `state`."""
    if role == "billing":
        p = claim.billing_provider
        assert p.address is not None
        return replace(claim, billing_provider=replace(p, address=replace(p.address, state=state)))
    s = claim.subscriber
    assert s.address is not None
    return replace(claim, subscriber=replace(s, address=replace(s.address, state=state)))


def paid_by(payer: Payer, diagnoses: tuple[str, ...], lines: list[ServiceLine]) -> Claim:
    return replace(make_claim(diagnoses, lines), payer=payer)


def dependent(state: str = "PR") -> Claim:
    """A child on a parent's plan (2000C patient loop), living in `state`."""
    claim = make_claim(("J06.9",), [line("99213", "100", (1,))])
    child = Person("Doe", "Sam", date(2018, 6, 1), "F", address=Address("1 Calle Sol", "San Juan", state, "00901"))
    return replace(claim, patient=child, relationship="19")


def secondary(**kw: Any) -> Claim:
    """A claim to a commercial secondary plan after Medicare paid 60.00 as primary (2320/2330A/2330B)."""
    claim = make_claim(("J06.9",), [line("99213", "100", (1,))])
    primary = OtherCoverage(
        replace(MEDICARE, responsibility="P"), replace(claim.subscriber, member_id="1EG4TE5MK73"), "18",
        paid_amount=Decimal("60.00"),
    )  # fmt: skip
    return replace(claim, payer=replace(claim.payer, responsibility="S"), other_coverage=primary, **kw)


def renamed(claim: Claim, last: str, first: str = "Pat", line1: str | None = None) -> Claim:
    s = claim.subscriber
    assert s.address is not None
    address = replace(s.address, line1=line1) if line1 else s.address
    return replace(claim, subscriber=replace(s, last_name=last, first_name=first, address=address))


def drug(code: str = "J3301", units: int = 4, **kw: Any) -> ServiceLine:
    kw.setdefault("dose", Dose(Decimal(40), "mg"))
    return line(code, "10", (1,), units=Decimal(units), system="HCPCS", **kw)


def injection(*mods: str, units: int = 1) -> ServiceLine:
    return line("20610", "120", (1,), modifiers=mods, units=Decimal(units))


def assembled_unordered(diagnoses: list[str]) -> Claim:
    """The claim the assembler builds for an encounter whose coder listed `diagnoses` in that order
    without a diagnosis_order, one visit pointing at all of them: the conventions set the order."""
    codes = [{"code": c, "system": "ICD-10-CM", "state": "added"} for c in diagnoses]
    codes.append({"code": "99214", "system": "CPT", "state": "added", "pointers": list(diagnoses)})
    enc = encounter(codes=codes, date_of_service=DOS.isoformat())
    return assemble(enc, load_practice(), load_fee_schedule())


@dataclass(frozen=True)
class Planted:
    name: str
    edit: str
    claim: Claim
    definition: str
    severity: str = "error"


PLANTED_LINES: tuple[Planted, ...] = (
    # -- sequencing (ICD-10-CM guidelines) --
    Planted("Z34 on a 70-year-old woman", "AGE_CONFLICT",
            make_claim(("Z34.00",), [line("99214", "150", (1,))], sex="F", birth_date=date(1956, 1, 5)),
            "pregnancy supervision applies at child-bearing ages (age_sex_rules.yaml, pregnancy-status)"),
    Planted("weeks of gestation at 10", "AGE_CONFLICT",
            make_claim(("Z34.00", "Z3A.20"), [line("99214", "150", (1, 2))], sex="F", birth_date=date(2016, 1, 5)),
            "the same rule, below its youngest age"),
    Planted("external cause first (a fall)", "EXTERNAL_CAUSE_FIRST",
            make_claim(("W19.XXXA", "S93.401A"), [line("99214", "150", (1, 2))]), "I.C.20: never first-listed"),
    Planted("place of occurrence first", "EXTERNAL_CAUSE_FIRST",
            make_claim(("Y92.009", "S93.401A"), [line("99214", "150", (1, 2))]), "I.C.20: Y92 is an external cause"),
    Planted("activity code first", "EXTERNAL_CAUSE_FIRST",
            make_claim(("Y93.01", "S61.210A", "W25.XXXA"), [line("99214", "150", (1, 2, 3))]),
            "I.C.20: Y93 is an external cause"),
    Planted("conventions moved a code the coder did not order (warning)", "DIAGNOSIS_ORDER",
            assembled_unordered(["F02.80", "G30.9"]), "the assembler's note on what the conventions moved",
            "warning"),
    Planted("Z00.00 as a secondary code", "FIRST_LISTED_ONLY",
            make_claim(("I10", "Z00.00"), [line("99214", "150", (1, 2))]), "I.C.21.c.16: Z00 first only"),
    Planted("Z00.01 as a secondary code", "FIRST_LISTED_ONLY",
            make_claim(("E11.9", "Z00.01"), [line("99214", "150", (1, 2))]), "I.C.21.c.16: Z00 first only"),
    Planted("routine prenatal visit listed second", "FIRST_LISTED_ONLY",
            make_claim(("E66.9", "Z34.00"), [line("99214", "150", (1, 2))], sex="F", birth_date=date(1995, 1, 5)),
            "I.C.21.c.16: Z34 first only"),
    Planted("I10 with N18.30", "COMBINATION_CODE",
            make_claim(("I10", "N18.30"), [line("99214", "150", (1, 2))]), "I.C.9.a.2: I12.- replaces I10"),
    Planted("N18.4 with I10 after it", "COMBINATION_CODE",
            make_claim(("N18.4", "I10"), [line("99214", "150", (1, 2))]), "I.C.9.a.2, in either order"),
    Planted("I10 with I50.9", "COMBINATION_CODE",
            make_claim(("I10", "I50.9"), [line("99214", "150", (1, 2))]), "I.C.9.a.1: I11.0 replaces I10"),
    # -- visits --
    Planted("preventive and problem visit, no 25", "PREVENTIVE_PROBLEM_25",
            make_claim(("Z00.00", "I10"), [line("99396", "200", (1,)), line("99213", "100", (2,))]),
            "CPT preventive medicine guidelines: the problem visit carries 25"),
    Planted("wellness visit and problem visit to Medicare, no 25", "PREVENTIVE_PROBLEM_25",
            paid_by(MEDICARE, ("Z00.00", "I10"),
                    [line("G0439", "180", (1,), system="HCPCS"), line("99213", "100", (2,))]),
            "the same rule for Medicare's annual wellness visit"),
    # -- duplicate lines --
    Planted("the same lab line twice", "DUPLICATE_LINE", make_claim(lines=[*clean_lines(), line("80061", "40", (3,))]),
            "same code, day and modifiers"),
    Planted("the same injection twice on the same side", "DUPLICATE_LINE",
            make_claim(KNEE, [injection("LT"), injection("LT")]), "same code, day and side"),
    # -- parties --
    Planted("subscriber state XX", "ADDRESS_STATE", with_address(make_claim(), "subscriber", "XX"), "N402 state"),
    Planted("billing provider state ZZ", "ADDRESS_STATE", with_address(make_claim(), "billing", "ZZ"), "N402 state"),
    Planted("dependent patient state QQ", "ADDRESS_STATE", dependent("QQ"), "N402 state in the 2000C loop"),
    # -- frequency --
    Planted("replacement without the payer's claim number", "FREQUENCY_CODE", make_claim(frequency="7"),
            "frequency 7 needs REF*F8"),
    Planted("void without the payer's claim number", "FREQUENCY_CODE", make_claim(frequency="8"),
            "frequency 8 needs REF*F8"),
    Planted("frequency 6", "FREQUENCY_CODE", make_claim(frequency="6"), "professional claims use 1, 7 or 8"),
    # -- modifiers --
    Planted("LT on an office visit", "MODIFIER_INVALID",
            make_claim(lines=[line("99214", "150", (1, 2, 3), modifiers=("LT",))]), "a visit has no side"),
    Planted("LT and RT on one line", "MODIFIER_INVALID", make_claim(("M17.0",), [injection("LT", "RT")]),
            "one line, one side (50 or two lines)"),
    Planted("25 on a joint injection", "MODIFIER_INVALID", make_claim(KNEE, [injection("25", "LT")]),
            "25 goes on visits only"),
    Planted("QW on a joint injection", "MODIFIER_INVALID", make_claim(KNEE, [injection("QW", "LT")]),
            "QW goes on waived tests only"),
    Planted("91 on an office visit", "MODIFIER_INVALID",
            make_claim(lines=[line("99214", "150", (1, 2, 3), modifiers=("91",))]), "91 goes on lab tests only"),
    Planted("five modifiers", "MODIFIER_INVALID", make_claim(KNEE, [injection("LT", "59", "XS", "GA", "KX")]),
            "a line holds four"),
    Planted("a modifier repeated", "MODIFIER_INVALID", make_claim(KNEE, [injection("LT", "LT")]), "once each"),
    Planted("a one-character modifier", "MODIFIER_INVALID",
            make_claim(lines=[line("99214", "150", (1, 2, 3), modifiers=("2",))]), "two characters"),
    Planted("finger modifier on a knee injection", "MODIFIER_INVALID", make_claim(KNEE, [injection("F1")]),
            "digit modifiers never go on a large joint"),
    Planted("59 on an office visit", "MODIFIER_INVALID",
            make_claim(lines=[line("99214", "150", (1, 2, 3), modifiers=("59",))]), "NCCI: 59 never on E/M"),
    Planted("TC on an office visit", "MODIFIER_INVALID",
            make_claim(lines=[line("99214", "150", (1, 2, 3), modifiers=("TC",))]), "a visit has no split"),
    Planted("50 on a vaccine administration", "MODIFIER_INVALID",
            make_claim(("Z23",), [line("90471", "25", (1,), modifiers=("50",))]), "no bilateral administration"),
    Planted("a modifier not in the table (warning)", "MODIFIER_INVALID",
            make_claim(lines=[line("99214", "150", (1, 2, 3), modifiers=("ZZ",))]), "unknown to the table", "warning"),
    Planted("83036 to Medicare without QW (warning)", "QW_MISSING",
            paid_by(MEDICARE, ("E11.9",), [line("83036", "25", (1,))]), "Medicare and CLIA waiver", "warning"),
    # -- units and drugs --
    Planted("J3301 x1 for 40 mg", "UNITS_DOSE", make_claim(KNEE, [injection("LT"), drug(units=1)]),
            "per 10 mg: 40 mg is 4 units"),
    Planted("J1100 x4 for 10 mg", "UNITS_DOSE",
            make_claim(KNEE, [injection("LT"), drug("J1100", 4, dose=Dose(Decimal(10), "mg"))]),
            "per 1 mg: 10 mg is 10 units"),
    Planted("J3420 x2 for 1000 mcg", "UNITS_DOSE",
            make_claim(("D51.0",), [line("96372", "25", (1,)), drug("J3420", 2, dose=Dose(Decimal(1000), "mcg"))]),
            "up to 1000 mcg: one unit"),
    Planted("one and a half lipid panels", "UNITS_DOSE",
            make_claim(lines=[line("99214", "150", (1, 2)), line("80061", "40", (3,), units=Decimal("1.5"))]),
            "whole units except mileage"),
    Planted("a per-mg drug dosed in mL", "UNITS_DOSE",
            make_claim(KNEE, [injection("LT"), drug(units=1, dose=Dose(Decimal(1), "mL"))]), "mL is not mg"),
    Planted("a per-dose drug with no dose", "UNITS_DOSE", make_claim(KNEE, [injection("LT"), drug(dose=None)]),
            "units cannot be checked"),
    Planted("NDC with 10 digits", "NDC",
            make_claim(KNEE, [injection("LT"), drug(ndc=Ndc("0003-0293-05", "ML", Decimal(1)))]), "11 digits 5-4-2"),
    Planted("NDC unit MG", "NDC", make_claim(KNEE, [injection("LT"), drug(ndc=Ndc("00003029305", "MG", Decimal(1)))]),
            "F2, GR, ME, ML or UN"),
    Planted("NDC quantity zero", "NDC",
            make_claim(KNEE, [injection("LT"), drug(ndc=Ndc("00003029305", "ML", Decimal(0)))]), "quantity > 0"),
    Planted("unclassified drug without NDC", "NDC",
            make_claim(KNEE, [injection("LT"), line("J3490", "10", (1,), system="HCPCS")]), "J3490 names no drug"),
    Planted("drug to Medicaid without NDC", "NDC", paid_by(MEDICAID, KNEE, [injection("LT"), drug()]),
            "Medicaid drug rebate program"),
    # -- parties (issue 18, billing part 2) --
    Planted("a payer in neither the payer table nor the practice file", "PAYER_UNKNOWN",
            replace(make_claim(), payer=Payer("Acme Health", "ACME9", claim_filing="ZZ", listed=False)),
            "unknown payer: its filing indicator is never guessed"),
    Planted("Søren Ørsted (warning: sent as SOREN ORSTED)", "NAME_CHARACTERS",
            renamed(make_claim(), "Ørsted", "Søren"), "X12 basic character set, transliterated", "warning"),
    Planted("a name in Cyrillic", "NAME_CHARACTERS", renamed(make_claim(), "Иванов"),
            "no transliteration: refused, never dropped"),
    Planted("an address line of 60 characters", "ADDRESS_LENGTH",
            renamed(make_claim(), "Doe", line1="1234 North Springfield Industrial Park Boulevard Apartment 9"),
            "N301 holds 55 characters"),
    Planted("a secondary claim without the primary plan", "OTHER_COVERAGE",
            replace(make_claim(), payer=replace(make_claim().payer, responsibility="S")), "2320 for the payer ahead"),
    Planted("a claim rebuilt after a reopen (warning)", "REBUILT_CLAIM",
            replace(make_claim(), claim_id="PCN0001R2", extra={"previous_claim_id": "PCN0001"}),
            "a new CLM01; a replacement if the first was sent", "warning"),
    # -- NCCI and MUE (the CMS layouts; our fixture rows) --
    Planted("MUE per line: three knee injections on one line", "MUE_UNITS",
            make_claim(KNEE, [injection("LT", units=3)]), "indicator 1, value 2"),
    Planted("NCCI indicator 1 pair without a modifier", "NCCI_PTP",
            make_claim(KNEE, [injection("LT"), line("20605", "90", (1,), modifiers=("LT",))]),
            "20610/20605, modifier indicator 1: the same side is the same site"),
    Planted("NCCI indicator 0 pair with 59", "NCCI_PTP",
            make_claim(lines=[*clean_lines(), line("93000", "40", (2,)), line("93005", "20", (2,), modifiers=("59",))]),
            "modifier indicator 0: no modifier bypasses it"),
)  # fmt: skip


@pytest.fixture(scope="module")
def scrubber() -> Scrubber:
    return Scrubber.default(ncci=load_ptp(PTP_FILE), mue=load_mue(MUE_FILE), today=TODAY)


def test_the_suite_is_big_enough():
    names = [case.name for case in PLANTED_LINES]
    assert len(set(names)) == len(names)
    assert len(PLANTED) + len(PLANTED_LINES) >= 44
    assert {case.edit for case in PLANTED_LINES} | {e for e, _ in PLANTED.values()} == set(EDIT_IDS)


@pytest.mark.parametrize("case", PLANTED_LINES, ids=[c.name for c in PLANTED_LINES])
def test_planted_error_caught_by_exactly_its_edit(scrubber, case):
    findings = scrubber.check(case.claim)
    assert {f.edit for f in findings} == {case.edit}, [f.to_dict() for f in findings]
    assert {f.severity for f in findings} == {case.severity}
    for f in findings:
        assert f.message and f.fix


def test_the_whole_suite_catches_at_least_40(scrubber):
    caught = sum(
        1 for intended, claim in PLANTED.values() if intended in {f.edit for f in scrubber.check(claim)}
    ) + sum(1 for case in PLANTED_LINES if case.edit in {f.edit for f in scrubber.check(case.claim)})
    assert caught >= 40
    assert caught == len(PLANTED) + len(PLANTED_LINES)  # today every planted error is caught


# -- valid claims stay clean ------------------------------------------------------------------------


def knee_injection() -> Claim:
    """Issue 18's claim: a left-knee injection with 40 mg of triamcinolone and its NDC, and a
    separately identifiable visit for two other problems the same day."""
    return make_claim(
        ("M17.12", "E11.9", "I10"),
        [
            line("99214", "150", (2, 3), modifiers=("25",)),
            injection("LT"),
            drug(ndc=KENALOG_NDC),
        ],
    )


VALID: dict[str, Claim] = {
    "knee injection with drug, dose and NDC": knee_injection(),
    "both knees on two lines": make_claim(("M17.0",), [injection("LT"), injection("RT")]),
    "preventive and problem visit with 25": make_claim(
        ("Z00.00", "I10"), [line("99396", "200", (1,)), line("99213", "100", (2,), modifiers=("25",))]
    ),
    "hypertensive CKD coded as the combination": make_claim(("I12.9", "N18.30"), [line("99214", "150", (1, 2))]),
    "external cause after the injury": make_claim(("S93.401A", "W19.XXXA"), [line("99214", "150", (1, 2))]),
    "a repeat lab with 91": make_claim(lines=[*clean_lines(), line("80061", "40", (3,), modifiers=("91",))]),
    "NCCI indicator 1 pair with XS": make_claim(KNEE, [injection("LT"), line("20605", "90", (1,), modifiers=("XS",))]),
    "Medicare A1c with QW": paid_by(MEDICARE, ("E11.9",), [line("83036", "25", (1,), modifiers=("QW",))]),
    "Medicaid drug with NDC and dose": paid_by(MEDICAID, KNEE, [injection("LT"), drug(ndc=KENALOG_NDC)]),
    "dependent in Puerto Rico": dependent("PR"),
    "replacement with the payer's claim number": make_claim(frequency="7", extra={"original_reference": "PAYER123456"}),
    "four modifiers": make_claim(KNEE, [injection("LT", "GA", "KX", "59")]),
    "secondary claim after Medicare paid": secondary(),
    "secondary claim for a dependent with a referring provider": replace(
        secondary(),
        patient=dependent().patient,
        relationship="19",
        referring_provider=Provider(npi="1245319599", last_name="Rivera", first_name="Ana", organization=False),
    ),  # fmt: skip
    "subscriber with a suffix": replace(make_claim(), subscriber=replace(make_claim().subscriber, suffix="JR")),
    "one drug from two NDCs on two lines": make_claim(
        KNEE,
        [
            injection("LT"),
            drug(units=2, dose=Dose(Decimal(20), "mg"), ndc=KENALOG_NDC),
            drug(units=2, dose=Dose(Decimal(20), "mg"), ndc=Ndc("00003049320", "ML", Decimal(1))),
        ],
    ),
}


@pytest.mark.parametrize("name", list(VALID))
def test_valid_claims_raise_nothing(scrubber, name):
    assert scrubber.check(VALID[name]) == [], [f.to_dict() for f in scrubber.check(VALID[name])]


@pytest.mark.parametrize("name", list(VALID))
def test_valid_claims_pass_pyx12(name):
    text = write_837p(VALID[name], created=datetime(2026, 3, 10, 9, 30))
    assert validate_837p(text) == []
    parsed = parse_837p(text)
    claim = VALID[name]
    assert [(p.code, p.modifiers, p.units, p.pointers) for p in parsed.lines] == [
        (x.code, x.modifiers, x.units, x.pointers) for x in claim.lines
    ]
    assert parsed.diagnoses == tuple(d.code for d in claim.diagnoses)


def test_the_unit_fix_clears_the_finding(scrubber):
    """The fix the UNITS_DOSE finding gives, applied, leaves the claim clean."""
    case = next(c for c in PLANTED_LINES if c.name == "J3301 x1 for 40 mg")
    [f] = scrubber.check(case.claim)
    assert "4 units" in f.fix and f.line == 2
    fixed = replace(case.claim, lines=[case.claim.lines[0], replace(case.claim.lines[1], units=Decimal(4))])
    assert scrubber.check(fixed) == []


@pytest.mark.parametrize("modifier", ["TC", "26"])
def test_split_pathology_takes_tc_and_26_but_a_clinical_lab_test_takes_no_tc(scrubber, modifier):
    """Surgical pathology (88305) is billed split, the slide preparation (TC) by one party and the
    reading (26) by another; a clinical lab test such as a lipid panel (80061) has no technical
    component to split off."""
    pathology = make_claim(KNEE, [line("88305", "90", (1,), modifiers=(modifier,))])
    assert [f for f in scrubber.check(pathology) if f.edit == "MODIFIER_INVALID"] == []
    assert validate_837p(write_837p(pathology, created=datetime(2026, 3, 10, 9, 30))) == []
    lab = make_claim(KNEE, [line("80061", "40", (1,), modifiers=("TC",))])
    assert [f.line for f in scrubber.check(lab) if f.edit == "MODIFIER_INVALID"] == [1]


# -- a claim split over several 837P claims (more than 12 diagnoses) -------------------------------

TWELVE = ("S93.401A", "E78.5", "J45.909", "M17.11", "K21.9", "F17.210", "R07.9", "I25.10", "E11.9", "J06.9",
          "M54.50", "R51.9")  # fmt: skip


def split_claim(last: str, *, pointers: tuple[int, ...] = (13,), first: str = "S93.401A") -> Claim:
    """Thirteen diagnoses: twelve pointed by the first three lines (the first part), the 13th
    (`last`) by a fourth line, so it goes out on a second claim with that line's diagnoses."""
    lines = [
        line("99214", "150", (1, 2, 3, 4)),
        line("80061", "40", (5, 6, 7, 8)),
        line("83036", "25", (9, 10, 11, 12)),
        line("81002", "10", pointers),
    ]
    return make_claim((first, *TWELVE[1:], last), lines)


def part_firsts(claim: Claim) -> list[str]:
    text = write_837p(claim, created=datetime(2026, 3, 10, 9, 30))
    assert validate_837p(text) == []
    return [part.diagnoses[0] for part in parse_837p_claims(text)]


def test_a_later_part_led_by_an_external_cause_code_is_an_error(scrubber):
    """Guideline I.C.20 holds for every claim sent: the fall code, listed 13th after the injury on
    the whole claim, would lead the second claim alone (HI*ABK:W19XXXA)."""
    claim = split_claim("W19.XXXA")
    assert part_firsts(claim) == ["S93.401A", "W19.XXXA"]
    errors = [f for f in scrubber.check(claim) if f.severity == "error"]
    assert [(f.edit, f.diagnosis) for f in errors] == [("EXTERNAL_CAUSE_FIRST", 13)]
    assert "PCN0001-2" in errors[0].message
    # the fix: the line also points at the injury the fall explains, which then leads the part
    fixed = split_claim("W19.XXXA", pointers=(1, 13))
    assert part_firsts(fixed) == ["S93.401A", "S93.401A"]
    assert {f.edit for f in scrubber.check(fixed)} == {"TOO_MANY_DIAGNOSES"}


def test_a_later_part_led_by_a_manifestation_code_is_an_error(scrubber):
    """Alzheimer's disease first on the whole claim, the dementia it causes (F02.80, a manifestation)
    13th: alone on the second claim it would be listed first, which ICD-10-CM never allows."""
    claim = split_claim("F02.80", first="G30.9")
    assert part_firsts(claim) == ["G30.9", "F02.80"]
    errors = [f for f in scrubber.check(claim) if f.severity == "error"]
    assert [(f.edit, f.diagnosis) for f in errors] == [("MANIFESTATION_FIRST", 13)]
    fixed = split_claim("F02.80", first="G30.9", pointers=(1, 13))
    assert part_firsts(fixed) == ["G30.9", "G30.9"]
    assert {f.edit for f in scrubber.check(fixed)} == {"TOO_MANY_DIAGNOSES"}


def test_the_planted_reorder_is_the_assemblers():
    """The DIAGNOSIS_ORDER case is built by the assembler: the coder listed the dementia (F02.80, a
    manifestation) first; its code-first note puts Alzheimer's disease ahead, and the claim says so."""
    case = next(c for c in PLANTED_LINES if c.edit == "DIAGNOSIS_ORDER")
    assert [d.code for d in case.claim.diagnoses] == ["G30.9", "F02.80"]
    assert "G30.9" in case.claim.extra["resequenced"] and "F02.80" in case.claim.extra["resequenced"]
    assert case.claim.lines[0].pointers == (2, 1)  # the visit still points at F02.80 then G30.9
