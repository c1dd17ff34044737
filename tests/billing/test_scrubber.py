"""The claim scrubber: a clean claim raises nothing; each planted error is caught by exactly the
edit meant for it; the NCCI PTP and MUE loaders read the CMS layouts (our fixtures) with their
dates and modifier rules; the age/sex rule file is checked against its schema."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from chartcoder.billing.claim import Address, Claim, Diagnosis, Payer, Person, Provider, ServiceLine
from chartcoder.billing.ncci import PTP_MODIFIERS, load_mue, load_ptp, load_ptp_files
from chartcoder.billing.scrubber import (
    EDIT_IDS,
    CodeRef,
    Finding,
    Scrubber,
    is_procedure,
    load_age_sex_rules,
    npi_valid,
    parse_code_refs,
)
from chartcoder.codes.icd10cm import icd10cm
from chartcoder.domain.errors import CodeFileError, ResourceError

FIXTURES = Path(__file__).parent / "fixtures"
PTP_FILE = FIXTURES / "ncci_ptp_practitioner.txt"
MUE_FILE = FIXTURES / "mue_practitioner.csv"

TODAY = date(2026, 3, 10)
DOS = date(2026, 3, 2)
BILLING_NPI = "1245319599"
RENDERING_NPI = "1003000126"

# -- claim factory (our own; tests/billing/conftest.py belongs to the writers' tests) ---------------

CLEAN_DIAGNOSES = ("E11.9", "I10", "E78.5")
CLEAN_LINES: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("99214", "150.00", (1, 2, 3)),
    ("83036", "25.00", (1,)),
    ("80061", "40.00", (3,)),
)


def line(code: str, charge: str = "50.00", pointers: tuple[int, ...] = (1,), **kw: Any) -> ServiceLine:
    kw.setdefault("service_date", DOS)
    return ServiceLine(code=code, charge=Decimal(charge), pointers=pointers, **kw)


def make_claim(
    diagnoses: tuple[str, ...] | list[str] = CLEAN_DIAGNOSES,
    lines: list[ServiceLine] | None = None,
    *,
    sex: str = "M",
    birth_date: date = date(1970, 5, 1),
    billing_npi: str = BILLING_NPI,
    rendering_npi: str = RENDERING_NPI,
    **kw: Any,
) -> Claim:
    if lines is None:
        lines = [line(code, charge, ptrs) for code, charge, ptrs in CLEAN_LINES]
    address = Address("100 Main St", "Springfield", "IL", "627011234")
    return Claim(
        claim_id="PCN0001",
        billing_provider=Provider(
            npi=billing_npi,
            name="Springfield Family Practice",
            taxonomy="207Q00000X",
            tax_id="371234567",
            address=address,
            contact_name="Billing Office",
            contact_phone="2175550100",
        ),  # fmt: skip
        rendering_provider=Provider(npi=rendering_npi, last_name="Lee", first_name="Ann", organization=False),
        subscriber=Person("Doe", "Pat", birth_date, sex, member_id="W123456789", address=address),
        payer=Payer("Acme Health", "ACME1"),
        diagnoses=[Diagnosis(c) for c in diagnoses],
        lines=lines,
        **kw,
    )


def with_lines(*extra: ServiceLine, diagnoses: tuple[str, ...] = CLEAN_DIAGNOSES, **kw: Any) -> Claim:
    base = [line(code, charge, ptrs) for code, charge, ptrs in CLEAN_LINES]
    return make_claim(diagnoses, [*base, *extra], **kw)


@pytest.fixture(scope="module")
def ptp():
    return load_ptp(PTP_FILE)


@pytest.fixture(scope="module")
def mue():
    return load_mue(MUE_FILE)


@pytest.fixture(scope="module")
def scrubber(ptp, mue):
    return Scrubber.default(ncci=ptp, mue=mue, today=TODAY)


def ids(findings: list[Finding]) -> set[str]:
    return {f.edit for f in findings}


# -- the clean claim ------------------------------------------------------------------------------


def test_clean_claim_raises_no_finding(scrubber):
    result = scrubber.scrub(make_claim())
    assert result.findings == []
    assert result.clean


def test_every_edit_runs_by_default(scrubber):
    assert [e.id for e in scrubber.edits] == list(EDIT_IDS)
    assert len(EDIT_IDS) == 32


# -- planted errors: each caught by exactly its edit ----------------------------------------------

TOO_MANY = (
    "E11.9", "I10", "E78.5", "J45.909", "K21.9", "M54.50", "F41.1", "G47.33", "E66.9", "R51.9", "Z79.4",
    "N39.0", "H52.4",
)  # fmt: skip

PLANTED: dict[str, tuple[str, Claim]] = {
    "invalid code": ("ICD_INVALID", make_claim(("E11.9", "I10.9", "E78.5"))),
    "header code": ("ICD_NOT_BILLABLE", make_claim(("E11.9", "I10", "E78.0"))),
    "excludes1 type 1 and type 2 diabetes": (
        "EXCLUDES1",
        make_claim(
            ("E11.9", "I10", "E78.5", "E10.9"),
            [line("99214", "150", (1, 2, 3, 4)), line("83036", "25", (1,))],
        ),
    ),
    "excludes1 from the second code's note (E08-E13 with .42)": (
        "EXCLUDES1",
        make_claim(("E11.42", "G63"), [line("99214", "150", (1, 2))]),
    ),
    "newborn code on an adult": (  # first-listed, as guideline I.C.21.c.16 wants Z38
        "AGE_CONFLICT",
        make_claim(("Z38.00", "E11.9", "I10", "E78.5"), [line("99214", "150", (1, 2, 3, 4))]),
    ),
    "pregnancy code at 60": (
        "AGE_CONFLICT",
        make_claim(("O80", "Z37.0"), [line("99214", "150", (1, 2))], sex="F", birth_date=date(1965, 1, 1)),
    ),
    "female code on a male patient": (
        "SEX_CONFLICT",
        make_claim(("E11.9", "I10", "E78.5", "N92.0"), [line("99214", "150", (1, 2, 3, 4))]),
    ),
    "prostate code on a female patient": (
        "SEX_CONFLICT",
        make_claim(("N40.0", "I10"), [line("99214", "150", (1, 2))], sex="F"),
    ),
    "manifestation first": (
        "MANIFESTATION_FIRST",
        make_claim(("F02.80", "G30.9", "I10"), [line("99214", "150", (1, 2, 3))]),
    ),
    "code-first condition listed second": (
        "MANIFESTATION_FIRST",
        make_claim(("N18.30", "E11.22"), [line("99214", "150", (1, 2))]),
    ),
    "NCCI pair, indicator 0": ("NCCI_PTP", with_lines(line("93000", "40", (2,)), line("93005", "20", (2,)))),
    "MUE per day (indicator 2)": (
        "MUE_UNITS",
        make_claim(lines=[line("99214", "150", (1, 2, 3)), line("83036", "50", (1,), units=Decimal(2))]),
    ),
    "E/M with a same-day procedure, no 25": (
        "MODIFIER_25_MISSING",
        with_lines(line("11200", "90", (4,)), diagnoses=(*CLEAN_DIAGNOSES, "L91.8")),
    ),
    "pointer out of range": (
        "POINTER_INTEGRITY",
        make_claim(lines=[line("99214", "150", (1, 2, 3)), line("83036", "25", (4,))]),
    ),
    "pointer repeated": (
        "POINTER_INTEGRITY",
        make_claim(lines=[line("99214", "150", (1, 2, 3)), line("83036", "25", (1, 1))]),
    ),
    "five pointers": (
        "POINTER_INTEGRITY",
        make_claim(("E11.9", "I10", "E78.5", "J45.909", "K21.9"), [line("99214", "150", (1, 2, 3, 4, 5))]),
    ),
    "no pointer": (
        "POINTER_INTEGRITY",
        make_claim(lines=[line("99214", "150", (1, 2, 3)), line("83036", "25", ())]),
    ),
    "diagnosis nothing points to (warning)": (
        "POINTER_INTEGRITY",
        make_claim(lines=[line("99214", "150", (1, 2)), line("83036", "25", (1,))]),
    ),
    "billing NPI check digit": ("NPI_CHECK_DIGIT", make_claim(billing_npi="1245319598")),
    "rendering NPI not 10 digits": ("NPI_CHECK_DIGIT", make_claim(rendering_npi="100300012")),
    "service date in the future": (
        "DATE_IMPOSSIBLE",
        make_claim(lines=[line("99214", "150", (1, 2, 3), service_date=date(2026, 4, 1))]),
    ),
    "service before birth": ("DATE_IMPOSSIBLE", make_claim(birth_date=date(2026, 3, 5))),
    "service over a year old (warning)": (
        "DATE_IMPOSSIBLE",
        make_claim(lines=[line("99214", "150", (1, 2, 3), service_date=date(2024, 12, 1))]),
    ),
    "zero charge": ("TOTALS", make_claim(lines=[line("99214", "150", (1, 2, 3)), line("83036", "0", (1,))])),
    "negative charge": ("TOTALS", make_claim(lines=[line("99214", "-150", (1, 2, 3))])),
    "zero units": (
        "TOTALS",
        make_claim(lines=[line("99214", "150", (1, 2, 3)), line("80061", "40", (3,), units=Decimal(0))]),
    ),
    "stated total differs": ("TOTALS", make_claim(extra={"total_charge": "999.00"})),
    "thirteen diagnoses": (
        "TOO_MANY_DIAGNOSES",
        make_claim(
            TOO_MANY,
            [
                line("99214", "150", (1, 2, 3, 4)),
                line("83036", "25", (5, 6, 7, 8)),
                line("80061", "40", (9, 10, 11, 12)),
                line("85025", "20", (13,)),
            ],
        ),
    ),
    "malformed CPT code": ("CPT_UNKNOWN", with_lines(line("9921A", "10", (1,)))),
    "HCPCS code not in the set": ("CPT_UNKNOWN", with_lines(line("J9999", "10", (1,), system="HCPCS"))),
    "CPT outside the demo set (warning)": ("CPT_UNKNOWN", with_lines(line("99499", "10", (1,)))),
}


@pytest.mark.parametrize("case", list(PLANTED), ids=list(PLANTED))
def test_planted_error_caught_by_exactly_its_edit(scrubber, case):
    intended, claim = PLANTED[case]
    findings = scrubber.check(claim)
    assert ids(findings) == {intended}, [f.to_dict() for f in findings]
    for f in findings:
        assert f.message and f.fix and f.severity in ("error", "warning")


def test_every_edit_has_a_planted_case():
    from test_planted_lines import PLANTED_LINES  # the line-level and sequencing edits' cases

    planted = {edit for edit, _ in PLANTED.values()} | {case.edit for case in PLANTED_LINES}
    assert planted == set(EDIT_IDS)


@pytest.mark.parametrize(
    ("case", "severity"),
    [
        ("diagnosis nothing points to (warning)", "warning"),
        ("service over a year old (warning)", "warning"),
        ("CPT outside the demo set (warning)", "warning"),
        ("pointer out of range", "error"),
        ("NCCI pair, indicator 0", "error"),
        ("header code", "error"),
    ],
)
def test_severities(scrubber, case, severity):
    findings = scrubber.check(PLANTED[case][1])
    assert {f.severity for f in findings} == {severity}


def test_where_is_reported(scrubber):
    [f] = scrubber.check(PLANTED["invalid code"][1])
    assert (f.diagnosis, f.line, f.where) == (2, None, "diagnosis 2")
    assert f.suggestions == ("I10",)
    [f] = scrubber.check(PLANTED["NCCI pair, indicator 0"][1])
    assert f.line == 5 and "93005" in f.message and "93000" in f.message
    assert f.to_dict()["where"] == "line 5"


# -- ICD-10-CM edits --------------------------------------------------------------------------------


def test_header_code_offers_its_billable_children(scrubber):
    [f] = scrubber.check(make_claim(("E11", "I10", "E78.5")))
    assert f.edit == "ICD_NOT_BILLABLE" and f.diagnosis == 1
    icd = icd10cm()
    expected = icd.billable_descendants("E11")
    assert list(f.suggestions) == expected
    assert {"E11.9", "E11.65", "E11.22"} <= set(f.suggestions)
    assert all(icd.is_billable(c) for c in f.suggestions)
    assert "E11.9" in f.fix or "E11.00" in f.fix
    [f] = scrubber.check(PLANTED["header code"][1])
    assert f.suggestions == ("E78.00", "E78.010", "E78.011", "E78.019")


def test_excludes1_in_either_order(scrubber):
    a = make_claim(("E10.9", "E11.9"), [line("99214", "150", (1, 2))])
    b = make_claim(("E11.9", "E10.9"), [line("99214", "150", (1, 2))])
    for claim in (a, b):
        [f] = scrubber.check(claim)
        assert f.edit == "EXCLUDES1" and set(f.suggestions) == {"E10.9", "E11.9"}
    # The ".42" qualifier narrows E08-E13: G63 with E11.9 is not an Excludes1 pair.
    claim = make_claim(("E11.9", "G63"), [line("99214", "150", (1, 2))])
    assert "EXCLUDES1" not in ids(scrubber.check(claim))
    assert scrubber.check(make_claim(("I10", "E11.9"), [line("99214", "150", (1, 2))])) == []


def test_parse_code_refs_understands_ranges_and_qualifiers():
    valid = icd10cm().is_valid
    [r] = parse_code_refs("polyneuropathy in diabetes mellitus (E08-E13 with .42)", valid)
    assert r.matches("E11.42") and r.matches("E13.42") and not r.matches("E11.9") and not r.matches("E14.42")
    [r] = parse_code_refs("hypertensive CKD (N18.1-N18.6)", valid)
    assert r.matches("N18.30") and r.matches("N18.6") and not r.matches("N18.9")
    refs = parse_code_refs("diabetic retinopathy (E08.3-, E09.3-, E10.3-, E11.3-, E13.3-)", valid)
    assert [x.label for x in refs] == ["E083", "E093", "E103", "E113", "E133"]
    [r] = parse_code_refs("infectious mononucleosis (B27.0-B27.9 with fifth character 1)", valid)
    assert r.matches("B27.01") and not r.matches("B27.09")
    [r] = parse_code_refs("current concussion (S06.0X- with seventh character A)", valid)
    assert r.matches("S06.0X0A") and not r.matches("S06.0X0D")
    [r] = parse_code_refs("stuttering after stroke (I69. with final characters -23)", valid)
    assert r.matches("I69.323") and not r.matches("I69.320")
    assert parse_code_refs("something (E08-E13 with hypoglycemia)", valid) == []  # unknown qualifier: dropped
    assert parse_code_refs("HIV disease (HIV)", valid) == []
    assert CodeRef("O10", "O11").matches("O11.4")


def test_manifestation_not_first_is_fine(scrubber):
    claim = make_claim(("G30.9", "F02.80", "I10"), [line("99214", "150", (1, 2, 3))])
    assert scrubber.check(claim) == []
    claim = make_claim(("E11.22", "N18.30"), [line("99214", "150", (1, 2))])
    assert scrubber.check(claim) == []


def test_age_and_sex_fit(scrubber):
    pregnant = make_claim(("O80", "Z37.0"), [line("99214", "150", (1, 2))], sex="F", birth_date=date(1995, 1, 1))
    assert scrubber.check(pregnant) == []
    newborn = make_claim(("Z38.00",), [line("99214", "150", (1,))], birth_date=date(2026, 3, 1))
    assert scrubber.check(newborn) == []
    unknown_sex = make_claim(("N40.0", "I10"), [line("99214", "150", (1, 2))], sex="U")
    assert scrubber.check(unknown_sex) == []
    # Perinatal codes are a warning past the first year: they may persist through life.
    [f] = scrubber.check(make_claim(("P07.30", "I10"), [line("99214", "150", (1, 2))]))
    assert (f.edit, f.severity) == ("AGE_CONFLICT", "warning")
    # A separate patient (not the subscriber) is the one checked.
    child = Person("Doe", "Kim", date(2026, 2, 20), "F", address=Address("100 Main St", "Springfield", "IL", "62701"))
    claim = make_claim(("Z38.00",), [line("99214", "150", (1,))], patient=child, relationship="19")
    assert scrubber.check(claim) == []


# -- NCCI / MUE loaders ---------------------------------------------------------------------------


def test_ptp_loader_reads_the_cms_layout(ptp):
    assert len(ptp) == 8  # the notice and header rows are skipped
    [e] = ptp.versions("93000", "93005")
    assert (e.effective, e.deleted, e.modifier_indicator, e.prior_1996) == (date(1996, 1, 1), None, "0", True)
    assert e.rationale == "Misuse of column two code with column one code"
    [e] = ptp.versions("20610", "20605")
    assert not e.prior_1996 and e.modifier_allowed
    assert "20610" in ptp and "99999" not in ptp


def test_ptp_dates(ptp):
    # Deleted edits apply through their deletion date, not after.
    assert ptp.lookup("81003", "81002", date(2015, 6, 1)) is not None
    assert ptp.lookup("81003", "81002", date(2019, 12, 31)) is not None
    assert ptp.lookup("81003", "81002", date(2020, 1, 1)) is None
    assert ptp.lookup("81003", "81002", date(2009, 12, 31)) is None
    # Edits effective in the future do not apply yet.
    assert ptp.lookup("85025", "85027", date(2026, 3, 2)) is None
    assert ptp.lookup("85025", "85027", date(2027, 1, 1)) is not None
    # Ordered pairs: column 2 / column 1 is not the same edit.
    assert ptp.lookup("93005", "93000", date(2026, 3, 2)) is None


def test_ptp_modifier_indicators(ptp):
    on = date(2026, 3, 2)
    allowed = ptp.lookup("20610", "20605", on)
    never = ptp.lookup("93000", "93005", on)
    not_applicable = ptp.lookup("94060", "94010", on)
    assert allowed and never and not_applicable
    for m in ("59", "XE", "XS", "XP", "XU", "24", "79"):
        assert allowed.bypassed_by([m], []), m  # a distinct-service modifier on either line
        assert allowed.bypassed_by([], [m]), m
        assert not never.bypassed_by([m], []), m
    # anatomic modifiers separate the lines only when they differ
    assert allowed.bypassed_by(["RT"], ["LT"]) and allowed.bypassed_by(["F1"], ["F2"])
    assert not allowed.bypassed_by(["RT"], ["RT"]) and not allowed.bypassed_by([], ["LT"])
    # 25 and 57 speak for an E/M line only
    assert not allowed.bypassed_by(["25"], []) and allowed.bypassed_by([], ["25"], em_line=True)
    assert not allowed.bypassed_by([], []) and not allowed.bypassed_by(["76", "26"], [])
    assert not_applicable.bypassed_by([])
    assert {"59", "XE", "XS", "XP", "XU"} <= PTP_MODIFIERS and "26" not in PTP_MODIFIERS


def test_ptp_edit_on_claims(scrubber):
    joint = (*CLEAN_DIAGNOSES, "M17.11")
    visit = line("99214", "150", (1, 2, 3), modifiers=("25",))
    pair = [line("20610", "120", (4,)), line("20605", "90", (4,))]
    [f] = scrubber.check(make_claim(joint, [visit, *pair]))
    assert (f.edit, f.line) == ("NCCI_PTP", 3) and "59" in f.fix
    # Indicator 1: a distinct-service modifier on either line lets the pair through...
    for m in ("59", "XS"):
        assert scrubber.check(make_claim(joint, [visit, pair[0], dataclasses.replace(pair[1], modifiers=(m,))])) == []
    # ...and so do different sides, but not the same side on both, nor a side on one line only
    sides = [dataclasses.replace(pair[0], modifiers=("LT",)), dataclasses.replace(pair[1], modifiers=("RT",))]
    assert scrubber.check(make_claim(joint, [visit, *sides])) == []
    same = [dataclasses.replace(pair[0], modifiers=("RT",)), dataclasses.replace(pair[1], modifiers=("RT",))]
    assert ids(scrubber.check(make_claim(joint, [visit, *same]))) == {"NCCI_PTP"}
    one = [pair[0], dataclasses.replace(pair[1], modifiers=("RT",))]
    assert ids(scrubber.check(make_claim(joint, [visit, *one]))) == {"NCCI_PTP"}
    # 25 on a procedure line means nothing to NCCI
    on_procedure = [pair[0], dataclasses.replace(pair[1], modifiers=("25",))]
    assert ids(scrubber.check(make_claim(joint, [visit, *on_procedure]))) == {"NCCI_PTP", "MODIFIER_INVALID"}
    # A modifier NCCI does not associate with PTP edits does not.
    repeat = [pair[0], dataclasses.replace(pair[1], modifiers=("76",))]
    assert ids(scrubber.check(make_claim(joint, [visit, *repeat]))) == {"NCCI_PTP"}
    # Different dates of service: no edit.
    apart = [pair[0], dataclasses.replace(pair[1], service_date=date(2026, 3, 3))]
    assert "NCCI_PTP" not in ids(scrubber.check(make_claim(joint, [visit, *apart])))
    # Indicator 0: no modifier helps.
    ecg = [line("93000", "40", (2,)), line("93005", "20", (2,), modifiers=("59",))]
    [f] = scrubber.check(with_lines(*ecg))
    assert f.edit == "NCCI_PTP" and "indicator 0" in f.fix
    # Deleted edit (81003/81002 ended 2019-12-31) and indicator 9 (94060/94010): no finding.
    old_pair = make_claim(lines=[line("81003", "10", (1,)), line("81002", "10", (1, 2, 3))])
    assert scrubber.check(old_pair) == []
    na = make_claim(lines=[line("94060", "60", (1, 2, 3)), line("94010", "40", (1,))])
    assert scrubber.check(na) == []
    # The same pair on a claim dated before the deletion is caught.
    before = make_claim(
        lines=[line("81003", "10", (1,), service_date=date(2025, 9, 1)), line("81002", "10", (1, 2, 3))]
    )
    assert "NCCI_PTP" not in ids(scrubber.check(before))  # different days: 2025-09-01 and 2026-03-02
    s2019 = Scrubber.default(ncci=load_ptp(PTP_FILE), today=date(2019, 6, 30))
    old_dos = [line("81003", "10", (1,), service_date=date(2019, 6, 1)),
               line("81002", "10", (1, 2, 3), service_date=date(2019, 6, 1))]  # fmt: skip
    assert ids(s2019.check(make_claim(lines=old_dos))) == {"NCCI_PTP"}


def test_ptp_loader_reads_csv_with_spreadsheet_dates(tmp_path):
    f = tmp_path / "ptp.csv"
    f.write_text(
        "Column 1,Column 2,* = In existence prior to 1996,Effective Date,Deletion Date,Modifier,PTP Edit Rationale\n"
        "36415,36416,,1/1/2012,*,1,Mutually exclusive procedures\n"
        "11102,11300,,01/01/2019,12/31/2023,0,Misuse of column two code with column one code\n"
    )
    ptp = load_ptp(f)
    assert len(ptp) == 2
    [e] = ptp.versions("11102", "11300")
    assert (e.effective, e.deleted) == (date(2019, 1, 1), date(2023, 12, 31))
    both = load_ptp_files([f, PTP_FILE])
    assert len(both) == 10


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("93000\t93005\t*\t19960101\t*\t5\tx", "modifier indicator '5'"),
        ("93000\t93005\t*\t19961301\t*\t0\tx", "effective date '19961301'"),
        ("93000\t93005\t*\t20200101\t20190101\t0\tx", "before effective date"),
        ("93000\t93005\t*\t20200101", "at least 6 columns"),
    ],
)
def test_ptp_loader_refuses_malformed_rows(tmp_path, row, problem):
    f = tmp_path / "ptp.txt"
    f.write_text("Column 1\tColumn 2\n93010\t93005\t\t20000101\t*\t0\tok\n" + row + "\n")
    with pytest.raises(CodeFileError, match=problem) as err:
        load_ptp(f)
    assert err.value.line == 3


def test_loaders_refuse_files_without_rows(tmp_path):
    f = tmp_path / "empty.txt"
    f.write_text("Column 1\tColumn 2\n")
    with pytest.raises(CodeFileError, match="no PTP edit rows"):
        load_ptp(f)
    with pytest.raises(CodeFileError, match="no MUE rows"):
        load_mue(f)


def test_mue_loader_reads_the_cms_layout(mue):
    assert len(mue) == 5
    e = mue.get("20610")
    assert e and (e.value, e.indicator, e.per_day, e.rationale) == (2, 1, False, "Anatomic Consideration")
    e = mue.get("83036")
    assert e and (e.value, e.indicator, e.per_day) == (1, 2, True)
    e = mue.get("36415")
    assert e and (e.indicator, e.per_day) == (3, True)
    assert mue.get("99213") is None


def test_mue_loader_reads_tab_text_and_refuses_bad_rows(tmp_path):
    f = tmp_path / "mue.txt"
    f.write_text("HCPCS/CPT Code\tPractitioner Services MUE Values\tMUE Adjudication Indicator\tMUE Rationale\n"
                 "96372\t4\t3 Date of Service Edit: Clinical\tClinical: Data\n")  # fmt: skip
    e = load_mue(f).get("96372")
    assert e and (e.value, e.indicator) == (4, 3)
    f.write_text("96372\tfour\t3\tx\n")
    with pytest.raises(CodeFileError, match="not a whole number"):
        load_mue(f)
    f.write_text("96372\t4\t7 Something\tx\n")
    with pytest.raises(CodeFileError, match="not 1, 2 or 3"):
        load_mue(f)
    f.write_text("96372\t4\t3\tx\n96372\t5\t3\tx\n")
    with pytest.raises(CodeFileError, match="repeats line 1"):
        load_mue(f)


def test_mue_per_line_and_per_day(scrubber):
    knee = (*CLEAN_DIAGNOSES, "M17.0")
    # Indicator 1 is per line: 2 units on each of two lines (RT, LT) pass, 3 on one line does not.
    two_lines = [line("20610", "120", (4,), modifiers=("RT",)), line("20610", "120", (4,), modifiers=("LT",))]
    base = [line("99214", "150", (1, 2, 3), modifiers=("25",))]
    two_lines = [dataclasses.replace(x, units=Decimal(2)) for x in two_lines]
    assert scrubber.check(make_claim(knee, [*base, *two_lines])) == []
    three = [line("20610", "120", (4,), units=Decimal(3))]
    [f] = scrubber.check(make_claim(knee, [*base, *three]))
    assert (f.edit, f.line) == ("MUE_UNITS", 2) and "per line" in f.message
    # Indicators 2 and 3 are per date of service: lines of the same code on one day add up.
    draws = [line("36415", "10", (1,)), line("36415", "10", (1,), units=Decimal(2))]
    findings = scrubber.check(make_claim(lines=[*[line(c, p, ptr) for c, p, ptr in CLEAN_LINES], *draws]))
    [f] = [f for f in findings if f.edit == "MUE_UNITS"]  # (and DUPLICATE_LINE: one draw line should carry 3 units)
    assert "3 units" in f.message and "per day" in f.message
    apart = [draws[0], dataclasses.replace(draws[1], service_date=date(2026, 3, 1))]
    assert scrubber.check(make_claim(lines=[*[line(c, p, ptr) for c, p, ptr in CLEAN_LINES], *apart])) == []


def test_modifier_25_present_is_clean(scrubber):
    claim = make_claim(
        (*CLEAN_DIAGNOSES, "L91.8"),
        [line("99214", "150", (1, 2, 3), modifiers=("25",)), line("11200", "90", (4,))],
    )
    assert scrubber.check(claim) == []
    # Labs and blood draws on the same day are not procedures for this rule; injections are.
    assert not is_procedure("83036") and not is_procedure("36415") and not is_procedure("99214")
    assert is_procedure("11200") and is_procedure("20610") and is_procedure("96372")


# -- age/sex rule file ----------------------------------------------------------------------------


def test_bundled_age_sex_rules_load():
    rules = {r.id: r for r in load_age_sex_rules()}
    assert rules["pregnancy"].sex == "F" and (rules["pregnancy"].age_min, rules["pregnancy"].age_max) == (12, 55)
    assert rules["pregnancy"].covers("O9A.111") and rules["pregnancy"].covers("O00.101")
    assert rules["male-genital-disease"].covers("N40.0") and not rules["male-genital-disease"].covers("N39.0")
    assert rules["male-genital-neoplasm"].covers("C61") and rules["female-genital-disease"].covers("N98.1")
    assert rules["newborn"].covers("Z38.00") and rules["perinatal"].severity == "warning"
    assert not rules["pregnancy-status"].covers("Z38.00")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("- just a list\n", "expected a mapping"),
        ("version: 2\nrules: []\n", "version: expected 1"),
        ("version: 1\nrules: []\n", "non-empty list"),
        ("version: 1\nrules:\n  - codes: [C61]\n    sex: M\n", "'id' is required"),
        ("version: 1\nrules:\n  - id: a\n    sex: M\n", "rule 1 \\(a\\): 'codes'"),
        ("version: 1\nrules:\n  - id: a\n    codes: [C61]\n    sex: X\n", "'sex' must be F or M"),
        ("version: 1\nrules:\n  - id: a\n    codes: [prostate]\n    sex: M\n", "'prostate' is not like"),
        ("version: 1\nrules:\n  - id: a\n    codes: [N53-N40]\n    sex: M\n", "ends before it starts"),
        ("version: 1\nrules:\n  - id: a\n    codes: [O00]\n    age_min: 50\n    age_max: 12\n", "greater than"),
        ("version: 1\nrules:\n  - id: a\n    codes: [O00]\n    age_min: twelve\n", "'age_min' must be"),
        ("version: 1\nrules:\n  - id: a\n    codes: [O00]\n", "needs 'sex', 'age_min' or 'age_max'"),
        ("version: 1\nrules:\n  - id: a\n    codes: [O00]\n    sex: F\n    gender: F\n", "unknown key"),
        ("version: 1\nrules:\n  - id: a\n    codes: [O00]\n    sex: F\n    severity: fatal\n", "'severity'"),
        ("version: 1\nrules:\n  - {id: a, codes: [C61], sex: M}\n  - {id: a, codes: [C62], sex: M}\n", "duplicate"),
        ("version: 1\nrules: [\n", "not valid YAML"),
    ],
)
def test_age_sex_schema_refuses_malformed_files(tmp_path, text, problem):
    f = tmp_path / "rules.yaml"
    f.write_text(text)
    with pytest.raises(ResourceError, match=problem) as err:
        load_age_sex_rules(f)
    assert str(f) in str(err.value)


def test_scrubber_uses_a_given_rule_file(tmp_path):
    f = tmp_path / "rules.yaml"
    f.write_text("version: 1\nrules:\n  - {id: no-htn, description: hypertension, codes: [I10], age_min: 60}\n")
    s = Scrubber.default(today=TODAY, age_sex_rules=load_age_sex_rules(f))
    assert ids(s.check(make_claim())) == {"AGE_CONFLICT"}


# -- NPI, configuration, speed --------------------------------------------------------------------


def test_npi_luhn():
    assert npi_valid("1234567893")  # the CMS example
    assert npi_valid(BILLING_NPI) and npi_valid(RENDERING_NPI)
    assert not npi_valid("1234567890") and not npi_valid("123456789") and not npi_valid("12345678X3")


def test_configurable_edit_list(ptp, mue):
    s = Scrubber.default(ncci=ptp, mue=mue, today=TODAY, edits=["NPI_CHECK_DIGIT"])
    assert [e.id for e in s.edits] == ["NPI_CHECK_DIGIT"]
    assert s.check(PLANTED["invalid code"][1]) == []
    with pytest.raises(ValueError, match="unknown edit"):
        Scrubber.default(edits=["NOPE"])
    # Without NCCI/MUE tables those edits find nothing.
    bare = Scrubber.default(today=TODAY)
    assert bare.check(PLANTED["NCCI pair, indicator 0"][1]) == []


def test_what_only_the_837p_writer_refuses_is_an_error_without_the_value():
    import dataclasses as dc

    from chartcoder.billing.claim import Address

    scrubber = Scrubber.default(today=TODAY)
    claim = make_claim()
    bad_member = dc.replace(claim, subscriber=dc.replace(claim.subscriber, member_id="W12*45"))
    [f] = scrubber.check(bad_member)
    assert f.edit == "X12_WRITABLE" and f.severity == "error" and "W12*45" not in f.message
    five = dc.replace(
        claim,
        billing_provider=dc.replace(claim.billing_provider, address=Address("1 Main St", "Springfield", "IL", "62701")),
    )
    [f] = scrubber.check(five)
    assert f.edit == "X12_WRITABLE" and "9 digits" in f.message
