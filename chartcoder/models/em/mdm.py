"""MDM as a whole: the level two of the three elements meet or exceed."""

from __future__ import annotations

from collections.abc import Sequence

from chartcoder.models.em._patterns import _rx
from chartcoder.models.em.data import data_element
from chartcoder.models.em.problems import _problem_region, find_problems, problems_element
from chartcoder.models.em.results import MDM
from chartcoder.models.em.risk import risk_element
from chartcoder.models.em.sections import _AP_HEADERS, _HISTORY_HEADERS, Section, sections

# --------------------------------------------------------------------------------------------------
# MDM as a whole
_VISIT_WORDS = _rx(
    r"\b(?:presents?|presenting|here[ \t](?:today[ \t])?for|seen[ \t]today|comes[ \t]in|came[ \t]in|complain(?:s|"
    r"ing)[ \t]of|"
    r"c/o|visit|follow[- ]?up)\b"
)


def has_assessment(text: str, secs: Sequence[Section] | None = None) -> bool:
    """The note is clearly an E/M visit: an assessment (or impression, diagnosis, MDM) section, and a
    history or exam (or words of a visit) besides it."""
    secs = sections(text) if secs is None else secs
    names = {s.name for s in secs}
    if not names & _AP_HEADERS:
        return False
    return bool(names & _HISTORY_HEADERS) or bool(_VISIT_WORDS.search(text))


def medical_decision_making(
    text: str,
    *,
    hospital: bool = False,
    diagnoses: Sequence[tuple[str, int, int]] = (),
) -> MDM | None:
    """The three MDM elements of an E/M note, or None when the note has no assessment or names no problem.
    `diagnoses` are (ICD-10-CM code, start, end) the engine found; those inside the assessment that no
    problem word covers count as problems too (chronic by category, otherwise minor)."""
    secs = sections(text)
    if not has_assessment(text, secs):
        return None
    regions = _problem_region(secs)
    problems = find_problems(text, regions, diagnoses)
    if not problems:
        return None
    return MDM(problems_element(problems), data_element(text, secs), risk_element(text, regions, hospital))
