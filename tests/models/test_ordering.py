"""The served order (chartcoder.models.service.order_suggestions): codes without words go last, and a
secondary-only code never outranks the diagnosis that can be first-listed (OCG I.C.20, I.C.21.c.3-4)."""

from __future__ import annotations

import pytest

from chartcoder.models.schema import Evidence, Suggestion
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
