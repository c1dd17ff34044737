"""The suggestion service: validated note text in, a ranked SuggestionSet out. Used by API and CLI."""

from __future__ import annotations

import threading
from pathlib import Path

from spacy.tokens import Doc

from chartcoder import metrics
from chartcoder.config import Settings, get_settings
from chartcoder.domain.code_systems import PROCEDURE_SYSTEMS, CodeSystem
from chartcoder.domain.encounter import Encounter
from chartcoder.domain.errors import InvalidInputError, NoteTooLongError
from chartcoder.models.gate import Gate, GateContext, served_gate
from chartcoder.models.knowledge import KnowledgeSuggester
from chartcoder.models.pack import ModelPack
from chartcoder.models.ranker import map_to_labels
from chartcoder.models.retrieval import load_retriever
from chartcoder.models.schema import FIRST_LISTED, Evidence, Suggestion, SuggestionSet
from chartcoder.nlp.bounds import restore_evidence
from chartcoder.nlp.pipeline import ClinicalPipeline

# How much of a code's served score comes from a learned pack (the rest is the guideline engine's);
# chosen on the tune part of the U.S. development set (benchmarks/us_notes.py --split tune): at 0.5 and
# 0.3 the pack's re-ordering put the first-listed code in the top 3 less often (0.62 against 0.65) for
# the same recall and precision.
PACK_WEIGHT = 0.15


def validate_note(text: object, max_chars: int) -> str:
    """The note text, or an InvalidInputError saying what was expected."""
    if not isinstance(text, str):
        raise InvalidInputError(f"'text' must be a string of note text; got {type(text).__name__}.")
    if not text.strip():
        raise InvalidInputError("'text' is empty; send the clinical note text to code.")
    if len(text) > max_chars:
        raise NoteTooLongError(
            f"'text' is {len(text):,} characters; the limit is {max_chars:,} (CHARTCODER_MAX_NOTE_CHARS)."
        )
    if "\x00" in text:
        raise InvalidInputError("'text' contains NUL characters; send plain note text, not binary data.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(
            f"'text' contains characters that are not valid Unicode text (at position {exc.start})."
        ) from exc
    return text


class SuggestionService:
    """Owns the NLP pipeline, the knowledge engine and (optionally) a learned model pack."""

    def __init__(
        self, settings: Settings | None = None, pack: ModelPack | None = None, gate: Gate | None | bool = True
    ) -> None:
        self.settings = settings or get_settings()
        cache = Path(self.settings.data_dir) / "cache"
        s = self.settings
        self.pipeline = ClinicalPipeline(cache, s.nlp_max_run_chars, s.nlp_max_line_breaks, s.nlp_max_symbol_run)
        from chartcoder.codes.procedures import cpt, hcpcs

        self.engine = KnowledgeSuggester(
            cpt_set=cpt(s), hcpcs_set=hcpcs(s), retriever=load_retriever(cache), settings=s
        )
        self.pack = pack
        # The learned shown/consider gate (chartcoder.models.gate): by default the bundled one when its
        # resource says it is served; a Gate to use that one; False or None for the engine's own groups.
        self.gate: Gate | None = served_gate() if gate is True else (gate or None)

    def with_pack(self, pack: ModelPack | None) -> SuggestionService:
        """A service with another pack that shares this one's pipeline and knowledge engine (they do
        not depend on the pack): what a registry switch builds."""
        other = object.__new__(SuggestionService)
        other.settings, other.pipeline, other.engine, other.pack = self.settings, self.pipeline, self.engine, pack
        other.gate = self.gate
        return other

    def with_gate(self, gate: Gate | None) -> SuggestionService:
        """A service with another shown/consider gate (None: the engine's own groups) that shares this
        one's pipeline, engine and pack."""
        other = self.with_pack(self.pack)
        other.gate = gate
        return other

    @property
    def model_name(self) -> str:
        return self.pack.name if self.pack is not None else self.engine.name

    def _ranked(self, note: str, encounter: Encounter, k: int) -> tuple[SuggestionSet, GateContext]:
        """The knowledge engine decides what the note supports (its guideline rules: reportable,
        which document section, contradictions) and so what is shown; the pack's calibrated score,
        learned from coded charts, re-ranks within that and adds codes of similar charts below, in the
        consider group. Suggestions of other systems (CPT/HCPCS) are kept beside them."""
        assert self.pack is not None
        knowledge, mentions, context = self._read(note, encounter, 100)
        analysis = (knowledge, mentions)
        system = self.pack.ranker.system_  # the card's too (`check_ranker`)
        ranked = self.pack.ranker.rank([note], [analysis] if self.pack.ranker.use_knowledge_ else None)[0]
        labels = set(self.pack.ranker.labels_)
        pack_score: dict[str, float] = {}
        for code, score in ranked:
            pack_score.setdefault(code, score)
        out: list[Suggestion] = []
        seen: set[str] = set()
        for s in knowledge.suggestions:
            if s.system != system:
                out.append(s)
                continue
            label = s.code if s.code in pack_score else map_to_labels(s.code, labels)[0]
            learned = pack_score.get(label, 0.0)
            seen.update({s.code, label})
            score = round(min(0.99, (1 - PACK_WEIGHT) * s.score + PACK_WEIGHT * learned), 4)
            out.append(Suggestion(s.code, s.system, s.description, score, s.evidence, s.warnings, s.group))
        raw: dict[str, list[Evidence]] = {}
        for m in mentions:
            code = map_to_labels(m.targets[0].code, labels)[0]
            raw.setdefault(code, []).append(Evidence(m.start, m.end, m.text, m.assertion, m.section))
        # A condition the note names only as absent or as someone else's ("Denies chest pain.", "wife
        # has diabetes", "mother had breast cancer") is not offered even as a consider: the note says the
        # patient does not have it (a family history code, when reportable, comes from the engine). The
        # same for a code of the same category proposed without words of its own (R07.89 "other chest
        # pain" beside a denied "chest pain", R07.9).
        not_the_patients = ("negated", "other_person", "family")
        denied = {c[:3] for c, ev in raw.items() if all(e.assertion in not_the_patients for e in ev)}
        for code, score in ranked[:k]:
            if score < self.settings.min_score:
                break  # ranked best first: the rest score lower still
            if code in seen:
                continue
            # A code the guideline engine did not code from this note's words (it set the mention
            # aside as negated, someone else's or narrative, or never found one) is a "consider".
            evidence = raw.get(code, []) or _header_evidence(code, raw)
            if all(e.assertion in not_the_patients for e in evidence) and (evidence or code[:3] in denied):
                continue
            warnings = [] if evidence else ["suggested from similar coded charts; no phrase in this note names it"]
            out.append(
                Suggestion(
                    code,
                    system,
                    describe(code, system, self.settings),
                    round(score * 0.5, 4),
                    evidence,
                    warnings,
                    "consider",
                )
            )
        return SuggestionSet(model=self.model_name, suggestions=order_suggestions(out)[:k]), context

    def candidates(
        self, text: object, encounter: Encounter | None = None, top_k: int | None = None, max_chars: int | None = None
    ) -> tuple[SuggestionSet, GateContext]:
        """The served suggestions before the gate, in the served order, and what the gate reads of the
        note besides them (what `suggest` gates, and what `benchmarks/fit_gate.py` fits the gate on)."""
        note = validate_note(text, max_chars or self.settings.max_note_chars)
        k = top_k if top_k is not None else self.settings.default_top_k
        if not 1 <= k <= self.settings.max_top_k:
            raise InvalidInputError(f"'top_k' must be between 1 and {self.settings.max_top_k}; got {k}.")
        if self.pack is not None:
            return self._ranked(note, encounter or Encounter(), k)
        result, _, context = self._read(note, encounter or Encounter(), k)
        result.suggestions = order_suggestions(result.suggestions)
        return result, context

    def suggest(
        self, text: object, encounter: Encounter | None = None, top_k: int | None = None, max_chars: int | None = None
    ) -> SuggestionSet:
        """Ranked suggestions for one note. `max_chars` overrides the configured note limit (the API
        passes its own settings). The gate, when there is one, decides the shown group; the served order's
        rules (`order_suggestions`) are applied after it."""
        result, context = self.candidates(text, encounter, top_k, max_chars)
        if self.gate is not None:
            result.suggestions = order_suggestions(self.gate.apply(result.suggestions, context))
        metrics.suggestions_served(result.model, len(result.suggestions))
        return result

    def analyze(self, text: str, encounter: Encounter | None = None, top_k: int = 100) -> tuple[SuggestionSet, list]:
        """The knowledge engine's suggestions and the raw mentions behind them, for learned rankers."""
        return self._analyze(validate_note(text, self.settings.max_note_chars), encounter or Encounter(), top_k)

    def _analyze(self, note: str, encounter: Encounter, top_k: int) -> tuple[SuggestionSet, list]:
        result, mentions, _ = self._read(note, encounter, top_k)
        return result, mentions

    def _read(self, note: str, encounter: Encounter, top_k: int) -> tuple[SuggestionSet, list, GateContext]:
        doc, mentions = self.pipeline(note)
        bounded = doc.text  # what the pipeline read: the same length, long runs broken (chartcoder.nlp.bounds)
        document = doc._.document if Doc.has_extension("document") else None
        result = self.engine.suggest(
            bounded,
            mentions,
            encounter,
            top_k=top_k,
            note_words=doc._.note_words,
            document=document,
            sections=doc._.sections,
        )
        restore_evidence(result.suggestions, note, bounded)  # evidence quotes the words the client sent
        return result, mentions, GateContext.from_mentions(document, len(note), mentions)


# ICD-10-CM codes that are never the first-listed diagnosis while the note supports one that can be:
# external causes (OCG I.C.20), infectious agents as the cause of a disease classified elsewhere (B95-B97,
# "use additional code"), family and personal history and status codes (I.C.21.c.3-4: Z79 long-term drug
# therapy, Z80-Z99 history/status, Z68 BMI, I.B.14), weeks of gestation and outcome of delivery (Z3A, Z37),
# receptor status (Z17).
SECONDARY_ONLY = ("V", "W", "X", "Y", "B95", "B96", "B97", "Z16", "Z17", "Z18", "Z37", "Z3A", "Z68", "Z79")
SECONDARY_ONLY_Z = range(80, 100)  # Z80-Z99


def secondary_only(code: str) -> bool:
    """Whether an ICD-10-CM code is reported only beside a first-listed diagnosis."""
    if code.startswith(SECONDARY_ONLY):
        return True
    return code[0] == "Z" and code[1:3].isdigit() and int(code[1:3]) in SECONDARY_ONLY_Z


def order_suggestions(suggestions: list[Suggestion]) -> list[Suggestion]:
    """The served order: the suggested group by score, then the consider group. A code with no
    supporting words never outranks or scores like one with evidence: it goes last, its score kept
    below every evidenced code's. A secondary-only code (history, status, external cause...) never
    outranks the best shown diagnosis that can be first-listed: it is scored just below it."""
    evidenced = [s.score for s in suggestions if s.evidence]
    floor = min(evidenced, default=1.0)
    for s in suggestions:
        if not s.evidence:
            s.group = "consider"
            s.score = round(max(0.0, min(s.score, floor - 0.01, 0.3)), 4)
    first = max(
        (s.score for s in suggestions if _may_be_first(s) and s.group == "suggested" and s.evidence),
        default=None,
    )
    if first is not None:
        for s in suggestions:
            if s.system == "ICD-10-CM" and s.group == "suggested" and secondary_only(s.code) and s.score >= first:
                s.score = round(first - 0.005, 4)
    _keep_first_listed(suggestions)
    rank = {"suggested": 0, "consider": 1}
    return sorted(suggestions, key=lambda s: (rank[s.group], not s.evidence, -s.score))


def _keep_first_listed(suggestions: list[Suggestion]) -> None:
    """The diagnosis the engine marks first-listed (the first of the postoperative diagnosis, OCG IV.G) stays
    first among the shown codes: a shown code scoring as high is scored just below it. Engine scores are
    capped and a pack re-weighs them, so a score bonus alone does not keep the order."""
    chosen = [s for s in suggestions if s.group == "suggested" and any(w.startswith(FIRST_LISTED) for w in s.warnings)]
    if len(chosen) != 1:
        return
    top = chosen[0]
    above = sorted(
        (s for s in suggestions if s is not top and s.group == "suggested" and s.score >= top.score),
        key=lambda s: -s.score,
    )
    for i, s in enumerate(above, 1):
        s.score = round(top.score - 0.002 * i, 4)  # below it, in their own order


def _may_be_first(s: Suggestion) -> bool:
    """An ICD-10-CM diagnosis that can be first-listed: not secondary-only and not a sign or symptom."""
    return s.system == "ICD-10-CM" and not secondary_only(s.code) and not s.code.startswith("R")


def _header_evidence(code: str, raw: dict[str, list[Evidence]]) -> list[Evidence]:
    """The mentions of the nearest ancestor the note names (N46.01 proposed from an N46.0 mention)."""
    ancestor, found = map_to_labels(code, raw.keys())
    return raw[ancestor] if found else []


def service_from_settings(
    settings: Settings | None = None, kind: type[SuggestionService] | None = None
) -> SuggestionService:
    """A service with the configured pack when it is built (its signature and manifest verified before
    loading, with the keys these settings trust), else the knowledge
    engine alone. A named pack that is not there is an error, except the default one before it is
    built. `kind` is another class to build (the API process's stand-in when a worker pool codes)."""
    from chartcoder.models.pack import PackError, active_pack_path, load_pack

    settings = settings or get_settings()
    path = active_pack_path(settings.model, settings.model_dir)
    if path is None and settings.model not in ("default", "knowledge", ""):
        raise PackError(
            f"CHARTCODER_MODEL={settings.model!r}: no model pack there or under {settings.model_dir}; "
            "name a pack folder, a pack under the model folder, or 'knowledge'"
        )
    from chartcoder.models.signing import trusted_keys

    pack = load_pack(path, trusted_keys(settings)) if path is not None else None
    return (kind or SuggestionService)(settings, pack=pack)


def describe(code: str, system: str, settings: Settings | None = None) -> str:
    """A code's description where the code sets of `settings` (default: the process's) know it (a cheap
    lookup: this runs per suggestion)."""
    from chartcoder.codes.icd10cm import icd10cm
    from chartcoder.codes.procedures import cpt, hcpcs

    if system == CodeSystem.ICD10CM:
        icd = icd10cm()
        return icd.description(code) if icd.is_valid(code) else "ICD-10-CM code (not in the FY2026 code set)"
    if system in PROCEDURE_SYSTEMS:
        found = (cpt(settings) if system == CodeSystem.CPT else hcpcs(settings)).get(code)
        if found is not None:
            return found.description
    return f"{system} code (not in the loaded {system} code set)"


_SERVICE: SuggestionService | None = None
_LOCK = threading.Lock()


def get_service() -> SuggestionService:
    """The process-wide service, built on first use (loads ICD-10-CM and the term index)."""
    global _SERVICE
    with _LOCK:
        if _SERVICE is None:
            _SERVICE = SuggestionService()
        return _SERVICE
