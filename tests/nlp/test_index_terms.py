"""The Alphabetic Index conventions (nlp/resources/index_conventions.yaml): every target is a FY2026 code
of the right kind, no term names two codes (here or beside synonyms.yaml), and the expansion is what
the phrase matcher and the retriever read."""

from __future__ import annotations

import pytest

from chartcoder.codes.icd10cm import icd10cm
from chartcoder.domain.errors import ResourceError
from chartcoder.nlp.concepts import term_key
from chartcoder.nlp.index_terms import expand, index_entries, synonym_entries
from chartcoder.nlp.resources import load_yaml_resource

ENTRIES = index_entries()


def test_every_target_is_a_fy2026_code():
    icd = icd10cm()
    bad = sorted({e.code for e in ENTRIES if not icd.is_valid(e.code)})
    assert bad == []


def test_targets_need_only_side_and_seventh_character():
    """A target is a code whose descendants differ from it by side, encounter (7th character) or the
    classification's defaults, never a chapter or block the engine would have to guess inside."""
    icd = icd10cm()
    for e in ENTRIES:
        if icd.is_billable(e.code):
            continue
        kids = icd.billable_descendants(e.code)
        assert kids, e.code
        assert len(e.code.replace(".", "")) >= 3, e.code


@pytest.mark.parametrize(
    "convention, chapter",
    [
        ("tendon-rupture-strain", "S"),  # Strain (traumatic): chapter 19
        ("ligament-rupture-sprain", "S"),
        ("fracture-by-part", "S"),
        ("injury-by-site", "S"),
        ("ruptured-globe", "S05.3"),
        ("foreign-body-unspecified", "T1"),
        ("foreign-body-object", "T1"),
        ("foreign-body-food", "T1"),
        ("foreign-body-swallowed", "T1"),
        ("tendon-rupture-nontraumatic", "M66"),
        ("ruptured-disc", "M5"),
    ],
)
def test_conventions_land_in_their_chapter(convention, chapter):
    codes = {e.code for e in ENTRIES if e.convention == convention}
    assert codes, convention
    assert all(c.startswith(chapter) for c in codes), sorted(codes)


def test_named_index_references():
    """The Index's own "see" references, spot-checked against our table."""
    by_term = {}
    for e in ENTRIES:
        for t in e.terms:
            by_term.setdefault(term_key(t), set()).add(e.code)
    expected = {
        "pectoralis major tendon rupture": "S46.81",  # Rupture, tendon, traumatic - see Strain
        "ruptured globe": "S05.3",  # Rupture, globe - see Laceration, eyeball
        "penny in esophagus": "T18.198",  # Foreign body, esophagus, specified type
        "esophageal foreign body": "T18.108",
        "food bolus impaction esophagus": "T18.128",
        "tibial shaft fracture": "S82.20",
        "intertrochanteric fracture": "S72.14",
        "bimalleolar fracture": "S82.84",
        "trimalleolar ankle fracture": "S82.85",
        "boxer's fracture": "S62.33",
        "torn ATFL": "S93.49",  # Tear, ligament - see Sprain
        "degenerative meniscus tear": "M23.20",  # Tear, meniscus, old - see Derangement
        "meniscus tear": "S83.20",
        "partial thickness rotator cuff tear": "M75.11",
        "traumatic rotator cuff tear": "S46.01",
        "ruptured lumbar disc": "M51.26",  # Rupture, disc - see Displacement
        "chin laceration": "S01.81",
        "dog bite of hand": "S61.45",
        "spontaneous rupture of Achilles tendon": "M66.36",
    }
    wrong = {t: by_term.get(term_key(t)) for t, c in expected.items() if by_term.get(term_key(t)) != {c}}
    assert wrong == {}


def test_no_term_names_two_codes_here_or_in_synonyms():
    seen: dict[tuple[str, ...], str] = {}
    for e in load_yaml_resource("synonyms.yaml"):
        for t in e.get("terms") or []:
            seen.setdefault(term_key(str(t)), str(e["code"]))
    clashes = []
    for e in synonym_entries():
        for t in e["terms"]:
            key = term_key(t)
            if not key:
                continue
            if seen.get(key, e["code"]) != e["code"]:
                clashes.append((t, seen[key], e["code"]))
            seen[key] = e["code"]
    assert clashes == []


def test_retrieval_reads_a_few_terms_per_code():
    full = sum(len(e["terms"]) for e in synonym_entries())
    few = sum(len(e["terms"]) for e in synonym_entries(retrieval=True))
    assert 0 < few < full / 20


def test_templates_fill_every_slot_and_skip_empty_words():
    words = {"site": ["biceps"], "noun": ["rupture", "tear"], "q": ["", "complete"]}
    assert expand("{q} {noun} {site}", words, "test") == [
        "rupture biceps",
        "tear biceps",
        "complete rupture biceps",
        "complete tear biceps",
    ]
    with pytest.raises(ResourceError):
        expand("{nothing} {site}", words, "test")
