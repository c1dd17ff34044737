"""The learned "shown" gate: which candidates the served path shows (the "suggested" group) and which it
only offers (the "consider" group), from generic signals about how the note supports each candidate.

The guideline engine (knowledge.py) and a pack propose and score the candidates. The gate reads, for each
one, signals that say nothing about which code it is: the document type, the sections and assertions of
its evidence, how it was found (a matched term, a diagnosis line, a procedure that implies it), how many
mentions and sections support it and where the first one is, the served score and rank, the kind of code
(symptom, status or history, external cause, injury, neoplasm, E/M ...), whether a more specific code of
the same category is also a candidate, and the warnings it carries. A logistic regression over them,
fitted on the coded U.S. development set's tune part (`benchmarks/fit_gate.py`), gives the probability
that the candidate is a code a coder reports; the candidate is shown when it reaches the fitted threshold.

The fitted model is data, not a pickle: `models/resources/gate.yaml` holds the feature names, the
standardization, the coefficients, the intercept and the threshold, so it can be read and reviewed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from chartcoder.domain.errors import ResourceError
from chartcoder.models.schema import Suggestion
from chartcoder.nlp.documents import DOCUMENT_TYPES

RESOURCE = "gate.yaml"
PACKAGE = "chartcoder.models.resources"

# Section labels (nlp/resources/sections.yaml) grouped by what a coder makes of words there.
SECTION_GROUPS: dict[str, tuple[str, ...]] = {
    "final": ("assessment_plan", "postop_diagnosis"),
    "preop": ("preop_diagnosis", "admission_diagnosis"),
    "reason": ("indications", "chief_complaint"),
    "hpi": ("hpi",),
    "background": (
        "past_medical_history",
        "problem_list",
        "past_surgical_history",
        "medications",
        "allergies",
        "social_history",
        "family_history",
    ),
    "ros": ("review_of_systems",),
    "exam": ("physical_exam",),
    "results": ("results", "findings", "pathology"),
    "procedures": ("procedures",),
    "narrative": ("procedure_detail", "hospital_course", "ed_course"),
    "plan": ("plan",),
}
_SECTION_OF = {label: group for group, labels in SECTION_GROUPS.items() for label in labels}

ASSERTIONS = ("present", "uncertain", "historical", "hypothetical", "family", "negated", "other_person")
TERM_SOURCES = ("synonym", "description", "inclusion", "includes", "procedure")

# Warning phrases (knowledge.py, tables.py, service.py) read as flags: the words a warning starts with or
# contains. Each names a rule that fired on the candidate, not the candidate's code.
WARNING_FLAGS: dict[str, str] = {
    "header": "header code, not billable",
    "excludes1": "excludes1",
    "preop": "preoperative diagnosis",
    "implied": "implied by the procedure",
    "uncertain": "uncertain diagnosis",
    "use_additional": "use additional code",
    "assumed": "assumed",
    "line": "the diagnosis line",
    "wording": "matched by wording",
    "neoplasm_table": "neoplasm table",
    "external_cause": "external cause index",
    "drug_table": "table of drugs",
    "not_documented": "not documented",
    "side": "side from the document",
    "body_kind": "kind from the body",
    "combination": "combination code",
    "history": "history",
    "similar_charts": "similar coded charts",
    "not_named": "does not name",
    "em": "e/m by",
    "modifier": "modifier 25",
}

CODE_KINDS = (
    "symptom",
    "secondary_only",
    "z_other",
    "injury",
    "neoplasm",
    "icd_other",
    "em",
    "cpt_other",
    "hcpcs",
)


def feature_names() -> list[str]:
    """Every feature the gate reads, in a fixed order (the YAML resource names them the same way)."""
    names = [f"document:{d}" for d in DOCUMENT_TYPES]
    names += [f"section:{g}" for g in (*SECTION_GROUPS, "other")]
    names += [f"assertion:{a}" for a in ASSERTIONS]
    names += ["found:term_same_code", "found:term_other_code", "found:no_term", "found:no_evidence"]
    names += [f"source:{s}" for s in TERM_SOURCES]
    names += ["evidence_count", "section_count", "first_position", "first_in_final"]
    names += ["score", "rank_inverse", "rank_top3", "engine_shown"]
    names += [f"kind:{k}" for k in CODE_KINDS]
    names += ["more_specific_candidate", "same_category_candidates", "less_specific_candidate"]
    names += ["warning_count", *(f"warning:{w}" for w in WARNING_FLAGS)]
    names += ["note_candidates", "note_engine_shown"]
    return names


@dataclass(frozen=True)
class GateContext:
    """What the gate knows of the note besides the candidates: its document type, its length and the
    matched terms (span -> the codes and term sources the phrase matcher gave that span)."""

    document: str | None
    note_chars: int
    terms: dict[tuple[int, int], tuple[frozenset[str], frozenset[str]]] = field(default_factory=dict)

    @classmethod
    def from_mentions(cls, document: str | None, note_chars: int, mentions: Iterable[Any]) -> GateContext:
        codes: dict[tuple[int, int], set[str]] = {}
        sources: dict[tuple[int, int], set[str]] = {}
        for m in mentions:
            span = (m.start, m.end)
            codes.setdefault(span, set()).update(t.code for t in m.targets)
            sources.setdefault(span, set()).update(t.source for t in m.targets)
        terms = {span: (frozenset(codes[span]), frozenset(sources[span])) for span in codes}
        return cls(document, note_chars, terms)


def code_kind(code: str, system: str) -> str:
    """The kind of code, by chapter or range: what the classification says about its role."""
    from chartcoder.models.service import secondary_only  # service imports this module

    if system == "ICD-10-CM":
        if secondary_only(code):
            return "secondary_only"
        if code.startswith("R"):
            return "symptom"
        if code.startswith("Z"):
            return "z_other"
        if code.startswith(("S", "T")):
            return "injury"
        if code.startswith("C") or (code.startswith("D") and code[1:3].isdigit() and int(code[1:3]) < 50):
            return "neoplasm"
        return "icd_other"
    if system == "CPT":
        return "em" if code.isdigit() and 99202 <= int(code) <= 99499 else "cpt_other"
    return "hcpcs"


def _evidence_features(s: Suggestion, ctx: GateContext) -> dict[str, float]:
    out: dict[str, float] = {}
    groups = {_SECTION_OF.get(e.section or "", "other") for e in s.evidence}
    for g in groups:
        out[f"section:{g}"] = 1.0
    for e in s.evidence:
        key = e.assertion if e.assertion in ASSERTIONS else "present"
        out[f"assertion:{key}"] = 1.0
    same = other = False
    for e in s.evidence:
        found = ctx.terms.get((e.start, e.end))
        if found is None:
            continue
        codes, sources = found
        same = same or s.code in codes
        other = other or s.code not in codes
        for src in sources:
            out[f"source:{src}"] = 1.0
    if not s.evidence:
        out["found:no_evidence"] = 1.0
    elif not (same or other):
        out["found:no_term"] = 1.0
    out["found:term_same_code"] = float(same)
    out["found:term_other_code"] = float(other and not same)
    out["evidence_count"] = math.log1p(len(s.evidence))
    out["section_count"] = float(len(groups))
    if s.evidence:
        first = min(s.evidence, key=lambda e: e.start)
        out["first_position"] = first.start / max(1, ctx.note_chars)
        out["first_in_final"] = float(_SECTION_OF.get(first.section or "", "") == "final")
    return out


def _relatives(code: str, others: Sequence[str]) -> dict[str, float]:
    bare = code.replace(".", "")
    more = less = 0
    same_category = 0
    for o in others:
        ob = o.replace(".", "")
        if ob == bare:
            continue
        if ob[:3] == bare[:3]:
            same_category += 1
        if ob.startswith(bare):
            more += 1
        elif bare.startswith(ob):
            less += 1
    return {
        "more_specific_candidate": float(more > 0),
        "less_specific_candidate": float(less > 0),
        "same_category_candidates": math.log1p(same_category),
    }


def candidate_features(suggestions: Sequence[Suggestion], ctx: GateContext) -> list[dict[str, float]]:
    """The features of each suggestion, in the order given (the served order before the gate)."""
    icd = [s.code for s in suggestions if s.system == "ICD-10-CM"]
    shown = sum(1 for s in suggestions if s.group == "suggested")
    rows: list[dict[str, float]] = []
    for rank, s in enumerate(suggestions):
        row = {f"document:{ctx.document or 'other'}": 1.0, f"kind:{code_kind(s.code, s.system)}": 1.0}
        row.update(_evidence_features(s, ctx))
        row["score"] = s.score
        row["rank_inverse"] = 1.0 / (1 + rank)
        row["rank_top3"] = float(rank < 3)
        row["engine_shown"] = float(s.group == "suggested")
        if s.system == "ICD-10-CM":
            row.update(_relatives(s.code, icd))
        text = " | ".join(s.warnings).lower()
        row["warning_count"] = math.log1p(len(s.warnings))
        for flag, phrase in WARNING_FLAGS.items():
            if phrase in text:
                row[f"warning:{flag}"] = 1.0
        row["note_candidates"] = math.log1p(len(suggestions))
        row["note_engine_shown"] = math.log1p(shown)
        rows.append(row)
    return rows


@dataclass(frozen=True)
class Gate:
    """A fitted logistic regression over standardized features, and the threshold at which it shows."""

    names: tuple[str, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    coefficients: tuple[float, ...]
    intercept: float
    threshold: float
    rerank: bool = False
    serve: bool = False  # whether the served path uses it (only when cross-fitting showed it helps)
    card: dict[str, Any] = field(default_factory=dict)

    def probability(self, row: dict[str, float]) -> float:
        z = self.intercept
        for name, mean, scale, coef in zip(self.names, self.means, self.scales, self.coefficients, strict=True):
            z += coef * (row.get(name, 0.0) - mean) / scale
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def apply(self, suggestions: list[Suggestion], ctx: GateContext) -> list[Suggestion]:
        """The suggestions gated by their features (`decide`)."""
        return self.decide(suggestions, candidate_features(suggestions, ctx))

    def decide(self, suggestions: list[Suggestion], rows: Sequence[dict[str, float]]) -> list[Suggestion]:
        """Each suggestion with evidence is shown when its probability reaches the threshold, else offered
        in the consider group; one without evidence stays in consider. With `rerank`, a shown code's score
        is half its served score and half its probability, so the shown group is re-ordered by both.
        Evidence and warnings are kept; the caller orders the result (`order_suggestions`)."""
        probabilities = [self.probability(r) for r in rows]
        for s, p in zip(suggestions, probabilities, strict=True):
            s.group = "suggested" if s.evidence and p >= self.threshold else "consider"
            if self.rerank and s.group == "suggested":
                s.score = round(min(0.99, 0.5 * s.score + 0.5 * p), 4)
        return suggestions


def _floats(raw: dict[str, Any], key: str, n: int) -> tuple[float, ...]:
    values = raw.get(key)
    if not isinstance(values, list) or len(values) != n:
        raise ResourceError(f"{RESOURCE}: '{key}' must be a list of {n} numbers (one per feature)")
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError) as exc:
        raise ResourceError(f"{RESOURCE}: '{key}' must hold numbers only ({exc})") from exc
    if not all(math.isfinite(v) for v in out):
        raise ResourceError(f"{RESOURCE}: '{key}' must hold finite numbers")
    return out


def gate_from_dict(raw: Any) -> Gate:
    """A Gate from the resource's mapping, or a ResourceError that says what is wrong with it."""
    if not isinstance(raw, dict):
        raise ResourceError(f"{RESOURCE}: expected a mapping with features, means, scales, coefficients")
    features = raw.get("features")
    if not isinstance(features, list) or not features or not all(isinstance(f, str) for f in features):
        raise ResourceError(f"{RESOURCE}: 'features' must be a non-empty list of feature names")
    unknown = sorted(set(features) - set(feature_names()))
    if unknown:
        raise ResourceError(f"{RESOURCE}: unknown features {unknown[:5]}; the gate computes {len(feature_names())}")
    n = len(features)
    scales = _floats(raw, "scales", n)
    if any(v <= 0 for v in scales):
        raise ResourceError(f"{RESOURCE}: 'scales' must be positive")
    try:
        intercept = float(raw["intercept"])
        threshold = float(raw["threshold"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ResourceError(f"{RESOURCE}: 'intercept' and 'threshold' must be numbers ({exc})") from exc
    if not 0.0 < threshold < 1.0:
        raise ResourceError(f"{RESOURCE}: 'threshold' must be a probability between 0 and 1; got {threshold}")
    return Gate(
        names=tuple(features),
        means=_floats(raw, "means", n),
        scales=scales,
        coefficients=_floats(raw, "coefficients", n),
        intercept=intercept,
        threshold=threshold,
        rerank=bool(raw.get("rerank", False)),
        serve=bool(raw.get("serve", False)),
        card=dict(raw.get("card") or {}),
    )


def read_gate(path: Path) -> Gate:
    """A gate from a YAML file (a refit under review), checked as the bundled one is."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ResourceError(f"gate file {path} cannot be read: {exc.strerror or exc}") from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ResourceError(f"gate file {path} is not valid YAML: {exc}") from exc
    return gate_from_dict(raw)


@lru_cache(maxsize=1)
def load_gate() -> Gate:
    """The bundled gate (`models/resources/gate.yaml`), checked on load."""
    from chartcoder.nlp.resources import load_yaml_resource

    return gate_from_dict(load_yaml_resource(RESOURCE, PACKAGE))


def served_gate() -> Gate | None:
    """The bundled gate when its resource says the served path uses it (`serve: true`), else None."""
    gate = load_gate()
    return gate if gate.serve else None
