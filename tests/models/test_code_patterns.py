"""Code patterns of the rule files (`N18.3*|E11.[0-8]*`): the literal-prefix shortcut in front of the
regular expression never changes what a pattern matches."""

from __future__ import annotations

import fnmatch

from chartcoder.codes.icd10cm import icd10cm
from chartcoder.models.knowledge import _matches
from chartcoder.nlp.resources import load_yaml_resource


def test_patterns_match_as_fnmatch_does():
    combos = load_yaml_resource("combinations.yaml", "chartcoder.models.resources")
    specs = {s for r in combos["combinations"] for s in [*r.get("when", []), *(r.get("drop") or [])]}
    specs |= {s for r in combos["suppress"] for s in [*r["codes"], *r["when_any"]]}
    specs |= {"*", "E11.9", "S62.[0-8]*|T18.9*", "Z8?.*"}
    codes = icd10cm().all_codes[::37]  # about 2,000 codes of every chapter
    assert len(codes) > 1000
    for spec in specs:
        alternatives = [p.strip() for p in spec.split("|") if p.strip()]
        for code in codes:
            expected = any(fnmatch.fnmatchcase(code, p) for p in alternatives)
            assert _matches(code, spec) == expected, (code, spec)
