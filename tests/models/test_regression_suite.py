"""The clinical regression suite (tests/regression/*.yaml): guideline cases the engine must pass."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

CASES_DIR = Path(__file__).resolve().parents[1] / "regression"
# cases.yaml holds the first wave's cases; each further file a family of rules (documents, reportability,
# E/M, external causes, ...). One suite: ids are unique across files.
CASES = [case for path in sorted(CASES_DIR.glob("*.yaml")) for case in yaml.safe_load(path.read_text(encoding="utf-8")) or []]
REQUIRED_CATEGORIES = {
    "negation",
    "family_history",
    "personal_history",
    "uncertain_outpatient",
    "uncertain_inpatient",
    "laterality",
    "seventh_character",
    "combination",
    "abbreviation",
    "em_time",
    "procedure",
}


def test_suite_size_and_coverage():
    assert len(CASES) >= 80
    assert len({c["id"] for c in CASES}) == len(CASES), "case ids must be unique"
    assert {c["category"] for c in CASES} >= REQUIRED_CATEGORIES


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case, suggest):
    encounter = case.get("encounter") or {}
    top_k = int(case.get("top_k", 10))
    text = case["text"].replace("\n", "\r\n") if case.get("crlf") else case["text"]
    result = suggest(text, top_k=100, **encounter)
    ranked = [s.code for s in result.suggestions]
    top = ranked[:top_k]
    missing = [c for c in case.get("must", []) if str(c) not in top]
    unwanted = [c for c in case.get("must_not", []) if str(c) in ranked]
    assert not missing and not unwanted, (
        f"{case['id']} ({case['category']}): missing from top {top_k}: {missing}; "
        f"must not appear: {unwanted}; got {ranked[:15]}. Why: {case.get('why', '')}"
    )
