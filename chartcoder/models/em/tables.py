"""E/M code tables: time thresholds, MDM levels by family, document families, and which codes are procedures."""

from __future__ import annotations

from chartcoder.codes.em_tables import mdm_codes, time_thresholds

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
