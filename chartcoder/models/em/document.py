"""The kind of document (office, ED, hospital admission/subsequent/discharge, or no E/M at all)."""

from __future__ import annotations

import re

from chartcoder.models.em._patterns import _Gated, _rx
from chartcoder.models.em.sections import _AP_HEADERS, _VISIT_HEADERS, sections
from chartcoder.models.em.tables import DOC_TYPES

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
        return _given_kind(text, DOC_TYPES[doc_type], inpatient)
    heads = {s.name for s in sections(text)}
    has_history = bool(heads & _VISIT_HEADERS)
    kind = _not_a_visit_kind(text, has_ap=bool(heads & _AP_HEADERS), has_history=has_history)
    if kind is not None:
        return kind
    if inpatient:
        return _inpatient_kind(text, has_history)
    return _outpatient_kind(text)


def _given_kind(text: str, kind: str, inpatient: bool) -> str:
    """The kind the encounter's document type names, placed by the setting."""
    if kind == "progress" and not inpatient:
        return "office"  # an office progress note is an office visit
    if kind == "admission" and not inpatient and not _ADMIT_CUE.search(text):
        return "unknown"  # an H&P before elective surgery or a clinic H&P: not initial hospital care
    return kind


def _not_a_visit_kind(text: str, *, has_ap: bool, has_history: bool) -> str | None:
    """Documents that are read the same in and out of the hospital: operative and procedure reports,
    radiology/pathology reports, discharge summaries, consultations and therapists' notes."""
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
    return None


def _inpatient_kind(text: str, has_history: bool) -> str:
    if _PROGRESS_CUE.search(text):
        return "progress"
    if _HP_TITLE.search(text):
        return "admission"
    if _ED_STRONG.search(text):
        return "ed"
    if _ADMIT_CUE.search(text) and has_history:
        return "admission"
    return "unknown"


def _outpatient_kind(text: str) -> str:
    if _HP_TITLE.search(text) and _ADMIT_CUE.search(text):
        return "admission"
    if _ED_STRONG.search(text) or len(_ED_WEAK.findall(text)) >= 2:
        return "ed"
    if _ADMISSION_HEADER.search(text):
        return "unknown"  # a hospital document the encounter does not place in the hospital
    return "office"
