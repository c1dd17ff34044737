"""Sections, sentences, concept matching and ConText assertions on short synthetic notes."""

from __future__ import annotations

import pytest

from chartcoder.nlp.concepts import term_key, words_of
from chartcoder.nlp.sections import find_sections


@pytest.mark.parametrize(
    "header, label",
    [
        ("CHIEF COMPLAINT:", "chief_complaint"),
        ("cc:", "chief_complaint"),
        ("History of Present Illness:", "hpi"),
        ("HPI:", "hpi"),
        ("PMH:", "past_medical_history"),
        ("Past Surgical History", "past_surgical_history"),
        ("Family History:", "family_history"),
        ("FHx:", "family_history"),
        ("SOCIAL HISTORY", "social_history"),
        ("ROS:", "review_of_systems"),
        ("REVIEW OF SYSTEMS", "review_of_systems"),
        ("Physical Exam:", "physical_exam"),
        ("ASSESSMENT AND PLAN", "assessment_plan"),
        ("A/P:", "assessment_plan"),
        ("Impression:", "assessment_plan"),
        ("Plan:", "plan"),
        ("PLAN", "plan"),
        ("Procedures:", "procedures"),
        ("Medications:", "medications"),
        ("Allergies:", "allergies"),
    ],
)
def test_section_headers(header, label):
    text = f"Some opening line.\n{header}\nbody text here\n"
    idx = find_sections(text)
    assert idx.at(text.index("body")) == label
    assert idx.at(0) is None


def test_short_headers_need_a_colon():
    text = "A patient with pe and ros in prose\nplan is to return"
    idx = find_sections(text)
    assert [s.label for s in idx.sections] == []


def test_header_with_text_on_the_same_line():
    text = "HPI: cough for 3 days. Assessment: acute bronchitis."
    idx = find_sections(text)
    assert idx.at(text.index("cough")) == "hpi"


def test_normalization_meets_tabular_wording():
    assert term_key("Pain in left knee") == term_key("pain in the right knee") == ("pain", "knee")
    words, cues = words_of("Pain in the LEFT knee")
    assert [w.norm for w in words] == ["pain", "knee"]
    assert [c[0] for c in cues] == ["left"]
    assert term_key("Kidney stones") == term_key("kidney stone")


def _mentions(service, text):
    _, mentions = service.pipeline(text)
    return {m.text: m for m in mentions}


def test_sentences_split_at_headers_and_lines(service):
    doc, _ = service.pipeline("History of Present Illness: cough.\nDenies fever\nReports rash")
    sents = [s.text.strip() for s in doc.sents]
    assert "cough." in sents[1] and "History" not in sents[1]
    assert any(s.startswith("Reports rash") for s in sents)


@pytest.mark.parametrize(
    "text, mention, flag",
    [
        ("Patient denies chest pain.", "chest pain", "negated"),
        ("No evidence of pneumonia on imaging.", "pneumonia", "negated"),
        ("ROS: negative for fever.", "fever", "negated"),
        ("Mother had breast cancer.", "breast cancer", "family"),
        ("Family History:\nDiabetes in father.", "Diabetes", "family"),
        ("History of DVT in 2015.", "DVT", "historical"),
        ("Probable pneumonia.", "pneumonia", "uncertain"),
        ("Rule out UTI.", "UTI", "uncertain"),
        ("Return if chest pain develops.", "chest pain", "hypothetical"),
        ("Reports cough.", "cough", "present"),
    ],
)
def test_assertions(service, text, mention, flag):
    found = _mentions(service, text)
    assert mention in found, sorted(found)
    assert found[mention].assertion == flag


def test_terminating_cue_limits_negation(service):
    found = _mentions(service, "Denies fever but reports cough.")
    assert found["fever"].negated and not found["cough"].negated


def test_abbreviations_are_case_sensitive(service):
    found = _mentions(service, "MI in 2019. Walked 2 mi today.")
    assert "MI" in found and "mi" not in found


def test_laterality_cue_is_attached(service):
    found = _mentions(service, "Assessment: osteoarthritis of the right knee.")
    m = next(m for t, m in found.items() if "osteoarthritis" in t.lower())
    assert m.laterality == ["right"] and m.section == "assessment_plan"
