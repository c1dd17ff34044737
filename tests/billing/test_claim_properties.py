"""Property test over the whole billing path: hypothesis generates valid finalized encounters (notes
with real codes and evidence offsets, patients, payers); each is assembled and scrubbed, its 837P
must pass pyx12 and parse back to the same diagnoses, procedures, charges and pointers, and its FHIR
Claim must validate with fhir.resources.R4B."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chartcoder.billing.assembler import assemble, load_fee_schedule, load_practice
from chartcoder.billing.fhir import fhir_claim_json
from chartcoder.billing.scrubber import Scrubber
from chartcoder.billing.x12 import parse_837p, validate_837p, write_837p

# Diagnoses that can stand together on one claim (no Excludes1 pair, no age/sex rule for adults of
# either sex), each with a phrase a note would use.
DIAGNOSES = {
    "I10": "essential hypertension",
    "E78.5": "hyperlipidemia",
    "J45.909": "asthma",
    "K21.9": "reflux disease",
    "M17.11": "osteoarthritis of the right knee",
    "F17.210": "smokes cigarettes daily",
    "R00.2": "palpitations",
    "L82.1": "seborrheic keratosis",
    "M25.561": "right knee pain",
    "Z79.899": "long-term medication use",
    "G47.00": "insomnia",
    "R51.9": "headache",
    "H61.21": "impacted cerumen of the right ear",
    "N39.0": "urinary tract infection",
}
SERVICES = {
    "93000": "ECG",
    "36415": "venipuncture",
    "81002": "urinalysis dipstick",
    "17110": "destruction of warts",
    "69210": "cerumen removal",
    "94010": "spirometry",
}
EM = ["99212", "99213", "99214", "99215"]
PRACTICE = load_practice()
FEES = load_fee_schedule()
SCRUBBER = Scrubber.default(today=date(2026, 12, 31))

names = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=12)


@st.composite
def encounters(draw):
    dx = draw(st.lists(st.sampled_from(sorted(DIAGNOSES)), min_size=1, max_size=8, unique=True))
    services = draw(st.lists(st.sampled_from(sorted(SERVICES)), min_size=0, max_size=3, unique=True))
    em = draw(st.none() | st.sampled_from(EM))
    if not services and em is None:
        em = "99213"
    parts, suggestions, codes = ["Assessment:"], [], []

    def mention(system: str, code: str, phrase: str, lead: str) -> None:
        text = " ".join(parts) + " " + lead
        start = len(text)
        parts.append(lead + phrase + ".")
        suggestions.append(
            {
                "code": code,
                "system": system,
                "description": "",
                "score": 0.9,
                "evidence": [{"start": start, "end": start + len(phrase), "text": phrase}],
            }
        )
        codes.append({"code": code, "system": system, "state": draw(st.sampled_from(["accepted", "added"]))})

    for code in dx:
        mention("ICD-10-CM", code, DIAGNOSES[code], "")
    for code in services:
        mention("CPT", code, SERVICES[code], "Procedure: ")
    if em:
        minutes = {"99212": 12, "99213": 22, "99214": 32, "99215": 42}[em]
        mention("CPT", em, f"Total time {minutes} minutes", "")
    text = " ".join(parts)
    for s in suggestions:  # the offsets slice the note exactly
        for e in s["evidence"]:
            assert text[e["start"] : e["end"]] == e["text"]
    born = draw(st.dates(min_value=date(1930, 1, 1), max_value=date(2000, 12, 31)))
    return {
        "id": "enc_" + draw(st.text(alphabet="0123456789abcdef", min_size=24, max_size=24)),
        "status": "finalized",
        "text": text,
        "setting": "outpatient",
        "date_of_service": draw(st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31))).isoformat(),
        "patient": {
            "name": f"{draw(names)} {draw(names)}",
            "sex": draw(st.sampled_from(["F", "M"])),
            "birth_date": born.isoformat(),
            "address": {"line1": "1 ELM ST", "city": draw(names), "state": "IL", "zip": "62701"},
        },
        "payer": {
            "id": "60054",
            "name": "Aetna",
            "member_id": "W" + draw(st.text(alphabet="0123456789", min_size=9, max_size=9)),
        },
        "suggestion_set": {"suggestions": suggestions},
        "codes": codes,
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(encounters())
def test_every_generated_encounter_makes_a_valid_837p_and_fhir_claim(encounter):
    from fhir.resources.R4B.claim import Claim as FhirClaim

    claim = assemble(encounter, PRACTICE, FEES)
    result = SCRUBBER.scrub(claim)
    # what the scrubber may legitimately say of these encounters: a visit beside a same-day
    # procedure that only treats the visit's diagnoses needs its modifier 25 decided by a person
    assert {f.edit for f in result.errors} <= {"MODIFIER_25_MISSING"}, [f.message for f in result.errors]
    x12 = write_837p(claim)
    assert validate_837p(x12) == []
    parsed = parse_837p(x12)
    assert list(parsed.diagnoses) == [d.code for d in claim.diagnoses]
    assert [
        (p.code, tuple(p.modifiers), tuple(p.pointers), Decimal(p.charge), Decimal(p.units)) for p in parsed.lines
    ] == [(line.code, line.modifiers, line.pointers, line.charge, line.units) for line in claim.lines]
    assert Decimal(parsed.total_charge) == claim.total_charge
    fhir = FhirClaim.model_validate(fhir_claim_json(claim))
    assert [d.diagnosisCodeableConcept.coding[0].code for d in fhir.diagnosis] == [d.code for d in claim.diagnoses]
    assert [i.productOrService.coding[0].code for i in fhir.item] == [line.code for line in claim.lines]
    assert [list(i.diagnosisSequence) for i in fhir.item] == [list(line.pointers) for line in claim.lines]
