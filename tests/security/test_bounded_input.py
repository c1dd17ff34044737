"""Bounded work per request (issue 16): a hostile note at the size limit is read in bounded time on every
path, and evidence offsets still index the text the client sent.

Each case here reproduces a finding: before the fix it ran for tens of seconds to hours."""

from __future__ import annotations

import time

import pytest

from chartcoder.models import em

LIMIT = 200_000  # the default CHARTCODER_MAX_NOTE_CHARS
VISIT = (
    "Office visit, established patient. Total time spent on the date of the encounter: 32 minutes.\n"
    "Assessment and plan:\n"
)
WITH_PROBLEM = VISIT + "1. Hypertension, worsening.\n"  # data and risk are read once a problem is found


def _fill(unit: str, size: int = LIMIT, head: str = "") -> str:
    body = size - len(head)
    return head + (unit * (body // len(unit) + 1))[:body]


# -- E/M: problem words, tests and drugs by the thousand ------------------------------------------------
# Each problem word of an assessment line was checked against the whole line, each test against every
# test before it, each prescription drug against every OTC drug: "Hypertension " repeated to 80k
# characters took 52 s, "sepsis " 25 s; at 200k, "reviewed labs" lines 26 s, "no metformin ibuprofen." 13 s.
EM_FLOODS = {
    "problem words": ("Hypertension ", VISIT),
    "threats": ("sepsis ", VISIT),
    "problems with a course": ("worsening hypertension; ", VISIT),
    "tests reviewed": ("reviewed labs\n", WITH_PROBLEM),
    "tests named": ("CBC reviewed. ", WITH_PROBLEM),
    "negated drugs beside OTC drugs": ("no metformin ibuprofen. ", WITH_PROBLEM),
}


@pytest.mark.parametrize("name", sorted(EM_FLOODS))
def test_em_reads_a_flooded_assessment_at_the_size_limit_in_bounded_time(name: str) -> None:
    unit, head = EM_FLOODS[name]
    text = _fill(unit, head=head)
    start = time.perf_counter()
    em.suggest_em(text)
    elapsed = time.perf_counter() - start
    # Measured 0.2-1.8 s on an idle machine, 3.4 s at a load of 13 on 2 cores.
    assert elapsed < 10.0, f"{name}: {elapsed:.1f}s for {len(text):,} characters"


def test_em_still_counts_the_problems_of_a_real_assessment() -> None:
    """The cap on problem words per line leaves real lines (at most 8 in 2,500 MTSamples notes) whole."""
    note = VISIT + "1. Hypertension, worsening. 2. Type 2 diabetes, stable. 3. Hyperlipidemia, stable.\n"
    mdm = em.medical_decision_making(note)
    assert mdm is not None
    problems = em.find_problems(note, em._problem_region(em.sections(note)))
    assert [(p.name, p.kind) for p in problems] == [
        ("hypertension", "worse"),
        ("diabetes", "chronic"),
        ("hyperlipidemia", "chronic"),
    ]
    assert mdm.problems.level == 2, mdm.problems.reason  # moderate: a chronic illness with progression
