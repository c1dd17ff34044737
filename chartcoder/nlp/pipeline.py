"""The clinical NLP pipeline: tokenizer, sections, sentences, concept mentions, ConText assertions."""

from __future__ import annotations

import bisect
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy
import spacy
from spacy.attrs import SENT_START
from spacy.language import Language
from spacy.tokens import Doc, Span

from chartcoder.domain.errors import ResourceError

# Importing the component modules registers their factories.
from chartcoder.nlp import concepts as _concepts  # noqa: F401
from chartcoder.nlp import documents as _documents  # noqa: F401
from chartcoder.nlp import sections as _sections  # noqa: F401
from chartcoder.nlp import sentences as _sentences  # noqa: F401
from chartcoder.nlp.bounds import DEFAULT_MAX_LINE_BREAKS, DEFAULT_MAX_RUN_CHARS, DEFAULT_MAX_SYMBOL_RUN, bound_note
from chartcoder.nlp.concepts import Mention
from chartcoder.nlp.resources import load_yaml_resource

PIPELINE_VERSION = "chartcoder.clinical_pipeline.v1"

_ALLOWED_RULE_KEYS = {"literal", "category", "direction", "pattern", "allowed_types", "max_scope"}
_CATEGORIES = {
    "NEGATED_EXISTENCE",
    "POSSIBLE_EXISTENCE",
    "HISTORICAL",
    "HYPOTHETICAL",
    "FAMILY",
    "OTHER_PERSON",
    "TERMINATE",
}


def _expand_pattern(pattern: list[dict[str, Any]], limit: int = 2000) -> list[str] | None:
    """The literal phrases a simple token pattern stands for (LOWER/TEXT values, IN lists and
    optional tokens), or None when it uses anything else. ConText matches literals with spaCy's
    PhraseMatcher, which costs the same for a thousand phrases as for one, while each token pattern
    adds a pass of the token Matcher over the whole note."""
    phrases: list[list[str]] = [[]]
    for tok in pattern:
        keys = set(tok) - {"OP"}
        if len(keys) != 1 or not keys <= {"LOWER", "TEXT"} or tok.get("OP") not in (None, "?"):
            return None
        value = tok[keys.pop()]
        if isinstance(value, dict):
            if set(value) != {"IN"}:
                return None
            options = [str(v) for v in value["IN"]]
        else:
            options = [str(value)]
        if tok.get("OP") == "?":
            options = ["", *options]
        phrases = [p + ([o] if o else []) for p in phrases for o in options]
        if len(phrases) > limit:
            return None
    return [" ".join(p) for p in phrases if p]


def _make_rules(raw: list[dict[str, Any]], source: str) -> list[Any]:
    from medspacy.context import ConTextRule

    rules = []
    for i, r in enumerate(raw):
        extra = set(r) - _ALLOWED_RULE_KEYS
        if extra or r.get("category") not in _CATEGORIES or "literal" not in r:
            raise ResourceError(
                f"{source} rule {i + 1}: expected keys {sorted(_ALLOWED_RULE_KEYS)} and a category "
                f"in {sorted(_CATEGORIES)}, got {r!r}"
            )
        common = {
            "category": r["category"],
            "direction": r.get("direction", "BIDIRECTIONAL"),
            "allowed_types": set(r["allowed_types"]) if r.get("allowed_types") else None,
            "max_scope": r.get("max_scope"),
        }
        literals = _expand_pattern(r["pattern"]) if r.get("pattern") else [r["literal"]]
        if literals is None:
            rules.append(ConTextRule(literal=r["literal"], pattern=r["pattern"], **common))
        else:
            rules.extend(ConTextRule(literal=lit, **common) for lit in dict.fromkeys(literals))
    return rules


def _context_rules() -> list[Any]:
    """medspaCy's default English rules and ours, with simple token patterns turned into literals."""
    import json

    import medspacy

    # Where medspaCy keeps them (ConText computes the same path per instance).
    default_path = Path(medspacy.__file__).resolve().parents[1] / "resources" / "en" / "context_rules.json"
    with default_path.open(encoding="utf-8") as fh:
        defaults = [
            {k: v for k, v in r.items() if k in _ALLOWED_RULE_KEYS and v is not None}
            for r in json.load(fh)["context_rules"]
        ]
    ours = _make_rules((load_yaml_resource("context_rules.yaml") or {}).get("rules", []), "context_rules.yaml")
    # A phrase we define replaces medspaCy's rule for the same phrase and category: two rules on one
    # span are pruned to one, and ours says which way the cue looks.
    mine = {(_phrase_key(r.literal), r.category) for r in ours}
    base = [
        r
        for r in _make_rules(defaults, "medspaCy default context_rules.json")
        if (_phrase_key(r.literal), r.category) not in mine
    ]
    return base + ours


def _phrase_key(literal: str) -> str:
    return "".join(literal.lower().split())


# Transcriptions in the MTSamples "CSV form" write a line break as a comma: "bleeding.,2.  Uterine",
# "PLAN:,1.  She will", "DIAGNOSES,1.  Xxx". spaCy keeps ".,2" or "PLAN:,1" as one token, so a header or
# list item could not start a sentence there; these infixes split such commas (and the colon before one)
# off. A comma between digits ("10,000") stays.
TRANSCRIPTION_INFIXES = (r"(?<=[.:;!?)\]]),", r"(?<=[A-Za-z]),(?=[0-9])", r"(?<=[A-Za-z]):(?=,)")


def _split_transcription_commas(nlp: Language) -> None:
    from spacy.util import compile_infix_regex

    infixes = list(nlp.Defaults.infixes or []) + list(TRANSCRIPTION_INFIXES)
    tokenizer: Any = nlp.tokenizer
    tokenizer.infix_finditer = compile_infix_regex(infixes).finditer


def build_pipeline(cache_dir: Path | None = None) -> Language:
    """A blank English spaCy pipeline with our components; no model download needed."""
    from loguru import logger

    logger.disable("PyRuSH")  # medspaCy's sentence splitter logs every token at DEBUG; we do not use it
    # Every ConText rule is a phrase here, so medspaCy's token matcher is empty: that is intended.
    warnings.filterwarnings("ignore", message=r"\[W036\]")
    import medspacy  # noqa: F401  (registers medspacy_context)

    nlp = spacy.blank("en")
    _split_transcription_commas(nlp)
    nlp.add_pipe("chartcoder_sections")
    nlp.add_pipe("chartcoder_document")
    nlp.add_pipe("chartcoder_sentences")
    nlp.add_pipe("chartcoder_concepts", config={"cache_dir": str(cache_dir) if cache_dir else None})
    context: Any = nlp.add_pipe("medspacy_context", config={"rules": None})
    context.add(_context_rules())
    return nlp


_FLAG_OF = {
    "NEGATED_EXISTENCE": "negated",
    "POSSIBLE_EXISTENCE": "uncertain",
    "HISTORICAL": "historical",
    "HYPOTHETICAL": "hypothetical",
    "FAMILY": "family",
    "OTHER_PERSON": "other_person",
}


def _flags(ent: Any, inside: list[tuple[int, int]]) -> set[str]:
    """Assertion flags from the ConText modifiers of an entity, ignoring cue words that sit inside
    any entity ("Migraine without aura" is not a negated migraine, and "diabetes without
    complications, on insulin" does not negate the insulin)."""
    flags = set()
    for mod in ent._.modifiers:
        start, end = mod.modifier_span
        if any(start >= s and end <= e for s, e in inside):
            continue
        flag = _FLAG_OF.get(mod.category)
        if flag:
            flags.add(flag)
    return flags


CONTEXT_WINDOW = 120  # tokens: ConText compares every cue with every mention, so it runs per window


def context_flags(doc: Doc, context: Any) -> list[tuple[int, int, set[str]]]:
    """(start_char, end_char, flags) for every entity, with ConText run one sentence at a time (long
    sentences in windows of CONTEXT_WINDOW tokens). Cue scopes never cross a sentence, so the result
    is the same as over the whole note, and the cost grows with the note, not with its square."""
    ents = list(doc.ents)
    out: list[tuple[int, int, set[str]]] = []
    if not ents:
        return out
    k = 0
    for sent in doc.sents:
        start = sent.start
        while start < sent.end and k < len(ents):
            end = min(sent.end, start + CONTEXT_WINDOW)
            while k < len(ents) and ents[k].end <= start:
                k += 1
            window_ents = []
            j = k
            while j < len(ents) and ents[j].start < end:
                window_ents.append(ents[j])
                end = max(end, ents[j].end)  # never cut an entity in two
                j += 1
            if window_ents:
                sub = _window_doc(doc, start, end, window_ents)
                context(sub)
                inside = [(e.start, e.end) for e in sub.ents]
                offset = doc[start].idx
                for e in sub.ents:
                    out.append((offset + e.start_char, offset + e.end_char, _flags(e, inside)))
            start = end
    return out


def _window_doc(doc: Doc, start: int, end: int, ents: list[Any]) -> Doc:
    """A small Doc of tokens start..end with the window's entities, built from the tokens themselves
    (Span.as_doc reads every entity of the whole note on each call)."""
    tokens = doc[start:end]
    sub = Doc(doc.vocab, words=[t.text for t in tokens], spaces=[bool(t.whitespace_) for t in tokens])
    starts = numpy.full((len(sub), 1), -1, dtype="int64")
    starts[0, 0] = 1
    sub.from_array([SENT_START], starts.astype("uint64"))  # type: ignore[arg-type]
    sub.ents = [Span(sub, e.start - start, e.end - start, label=e.label_) for e in ents]
    return sub


def apply_assertions(doc: Doc, flags_by_span: list[tuple[int, int, set[str]]]) -> list[Mention]:
    """Set each mention's assertion flags, and let the section decide family history. A mention that
    overlaps a longer entity (only one of them can be a spaCy entity) takes that entity's flags."""
    starts = [s for s, _, _ in flags_by_span]
    for m in doc._.mentions or []:
        flags: set[str] = set()
        i = bisect.bisect_right(starts, m.end) - 1
        while i >= 0:
            start, end, f = flags_by_span[i]
            if end <= m.start and start < m.start - 2000:
                break
            if start < m.end and m.start < end:
                flags = f
                break
            i -= 1
        m.negated = "negated" in flags
        m.historical = "historical" in flags
        m.family = "family" in flags or m.section == "family_history"
        m.hypothetical = "hypothetical" in flags
        m.uncertain = "uncertain" in flags
        m.other_person = "other_person" in flags
    return list(doc._.mentions or [])


class ClinicalPipeline:
    """Thread-safe wrapper: spaCy components are not re-entrant, so calls are serialized.

    Every note is bounded first (chartcoder.nlp.bounds): long runs of non-space characters, of symbols and
    of line breaks are broken up without moving a character, so the work is linear in the note's length and the
    returned offsets index the text the caller passed. The Doc holds the bounded text; mentions carry the
    caller's words."""

    def __init__(
        self,
        cache_dir: Path | None = None,
        max_run_chars: int = DEFAULT_MAX_RUN_CHARS,
        max_line_breaks: int = DEFAULT_MAX_LINE_BREAKS,
        max_symbol_run: int = DEFAULT_MAX_SYMBOL_RUN,
    ) -> None:
        self.nlp = build_pipeline(cache_dir)
        self.context = self.nlp.get_pipe("medspacy_context")
        self._steps = [proc for name, proc in self.nlp.pipeline if name != "medspacy_context"]
        self._lock = threading.Lock()
        self.max_run_chars, self.max_line_breaks, self.max_symbol_run = max_run_chars, max_line_breaks, max_symbol_run

    def bound(self, text: str) -> str:
        """The note as this pipeline reads it (same length; `text` itself when nothing needed bounding)."""
        return bound_note(text, self.max_run_chars, self.max_line_breaks, self.max_symbol_run)

    def __call__(self, text: str) -> tuple[Doc, list[Mention]]:
        bounded = self.bound(text)
        with self._lock:
            doc = self.nlp.make_doc(bounded)
            for proc in self._steps:
                doc = proc(doc)
            mentions = apply_assertions(doc, context_flags(doc, self.context))
        if bounded is not text:
            for m in mentions:
                m.text = text[m.start : m.end]
        return doc, mentions
