"""The knowledge-based suggestion engine: mentions -> guideline-applied, specific, ranked codes.

Steps, in order: assertions (negated and hypothetical mentions are not coded; family history becomes
Z80-Z84; past history Z85-Z87 where the guideline says so; uncertain diagnoses only for inpatients),
specificity (laterality, 7th character, the billable child the words support), combination codes,
integral-symptom suppression, implied services, E/M level by time, warnings, scores.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from chartcoder import __version__
from chartcoder.codes.icd10cm import ICD10CM, codes_cited, icd10cm
from chartcoder.codes.procedures import ProcedureCodeSet, cpt, hcpcs
from chartcoder.domain.encounter import Encounter
from chartcoder.domain.errors import ResourceError
from chartcoder.models.em import (
    adult_bmi_code,
    documented_bmi,
    is_procedure,
    patient_status,
    preventive_visit_code,
    suggest_em,
)
from chartcoder.models.implied import ImpliedEntry, implied_table
from chartcoder.models.retrieval import DiagnosisRetriever, diagnosis_head, diagnosis_lines, rename_digits
from chartcoder.models.schema import FIRST_LISTED, Evidence, Group, Suggestion, SuggestionSet
from chartcoder.nlp.concepts import Mention, TermTarget, normalize_word, words_of
from chartcoder.nlp.resources import load_yaml_resource
from chartcoder.nlp.sections import SectionIndex

if TYPE_CHECKING:
    from chartcoder.config import Settings

ENGINE_NAME = "chartcoder-knowledge"
ENGINE_VERSION = f"{ENGINE_NAME}-v1 ({__version__})"

BASE_SCORE = {"synonym": 0.82, "procedure": 0.8, "description": 0.76, "inclusion": 0.72, "includes": 0.68}
SECTION_FACTOR = {
    "assessment_plan": 1.12,
    "plan": 1.02,
    "chief_complaint": 1.02,
    "hpi": 1.0,
    "procedures": 1.08,
    "results": 0.97,
    "hospital_course": 1.0,
    "physical_exam": 0.92,
    "past_medical_history": 0.95,
    "problem_list": 1.0,
    "past_surgical_history": 0.85,
    "review_of_systems": 0.78,
    "medications": 0.8,
    "allergies": 0.6,
    "social_history": 0.92,
    "family_history": 0.9,
    # Documents (operative reports, discharge summaries, consults): the final diagnostic statement
    # drives the code; what it replaced or what only led up to it counts for less.
    "postop_diagnosis": 1.15,
    "preop_diagnosis": 0.95,
    "admission_diagnosis": 0.95,
    "indications": 0.95,
    "findings": 0.92,
    "procedure_detail": 0.85,
    "complications": 0.9,
    "other": 0.9,
}
# Final diagnostic statements: assessment, impression, discharge / final diagnoses, postoperative
# diagnosis. When a document has one, it decides what is shown and what goes first (OCG IV.G, II).
FINAL_SECTIONS = frozenset({"assessment_plan", "postop_diagnosis"})
# The final statements whose first diagnosis is listed first, strongest first (OCG IV.G, II).
_STATEMENT_NAMES = {"postop_diagnosis": "postoperative diagnosis", "assessment_plan": "final diagnostic statement"}
# Replaced by the postoperative diagnosis when the report has one ("Same" is resolved upstream).
SUPERSEDED_SECTIONS = frozenset({"preop_diagnosis"})
# Parts of a procedure report that never hold a diagnosis or a separately reported service: the
# blood loss, anesthesia, fluids, drains, specimens and implants of the operation, its staff and dates.
NOT_CODED_SECTIONS = frozenset({"ebl", "anesthesia", "fluids", "drains", "specimens", "implants", "admin"})
PROCEDURE_DOCUMENTS = frozenset({"operative_report", "procedure_report"})
# A procedure report's reason for the procedure, when it has no postoperative diagnosis.
REASON_SECTIONS = frozenset({"preop_diagnosis", "indications"})
# What the patient had before and what was reviewed and examined on the way: never a diagnostic statement.
BACKGROUND_SECTIONS = frozenset(
    {
        "review_of_systems",
        "physical_exam",
        "past_medical_history",
        "past_surgical_history",
        "problem_list",
        "family_history",
        "social_history",
        "medications",
        "allergies",
    }
)
INTERPRETING_DOCUMENTS = frozenset({"radiology_report", "pathology_report"})
# Statements of why the patient was seen or operated on: when one of them yields a diagnosis, the
# reason a procedure implies (chartcoder.models.implied) is only offered for the coder to consider.
STATEMENT_SECTIONS = FINAL_SECTIONS | SUPERSEDED_SECTIONS | frozenset({"admission_diagnosis", "indications"})
# Where an operation's own report tells what was done (beside its list of procedures performed).
_OPERATION_NARRATIVE = frozenset({"procedure_detail", "findings", "other"})
# The reason a procedure implies: shown when the note states no diagnosis; below the shown threshold
# beside a diagnostic statement that names something else (chosen on tune-a, checked on tune-b).
IMPLIED_SHOWN = 0.84
IMPLIED_CONSIDER = 0.55
_INTERPRETATION = frozenset({"findings", "results", "pathology", "other"})
# The narrative of a document: what led up to the encounter (the story, the course), what was found on
# the way, and the background (BACKGROUND_SECTIONS: what the patient had before, the systems reviewed,
# the exam). A coder reads it for specificity and for the signs to code when no diagnosis is made, not as
# a diagnostic statement (OCG IV.G, IV.D; II for the principal diagnosis). A radiology or pathology
# report's findings are its interpretation (INTERPRETING_DOCUMENTS, OCG IV.K), not narrative.
NARRATIVE_SECTIONS = BACKGROUND_SECTIONS | frozenset(
    {"hpi", "results", "findings", "hospital_course", "ed_course", "pathology", "procedure_detail", "other"}
)
# Where the professional services a CPT code reports are not this provider's (the facility codes the
# stay's labs and imaging; a consultant reviews results others produced), lab and imaging CPT need
# words saying they were performed here.
_PERFORMED_HERE = re.compile(
    r"(in (?:the )?(?:clinic|office)|point[- ]of[- ]care|poc|performed (?:here|today|in)|done (?:here|today|in)|"
    r"interpreted by me|my (?:own )?interpretation|i (?:personally )?(?:interpreted|reviewed the (?:images|tracing)))",
    re.I,
)
# Sections that tell what happened before this visit or elsewhere: a service named only there was not
# performed at this visit unless the sentence says it was (_DONE_THIS_VISIT).
_HISTORY_OF_SERVICES = frozenset(
    {
        "hpi",
        "past_medical_history",
        "past_surgical_history",
        "family_history",
        "social_history",
        "medications",
        "allergies",
        "review_of_systems",
    }
)
# Documents whose history tells of services other providers performed (EMS, the ED, the ward, an
# outside hospital) before this provider's service.
_OTHERS_SERVICES = frozenset({"history_physical", "consult", "discharge_summary"})
_DONE_THIS_VISIT = re.compile(
    _PERFORMED_HERE.pattern
    + r"|\btoday\b|\bthis visit\b|\b(?:here|presents?|comes?(?: in)?|came(?: in)?|is seen|returns?) (?:today )?for\b",
    re.I,
)
_RESULT_CATEGORIES = frozenset({"Laboratory", "Imaging", "Cardiology"})
# Steps integral to an operation (closure of the incision, a catheter or line for it, anesthesia by
# the surgeon) are not reported separately (NCCI policy manual ch. I; CPT surgical package).
_INTEGRAL_CATEGORIES = frozenset({"Wound repair", "Injection/infusion"})
_INTEGRAL_CODES = frozenset({"51701", "51702", "36415", "36416", "96360", "96361", "96365", "96366", "96374", "96375"})
_SENT_OUT = re.compile(
    r"\b(?:sent|send)(?: out| to)\b|\bsend-?out\b|\b(?:outside|reference|commercial) lab\b|\b(?:Quest|LabCorp)\b", re.I
)
_SPECIMEN_CODES = frozenset({"36415", "36416", "99000"})
# Measured as part of any visit (pulse oximetry with the vitals): bundled into the E/M (NCCI).
_BUNDLED_WITH_VISIT = frozenset({"94760"})
_BLOOD_LOSS = re.compile(r"(?:estimated\s+)?blood\s+loss|EBL", re.I)
_BLOOD_LOSS_CODES = "D62|R58|D50.0|I97.4*|I97.6*|K91.84*|N99.8*|R04*|K92.2|K92.1|K92.0"
_SIDE_WORD = re.compile(r"\b(?:left|right|bilateral)\b", re.I)
_ENCOUNTER_WORDS = frozenset({"encounter", "fracture", "closed", "current", "injury", "routine", "healing"})
DIABETES_FAMILIES = ("E08", "E09", "E10", "E11", "E13")
_NEOPLASM = re.compile(r"C|D[0-4]")
# "Other X" / "X, unspecified": a kind of X the body of the note may name (_kind_from_body).
_VAGUE_KIND = re.compile(
    r"^other (?!and unspecified)|\bunspecified\b(?! (?:knee|side|ear|eye|hand|foot|arm|leg|lung|kidney))", re.I
)
_KIND_FILLER = frozenset({"other", "unspecified", "current", "injury", "initial", "subsequent", "sequela", "encounter"})
_KIND_FILLER |= frozenset({"left", "right", "bilateral", "of", "the", "and", "with", "without"})
_BODY_SENTENCE = re.compile(r"[^.;\n]{10,400}")
_BODY_NEGATION = re.compile(r"\b(?:no|not|without|negative|denies|rule out|r/o|intact|normal)\b", re.I)
# A code coded from the body of the note that matches a diagnosis line at least this well names it.
BODY_SPECIFIC_MIN = 0.6
# A diagnosis line matched by wording alone is proposed only at this similarity (chartcoder.models.retrieval).
RETRIEVED_CLOSE = 0.75
_LINE_HEDGE = re.compile(
    r"\b(possible|possibly|probable|probably|likely|suspected|suspicious for|rule out|r/o|versus|vs\.?|"
    r"questionable|working|"
    r"cannot (?:be )?exclude[d]?|consistent with|concern for)\b",
    re.I,
)
_LINE_NEGATED = re.compile(r"\s*(?:no|none|negative|normal|unremarkable|not)\b", re.I)
# Shown threshold of the knowledge engine (codes below it form the "consider" group); chosen on the
# tune part of the U.S. development set (benchmarks/us_notes.py --split tune).
SHOW_THRESHOLD = 0.8
CUE_WORDS = frozenset(
    {"left", "right", "bilateral", "initial", "subsequent", "sequela", "acute", "chronic", "dominant", "nondominant"}
)
_LEFT_HANDED = re.compile(r"\bleft[- ]handed\b", re.I)
# "non-displaced" is two words to the tokenizer; the 7th-character and displacement axes need it as one
# (OCG I.C.19.c.1: a fracture not indicated as displaced or nondisplaced is coded displaced).
_NON_DISPLACED = re.compile(r"\bnon[- ]displaced\b", re.I)
_DISPLACED_ALONE = re.compile(r"(?<![-\w])(?<!non )displaced\b", re.I)
ENCOUNTER_CUES = frozenset({"initial", "subsequent", "sequela"})
SEVENTH_WORDS = frozenset(
    {"routine", "healing", "delayed", "nonunion", "malunion", "open", "closed", "displaced", "nondisplaced"}
)
# What the classification assumes when the note is silent; such codes are the default children.
_DEFAULT_PHRASES = re.compile(
    r"\b(not intractable|without status migrainosus|uncomplicated|without complications?|with routine healing|"
    r"not elsewhere classified|not specified as recurrent|without obstruction or gangrene|without perforation or "
    r"abscess|without bleeding|without hematuria|for closed fracture|without (?:loss of consciousness)|"
    r"without spontaneous rupture of (?:the )?ear ?drum|"
    r"without behavioral disturbance, psychotic disturbance, mood disturbance,? and anxiety)\b",
    re.I,
)
_BRACKETS = re.compile(r"\[[^\]]*\]|\([^)]*\)")
ALWAYS_EXPLAINED = frozenset({"encounter", "for", "unspecified", "and", "with", "or", "to"})
# The encounter for an injury is read from the injury's own sentence ("follow-up for left ankle
# sprain"), then from statements about the whole visit; "follow up with orthopedics" in the plan
# says nothing about this visit, and active treatment (A) is the default.
_SUBSEQUENT = re.compile(
    r"\b(subsequent|follow[- ]?up|followup|recheck|re-check|routine healing|delayed healing|healing well|"
    r"post[- ]?op check|cast check)\b",
    re.I,
)
_VISIT_SUBSEQUENT = re.compile(
    r"\b(follow[- ]?up visit|here for (?:a )?follow[- ]?up|presents for (?:a )?follow[- ]?up|recheck of|"
    r"subsequent encounter|cast check|routine healing|delayed healing)\b",
    re.I,
)
# A follow-up visit the plan schedules ("immobilizer until followup visit in 10 days", "return for a
# follow-up visit") is a later visit, not this one: this one may be the active treatment (A).
_FUTURE_BEFORE = re.compile(
    r"\b(?:until|till|return(?:s|ing)?|schedul\w*|next|will|plan(?:ned|s)?|arrange\w*|rtc|due|needs?|"
    r"back|see (?:him|her|them|the patient))\W+(?:\w+\W+){0,2}$",
    re.I,
)
_FUTURE_AFTER = re.compile(r"\s*(?:in|within|after)\s+(?:about\s+|approximately\s+|\d|one\b|two\b|three\b|a\b)", re.I)


def is_follow_up_visit(text: str) -> bool:
    """The visit as a whole is a follow-up of an injury's treatment (7th character D), by statements
    about this visit, not the plan's next one (OCG I.C.19.a: A while the patient receives active
    treatment)."""
    for m in _VISIT_SUBSEQUENT.finditer(text):
        if _FUTURE_BEFORE.search(text, max(0, m.start() - 40), m.start()):
            continue
        if _FUTURE_AFTER.match(text, m.end()):
            continue
        return True
    return False


_SEQUELA = re.compile(r"\b(sequela|sequelae|late effect)\b", re.I)
CURRENT_CANCER_TREATMENT = "Z79.81*|Z79.63*|Z51.0|Z51.1*|Z92.21"
PREVENTIVE_DX = {"Z00.00", "Z00.01", "Z00.121", "Z00.129", "Z00.110", "Z00.111"}
BMI_ASSOCIATED = "E66*|R63.6|E44*|E43|E46|R63.5|E88.81"
_PERSONAL_HISTORY_SECTIONS = {"past_medical_history", "past_surgical_history"}


_DURATION = re.compile(
    r"\b(?:for|x|times|over|past|last|since|of)\s+(?:the\s+)?(?:past\s+|last\s+)?(\d{1,3}|one|two|three|four|five|six|"
    r"seven|eight|nine|ten|a|several|few)\s*(?:-\s*)?(day|week|month|year)s?\b|\b(\d{1,3})[- ](day|week|month|year)\b",
    re.I,
)
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9}
_NUMBER_WORDS |= {"ten": 10, "a": 1, "several": 3, "few": 3}
_UNIT_WEEKS = {"day": 1 / 7, "week": 1.0, "month": 4.35, "year": 52.0}


def _duration_weeks(sentence: str) -> float | None:
    """The longest duration a sentence states, in weeks ("cough for 3 weeks", "2-month history")."""
    best = None
    for m in _DURATION.finditer(sentence):
        raw, unit = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        n = int(raw) if raw.isdigit() else _NUMBER_WORDS.get(raw.lower(), 0)
        weeks = n * _UNIT_WEEKS[unit.lower()]
        best = weeks if best is None else max(best, weeks)
    return best


_CODE = r"[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?"
_CODE_RANGE = re.compile(rf"\b({_CODE})\s*-\s*({_CODE})\b")
_CODE_CITED = re.compile(rf"\b({_CODE})")


def _names_code(note: str, code: str) -> bool:
    """Whether a tabular note cites `code`: a code and its children ("M54.5-") or a range ("I10-I1A")."""
    flat = code.replace(".", "")
    for m in _CODE_RANGE.finditer(note):
        first, last = m.group(1).replace(".", ""), m.group(2).replace(".", "")
        if first <= flat[: len(first)] and flat[: len(last)] <= last:
            return True
    return any(flat.startswith(m.group(1).replace(".", "")) for m in _CODE_CITED.finditer(_CODE_RANGE.sub(" ", note)))


# Words before a condition that do not make it another condition: degree, course, certainty, side,
# and the small words of a sentence. Any other word right before a one-word mention ("marrow edema",
# "facet arthropathy", "macular edema") qualifies it.
_NEUTRAL_BEFORE = frozenset(
    """a an the and or of with without from for to in on at by as is was are were be been has have had having
    his her their its this that these those no not any some all also new known likely possible probable
    presumed suspected history mild moderate severe significant marked minimal minor slight trace small
    large extensive diffuse acute chronic subacute recurrent persistent intermittent progressive worsening
    worsened improving improved stable resolved resolving early late advanced underlying ongoing continued
    left right bilateral both multiple several secondary associated due primary initial subsequent
    developed developing noted showed shows revealed reveals demonstrates consistent compatible
    possibly probably episode episodes symptoms symptomatic asymptomatic""".split()  # noqa: SIM905
)
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z-]{2,})[ \t]+$")


def _qualifier_before(text: str, m: Mention) -> str | None:
    """The word right before a one-word mention, in its sentence, when it qualifies the condition."""
    if " " in m.text.strip() or m.start <= m.sentence[0]:
        return None
    hit = _WORD_BEFORE.search(text[max(m.sentence[0], m.start - 40) : m.start])
    if hit is None:
        return None
    word = hit.group(1)
    if word.lower() in _NEUTRAL_BEFORE or word.isupper() and len(word) <= 4:
        return None
    return word


# Words that attach a sign to the diagnosis before it in one statement.
_LINKED_SIGN = re.compile(
    r"\b(?:with associated|including|includes|manifested by|manifesting as|presenting as|presenting with)\b", re.I
)


def _refining_words(text: str, note_words: frozenset[str]) -> frozenset[str]:
    """The few note-level words refine() reads (the 7th-character words, handedness, displacement); a
    small set keeps its cache keys cheap."""
    words = note_words & (SEVENTH_WORDS | {"lefthanded"})
    if _LEFT_HANDED.search(text):
        words |= {"lefthanded"}
    if _NON_DISPLACED.search(text):
        words |= {"nondisplaced"}
        if not _DISPLACED_ALONE.search(text):
            words -= {"displaced"}
    return words


def _clip(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


@lru_cache(maxsize=4096)
def _spec_regex(spec: str) -> re.Pattern[str]:
    """`N18.3*|N18.4` -> one compiled pattern (rules are applied to every note: compile once)."""
    parts = [fnmatch.translate(p.strip()) for p in str(spec).split("|") if p.strip()]
    return re.compile("|".join(f"(?:{p})" for p in parts))


@lru_cache(maxsize=4096)
def _spec_prefixes(spec: str) -> tuple[str, ...]:
    """The literal start of each alternative of a pattern (`N18.3*|E11.[0-8]*` -> ("N18.3", "E11.")): a
    code that starts with none of them cannot match, and most codes start with none."""
    return tuple(re.split(r"[*?\[]", p.strip(), maxsplit=1)[0] for p in str(spec).split("|") if p.strip())


def _matches(code: str, spec: str) -> bool:
    return code.startswith(_spec_prefixes(spec)) and _spec_regex(spec).match(code) is not None


@dataclass
class Rules:
    family: list[tuple[str, str]]
    personal: list[tuple[str, str]]
    combinations: list[dict[str, Any]]
    suppress: list[dict[str, Any]]
    adds: list[dict[str, Any]]
    anatomy: dict[str, tuple[str, ...]]
    manifestations: list[dict[str, Any]] = field(default_factory=list)

    @staticmethod
    def _prefix_map(entries: Iterable[dict[str, Any]] | None, name: str) -> list[tuple[str, str]]:
        out = []
        for i, e in enumerate(entries or []):
            if not isinstance(e, dict) or "code" not in e or not e.get("prefixes"):
                raise ResourceError(f"history.yaml {name} entry {i + 1}: expected prefixes and code")
            for p in e["prefixes"]:
                out.append((str(p).upper().replace(".", ""), str(e["code"])))
        out.sort(key=lambda pc: -len(pc[0]))  # longest prefix wins
        return out

    @classmethod
    def load(cls) -> Rules:
        pkg = "chartcoder.models.resources"
        history = load_yaml_resource("history.yaml", pkg) or {}
        combos = load_yaml_resource("combinations.yaml", pkg) or {}
        return cls(
            family=cls._prefix_map(history.get("family"), "family"),
            personal=cls._prefix_map(history.get("personal"), "personal"),
            combinations=list(combos.get("combinations") or []),
            suppress=list(combos.get("suppress") or []),
            adds=list(combos.get("adds") or []),
            manifestations=list(combos.get("manifestations") or []),
            anatomy={
                str(k): tuple(str(x) for x in v) for k, v in (load_yaml_resource("anatomy.yaml", pkg) or {}).items()
            },
        )

    @staticmethod
    def lookup(table: list[tuple[str, str]], code: str) -> str | None:
        flat = code.replace(".", "")
        for prefix, target in table:
            if flat.startswith(prefix):
                return target
        return None


# How _refine ranks a relative of the code it refines (lower is better).
_RelativeKey = tuple[int, int, int, int, int, int, int, str]


@dataclass(frozen=True)
class _Refining:
    """What _refine compares a code's relatives against: the code, its words, the cues and the context
    the note gives, and the words any of those explain."""

    code: str
    base_words: frozenset[str]
    cues: frozenset[str]
    context: frozenset[str]
    explained: frozenset[str]
    base_hits: int
    billable: bool
    vague: bool


@dataclass
class Candidate:
    code: str
    system: str
    score: float
    evidence: list[Evidence] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)
    origin: str | None = None  # the disease code a history code was derived from
    repeats: int = 0
    # Why the code is held below the shown threshold whatever its score ("consider": the coder decides);
    # None when its words support showing it.
    held: str | None = None
    _seen: set[tuple[int, int]] = field(default_factory=set, repr=False)

    def add_evidence(self, evidence: list[Evidence]) -> None:
        if len(self._seen) != len(self.evidence):
            self._seen = {(e.start, e.end) for e in self.evidence}
        for ev in evidence:
            if (ev.start, ev.end) not in self._seen:
                self._seen.add((ev.start, ev.end))
                self.evidence.append(ev)

    def merge(self, other: Candidate) -> None:
        """Another mention of the same code: keep the best score, plus 0.04 per repeat (at most 0.12)."""
        bonus = 0.04 if self.repeats < 3 else 0.0
        self.repeats += 1 + other.repeats
        self.score = max(self.score, other.score) + bonus
        doubts = {self.held, other.held} - {None}
        if self.held is None or other.held is None:
            # Another mention supports it without the doubt.
            self.held = None
            self.warnings = [w for w in self.warnings if w not in doubts]
        self.add_evidence(other.evidence)
        for w in other.warnings:
            if w not in self.warnings and (self.held is not None or w not in doubts):
                self.warnings.append(w)
        self.mentions.extend(other.mentions)


def _sections_of(c: Candidate) -> set[str]:
    return {e.section or "" for e in c.evidence}


def _weigh_beside_final(found: dict[tuple[str, str], Candidate], icd: list[Candidate], definitive: bool) -> None:
    """With a final diagnostic statement: a diagnosis it does not name is weaker; a preoperative
    diagnosis the postoperative one replaced weaker still; a sign it does not name beside a definitive
    diagnosis it does is dropped (OCG I.B.5, IV.D)."""
    has_postop = any("postop_diagnosis" in _sections_of(c) for c in icd)
    for c in icd:
        where = _sections_of(c)
        if where & FINAL_SECTIONS:
            continue
        if has_postop and where & SUPERSEDED_SECTIONS:
            c.score *= 0.6
            c.warnings.append("preoperative diagnosis; the postoperative diagnosis replaces it")
        elif c.code.startswith("R") and definitive and "procedures" not in where:
            # (A sign named as the reason for a service performed, "ECG for palpitations", stays.)
            # A sign the final statement does not name, beside a definitive diagnosis it does:
            # integral to it or superseded by it (OCG I.B.5, IV.D).
            found.pop((c.system, c.code), None)
        else:
            c.score *= 0.82


# An injury the operation itself made ("the bladder was inadvertently entered", "during the course of the
# procedure a bladder laceration was noticed") is a complication of care, coded to the body system's
# intraoperative complication (accidental puncture or laceration during a procedure: N99.71-, K91.71-,
# J95.71-, I97.51-...; in obstetric surgery O71.-), not to chapter 19's traumatic injury (OCG I.B.16: the
# provider documents the relationship to the procedure; Index: Complication, accidental puncture or
# laceration during a procedure). Internal organs and great vessels only (neck, thorax, abdomen, pelvis).
_OPERATIVE_INJURY_CODES = ("S15", "S25", "S26", "S27", "S35", "S36", "S37")
_MADE_DURING = re.compile(
    r"\b(?:inadvertent(?:ly)?|accidental(?:ly)?|iatrogenic|unintentional(?:ly)?|during (?:the )?dissection|"
    r"during the (?:course of the )?(?:procedure|operation|surgery|cesarean section|c-section))\b",
    re.I,
)
_INJURY_WORD = re.compile(
    r"\b(?:lacerat\w*|entered|enterotomy|cystotomy|tear|torn|perforat\w*|punctur\w*|injur\w*)\b", re.I
)
_AVOIDED = re.compile(r"\b(?:avoid\w*|prevent\w*|care was taken|no|not|without|risks?)\b", re.I)
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])[\s,]+")
OPERATIVE_INJURY_HELD = (
    "an injury made during the operation is a complication of care: the body system's accidental puncture "
    "or laceration during a procedure (N99.7-, K91.7-, J95.7-, I97.5-...; O71.- in obstetric surgery), OCG I.B.16"
)


def _hold_injuries_made_by_the_operation(
    found: dict[tuple[str, str], Candidate], text: str, document: str | None
) -> None:
    """An operative report that documents an organ injured by the operation: its traumatic injury codes of
    internal organs are held for the coder, with the complication codes named (OCG I.B.16)."""
    if document not in PROCEDURE_DOCUMENTS:
        return
    injuries = [c for c in found.values() if c.system == "ICD-10-CM" and c.code.startswith(_OPERATIVE_INJURY_CODES)]
    if not injuries or not _MADE_DURING.search(text):
        return
    sentences = _SENTENCE_SPLIT.split(text)
    if not any(_MADE_DURING.search(s) and _INJURY_WORD.search(s) and not _AVOIDED.search(s) for s in sentences):
        return
    for c in injuries:
        if c.held is None:
            c.held = OPERATIVE_INJURY_HELD
            c.warnings.append(c.held)


def _hold_linked_signs(final: list[Candidate], text: str) -> None:
    """A sign the final statement names as part of a definitive diagnosis in the same sentence
    ("lumbar radiculopathy with weakness, numbness and tingling", "stenosis ... including
    weakness") is routinely part of it: held for the coder (OCG I.B.5; I.B.6 keeps signs not
    routinely associated, which is the coder's call from the consider group)."""
    definite = [
        (m.sentence, m.end)
        for c in final
        if not c.code.startswith("R")
        for m in c.mentions
        if m.section in FINAL_SECTIONS
    ]
    for c in final:
        if not c.code.startswith("R") or c.held is not None or not c.mentions or not definite:
            continue
        own = [m for m in c.mentions if m.section in FINAL_SECTIONS]
        if own and all(
            any(
                sent == m.sentence and end <= m.start and _LINKED_SIGN.search(text[end : m.start])
                for sent, end in definite
            )
            for m in own
        ):
            c.held = "a sign the diagnosis statement names as part of a definitive diagnosis (OCG I.B.5)"
            c.warnings.append(c.held)


def _first_listed_first(final: list[Candidate], definitive: bool) -> None:
    """First-listed: the first diagnosis named in the strongest final statement (the postoperative
    diagnosis over the assessment) goes first (+0.1); not a sign beside a definitive diagnosis. Engine
    scores are capped and a pack re-weighs them, so the +0.1 alone does not keep the order: the warning
    FIRST_LISTED marks it, and the served order keeps it first (chartcoder.models.service.order_suggestions)."""
    for label, name in _STATEMENT_NAMES.items():
        firsts = [
            (min(e.start for e in c.evidence if e.section == label), c)
            for c in final
            if any(e.section == label for e in c.evidence)
        ]
        firsts = [(start, c) for start, c in firsts if not (c.code.startswith("R") and definitive)]
        if firsts:
            chosen = min(firsts, key=lambda x: x[0])[1]
            chosen.score += 0.1
            chosen.warnings.append(f"{FIRST_LISTED}the first diagnosis of the {name}")
            break


def _implied_candidate(code: str, ev: Evidence, stated: bool) -> Candidate:
    """The reason a procedure implies, shown when the note states no diagnosis, offered below the shown
    threshold when its diagnostic statement names other conditions."""
    if stated:
        score = IMPLIED_CONSIDER
        why = (
            f"implied by the procedure performed ({_clip(ev.text, 60)}); the diagnostic statement "
            "names other conditions: check the reason for the procedure"
        )
    else:
        score = IMPLIED_SHOWN
        why = (
            f"implied by the procedure performed ({_clip(ev.text, 60)}): the note states no "
            "diagnosis; code the reason for the procedure (OCG IV.N)"
        )
    return Candidate(code, "ICD-10-CM", score, [ev], [why], [])


class KnowledgeSuggester:
    """Turns a note's mentions into ranked suggestions. Stateless after construction; thread-safe."""

    name = ENGINE_VERSION

    def __init__(
        self,
        icd: ICD10CM | None = None,
        cpt_set: ProcedureCodeSet | None = None,
        hcpcs_set: ProcedureCodeSet | None = None,
        retriever: DiagnosisRetriever | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.settings = settings  # whose CMS folder the table step reads (None: the process's settings)
        self.icd = icd or icd10cm()
        self.cpt = cpt_set or cpt()
        self.hcpcs = hcpcs_set or hcpcs()
        self.rules = Rules.load()
        # Codes for the diagnosis lines of a final statement the phrase matcher could not name.
        self.retriever = retriever
        self._refined: dict[tuple[Any, ...], str] = {}

    # ------------------------------------------------------------------------------------------
    def suggest(
        self,
        text: str,
        mentions: list[Mention],
        encounter: Encounter,
        top_k: int = 20,
        note_words: frozenset[str] | None = None,
        document: str | None = None,
        sections: SectionIndex | None = None,
    ) -> SuggestionSet:
        """Ranked suggestions. `note_words` (the note's normalized words) is recomputed when not given;
        `document` is the document type (chartcoder.nlp.documents), which decides what is reportable;
        `sections` the note's sections (a final diagnostic statement decides what is shown and goes
        first; its diagnosis lines are coded even when the phrase matcher names nothing in them)."""
        section_labels = frozenset(s.label for s in sections.sections) if sections is not None else frozenset()
        if note_words is None:
            note_words = frozenset(w.norm for w in words_of(text)[0])
        all_words = note_words
        note_words = _refining_words(text, note_words)
        # Once per note, not per mention. An operation on the injury is its active treatment (OCG
        # I.C.19.a): an operative or procedure report is no follow-up visit, whatever its plan says.
        visit_is_subsequent = document not in PROCEDURE_DOCUMENTS and is_follow_up_visit(text)
        found = self._from_mentions(text, mentions, encounter, document, visit_is_subsequent, note_words)
        if sections is not None and self.retriever is not None:
            self._add_retrieved(found, text, sections, encounter, visit_is_subsequent, note_words, mentions)
        if sections is not None:
            self._side_from_document(found, text, sections, note_words)
            self._kind_from_body(found, text, sections, note_words)
        self._apply_set_rules(found, text, bool(section_labels & FINAL_SECTIONS), document)
        self._implied_by_procedure(found, text, sections, document, encounter, all_words)
        self._apply_adds(found)
        self._add_table_codes(found, text, mentions, encounter)
        self._one_of_excludes1(found)
        self._add_em(found, text, encounter, document)
        self._add_bmi(found, text, encounter)
        suggestions = [self._finish(c, found, encounter) for c in found.values()]
        suggestions.sort(key=lambda s: (-s.score, s.evidence[0].start if s.evidence else 0, s.code))
        return SuggestionSet(model=self.name, suggestions=suggestions[:top_k])

    def _from_mentions(
        self,
        text: str,
        mentions: list[Mention],
        encounter: Encounter,
        document: str | None,
        visit_is_subsequent: bool,
        note_words: frozenset[str],
    ) -> dict[tuple[str, str], Candidate]:
        """The candidates the reportable mentions name, one per (system, code), repeats merged."""
        found: dict[tuple[str, str], Candidate] = {}
        # A sentence is read once, not once per mention in it: a note naming a test 50,000 times read its
        # sentence 50,000 times.
        per_sentence: dict[tuple[int, int], tuple[str, str, dict[re.Pattern[str], bool]]] = {}
        for m in mentions:
            read = per_sentence.get(m.sentence)
            if read is None:
                sentence = text[m.sentence[0] : m.sentence[1]]
                read = per_sentence[m.sentence] = (sentence, self._encounter_cue(sentence, visit_is_subsequent), {})
            sentence, encounter_cue, hits = read
            if not self._reportable(m, sentence, document, hits):
                continue
            qualifier = _qualifier_before(text, m)
            for cand in self._from_mention(m, encounter, encounter_cue, note_words):
                self._hold_by_context(cand, m, qualifier, sentence, document)
                key = (cand.system, cand.code)
                if key in found:
                    found[key].merge(cand)
                else:
                    found[key] = cand
        return found

    def _hold_by_context(
        self, cand: Candidate, m: Mention, qualifier: str | None, sentence: str, document: str | None
    ) -> None:
        """Hold a candidate below the shown threshold when the words around its mention say more than
        its code (a qualifier it does not name) or place its service in the history."""
        if (
            qualifier
            and cand.system == "ICD-10-CM"
            and self._unnamed_qualifier(cand.code, qualifier, f"{qualifier} {m.text}")
        ):
            # "bone marrow edema", "facet arthropathy": the note names a kind or a site of the
            # condition that this unspecified code does not (OCG I.B.18: unspecified codes only
            # when the record says no more). A coder finds the code for the whole phrase.
            cand.held = f"the note says '{qualifier} {m.text}'; this code does not name '{qualifier}'"
            cand.warnings.append(cand.held)
        elif (
            cand.system != "ICD-10-CM"
            and m.section in _HISTORY_OF_SERVICES
            and (m.historical or document in _OTHERS_SERVICES)
            and not _DONE_THIS_VISIT.search(sentence)
        ):
            # A service the history tells of ("vaccines up to date (DTaP-IPV at 4 years)"; in an
            # H&P, consult or discharge summary, "a Foley catheter was placed in the ER") was not
            # performed at this visit by this provider unless the note says so (CPT: report the
            # services you performed).
            cand.held = "named in the history, not as a service performed at this visit"
            cand.warnings.append(cand.held)

    def _apply_set_rules(
        self, found: dict[tuple[str, str], Candidate], text: str, has_final: bool, document: str | None
    ) -> None:
        """The rules over the set of diagnosis codes, in order: history, combinations, manifestations,
        suppression, contradictions, then the weight of where each code is documented."""
        self._restore_treated_cancers(found)
        self._current_over_history(found)
        self._apply_combinations(found)
        self._apply_manifestations(found)
        self._apply_suppression(found)
        self._drop_unspecified_siblings(found)
        self._resolve_contradictions(found)
        self._cough_by_duration(found, text)
        self._weigh_by_document(found, has_final, document, text)
        _hold_injuries_made_by_the_operation(found, text, document)

    # ------------------------------------------------------------------------------------------
    # Diagnosis lines the phrase matcher could not name
    def _add_retrieved(
        self,
        found: dict[tuple[str, str], Candidate],
        text: str,
        sections: SectionIndex,
        encounter: Encounter,
        visit_is_subsequent: bool,
        note_words: frozenset[str],
        mentions: list[Mention],
    ) -> None:
        """Each diagnosis line of a final diagnostic statement is a diagnosis the coder codes (OCG IV.G,
        II). A line the phrase matcher left (mostly) unnamed gets the codes whose tabular wording best
        matches it (chartcoder.models.retrieval); a close match is proposed, a looser one ranked in the
        consider group. The line itself is the evidence; side and 7th character come from its words."""
        assert self.retriever is not None
        spans = [(s.header_end, s.end) for s in sections.sections if s.label in FINAL_SECTIONS]
        if not spans:
            return
        # Every phrase the matcher named counts, coded or set aside (negated, uncertain, someone
        # else's): the rules have decided about it already.
        named = sorted(
            [(m.start, m.end) for m in mentions if m.targets[0].system == "ICD-10-CM"]
            + [(e.start, e.end) for c in found.values() if c.system == "ICD-10-CM" for e in c.evidence]
        )
        for line_start, line_end in diagnosis_lines(text, spans):
            # The words that name the diagnosis, not the plan or comment after them.
            start, end = diagnosis_head(text, line_start, line_end)
            line = text[start:end]
            if _LINE_HEDGE.search(line) and not encounter.is_inpatient:
                continue  # an uncertain diagnosis is not coded outside the hospital (OCG IV.H)
            if _LINE_NEGATED.match(line):
                continue
            section = sections.at(start)
            words, cues = words_of(rename_digits(line))  # "fifth finger" is the little finger
            line_words = frozenset(w.norm for w in words)
            laterality = {c[0] for c in cues if c[0] in ("left", "right", "bilateral")}
            cue = self._encounter_cue(line, visit_is_subsequent)
            wide = self.retriever.search(line, k=5)
            refined = [
                self.refine(h.code, laterality, cue, line_words, note_words) if h.refine else h.code for h in wide
            ]
            if self._specific_from_body(found, wide, refined, start, end, line, section):
                continue
            covered = sum(min(end, b) - max(start, a) for a, b in named if a < end and b > start)
            if covered >= 0.6 * len(line.strip()):
                continue  # the matcher named this line
            for rank, hit in enumerate(self.retriever.search(line, k=3)):
                code = self.refine(hit.code, laterality, cue, line_words, note_words) if hit.refine else hit.code
                if not self.icd.is_valid(code) or code.startswith(("V", "W", "X", "Y")):
                    continue
                if ("ICD-10-CM", code) in found:
                    if rank == 0:
                        break  # the line's best code is coded already from other words: the line is explained
                    continue  # coded already from other words; siblings are resolved with the others
                # The best code of the line, or of one part of a line naming two diagnoses ("X with Y").
                close = (hit.similarity >= RETRIEVED_CLOSE and rank == 0) or hit.part_similarity >= RETRIEVED_CLOSE
                if not close and _NEOPLASM.match(code):
                    continue  # a neoplasm's behavior and site come from the Neoplasm Table (OCG I.C.2)
                score = (0.8 if close else 0.55 - 0.05 * rank) * SECTION_FACTOR.get(section or "", 1.0)
                ev = Evidence(start, end, line, "uncertain" if _LINE_HEDGE.search(line) else "present", section)
                cand = Candidate(code, "ICD-10-CM", score, [ev], [f"matched by wording: {hit.matched}"], [])
                key = ("ICD-10-CM", code)
                if key in found:
                    found[key].merge(cand)
                else:
                    found[key] = cand

    def _specific_from_body(
        self,
        found: dict[tuple[str, str], Candidate],
        hits: list[Any],
        refined: list[str],
        start: int,
        end: int,
        line: str,
        section: str | None,
    ) -> bool:
        """The body of the note gives the specificity of a diagnosis line (site, type, cause): when a
        code the line's words also match, below its best match, is coded from the body ("Thyroid goiter"
        in the diagnosis, "Graves disease" in the history: E05.00 over E04.9), that code is the line's
        diagnosis. History, status and encounter codes (Z) are left to their own rules, and an
        unspecified code adds no specificity."""
        for rank, (hit, code) in enumerate(zip(hits, refined, strict=True)):
            if rank == 0 or hit.similarity < BODY_SPECIFIC_MIN or code.startswith("Z"):
                continue
            if "unspecified" in self.icd.description(code).lower():
                continue  # no more specific than the line
            cand = found.get(("ICD-10-CM", code))
            if cand is None or any(e.section in FINAL_SECTIONS for e in cand.evidence):
                continue
            ev = Evidence(start, end, line, "uncertain" if _LINE_HEDGE.search(line) else "present", section)
            cand.add_evidence([ev])
            cand.score = max(cand.score, 0.8 * SECTION_FACTOR.get(section or "", 1.0) + 0.01)
            cand.warnings.append(f"the diagnosis line, made specific by the note: {hit.matched}")
            return True
        return False

    def _kind_from_body(
        self, found: dict[tuple[str, str], Candidate], text: str, sections: SectionIndex, note_words: frozenset[str]
    ) -> None:
        """A diagnosis of the final statement coded to "Other X" or "X, unspecified" takes the kind the
        body of the note describes when one sentence there names all the words of a sibling's title
        ("Torn lateral meniscus" in the diagnosis, "A complex tear ... of the lateral meniscus" in the
        findings: S83.27-, not S83.28-). The body gives specificity (coding policy; OCG I.B.13-I.B.14)."""
        vague = [
            c
            for c in found.values()
            if c.system == "ICD-10-CM"
            and self.icd.is_valid(c.code)
            and any(e.section in FINAL_SECTIONS for e in c.evidence)
            and _VAGUE_KIND.search(self.icd.description(c.code))
        ]
        if not vague:
            return
        final = [(s.header_start, s.end) for s in sections.sections if s.label in FINAL_SECTIONS | SUPERSEDED_SECTIONS]
        body: list[frozenset[str]] = []
        for m in _BODY_SENTENCE.finditer(text):
            if any(a <= m.start() < b for a, b in final) or _BODY_NEGATION.search(m.group(0)):
                continue
            body.append(frozenset(w.norm for w in words_of(m.group(0))[0]))
        for cand in vague:
            node = None  # the broadest vague code above this one: where the kinds branch off
            for a in [cand.code, *self.icd.ancestors(cand.code)]:
                if not _VAGUE_KIND.search(self.icd.description(a)):
                    break
                node = a
            parent = self.icd.parent(node) if node else None
            if node is None or parent is None:
                continue
            own = self._desc_words(node) - _KIND_FILLER
            for sibling in self.icd.children(parent):
                if sibling == node:
                    continue
                words = self._desc_words(sibling) - _KIND_FILLER
                kind = words - own
                if not kind or not any(len(w) >= 4 for w in kind) or not own <= words:
                    continue  # a kind of the same thing: every word of the vague title, and more
                if not any(words <= sentence for sentence in body):
                    continue
                sides = self._desc_words(cand.code) & {"left", "right", "bilateral"}
                seventh = cand.code[-1:] if len(cand.code) == 8 and self.icd.seventh_characters(cand.code) else "A"
                cue = {"D": "subsequent", "S": "sequela"}.get(seventh, "initial")
                code = self.refine(sibling, sides, cue, self._desc_words(cand.code), note_words)
                if not self.icd.is_billable(code):
                    break
                found.pop(("ICD-10-CM", cand.code), None)
                cand.code = code
                cand.warnings.append(f"kind from the body of the note: {self.icd.description(sibling)}")
                if ("ICD-10-CM", code) in found:
                    found[("ICD-10-CM", code)].merge(cand)  # the body's own mention of that kind
                else:
                    found[("ICD-10-CM", code)] = cand
                break

    def _side_from_document(
        self, found: dict[tuple[str, str], Candidate], text: str, sections: SectionIndex, note_words: frozenset[str]
    ) -> None:
        """A code for an unspecified side takes the side the document names for its operation or its
        diagnoses when it names only one ("Right knee arthroscopy" / "Complex tear of the posterior horn
        lateral meniscus"): code to the side documented (OCG I.B.13), not to "unspecified"."""
        bodies = [
            text[s.header_start : s.end]
            for s in sections.sections
            if s.label in FINAL_SECTIONS | SUPERSEDED_SECTIONS | {"procedures", "indications", "chief_complaint"}
        ]
        sides = {m.group(0).lower() for body in bodies for m in _SIDE_WORD.finditer(body)}
        if len(sides) != 1 or "bilateral" in sides:
            return
        side = sides.pop()
        for key, cand in list(found.items()):
            if cand.system != "ICD-10-CM" or not self.icd.is_valid(cand.code):
                continue
            if "unspecified" not in self.icd.description(cand.code).lower() or self._desc_words(cand.code) & {
                "left",
                "right",
            }:
                continue
            seventh = cand.code[-1:] if self.icd.seventh_characters(cand.code) and len(cand.code) == 8 else "A"
            cue = {"D": "subsequent", "S": "sequela"}.get(seventh, "initial")
            sided = self.refine(cand.code, {side}, cue, frozenset(), note_words)
            if sided != cand.code and side in self._desc_words(sided):
                found.pop(key)
                cand.code = sided
                cand.warnings.append(f"side from the document: {side}")
                if ("ICD-10-CM", sided) in found:
                    found[("ICD-10-CM", sided)].merge(cand)
                else:
                    found[("ICD-10-CM", sided)] = cand

    def _unnamed_qualifier(self, code: str, qualifier: str, phrase: str) -> bool:
        """An unspecified (or default) code whose words do not include the word that qualifies its
        mention in the note."""
        if not self.icd.is_valid(code):
            return False
        words, default = self._description_words(self.icd.description(code))
        if not default:
            return False
        qwords = {w.norm for w in words_of(qualifier)[0]}
        if not qwords or qwords & words:
            return False
        if self.retriever is not None:
            # The whole phrase may still be this code ("degenerative arthritis" is osteoarthritis NOS):
            # it is when the code is (one of) the best wording matches of the phrase.
            flat = code.replace(".", "")
            hits = self.retriever.search(phrase, k=5)
            for hit in hits:
                other = hit.code.replace(".", "")
                if hit.similarity >= hits[0].similarity - 0.02 and (flat.startswith(other) or other.startswith(flat)):
                    return False
        return True

    # ------------------------------------------------------------------------------------------
    # What is reportable at all
    def _reportable(
        self, m: Mention, sentence: str, document: str | None, hits: dict[re.Pattern[str], bool] | None = None
    ) -> bool:
        """False for a mention that names nothing this patient's claim reports: someone else's
        condition, a part of an operation that is not a diagnosis or a separate service (blood loss,
        anesthesia, the closure, a catheter placed for it), or a lab or imaging service this provider
        did not perform. `hits` keeps the sentence's pattern results for the next mention in it."""
        memo: dict[re.Pattern[str], bool] = {} if hits is None else hits

        def has(rx: re.Pattern[str]) -> bool:
            found = memo.get(rx)
            if found is None:
                found = memo[rx] = bool(rx.search(sentence))
            return found

        if m.section in NOT_CODED_SECTIONS or getattr(m, "other_person", False):
            return False
        target = m.targets[0]
        if target.system == "ICD-10-CM":
            if document in PROCEDURE_DOCUMENTS and m.section == "procedure_detail":
                # The narrative of the operation (its steps, the tissue it met) names no diagnosis the
                # report's diagnosis lines do not; its words are the surgeon's, not findings to code.
                return False
            # Estimated blood loss is a measure of the operation, not a hemorrhage (only a documented
            # acute blood loss anemia is coded).
            blood_loss = _matches(target.code, _BLOOD_LOSS_CODES) and "anemia" not in m.text.lower()
            return not (blood_loss and (has(_BLOOD_LOSS) or document in PROCEDURE_DOCUMENTS))
        pc = self._procedure_set(target.system).get(target.code)
        if pc is None:
            return True  # _from_mention drops codes outside the code set
        if document in PROCEDURE_DOCUMENTS and m.section not in ("procedures", None):
            # An operative report reports the operations its procedure list names; the services its
            # narrative mentions (closure, a catheter, drugs and lines for anesthesia, a splint, a
            # dressing) are part of the surgical package.
            return False
        integral = pc.category in _INTEGRAL_CATEGORIES or target.code in _INTEGRAL_CODES
        if integral and document in PROCEDURE_DOCUMENTS and m.section != "procedures":
            return False
        if target.code in _BUNDLED_WITH_VISIT and m.section in ("physical_exam", "hpi", "results", None):
            return False
        if pc.category == "Laboratory" and target.code not in _SPECIMEN_CODES and has(_SENT_OUT):
            return False  # the reference lab reports the test; the office reports the draw
        if document in ("discharge_summary", "history_physical", "consult", "ed_note") and (
            pc.category in _RESULT_CATEGORIES
        ):
            return has(_PERFORMED_HERE)
        return True

    # ------------------------------------------------------------------------------------------
    # One mention -> at most one candidate
    def _from_mention(
        self, m: Mention, encounter: Encounter, encounter_cue: str, note_words: frozenset[str]
    ) -> list[Candidate]:
        target = m.targets[0]
        ev = Evidence(m.start, m.end, m.text, m.assertion, m.section)
        score = BASE_SCORE.get(target.source, 0.7) * SECTION_FACTOR.get(m.section or "", 1.0)
        if len(m.text.split()) == 1 and target.source != "synonym" and len(m.text) < 6:
            score *= 0.9
        if target.system != "ICD-10-CM":
            if m.negated or m.hypothetical or m.family or m.uncertain:
                return []
            if self._procedure_set(target.system).get(target.code) is None:
                return []
            return [Candidate(target.code, target.system, score, [ev], [], [m])]
        return self._diagnosis_from_mention(m, ev, score, encounter, encounter_cue, note_words)

    def _diagnosis_from_mention(
        self,
        m: Mention,
        ev: Evidence,
        score: float,
        encounter: Encounter,
        encounter_cue: str,
        note_words: frozenset[str],
    ) -> list[Candidate]:
        """A diagnosis mention: its family or personal history code, or its refined codes (one per side
        when there is no bilateral code); nothing for a negated, hypothetical or (outpatient) uncertain one."""
        warnings: list[str] = []
        if m.negated or m.hypothetical:
            return []
        code = self._choose_target(m.targets, m)
        if m.section == "allergies" and not code.startswith("Z88"):
            return []  # a past reaction listed under allergies is allergy status, not a current condition
        if m.family:
            fam = Rules.lookup(self.rules.family, code) or "Z84.89"
            return [Candidate(fam, "ICD-10-CM", score * 0.92, [ev], [f"family history of {m.text}"], [m])]
        if m.uncertain:
            if not encounter.is_inpatient:
                return []
            warnings.append("uncertain diagnosis coded as if established (inpatient guideline II.H/III.C)")
            score *= 0.9
        personal = Rules.lookup(self.rules.personal, code)
        if personal and (m.historical or m.section in _PERSONAL_HISTORY_SECTIONS):
            origin = self.refine(code, set(m.laterality), encounter_cue, m.near_words, note_words)
            return [
                Candidate(
                    personal, "ICD-10-CM", score * 0.92, [ev], [f"personal history of {m.text}"], [m], origin=origin
                )
            ]
        if m.historical:
            score *= 0.9  # a chronic condition listed as history is still coded, with less certainty
        codes = self._refined_codes(m, code, encounter_cue, note_words)
        return [Candidate(c, "ICD-10-CM", score, self._side_evidence(m, c, ev), list(warnings), [m]) for c in codes]

    def _refined_codes(self, m: Mention, code: str, encounter_cue: str, note_words: frozenset[str]) -> list[str]:
        """The mention's code refined; both sides' codes when the note says bilateral and the
        classification has no bilateral code (guideline I.B.13)."""
        code = self.refine(code, set(m.laterality), encounter_cue, m.near_words, note_words)
        if "bilateral" in m.laterality and self.icd.is_valid(code) and "bilateral" not in self._desc_words(code):
            # No bilateral code: each side is coded (guideline I.B.13).
            sides = {
                side: self.refine(code, {side}, encounter_cue, m.near_words, note_words) for side in ("right", "left")
            }
            if all(self.icd.is_valid(c) and side in self._desc_words(c) for side, c in sides.items()):
                return list(sides.values())
        return [code]

    def _side_evidence(self, m: Mention, code: str, ev: Evidence) -> list[Evidence]:
        """The mention's evidence, plus the side word that chose the code when it lies outside the
        mention: the side is evidence too, show the coder the word that chose it."""
        evidence = [ev]
        named = self._desc_words(code) if self.icd.is_valid(code) else frozenset()
        for side, start, end, word in m.laterality_spans:
            if side in named and not m.start <= start < m.end:
                evidence.append(Evidence(start, end, word, m.assertion, m.section))
                break
        return evidence

    def _procedure_set(self, system: str) -> ProcedureCodeSet:
        return self.hcpcs if system == "HCPCS" else self.cpt

    def _choose_target(self, targets: list[TermTarget], m: Mention) -> str:
        """Several codes share a term (e.g. its left, right and unspecified versions, once laterality
        words are set aside): prefer the best source, then the code whose words fit the cues."""
        best_rank = targets[0].source
        same = [t.code for t in targets if t.source == best_rank and t.system == "ICD-10-CM"]
        if len(same) == 1:
            return same[0]
        cues = set(m.laterality)

        def key(code: str) -> tuple[int, int, int, str]:
            words = self._desc_words(code)
            hits = len(cues & words)
            conflicts = len((CUE_WORDS - cues) & words & {"left", "right", "bilateral"})
            return (-hits, conflicts, len(words), code)

        return min(same, key=key)

    # ------------------------------------------------------------------------------------------
    # Specificity
    @staticmethod
    @lru_cache(maxsize=200_000)
    def _description_words(description: str) -> tuple[frozenset[str], bool]:
        """Matchable words of a tabular description, with the classification's defaults ("not
        intractable", "uncomplicated", "with routine healing", ...) and bracketed notes set aside,
        and whether the description is such a default (or unspecified) choice."""
        stripped = _BRACKETS.sub(" ", description).replace("non-dominant", "nondominant")
        default = "unspecified" in stripped.lower() or bool(_DEFAULT_PHRASES.search(stripped))
        stripped = _DEFAULT_PHRASES.sub(" ", stripped)
        words, cues = words_of(stripped)
        return frozenset([w.norm for w in words] + [c[0] for c in cues]), default

    def _desc_words(self, code: str) -> frozenset[str]:
        return self._description_words(self.icd.description(code))[0]

    @staticmethod
    def _encounter_cue(sentence: str, visit_is_subsequent: bool) -> str:
        """initial | subsequent | sequela for the 7th character of an injury code."""
        if _SEQUELA.search(sentence):
            return "sequela"
        if visit_is_subsequent or _SUBSEQUENT.search(sentence):
            return "subsequent"
        return "initial"

    def refine(
        self,
        code: str,
        laterality: set[str] | frozenset[str],
        encounter_cue: str,
        sentence: frozenset[str],
        note_words: frozenset[str] = frozenset(),
    ) -> str:
        """Cached `_refine`: a long note repeats the same mention in the same words many times."""
        key = (code, frozenset(laterality), encounter_cue, sentence, note_words & (SEVENTH_WORDS | {"lefthanded"}))
        hit = self._refined.get(key)
        if hit is None:
            hit = self._open_fracture(self._refine(code, set(laterality), encounter_cue, sentence, key[4]), sentence)
            if len(self._refined) > 100_000:
                self._refined.clear()
            self._refined[key] = hit
        return hit

    def _open_fracture(self, code: str, sentence: frozenset[str]) -> str:
        """A fracture its own words call open takes the open-fracture 7th character (A -> B initial, D -> E
        subsequent with routine healing); not indicated open or closed, it stays closed (OCG I.C.19.c.1).
        "Open reduction" is the treatment, not the fracture."""
        if len(code) != 8 or code[-1] not in "AD" or "open" not in sentence or sentence & {"reduction", "closed"}:
            return code
        other = code[:-1] + ("B" if code[-1] == "A" else "E")
        if self.icd.is_valid(other) and "open fracture" in self.icd.description(other).lower():
            return other
        return code

    def _refine(
        self,
        code: str,
        laterality: set[str],
        encounter_cue: str,
        sentence: frozenset[str],
        note_words: frozenset[str] = frozenset(),
    ) -> str:
        """The most specific billable code the words support; the code itself when none is supported.

        A header is replaced by the descendant whose words the note explains (laterality, 7th
        character, site), preferring the classification's default child. A billable code moves to a
        sibling or cousin in its category only when that code names a cue the note gives (a side, an
        acuity) or, for an "unspecified" code, the site the sentence names."""
        if not self.icd.is_valid(code):
            return code
        if "non" in sentence and "displaced" in sentence:
            sentence = (sentence - {"non", "displaced"}) | {"nondisplaced"}  # "non-displaced"
        description = self.icd.description(code)
        base_words, _ = self._description_words(description)
        billable = self.icd.is_billable(code)
        vague = billable and "unspecified" in description.lower()
        cues = self._refine_cues(code, laterality, encounter_cue, sentence, note_words)
        if billable and not (cues - base_words - ENCOUNTER_CUES) and not vague:
            return code
        context = self._refine_context(sentence, note_words, base_words)
        wanted = _Refining(
            code=code,
            base_words=base_words,
            cues=frozenset(cues),
            context=frozenset(context),
            explained=base_words | context | cues | ALWAYS_EXPLAINED,
            base_hits=len(cues & base_words),
            billable=billable,
            vague=vague,
        )
        if billable:
            parent = self.icd.parent(code)
            category = self.icd.category(code)
            spaces = [s for s in dict.fromkeys([parent, category]) if s and s != code]
        else:
            spaces = [code]
        for space in spaces:
            best = self._best_relative(space, wanted)
            if best is not None:
                return best
        return code

    def _refine_cues(
        self, code: str, laterality: set[str], encounter_cue: str, sentence: frozenset[str], note_words: frozenset[str]
    ) -> set[str]:
        """The cues a refined code may name: the sides, the acuity, the dominance they imply and, for a
        code with a 7th character, the encounter."""
        cues = set(laterality) | (sentence & {"acute", "chronic"})
        # Dominance: the documented handedness, else the guideline default (right dominant, left not).
        left_handed = bool(note_words & {"lefthanded"})
        if "left" in laterality:
            cues.add("dominant" if left_handed else "nondominant")
        if "right" in laterality:
            cues.add("nondominant" if left_handed else "dominant")
        if self.icd.seventh_characters(code):
            cues.add(encounter_cue)
        return cues

    def _refine_context(
        self, sentence: frozenset[str], note_words: frozenset[str], base_words: frozenset[str]
    ) -> set[str]:
        """The words around the mention that may explain a more specific code's words (with the body
        parts each names)."""
        # Numbers name stages and types only inside the mention itself ("stage 3"), never from around it.
        context = {w for w in sentence if not w.isdigit()} | (note_words & SEVENTH_WORDS)
        for word in list(context):
            context.update(self.rules.anatomy.get(word, ()))
        if "fracture" in base_words and "nondisplaced" not in context:
            context.add("displaced")  # not indicated displaced or nondisplaced: displaced (OCG I.C.19.c.1)
        return context

    def _best_relative(self, space: str, wanted: _Refining) -> str | None:
        """The billable descendant of `space` that best fits what the note says; None when none does."""
        best: tuple[_RelativeKey, str] | None = None
        for cand in self.icd.billable_descendants(space):
            if cand == wanted.code:
                continue
            key = self._relative_key(cand, wanted)
            if key is not None and (best is None or key < best[0]):
                best = (key, cand)
        return best[1] if best is not None else None

    def _relative_key(self, cand: str, wanted: _Refining) -> _RelativeKey | None:
        """How well a relative fits (lower is better): cues named, words unexplained, words of the
        code lost, sites named, the default child first; None when it may not replace the code."""
        words, default = self._description_words(self.icd.description(cand))
        hits = len(wanted.cues & words)
        if (CUE_WORDS - wanted.cues) & words - wanted.base_words:
            return None  # names a side, acuity or encounter the note does not give
        unexplained = len(words - wanted.explained)
        site = len((words - wanted.base_words) & wanted.context)
        # A billable code keeps its own words: "Complex tear of lateral meniscus, unspecified
        # knee" becomes its right-knee code, not "Unspecified tear of unspecified meniscus, right".
        lost = len(wanted.base_words - words - CUE_WORDS - {"unspecified"}) if wanted.billable else 0
        if wanted.billable:
            allowed = 1 if hits > wanted.base_hits else 0
            if not (hits > wanted.base_hits or (wanted.vague and site > 0 and hits >= wanted.base_hits)):
                return None
        else:
            allowed = 1 if default else 0
        if unexplained > allowed:
            return None
        return (-hits, unexplained, lost, -site, 0 if default else 1, len(words), len(cand), cand)

    # ------------------------------------------------------------------------------------------
    # Rules over the set of codes
    def _icd_codes(self, found: dict[tuple[str, str], Candidate]) -> list[str]:
        return [c.code for c in found.values() if c.system == "ICD-10-CM"]

    def _restore_treated_cancers(self, found: dict[tuple[str, str], Candidate]) -> None:
        """A cancer still under treatment (adjuvant hormones, chemotherapy, radiation) is current, not
        history (guideline I.C.2.d): undo the Z85 mapping when the note documents the treatment."""
        if not any(_matches(c, CURRENT_CANCER_TREATMENT) for c in self._icd_codes(found)):
            return
        for key, cand in list(found.items()):
            if cand.code.startswith("Z85") and cand.origin and cand.origin.startswith(("C", "D0")):
                found.pop(key)
                cand.code, cand.origin = cand.origin, None
                cand.warnings = ["cancer under current treatment is coded as current (guideline I.C.2.d)"]
                found[("ICD-10-CM", cand.code)] = cand

    def _current_over_history(self, found: dict[tuple[str, str], Candidate]) -> None:
        """A neoplasm (or other condition) that the same note documents as current is not also its own
        personal history: a tumour being resected is current (guideline I.C.2.d, I.C.21.c.4)."""
        current = {c.code[:3] for c in found.values() if c.system == "ICD-10-CM" and not c.code.startswith("Z")}
        codes = [c.code for c in found.values() if c.system == "ICD-10-CM"]
        for key, cand in list(found.items()):
            # A history code whose Excludes1 names a current code the note also supports ("advised to
            # quit smoking" beside a current smoker): the current condition is coded, not its history.
            if cand.code.startswith(("Z85", "Z86", "Z87")) and self.icd.is_valid(cand.code):
                excluded = [x.replace(".", "").rstrip("-") for x in self.icd.excludes1_codes(cand.code)]
                if any(o.replace(".", "").startswith(x) for o in codes for x in excluded if x):
                    found.pop(key)
                    continue
            if cand.origin and cand.code.startswith(("Z85", "Z86", "Z87")) and cand.origin[:3] in current:
                gone = found.pop(key)
                for other in found.values():
                    if other.system == "ICD-10-CM" and other.code[:3] == cand.origin[:3]:
                        other.add_evidence(gone.evidence)
                        break

    def _resolve_contradictions(self, found: dict[tuple[str, str], Candidate]) -> None:
        """Siblings that cannot both be true of one patient are resolved to the one the note supports:
        one diabetes type (OCG I.C.4.a: type 2 when the type is not documented), one side of an injury or
        condition unless each side is documented, a condition with its complication rather than without."""
        icd = [c for c in found.values() if c.system == "ICD-10-CM"]
        families = {c.code[:3] for c in icd if c.code[:3] in DIABETES_FAMILIES}
        if len(families) > 1:

            def support(fam: str) -> tuple[int, float]:
                cands = [c for c in icd if c.code[:3] == fam]
                words = " ".join(e.text.lower() for c in cands for e in c.evidence)
                explicit = {"E10": ("type 1", "type i ", "iddm", "juvenile"), "E11": ("type 2", "type ii", "niddm")}
                said = any(w in words for w in explicit.get(fam, ()))
                return (1 if said else 0, max(c.score for c in cands))

            keep = max(sorted(families), key=support)
            for c in icd:
                if c.code[:3] in families and c.code[:3] != keep:
                    found.pop(("ICD-10-CM", c.code), None)
        # One side: codes that differ only in their side words.
        by_key: dict[tuple[str, frozenset[str]], list[Candidate]] = {}
        for c in [c for c in found.values() if c.system == "ICD-10-CM" and self.icd.is_valid(c.code)]:
            words = self._desc_words(c.code)
            sides = words & {"left", "right"}
            if len(sides) == 1:
                by_key.setdefault((c.code[:3], words - sides), []).append(c)
        for group in by_key.values():
            if len(group) < 2:
                continue
            own = [c for c in group if self._side_documented(c)]
            keep_all = own if len(own) >= 2 else [max(group, key=lambda c: (self._side_documented(c), c.score))]
            for c in group:
                if c not in keep_all:
                    found.pop(("ICD-10-CM", c.code), None)
        # With rather than without its complication: the classification's default beside a specified
        # sibling under the same subcategory.
        codes = [c.code for c in found.values() if c.system == "ICD-10-CM" and self.icd.is_valid(c.code)]
        for code in codes:
            words, default = self._description_words(self.icd.description(code))
            if not default:
                continue
            # The same condition: the default code's words all recur in the specified one ("asthma" in
            # "moderate persistent asthma with exacerbation"); a cystocele is not a rectocele.
            core = words - CUE_WORDS - ENCOUNTER_CUES - _ENCOUNTER_WORDS
            specified = [
                o
                for o in codes
                if o != code
                and o[:3] == code[:3]
                and not self._description_words(self.icd.description(o))[1]
                and core <= self._desc_words(o)
            ]
            if specified and ("ICD-10-CM", code) in found and ("ICD-10-CM", specified[0]) in found:
                gone = found.pop(("ICD-10-CM", code))
                found[("ICD-10-CM", specified[0])].add_evidence(gone.evidence)

    def _cough_by_duration(self, found: dict[tuple[str, str], Candidate], text: str) -> None:
        """Cough is classified by how long it has lasted (FY2022 R05.1-R05.3: acute under 3 weeks,
        subacute 3 to 8 weeks, chronic over 8 weeks): the duration in the cough's own sentence decides."""
        cand = found.get(("ICD-10-CM", "R05.9"))
        if cand is None:
            return
        for m in cand.mentions:
            weeks = _duration_weeks(text[m.sentence[0] : m.sentence[1]])
            if weeks is None:
                continue
            code = "R05.1" if weeks < 3 else "R05.2" if weeks <= 8 else "R05.3"
            found.pop(("ICD-10-CM", "R05.9"))
            key = ("ICD-10-CM", code)
            if key in found:
                found[key].merge(cand)
            else:
                cand.code = code
                found[key] = cand
            return

    def _side_documented(self, c: Candidate) -> bool:
        """The code's own side word is among its evidence (not only a side the matcher guessed)."""
        if any("bilateral" in m.laterality for m in c.mentions):
            return True  # "bilateral" documents both sides (OCG I.B.13)
        side = self._desc_words(c.code) & {"left", "right"}
        for e in c.evidence:
            words = set(re.findall(r"[a-z]+", e.text.lower()))
            if side & words:
                return True
        return False

    def _weigh_by_document(
        self,
        found: dict[tuple[str, str], Candidate],
        has_final: bool = False,
        document: str | None = None,
        text: str = "",
    ) -> None:
        """Code from where a coder codes. With a final diagnostic statement in the note, a diagnosis it
        does not name is weaker evidence (narrative mentions, history, exam); a preoperative diagnosis
        the postoperative one replaced weaker still; symptoms beside a definitive final diagnosis are
        usually integral to it (OCG I.B.5, IV.D). The first diagnosis of the final statement goes first
        (the postoperative diagnosis over the rest)."""
        icd = [c for c in found.values() if c.system == "ICD-10-CM"]
        final = [c for c in icd if _sections_of(c) & FINAL_SECTIONS]
        if not final and not has_final:
            self._weigh_without_final(icd, document)
            return
        definitive = any(not c.code.startswith("R") for c in final)
        _weigh_beside_final(found, icd, definitive)
        _hold_linked_signs(final, text)
        _first_listed_first(final, definitive)

    def _weigh_without_final(self, icd: list[Candidate], document: str | None) -> None:
        """No final diagnostic statement: the reason for the visit and the story of the present
        illness stand for it. What only the background names (past history, review of systems,
        exam, medication lists) is weaker, and so is a sign or symptom the story names beside a
        definitive diagnosis (OCG IV.D, I.B.5)."""
        story = NARRATIVE_SECTIONS - _INTERPRETATION if document in INTERPRETING_DOCUMENTS else NARRATIVE_SECTIONS
        definitive = any(not c.code.startswith("R") and not _sections_of(c) <= BACKGROUND_SECTIONS for c in icd)
        for c in icd:
            where = _sections_of(c)
            if not where:
                continue
            if where <= BACKGROUND_SECTIONS or (where <= story and c.code.startswith("R") and definitive):
                c.score *= 0.82
        if document in PROCEDURE_DOCUMENTS:
            self._reason_for_procedure(icd)

    @staticmethod
    def _reason_for_procedure(icd: list[Candidate]) -> None:
        """A procedure report without a postoperative diagnosis: its preoperative diagnosis and
        indications are the reason for the procedure, the diagnosis a coder reports for it (OCG IV.A,
        IV.G): diagnoses named there are the report's diagnostic statement (x1.1, at most 0.95). (Also
        putting the first of them first lowered first-listed in the top 3 on the tune part: not done.)"""
        for c in icd:
            if any(e.section in REASON_SECTIONS for e in c.evidence):
                c.score = max(c.score, min(0.95, c.score * 1.1))

    def _implied_by_procedure(
        self,
        found: dict[tuple[str, str], Candidate],
        text: str,
        sections: SectionIndex | None,
        document: str | None,
        encounter: Encounter,
        note_words: frozenset[str] | None = None,
    ) -> None:
        """The reason a procedure performed implies (chartcoder.models.implied): "Inguinal
        herniorrhaphy" with no diagnosis stated is an inguinal hernia, unilateral, not specified as
        recurrent (K40.90); a vasectomy is an encounter for sterilization (Z30.2). Code the reason for
        the encounter, for ambulatory surgery the diagnosis the surgery was performed for (OCG IV.A.1,
        IV.G, IV.N), to the default or unspecified code unless the words say more (OCG I.A.18, I.B.18).
        Read from the procedures performed, and in an operation's own report (or an unsectioned note)
        from its narrative. Shown when no diagnostic statement yields a diagnosis; otherwise offered
        below the shown threshold. Nothing when the note codes the condition (or another reason for
        that procedure) itself."""
        if document in INTERPRETING_DOCUMENTS:
            return
        hits = implied_table().find(text, note_words)
        if not hits:
            return
        narrative = document in PROCEDURE_DOCUMENTS or document in (None, "other")
        stated = any(
            e.section in STATEMENT_SECTIONS for c in found.values() if c.system == "ICD-10-CM" for e in c.evidence
        )
        postop = any(
            e.section == "postop_diagnosis" for c in found.values() if c.system == "ICD-10-CM" for e in c.evidence
        )
        listed = " ".join(
            text[s.header_end : s.end] for s in (sections.sections if sections else []) if s.label == "procedures"
        )
        added: dict[str, Candidate] = {}
        for hit in hits:
            section = sections.at(hit.start) if sections is not None else None
            if section != "procedures" and not (narrative and (section is None or section in _OPERATION_NARRATIVE)):
                continue  # a history, a plan, an indication: not a procedure performed at this encounter
            sentence = text[hit.sentence[0] : hit.sentence[1]]
            # The list of procedures performed names the side or kind the narrative may leave out.
            context = sentence if section == "procedures" else f"{sentence} {listed}"
            code = hit.entry.choose(context, encounter.sex)
            ev = Evidence(hit.start, hit.end, text[hit.start : hit.end], "present", section)
            self._add_implied(found, added, hit.entry, code, ev, stated, postop)

    def _add_implied(
        self,
        found: dict[tuple[str, str], Candidate],
        added: dict[str, Candidate],
        entry: ImpliedEntry,
        code: str,
        ev: Evidence,
        stated: bool,
        postop: bool,
    ) -> None:
        """One procedure performed: its implied `code` joins the code the note already gives for the
        condition (or specifies it), or is added unless the note codes the condition itself."""
        if code in added:
            added[code].add_evidence([ev])
            return
        words = ev.text
        default = found.get(("ICD-10-CM", entry.code))
        if code != entry.code and default is not None and ("ICD-10-CM", code) not in found:
            # The note names the condition by its default code ("repair of recurrent inguinal
            # hernia" matched as inguinal hernia): the procedure's words give its kind or side.
            found.pop(("ICD-10-CM", entry.code))
            default.code = code
            default.add_evidence([ev])
            default.warnings.append(f"specified by the procedure performed: {_clip(words, 60)}")
            found[("ICD-10-CM", code)] = added[code] = default
            return
        same = found.get(("ICD-10-CM", code))
        replaced = same is not None and postop and all(e.section in SUPERSEDED_SECTIONS for e in same.evidence)
        if same is not None and same.held is None and not replaced:
            # The note names the condition the procedure implies: the two agree (a preoperative
            # diagnosis "elective sterilization" and a vasectomy performed; a cystocele in the
            # history and a cystocele repair). Not a preoperative diagnosis the postoperative one
            # replaced (OCG IV.N).
            same.add_evidence([ev])
            same.score = max(same.score, IMPLIED_SHOWN)
            added[code] = same
            return
        if any(_matches(o, spec) for o in self._icd_codes(found) for spec in entry.covers):
            return  # the note codes the condition (or another reason for the procedure) itself
        found[("ICD-10-CM", code)] = added[code] = _implied_candidate(code, ev, stated)

    def _one_of_excludes1(self, found: dict[tuple[str, str], Candidate]) -> None:
        """Two codes an Excludes1 note says are never coded together (OCG I.A.12.a) are not both shown:
        the better supported one is (a definitive diagnosis over a sign, then the final diagnostic
        statement, then the score); the other is ranked below the shown threshold, with the conflict as
        its warning, for the coder to decide (the exceptions are for conditions unrelated to each other)."""
        shown = [c for c in found.values() if c.system == "ICD-10-CM" and c.score >= SHOW_THRESHOLD]
        if len(shown) < 2:
            return

        def strength(c: Candidate) -> tuple[bool, bool, float]:
            final = any(e.section in FINAL_SECTIONS for e in c.evidence)
            return (not c.code.startswith("R"), final, c.score)

        for c in sorted(shown, key=strength):
            if c.score < SHOW_THRESHOLD or not self.icd.is_valid(c.code):
                continue
            for o in shown:
                if o is c or o.score < SHOW_THRESHOLD or strength(o) < strength(c):
                    continue
                if self._excludes(c.code, o.code) or self._excludes(o.code, c.code):
                    c.score = min(c.score, SHOW_THRESHOLD - 0.01)
                    c.warnings.append(f"Excludes1 with {o.code}, which the note supports better: not coded together")
                    break

    def _excludes(self, code: str, other: str) -> bool:
        """Whether `code`'s Excludes1 notes (its own and its ancestors') name `other`: a code, a code
        with its children ("C50.-") or a range of categories ("Q65-Q66")."""
        if not self.icd.is_valid(code):
            return False
        return any(_names_code(note, other) for note in self.icd.excludes1(code))

    def _apply_manifestations(self, found: dict[tuple[str, str], Candidate]) -> None:
        """Index entries that name an etiology and its manifestation in one phrase code both (OCG
        I.A.13, the Index's bracketed code: "Dementia in Alzheimer's disease G30.9 [F02.80]"): a code of
        the etiology whose own sentence names the manifestation's words adds the manifestation code,
        with the same evidence (it is never first-listed: chartcoder.models.knowledge._finish)."""
        for rule in self.rules.manifestations:
            add = str(rule["add"])
            if any(s == "ICD-10-CM" and c[:3] == add[:3] for s, c in found) or not self.icd.is_billable(add):
                continue  # the manifestation is coded already (F02.82 "with psychotic disturbance")
            words = frozenset(normalize_word(str(w)) for w in rule["words"])
            for c in list(found.values()):
                if c.system != "ICD-10-CM" or c.held is not None or not _matches(c.code, str(rule["when"])):
                    continue
                said: set[str] = set()
                for m in c.mentions:
                    said |= m.sentence_words
                for e in c.evidence:
                    said |= {w.norm for w in words_of(e.text)[0]}
                if words & said:
                    why = f"coded with {c.code}: the manifestation the note names with it ({rule['id']}, OCG I.A.13)"
                    found[("ICD-10-CM", add)] = Candidate(
                        add, "ICD-10-CM", c.score * 0.95, list(c.evidence), [why], list(c.mentions)
                    )
                    break

    def _apply_combinations(self, found: dict[tuple[str, str], Candidate]) -> None:
        for rule in self.rules.combinations:
            codes = self._icd_codes(found)
            if not all(any(_matches(c, spec) for c in codes) for spec in rule.get("when", [])):
                continue
            evidence_from = [found[("ICD-10-CM", c)] for c in codes if any(_matches(c, s) for s in rule["when"])]
            for old, new in (rule.get("replace") or {}).items():
                old_c = found.pop(("ICD-10-CM", str(old)), None)
                if old_c is None:
                    continue
                old_c.code = str(new)
                old_c.warnings.append(f"combination code ({rule['id']}): {old} with its linked condition")
                for other in evidence_from:
                    if other is not old_c:
                        old_c.add_evidence(other.evidence)
                key = ("ICD-10-CM", str(new))
                if key in found:
                    found[key].merge(old_c)
                else:
                    found[key] = old_c
            for new in rule.get("add") or []:
                key = ("ICD-10-CM", str(new))
                if key in found or not evidence_from:
                    continue
                added = Candidate(
                    str(new),
                    "ICD-10-CM",
                    max(c.score for c in evidence_from),
                    warnings=[f"combination code ({rule['id']})"],
                )
                for other in evidence_from:
                    added.add_evidence(other.evidence)
                found[key] = added
            for spec in rule.get("drop") or []:
                for c in [c for c in self._icd_codes(found) if _matches(c, spec)]:
                    found.pop(("ICD-10-CM", c), None)

    def _apply_suppression(self, found: dict[tuple[str, str], Candidate]) -> None:
        codes = self._icd_codes(found)
        for rule in self.rules.suppress:
            if not any(_matches(c, s) for c in codes for s in rule.get("when_any", [])):
                continue
            for c in codes:
                if any(_matches(c, s) for s in rule.get("codes", [])):
                    found.pop(("ICD-10-CM", c), None)

    def _drop_unspecified_siblings(self, found: dict[tuple[str, str], Candidate]) -> None:
        """An unspecified code is not reported beside a specified code of the same condition."""
        codes = self._icd_codes(found)
        for c in codes:
            if not self.icd.is_valid(c) or "unspecified" not in self.icd.description(c).lower():
                continue
            parent = self.icd.parent(c)
            siblings = [
                o
                for o in codes
                if o != c
                and parent
                and o.startswith(parent)
                and self.icd.is_valid(o)
                and "unspecified" not in self.icd.description(o).lower()
            ]
            if siblings:
                gone = found.pop(("ICD-10-CM", c), None)
                if gone is not None:
                    found[("ICD-10-CM", siblings[0])].add_evidence(gone.evidence)

    def _apply_adds(self, found: dict[tuple[str, str], Candidate]) -> None:
        for rule in self.rules.adds:
            triggers = []
            for cand in list(found.values()):
                if cand.system == "ICD-10-CM" or cand.held is not None:
                    continue
                if "when_category" in rule:
                    pc = self._procedure_set(cand.system).get(cand.code)
                    if pc is None or pc.category != rule["when_category"]:
                        continue
                if "when_code" in rule and not _matches(cand.code, rule["when_code"]):
                    continue
                if rule.get("sentence_words"):
                    wanted = {w.lower() for w in rule["sentence_words"]}
                    if not any(wanted & m.sentence_words for m in cand.mentions):
                        continue
                triggers.append(cand)
            if not triggers:
                continue
            add = rule["add"]
            key = (str(add.get("system", "CPT")), str(add["code"]))
            if key not in found and self._procedure_set(key[0]).get(key[1]) is not None:
                first = triggers[0]
                found[key] = Candidate(
                    key[1],
                    key[0],
                    first.score * 0.97,
                    list(first.evidence),
                    [f"implied by {first.code} ({rule['id']})"],
                    list(first.mentions),
                )
            icd = rule.get("also_icd")
            if icd and ("ICD-10-CM", icd) not in found:
                first = triggers[0]
                found[("ICD-10-CM", icd)] = Candidate(
                    icd,
                    "ICD-10-CM",
                    first.score * 0.95,
                    list(first.evidence),
                    [f"implied by {first.code} ({rule['id']})"],
                    [],
                )

    def _add_em(
        self,
        found: dict[tuple[str, str], Candidate],
        text: str,
        encounter: Encounter,
        document: str | None = None,
    ) -> None:
        """The E/M level (chartcoder.models.em): office, emergency department or hospital care, by total time
        or by MDM, with the reasoning as warnings and evidence; modifier 25 beside a same-day procedure;
        preventive visits by age. `document` is the document type (ed_note, history_physical,
        progress_note, discharge_summary, ...) when known; otherwise the note's words decide."""
        preventive = [
            c
            for c in found.values()
            if c.system == "ICD-10-CM"
            and c.code in PREVENTIVE_DX
            and not any("wellness" in e.text.lower() for e in c.evidence)
        ]
        preventive = [] if encounter.is_inpatient else preventive
        diagnoses = [(c.code, e.start, e.end) for c in found.values() if c.system == "ICD-10-CM" for e in c.evidence]
        level = suggest_em(
            text,
            setting=encounter.setting,
            patient_status=encounter.patient_status,
            doc_type=document,
            diagnoses=diagnoses,
            use_mdm=not preventive,  # a problem-oriented visit beside a preventive one only by its time
        )
        if level is not None and self.cpt.get(level.code) is not None:
            spans = sorted(set(level.spans))
            evidence = [Evidence(a, b, text[a:b], "present", None) for a, b in spans]
            warnings = list(level.warnings)
            procedures = sorted(
                c.code
                for c in found.values()
                if c.system == "CPT" and is_procedure(c.code, getattr(self.cpt.get(c.code), "category", None))
            )
            if procedures:
                warnings.append(
                    "modifier 25: significant, separately identifiable E/M on the day of a procedure "
                    f"({', '.join(procedures)})"
                )
            # Time is a number the note states; MDM is read from words; a discharge without its time
            # documented is 99238 by default, offered below the shown threshold for the coder to confirm.
            score = {"time": 0.9, "mdm": 0.82}.get(level.basis, 0.62)
            if not level.status_documented:
                score -= 0.12
            found[("CPT", level.code)] = Candidate(level.code, "CPT", score, evidence, warnings, [])
        if level is not None and level.family != "office":
            level = None  # preventive visits sit beside office visits only
        if preventive and encounter.age is not None:
            status, documented = patient_status(text, encounter.patient_status)
            code = preventive_visit_code(encounter.age, status)
            warnings = [f"preventive visit for age {encounter.age}, {status} patient"]
            if not documented:
                warnings.append("new/established status not documented; assumed established")
            if level is not None:
                warnings.append("problem-oriented E/M on the same day needs modifier 25")
            found[("CPT", code)] = Candidate(
                code, "CPT", preventive[0].score * 0.97, list(preventive[0].evidence), warnings, []
            )

    def _add_bmi(self, found: dict[tuple[str, str], Candidate], text: str, encounter: Encounter) -> None:
        """Adult BMI (Z68) is reported only with a weight diagnosis it supports (guideline I.B.14)."""
        if encounter.age is not None and encounter.age < 20:
            return
        if not any(_matches(c, BMI_ASSOCIATED) for c in self._icd_codes(found)):
            return
        bmi = documented_bmi(text)
        if bmi is None:
            return
        value, start, end = bmi
        code = adult_bmi_code(value)
        found[("ICD-10-CM", code)] = Candidate(
            code,
            "ICD-10-CM",
            0.8,
            [Evidence(start, end, text[start:end], "present", None)],
            [f"BMI {value:g} documented"],
            [],
        )

    # ------------------------------------------------------------------------------------------
    def _finish(self, c: Candidate, found: dict[tuple[str, str], Candidate], encounter: Encounter) -> Suggestion:
        warnings = list(c.warnings)
        score = c.score
        if c.system == "ICD-10-CM":
            if not self.icd.is_valid(c.code):
                return Suggestion(c.code, c.system, "unknown code", 0.01, c.evidence, ["not a valid ICD-10-CM code"])
            description = self.icd.description(c.code)
            if not self.icd.is_billable(c.code):
                children = self.icd.children(c.code)
                warnings.append(
                    f"header code, not billable: choose one of {', '.join(children[:12])}"
                    + (" ..." if len(children) > 12 else "")
                )
                score *= 0.75
            others = [o for o in self._icd_codes(found) if o != c.code]
            for excluded in self.icd.excludes1_codes(c.code):
                clash = [o for o in others if o.replace(".", "").startswith(excluded.replace(".", "").rstrip("-"))]
                if clash:
                    warnings.append(f"Excludes1 conflict with {', '.join(clash)}")
            # "Use additional code" notes that are mandatory; the "if/where applicable" lists are not.
            additional = " ".join(self.icd.use_additional_code(c.code))
            cited = {x[:3] for x in codes_cited(additional)}
            optional = "applicable" in additional.lower()
            if additional and not optional and not (cited and any(o[:3] in cited for o in others)):
                warnings.append(_clip(f"use additional code: {additional}"))
            if self.icd.is_manifestation(c.code):
                warnings.append("manifestation code: never first-listed; code the underlying condition first")
            if c.code.startswith(("O", "Z33", "Z34", "Z3A", "Z36")) and encounter.sex == "M":
                warnings.append("pregnancy code on a male patient")
            if c.code.startswith("P") and encounter.age is not None and encounter.age > 0:
                warnings.append(
                    "perinatal code after the newborn period: verify the condition began in the "
                    "perinatal period (guideline I.C.16.a.4)"
                )
        else:
            pc = self._procedure_set(c.system).get(c.code)
            description = pc.description if pc else "unknown code"
        evidence = sorted(c.evidence, key=lambda e: (e.start, e.end))
        if c.held is not None:
            score = min(score * 0.82, SHOW_THRESHOLD - 0.01)  # doubted: ranked as a narrative mention
        score = round(min(0.99, max(0.01, score)), 4)
        group: Group = "suggested" if score >= SHOW_THRESHOLD and evidence else "consider"
        return Suggestion(c.code, c.system, description, score, evidence, warnings, group)

    # ------------------------------------------------------------------------------------------
    def _add_table_codes(
        self, found: dict[tuple[str, str], Candidate], text: str, mentions: list[Mention], encounter: Encounter
    ) -> None:
        """External causes of injuries (I.C.20), neoplasm site and behavior (I.C.2) and drug poisoning,
        adverse effect and underdosing (I.C.19.e) from the CMS index files (chartcoder.models.tables);
        nothing when the files are not configured."""
        from chartcoder.models.tables import table_coder  # it imports this module

        coder = table_coder(self.icd, self.settings)
        if coder is not None:
            coder.apply(self, found, text, mentions, encounter)
