"""The clinical regression suite (tests/regression/*.yaml): guideline cases the engine must pass."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

CASES_DIR = Path(__file__).resolve().parents[1] / "regression"
# cases.yaml holds the first wave's cases; each further file a family of rules (documents, reportability,
# E/M, external causes, ...). One suite: ids are unique across files.
CASES = [
    case for path in sorted(CASES_DIR.glob("*.yaml")) for case in yaml.safe_load(path.read_text(encoding="utf-8")) or []
]
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


def _missing_requirement(case) -> str | None:
    """Why a case cannot run here: `requires: cms` needs the CMS index files (CHARTCODER_CMS_DIR)."""
    if case.get("requires") == "cms":
        from chartcoder.codes.cms_tables import KINDS, find_files
        from chartcoder.config import get_settings

        folder = get_settings().cms_dir
        if folder is None or set(find_files(folder)) != set(KINDS):
            return f"needs the CMS ICD-10-CM index files (CHARTCODER_CMS_DIR; {folder or 'not set'} has not all three)"
    return None


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case, suggest):
    missing = _missing_requirement(case)
    if missing:
        pytest.skip(missing)
    encounter = case.get("encounter") or {}
    top_k = int(case.get("top_k", 10))
    text = case["text"].replace("\n", "\r\n") if case.get("crlf") else case["text"]
    result = suggest(text, top_k=100, **encounter)
    ranked = [s.code for s in result.suggestions]
    top = ranked[:top_k]
    missing = [c for c in case.get("must", []) if str(c) not in top]
    unwanted = [c for c in case.get("must_not", []) if str(c) in ranked]
    # `shown` / `not_shown`: the "suggested" group (what the coder is shown as the proposal).
    shown = [s.code for s in result.suggestions if s.group == "suggested"]
    not_shown = [c for c in case.get("shown", []) if str(c) not in shown]
    wrongly_shown = [c for c in case.get("not_shown", []) if str(c) in shown]
    assert not missing and not unwanted and not not_shown and not wrongly_shown, (
        f"{case['id']} ({case['category']}): missing from top {top_k}: {missing}; "
        f"must not appear: {unwanted}; not shown: {not_shown}; must not be shown: {wrongly_shown}; "
        f"got {ranked[:15]}, shown {shown}. Why: {case.get('why', '')}"
    )
