"""The served order (chartcoder.models.service.order_suggestions): codes without words go last, and a
secondary-only code never outranks the diagnosis that can be first-listed (OCG I.C.20, I.C.21.c.3-4), and the
diagnosis the engine marks first-listed (the first of the final diagnostic statement, OCG IV.G) stays first."""

from __future__ import annotations

import pytest

from chartcoder.models.schema import FIRST_LISTED, Evidence, Suggestion
from chartcoder.models.service import order_suggestions, secondary_only


def _s(code: str, score: float, system: str = "ICD-10-CM", words: bool = True) -> Suggestion:
    evidence = [Evidence(0, 4, "word", "present", "assessment_plan")] if words else []
    return Suggestion(code, system, code, score, evidence)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("Z79.02", True),
        ("Z95.5", True),
        ("Z85.3", True),
        ("Z80.0", True),
        ("Z99.2", True),
        ("W19.XXXA", True),
        ("Y92.009", True),
        ("B96.20", True),
        ("Z3A.39", True),
        ("Z68.41", True),
        ("Z30.2", False),  # encounter for sterilization: a first-listed reason for the encounter
        ("Z00.00", False),
        ("I25.10", False),
        ("R07.9", False),
    ],
)
def test_secondary_only_codes(code: str, expected: bool) -> None:
    assert secondary_only(code) is expected


def test_a_status_code_never_outranks_the_first_listable_diagnosis() -> None:
    out = order_suggestions([_s("Z79.02", 0.91), _s("Z95.5", 0.88), _s("I25.10", 0.86), _s("99213", 0.95, "CPT")])
    icd = [s for s in out if s.system == "ICD-10-CM"]
    assert icd[0].code == "I25.10"
    assert all(s.score < 0.86 for s in icd[1:])
    assert [s.score for s in out] == sorted((s.score for s in out), reverse=True)  # still ordered by score
    assert next(s for s in out if s.code == "99213").score == 0.95  # other systems untouched


def test_without_a_first_listable_diagnosis_the_order_is_kept() -> None:
    """Only signs and status codes: nothing to put first, so nothing moves (a sign-only visit codes its
    signs, and a Z code alone is the coder's call)."""
    out = order_suggestions([_s("Z79.01", 0.9), _s("R07.9", 0.8)])
    assert [(s.code, s.score) for s in out] == [("Z79.01", 0.9), ("R07.9", 0.8)]


def test_a_consider_diagnosis_does_not_demote_shown_codes() -> None:
    """The diagnosis that can be first-listed must itself be shown with words of its own."""
    no_words = _s("I25.10", 0.95, words=False)
    out = order_suggestions([_s("Z95.5", 0.9), no_words])
    assert out[0].code == "Z95.5" and out[0].score == 0.9


def _first(code: str, score: float, group: str = "suggested") -> Suggestion:
    s = _s(code, score)
    s.warnings.append(f"{FIRST_LISTED}the first diagnosis of the postoperative diagnosis")
    s.group = group  # type: ignore[assignment]
    return s


def test_the_marked_first_listed_diagnosis_stays_first() -> None:
    """Engine scores are capped at 0.99 and a pack re-weighs them, so codes of a later line can score as
    high as the first postoperative diagnosis; the served order keeps the one the engine marked first
    (OCG IV.G), and the rest below it in their own order."""
    out = order_suggestions([_s("N80.9", 0.97), _s("58150", 0.96, "CPT"), _first("D25.9", 0.95), _s("R10.2", 0.9)])
    assert [s.code for s in out] == ["D25.9", "N80.9", "58150", "R10.2"]
    assert out[0].score == 0.95
    assert [s.score for s in out] == sorted((s.score for s in out), reverse=True)


def test_a_first_listed_mark_in_the_consider_group_moves_nothing() -> None:
    out = order_suggestions([_s("N80.9", 0.97), _first("D25.9", 0.7, group="consider")])
    assert [(s.code, s.score) for s in out] == [("N80.9", 0.97), ("D25.9", 0.7)]


def test_the_engine_marks_the_first_postoperative_diagnosis(suggest) -> None:
    text = (
        "PREOPERATIVE DIAGNOSIS: Uterine leiomyoma.\n"
        "POSTOPERATIVE DIAGNOSES: 1. Uterine leiomyoma. 2. Endometriosis.\n"
        "PROCEDURE: Total abdominal hysterectomy.\n"
        "FINDINGS: Endometriosis implants on the cul-de-sac; endometriosis of both uterosacral ligaments.\n"
    )
    marked = [s.code for s in suggest(text, sex="F", age=44).suggestions if _is_marked(s)]
    assert marked == ["D25.9"]


def test_the_engine_marks_the_first_impression_of_a_consult(suggest) -> None:
    text = (
        "REASON FOR CONSULTATION: Shortness of breath.\n"
        "HISTORY OF PRESENT ILLNESS: Hypertension for years. Two weeks of dyspnea on exertion.\n"
        "IMPRESSION: 1. Community-acquired pneumonia, right lower lobe. 2. Essential hypertension.\n"
    )
    result = suggest(text, sex="M", age=70)
    marked = [s.code for s in result.suggestions if _is_marked(s)]
    assert marked == ["J18.9"] and result.suggestions[0].code == "J18.9"


def _is_marked(s: Suggestion) -> bool:
    return any(w.startswith(FIRST_LISTED) for w in s.warnings)
