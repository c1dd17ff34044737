"""New or established patient, and the office level by time."""

from __future__ import annotations

import re

from chartcoder.models.em._patterns import _Gated
from chartcoder.models.em.results import EMLevel
from chartcoder.models.em.tables import ESTABLISHED, NEW_PATIENT
from chartcoder.models.em.time import visit_time

# --------------------------------------------------------------------------------------------------
# New or established patient
_NEW = _Gated(
    re.compile(
        r"\bnew[ \t](?:patient|pt)\b|\bestablish(?:ing|es)?[ \t](?:care|with)\b|\bnew[ \t]to[ \t](?:the[ \t]|our[ \t]|"
        r"this[ \t])?"
        r"(?:clinic|practice|office|facility|center)\b|\bfirst[ \t](?:visit|time)[ \t](?:to|with|at|in)[ \t](?:this|"
        r"our|the)[ \t]"
        r"(?:clinic|office|practice)\b",
        re.I,
    ),
    "new",
    "establish",
    "first",
)
_ESTABLISHED = _Gated(
    re.compile(
        r"\bestablished[ \t](?:patient|pt)\b|\breturn(?:ing)?[ \t](?:patient|visit)\b|\bfollow[- ]?up[ \t]visit\b|"
        r"\b(?:here|presents|returns|seen|comes[ \t]in)[ \t](?:today[ \t])?for[ \t](?:a[ \t]|her[ \t]|his[ \t]|"
        r"their[ \t])?"
        r"(?:follow[- ]?up|recheck|re-check)\b|\blast[ \t]seen[ \t](?:by[ \t]me|here|in[ \t](?:the[ \t])?clinic|on)\b|"
        r"\b(?:previously[ \t]seen|seen[ \t]previously)\b|\breturns[ \t](?:to[ \t](?:the[ \t])?clinic|today)\b",
        re.I,
    ),
    "establish",
    "return",
    "follow",
    "recheck",
    "re-check",
    "last",
    "previous",
)
_NOT_NEW = _Gated(
    re.compile(r"\bnot[ \t]a[ \t]new[ \t]patient\b", re.I),
    "new",
)


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
    found = visit_time(text)
    if found is None:
        return None
    st, _ = found
    status, documented = patient_status(text, given_status)
    code = _by_time(NEW_PATIENT if status == "new" else ESTABLISHED, st.at_least)
    if code is None:
        return None
    return EMLevel(code, st.at_least, status, documented, st.start, st.end)


def _by_time(table: list[tuple[int, str]], minutes: int) -> str | None:
    for threshold, code in table:
        if minutes >= threshold:
            return code
    return None
