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

The package, by concern: `time` (time statements), `status` (new or established), `sections` and
`document` (what kind of document, which parts), `problems`, `data` and `risk` (the three MDM elements),
`mdm` (the level two of three support), `suggest` (the code and its reasoning), `tables` (the code tables)
and `preventive` (preventive visits and BMI).
"""

from chartcoder.models.em.data import data_element
from chartcoder.models.em.document import document_kind
from chartcoder.models.em.mdm import has_assessment, medical_decision_making
from chartcoder.models.em.preventive import adult_bmi_code, documented_bmi, preventive_visit_code
from chartcoder.models.em.problems import Problem, find_problems, problems_element
from chartcoder.models.em.results import MDM, Element, EMLevel, EMSuggestion, TimeStatement
from chartcoder.models.em.risk import risk_element
from chartcoder.models.em.sections import Section, sections
from chartcoder.models.em.status import em_level_from_time, patient_status
from chartcoder.models.em.suggest import suggest_em
from chartcoder.models.em.tables import (
    ED_MDM,
    ESTABLISHED,
    HOSPITAL_INITIAL_MDM,
    HOSPITAL_SUBSEQUENT_MDM,
    NEW_PATIENT,
    OFFICE_ESTABLISHED_MDM,
    OFFICE_NEW_MDM,
    is_procedure,
)
from chartcoder.models.em.time import documented_minutes, time_statements, visit_time

__all__ = [
    "ED_MDM",
    "ESTABLISHED",
    "HOSPITAL_INITIAL_MDM",
    "HOSPITAL_SUBSEQUENT_MDM",
    "MDM",
    "NEW_PATIENT",
    "OFFICE_ESTABLISHED_MDM",
    "OFFICE_NEW_MDM",
    "EMLevel",
    "EMSuggestion",
    "Element",
    "Problem",
    "Section",
    "TimeStatement",
    "adult_bmi_code",
    "data_element",
    "document_kind",
    "documented_bmi",
    "documented_minutes",
    "em_level_from_time",
    "find_problems",
    "has_assessment",
    "is_procedure",
    "medical_decision_making",
    "patient_status",
    "preventive_visit_code",
    "problems_element",
    "risk_element",
    "sections",
    "suggest_em",
    "time_statements",
    "visit_time",
]
