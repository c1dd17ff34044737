"""The note's sections as the E/M reader sees them (assessment, plan, history, past history, other)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# --------------------------------------------------------------------------------------------------
# Sections
_AP_HEADERS = frozenset(
    {
        "assessment and plan",
        "assessment & plan",
        "assessment/plan",
        "assessment / plan",
        "a/p",
        "a&p",
        "a",
        "assessment",
        "impression and plan",
        "impression/plan",
        "impression",
        "impressions",
        "clinical impression",
        "clinical impressions",
        "diagnosis",
        "diagnoses",
        "final diagnosis",
        "final diagnoses",
        "ed diagnosis",
        "ed diagnoses",
        "er diagnosis",
        "working diagnosis",
        "differential diagnosis",
        "medical decision making",
        "mdm",
        "assessment and recommendations",
        "summary and plan",
    }
)
_PLAN_HEADERS = frozenset(
    {
        "plan",
        "p",
        "treatment plan",
        "recommendations",
        "recommendation",
        "disposition",
        "dispo",
        "ed course",
        "er course",
        "post-procedure plan",
        "treatment recommendations",
        "medications prescribed",
        "follow-up plan",
        "prescriptions",
        "orders",
        "diagnostic & lab orders",
        "patient instructions",
        "counseling",
        "emergency department course",
        "emergency room course",
        "course in the ed",
        "course",
        "follow-up",
        "follow up",
        "discharge plan",
        "management",
    }
)
# A history was taken (the visit's own history, review of systems or physical exam): the headers that
# say so. `_HISTORY_HEADERS` adds the looser ones ("History", "Exam", "O", vitals) a visit may use too.
_VISIT_HEADERS = frozenset(
    {
        "chief complaint",
        "cc",
        "reason for visit",
        "reason for encounter",
        "history of present illness",
        "history of the present illness",
        "hpi",
        "present illness",
        "subjective",
        "s",
        "interval history",
        "review of systems",
        "ros",
        "physical exam",
        "physical examination",
    }
)
_HISTORY_HEADERS = _VISIT_HEADERS | {
    "history",
    "exam",
    "examination",
    "objective",
    "o",
    "vital signs",
    "vitals",
    "vs",
}
_PAST_HEADERS = frozenset(
    {
        "past medical history",
        "pmh",
        "pmhx",
        "medical history",
        "past history",
        "past surgical history",
        "psh",
        "prior surgeries",
        "surgical history",
        "family history",
        "fh",
        "fhx",
        "social history",
        "sh",
        "shx",
        "social habits",
        "allergies",
        "allergy",
        "medications",
        "medication",
        "meds",
        "current medications",
        "home medications",
        "medications at home",
        "medication history",
        "problem list",
        "active problems",
        "immunizations",
    }
)
_OTHER_HEADERS = frozenset(
    {
        "labs",
        "laboratory",
        "laboratory data",
        "results",
        "data",
        "imaging",
        "studies",
        "procedure",
        "procedures",
        "procedure note",
        "time",
        "total time",
        "signature",
        "addendum",
        "findings",
        "indications",
        "indication",
        "hospital course",
        "brief hospital course",
        "discharge diagnosis",
        "discharge diagnoses",
        "discharge medications",
        "discharge instructions",
        "condition on discharge",
        "discharge condition",
        "admission diagnosis",
        "admission diagnoses",
        "consultations",
        "technique",
        "comparison",
        "comparisons",
        "gross description",
        "microscopic description",
        "specimen",
        "specimens",
        "reason for exam",
        "gross",
        "in-office testing",
        "testing",
        "point of care testing",
        "poct",
        "radiology",
        "ecg",
        "ekg",
    }
)
_KNOWN_HEADERS = _AP_HEADERS | _PLAN_HEADERS | _HISTORY_HEADERS | _PAST_HEADERS | _OTHER_HEADERS
_LINE_HEADER = re.compile(r"^[ \t]*([A-Za-z][A-Za-z /&'-]{0,44}?)[ \t]*(?::|$)", re.M)
_ANY_LINE_HEADER = re.compile(r"^[ \t]*[A-Za-z][A-Za-z0-9 /&'()-]{0,44}?[ \t]*:|^[ \t]*$", re.M)
_CAPS_HEADER = re.compile(r"([A-Z](?<![A-Za-z][A-Z])[A-Z /&'-]{0,44}?[A-Z])[ \t]{0,2}:")


def _header_name(raw: str) -> str | None:
    """A known header's name; "IMPRESSION / DIAGNOSIS" is known by its first part when every part is."""
    name = " ".join(raw.lower().split())
    if name in _KNOWN_HEADERS:
        return name
    parts = [p.strip() for p in re.split(r"/|&| and ", name)]
    if len(parts) > 1 and all(p in _KNOWN_HEADERS for p in parts):
        return parts[0]
    return None


@dataclass(frozen=True)
class Section:
    name: str
    start: int  # the header
    body: int  # where the body starts
    end: int


@lru_cache(maxsize=8)
def sections(text: str) -> tuple[Section, ...]:
    """Known section headers (at a line start in any case with a colon or alone on the line, or in capitals
    with a colon anywhere, as transcriptions write them) and the text each governs."""
    heads: dict[int, tuple[str, int]] = {}
    for rx in (_LINE_HEADER, _CAPS_HEADER):
        for m in rx.finditer(text):
            name = _header_name(m.group(1))
            if name is not None and m.start(1) not in heads:
                heads[m.start(1)] = (name, m.end())
    starts = sorted(heads)
    out = []
    for i, s in enumerate(starts):
        name, body = heads[s]
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        if name in _PAST_HEADERS:
            # Lists of history, medications and allergies are short: they end at the next line that
            # opens with a header of any name ("VS:", "In-office testing:") or at a blank line.
            line_end = text.find("\n", body, end)
            if line_end >= 0:
                nxt = _ANY_LINE_HEADER.search(text, line_end + 1, end)
                if nxt:
                    end = nxt.start()
        out.append(Section(name, s, body, end))
    return tuple(out)
