"""E/M levels: office/outpatient (AMA 2021), emergency department and hospital inpatient/observation care
(CPT 2023), by documented total time or by medical decision making (MDM).

What is read from the note, and the rule each step follows:

- the document: operative/procedure reports, radiology and pathology reports and consultations get no E/M;
  emergency department notes get ED levels (99281-99285, by MDM only); admission H&Ps, progress notes and
  discharge summaries get the hospital families (initial 99221-99223, subsequent 99231-99233, discharge day
  99238/99239); everything else outside the hospital is an office visit (99202-99215).
- total time on the date of the encounter, in the wordings clinicians use, never the time of a procedure,
  sedation, critical care, prolonged service or other separately reported service;
- MDM by the three AMA elements (problems addressed; data reviewed and analyzed; risk of patient
  management); the level is the one two of the three meet or exceed.

Every regular expression here is bounded (no nested unbounded repetition), so a hostile note of any shape
is read in time linear in its length.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from chartcoder.codes.em_tables import mdm_codes, time_thresholds

Span = tuple[int, int]


def _rx(pattern: str, flags: int = re.I) -> re.Pattern[str]:
    return re.compile(pattern, flags)


@lru_cache(maxsize=8)
def _lower(text: str) -> str:
    return text.lower()


@lru_cache(maxsize=8)
def _ascii(text: str) -> bool:
    return text.isascii()


def _top_branches(pattern: str) -> list[str] | None:
    """The top-level alternatives of a pattern, as source text ("a|(b|c)|d" -> ["a", "(b|c)", "d"]);
    None for a pattern whose source this reading does not follow (global inline flags)."""
    if pattern.startswith("(?") and re.match(r"\(\?[a-zA-Z]+\)", pattern):
        return None
    out, depth, start, i = [], 0, 0, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":  # a class: "]" first (or after "^") is a member, escapes are skipped
            j = i + 1
            if j < len(pattern) and pattern[j] == "^":
                j += 1
            if j < len(pattern) and pattern[j] == "]":
                j += 1
            while j < len(pattern) and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            out.append(pattern[start:i])
            start = i + 1
        i += 1
    out.append(pattern[start:])
    return out


def _needed(items: list[tuple[object, object]]) -> frozenset[str] | None:
    """Lower-case strings of which any match of the parsed sequence holds at least one (the longest
    such run of literal characters, or a choice of runs across the branches of a group); None when
    the sequence has none of two or more characters."""
    from re import _constants as sre  # type: ignore[attr-defined]

    candidates: list[frozenset[str]] = []
    run = ""
    for op, av in items:
        if op is sre.LITERAL:
            run += chr(av).lower()  # type: ignore[arg-type]
            continue
        if run:
            candidates.append(frozenset({run}))
            run = ""
        sub: frozenset[str] | None = None
        if op is sre.SUBPATTERN:
            sub = _needed(list(av[-1]))  # type: ignore[index]
        elif op is sre.BRANCH:
            parts = [_needed(list(b)) for b in av[1]]  # type: ignore[index]
            sub = None if any(p is None for p in parts) else frozenset().union(*parts)  # type: ignore[arg-type]
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, getattr(sre, "POSSESSIVE_REPEAT", None)):
            repeat: tuple[int, int, list[tuple[object, object]]] = av  # type: ignore[assignment]
            sub = _needed(list(repeat[2])) if repeat[0] >= 1 else None
        if sub:
            candidates.append(sub)
    if run:
        candidates.append(frozenset({run}))
    candidates = [c for c in candidates if min(map(len, c)) >= 2]
    return max(candidates, key=lambda c: (min(map(len, c)), -len(c))) if candidates else None


class _Gated:
    """A whole-note pattern searched only when the note holds one of the words it cannot match without
    (a substring test in C first): a note of blanks, digits or punctuation costs almost nothing.

    Each top-level alternative of the pattern has its own such words too (the longest run of literal
    characters it cannot match without, or one per branch of a group), read from the pattern itself:
    an ASCII note is searched with only the alternatives whose words it holds. An alternative whose
    words are absent matches nowhere, so the matches are the same, and a note pays for the few
    alternatives it could match rather than for every one at every position (each costs about as
    much as a plain scan of the note). A note with other characters gets the whole pattern (case
    folding beyond ASCII can match what lower-casing does not show)."""

    def __init__(self, rx: re.Pattern[str], *words: str) -> None:
        self.rx, self.words = rx, words
        self._branches: list[tuple[str, frozenset[str] | None]] = []
        self._subsets: dict[tuple[int, ...], re.Pattern[str]] = {}
        branches = _top_branches(rx.pattern) if not rx.flags & re.X else None
        if branches and len(branches) > 1:
            from re import _parser as sre_parse  # type: ignore[attr-defined]

            try:
                needs = [_needed(list(sre_parse.parse(b, rx.flags).data)) for b in branches]
            except (re.error, ValueError, TypeError):
                needs = []
            if any(n is not None for n in needs):
                self._branches = list(zip(branches, needs, strict=True))

    def _pattern(self, text: str) -> re.Pattern[str] | None:
        low = _lower(text)
        if not any(w in low for w in self.words):
            return None
        if not self._branches or not _ascii(text):
            return self.rx
        key = tuple(i for i, (_, need) in enumerate(self._branches) if need is None or any(w in low for w in need))
        if not key:
            return None
        if len(key) == len(self._branches):
            return self.rx
        hit = self._subsets.get(key)
        if hit is None:
            hit = re.compile("|".join(self._branches[i][0] for i in key), self.rx.flags)
            if len(self._subsets) < 256:
                self._subsets[key] = hit
        return hit

    def search(self, text: str) -> re.Match[str] | None:
        rx = self._pattern(text)
        return rx.search(text) if rx is not None else None

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        rx = self._pattern(text)
        return rx.finditer(text) if rx is not None else iter(())

    def findall(self, text: str) -> list[str]:
        rx = self._pattern(text)
        return rx.findall(text) if rx is not None else []


# --------------------------------------------------------------------------------------------------
# Code tables
# Minimum total minutes on the date of the encounter ("met or exceeded").
# Office visits come from the one table in chartcoder.codes.em_tables.
NEW_PATIENT = time_thresholds("new")
ESTABLISHED = time_thresholds("established")
HOSPITAL_INITIAL_TIME = [(75, "99223"), (55, "99222"), (40, "99221")]
HOSPITAL_SUBSEQUENT_TIME = [(50, "99233"), (35, "99232"), (25, "99231")]
# Code by MDM level: 0 straightforward, 1 low, 2 moderate, 3 high.
OFFICE_NEW_MDM = mdm_codes("new")
OFFICE_ESTABLISHED_MDM = mdm_codes("established")
ED_MDM = ("99282", "99283", "99284", "99285")  # 99281 needs no physician: never chosen by MDM
HOSPITAL_INITIAL_MDM = ("99221", "99221", "99222", "99223")  # straightforward or low -> 99221
HOSPITAL_SUBSEQUENT_MDM = ("99231", "99231", "99232", "99233")
DISCHARGE_SHORT, DISCHARGE_LONG = "99238", "99239"  # 30 minutes or less / more than 30 minutes

MDM_NAMES = ("straightforward", "low", "moderate", "high")
PROBLEM_NAMES = ("minimal", "low", "moderate", "high")
DATA_NAMES = ("minimal or none", "limited", "moderate", "extensive")
RISK_NAMES = ("minimal", "low", "moderate", "high")

# Families: office | ed | hospital_initial | hospital_subsequent | hospital_discharge
FAMILY_LABELS = {
    "office": "office/outpatient visit",
    "ed": "emergency department visit",
    "hospital_initial": "initial hospital inpatient/observation care",
    "hospital_subsequent": "subsequent hospital inpatient/observation care",
    "hospital_discharge": "hospital discharge day management",
}
# doc_type values a caller may pass, and the document kind each means.
DOC_TYPES = {
    "ed_note": "ed",
    "history_physical": "admission",
    "progress_note": "progress",
    "discharge_summary": "discharge",
    "office_note": "office",
    "clinic_letter": "office",
    "operative_report": "operative",
    "procedure_report": "operative",
    "radiology_report": "report",
    "pathology_report": "report",
    "consult": "consult",
}

# Modifier 25 goes on an E/M reported with a procedure (a service with a global period or paired with E/M in
# the NCCI edits). Other E/M and 99xxx services, tests (labs, imaging, ECG, screening instruments, spirometry,
# pulse oximetry) and vaccine products are not procedures for this purpose.
NOT_PROCEDURE_CATEGORIES = frozenset(
    {
        "E/M office",
        "E/M hospital",
        "E/M emergency",
        "Preventive",
        "Prolonged",
        "Counseling",
        "Laboratory",
        "Imaging",
        "Cardiology",
        "Screening",
        "Vaccine product",
    }
)
NOT_PROCEDURE_CODES = frozenset({"94010", "94060", "94760", "94761"})


def is_procedure(code: str, category: str | None) -> bool:
    """True for a CPT code beside which a same-day E/M needs modifier 25."""
    return not code.startswith("99") and code not in NOT_PROCEDURE_CODES and category not in NOT_PROCEDURE_CATEGORIES


_MAX_QUANTITIES = 2000  # minute quantities looked at per note (a real note has a handful)
_MAX_STATEMENTS = 200  # of those, quantities with time words around them that are read in full
_MAX_ITEMS = 400  # assessment/plan lines and numbered entries read for problems (a real note has dozens)
# Problem words read per item: each is checked against its item, so the cost grows with their product. Real
# items name at most 8 (2,500 MTSamples notes); a line naming thousands ("sepsis sepsis ...") read them all
# in 25 s at 80k characters.
_MAX_ITEM_MENTIONS = 30
_WINDOW = 240  # characters either side of a quantity that can hold its sentence
_CUE_WORDS = ("time", "spent", "spend", "total", "face", "visit", "encounter", "appointment")


class _Intervals:
    """Disjoint or overlapping [start, end) spans with an overlap test by bisection, not a scan: a note
    with thousands of matches stays linear."""

    def __init__(self, spans: Iterator[Span] | Sequence[Span] = ()) -> None:
        merged: list[list[int]] = []
        for a, b in sorted(spans):
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        self.starts = [a for a, _ in merged]
        self.ends = [b for _, b in merged]

    def overlaps(self, start: int, end: int) -> bool:
        i = bisect_left(self.starts, end) - 1  # the last span starting before `end`
        return i >= 0 and self.ends[i] > start

    def add(self, start: int, end: int) -> None:
        """Add a span that overlaps none already held (the caller tested it)."""
        i = bisect_left(self.starts, start)
        self.starts.insert(i, start)
        self.ends.insert(i, end)


# --------------------------------------------------------------------------------------------------
# Results
@dataclass(frozen=True)
class EMLevel:
    """An office visit level chosen by time (kept for callers of em_level_from_time)."""

    code: str
    minutes: int
    status: str  # new | established
    status_documented: bool
    start: int
    end: int


@dataclass(frozen=True)
class TimeStatement:
    minutes: int  # as written (the lower bound of a range)
    start: int
    end: int
    more_than: bool = False  # "more than 30 minutes", "> 30 min"
    less_than: bool = False  # "less than 30 minutes"

    @property
    def at_least(self) -> int:
        """Minutes the statement guarantees were spent ("less than 15" guarantees 14 at most)."""
        return self.minutes - 1 if self.less_than else self.minutes


@dataclass(frozen=True)
class Element:
    """One MDM element: its level (0-3), why, and where the note says so."""

    level: int
    reason: str
    spans: tuple[Span, ...] = ()


@dataclass(frozen=True)
class MDM:
    problems: Element
    data: Element
    risk: Element

    @property
    def level(self) -> int:
        """The level two of the three elements meet or exceed (the middle one)."""
        return sorted((self.problems.level, self.data.level, self.risk.level))[1]

    @property
    def name(self) -> str:
        return MDM_NAMES[self.level]

    def explain(self) -> str:
        def part(label: str, names: tuple[str, ...], e: Element) -> str:
            return f"{label} {names[e.level]}" + (f" ({e.reason})" if e.reason else "")

        return ", ".join(
            (
                part("problems", PROBLEM_NAMES, self.problems),
                part("data", DATA_NAMES, self.data),
                part("risk", RISK_NAMES, self.risk),
            )
        )

    @property
    def spans(self) -> tuple[Span, ...]:
        return self.problems.spans + self.data.spans + self.risk.spans


@dataclass(frozen=True)
class EMSuggestion:
    """The E/M code the documentation supports best, with the reasoning as warnings and spans."""

    code: str
    family: str
    basis: str  # time | mdm | discharge
    status: str | None  # new | established (office only)
    status_documented: bool
    minutes: int | None
    mdm: MDM | None
    spans: tuple[Span, ...]
    warnings: tuple[str, ...] = field(default=())


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


# --------------------------------------------------------------------------------------------------
# The kind of document
_OPERATIVE_STRONG = _Gated(
    _rx(
        r"\b(?:pre-?[ \t]?op(?:erative)?|post-?[ \t]?op(?:erative)?|pre-?procedure|post-?procedure|operative)[ \t]"
        r"diagnos[ie]s[ \t]{0,2}[:,]|\boperative[ \t](?:report|note)\b|\b(?:name|title)[ \t]of[ \t](?:the[ \t])?"
        r"(?:operation|procedure)s?\b|\A\s{0,20}(?:procedure|operative|operation)[ \t](?:note|report)\b"
    ),
    "diagnos",
    "operati",
    "procedure",
)
_OPERATIVE_MARKERS = _Gated(
    _rx(
        r"\b(?:procedures?[ \t]performed|operations?[ \t]performed|description[ \t]of[ \t](?:the[ \t])?"
        r"(?:procedure|operation)|procedure[ \t]in[ \t]detail|details[ \t]of[ \t](?:the[ \t])?(?:procedure|operation)|"
        r"estimated[ \t]blood[ \t]loss|tourniquet[ \t]time|anesthesia|anesthetic|specimens?|drains?|"
        r"indications?[ \t]for[ \t](?:the[ \t])?(?:operation|procedure|surgery)|procedure|operation)[ \t]{0,2}:"
    ),
    "procedure",
    "operation",
    "blood",
    "tourniquet",
    "anesthe",
    "specimen",
    "drain",
    "indication",
)
_REPORT_MARKERS = _Gated(
    _rx(
        r"\b(?:technique|comparisons?|reason[ \t]for[ \t]exam|gross(?:[ \t]description)?|"
        r"microscopic(?:[ \t]description)?|"
        r"specimens?(?:[ \t](?:submitted|received))?|doppler|conclusions?)[ \t]{0,2}:|"
        r"\b(?:radiology|pathology|imaging|ultrasound|echocardiogram)[ \t]report\b"
    ),
    "technique",
    "comparison",
    "exam",
    "gross",
    "microscopic",
    "specimen",
    "doppler",
    "conclusion",
    "report",
)
# A report has no history of its own: `_VISIT_HEADERS` (above) say a clinician took one (an exam
# heading alone does not).
_CONSULT = _Gated(
    _rx(
        r"\breason[ \t]for[ \t](?:the[ \t])?consult(?:ation)?\b|^[ \t]*consult(?:ation)?(?:[ \t]note)?[ \t]*:?[ \t]*$",
        re.I | re.M,
    ),
    "consult",
)
_DISCHARGE_TITLE = _Gated(
    _rx(r"(?:\A\s{0,20}|^[ \t]*)discharge[ \t]summary\b", re.I | re.M),
    "discharge",
)
_HOSPITAL_COURSE = _Gated(
    _rx(r"\b(?:brief[ \t])?hospital[ \t]course[ \t]{0,2}[:,]"),
    "course",
)
_DISCHARGE_MARKERS = _Gated(
    _rx(
        r"\b(?:discharge[ \t]diagnos[ie]s|date[ \t]of[ \t]discharge|discharge[ \t]date|discharge[ \t]medications|"
        r"discharge[ \t]condition|condition[ \t](?:on|at)[ \t]discharge|discharge[ \t]disposition|"
        r"discharge[ \t]instructions)\b"
    ),
    "discharg",
)
_HP_TITLE = _Gated(
    _rx(
        r"(?:\A\s{0,20}|^[ \t]*)(?:admission[ \t])?(?:history[ \t]and[ \t]physical|"
        r"h[ \t]?&[ \t]?p)(?:[ \t](?:exam(?:ination)?|note))?"
        r"[ \t]*(?::|$|\.)|\badmission[ \t](?:note|h[ \t]?&[ \t]?p|history)\b",
        re.I | re.M,
    ),
    "history",
    "&",
    "admission",
)
_ADMIT_CUE = _Gated(
    _rx(
        r"\b(?:will[ \t]admit|admit(?:ting)?[ \t](?:to|for|under)|admitted[ \t]to[ \t](?:the[ \t])?(?:hospital|"
        r"medicine|"
        r"floor|telemetry|icu|observation|hospitalist|surgery|service)|admitting[ \t]diagnos[ie]s|"
        r"reason[ \t]for[ \t]admission|"
        r"admission[ \t]diagnos[ie]s|being[ \t]admitted|placed[ \t](?:in|on)[ \t]observation)\b"
    ),
    "admit",
    "admission",
    "observation",
)
_ADMISSION_HEADER = _Gated(
    _rx(r"\b(?:admission|admitting)[ \t]diagnos[ie]s[ \t]{0,2}[:,]|\breason[ \t]for[ \t]admission\b"),
    "admission",
    "admitting",
)
_PROGRESS_CUE = _Gated(
    _rx(
        r"\b(?:progress[ \t]note|hospital[ \t]day[ \t]#?[ \t]?\d|HD[ \t]?#[ \t]?\d|POD[ \t]?#?[ \t]?\d|"
        r"post-?op(?:erative)?[ \t]day[ \t]"
        r"#?[ \t]?\d|day[ \t]\d{1,2}[ \t]of[ \t](?:admission|hospitalization|stay)|interval[ \t](?:history|events)|"
        r"overnight[ \t]events|events[ \t]overnight|no[ \t]acute[ \t]events[ \t]overnight|24[- ]hour[ \t]events|"
        r"subsequent[ \t]hospital)\b"
    ),
    "progress",
    "day",
    "hd",
    "pod",
    "interval",
    "overnight",
    "24",
    "subsequent",
)
_THERAPY = _Gated(
    _rx(
        r"\b(?:referred[ \t]to[ \t](?:physical|occupational|speech)[ \t]therapy|(?:physical|occupational|"
        r"speech)[ \t]therapy"
        r"[ \t](?:initial[ \t])?(?:evaluation|eval|progress[ \t]note|daily[ \t]note)|plan[ \t]of[ \t]care[ \t]{0,2}:|"
        r"rehab(?:ilitation)?[ \t]potential|short[- ]term[ \t]goals|long[- ]term[ \t]goals|"
        r"home[ \t]exercise[ \t]program|"
        r"therapeutic[ \t]exercise)\b"
    ),
    "therapy",
    "plan of care",
    "rehab",
    "goals",
    "exercise",
)
_ED_STRONG = _Gated(
    _rx(
        r"\b(?:ed|er|emergency[ \t]department|emergency[ \t]room)[ \t]course\b|"
        r"\bemergency[ \t](?:department|room)[ \t](?:note|record|visit|provider[ \t]note|physician[ \t]note|report|"
        r"encounter)\b|"
        r"\b(?:ed|er)[ \t](?:provider|physician)[ \t]note\b|^[ \t]*(?:pediatric[ \t])?(?:ED|ER)[ \t](?:note|visit|"
        r"provider|physician|"
        r"record)\b|\btriage(?:[ \t](?:vitals|note|nurse|assessment|level)|[ \t]{0,2}:)|"
        r"\bat[ \t]triage\b|\b(?:mode[ \t]of[ \t]arrival|arrived[ \t](?:by|via)[ \t](?:ambulance|ems)|"
        r"brought[ \t]in[ \t]by[ \t]"
        r"(?:ems|ambulance|paramedics)|BIBA|BIBEMS)\b|^[ \t]*(?:emergency[ \t](?:department|room)|"
        r"ED[ \t]note)[ \t]*:?[ \t]*$",
        re.I | re.M,
    ),
    "course",
    "emergency",
    "note",
    "ed",
    "er",
    "triage",
    "arriv",
    "brought",
    "biba",
)
# "ED"/"ER" in capitals only ("er" and "ed" are fillers and word endings); the words in any case.
_EDW = r"(?:ED|ER|(?i:emergency[ \t](?:department|room)))"
_ED_WEAK = _Gated(
    re.compile(
        rf"\b(?i:presents|presenting|comes|is[ \t]seen|seen[ \t]today)[ \t](?i:today[ \t])?(?i:to|"
        rf"in)[ \t](?i:the[ \t])?{_EDW}\b|"
        rf"\b(?i:here|today)[ \t](?i:in)[ \t](?i:the)[ \t]{_EDW}\b|\b(?i:in)[ \t](?i:the)[ \t]{_EDW}(?:[ \t](?i:today)|"
        rf",)|"
        r"\b(?i:emergency[ \t]department[ \t](?:gurney|stretcher|bed))\b"
    ),
    "ed",
    "er",
    "emergency",
)


def document_kind(text: str, doc_type: str | None = None, setting: str | None = None) -> str:
    """operative | report | consult | discharge | admission | progress | ed | office | unknown.

    `doc_type` (ed_note, history_physical, progress_note, discharge_summary, ...) wins when given. Without
    it the words decide; an inpatient note that is none of discharge summary, progress note, admission H&P
    or ED note is 'unknown' (no office rules in the hospital)."""
    inpatient = setting == "inpatient"
    if doc_type and doc_type in DOC_TYPES:
        kind = DOC_TYPES[doc_type]
        if kind == "progress" and not inpatient:
            return "office"  # an office progress note is an office visit
        if kind == "admission" and not inpatient and not _ADMIT_CUE.search(text):
            return "unknown"  # an H&P before elective surgery or a clinic H&P: not initial hospital care
        return kind
    heads = {s.name for s in sections(text)}
    has_ap = bool(heads & _AP_HEADERS)
    has_history = bool(heads & _VISIT_HEADERS)
    if _OPERATIVE_STRONG.search(text):
        return "operative"
    if len({m.group(0).lower() for m in _OPERATIVE_MARKERS.finditer(text)}) >= 2 and not has_ap:
        return "operative"
    if _REPORT_MARKERS.search(text) and not has_history:
        return "report"
    if _DISCHARGE_TITLE.search(text) or (_HOSPITAL_COURSE.search(text) and _DISCHARGE_MARKERS.search(text)):
        return "discharge"
    if _CONSULT.search(text):
        return "consult"
    if len({m.group(0).lower() for m in _THERAPY.finditer(text)}) >= 2:
        return "therapy"  # a therapist's evaluation or visit, not a physician E/M
    hp_title = bool(_HP_TITLE.search(text))
    ed = bool(_ED_STRONG.search(text)) or len(_ED_WEAK.findall(text)) >= 2
    if inpatient:
        if _PROGRESS_CUE.search(text):
            return "progress"
        if hp_title:
            return "admission"
        if _ED_STRONG.search(text):
            return "ed"
        if _ADMIT_CUE.search(text) and has_history:
            return "admission"
        return "unknown"
    if hp_title and _ADMIT_CUE.search(text):
        return "admission"
    if ed:
        return "ed"
    if _ADMISSION_HEADER.search(text):
        return "unknown"  # a hospital document the encounter does not place in the hospital
    return "office"


# --------------------------------------------------------------------------------------------------
# MDM element 1: number and complexity of problems addressed
def _words(*alternatives: str) -> str:
    return "|".join(alternatives)


_BODY_PARTS = (
    r"chest|abdominal|abdomen|back|low[ \t]back|lower[ \t]back|neck|knee|shoulder|hip|ankle|foot|feet|toe|wrist|hand|"
    r"finger|thumb|elbow|ear|throat|joint|flank|pelvic|testicular|scrotal|epigastric|musculoskeletal|leg|arm|eye|"
    r"dental|tooth|rib|heel|calf|thigh|groin|penile|rectal|breast|jaw|facial|head|buttock|sacroiliac|lumbar|"
    r"cervical|thoracic"
)
_PART = rf"(?:(?:left|right|bilateral)[ \t])?(?:{_BODY_PARTS})"
_PROBLEM_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "threat",
        _rx(
            r"\b(?:"
            + _words(
                r"sep(?:sis|tic)(?:[ \t]shock)?",
                r"(?:acute[ \t])?myocardial[ \t]infarction",
                r"heart[ \t]attack",
                r"n?stemi",
                r"acute[ \t]coronary[ \t]syndrome",
                r"unstable[ \t]angina",
                r"stroke",
                r"cerebrovascular[ \t]accident",
                r"pulmonary[ \t]embol\w*",
                r"aortic[ \t]dissection",
                r"(?:acute[ \t])?respiratory[ \t]failure",
                r"(?:diabetic[ \t])?ketoacidosis",
                r"(?:upper[ \t]|lower[ \t])?(?:gi|gastrointestinal)[ \t](?:bleed\w*|hemorrhage)",
                r"intracranial[ \t](?:hemorrhage|bleed)",
                r"subarachnoid[ \t]hemorrhage",
                r"subdural[ \t]hematoma",
                r"epidural[ \t]hematoma",
                r"status[ \t]epilepticus",
                r"status[ \t]asthmaticus",
                r"anaphyla\w+",
                r"cardiac[ \t]arrest",
                r"(?:cardiogenic|hypovolemic|septic)[ \t]shock",
                r"bowel[ \t]obstruction",
                r"perforat\w+",
                r"ectopic[ \t]pregnancy",
                r"(?:testicular|ovarian)[ \t]torsion",
                r"suicidal[ \t]ideation",
                r"suicide[ \t]attempt",
                r"overdose",
                r"meningitis",
                r"encephalitis",
                r"necrotizing[ \t]fasciitis",
                r"appendicitis",
                r"hypertensive[ \t](?:emergency|crisis)",
                r"(?:tension[ \t])?pneumothorax",
                r"cauda[ \t]equina(?:[ \t]syndrome)?",
                r"compartment[ \t]syndrome",
                r"acute[ \t]abdomen",
                r"pulmonary[ \t]edema",
                r"respiratory[ \t]depression",
                r"poisoning",
                r"toxic[ \t]ingestion",
                r"(?:potentially[ \t])?life[- ]threatening[ \t]\w+",
            )
            + r")\b"
        ),
    ),
    ("threat", _rx(r"\b(?:MI|STEMI|NSTEMI|ACS|CVA|DKA|SAH|SDH|ICH|GIB|UGIB|LGIB|SBO)\b", 0)),
    (
        "complicated_injury",
        _rx(
            r"\b(?:fractures?|dislocat\w+|concussion|closed[ \t]head[ \t]injury|(?:tendon|ligament|meniscus|meniscal|"
            r"rotator[ \t]cuff)[ \t](?:tear|rupture))\b"
        ),
    ),
    (
        "undiagnosed",
        _rx(
            r"\b(?:(?:breast|neck|abdominal|testicular|scrotal|pelvic|adnexal|thyroid|lung|pulmonary|renal|liver|"
            r"penile|soft[ \t]tissue)[ \t])?(?:mass|lump|nodules?)\b|\blymphadenopathy\b|\bunexplained[ \t]\w+|"
            r"\b(?:of[ \t])?(?:unclear|unknown|uncertain)[ \t](?:etiology|cause|prognosis)\b|\b(?:suspicious|"
            r"concerning)"
            r"[ \t]for[ \t](?:malignancy|cancer|neoplasm|lymphoma|carcinoma|melanoma)\b|\babnormal[ \t]mammogram\b|"
            r"\belevated[ \t](?:psa|prostate[- ]specific[ \t]antigen)\b"
        ),
    ),
    (
        "worse",  # side effects of treatment (AMA: chronic illness with ... side effects of treatment)
        _rx(
            r"\b(?:(?:(?:adverse|phototoxic|photosensitive)[ \t])?drug[ \t](?:reaction|eruption|rash)|"
            r"adverse[ \t]drug[ \t]"
            r"(?:reaction|event)|side[ \t]effects?[ \t]of[ \t]\w+|adverse[ \t]effects?[ \t]of[ \t]\w+|medication[ \t]"
            r"(?:intolerance|side[ \t]effects?)|drug-induced[ \t]\w+)\b"
        ),
    ),
    (
        "systemic",
        _rx(r"\b(?:pneumonia|pyelonephritis|mastitis|cholecystitis|diverticulitis|peritonsillar[ \t]abscess)\b"),
    ),
    (
        "chronic",
        _rx(
            r"\b(?:"
            + _words(
                r"chronic(?:[ \t-](?!and\b|with\b|or\b|but\b|on\b|in\b|of\b|due\b|stage\b|stable\b)[a-z]+){1,4}",
                r"hypertension",
                r"high[ \t]blood[ \t]pressure",
                r"(?:type[ \t](?:1|2|i|ii|one|two)[ \t])?diabetes(?:[ \t]mellitus)?",
                r"pre-?diabetes",
                r"hyperlipidemia",
                r"dyslipidemia",
                r"hypercholesterolemia",
                r"high[ \t]cholesterol",
                r"hypertriglyceridemia",
                r"hypothyroidism",
                r"hyperthyroidism",
                r"emphysema",
                r"asthma",
                r"renal[ \t]insufficiency",
                r"(?:congestive[ \t])?heart[ \t]failure",
                r"cardiomyopathy",
                r"atrial[ \t](?:fibrillation|flutter)",
                r"afib",
                r"a-fib",
                r"coronary[ \t]artery[ \t]disease",
                r"ischemic[ \t]heart[ \t]disease",
                r"osteoarthritis",
                r"degenerative[ \t](?:joint|disc|disk)[ \t]disease",
                r"rheumatoid[ \t]arthritis",
                r"psoriatic[ \t]arthritis",
                r"lupus",
                r"gout",
                r"osteoporosis",
                r"osteopenia",
                r"(?<!respiratory[ \t])(?<!cns[ \t])(?<!st[ \t])(?<!st-segment[ \t])(?:major[ \t])?"
                r"depress(?:ion|ive[ \t]disorder)",
                r"dysthymia",
                r"(?:generalized[ \t])?anxiety(?:[ \t]disorder)?",
                r"panic[ \t]disorder",
                r"bipolar(?:[ \t]disorder)?",
                r"schizophrenia",
                r"attention[- ]deficit",
                r"post-?traumatic[ \t]stress",
                r"insomnia",
                r"gastroesophageal[ \t]reflux(?:[ \t]disease)?",
                r"acid[ \t]reflux",
                r"irritable[ \t]bowel",
                r"crohn'?s(?:[ \t]disease)?",
                r"ulcerative[ \t]colitis",
                r"migraines?",
                r"epilepsy",
                r"seizure[ \t]disorder",
                r"parkinson'?s(?:[ \t]disease)?",
                r"dementia",
                r"alzheimer'?s(?:[ \t]disease)?",
                r"(?:morbid[ \t])?obesity",
                r"(?:obstructive[ \t])?sleep[ \t]apnea",
                r"benign[ \t]prostatic[ \t]hyperplasia",
                r"enlarged[ \t]prostate",
                r"fibromyalgia",
                r"psoriasis",
                r"eczema",
                r"atopic[ \t]dermatitis",
                r"hepatitis[ \t][bc]",
                r"cirrhosis",
                r"allergic[ \t]rhinitis",
                r"hypogonadism",
                r"polycystic[ \t]ovar\w+",
                r"glaucoma",
                r"peripheral[ \t](?:arterial|artery|vascular)[ \t]disease",
                r"venous[ \t]insufficiency",
                r"(?:peripheral[ \t])?neuropathy",
                r"spinal[ \t]stenosis",
                r"anemia",
                r"acne",
                r"rosacea",
                r"(?:[a-z]+[ \t])?cancer",
                r"[a-z]*carcinoma",
                r"lymphoma",
                r"leukemia",
                r"multiple[ \t]sclerosis",
                r"overactive[ \t]bladder",
                r"urinary[ \t]incontinence",
                r"erectile[ \t]dysfunction",
                r"kidney[ \t]stones?",
                r"nephrolithiasis",
                r"hiv",
            )
            + r")\b"
        ),
    ),
    (
        "chronic",
        _rx(
            r"\b(?:HTN|DM2?|T[12]DM|DMII|NIDDM|IDDM|HLD|COPD|CKD|ESRD|CHF|HFrEF|HFpEF|CAD|ASCVD|GERD|IBS|OSA|BPH|GAD|"
            r"MDD|"
            r"PTSD|ADHD|PAD|PVD|AFib|HIV|HCV|SLE)\b",
            0,
        ),
    ),
    (
        "minor",
        _rx(
            r"\b(?:common[ \t]cold|head[ \t]cold|cold[ \t]symptoms|(?:insect|bug|mosquito|spider)[ \t]bites?|"
            r"bee[ \t]sting|(?:plantar[ \t]|common[ \t])?warts?|verruca\w*|cerumen(?:[ \t]impaction)?|ear[ \t]?wax|"
            r"abrasions?|skin[ \t]tags?|callus(?:es)?|corns?|diaper[ \t](?:rash|dermatitis)|"
            r"tinea[ \t](?:corporis|pedis|cruris))\b"
        ),
    ),
    (
        "acute",
        _rx(
            r"\b(?:"
            + _words(
                r"sprains?",
                r"strains?",
                r"upper[ \t]respiratory[ \t](?:tract[ \t])?infection",
                r"pharyngitis",
                r"strep[ \t]throat",
                r"tonsillitis",
                r"(?:rhino)?sinusitis",
                r"otitis(?:[ \t](?:media|externa))?",
                r"cystitis",
                r"urinary[ \t]tract[ \t]infection",
                r"bronchi(?:tis|olitis)",
                r"conjunctivitis",
                r"gastroenteritis",
                r"gastritis",
                r"cellulitis",
                r"abscess",
                r"lacerations?",
                r"contusions?",
                r"bursitis",
                r"tendin(?:itis|osis)",
                r"tendonitis",
                r"epicondylitis",
                r"cough",
                r"sore[ \t]throat",
                r"rash",
                r"(?:contact[ \t])?dermatitis",
                r"urticaria",
                r"hives",
                rf"{_PART}[ \t]pain",
                rf"pain[ \t]in[ \t](?:the[ \t])?{_PART}",
                rf"{_PART}[ \t]injury",
                r"foreign[ \t]body",
                r"(?:influenza|flu|covid(?:-19)?)(?![ \t-](?:test\w*|swab|shot|vaccin\w*|season|pcr|antigen))",
                r"viral[ \t](?:syndrome|illness|infection)",
                r"vertigo",
                r"dizziness",
                r"nausea",
                r"vomiting",
                r"diarrhea",
                r"constipation",
                r"dysuria",
                r"fever",
                r"impetigo",
                r"scabies",
                r"tinea",
                r"candidiasis",
                r"thrush",
                r"vaginitis",
                r"hemorrhoids?",
                r"allergic[ \t]reaction",
                r"epistaxis",
                r"nosebleed",
                r"syncope",
                r"palpitations",
                r"shortness[ \t]of[ \t]breath",
                r"dyspnea",
                r"wheezing",
                r"croup",
                r"mononucleosis",
                r"herpes[ \t]zoster",
                r"shingles",
                r"hordeolum",
                r"stye",
                r"blepharitis",
                r"folliculitis",
                r"paronychia",
                r"ingrown[ \t](?:toe)?nail",
                r"plantar[ \t]fasciitis",
                r"sciatica",
                r"radiculopathy",
                r"muscle[ \t]spasms?",
                r"costochondritis",
                r"hematuria",
                r"urinary[ \t]retention",
                r"phimosis",
                r"balanitis",
                r"epididymitis",
                r"prostatitis",
                r"hydrocele",
                r"varicocele",
                r"(?:inguinal[ \t]|umbilical[ \t]|ventral[ \t]|incisional[ \t])?hernia",
                r"headaches?",
                r"(?:acute[ \t])?kidney[ \t]injury",
                r"renal[ \t]colic",
            )
            + r")\b"
        ),
    ),
    ("acute", _rx(r"\b(?:URI|UTI|AOM|LBP|SOB|AKI)\b", 0)),
]
_PRIORITY = {
    "threat": 0,
    "complicated_injury": 1,
    "worse": 2,
    "undiagnosed": 2,
    "systemic": 3,
    "chronic": 4,
    "minor": 5,
    "acute": 6,
}
_CANONICAL = {
    "htn": "hypertension",
    "high blood pressure": "hypertension",
    "dm": "diabetes",
    "dm2": "diabetes",
    "t2dm": "diabetes",
    "t1dm": "diabetes",
    "dmii": "diabetes",
    "niddm": "diabetes",
    "iddm": "diabetes",
    "hld": "hyperlipidemia",
    "high cholesterol": "hyperlipidemia",
    "dyslipidemia": "hyperlipidemia",
    "hypercholesterolemia": "hyperlipidemia",
    "obstructive pulmonary disease": "copd",
    "ckd": "kidney disease",
    "chf": "heart failure",
    "hfref": "heart failure",
    "hfpef": "heart failure",
    "cad": "coronary artery disease",
    "gerd": "reflux",
    "afib": "atrial fibrillation",
    "a-fib": "atrial fibrillation",
    "osa": "sleep apnea",
    "bph": "enlarged prostate",
    "benign prostatic hyperplasia": "enlarged prostate",
    "uti": "urinary tract infection",
    "uri": "upper respiratory infection",
    "mi": "myocardial infarction",
    "heart attack": "myocardial infarction",
    "cva": "stroke",
    "cerebrovascular accident": "stroke",
    "mdd": "depression",
    "gad": "anxiety",
    "aki": "kidney injury",
    "dka": "ketoacidosis",
}
# A longer wording of a problem that has a shorter common name (read after "chronic"/"acute" are set aside).
_CANONICAL_PARTS = (
    ("heart failure", "heart failure"),
    ("diabetes", "diabetes"),
    ("kidney disease", "kidney disease"),
    ("obstructive pulmonary", "copd"),
    ("reflux", "reflux"),
    ("depress", "depression"),
    ("anxiety", "anxiety"),
    ("myocardial infarction", "myocardial infarction"),
    ("sleep apnea", "sleep apnea"),
    ("kidney injury", "kidney injury"),
    ("ketoacidosis", "ketoacidosis"),
    ("obesity", "obesity"),
    ("respiratory failure", "respiratory failure"),
)


def _canonical(name: str) -> str:
    name = " ".join(name.lower().split())
    if name in _CANONICAL:
        return _CANONICAL[name]
    core = re.sub(r"^(?:chronic|acute|type (?:1|2|i|ii|one|two)|major|morbid|congestive|generalized)[ -]", "", name)
    for part, common in _CANONICAL_PARTS:
        if part in core:
            return common
    plural = core.endswith("s") and len(core) > 4 and not core.endswith(("ss", "is", "us", "ous", "sis"))
    return _CANONICAL.get(core, core[:-1] if plural else core)


# Words about a problem's course, read in the problem's own part of the assessment.
_SEVERE = _rx(
    r"\b(?:severe[ \t](?:exacerbation|flare)|severely[ \t]exacerbated|decompensat\w+|acute[ \t]on[ \t]chronic)\b"
)
_WORSE = _rx(
    r"\b(?:exacerbat\w+|worsen\w*|worse|uncontrolled|poorly[ \t]controlled|not[ \t](?:well[ \t])?controlled|"
    r"inadequately[ \t]controlled|suboptimal(?:ly)?[ \t]controlled|not[ \t]at[ \t](?:goal|target)|above[ \t](?:goal|"
    r"target)|"
    r"progress(?:ion|ing|ed|ive)|flare\w*|side[ \t]effects?|adverse[ \t]effects?|intoleran\w+|hyperglycemia|"
    r"deteriorat\w+|relaps\w+)\b"
)
_CANCER = _rx(r"\b(?:cancer|[a-z]*carcinoma|lymphoma|leukemia|malignan\w+|metasta\w+|melanoma|sarcoma|myeloma)\b")
_CANCER_QUIET = _rx(
    r"\b(?:remission|stable|no[ \t]evidence[ \t]of[ \t](?:disease|recurrence)|NED|surveillance|history[ \t]of|h/o|"
    r"status[ \t]post|s/p|cured|resected)\b"
)
_MINOR_COURSE = _rx(r"\b(?:self[- ]limit\w*|minor)\b")
_SYSTEMIC_SYMPTOM = _rx(r"\b(?:fevers?|febrile|chills|rigors|myalgias?|body[ \t]aches|malaise|systemic)\b")
_UNCERTAIN = _rx(
    r"\b(?:rule[ \t]out|r/o|possible|possibly|probable|suspected|suspect|likely|questionable|concern(?:ing)?[ \t]for|"
    r"cannot[ \t](?:exclude|rule[ \t]out)|versus|vs\.?|differential)\b"
)
_NEGATED_BEFORE = _rx(
    r"\b(?:no|not|negative[ \t]for|without|denies|denied|ruled[ \t]out|s/p|status[ \t]post|free[ \t]of)"
    r"\W{1,3}(?:[\w-]+\W{1,3}){0,2}$"
)
_NEGATED_AFTER = _rx(
    r"^\W{0,3}(?:(?:was|has[ \t]been|is|were|now)[ \t])?(?:ruled[ \t]out|excluded|negative)\b|"
    r"^[^.;\n]{0,40}?\b(?:warning[ \t]signs|precautions|red[ \t]flags)\b"
)
# Mentions after these words are not problems addressed: return precautions, risks explained, screening.
_NOT_ADDRESSED = _rx(
    r"\b(?:if|unless|should|precautions?|warning[ \t]signs|red[ \t]flags|in[ \t]case|risks?|prevent\w*|"
    r"screen\w*[ \t]for|to[ \t]reduce|avoid|develops?|complications?[ \t](?:including|such[ \t]as|of|include)|"
    r"including[ \t]but[ \t]not[ \t]limited)\b"
)
_STATUS_NEGATION = _rx(r"\b(?:no|not|without|denies|free[ \t]of)\W{1,3}(?:\w+\W{1,3}){0,2}$")
_ITEM_BREAK = re.compile(r"\n|(?:^|(?<=[\s.,:]))\d{1,2}[.)](?=[ \t])", re.M)
_SENTENCE_END = re.compile(r"[.;?!](?=\s|,|$)")

# ICD-10-CM categories of chronic illnesses, for diagnoses the engine found that no problem word covers.
_CHRONIC_ICD = re.compile(
    r"^(?:I1[0-6]|E0[89]|E1[013]|E78|E0[35]|E66|J4[1-5]|J47|N18|I50|I4[89]|I2[05]|I70|I73|F3[1-4]|F41|F20|F90|F43\.1|"
    r"K21|K5[01]|K58|K70|K74|G43|G40|G20|G30|G35|G47\.3|N40|M0[5-6]|M1[5-9]|M81|M80|M54\.[1-5]|M48\.0|L40|L20|"
    r"B18|B20|D6[3-4]|C\d|E03|E28\.2|H40|N39\.4|N52|R73\.0)"
)


@dataclass(frozen=True)
class Problem:
    name: str
    kind: str  # threat | severe | worse | complicated_injury | undiagnosed | systemic | chronic | acute | minor
    span: Span
    status_span: Span | None = None


@dataclass(frozen=True)
class _Mention:
    start: int
    end: int
    kind: str
    name: str
    from_code: bool = False


def _problem_region(secs: Sequence[Section]) -> list[Span]:
    """The assessment, plan, course and disposition sections; adjacent ones read as one region."""
    regions: list[Span] = []
    for sec in secs:
        if sec.name not in _AP_HEADERS and sec.name not in _PLAN_HEADERS:
            continue
        if regions and regions[-1][1] == sec.start:
            regions[-1] = (regions[-1][0], sec.end)
        else:
            regions.append((sec.body, sec.end))
    return regions


def _items(text: str, region: Span) -> list[Span]:
    """Lines and numbered entries of a region."""
    a, b = region
    cuts = sorted({a, b} | {m.start() for m in _ITEM_BREAK.finditer(text, a, b)})
    return [(x, y) for x, y in zip(cuts, cuts[1:], strict=False) if text[x:y].strip()]


def _sentences(text: str, span: Span) -> list[Span]:
    a, b = span
    out, start = [], a
    for m in _SENTENCE_END.finditer(text, a, b):
        out.append((start, m.end()))
        start = m.end()
    if start < b:
        out.append((start, b))
    return [s for s in out if text[s[0] : s[1]].strip()]


def _word_mentions(text: str, span: Span) -> list[_Mention]:
    """The problem words in span; overlaps go to the earlier, then longer, then stronger match."""
    a, b = span
    raw = []
    for kind, rx in _PROBLEM_PATTERNS:
        for m in rx.finditer(text, a, b):
            raw.append((m.start(), -(m.end() - m.start()), _PRIORITY[kind], m.end(), kind))
    raw.sort()
    out: list[_Mention] = []
    last_end = -1
    for start, _neg_len, _prio, end, kind in raw:
        if start < last_end:
            continue
        out.append(_Mention(start, end, kind, _canonical(text[start:end])))
        last_end = end
    return out


def _clause_before(text: str, lo: int, start: int, limit: int = 60) -> str:
    before = text[max(lo, start - limit) : start]
    cut = max(before.rfind(","), before.rfind("."), before.rfind(";"), before.rfind(":"))
    return before[cut + 1 :] if cut >= 0 else before


def _excluded(text: str, sentence: Span, item: Span, m: _Mention) -> bool:
    """Negated, historical or not addressed (return precautions, risks explained)."""
    if _NEGATED_BEFORE.search(_clause_before(text, item[0], m.start)):
        return True
    if _NEGATED_AFTER.match(text[m.end : min(item[1], m.end + 30)]):
        return True
    return bool(_NOT_ADDRESSED.search(text, sentence[0], m.start))


_HYPOTHETICAL = _rx(r"\b(?:if|unless|should|in[ \t]case|return[ \t]for|precautions?)\b")


def _status_words(text: str, region: Span, rx: re.Pattern[str]) -> re.Match[str] | None:
    for m in rx.finditer(text, region[0], region[1]):
        if _STATUS_NEGATION.search(text[max(region[0], m.start() - 30) : m.start()]):
            continue
        if _HYPOTHETICAL.search(_clause_before(text, region[0], m.start(), 50)):
            continue  # "if he flares off the antibiotic"
        return m
    return None


def find_problems(text: str, regions: list[Span], diagnoses: Sequence[tuple[str, int, int]] = ()) -> list[Problem]:
    """The problems the assessment and plan address, each with its kind after the words about its course
    (stable, worsening, severe exacerbation), negated, historical and hypothetical mentions left out, one
    per name. `diagnoses` (code, start, end) inside the regions that no problem word covers count too."""
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    items = [item for region in regions for item in _items(text, region)][:_MAX_ITEMS]
    by_position = sorted(diagnoses, key=lambda d: (d[1], d[2]))
    diagnosis_starts = [s for _, s, _ in by_position]
    for item in items:
        sents = _sentences(text, item)
        words = _word_mentions(text, item)[:_MAX_ITEM_MENTIONS]
        codes: list[_Mention] = []
        first = bisect_left(diagnosis_starts, item[0])
        for code, s, e in by_position[first : bisect_left(diagnosis_starts, item[1])]:
            if code.startswith("Z") or len(codes) >= _MAX_ITEM_MENTIONS:
                continue
            if any(w.start < e and s < w.end for w in words) or any(c.start < e and s < c.end for c in codes):
                continue  # words already read as a problem
            codes.append(_Mention(s, e, "chronic" if _CHRONIC_ICD.match(code) else "minor", code, True))
        mentions = sorted(words + codes, key=lambda m: m.start)[:_MAX_ITEM_MENTIONS]
        kept = [m for m in mentions if not _excluded(text, _sentence_of(sents, m.start, item), item, m)]
        for m in kept:
            status = _status_region(sents, kept, m.start, item)
            kind, status_span = _course(text, m, status, item)
            p = Problem(m.name, kind, (m.start, m.end), status_span)
            if m.name in seen:
                old = problems[seen[m.name]]
                if _stronger(p, old):
                    problems[seen[m.name]] = p
                continue
            seen[m.name] = len(problems)
            problems.append(p)
    return problems


def _stronger(new: Problem, old: Problem) -> bool:
    """Of two mentions of one problem, the one that says more about its course: a worse course over a
    plain one, and an explicit "self-limited"/"minor" over a plain acute mention."""
    if old.kind == "minor" and old.status_span and new.kind == "acute" and not new.status_span:
        return False
    if new.kind == "minor" and new.status_span and old.kind == "acute" and not old.status_span:
        return True
    return _KIND_RANK[new.kind] > _KIND_RANK[old.kind]


def _sentence_of(sents: list[Span], pos: int, item: Span) -> Span:
    return next(((a, b) for a, b in sents if a <= pos < b), item)


def _status_region(sents: list[Span], mentions: list[_Mention], start: int, item: Span) -> Span:
    """From the problem's sentence to the next sentence of the item that names another problem."""
    idx = next((i for i, (a, b) in enumerate(sents) if a <= start < b), None)
    if idx is None:
        return item
    end = sents[idx][1]
    for a, b in sents[idx + 1 :]:
        if any(a <= m.start < b for m in mentions):
            break
        end = b
    return sents[idx][0], end


_KIND_RANK = {
    "minor": 0,
    "acute": 1,
    "chronic": 1,
    "systemic": 2,
    "complicated_injury": 2,
    "undiagnosed": 2,
    "worse": 2,
    "threat": 3,
    "severe": 3,
}


def _course(text: str, m: _Mention, status: Span, item: Span) -> tuple[str, Span | None]:
    if m.kind == "threat":
        # A threat only considered ("rule out MI") is an undiagnosed new problem with uncertain prognosis.
        if _UNCERTAIN.search(text, max(item[0], m.start - 40), min(item[1], m.end + 25)):
            return "undiagnosed", None
        return "threat", None
    if m.kind == "chronic" and _CANCER.search(m.name) and not _status_words(text, status, _CANCER_QUIET):
        # A malignancy being evaluated or treated is not at its treatment goal (not stable).
        return "worse", None
    if m.kind == "chronic":
        severe = _status_words(text, status, _SEVERE)
        if severe:
            return "severe", (severe.start(), severe.end())
        worse = _status_words(text, status, _WORSE)
        if worse:
            return "worse", (worse.start(), worse.end())
        return "chronic", None
    if m.kind == "acute":
        minor = _status_words(text, status, _MINOR_COURSE)
        if minor:
            return "minor", (minor.start(), minor.end())
        systemic = _status_words(text, status, _SYSTEMIC_SYMPTOM) if m.name != "fever" else None
        if systemic:
            return "systemic", (systemic.start(), systemic.end())
    return m.kind, None


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def problems_element(problems: list[Problem]) -> Element:
    """AMA table, number and complexity of problems addressed."""
    by: dict[str, list[Problem]] = {}
    for p in problems:
        by.setdefault(p.kind, []).append(p)

    def names(*kinds: str) -> str:
        return ", ".join(p.name for k in kinds for p in by.get(k, []))

    def spans(*kinds: str) -> tuple[Span, ...]:
        out: list[Span] = []
        for k in kinds:
            for p in by.get(k, []):
                out.append(p.span)
                if p.status_span:
                    out.append(p.status_span)
        return tuple(out)

    n = {k: len(v) for k, v in by.items()}
    if n.get("threat"):
        what = _plural(n["threat"], "illness", "illnesses")
        return Element(3, f"{what} posing a threat to life or bodily function: {names('threat')}", spans("threat"))
    if n.get("severe"):
        return Element(3, f"chronic illness with severe exacerbation: {names('severe')}", spans("severe"))
    moderate = [
        (
            "worse",
            "chronic illness with exacerbation, progression or side effects of treatment",
            "chronic illnesses with exacerbation, progression or side effects of treatment",
        ),
        ("undiagnosed", "undiagnosed new problem with uncertain prognosis", "undiagnosed new problems"),
        ("systemic", "acute illness with systemic symptoms", "acute illnesses with systemic symptoms"),
        ("complicated_injury", "acute complicated injury", "acute complicated injuries"),
    ]
    for kind, one, many in moderate:
        if n.get(kind):
            return Element(2, f"{_plural(n[kind], one, many)}: {names(kind)}", spans(kind))
    chronic = n.get("chronic", 0)
    if chronic >= 2:
        return Element(2, f"{chronic} stable chronic illnesses: {names('chronic')}", spans("chronic"))
    if chronic == 1:
        return Element(1, f"1 stable chronic illness: {names('chronic')}", spans("chronic"))
    if n.get("acute"):
        what = _plural(n["acute"], "acute uncomplicated illness or injury", "acute uncomplicated illnesses or injuries")
        return Element(1, f"{what}: {names('acute')}", spans("acute"))
    minor = n.get("minor", 0)
    if minor >= 2:
        return Element(1, f"{minor} self-limited or minor problems: {names('minor')}", spans("minor"))
    if minor == 1:
        return Element(0, f"1 self-limited or minor problem: {names('minor')}", spans("minor"))
    return Element(0, "no problem identified")


# --------------------------------------------------------------------------------------------------
# MDM element 2: amount and complexity of data reviewed and analyzed
_TESTS: list[tuple[str, re.Pattern[str]]] = [
    ("CBC", _rx(r"\b(?:CBC|complete[ \t]blood[ \t]count)\b")),
    ("CMP", _rx(r"\b(?:CMP|comprehensive[ \t]metabolic[ \t]panel)\b")),
    ("BMP", _rx(r"\b(?:BMP|basic[ \t]metabolic[ \t]panel|chem[- ]?7)\b")),
    ("A1c", _rx(r"\b(?:(?:hemoglobin|hgb|hb)[ \t]?a1c|a1c|glycated[ \t]hemoglobin)\b")),
    ("lipid panel", _rx(r"\b(?:lipid[ \t](?:panel|profile)|lipids|fasting[ \t]lipids|cholesterol[ \t]panel)\b")),
    ("TSH", _rx(r"\b(?:TSH|thyroid[ \t](?:function[ \t]tests?|panel)|free[ \t]T4)\b")),
    ("urinalysis", _rx(r"\b(?:urinalysis|UA|urine[ \t]dip(?:stick)?)\b")),
    ("urine culture", _rx(r"\burine[ \t]cultures?\b")),
    ("blood cultures", _rx(r"\bblood[ \t]cultures?\b")),
    ("troponin", _rx(r"\btroponins?\b")),
    ("BNP", _rx(r"\b(?:BNP|NT-?pro-?BNP)\b")),
    ("D-dimer", _rx(r"\bd-?dimer\b")),
    ("lactate", _rx(r"\b(?:lactate|lactic[ \t]acid)\b")),
    ("lipase", _rx(r"\blipase\b")),
    (
        "liver function tests",
        _rx(r"\b(?:LFTs?|liver[ \t](?:function[ \t])?(?:tests|panel)|hepatic[ \t]function[ \t]panel)\b"),
    ),
    ("coagulation studies", _rx(r"\b(?:PT/INR|INR|PTT|coagulation[ \t](?:studies|panel))\b")),
    ("PSA", _rx(r"\bPSA\b")),
    ("pregnancy test", _rx(r"\b(?:(?:urine|serum)[ \t])?(?:pregnancy[ \t]test|b?-?hcg|beta[ \t-]hcg)\b")),
    ("strep test", _rx(r"\b(?:rapid[ \t])?strep[ \t](?:test|screen|swab|pcr)\b|\bthroat[ \t]culture\b")),
    ("influenza test", _rx(r"\b(?:rapid[ \t])?(?:flu|influenza)[ \t](?:test|swab|pcr|antigen)\b")),
    ("COVID test", _rx(r"\b(?:covid(?:-19)?|sars-cov-2)[ \t](?:test|swab|pcr|antigen|naat)\b")),
    ("monospot", _rx(r"\bmono[ \t]?spot\b")),
    ("vitamin D", _rx(r"\bvitamin[ \t]d[ \t](?:level|25)\b|\b25-?(?:oh|hydroxy)[ \t]vitamin[ \t]d\b")),
    ("B12", _rx(r"\b(?:vitamin[ \t])?b12(?:[ \t]level)?\b")),
    ("iron studies", _rx(r"\b(?:ferritin|iron[ \t](?:studies|panel))\b")),
    ("ESR", _rx(r"\b(?:ESR|sed(?:imentation)?[ \t]rate)\b")),
    ("CRP", _rx(r"\b(?:CRP|c-reactive[ \t]protein)\b")),
    ("magnesium", _rx(r"\bmagnesium[ \t]level\b")),
    ("glucose", _rx(r"\b(?:(?:poc|point[- ]of[- ]care|fingerstick|blood|serum)[ \t])glucose\b")),
    (
        "drug levels",
        _rx(
            r"\b(?:acetaminophen|tylenol|salicylate|aspirin|digoxin|lithium|valproate|"
            r"phenytoin)[ \t](?:and[ \t]\w+[ \t])?levels?\b"
        ),
    ),
    ("blood gas", _rx(r"\b(?:ABG|VBG|(?:arterial|venous)[ \t]blood[ \t]gas)\b")),
    (
        "drug screen",
        _rx(r"\b(?:urine[ \t]drug[ \t]screen|UDS|tox(?:icology)?[ \t]screen|(?:ethanol|alcohol)[ \t]level)\b"),
    ),
    ("stool studies", _rx(r"\bstool[ \t](?:studies|culture|guaiac|test)\b|\bFIT[ \t]test\b")),
    ("wound culture", _rx(r"\bwound[ \t]culture\b")),
    ("hormone levels", _rx(r"\b(?:cortisol|ACTH|aldosterone|renin|testosterone|prolactin|FSH|LH)(?:[ \t]levels?)?\b")),
    ("uric acid", _rx(r"\buric[ \t]acid\b")),
    ("CK", _rx(r"\b(?:CK|CPK|creatine[ \t]kinase)\b")),
    ("procalcitonin", _rx(r"\bprocalcitonin\b")),
    ("ammonia", _rx(r"\bammonia[ \t]level\b")),
    ("H. pylori test", _rx(r"\bh\.?[ \t]?pylori[ \t](?:test\w*|breath|stool|antigen|serology)\b")),
    ("hepatitis panel", _rx(r"\bhepatitis[ \t](?:panel|serologies|serology)\b")),
    ("HIV test", _rx(r"\bHIV[ \t](?:test\w*|screen\w*|antibody|ag/ab)\b")),
    ("fasting glucose", _rx(r"\bfasting[ \t](?:blood[ \t]sugar|glucose)\b")),
    ("chest x-ray", _rx(r"\b(?:chest[ \t](?:x-?ray|radiograph|film)s?|CXR)\b")),
    ("x-ray", _rx(r"\b(?:x-?rays?|radiographs?|plain[ \t]films?)\b")),
    ("CT", _rx(r"\b(?:CT(?:A)?|CAT[ \t]scan|computed[ \t]tomography)\b")),
    ("MRI", _rx(r"\b(?:MRI|MRA|magnetic[ \t]resonance)\b")),
    ("ultrasound", _rx(r"\b(?:ultrasound|sonogram|doppler|duplex)\b")),
    ("echocardiogram", _rx(r"\b(?:echocardiogram|echo|TTE|TEE)\b")),
    ("ECG", _rx(r"\b(?:ECG|EKG|electrocardiogram)\b")),
    ("stress test", _rx(r"\bstress[ \t]test\b")),
    ("Holter monitor", _rx(r"\b(?:holter|event[ \t]monitor)\b")),
    ("spirometry", _rx(r"\b(?:spirometry|PFTs?|pulmonary[ \t]function[ \t]tests?)\b")),
    ("sleep study", _rx(r"\b(?:sleep[ \t]study|polysomnogra\w+)\b")),
    ("mammogram", _rx(r"\bmammogra\w+\b")),
    ("bone density", _rx(r"\b(?:DEXA|DXA|bone[ \t]density)\b")),
    ("labs", _rx(r"\b(?:labs|lab[ \t]work|blood[ \t]work|laboratory[ \t](?:studies|tests|data|results))\b")),
]
_ORDER_CUE = _rx(
    r"\b(?:order(?:ed|ing)?|obtain(?:ed)?|check(?:ed)?|draw(?:n)?|send|sent|get|getting|schedul\w*|request\w*|repeat|"
    r"pending|will[ \t](?:get|check|obtain|need)|needs|refer\w*[ \t]for)\b"
)
_REVIEW_CUE = _rx(
    r"\b(?:review\w*|results?|show(?:s|ed|n)?|reveal\w*|demonstrat\w*|notable|significant[ \t]for|unremarkable|"
    r"normal|abnormal|negative|positive|elevated|within[ \t]normal[ \t]limits|WNL|consistent[ \t]with|"
    r"no[ \t](?:acute|evidence)|read[ \t]as|came[ \t]back)\b"
)
_VALUE_AFTER = re.compile(
    r"[ \t]{0,2}(?:(?:is|was|of|level|result)[ \t]{1,2})?[:=]?[ \t]{0,2}[<>]?[ \t]?\d|"
    r"[^.\n:]{0,60}:[ \t]{0,2}[\w+<>-]"  # "UA dipstick (visually read): LE 2+", "CXR: no infiltrate"
)
_NO_TEST = _rx(
    r"\b(?:if|unless|declin\w*|refus\w*|not[ \t](?:needed|indicated|done|obtained|ordered)|no[ \t](?:need|indication)|"
    r"deferred|consider(?:ing)?|would[ \t]consider|may[ \t]need)\b"
)
_SEPARATELY_REPORTED = _rx(
    r"\b(?:interpreted[ \t]by[ \t]me|interpretation[ \t]by[ \t]me|I[ \t](?:performed[ \t]and[ \t])?interpreted|"
    r"performed[ \t]and[ \t]interpreted|read[ \t]by[ \t]me)\b"
)
_INDEPENDENT_INTERPRETATION = _rx(
    r"\bindependent(?:ly)?[ \t](?:interpret\w*|review\w*|visualiz\w*|read|viewed)\b|"
    r"\b(?:my|personal)[ \t](?:own[ \t])?(?:independent[ \t])?(?:interpretation|read|review)[ \t]of[ \t](?:the[ \t])?"
    r"(?:[\w-]+[ \t]){0,2}?(?:x-?rays?|radiographs?|films?|images?|CT|MRI|ultrasound|ECG|EKG|tracing|rhythm[ \t]strip|"
    r"CXR|scan)\b|\bI[ \t](?:personally[ \t])?(?:viewed|reviewed|"
    r"visualized)[ \t]the[ \t](?:[\w-]+[ \t]){0,2}?(?:images?|"
    r"films?|x-?rays?|radiographs?|CT|MRI|ultrasound|tracing|rhythm[ \t]strip|scan)\b"
)
_EXTERNAL_NOTES = _rx(
    r"\b(?:outside|external|prior|previous|old|hospital|ED|ER|emergency[ \t](?:department|room)|urgent[ \t]care|"
    r"specialist|cardiology|neurology|oncology|consultant'?s?|discharge|referring|nursing[ \t]home|PCP|"
    r"primary[ \t]care)"
    r"[ \t](?:medical[ \t])?(?:records?|notes?|chart|summary|report|documentation)\b|\brecords?[ \t]from[ \t](?:Dr\.?|"
    r"the|his|"
    r"her|their|outside|[A-Z])|\bnotes?[ \t]from[ \t](?:Dr\.?|the|his|her|their)\b|\bcare[ \t]everywhere\b"
)
_REVIEW_WORD = _rx(r"\b(?:review\w*|obtained|went[ \t]over|summariz\w*|read|appreciated|noted)\b")
_HISTORIAN = _rx(
    r"\bindependent[ \t]historian\b|\bhistory[ \t](?:was[ \t])?(?:obtained|provided|given|taken|gathered|"
    r"is[ \t]provided)"
    r"[ \t](?:from|by)[ \t](?:the[ \t])?(?:patient'?s[ \t])?(?:mother|father|parents?|mom|dad|wife|husband|spouse|"
    r"partner|"
    r"daughter|son|family|caregiver|guardian|EMS|paramedics|nursing[ \t]home|staff|grandmother|grandfather|sister|"
    r"brother)|"
    r"\b(?:per|according[ \t]to)[ \t](?:the[ \t])?(?:patient'?s[ \t])?(?:mother|father|parents?|mom|dad|wife|husband|"
    r"spouse|"
    r"daughter|son|family|caregiver|guardian|EMS|paramedics|staff)\b|\b(?:mother|father|parents?|mom|dad|wife|husband|"
    r"daughter|son|caregiver|guardian|EMS|paramedics)[ \t](?:reports|states|provides|gives|says|relates|notes)\b"
)
_DISCUSSION = _rx(
    r"\b(?:discuss\w*|spoke|speak|talked|conferred|called|"
    r"curbside\w*)[ \t](?:[\w,'-]+[ \t]){0,3}?with[ \t](?:the[ \t])?"
    r"(?:Dr\.?[ \t]|on[- ]call|radiolog\w*|cardiolog\w*|surg\w*|orthop\w*|neurolog\w*|neurosurg\w*|gastroenterolog\w*|"
    r"GI\b|"
    r"nephrolog\w*|oncolog\w*|urolog\w*|pulmonolog\w*|intensivist|hospitalist|specialist|consultant|pharmacist|"
    r"poison[ \t]control|PCP|primary[ \t]care|(?:his|her|their|the[ \t]patient'?s)[ \t](?:[\w-]+[ \t])?(?:doctor|"
    r"physician|"
    r"cardiologist|oncologist|surgeon|PCP|nephrologist|psychiatrist|neurologist))"
)
_NOT_DATA_SECTIONS = frozenset(_PAST_HEADERS)


def data_element(text: str, secs: Sequence[Section]) -> Element:
    """AMA table, amount and complexity of data to be reviewed and analyzed."""
    skip = _Intervals((s.start, s.end) for s in secs if s.name in _NOT_DATA_SECTIONS)

    def usable(pos: int) -> bool:
        return not skip.overlaps(pos, pos + 1)

    tests: dict[str, Span] = {}
    taken = _Intervals()  # "chest x-ray" is not also an "x-ray"
    for name, rx in _TESTS:
        for m in rx.finditer(text):
            if taken.overlaps(m.start(), m.end()):
                continue
            taken.add(m.start(), m.end())
            if name in tests or not usable(m.start()):
                continue
            left, right = _sentence_bounds(text, m.start(), m.end())
            sentence = text[left:right]
            if _NO_TEST.search(sentence) or _SEPARATELY_REPORTED.search(sentence):
                continue
            value = _VALUE_AFTER.match(text, m.end())
            if not (value or _ORDER_CUE.search(sentence) or _REVIEW_CUE.search(sentence)):
                continue
            if name == "labs" and any(left <= a < right for a, _ in tests.values()):
                continue  # "labs" that names its tests is those tests
            tests[name] = (m.start(), m.end())
    external: dict[str, Span] = {}
    for m in _EXTERNAL_NOTES.finditer(text):
        left, right = _sentence_bounds(text, m.start(), m.end())
        if usable(m.start()) and _REVIEW_WORD.search(text, left, right):
            external.setdefault(m.group(0).lower().split()[0], (m.start(), m.end()))
    historian = next((m for m in _HISTORIAN.finditer(text) if usable(m.start())), None)
    interpretation = next((m for m in _INDEPENDENT_INTERPRETATION.finditer(text)), None)
    discussion = next((m for m in _DISCUSSION.finditer(text)), None)

    n_tests, n_notes = len(tests), min(len(external), 3)
    cat1 = n_tests + n_notes + (1 if historian else 0)
    cat1_full = cat1 >= 3
    categories = sum((cat1_full, interpretation is not None, discussion is not None))
    reasons = []
    spans: list[Span] = []
    if tests:
        reasons.append(f"{_plural(n_tests, 'unique test', 'unique tests')} ordered or reviewed: {', '.join(tests)}")
        spans.extend(tests.values())
    if external:
        reasons.append(f"external notes reviewed ({', '.join(external)})")
        spans.extend(external.values())
    if historian:
        reasons.append("independent historian")
        spans.append((historian.start(), historian.end()))
    if interpretation:
        reasons.append("independent interpretation of a test")
        spans.append((interpretation.start(), interpretation.end()))
    if discussion:
        reasons.append("discussion of management with an external physician or source")
        spans.append((discussion.start(), discussion.end()))
    reason = "; ".join(reasons)
    if categories >= 2:
        level = 3
    elif categories == 1:
        level = 2
    elif n_tests + n_notes >= 2 or historian:
        level = 1
    else:
        level = 0
    return Element(level, reason, tuple(spans))


# --------------------------------------------------------------------------------------------------
# MDM element 3: risk of complications and/or morbidity or mortality of patient management
_RX_NAMES = (
    r"metformin|insulin|glargine|lantus|levemir|basaglar|humalog|novolog|lispro|aspart|glipizide|glyburide|"
    r"glimepiride|pioglitazone|ozempic|semaglutide|trulicity|dulaglutide|mounjaro|tirzepatide|jardiance|farxiga|"
    r"januvia|levothyroxine|synthroid|methimazole|amlodipine|nifedipine|hydrochlorothiazide|hctz|chlorthalidone|"
    r"furosemide|lasix|bumetanide|torsemide|spironolactone|warfarin|coumadin|eliquis|apixaban|xarelto|rivaroxaban|"
    r"clopidogrel|plavix|digoxin|amiodarone|diltiazem|verapamil|hydralazine|isosorbide|nitroglycerin|clonidine|"
    r"sertraline|zoloft|escitalopram|lexapro|citalopram|fluoxetine|prozac|paroxetine|bupropion|wellbutrin|"
    r"venlafaxine|duloxetine|cymbalta|mirtazapine|trazodone|buspirone|lithium|lamotrigine|quetiapine|aripiprazole|"
    r"risperidone|olanzapine|gabapentin|neurontin|pregabalin|lyrica|topiramate|levetiracetam|keppra|phenytoin|"
    r"valproate|divalproex|carbamazepine|sumatriptan|amoxicillin|augmentin|penicillin|cephalexin|keflex|cefdinir|"
    r"ceftriaxone|rocephin|cefuroxime|azithromycin|zithromax|z-?pak|doxycycline|clindamycin|nitrofurantoin|macrobid|"
    r"trimethoprim|sulfamethoxazole|bactrim|ciprofloxacin|cipro|levofloxacin|levaquin|metronidazole|flagyl|"
    r"vancomycin|fluconazole|diflucan|valacyclovir|valtrex|acyclovir|oseltamivir|tamiflu|paxlovid|prednisone|"
    r"prednisolone|methylprednisolone|medrol|dexamethasone|decadron|triamcinolone|clobetasol|mometasone|"
    r"betamethasone|fluocinonide|albuterol|proair|ventolin|symbicort|advair|breo|budesonide|tiotropium|spiriva|"
    r"montelukast|singulair|benzonatate|tessalon|promethazine|phenergan|ondansetron|zofran|metoclopramide|"
    r"cyclobenzaprine|flexeril|methocarbamol|tizanidine|meloxicam|diclofenac|ketorolac|toradol|tramadol|oxycodone|"
    r"hydrocodone|norco|percocet|vicodin|codeine|morphine|hydromorphone|dilaudid|allopurinol|colchicine|alendronate|"
    r"tamsulosin|flomax|finasteride|proscar|dutasteride|sildenafil|tadalafil|oxybutynin|mirabegron|mupirocin|"
    r"hydroxyzine|epinephrine|epipen|estradiol|medroxyprogesterone|norethindrone|plaquenil|hydroxychloroquine|"
    r"methotrexate|nasonex|heparin|enoxaparin|lovenox|potassium[ \t]chloride|antibiotics?|antivirals?|"
    r"steroid[ \t]taper|oral[ \t]steroids?|statin|diuretic|ace[ \t]inhibitor|beta[- ]blocker|ssri|anticoagula\w+|"
    r"antihypertensives?|inhaler|birth[ \t]control[ \t]pills?|oral[ \t]contraceptives?|eye[ \t]drops[ \t]prescribed"
)
_RX_DRUG = _rx(
    r"\b(?:"
    + _RX_NAMES
    + r")\b|\bcef[a-z]{3,}\b|\b[a-z]{3,}(?:pril|sartan|olol|ilol|statin|dipine|cycline|mycin|micin|floxacin|cillin|"
    r"azepam|azolam|oxetine|triptyline|gliptin|gliflozin|glutide|parin|xaban|gatran|conazole|clovir|amivir|lukast|"
    r"semide|thiazide|zosin|asteride|triptan|setron|prazole)\b|(?<!non-)\b(?:prescri(?:be|bed|ption)s?|e-?prescribed|"
    r"Rx)\b"
)
_OTC_DRUG = _rx(
    r"\b(?:OTC|over[- ]the[- ]counter|acetaminophen|tylenol|ibuprofen|motrin|advil|naproxen|aleve|aspirin|"
    r"loratadine|claritin|cetirizine|zyrtec|fexofenadine|allegra|diphenhydramine|benadryl|guaifenesin|mucinex|"
    r"dextromethorphan|pseudoephedrine|sudafed|saline[ \t](?:nasal|spray|rinse|drops|gargles?)|salicylic[ \t]acid|"
    r"docusate|colace|miralax|polyethylene[ \t]glycol|senna|loperamide|imodium|famotidine|pepcid|calcium[ \t]carbonate|"
    r"tums|antacids?|hydrocortisone[ \t](?:cream|ointment)|bacitracin|neosporin|"
    r"(?:triple[ \t])?antibiotic[ \t]ointment|"
    r"cough[ \t]drops|(?:throat[ \t])?lozenges|vitamin[ \t]d3?[ \t]supplement|multivitamin|melatonin|"
    r"fiber[ \t]supplement|"
    r"artificial[ \t]tears|nicotine[ \t](?:patch|patches|gum|lozenges?)|clotrimazole|miconazole|terbinafine[ \t]cream|"
    r"omeprazole[ \t]otc|prilosec[ \t]otc|zinc[ \t]oxide|petroleum[ \t]jelly|emollients?|moisturizers?)\b"
)
# "oseltamivir would not change management", "antibiotics not indicated"
_DRUG_NEGATED_AFTER = _rx(
    r"[^.;\n]{0,30}?\b(?:would[ \t]not|not[ \t](?:indicated|needed|recommended|necessary|started)|declined|deferred|"
    r"is[ \t]not[ \t]needed)\b"
)
_DRUG_NEGATED = _rx(
    r"\b(?:no|not|without|declin\w*|defer\w*|hold[ \t]off[ \t]on|avoid\w*|allerg\w*|refus\w*|intoleran\w*)"
    r"\W{1,3}(?:[\w-]+\W{1,3}){0,2}$"
)
_MINIMAL_RISK = _rx(
    r"\b(?:rest|fluids|ice|elevation|reassurance|reassured|supportive[ \t]care|warm[ \t]compress(?:es)?|gargles?|"
    r"observation|watchful[ \t]waiting|diet[ \t]and[ \t]exercise|lifestyle[ \t]modifications?)\b"
)
_LOW_RISK = _rx(
    r"\b(?:physical[ \t]therapy|occupational[ \t]therapy|PT[ \t]referral|referr?(?:al|ed)?[ \t]to[ \t](?:PT|"
    r"physical[ \t]"
    r"therapy)|IV[ \t]fluids|intravenous[ \t]fluids|(?:normal[ \t])?saline[ \t]bolus|minor[ \t]surgery)\b"
)
_HOSPITALIZATION = _rx(
    r"\b(?:will[ \t]admit|admit(?:ted|ting)?[ \t](?:to|for|under)[ \t](?:the[ \t])?(?:hospital|medicine|floor|"
    r"telemetry|"
    r"tele|[pnms]?icu|ccu|intensive|observation|obs|hospitalist|surgery|surgical|step-?down|inpatient|psychiatry|"
    r"pediatrics|"
    r"cardiology|general|internal)|(?:decision|plan|need|needs|recommend(?:ed)?)[ \t]to[ \t](?:be[ \t])?admit\w*|"
    r"admission[ \t](?:to|for|is[ \t](?:recommended|indicated|warranted|needed)|recommended|warranted)|"
    r"hospitaliz(?:e|ation)[ \t](?:is[ \t])?(?:recommended|warranted|indicated|offered|declined|discussed|considered)|"
    r"(?:recommend(?:ed)?|discussed|offered|declined|refused|considered)[ \t](?:hospital[ \t])?(?:hospitalization|"
    r"admission|inpatient[ \t]care)|transfer(?:red)?[ \t]to[ \t](?:the[ \t])?(?:ICU|hospital|higher[ \t]level|tertiary|"
    r"emergency|ED|ER)|sent[ \t](?:to|into)[ \t](?:the[ \t])?(?:ED|ER|emergency)|direct[ \t]admi\w+|placed[ \t](?:in|"
    r"on)"
    r"[ \t]observation|disposition[ \t]{0,2}:[ \t]{0,2}admit\w*)\b"
)
_ESCALATION = _rx(
    r"\b(?:escalat\w+[ \t](?:of[ \t])?(?:care|to[ \t](?:the[ \t])?ICU)|transfer(?:red)?[ \t]to[ \t](?:the[ \t])?(?:ICU|"
    r"MICU|"
    r"CCU|intensive[ \t]care|step-?down)|upgrade[ \t]to[ \t](?:the[ \t])?(?:ICU|intensive[ \t]care))\b"
)
_EMERGENCY_SURGERY = _rx(
    r"\b(?:emergen\w+|urgent|stat)[ \t](?:surgery|surgical[ \t](?:intervention|exploration)|operation|laparotomy|"
    r"laparoscopy|appendectomy|cholecystectomy|exploration)\b|\b(?:taken|take|to[ \t]go|going|proceed)[ \t]to[ \t]"
    r"(?:the[ \t])?(?:OR|operating[ \t]room)\b"
)
_ELECTIVE_SURGERY = _rx(
    r"\b(?:decision|decided|plan(?:s|ned)?[ \t]for|proceed|candidate|recommend\w*|schedul\w*|consent\w*|elect\w*|"
    r"discussed|"
    r"(?:will|to)[ \t]undergo)"
    r"\b[^.\n]{0,40}?\b(?:surgery|surgical[ \t](?:repair|management|intervention|options?)|\w{3,}ectomy|\w{3,}plasty|"
    r"arthroplasty|joint[ \t]replacement|fusion|laminectomy|arthroscopy|prostatectomy|radical)\b"
)
_SURGICAL_RISK_FACTORS = _rx(
    r"\b(?:risk[ \t]factors?|high[ \t]risk|high[ \t]surgical[ \t]risk|comorbid\w*|ASA[ \t](?:III|IV|3|4))\b"
)
_INTENSIVE_MONITORING = _rx(
    r"\b(?:heparin|insulin|nitroglycerin|amiodarone|diltiazem|esmolol|nicardipine|propofol|dexmedetomidine)[ \t]"
    r"(?:drip|gtt|infusion)\b|\b(?:vasopressors?|pressors?|norepinephrine|levophed|vasopressin|phenylephrine|"
    r"dobutamine)\b|\b(?:vancomycin|gentamicin|tobramycin|lithium|digoxin|phenytoin|dilantin|valproic[ \t]acid|"
    r"valproate|tacrolimus|cyclosporine)[ \t](?:trough|levels?)\b|\b(?:warfarin|coumadin)\b[^.\n]{0,60}?\bINR\b|"
    r"\bINR\b[^.\n]{0,60}?\b(?:warfarin|coumadin)\b|\bmonitor\w*[ \t]for[ \t](?:drug[ \t])?(?:toxicity|cytopenias?)\b|"
    r"\b(?:TPN|total[ \t]parenteral[ \t]nutrition)\b"
)
_PARENTERAL_CONTROLLED = _rx(
    r"\b(?:morphine|hydromorphone|dilaudid|fentanyl|ketamine|lorazepam|ativan|midazolam|versed|diazepam|valium|"
    r"meperidine|demerol|phenobarbital)\b[^.\n;]{0,30}?\b(?:IV|IM|IVP|intravenous\w*|intramuscular\w*|SQ|"
    r"subcutaneous\w*)\b|"
    r"\b(?:IV|IM|IVP|intravenous|intramuscular)[ \t](?:morphine|hydromorphone|dilaudid|fentanyl|ketamine|lorazepam|"
    r"ativan|"
    r"midazolam|versed|diazepam|meperidine)\b"
)
_DEESCALATION = _rx(
    r"\b(?:comfort[ \t](?:care|measures)|hospice|de-?escalat\w+|transition\w*[ \t]to[ \t]comfort|withdraw\w*[ \t]"
    r"(?:of[ \t])?(?:care|life[- ]sustaining)|(?:made|changed[ \t]to|now)[ \t]DNR|"
    r"decision[ \t]not[ \t]to[ \t]resuscitate)\b"
)
_SDOH = _rx(
    r"\b(?:(?:unable|cannot|can't|could[ \t]not|couldn't)[ \t](?:to[ \t])?afford|uninsured|"
    r"no[ \t](?:health[ \t])?insurance|"
    r"lack[ \t]of[ \t](?:insurance|transportation)|homeless\w*|housing[ \t](?:insecurity|instability)|"
    r"food[ \t]insecurity|"
    r"no[ \t]transportation|transportation[ \t]barriers?)\b"
)


def _drug_negated(text: str, region: Span, m: re.Match[str]) -> bool:
    if _DRUG_NEGATED.search(_clause_before(text, region[0], m.start(), 40)):
        return True
    return bool(_DRUG_NEGATED_AFTER.match(text, m.end(), region[1]))


def _first_unnegated(text: str, rx: re.Pattern[str], regions: list[Span]) -> re.Match[str] | None:
    for a, b in regions:
        for m in rx.finditer(text, a, b):
            if not _drug_negated(text, (a, b), m):
                return m
    return None


def risk_element(text: str, regions: list[Span], hospital: bool = False) -> Element:
    """AMA table, risk of complications and/or morbidity or mortality of patient management, from the
    assessment, plan, course and disposition. `hospital`: the patient is already in the hospital (the
    decision to admit is not this note's)."""

    def span(m: re.Match[str]) -> tuple[Span, ...]:
        return ((m.start(), m.end()),)

    high = [
        (_EMERGENCY_SURGERY, "decision regarding emergency major surgery"),
        (_INTENSIVE_MONITORING, "drug therapy requiring intensive monitoring for toxicity"),
        (_PARENTERAL_CONTROLLED, "parenteral controlled substances"),
        (_DEESCALATION, "decision to de-escalate care because of poor prognosis"),
        (_ESCALATION, "escalation of hospital-level care"),
    ]
    if not hospital:
        high.insert(0, (_HOSPITALIZATION, "decision regarding hospitalization"))
    for rx, why in high:
        m = _first_unnegated(text, rx, regions)
        if m:
            return Element(3, why, span(m))
    for a, b in regions:
        for m in _ELECTIVE_SURGERY.finditer(text, a, b):
            left, right = _sentence_bounds(text, m.start(), m.end())
            if _SURGICAL_RISK_FACTORS.search(text, left, right):
                return Element(3, "decision regarding elective major surgery with identified risk factors", span(m))
            return Element(2, "decision regarding elective major surgery", span(m))
    otc_spans = _Intervals((m.start(), m.end()) for a, b in regions for m in _OTC_DRUG.finditer(text, a, b))
    for a, b in regions:
        for m in _RX_DRUG.finditer(text, a, b):
            if otc_spans.overlaps(m.start(), m.start() + 1) or _drug_negated(text, (a, b), m):
                continue
            return Element(2, f"prescription drug management ({text[m.start() : m.end()]})", span(m))
    m = _first_unnegated(text, _SDOH, regions)
    if m:
        return Element(2, "diagnosis or treatment limited by social determinants of health", span(m))
    m = _first_unnegated(text, _OTC_DRUG, regions)
    if m:
        return Element(1, f"over-the-counter drugs ({text[m.start() : m.end()]})", span(m))
    m = _first_unnegated(text, _LOW_RISK, regions)
    if m:
        return Element(1, f"low-risk management ({text[m.start() : m.end()]})", span(m))
    m = _first_unnegated(text, _MINIMAL_RISK, regions)
    if m:
        return Element(0, text[m.start() : m.end()].lower(), span(m))
    return Element(0, "")


# --------------------------------------------------------------------------------------------------
# MDM as a whole
_VISIT_WORDS = _rx(
    r"\b(?:presents?|presenting|here[ \t](?:today[ \t])?for|seen[ \t]today|comes[ \t]in|came[ \t]in|complain(?:s|"
    r"ing)[ \t]of|"
    r"c/o|visit|follow[- ]?up)\b"
)


def has_assessment(text: str, secs: Sequence[Section] | None = None) -> bool:
    """The note is clearly an E/M visit: an assessment (or impression, diagnosis, MDM) section, and a
    history or exam (or words of a visit) besides it."""
    secs = sections(text) if secs is None else secs
    names = {s.name for s in secs}
    if not names & _AP_HEADERS:
        return False
    return bool(names & _HISTORY_HEADERS) or bool(_VISIT_WORDS.search(text))


def medical_decision_making(
    text: str,
    *,
    hospital: bool = False,
    diagnoses: Sequence[tuple[str, int, int]] = (),
) -> MDM | None:
    """The three MDM elements of an E/M note, or None when the note has no assessment or names no problem.
    `diagnoses` are (ICD-10-CM code, start, end) the engine found; those inside the assessment that no
    problem word covers count as problems too (chronic by category, otherwise minor)."""
    secs = sections(text)
    if not has_assessment(text, secs):
        return None
    regions = _problem_region(secs)
    problems = find_problems(text, regions, diagnoses)
    if not problems:
        return None
    return MDM(problems_element(problems), data_element(text, secs), risk_element(text, regions, hospital))


# --------------------------------------------------------------------------------------------------
# The suggestion
def _mdm_code(family: str, level: int, status: str) -> str:
    if family == "office":
        return (OFFICE_NEW_MDM if status == "new" else OFFICE_ESTABLISHED_MDM)[level]
    if family == "ed":
        return ED_MDM[level]
    if family == "hospital_initial":
        return HOSPITAL_INITIAL_MDM[level]
    return HOSPITAL_SUBSEQUENT_MDM[level]


def _time_code(family: str, minutes: int, status: str) -> str | None:
    table = {
        "office": NEW_PATIENT if status == "new" else ESTABLISHED,
        "hospital_initial": HOSPITAL_INITIAL_TIME,
        "hospital_subsequent": HOSPITAL_SUBSEQUENT_TIME,
    }.get(family)
    return _by_time(table, minutes) if table else None


def suggest_em(
    text: str,
    *,
    setting: str | None = None,
    patient_status: str | None = None,
    doc_type: str | None = None,
    diagnoses: Sequence[tuple[str, int, int]] = (),
    use_mdm: bool = True,
) -> EMSuggestion | None:
    """The E/M code the note supports best, or None (no E/M document, or nothing to choose a level by).

    Office and hospital initial/subsequent care: by total time or by MDM, whichever supports the higher
    level. ED visits: by MDM only. Discharge day management: by the discharge time (99239 when more than
    30 minutes are documented, otherwise 99238)."""
    # A carriage return reads as a space (same length, so evidence offsets stay true): CRLF and LF
    # notes must level alike.
    text = text.replace("\r", " ")
    kind = document_kind(text, doc_type, setting)
    family = {
        "office": "office",
        "ed": "ed",
        "admission": "hospital_initial",
        "progress": "hospital_subsequent",
        "discharge": "hospital_discharge",
    }.get(kind)
    if family is None:
        return None
    status, status_documented = ("established", True)
    if family == "office":
        status, status_documented = _status(text, patient_status)
    timed = visit_time(text)
    label = FAMILY_LABELS[family]

    if family == "hospital_discharge":
        if timed is not None:
            st, sentence = timed
            long = st.minutes > 30 or (st.minutes == 30 and st.more_than)
            code = DISCHARGE_LONG if long else DISCHARGE_SHORT
            said = f"{'more than ' if st.more_than else 'less than ' if st.less_than else ''}{st.minutes} min"
            why = (
                f"E/M by discharge time: {said} ({'more than 30 minutes' if long else '30 minutes or less'}) -> {code}"
            )
            return EMSuggestion(code, family, "time", None, True, st.minutes, None, (sentence,), (why,))
        marker = _DISCHARGE_TITLE.search(text) or _HOSPITAL_COURSE.search(text) or _DISCHARGE_MARKERS.search(text)
        where = (_trim(text, marker.start(), marker.end()),) if marker else ()
        return EMSuggestion(
            DISCHARGE_SHORT,
            family,
            "discharge",
            None,
            True,
            None,
            None,
            where,
            ("discharge day management: time not documented, so 99238 (30 minutes or less) applies",),
        )

    by_time: tuple[str, TimeStatement, Span] | None = None
    if timed is not None and family != "ed":
        st, sentence = timed
        time_code = _time_code(family, st.at_least, status)
        if time_code is not None:
            by_time = (time_code, st, sentence)
    mdm = (
        medical_decision_making(text, hospital=family.startswith("hospital"), diagnoses=diagnoses) if use_mdm else None
    )
    by_mdm = _mdm_code(family, mdm.level, status) if mdm is not None else None
    if by_time is None and by_mdm is None:
        return None

    time_why = mdm_why = None
    if by_time is not None:
        code, st, _ = by_time
        who = f", {status} patient" if family == "office" else f", {label}"
        time_why = f"E/M by total time: {st.at_least} min{who} -> {code}"
    if mdm is not None and by_mdm is not None:
        mdm_why = f"E/M by MDM: {mdm.explain()} -> {mdm.name}: {by_mdm}"
    use_time = by_time is not None and (by_mdm is None or int(by_time[0]) >= int(by_mdm))
    warnings: list[str] = []
    minutes: int | None
    if use_time:
        assert by_time is not None and time_why is not None
        code, st, sentence = by_time
        warnings.append(time_why)
        if mdm_why:
            warnings.append(f"{mdm_why} (lower or equal; time supports the level)")
        spans: tuple[Span, ...] = (sentence,)
        basis, minutes = "time", st.at_least
    else:
        assert mdm is not None and by_mdm is not None and mdm_why is not None
        code = by_mdm
        warnings.append(mdm_why)
        if time_why:
            warnings.append(f"{time_why} (lower; MDM supports the level)")
        spans = mdm.spans
        basis, minutes = "mdm", (by_time[1].at_least if by_time else None)
    if family == "ed" and timed is not None:
        warnings.append("emergency department levels are chosen by MDM only; documented time is not used")
    if family == "office" and not status_documented:
        warnings.append("new/established status not documented; assumed established")
    return EMSuggestion(
        code,
        family,
        basis,
        status if family == "office" else None,
        status_documented,
        minutes,
        mdm,
        spans,
        tuple(warnings),
    )


def _status(text: str, given: str | None) -> tuple[str, bool]:
    return patient_status(text, given)


# --------------------------------------------------------------------------------------------------
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
