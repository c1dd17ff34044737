"""What the knowledge engine says about a note, as evidence per code of the ranker's label space:
its suggestions (score, rank, whether mapped to an ancestor or a header) and the raw concept mentions
with their assertions (negated, uncertain, family, history). Also the code descriptions' words, which
the `desc_overlap` feature compares with the note's."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from chartcoder.models.ranker.features import WORD


@dataclass
class KnowledgeView:
    """What the knowledge engine says about one note, keyed by code in the label space."""

    score: dict[str, float]
    rank: dict[str, int]
    mapped: set[str]
    header: set[str]
    raw: dict[str, Counter[str]]
    first: dict[str, float] = field(default_factory=dict)  # earliest mention, as a share of the note
    words: dict[str, int] = field(default_factory=dict)  # most words in one matched term


def map_to_labels(code: str, labels: Collection[str]) -> tuple[str, bool]:
    """A FY2026 code in the label space, or its nearest ancestor that is (R05.9 -> R05); the code
    itself when neither is."""
    if code in labels:
        return code, False
    flat = code.replace(".", "")
    for cut in range(len(flat) - 1, 2, -1):
        cand = flat[:3] + ("." + flat[3:cut] if cut > 3 else "")
        if cand in labels:
            return cand, True
    return code, False


def knowledge_view(analysis: Any, labels: set[str], system: str = "ICD-10-CM") -> KnowledgeView:
    """Turn the service's analysis (suggestions and raw mentions) into per-code evidence, for the
    codes of one system (a diagnosis ranker never ranks the engine's CPT codes)."""
    suggestions, mentions = analysis
    score: dict[str, float] = {}
    rank: dict[str, int] = {}
    mapped: set[str] = set()
    header: set[str] = set()
    for i, s in enumerate(x for x in suggestions.suggestions if x.system == system):
        code, was_mapped = map_to_labels(s.code, labels)
        if code in score:
            continue
        score[code] = s.score
        rank[code] = i + 1
        if was_mapped:
            mapped.add(code)
        if any("header code" in w for w in s.warnings):
            header.add(code)
    raw, first, words = _mention_evidence(mentions, labels, system)
    return KnowledgeView(score, rank, mapped, header, raw, first, words)


def _mention_evidence(
    mentions: Any, labels: set[str], system: str
) -> tuple[dict[str, Counter[str]], dict[str, float], dict[str, int]]:
    """Per code: the mentions' assertions counted, the earliest mention (as a share of the note) and
    the most words in one matched term."""
    raw: dict[str, Counter[str]] = defaultdict(Counter)
    first: dict[str, float] = {}
    words: dict[str, int] = {}
    length = max((m.end for m in mentions), default=1)
    for m in mentions:
        if m.targets[0].system != system:
            continue
        code, _ = map_to_labels(m.targets[0].code, labels)
        raw[code][m.assertion] += 1
        first[code] = min(first.get(code, 1.0), m.start / length)
        words[code] = max(words.get(code, 0), len(m.text.split()))
        if m.section == "assessment_plan":
            raw[code]["assessment"] += 1
    # A mention the matcher could only place at a header (N46.0) stands for its likeliest billable
    # codes too, which coders pick (N46.01).
    for code, counts in list(raw.items()):
        for child in header_children(code):
            if child not in raw:
                raw[child]["via_parent"] += sum(counts.values())
                first.setdefault(child, first.get(code, 1.0))
                words.setdefault(child, words.get(code, 0))
    return dict(raw), first, words


_CHILDREN_CACHE: dict[str, tuple[str, ...]] = {}


def header_children(code: str, limit: int = 8) -> tuple[str, ...]:
    """The billable codes a non-billable ICD-10-CM header most likely stands for: its billable
    children when few, else the unspecified/other ones (ending in 0 or 9)."""
    hit = _CHILDREN_CACHE.get(code)
    if hit is not None:
        return hit
    from chartcoder.codes.icd10cm import icd10cm

    icd = icd10cm()
    out: tuple[str, ...] = ()
    if icd.is_valid(code) and not icd.is_billable(code):
        leaves = icd.billable_descendants(code)
        if len(leaves) <= limit:
            out = tuple(leaves)
        else:
            depth = len(code.replace(".", "")) + 2
            out = tuple([c for c in leaves if c[-1] in "09" and len(c.replace(".", "")) <= depth][:limit])
    _CHILDREN_CACHE[code] = out
    return out


def description_words(code: str, system: str) -> frozenset[str]:
    """The content words of an ICD-10-CM code's description (none for other systems)."""
    if system != "ICD-10-CM":
        return frozenset()
    from chartcoder.codes.icd10cm import icd10cm

    icd = icd10cm()
    if not icd.is_valid(code):
        return frozenset()
    stop = {"of", "the", "and", "or", "with", "without", "in", "to", "other", "unspecified", "specified", "due"}
    return frozenset(w for w in WORD.findall(icd.description(code).lower()) if w not in stop and len(w) > 2)
