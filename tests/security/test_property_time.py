"""Property (issue 16): whatever a note is made of, coding it costs time linear in its length.

Hypothesis builds notes from adversarial alphabets (punctuation, digits, line breaks, markup, long words,
clinical words a rule reads per mention) as runs of a short repeated unit, the shape that made spaCy's
tokenizer, regular expressions and per-mention loops super-linear, and asserts each note's CPU time stays
under a budget linear in its length. CPU time of this process, not wall time: the machine is shared.

The constants are measured: these notes cost 3-35 us of CPU a character (a real note 10-30 us); before
the bounds, a run of punctuation cost 14 s at 8,000 characters and a flood of problem words 3 s at 20,000,
far over the budget."""

from __future__ import annotations

import string
import time

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

BASE_S = 0.5
PER_CHAR_S = 100e-6  # 3.5 s for a 30,000-character note

ALPHABETS = {
    "punctuation": string.punctuation,
    "digits": string.digits + ".,-/",
    "line breaks": "\n\r\t \x0b\x0c\u2028",
    "markup": "<>/=\"'&;!-? ab",
    "letters": string.ascii_letters,  # repeated with no space: one word as long as the note
    "mixed": string.ascii_letters + string.digits + string.punctuation + "\n ",
}
CLINICAL = [
    "Hypertension ",
    "sepsis ",
    "CBC ",
    "no ",
    "Plan:\n",
    "1. ",
    "reviewed labs\n",
    "left knee pain ",
    "metformin ",
    "Total time 30 minutes. ",
    "cm ",
    "2.5 cm ",
    "history of ",
]

FAMILIES = {
    **{name: st.text(chars, min_size=1, max_size=6) for name, chars in ALPHABETS.items()},
    "long words": st.text(string.ascii_letters, min_size=40, max_size=400).map(lambda w: w + " "),
    "clinical words": st.lists(st.sampled_from(CLINICAL), min_size=1, max_size=3).map("".join),
}
HEAD = "Office visit, established patient.\nAssessment and plan:\n1. Hypertension, worsening.\n"


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_coding_time_is_linear_in_the_note_length(service, family: str) -> None:
    service.suggest("Assessment: hypertension.")  # loaded tables and caches are not a note's cost

    @settings(
        max_examples=4,
        deadline=None,
        derandomize=True,  # the same notes on every run: a budget failure is reproducible, not a flake
        phases=[Phase.explicit, Phase.generate],  # no shrinking: each slow example would cost seconds again
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(unit=FAMILIES[family], other=st.sampled_from(["", *CLINICAL]), size=st.integers(10_000, 30_000))
    def note_costs_linear_time(unit: str, other: str, size: int) -> None:
        body = (unit * (size // len(unit) + 1))[:size]
        note = HEAD + body + "\n" + other
        start = time.process_time()
        service.suggest(note)
        spent = time.process_time() - start
        budget = BASE_S + PER_CHAR_S * len(note)
        assert spent < budget, f"{len(note):,} characters of {unit[:20]!r} took {spent:.2f}s CPU, over {budget:.1f}s"

    note_costs_linear_time()
