"""The learned shown/consider gate (chartcoder/models/gate.py): its resource is checked on load, its
features say nothing about a code's identity, and in the served path it only moves codes between the
groups, keeping their evidence and warnings and the served order's rules."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chartcoder.domain.encounter import Encounter
from chartcoder.domain.errors import ResourceError
from chartcoder.models.gate import (
    Gate,
    GateContext,
    candidate_features,
    code_kind,
    feature_names,
    load_gate,
    read_gate,
    served_gate,
)
from chartcoder.models.schema import Evidence, Suggestion
from chartcoder.models.service import _may_be_first, secondary_only

GOOD = {
    "threshold": 0.5,
    "intercept": -1.0,
    "features": ["score", "section:final"],
    "coefficients": [1.0, 2.0],
    "means": [0.5, 0.0],
    "scales": [0.2, 1.0],
}


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "gate.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def test_the_bundled_gate_loads_and_names_only_features_the_gate_computes() -> None:
    gate = load_gate()
    assert gate.names and set(gate.names) <= set(feature_names())
    assert 0 < gate.threshold < 1
    assert served_gate() is (gate if gate.serve else None)


def test_a_good_file_reads_and_its_probability_is_the_logistic_of_the_standardized_sum(tmp_path: Path) -> None:
    gate = read_gate(_write(tmp_path, GOOD))
    # z = -1 + 1 * (0.7 - 0.5) / 0.2 + 2 * (1 - 0) / 1 = 2
    assert gate.probability({"score": 0.7, "section:final": 1.0}) == pytest.approx(1 / (1 + 2.718281828**-2))
    assert gate.serve is False and gate.rerank is False


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ResourceError, match="cannot be read"):
        read_gate(tmp_path / "nowhere.yaml")


def test_a_file_that_is_not_yaml_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ResourceError, match="not valid YAML"):
        read_gate(_write(tmp_path, "features: [score\nthreshold: 0.5\n"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"features": []}, "'features' must be a non-empty list"),
        ({"features": ["score", "code:I10"]}, r"unknown features \['code:I10'\]"),
        ({"coefficients": [1.0]}, "'coefficients' must be a list of 2 numbers"),
        ({"means": [0.5, "x"]}, "'means' must hold numbers only"),
        ({"scales": [0.2, 0.0]}, "'scales' must be positive"),
        ({"threshold": 1.5}, "'threshold' must be a probability"),
        ({"intercept": None}, "'intercept' and 'threshold' must be numbers"),
    ],
)
def test_a_bad_resource_says_what_is_wrong(tmp_path: Path, change: dict, message: str) -> None:
    with pytest.raises(ResourceError, match=message):
        read_gate(_write(tmp_path, {**GOOD, **change}))


def test_a_list_is_not_a_gate(tmp_path: Path) -> None:
    with pytest.raises(ResourceError, match="expected a mapping"):
        read_gate(_write(tmp_path, [1, 2]))


def _s(code: str, score: float, section: str | None, start: int = 0, system: str = "ICD-10-CM") -> Suggestion:
    evidence = [Evidence(start, start + 5, "words", "present", section)] if section else []
    return Suggestion(code, system, code, score, evidence, [], "suggested" if score >= 0.8 else "consider")


def test_features_describe_how_the_note_supports_a_code_not_which_code_it_is() -> None:
    sugg = [_s("K40.90", 0.9, "postop_diagnosis", 10), _s("K40", 0.5, "hpi", 50), _s("Z87.891", 0.6, None)]
    ctx = GateContext("operative_report", 100, {(10, 15): (frozenset({"K40.90"}), frozenset({"synonym"}))})
    rows = candidate_features(sugg, ctx)
    assert all(set(r) <= set(feature_names()) for r in rows)
    assert not any(name.startswith(("code:", "K40", "Z87")) for name in feature_names())
    first, header, history = rows
    assert first["section:final"] == 1.0 and first["found:term_same_code"] == 1.0 and first["source:synonym"] == 1.0
    assert first["first_position"] == pytest.approx(0.1) and first["rank_top3"] == 1.0
    assert first["less_specific_candidate"] == 1.0 and header["more_specific_candidate"] == 1.0
    assert header["found:no_term"] == 1.0 and header["section:hpi"] == 1.0
    assert history["found:no_evidence"] == 1.0 and history["kind:secondary_only"] == 1.0
    assert all(r["document:operative_report"] == 1.0 for r in rows)


@pytest.mark.parametrize(
    ("code", "system", "kind"),
    [
        ("R07.9", "ICD-10-CM", "symptom"),
        ("Z87.891", "ICD-10-CM", "secondary_only"),
        ("Z30.2", "ICD-10-CM", "z_other"),
        ("S52.501A", "ICD-10-CM", "injury"),
        ("C61", "ICD-10-CM", "neoplasm"),
        ("D25.9", "ICD-10-CM", "neoplasm"),
        ("D64.9", "ICD-10-CM", "icd_other"),
        ("99214", "CPT", "em"),
        ("49505", "CPT", "cpt_other"),
        ("J1100", "HCPCS", "hcpcs"),
    ],
)
def test_code_kinds(code: str, system: str, kind: str) -> None:
    assert code_kind(code, system) == kind


NOTE = (
    "CHIEF COMPLAINT: Cough.\n"
    "HISTORY OF PRESENT ILLNESS: A 58-year-old man with cough for 5 days and facial pressure.\n"
    "PAST MEDICAL HISTORY: Hypertension. Type 2 diabetes mellitus on insulin.\n"
    "ASSESSMENT:\n1. Acute maxillary sinusitis.\n2. Long-term current use of insulin.\n"
    "PLAN: Amoxicillin for 10 days.\n"
)
# Shown exactly when the background (past history, problem list, medications ...) names the code: the
# opposite of what the engine shows, so the test sees the gate decide.
BACKGROUND_ONLY = Gate(
    names=("section:background",),
    means=(0.0,),
    scales=(1.0,),
    coefficients=(8.0,),
    intercept=-4.0,
    threshold=0.5,
)
BACKGROUND = ("past_medical_history", "problem_list", "past_surgical_history", "medications", "allergies")


def test_in_the_served_path_the_gate_moves_codes_between_groups_and_keeps_their_words(service) -> None:
    engine = service.with_gate(None).suggest(NOTE, Encounter(setting="outpatient"), top_k=20).suggestions
    gated = service.with_gate(BACKGROUND_ONLY).suggest(NOTE, Encounter(setting="outpatient"), top_k=20).suggestions
    assert {s.code for s in gated} == {s.code for s in engine}
    before = {s.code: s for s in engine}
    for s in gated:
        assert s.evidence == before[s.code].evidence and s.warnings == before[s.code].warnings
        background = any(e.section in BACKGROUND for e in s.evidence)
        assert (s.group == "suggested") is background, (s.code, s.group, s.evidence)
    shown = {s.code for s in gated if s.group == "suggested"}
    assert {"I10", "E11.9", "Z79.4"} <= shown  # the engine holds the first two in consider
    assert "J01.00" not in shown  # the engine shows it: named in the assessment only
    assert shown != {s.code for s in engine if s.group == "suggested"}
    # The shown group comes first, and a status code never outranks the first-listable diagnosis.
    groups = [s.group for s in gated]
    assert groups == sorted(groups, key=lambda g: g != "suggested")
    first = next(i for i, s in enumerate(gated) if _may_be_first(s) and s.group == "suggested")
    assert all(i > first for i, s in enumerate(gated) if secondary_only(s.code) and s.group == "suggested")


def test_without_evidence_a_code_is_never_shown_whatever_its_probability(service) -> None:
    always = Gate(names=("score",), means=(0.0,), scales=(1.0,), coefficients=(0.0,), intercept=20.0, threshold=0.5)
    result = service.with_gate(always).suggest(NOTE, Encounter(setting="outpatient"), top_k=20)
    assert all(s.evidence for s in result.suggestions if s.group == "suggested")
    assert all(s.group == "suggested" for s in result.suggestions if s.evidence)
