"""The table of reasons procedures imply (chartcoder/models/resources/implied_diagnoses.yaml) and its reader."""

from __future__ import annotations

import pytest

from chartcoder.codes.icd10cm import icd10cm
from chartcoder.domain.errors import ResourceError
from chartcoder.models.implied import ImpliedTable, implied_table
from chartcoder.models.knowledge import _matches
from chartcoder.nlp.resources import load_yaml_resource

RAW = load_yaml_resource("implied_diagnoses.yaml", "chartcoder.models.resources")


def test_every_code_is_a_billable_fy2026_code():
    icd = icd10cm()
    bad = []
    for entry in implied_table().entries:
        for code in entry.codes():
            if not icd.is_valid(code) or not icd.is_billable(code):
                bad.append(f"{entry.id}: {code}")
    assert not bad, f"not billable FY2026 ICD-10-CM codes: {bad}"


def test_table_spans_the_surgical_specialties():
    table = implied_table()
    assert 60 <= len(table.entries) <= 120
    areas = {str(item["area"]).lower() for item in RAW}
    for area in ("general surgery", "urology", "gynecology", "obstetrics", "ophthalmology", "ent", "orthopedics"):
        assert area in areas, area
    for area in ("cardiology", "gi endoscopy", "pain management", "dermatology", "neurosurgery"):
        assert area in areas, area


def test_each_entry_covers_its_own_codes():
    """A note that already codes what the procedure implies gets nothing added: every code an entry can
    give is among the codes that cover it."""
    for entry in implied_table().entries:
        for code in entry.codes():
            assert any(_matches(code, spec) for spec in entry.covers), f"{entry.id}: {code} not in {entry.covers}"


def _find(text: str) -> list[tuple[str, str]]:
    return [(f.entry.id, text[f.start : f.end]) for f in implied_table().find(text)]


def test_performed_procedures_are_found_with_their_words():
    assert _find("PROCEDURE PERFORMED: Left inguinal herniorrhaphy.") == [
        ("inguinal-hernia-repair", "inguinal herniorrhaphy")
    ]
    # Words in between: "repair of ... inguinal hernia".
    assert _find("OPERATION: Repair of recurrent right inguinal hernia.") == [
        ("inguinal-hernia-repair", "Repair of recurrent right inguinal hernia")
    ]
    # The steps of the operation: "vas deferens" is not "deferred", and a wrapped line is one sentence.
    found = _find("The right vas\ndeferens was isolated, divided and the ends cauterized.")
    assert found == [("vasectomy", "vas\ndeferens was isolated, divided")]


@pytest.mark.parametrize(
    "text",
    [
        "PLAN: Vasectomy scheduled for next month.",
        "We discussed laparoscopic cholecystectomy with her.",
        "She is status post appendectomy.",
        "Recommend carpal tunnel release if symptoms persist.",
        "He declined circumcision.",
        "Appendectomy 10 years ago.",
        "Incidental appendectomy.",
        "Reversal of vasectomy.",
    ],
)
def test_planned_past_declined_or_excluded_procedures_imply_nothing(text):
    assert _find(text) == []


@pytest.mark.parametrize(
    ("sentence", "sex", "code"),
    [
        ("Inguinal hernia repair.", None, "K40.90"),
        ("Left inguinal hernia repair.", None, "K40.90"),
        ("Bilateral inguinal hernia repair.", None, "K40.20"),
        ("Right and left inguinal hernia repair.", None, "K40.20"),
        ("Recurrent inguinal hernia repair, bilateral.", None, "K40.21"),
        ("Carpal tunnel release.", None, "G56.00"),
        ("Right carpal tunnel release.", None, "G56.01"),
        ("Bilateral carpal tunnel releases.", None, "G56.03"),
        ("Meatotomy.", "M", "N35.911"),
        ("Meatotomy.", "F", "N35.92"),
        ("Lumbar epidural steroid injection at L4-5.", None, "M54.16"),
    ],
)
def test_the_sentence_chooses_the_code(sentence, sex, code):
    (hit,) = implied_table().find(sentence)
    assert hit.entry.choose(sentence, sex) == code


def test_a_malformed_table_is_refused():
    with pytest.raises(ResourceError):
        ImpliedTable.load([{"id": "x", "code": "K40.90"}])  # neither terms nor near
    with pytest.raises(ResourceError):
        ImpliedTable.load([{"id": "x", "code": "Z30.2", "near": [["vas"], ["ligat"]]}])  # near without near_words
    with pytest.raises(ResourceError):
        ImpliedTable.load([{"id": "x", "code": "K37", "terms": ["appendectomy"]}] * 2)  # duplicate id
