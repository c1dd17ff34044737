"""Fixed tables of the generator: code systems, note kinds and their settings, E/M time ranges, laterality words,
the categories that may repeat in one note and the words a typo never touches."""

from __future__ import annotations

from chartcoder.codes.em_tables import time_ranges

ICD = "ICD-10-CM"
CPT = "CPT"
HCPCS = "HCPCS"
KINDS = ("office", "urgent", "ed", "discharge", "procedure", "operative", "consult", "hp", "radiology")
KIND_NAMES = {
    "office": "office_progress_note",
    "urgent": "urgent_care_note",
    "ed": "emergency_department_note",
    "discharge": "discharge_summary",
    "procedure": "procedure_note",
    "operative": "operative_report",
    "consult": "consultation_note",
    "hp": "history_and_physical",
    "radiology": "radiology_report",
}
# The coding policy codes every document from the professional claim's side (outpatient rules: an uncertain
# diagnosis is coded as its sign) except the discharge summary, which is the facility's inpatient record.
SETTING = {kind: "outpatient" for kind in KINDS}
SETTING["discharge"] = "inpatient"
# The `where` lists of conditions_*.yaml a kind draws from (a consult sees what an office sees, an admission
# H&P what a discharge summary and an ED see).
WHERE_ALIAS = {"consult": ("consult", "office"), "hp": ("hp", "discharge", "ed")}
MAX_ICD = 7
# 2021+ AMA office E/M time ranges (total time on the date of the encounter).
EM_NEW = time_ranges("new")
EM_EST = time_ranges("established")
PREVENTIVE_AGES = ((0, 0), (1, 4), (5, 11), (12, 17), (18, 39), (40, 64), (65, 200))
SIDE_WORDS = {
    "right": ("right", "right", "right", "right", "R", "rt"),
    "left": ("left", "left", "left", "left", "L", "lt"),
    "bilateral": ("bilateral", "bilateral", "bilateral", "B/L"),
}
SIDE_WEIGHTS = {"right": 44.0, "left": 44.0, "bilateral": 12.0, "unspecified": 6.0}
# Categories where one note may hold several codes (statuses, histories, long-term drugs).
MULTI_OK = frozenset(("Z79", "Z80", "Z81", "Z82", "Z83", "Z84", "Z85", "Z86", "Z87"))
MULTI_OK |= frozenset(("Z89", "Z90", "Z91", "Z92", "Z94", "Z95", "Z96", "Z98", "Z99"))
# Words a typo never touches: negation, history, family, uncertainty and laterality cues, time statements.
CRITICAL_WORDS = frozenset(
    (
        *("no", "not", "denies", "denied", "deny", "negative", "without", "never", "ruled"),
        *("history", "family", "mother", "father", "sister", "brother", "former", "quit", "prior", "remote"),
        *("likely", "probable", "possible", "suspected", "suspect", "concern", "questionable", "presumed"),
        *("right", "left", "bilateral", "resolved", "status", "minutes", "total", "spent"),
    )
)
