"""Section detection for US clinical notes, driven by the header rules in resources/sections.yaml.

Headers are read in two forms:

- at the start of a line, as in typed notes: a known header in any case, with a colon or alone on
  its line (short ones, "CC:", "ROS:", only with the colon);
- inline, as in transcriptions (the MTSamples "CSV form" "...,ASSESSMENT:,  Allergic rhinitis.,PLAN:,1.
  ...", or dictations run together "... wrist. POSTOPERATIVE DIAGNOSIS: ..."): at the start of the
  text or after a comma, period, semicolon or line break, a header in capitals (or a known header that
  starts with a capital) followed by a colon. A known header in capitals may instead end with a comma
  or run into a numbered list ("PREOPERATIVE DIAGNOSES,1.  ...") when lower-case text follows.

What a header does:

- a known header (resources/sections.yaml) opens a section with its label; `admin` headers (surgeon,
  dates, condition) open an `admin` section, so the text before them ends there;
- a body-system subheader ("HEENT:", "NECK:", "Lungs:") stays inside the open section;
- an unknown header in capitals of two or more words ("TOURNIQUET TIME:", "SHORT-TERM GOALS:") ends the
  open section and opens one labelled `other`, except inside an exam, a review of systems, results or a
  medication list, where capitalised item names ("LDL CHOLESTEROL:") are read as subheaders; an
  unknown one-word header ("RE:", "DOPPLER:") only marks a sentence boundary. Unknown headers count only
  when lower-case text follows them, so a note dictated in capitals is read by its known headers alone;
- "Same" (or "Same as above") under a postoperative diagnosis moves the preoperative diagnosis section
  to `postop_diagnosis`: the coding policy reads "Same" as the preoperative list;
- a `procedures` section that holds a long narrative rather than the list of procedures performed
  ("PROCEDURE:,  After informed consent was obtained, ...") keeps its first sentence; the rest is
  `procedure_detail`;
- a short section (chief complaint, family and social history, allergies) ends at the first line that
  is not a list item; in a one-line transcription ".," stands for the line break.

Every pattern is linear in the note: bounded header lengths, no nested repetition (see
tests/nlp/test_documents.py).
"""

# No `from __future__ import annotations` here: spaCy reads the factory signature at runtime.

import bisect
import dataclasses
import itertools
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from spacy.language import Language
from spacy.tokens import Doc

from chartcoder.domain.errors import ResourceError
from chartcoder.nlp.resources import load_yaml_resource

# Every label a section can carry: the keys of sections.yaml plus `other` (unknown headers).
SECTION_LABELS = frozenset(
    {
        "chief_complaint",
        "hpi",
        "past_medical_history",
        "problem_list",
        "past_surgical_history",
        "family_history",
        "social_history",
        "review_of_systems",
        "physical_exam",
        "results",
        "assessment_plan",
        "admission_diagnosis",
        "preop_diagnosis",
        "postop_diagnosis",
        "procedures",
        "procedure_detail",
        "indications",
        "findings",
        "ebl",
        "anesthesia",
        "complications",
        "specimens",
        "drains",
        "fluids",
        "implants",
        "pathology",
        "medications",
        "allergies",
        "hospital_course",
        "ed_course",
        "plan",
        "admin",
        "other",
    }
)
OTHER = "other"
# Sections whose capitalised item names ("LDL CHOLESTEROL:", "METFORMIN ER:") are not new sections.
SUBHEADED = frozenset({"physical_exam", "review_of_systems", "results", "medications"})
MAX_HEADER = 60  # characters of an inline header


@dataclass(frozen=True)
class Section:
    label: str
    header_start: int
    header_end: int  # end of the header text including its colon (and a transcription's comma)
    end: int  # end of the section body (start of the next header or end of text)
    name: str = ""  # the header as written, normalized: lower case, single spaces ("postoperative diagnosis")


class Subheader(NamedTuple):
    """A header that stays inside the open section (body systems, unknown one-word headers)."""

    start: int
    end: int
    name: str


class SectionIndex:
    """Sections of one note with a fast offset -> section lookup."""

    def __init__(self, sections: list[Section], subheaders: list[Subheader] | None = None, text: str = "") -> None:
        self.sections = sections
        self.subheaders = subheaders or []
        # The note the index was built from: later components read it here instead of Doc.text,
        # which rebuilds the string on every access.
        self.text = text
        self._starts = [s.header_start for s in sections]

    def at(self, offset: int) -> str | None:
        i = bisect.bisect_right(self._starts, offset) - 1
        if i < 0:
            return None
        s = self.sections[i]
        return s.label if offset < s.end else None

    def header_ends(self) -> list[int]:
        return [s.header_end for s in self.sections]

    def labels(self) -> set[str]:
        return {s.label for s in self.sections}

    def names(self) -> list[str]:
        """Every header name, sections and subheaders, in note order."""
        found = [(s.header_start, s.name) for s in self.sections] + [(h.start, h.name) for h in self.subheaders]
        return [name for _, name in sorted(found)]

    def cuts(self) -> list[int]:
        """Offsets where a header starts or ends: sentence boundaries."""
        out = []
        for s in self.sections:
            out += [s.header_start, s.header_end]
        for h in self.subheaders:
            out += [h.start, h.end]
        return out


_PLURAL_TAIL = re.compile(r"\s*+\((?:e?s)\)$")


@lru_cache(maxsize=8192)
def normalize_header(name: str) -> str:
    """Lower case, single spaces, no trailing "(s)"/"(es)", colon or comma: "PREOPERATIVE DIAGNOSIS (ES)" ->
    "preoperative diagnosis"."""
    key = " ".join(name.lower().split()).strip(" :,")
    return _PLURAL_TAIL.sub("", key)


@dataclass(frozen=True)
class HeaderRules:
    lookup: dict[str, str]  # normalized header -> label
    subheaders: frozenset[str]


@lru_cache(maxsize=4)
def header_rules(resource: str = "sections.yaml") -> HeaderRules:
    rules = load_yaml_resource(resource)
    if not isinstance(rules, dict) or not isinstance(rules.get("sections"), dict):
        raise ResourceError(f"{resource}: expected `sections:` (label -> list of headers) and `subheaders:`")
    extra = set(rules) - {"sections", "subheaders"}
    unknown = set(rules["sections"]) - SECTION_LABELS
    if extra or unknown:
        raise ResourceError(f"{resource}: unexpected keys {sorted(extra)} or labels {sorted(unknown)}")
    lookup: dict[str, str] = {}
    for label, headers in rules["sections"].items():
        for h in headers:
            lookup[normalize_header(str(h))] = str(label)
    subheaders = frozenset(normalize_header(str(h)) for h in rules.get("subheaders") or [])
    return HeaderRules(lookup, subheaders)


# Both patterns capture a candidate header and the code looks it up (a dict lookup, not an alternation
# of every header tried at every line). Quantifiers are bounded or possessive, so no start position
# costs more than O(MAX_HEADER): the scan is linear in the note.
#
# Line start, any case: optional list marker ("1.", "-"), the header, then a colon, or the end of the line.
_LINE = re.compile(
    r"(?m)^[ \t]*+(?:[-*#\d.)]{1,6}+[ \t]*+)?"
    rf"(?P<name>[A-Za-z][A-Za-z0-9 /&'().\-]{{0,{MAX_HEADER}}}+)(?P<end>:|\r?$)"
)
# Inline: after , . ; or a line break (or at the start of the text: _INLINE_FIRST), then spaces; a
# header that starts with a capital, then a colon, a comma (looked at, not taken: it may be the next
# header's anchor), or " 1." of a numbered list. Starting on the punctuation lets the scan skip to it.
_INLINE_NAME = rf"[ \t]*+(?P<name>[A-Z][A-Za-z0-9 /&'()\-]{{0,{MAX_HEADER}}}+)(?P<end>:|(?=,)|(?<=[ \t]1)[.)](?=[ \t]))"
_INLINE = re.compile(r"[.,;\n]" + _INLINE_NAME)
_INLINE_FIRST = re.compile(_INLINE_NAME)
_COMMA_AFTER = re.compile(r"[ \t]*+,")  # "PLAN:," / "PLAN: ," : a transcription's comma after the colon
_LOWER = re.compile(r"[a-z]")
_SAME = re.compile(r"[\s,:;.\-]*+same\b", re.I)


class _Found(NamedTuple):
    start: int
    end: int
    kind: str  # "section" | "sub" | "other"
    label: str
    name: str


def _lower_follows(text: str, pos: int) -> bool:
    """Lower-case text right after a header: the note is not dictated in capitals."""
    return _LOWER.search(text, pos, pos + 80) is not None


def _known_prefix(key: str, rules: HeaderRules) -> tuple[str, str] | None:
    """("section", label) or ("sub", "") for the longest known header the name starts with, word-wise:
    "SECONDARY DIAGNOSES PRIOR TO HOSPITALIZATION" reads as "secondary diagnoses"."""
    words = key.split()
    for k in range(len(words) - 1, 0, -1):
        head = " ".join(words[:k])
        if head in rules.lookup:
            return "section", rules.lookup[head]
        if head in rules.subheaders:
            return "sub", ""
    return None


def _line_headers(text: str, rules: HeaderRules) -> list[_Found]:
    """Known headers at the start of a line, any case: "Assessment and Plan:", "PLAN" alone on its line;
    short ones (CC, ROS, A/P, S) only with a colon, to keep "a" and "pe" in prose from matching."""
    found = []
    for m in _LINE.finditer(text):
        raw = m.group("name")
        key = normalize_header(raw)
        label = rules.lookup.get(key)
        if label is None or (len(key) <= 3 and m.group("end") != ":"):
            continue
        found.append(_Found(m.start("name"), m.end("end"), "section", label, key))
    return found


def _inline_headers(text: str, rules: HeaderRules) -> list[_Found]:
    found: list[_Found] = []
    first = _INLINE_FIRST.match(text)
    for m in itertools.chain([first] if first else [], _INLINE.finditer(text)):
        raw, end_text = m.group("name"), m.group("end")
        start, end = m.start("name"), m.end("end")
        colon = end_text == ":"
        if colon:
            comma = _COMMA_AFTER.match(text, end)
            if comma:
                end = comma.end()
        elif end_text:  # "PREOPERATIVE DIAGNOSES 1. Xxx": the header ends before the number
            raw = raw[:-1]
            end = start + len(raw)
        else:  # "PREOPERATIVE DIAGNOSES,1.  Xxx": the comma ends the header
            end += 1
        key = normalize_header(raw)
        if len(key) < 2:
            continue
        label = rules.lookup.get(key)
        sub = key in rules.subheaders
        if not raw.isupper():
            # "History of present illness:", "Lungs:": known headers only, not short ones ("Abd:").
            if colon and len(key) > 3 and (label or sub):
                found.append(_Found(start, end, "section" if label else "sub", label or "", key))
            continue
        if not colon and (label is None or len(key) <= 3 or not _lower_follows(text, end)):
            continue  # "PREOPERATIVE DIAGNOSES,1.  Xxx": known headers only, before lower-case text
        if label or sub:
            found.append(_Found(start, end, "section" if label else "sub", label or "", key))
            continue
        if not _lower_follows(text, end):
            continue
        prefix = _known_prefix(key, rules)
        if prefix is not None:
            kind, label = prefix
            found.append(_Found(start, end, kind, label, key))
        elif " " in key:
            found.append(_Found(start, end, "other", OTHER, key))
        else:
            found.append(_Found(start, end, "sub", "", key))
    return found


# Sections that hold a line or a short list. Notes often go on without a header after them
# ("Family history: mother with DM.\nUrinalysis: ..."), and text under a missed header must not
# be read as family history, so these end at the first line that does not look like a list item.
SHORT_SECTIONS = {"family_history", "allergies", "social_history", "chief_complaint"}
_CONTINUES = re.compile(r"[ \t]*+(?:[-*\u2022+]|\d{1,3}[.)]\s|[a-z])")  # a list item or a wrapped lower-case line


_TRANSCRIBED_BREAK = re.compile(r"[.!?],")  # ".,She began": a transcription's line break


def _short_section_end(text: str, body_start: int, limit: int) -> int:
    if text.find("\n", body_start, limit) < 0:
        # One line: in a transcription ".," stands for the line break ("CC:, Confusion.,HX , ...").
        for m in _TRANSCRIBED_BREAK.finditer(text, body_start, limit):
            if not _CONTINUES.match(text, m.end()):
                return m.end()
        return limit
    pos = body_start
    seen_content = False
    while pos < limit:
        nl = text.find("\n", pos, limit)
        line_end = limit if nl < 0 else nl
        line = text[pos:line_end]
        if line.strip():
            if seen_content and not _CONTINUES.match(line):
                return pos
            seen_content = True
        elif seen_content:
            return pos  # a blank line closes it
        if nl < 0:
            return limit
        pos = nl + 1
    return limit


def find_sections(text: str) -> SectionIndex:
    rules = header_rules()
    candidates = _line_headers(text, rules) + _inline_headers(text, rules)
    # One header per place: the longest at each start, and none inside another.
    candidates.sort(key=lambda f: (f.start, -f.end))
    heads: list[_Found] = []
    for f in candidates:
        if heads and f.start < heads[-1].end:
            continue
        heads.append(f)

    opened: list[_Found] = []
    subheaders: list[Subheader] = []
    for f in heads:
        current = opened[-1].label if opened else None
        if f.kind == "sub" or (f.kind == "other" and current in SUBHEADED):
            subheaders.append(Subheader(f.start, f.end, f.name))
        else:
            opened.append(f)
    sections = []
    for i, f in enumerate(opened):
        limit = opened[i + 1].start if i + 1 < len(opened) else len(text)
        if f.label in SHORT_SECTIONS:
            limit = _short_section_end(text, f.end, limit)
        sections.append(Section(f.label, f.start, f.end, limit, f.name))
    return SectionIndex(_same_as_preop(text, _narrative_procedures(text, sections)), subheaders, text)


_SENTENCE_END = re.compile(r"[.!?](?=[\s,]|$)")
_LIST_START = re.compile(r"[\s,:]*+\d{1,2}[.)]")
NARRATIVE_CHARS = 500


def _narrative_procedures(text: str, sections: list[Section]) -> list[Section]:
    """Transcriptions put the operative narrative under "PROCEDURE:" or "OPERATIVE PROCEDURE:" as often
    as the list of procedures. A `procedures` body of more than NARRATIVE_CHARS characters and three
    sentences, not a numbered list, is a narrative: its first sentence (which names the procedure when
    it names one: "Incision and drainage of the abscess. After consent ...") stays `procedures`, the
    rest becomes `procedure_detail`."""
    out = []
    for s in sections:
        ends = []
        long_body = s.label == "procedures" and s.end - s.header_end > NARRATIVE_CHARS
        if long_body and not _LIST_START.match(text, s.header_end, s.end):
            found = _SENTENCE_END.finditer(text, s.header_end, s.end)
            ends = [m.end() for _, m in zip(range(3), found, strict=False)]
        if len(ends) < 3:
            out.append(s)
            continue
        first = ends[0]
        out.append(dataclasses.replace(s, end=first))
        out.append(Section("procedure_detail", first, first, s.end, s.name))
    return out


def _same_as_preop(text: str, sections: list[Section]) -> list[Section]:
    """A postoperative diagnosis of "Same" (as above, as preoperative) is the preoperative list: that
    section becomes `postop_diagnosis` (the nearest one before, else the first after)."""
    for i, s in enumerate(sections):
        if s.label != "postop_diagnosis" or not _SAME.match(text, s.header_end, s.end):
            continue
        before = [j for j in range(i) if sections[j].label == "preop_diagnosis"]
        after = [j for j in range(i + 1, len(sections)) if sections[j].label == "preop_diagnosis"]
        target = before[-1] if before else (after[0] if after else None)
        if target is not None:
            sections[target] = dataclasses.replace(sections[target], label="postop_diagnosis")
    return sections


def note_text(doc: Doc) -> str:
    """The text of a Doc, from its section index when that was built from it (Doc.text rebuilds the
    string from the tokens on every access)."""
    sections = doc._.sections
    if sections is not None and len(doc) and len(sections.text) == doc[-1].idx + len(doc[-1].text_with_ws):
        return str(sections.text)
    return doc.text


if not Doc.has_extension("sections"):
    Doc.set_extension("sections", default=None)


@Language.factory("chartcoder_sections")
def create_section_detector(nlp: Language, name: str) -> "SectionDetector":
    return SectionDetector()


class SectionDetector:
    """Stores a SectionIndex on `doc._.sections`."""

    def __call__(self, doc: Doc) -> Doc:
        doc._.sections = find_sections(doc.text)
        return doc
