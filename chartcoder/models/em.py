"""Office E/M level from documented total time and new/established status (AMA 2021+ time rules)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Minimum total minutes on the date of the encounter ("met or exceeded").
NEW_PATIENT = [(60, "99205"), (45, "99204"), (30, "99203"), (15, "99202")]
ESTABLISHED = [(40, "99215"), (30, "99214"), (20, "99213"), (10, "99212")]

_NUM = r"(\d{1,3})(?:\s*(?:-|to)\s*\d{1,3})?"
_MIN = r"(?:minutes?|mins?|min\b)"
_TIME_PATTERNS = [
    # "Total time spent on the date of the encounter: 32 minutes", "total time 45 min"
    re.compile(rf"\btotal\s+(?:[a-z/-]+\s+){{0,10}}?time\b[^0-9\n]{{0,40}}?{_NUM}\s*{_MIN}", re.I),
    # "I spent 35 minutes ...", "spent a total of 45 minutes"
    re.compile(rf"\bspent\s+(?:a\s+total\s+of\s+|over\s+|greater\s+than\s+)?{_NUM}\s*{_MIN}", re.I),
    # "35 minutes were spent ...", "45 minutes total time"
    re.compile(rf"\b{_NUM}\s*{_MIN}\s+(?:of\s+)?(?:total\s+time|were\s+spent|was\s+spent|spent|in\s+total)", re.I),
    # "Time: 25 minutes" as a line label
    re.compile(rf"(?im)^\s*(?:total\s+)?time(?:\s+spent)?\s*:\s*{_NUM}\s*{_MIN}"),
]
_NEW = re.compile(
    r"\bnew\s+(?:patient|pt)\b|\bestablish(?:ing|es)?\s+care\b|\bnew\s+to\s+(?:the\s+)?(?:clinic|practice)\b", re.I
)
_ESTABLISHED = re.compile(
    r"\bestablished\s+(?:patient|pt)\b|\breturn(?:ing)?\s+(?:patient|visit)\b|\bfollow[- ]?up\s+visit\b", re.I
)
_NOT_NEW = re.compile(r"\bnot\s+a\s+new\s+patient\b", re.I)


@dataclass(frozen=True)
class EMLevel:
    code: str
    minutes: int
    status: str  # new | established
    status_documented: bool
    start: int
    end: int


# Time that is not the visit's total: billed separately or not E/M time at all.
_OTHER_TIME = re.compile(
    r"\b(sedation|critical care|anesthesia|procedur\w*|smoking|tobacco|cessation|infusion|"
    r"transport|travel|drive|wait\w*|tummy|prolonged)\b",
    re.I,
)


def _sentence_around(text: str, start: int, end: int) -> str:
    left = max(text.rfind(".", 0, start), text.rfind("\n", 0, start)) + 1
    stops = [i for i in (text.find(".", end), text.find("\n", end)) if i >= 0]
    return text[left : min(stops) if stops else len(text)]


def documented_minutes(text: str) -> tuple[int, int, int] | None:
    """The visit's total time: (minutes, start, end). A statement that says "total" wins over one that
    does not; time for sedation, critical care, procedures or separately billed counseling is not
    the visit's time and is skipped."""
    found = []
    for _priority, pattern in enumerate(_TIME_PATTERNS):
        for m in pattern.finditer(text):
            if _OTHER_TIME.search(_sentence_around(text, m.start(), m.end())):
                continue
            says_total = "total" in m.group(0).lower()
            found.append((0 if says_total else 1, m.start(), m.end(), int(m.group(1))))
    if not found:
        return None
    _, start, end, minutes = min(found)
    return minutes, start, end


def patient_status(text: str, given: str | None = None) -> tuple[str, bool]:
    """'new' or 'established', and whether the note (or the encounter) says so."""
    if given in {"new", "established"}:
        return given, True
    if _NOT_NEW.search(text):
        return "established", True
    new, est = _NEW.search(text), _ESTABLISHED.search(text)
    if new and (est is None or new.start() < est.start()):
        return "new", True
    if est:
        return "established", True
    return "established", False


def em_level_from_time(text: str, given_status: str | None = None) -> EMLevel | None:
    """The office visit code supported by documented total time, or None when no time is documented
    or the time is below the lowest threshold (99211 has no time and is never chosen by time)."""
    found = documented_minutes(text)
    if found is None:
        return None
    minutes, start, end = found
    status, documented = patient_status(text, given_status)
    table = NEW_PATIENT if status == "new" else ESTABLISHED
    for threshold, code in table:
        if minutes >= threshold:
            return EMLevel(code, minutes, status, documented, start, end)
    return None


# Preventive medicine visits by age band (years): new patient, established patient.
PREVENTIVE = [
    (0, 0, "99381", "99391"),
    (1, 4, "99382", "99392"),
    (5, 11, "99383", "99393"),
    (12, 17, "99384", "99394"),
    (18, 39, "99385", "99395"),
    (40, 64, "99386", "99396"),
    (65, 200, "99387", "99397"),
]


def preventive_visit_code(age: int, status: str) -> str:
    """The preventive medicine visit code for the patient's age and new/established status."""
    for lo, hi, new, established in PREVENTIVE:
        if lo <= age <= hi:
            return new if status == "new" else established
    raise ValueError(f"age must be 0 or more; got {age}")


_BMI = re.compile(r"\bBMI\b[^0-9\n]{0,12}?(\d{2,3}(?:\.\d+)?)", re.I)


def documented_bmi(text: str) -> tuple[float, int, int] | None:
    m = _BMI.search(text)
    if not m:
        return None
    return float(m.group(1)), m.start(), m.end()


def adult_bmi_code(bmi: float) -> str:
    """Z68 code for an adult BMI value (Z68.1 under 20 ... Z68.45 for 70 or more)."""
    if bmi < 20:
        return "Z68.1"
    if bmi < 40:
        return f"Z68.{int(bmi)}"
    for upper, code in ((45, "Z68.41"), (50, "Z68.42"), (60, "Z68.43"), (70, "Z68.44")):
        if bmi < upper:
            return code
    return "Z68.45"
