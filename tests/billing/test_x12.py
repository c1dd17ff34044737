"""837P writer, reader and pyx12 validation: the shared sample validates and broken copies do not;
every claim we write validates and reads back to the same diagnoses, lines, charges and pointers."""

from __future__ import annotations

import logging
import re
import string
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chartcoder.billing.claim import Address, Claim, Diagnosis, Ndc, Payer, Person, Provider, ServiceLine
from chartcoder.billing.x12 import (
    format_amount,
    icd10_with_dot,
    parse_837p,
    parse_837p_claims,
    validate_837p,
    write_837p,
)

SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "samples" / "837p" / "valid_837p.x12"
CREATED = datetime(2026, 1, 15, 12, 0)

# Real billable ICD-10-CM codes and common office CPT codes.
ICD_CODES = [
    "E11.22",
    "I10",
    "E78.5",
    "J45.909",
    "M17.11",
    "N18.32",
    "Z79.4",
    "K21.9",
    "F17.210",
    "R07.9",
    "S93.401A",
    "I25.10",
    "E11.65",
    "J06.9",
    "M54.50",
    "R51.9",
]
CPT_CODES = ["99213", "99214", "93000", "36415", "81002", "90471", "99203", "87880"]
MODIFIERS = ["25", "59", "LT", "RT", "XS"]


@pytest.fixture(scope="module")
def sample_text(sample_claim) -> str:
    """The shared valid 837P (../shared/samples, read at test time, never copied here); where a
    checkout has no ../shared, our own writer's file for the sample claim, which pyx12 also
    accepts, so the validator is still shown to pass a good file and fail each broken copy."""
    if SAMPLE.exists():
        return SAMPLE.read_text()
    return write_837p(sample_claim(), created=CREATED)


needs_shared_sample = pytest.mark.skipif(
    not SAMPLE.exists(), reason=f"{SAMPLE} is not in this checkout (../shared is read at test time only)"
)


def assert_round_trip(claim: Claim, text: str) -> None:
    parsed = parse_837p(text)
    assert parsed.claim_id == claim.claim_id
    assert parsed.billing_npi == claim.billing_provider.npi
    assert parsed.total_charge == claim.total_charge
    assert parsed.diagnoses == tuple(d.code for d in claim.diagnoses)
    assert parsed.place_of_service == claim.place_of_service
    assert parsed.frequency == claim.frequency
    assert len(parsed.lines) == len(claim.lines)
    for got, want in zip(parsed.lines, claim.lines, strict=True):
        assert got.code == want.code
        assert got.modifiers == want.modifiers
        assert got.charge == want.charge
        assert got.units == want.units
        assert got.pointers == want.pointers
        assert got.service_date == want.service_date


def segments(text: str) -> list[str]:
    return [s.strip() for s in text.split("~") if s.strip()]


# ------------------------------------------------------------------------------ the validator


def test_shared_sample_validates(sample_text):
    assert validate_837p(sample_text) == []


@pytest.mark.parametrize(
    ("pattern", "new", "expected"),
    [
        (r"(CLM\*[^~]*\*Y\*A\*Y)\*Y~", r"\1~", "CLM09"),
        (r"~\nSE\*(\d+)\*", lambda m: f"~\nSE*{int(m.group(1)) - 1}*", "SE count"),
        (r"LX\*2~", "LX*2~\nFOO*1*2~", "FOO"),
        (r"HI\*[^~]*~\n", "", "Health Care Diagnosis Code"),
        (r"(SV1\*HC:93000\*[^~]*?\*\*\*)[0-9:]+~", lambda m: m.group(1).rstrip("*") + "~", "SV107"),
        (r"DMG\*D8\*(\d{4})\d\d", r"DMG*D8*\g<1>13", "date"),
        (r"\*005010X222A1~\nST", "*005010X222A2~\nST", "GS08"),
    ],
    ids=["clm-missing-element", "se-count", "unknown-segment", "hi-missing", "pointers-missing", "bad-date", "gs08-a2"],
)
def test_broken_sample_does_not_validate(sample_text, pattern, new, expected):
    broken, n = re.subn(pattern, new, sample_text, count=1)
    assert n == 1, f"{pattern} is not in the sample"
    errors = validate_837p(broken)
    assert errors, "the broken copy validated"
    assert any(expected.lower() in e.lower() for e in errors), errors


def test_not_x12_and_other_transactions_are_refused(sample_text):
    assert validate_837p("hello") != []
    assert validate_837p(sample_text.replace("ST*837*", "ST*835*")) != []
    assert validate_837p(sample_text.replace("ST*837*0001*005010X222A1", "ST*837*0001*005010X222A2")) != []


def test_validator_leaves_logging_as_it_found_it(sample_text):
    logger = logging.getLogger("pyx12")
    handlers, level = list(logger.handlers), logger.level
    validate_837p(sample_text.replace("SE*27*", "SE*3*"))
    validate_837p(sample_text)
    assert logger.handlers == handlers
    assert logger.level == level


def test_validator_from_several_threads(sample_text):
    broken = sample_text.replace("SE*27*", "SE*3*")
    texts = [sample_text, broken] * 3
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(validate_837p, texts))
    assert [r == [] for r in results] == [True, False] * 3
    assert all(len(r) == 1 and "SE count" in r[0] for r in results[1::2])


@needs_shared_sample
def test_parse_the_shared_sample(sample_text):
    parsed = parse_837p(sample_text)
    assert parsed.claim_id == "PATACCT0001"
    assert parsed.billing_npi == "1234567893"
    assert parsed.total_charge == Decimal(150)
    assert parsed.diagnoses == ("E11.65", "I10")
    assert [(ln.code, ln.charge, ln.pointers) for ln in parsed.lines] == [
        ("99213", Decimal(100), (1, 2)),
        ("93000", Decimal(50), (2,)),
    ]
    assert {ln.service_date for ln in parsed.lines} == {date(2026, 1, 10)}


# ------------------------------------------------------------------------------ the writer


def _twelve(claim: Claim) -> Claim:
    return replace(claim, diagnoses=[Diagnosis(c) for c in ICD_CODES[:12]])


def _separate_patient(claim: Claim) -> Claim:
    child = Person(
        last_name="Doe",
        first_name="Jenny",
        birth_date=date(2015, 6, 30),
        sex="F",
        address=Address(line1="456 Oak St", city="Anytown", state="CA", zip="90001"),
    )
    return replace(claim, patient=child, relationship="19")


def _rendering(claim: Claim) -> Claim:
    doctor = Provider(npi="1245319599", last_name="Smith", first_name="Anna", taxonomy="207Q00000X", organization=False)
    return replace(claim, rendering_provider=doctor)


def _four_and_four(claim: Claim) -> Claim:
    lines = [
        replace(claim.lines[0], modifiers=("25", "59", "LT", "XS"), pointers=(4, 3, 2, 1), units=Decimal(2)),
        claim.lines[1],
    ]
    return replace(claim, diagnoses=[Diagnosis(c) for c in ICD_CODES[:5]], lines=lines)


VARIANTS = {
    "sample": lambda c: c,
    "twelve-diagnoses": _twelve,
    "separate-patient": _separate_patient,
    "rendering-provider": _rendering,
    "four-modifiers-four-pointers": _four_and_four,
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_written_claims_validate_and_round_trip(sample_claim, variant):
    claim = VARIANTS[variant](sample_claim())
    text = write_837p(claim, control_number=42, created=CREATED)
    assert validate_837p(text) == []
    assert_round_trip(claim, text)


def test_sample_claim_is_written_like_the_shared_sample(sample_claim):
    segs = segments(write_837p(sample_claim(), created=CREATED))
    assert segs[0].startswith("ISA*00*          *00*          *ZZ*CHARTCODER     *ZZ*CLEARINGHOUSE  *260115*1200*^")
    assert segs[0].endswith("*00501*000000001*0*T*:")
    assert len(segs[0]) == 105  # ISA is fixed length (106 with its terminator)
    assert "GS*HC*CHARTCODER*CLEARINGHOUSE*20260115*1200*1*X*005010X222A1" in segs
    assert "HL*2*1*22*0" in segs and "SBR*P*18*******CI" in segs
    assert "CLM*PATACCT0001*150***11:B:1*Y*A*Y*Y" in segs
    assert "HI*ABK:E1165*ABF:I10*ABF:R079" in segs
    assert "SV1*HC:99213:25*100*UN*1***1:2" in segs
    st, se = segs.index("ST*837*0001*005010X222A1"), len(segs) - 3
    assert segs[se] == f"SE*{se - st + 1}*0001"


def test_twelve_diagnoses_in_one_hi(sample_claim):
    segs = segments(write_837p(_twelve(sample_claim()), created=CREATED))
    his = [s for s in segs if s.startswith("HI*")]
    assert len(his) == 1
    composites = his[0].split("*")[1:]
    assert len(composites) == 12
    assert composites[0] == "ABK:E1122" and all(c.startswith("ABF:") for c in composites[1:])


def test_separate_patient_gets_a_2000c_loop(sample_claim):
    segs = segments(write_837p(_separate_patient(sample_claim()), created=CREATED))
    assert "HL*2*1*22*1" in segs and "HL*3*2*23*0" in segs and "PAT*19" in segs
    assert "SBR*P********CI" in segs  # SBR02 only when the subscriber is the patient
    assert "NM1*QC*1*DOE*JENNY" in segs and "DMG*D8*20150630*F" in segs
    assert segs.index("HL*3*2*23*0") < segs.index("CLM*PATACCT0001*150***11:B:1*Y*A*Y*Y")
    assert "DMG*D8*19700101*M" not in segs  # the subscriber's DMG only when the subscriber is the patient


def test_rendering_provider_only_when_it_differs(sample_claim):
    segs = segments(write_837p(_rendering(sample_claim()), created=CREATED))
    assert "NM1*82*1*SMITH*ANNA****XX*1245319599" in segs and "PRV*PE*PXC*207Q00000X" in segs
    same = replace(sample_claim(), rendering_provider=sample_claim().billing_provider)
    assert not any(s.startswith("NM1*82") for s in segments(write_837p(same, created=CREATED)))


def test_line_place_of_service_only_when_it_differs(sample_claim):
    claim = sample_claim()
    lines = [replace(claim.lines[0], place_of_service="11"), replace(claim.lines[1], place_of_service="22")]
    text = write_837p(replace(claim, lines=lines), created=CREATED)
    assert "SV1*HC:99213:25*100*UN*1***1:2" in segments(text)
    assert "SV1*HC:93000*50*UN*1*22**3:2" in segments(text)
    assert validate_837p(text) == []
    assert [ln.place_of_service for ln in parse_837p(text).lines] == [None, "22"]


def test_output_is_deterministic(sample_claim):
    one = write_837p(sample_claim(), control_number=7, created=CREATED)
    assert one == write_837p(sample_claim(), control_number=7, created=CREATED)
    assert one != write_837p(sample_claim(), control_number=8, created=CREATED)
    assert "*000000007*0*P*:" in write_837p(sample_claim(), control_number=7, created=CREATED, usage="P")


def test_free_text_is_cleaned(sample_claim):
    claim = sample_claim()
    subscriber = replace(
        claim.subscriber,
        last_name="O'Brien*Smith~",
        first_name="José:^",
        address=Address(line1="12 Elm St\nApt 3", city="San José", state="ca", zip="90001-1234"),
    )
    text = write_837p(replace(claim, subscriber=subscriber), created=CREATED)
    segs = segments(text)
    assert "NM1*IL*1*O'BRIENSMITH*JOSE****MI*123456789A" in segs
    assert "N3*12 ELM ST APT 3" in segs and "N4*SAN JOSE*CA*900011234" in segs
    assert validate_837p(text) == []


@pytest.mark.parametrize(
    ("amount", "text"), [("150.00", "150"), ("100.50", "100.5"), ("0.01", "0.01"), ("1000", "1000")]
)
def test_amounts(amount, text):
    assert format_amount(Decimal(amount)) == text


def test_icd_dot():
    assert [icd10_with_dot(c) for c in ("E1165", "I10", "S93401A", "R07.9")] == ["E11.65", "I10", "S93.401A", "R07.9"]


@pytest.mark.parametrize(
    "change",
    [
        lambda c: replace(c, claim_id="A*B"),
        lambda c: replace(c, claim_id="X" * 21),
        lambda c: replace(c, subscriber=replace(c.subscriber, address=replace(c.subscriber.address, state="XX"))),
        lambda c: replace(c, frequency="7"),
        lambda c: replace(c, lines=[replace(c.lines[0], ndc=Ndc("0003-0293-05", "ML", Decimal(1)))]),
        lambda c: replace(c, lines=[replace(c.lines[0], ndc=Ndc("00003029305", "MG", Decimal(1)))]),
        lambda c: replace(c, diagnoses=[]),
        lambda c: replace(c, lines=[replace(c.lines[0], pointers=(4,))]),
        lambda c: replace(c, lines=[replace(c.lines[0], pointers=(1, 1))]),
        lambda c: replace(c, lines=[replace(c.lines[0], charge=Decimal("10.001"))]),
        lambda c: replace(c, lines=[replace(c.lines[0], modifiers=("25", "59", "LT", "RT", "XS"))]),
        lambda c: replace(c, billing_provider=replace(c.billing_provider, npi="12345:7893")),
        lambda c: replace(c, billing_provider=replace(c.billing_provider, contact_phone=None)),
        lambda c: replace(c, subscriber=replace(c.subscriber, member_id=None)),
        lambda c: replace(c, relationship="19"),
        lambda c: replace(c, subscriber=replace(c.subscriber, address=replace(c.subscriber.address, zip="9000\u0e52"))),
    ],
    ids=[
        "delimiter-in-claim-id",
        "long-claim-id",
        "state-XX",
        "replacement-without-payer-claim-number",
        "ten-digit-ndc",
        "ndc-unit-mg",
        "no-diagnoses",
        "pointer-out-of-range",
        "duplicate-pointer",
        "three-decimals",
        "five-modifiers",
        "delimiter-in-npi",
        "no-phone",
        "no-member-id",
        "relationship-without-patient",
        "non-ascii-digit-in-zip",
    ],
)
def test_unwritable_claims_are_refused(sample_claim, change):
    with pytest.raises(ValueError):
        write_837p(change(sample_claim()), created=CREATED)


def test_line_level_data_is_written_and_validates(sample_claim):
    """Modifiers, units, a per-line date, the NDC (2410 LIN/CTP), REF*F8 and REF*G1 pass pyx12 and
    read back as written."""
    base = sample_claim()
    drug = ServiceLine(
        code="J3301",
        system="HCPCS",
        charge=Decimal("40.00"),
        units=Decimal(4),
        service_date=date(2026, 1, 11),
        pointers=(1,),
        ndc=Ndc("00003-0293-05", "ML", Decimal("1.5")),
    )
    knee = replace(base.lines[1], code="20610", modifiers=("LT", "59"))
    claim = replace(
        base,
        lines=[base.lines[0], knee, drug],
        frequency="7",
        extra={"original_reference": "PAYER-CCN-42", "prior_authorization": "PA12345"},
    )
    text = write_837p(claim, created=CREATED)
    assert validate_837p(text) == []
    assert "LIN**N4*00003029305~" in text and "CTP****1.5*ML~" in text
    assert "REF*G1*PA12345~" in text and "REF*F8*PAYER-CCN-42~" in text
    assert text.index("REF*F8") < text.index("HI*")
    parsed = parse_837p(text)
    assert (parsed.frequency, parsed.original_reference, parsed.prior_authorization) == ("7", "PAYER-CCN-42", "PA12345")
    assert [(x.code, x.modifiers, x.units, x.service_date) for x in parsed.lines] == [
        ("99213", ("25",), Decimal(1), date(2026, 1, 10)),
        ("20610", ("LT", "59"), Decimal(1), date(2026, 1, 10)),
        ("J3301", (), Decimal(4), date(2026, 1, 11)),
    ]
    assert (parsed.lines[2].ndc, parsed.lines[2].ndc_quantity, parsed.lines[2].ndc_unit) == (
        "00003029305",
        Decimal("1.5"),
        "ML",
    )
    assert parsed.lines[1].ndc is None


def test_more_than_twelve_diagnoses_become_several_claims(sample_claim):
    """The 837P holds 12 diagnoses per claim (HI): 16 are written as two 2300 claims under the one
    subscriber, each line with its own diagnoses renumbered, and the whole file passes pyx12."""
    base = sample_claim()
    diagnoses = [Diagnosis(x) for x in ICD_CODES[:16]]
    lines = [
        replace(base.lines[0], pointers=(1, 2, 3, 4)),
        replace(base.lines[1], code="36415", pointers=(5, 6, 7, 8)),
        replace(base.lines[1], code="81002", pointers=(9, 10, 11, 12)),
        replace(base.lines[1], code="93000", pointers=(13, 14, 15, 16)),
    ]
    claim = replace(base, diagnoses=diagnoses, lines=lines)
    text = write_837p(claim, created=CREATED)
    assert validate_837p(text) == []
    first, second = parse_837p_claims(text)
    assert first.claim_id == claim.claim_id and second.claim_id == f"{claim.claim_id}-2"
    assert first.diagnoses == tuple(ICD_CODES[:12]) and second.diagnoses == tuple(ICD_CODES[12:16])
    assert [x.code for x in first.lines] == ["99213", "36415", "81002"]
    assert [x.pointers for x in second.lines] == [(1, 2, 3, 4)]
    assert first.total_charge + second.total_charge == claim.total_charge
    assert text.count("HL*") == 2 and text.count("CLM*") == 2


# ------------------------------------------------------------------------------ property test

_letters = st.text(alphabet=string.ascii_letters, min_size=2, max_size=12)
_name = st.builds(lambda a, b: f"{a}{b}", _letters, st.sampled_from(["", " Jr", "-Lee", "'s"]))
_address = st.builds(
    Address,
    line1=st.builds(lambda n, s: f"{n} {s} St", st.integers(1, 9999), _letters),
    city=_letters,
    state=st.sampled_from(["CA", "NY", "TX", "WA", "IL"]),
    zip=st.from_regex(r"[0-9]{9}", fullmatch=True),
)
_charge = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999.99"), places=2)


@st.composite
def claims(draw: st.DrawFn) -> Claim:
    diagnoses = draw(st.lists(st.sampled_from(ICD_CODES), min_size=1, max_size=12, unique=True))
    n = len(diagnoses)
    service_date = draw(st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 12, 31)))
    lines = []
    for _ in range(draw(st.integers(1, 6))):
        pointers = draw(st.lists(st.integers(1, n), min_size=1, max_size=min(4, n), unique=True))
        lines.append(
            ServiceLine(
                code=draw(st.sampled_from(CPT_CODES)),
                charge=draw(_charge),
                service_date=service_date,
                units=Decimal(draw(st.integers(1, 3))),
                modifiers=tuple(draw(st.lists(st.sampled_from(MODIFIERS), max_size=2, unique=True))),
                pointers=tuple(pointers),
            )
        )
    billing = Provider(
        npi="1234567893",
        name=draw(_name) + " Clinic",
        taxonomy="207Q00000X",
        tax_id=draw(st.from_regex(r"[0-9]{9}", fullmatch=True)),
        address=draw(_address),
        contact_name=draw(_name),
        contact_phone="5555552222",
    )
    subscriber = Person(
        last_name=draw(_name),
        first_name=draw(_name),
        birth_date=draw(st.dates(min_value=date(1930, 1, 1), max_value=date(2005, 12, 31))),
        sex=draw(st.sampled_from(["F", "M", "U"])),
        member_id=draw(st.from_regex(r"[A-Z0-9]{6,12}", fullmatch=True)),
        address=draw(_address),
    )
    patient = None
    relationship = "18"
    if draw(st.booleans()):
        patient = Person(
            last_name=subscriber.last_name,
            first_name=draw(_name),
            birth_date=draw(st.dates(min_value=date(2008, 1, 1), max_value=date(2023, 12, 31))),
            sex=draw(st.sampled_from(["F", "M"])),
            address=subscriber.address,
        )
        relationship = "19"
    rendering = None
    if draw(st.booleans()):
        rendering = Provider(
            npi="1245319599", last_name=draw(_name), first_name=draw(_name), taxonomy="207Q00000X", organization=False
        )
    return Claim(
        claim_id=draw(st.from_regex(r"[A-Z0-9]{1,20}", fullmatch=True)),
        billing_provider=billing,
        subscriber=subscriber,
        payer=Payer(name=draw(_name) + " Health", payer_id=draw(st.from_regex(r"[0-9]{5}", fullmatch=True))),
        diagnoses=[Diagnosis(c) for c in diagnoses],
        lines=lines,
        place_of_service=draw(st.sampled_from(["11", "22", "02"])),
        rendering_provider=rendering,
        patient=patient,
        relationship=relationship,
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(claim=claims(), control_number=st.integers(1, 999_999_999))
def test_generated_claims_validate_and_round_trip(claim, control_number):
    text = write_837p(claim, control_number=control_number, created=CREATED)
    assert validate_837p(text) == []
    assert_round_trip(claim, text)
