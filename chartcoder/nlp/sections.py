"""Section detection for US clinical notes, driven by the header rules in resources/sections.yaml."""

# No `from __future__ import annotations` here: spaCy reads the factory signature at runtime.

import bisect
import re
from dataclasses import dataclass
from functools import lru_cache

from spacy.language import Language
from spacy.tokens import Doc

from chartcoder.nlp.resources import load_yaml_resource


@dataclass(frozen=True)
class Section:
    label: str
    header_start: int
    header_end: int  # end of the header text including its colon
    end: int  # end of the section body (start of the next header or end of text)


class SectionIndex:
    """Sections of one note with a fast offset -> section lookup."""

    def __init__(self, sections: list[Section]) -> None:
        self.sections = sections
        self._starts = [s.header_start for s in sections]

    def at(self, offset: int) -> str | None:
        i = bisect.bisect_right(self._starts, offset) - 1
        if i < 0:
            return None
        s = self.sections[i]
        return s.label if offset < s.end else None

    def header_ends(self) -> list[int]:
        return [s.header_end for s in self.sections]


@lru_cache(maxsize=4)
def compile_header_pattern(resource: str = "sections.yaml") -> tuple[re.Pattern[str], dict[str, str]]:
    rules = load_yaml_resource(resource)
    if not isinstance(rules, dict):
        from chartcoder.errors import ResourceError

        raise ResourceError(f"{resource}: expected a mapping of section label -> list of headers")
    lookup: dict[str, str] = {}
    short: list[str] = []
    long: list[str] = []
    for label, headers in rules.items():
        for h in headers:
            key = " ".join(str(h).lower().split())
            lookup[key] = str(label)
            (short if len(key) <= 3 else long).append(key)

    def alt(keys: list[str]) -> str:
        # Longest first so "assessment and plan" wins over "assessment".
        return "|".join(re.escape(k).replace(r"\ ", r"\s+") for k in sorted(keys, key=len, reverse=True))

    # Long headers: "Assessment and Plan:" or "ASSESSMENT AND PLAN" alone on its line.
    # Short headers (CC, ROS, A/P, S): only with a colon, to keep "a" and "pe" in prose from matching.
    pattern = re.compile(
        rf"(?im)^[ \t]*(?:[-*#\d.)]+[ \t]*)?"
        rf"(?P<h>(?P<long>{alt(long)})(?:[ \t]*:|[ \t]*\r?$)|(?P<short>{alt(short)})[ \t]*:)"
    )
    return pattern, lookup


# Sections that hold a line or a short list. Notes often go on without a header after them
# ("Family history: mother with DM.\nUrinalysis: ..."), and text under a missed header must not
# be read as family history, so these end at the first line that does not look like a list item.
SHORT_SECTIONS = {"family_history", "allergies", "social_history", "chief_complaint"}
_CONTINUES = re.compile(r"[ \t]*(?:[-*\u2022+]|\d+[.)]\s|[a-z])")  # a list item or a wrapped lower-case line


def _short_section_end(text: str, body_start: int, limit: int) -> int:
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
    pattern, lookup = compile_header_pattern()
    found: list[tuple[str, int, int]] = []
    for m in pattern.finditer(text):
        name = m.group("long") or m.group("short")
        label = lookup.get(" ".join(name.lower().split()))
        if label is None:
            continue
        found.append((label, m.start("h"), m.end("h")))
    sections = []
    for i, (label, start, end) in enumerate(found):
        limit = found[i + 1][1] if i + 1 < len(found) else len(text)
        if label in SHORT_SECTIONS:
            limit = _short_section_end(text, end, limit)
        sections.append(Section(label, start, end, limit))
    return SectionIndex(sections)


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
