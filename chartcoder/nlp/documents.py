"""What kind of document a note is (operative report, discharge summary, office note ...).

The coding policy (docs/coding-policy.md) reads each kind of document from a different place: the
postoperative diagnosis of an operative report, the principal diagnosis of a discharge summary, the
impression of a radiology report. The type comes from the sections found (their labels and header
names), the title, and a few phrases, by ordered rules kept as data in resources/documents.yaml: the
first rule whose conditions all hold names the type; `other` when none does.

`doc._.document` holds the type of a Doc that went through `chartcoder_document` (after
`chartcoder_sections`); `classify_document(text)` serves callers without a Doc.
"""

# No `from __future__ import annotations` here: spaCy reads the factory signature at runtime.

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc

from chartcoder.domain.errors import ResourceError
from chartcoder.nlp.resources import load_yaml_resource
from chartcoder.nlp.sections import SECTION_LABELS, SectionIndex, find_sections, note_text

DOCUMENT_TYPES = (
    "operative_report",
    "procedure_report",
    "discharge_summary",
    "ed_note",
    "history_physical",
    "consult",
    "progress_note",
    "radiology_report",
    "pathology_report",
    "clinic_letter",
    "other",
)
OPENING = 600  # characters at the start of a note where a salutation or the first history lines sit
TITLE = 160  # characters of text before the first section where its title may be (first line, to a comma)

_LABEL_KEYS = ("labels_any", "labels_all", "labels_none", "labels_only")
_PATTERN_KEYS = (
    "headers_any",
    "headers_none",
    "title_any",
    "names_any",
    "procedures_any",
    "opening_any",
    "text_any",
    "text_none",
)
PROCEDURE_LIST = 300  # characters of each `procedures` section read as the list of procedures performed
RULE_KEYS = frozenset({"type", "why", "min_sections", *_LABEL_KEYS, *_PATTERN_KEYS})


@dataclass(frozen=True)
class DocumentRule:
    """All given conditions must hold. Label sets name section labels; patterns are regular expressions
    searched case-insensitively (one header name a line, `^` at each) in the header names (`headers_*`),
    the title (`title_any`), the title and the header names (`names_any`), the procedures performed
    (`procedures_any`: each `procedures` section, one a line), the opening of the note, or the whole
    note."""

    type: str
    labels_any: frozenset[str] = frozenset()
    labels_all: frozenset[str] = frozenset()
    labels_none: frozenset[str] = frozenset()
    labels_only: frozenset[str] = frozenset()  # every section has one of these labels
    min_sections: int = 0
    headers_any: re.Pattern[str] | None = None
    headers_none: re.Pattern[str] | None = None
    title_any: re.Pattern[str] | None = None
    names_any: re.Pattern[str] | None = None
    procedures_any: re.Pattern[str] | None = None
    opening_any: re.Pattern[str] | None = None
    text_any: re.Pattern[str] | None = None
    text_none: re.Pattern[str] | None = None
    # (pattern, which text, wanted) for the patterns given, in the order they are tried
    checks: tuple[tuple[re.Pattern[str], str, bool], ...] = ()


_UPPER_OUTSIDE_ESCAPE = re.compile(r"(?<!\\)[A-Z]")


def _compile(patterns: Any, where: str) -> re.Pattern[str] | None:
    """One pattern for a list of alternatives. Patterns are written in lower case and run on lower-cased
    text (faster than IGNORECASE, which defeats the scanner's optimizations)."""
    if not patterns:
        return None
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise ResourceError(f"{where}: expected a list of regular expressions")
    upper = [p for p in patterns if _UPPER_OUTSIDE_ESCAPE.search(p)]
    if upper:
        raise ResourceError(f"{where}: write patterns in lower case (they run on lower-cased text): {upper}")
    try:
        return re.compile("|".join(f"(?:{p})" for p in patterns), re.M)
    except re.error as exc:
        raise ResourceError(f"{where}: {exc}") from exc


def _labels(value: Any, where: str) -> frozenset[str]:
    labels = frozenset(str(v) for v in value or [])
    unknown = labels - SECTION_LABELS
    if unknown:
        raise ResourceError(f"{where}: unknown section labels {sorted(unknown)}")
    return labels


@lru_cache(maxsize=4)
def document_rules(resource: str = "documents.yaml") -> tuple[DocumentRule, ...]:
    data = load_yaml_resource(resource)
    if not isinstance(data, dict) or set(data) != {"rules"} or not isinstance(data["rules"], list):
        raise ResourceError(f"{resource}: expected `rules:`, a list of rules")
    rules = []
    for i, raw in enumerate(data["rules"], 1):
        where = f"{resource} rule {i}"
        if not isinstance(raw, dict) or set(raw) - RULE_KEYS or raw.get("type") not in DOCUMENT_TYPES:
            raise ResourceError(f"{where}: keys {sorted(RULE_KEYS)} and a type in {DOCUMENT_TYPES}, got {raw!r}")
        labels: dict[str, Any] = {k: _labels(raw.get(k), f"{where} {k}") for k in _LABEL_KEYS}
        patterns: dict[str, Any] = {k: _compile(raw.get(k), f"{where} {k}") for k in _PATTERN_KEYS}
        checks = tuple(
            (patterns[k], k.rsplit("_", 1)[0], k.endswith("_any")) for k in _PATTERN_KEYS if patterns[k] is not None
        )
        rules.append(
            DocumentRule(
                type=raw["type"], min_sections=int(raw.get("min_sections", 0)), checks=checks, **labels, **patterns
            )
        )
    return tuple(rules)


class _Facts:
    """What the rules look at, computed once per note (lower case: the patterns are)."""

    def __init__(self, text: str, index: SectionIndex) -> None:
        lower = text.lower()
        self.text = lower
        self.labels = index.labels()
        self.count = len(index.sections)
        self.headers = "\n".join(index.names())
        first = index.sections[0].header_start if index.sections else len(text)
        lead = lower[: min(first, TITLE)].lstrip()
        # The first line before any section ("Discharge Summary", "CONSULT FOR PROSTATE CANCER,The ..."),
        # else the first header when it stands first ("Procedure Note\nDOS: ...").
        self.title = lead.split("\n", 1)[0].split(",", 1)[0].strip() or (
            index.sections[0].name if index.sections else ""
        )
        self.names = self.title + "\n" + self.headers
        self.procedures = "\n".join(
            " ".join(lower[s.header_end : min(s.end, s.header_end + PROCEDURE_LIST)].split()).strip(" ,:")
            for s in index.sections
            if s.label == "procedures"
        )
        self.opening = lower[:OPENING]
        self._seen: dict[tuple[str, str], bool] = {}

    def found(self, pattern: re.Pattern[str], where: str) -> bool:
        """Whether the pattern occurs in one of the texts above; rules share patterns, so it is asked once."""
        key = (pattern.pattern, where)
        hit = self._seen.get(key)
        if hit is None:
            hit = self._seen[key] = pattern.search(getattr(self, where)) is not None
        return hit


def _holds(rule: DocumentRule, f: _Facts) -> bool:
    if rule.labels_any and not rule.labels_any & f.labels:
        return False
    if rule.labels_all and not rule.labels_all <= f.labels:
        return False
    if rule.labels_none and rule.labels_none & f.labels:
        return False
    if rule.labels_only and not (f.labels and f.labels <= rule.labels_only):
        return False
    if f.count < rule.min_sections:
        return False
    return all(f.found(pattern, where) == wanted for pattern, where, wanted in rule.checks)


def classify_sections(text: str, index: SectionIndex) -> str:
    """The document type of a note whose sections are already found."""
    facts = _Facts(text, index)
    for rule in document_rules():
        if _holds(rule, facts):
            return rule.type
    return "other"


def classify_document(text: str) -> str:
    """The document type of a note: one of DOCUMENT_TYPES."""
    return classify_sections(text, find_sections(text))


if not Doc.has_extension("document"):
    Doc.set_extension("document", default=None)


@Language.factory("chartcoder_document")
def create_document_classifier(nlp: Language, name: str) -> "DocumentClassifier":
    return DocumentClassifier()


class DocumentClassifier:
    """Stores the document type on `doc._.document` (needs `chartcoder_sections` before it)."""

    def __call__(self, doc: Doc) -> Doc:
        sections = doc._.sections
        text = note_text(doc)
        doc._.document = classify_sections(text, sections if sections is not None else find_sections(text))
        return doc
