"""Total time on the date of the encounter, in the wordings clinicians use; never the time of a
separately reported service."""

from __future__ import annotations

import re
from bisect import bisect_left

from chartcoder.models.em._patterns import _CUE_WORDS, _MAX_QUANTITIES, _MAX_STATEMENTS, _WINDOW, Span
from chartcoder.models.em.results import TimeStatement

# --------------------------------------------------------------------------------------------------
# Time
_QTY = re.compile(
    r"(?:"
    r"(?P<h>\d(?<![\w.]\d)\d?)[ \t]?(?:hours?|hrs?)\b(?:,?[ \t](?:and[ \t])?(?P<hm>\d{1,2})[ \t]?(?:minutes?|mins?)\b)?"
    r"|(?P<m>\d(?<![\w.]\d)\d{0,2})(?:[ \t]?(?:-|–|to)[ \t]?\d{1,3})?(?:[ \t]{1,2}|-)?(?:minutes?|mins?|min)\b(?!\s?/)"
    r")",
    re.I,
)
_MORE_THAN = re.compile(r"(?:more than|greater than|longer than|in excess of|over|exceeding|>)[ \t]?$", re.I)
_LESS_THAN = re.compile(r"(?:less than|fewer than|under|<)[ \t]?$", re.I)
# Words saying the minutes are time spent on the visit; \x00 stands for the quantity itself.
_QTY_MARK = "\x00"
_TIME_CUE = re.compile(
    r"\b(?:spent|spending|time|face[- ]to[- ]face)\b|\btotal[ \t]of[ \t]*\x00|\x00[ \t]*(?:in[ \t])?total\b|"
    r"\btotaling\b",
    re.I,
)
# Hours are read only with words that leave no doubt ("a total time of 1 hour 10 minutes").
_STRONG_TIME_CUE = re.compile(r"\b(?:spent|total[ \t](?:\w+[ \t]){0,3}?time|time[ \t]spent)\b", re.I)
_VISIT_AFTER = re.compile(r"[ \t-]{0,2}(?:office[ \t])?(?:visit|encounter|appointment)\b", re.I)
_VISIT_LENGTH = re.compile(r"\b(?:visit|encounter|appointment)[ \t](?:lasted|duration|length|time)\b", re.I)
# Time that is not the visit's: separately reported services, or not time with the patient at all.
_OTHER_TIME = re.compile(
    r"\b(?:sedation|sedated|critical[- ]care|anesthe\w*|procedur\w*|surger\w*|surgical|operat\w*|intra-?op\w*|"
    r"tourniquet|ischemi\w*|bypass|cross[- ]clamp|fluoro\w*|infusion|transfusion|inject\w*|repair\w*|biops\w*|"
    r"excision|laceration|sutur\w*|debride\w*|incision|drainage|cryo\w*|intubat\w*|resuscitat\w*|cpr|prolonged|"
    r"smoking|tobacco|cessation|transport\w*|travel\w*|driv\w*|wait\w*|tummy|door|needle|balloon|onset|arrival|"
    r"labor|apgar|recovery|observed|monitored|psychotherapy|skin[- ]to[- ]skin|ventilat\w*|dialysis)\b",
    re.I,
)
# "excluding the separately reported injection": what follows does not describe the counted minutes.
_EXCLUSION = re.compile(
    r"\b(?:excluding|excludes|exclusive of|not including|does not include|do not include|did not include|"
    r"apart from|separate from|separately from|not counting|in addition to|beyond)\b|\bexcl\.",
    re.I,
)
# "..., procedure time billed separately": a clause about time counted elsewhere.
_EXCLUDED_AFTER = re.compile(
    r"\b(?:excluded|not[ \t]included|not[ \t]counted|(?:billed|reported|documented)[ \t]separately|"
    r"separately[ \t](?:billed|reported|documented))\b",
    re.I,
)
_CLAUSE_BREAK = re.compile(r"[,;()\[\]]|\bof which\b", re.I)
_SENTENCE_BREAKS = ("\n", ". ", ".,", "; ", "? ", "! ", ".\t")


def _sentence_bounds(text: str, start: int, end: int) -> Span:
    """The sentence around [start, end), looking at most _WINDOW characters either way."""
    lo = max(0, start - _WINDOW)
    left = lo
    for b in _SENTENCE_BREAKS:
        i = text.rfind(b, lo, start)
        if i >= 0:
            left = max(left, i + len(b))
    hi = min(len(text), end + _WINDOW)
    stops = [i for i in (text.find(b, end, hi) for b in _SENTENCE_BREAKS) if i >= 0]
    right = min(stops) + 1 if stops else hi
    return left, right


def _time_context(sentence: str, qstart: int, qend: int, others: list[Span]) -> str:
    """The words that describe the quantity at [qstart, qend) of the sentence: its own clause cut at an
    exclusion ("excluding ..."), plus the sentence's other clauses that hold no other quantity and do not
    open with an exclusion."""
    cuts = [0] + [m.end() for m in _CLAUSE_BREAK.finditer(sentence)] + [len(sentence) + 1]
    parts: list[str] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        clause = sentence[a : max(a, b - 1)]
        if a <= qstart < b:
            own_left, own_right = sentence[a:qstart], sentence[qend : max(qend, b - 1)]
            ex = _EXCLUSION.search(own_right)
            if ex:
                own_right = own_right[: ex.start()]
            ex_left = _EXCLUSION.search(own_left)
            if ex_left:
                own_left = own_left[: ex_left.start()]
            parts.append(f"{own_left} {_QTY_MARK} {own_right}")
            continue
        if any(a <= o < b for o, _ in others):
            continue  # a clause about other minutes ("of which 10 minutes were ...")
        if _EXCLUSION.search(clause) or _EXCLUDED_AFTER.search(clause):
            continue  # "(excluding the separately reported injection)", "procedure time billed separately"
        parts.append(clause)
    return " | ".join(parts)


def time_statements(text: str) -> list[TimeStatement]:
    """Every statement of time spent on the visit, in note order. Work is bounded per quantity (a window
    of the text around it) and in the number of quantities, so any note is read in linear time."""
    found: list[TimeStatement] = []
    quantities = []
    for n, m in enumerate(_QTY.finditer(text)):
        if n >= _MAX_QUANTITIES:
            break
        quantities.append(m)
    spans = [(m.start(), m.end()) for m in quantities]
    starts = [a for a, _ in spans]
    read = 0
    for m in quantities:
        left, right = _sentence_bounds(text, m.start(), m.end())
        window = text[left:right].lower()
        if not any(w in window for w in _CUE_WORDS):
            continue  # no word that could make these minutes the visit's
        read += 1
        if read > _MAX_STATEMENTS:
            break
        hours = m.group("m") is None
        if hours:
            if not 1 <= int(m.group("h")) <= 4:
                continue  # "in 24 hours" is not a visit
            minutes = int(m.group("h")) * 60 + int(m.group("hm") or 0)
        else:
            minutes = int(m.group("m"))
        sentence = text[left:right]
        qs, qe = m.start() - left, m.end() - left
        lo, hi = bisect_left(starts, left), bisect_left(starts, right)
        others = [(a - left, b - left) for a, b in spans[lo:hi] if a != m.start()]
        context = _time_context(sentence, qs, qe, others)
        if _OTHER_TIME.search(context):
            continue
        if hours:
            cue = _STRONG_TIME_CUE.search(context)
        else:
            cue = _TIME_CUE.search(context) or _VISIT_AFTER.match(text, m.end()) or _VISIT_LENGTH.search(context)
        if not cue:
            continue
        before = text[max(left, m.start() - 20) : m.start()]
        found.append(
            TimeStatement(
                minutes,
                m.start(),
                m.end(),
                more_than=bool(_MORE_THAN.search(before)),
                less_than=bool(_LESS_THAN.search(before)),
            )
        )
    return found


def visit_time(text: str) -> tuple[TimeStatement, Span] | None:
    """The visit's total time and the span of the sentence that states it. A statement that says "total"
    wins over one that does not (counseling minutes are part of the total), then the first."""
    best: tuple[int, int, TimeStatement, Span] | None = None
    for st in time_statements(text):
        left, right = _sentence_bounds(text, st.start, st.end)
        says_total = re.search(r"\btotal\b", text[left:right], re.I) is not None
        key = (0 if says_total else 1, st.start)
        if best is None or key < best[:2]:
            best = (key[0], key[1], st, _trim(text, left, right))
    if best is None:
        return None
    return best[2], best[3]


def documented_minutes(text: str) -> tuple[int, int, int] | None:
    """The visit's total time: (minutes, start, end) of the quantity, or None."""
    found = visit_time(text)
    if found is None:
        return None
    st, _ = found
    return st.at_least, st.start, st.end


def _trim(text: str, start: int, end: int) -> Span:
    """[start, end) without surrounding whitespace and punctuation (evidence spans read cleanly)."""
    while start < end and text[start] in " \t\r\n,.;:":
        start += 1
    while end > start and text[end - 1] in " \t\r\n,.;:":
        end -= 1
    return start, end
