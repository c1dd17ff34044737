"""E/M levels (chartcoder.models.em): time in the wordings clinicians use, MDM by the AMA table, ED and
hospital families, document kinds, modifier 25, evidence spans, and linear time on hostile notes.

Expectations come from the AMA/CMS rules (see tests/regression/em.yaml for the worked cases)."""

from __future__ import annotations

import importlib
import pkgutil
import time

import pytest

from chartcoder.codes.procedures import cpt
from chartcoder.domain.encounter import Encounter
from chartcoder.models import em
from chartcoder.models.em import (
    MDM,
    Element,
    document_kind,
    is_procedure,
    medical_decision_making,
    patient_status,
    suggest_em,
    visit_time,
)
from chartcoder.models.em._patterns import _Gated, _rx, _top_branches
from chartcoder.models.em.document import _ED_STRONG

# -- time ------------------------------------------------------------------------------------------

TIME_WORDINGS = [
    (
        "I spent a total of 42 minutes on the date of service, including reviewing records, examining the "
        "patient, counseling and documenting.",
        42,
    ),
    ("Total time: 35 min (excluding time for the separately reported joint injection).", 35),
    ("Time spent today in face-to-face and non-face-to-face activities was 25 minutes.", 25),
    ("45 minutes total time on the day of the encounter.", 45),
    ("Total time personally spent by me today on this patient's care was 31 minutes.", 31),
    ("Greater than 50% of the 40-minute visit was spent counseling.", 40),
    ("Total time 35 minutes excluding the separately billed procedure.", 35),
    ("Total time on the date of the encounter: 32 minutes. Level of service selected based on time.", 32),
    ("Visit time: 25 min", 25),
    ("Total time spent: 1 hour 10 minutes.", 70),
    ("Total time 40 minutes, of which 15 minutes were spent on the procedure.", 40),
    ("Spent 10 minutes counseling on smoking cessation. Total time on the date of the encounter 45 minutes.", 45),
    ("Total time 30-40 minutes.", 30),
]


@pytest.mark.parametrize("sentence,minutes", TIME_WORDINGS)
def test_visit_time_wordings(sentence: str, minutes: int) -> None:
    found = visit_time(sentence)
    assert found is not None, sentence
    statement, span = found
    assert statement.minutes == minutes
    assert sentence[statement.start : statement.end][:1].isdigit()
    assert span[0] <= statement.start < statement.end <= span[1]


NOT_VISIT_TIME = [
    "Procedure time: 20 minutes.",
    "Moderate sedation time 25 minutes.",
    "Critical care time: 45 minutes excluding procedures.",
    "Prolonged service time 30 minutes beyond the visit.",
    "Tourniquet time: 45 minutes.",
    "TOTAL TOURNIQUET TIME: 57 minutes",
    "The patient's right ankle tourniquet was deflated, time was 60 minutes.",
    "About 30 minutes were spent during the procedure and the Foley catheter was placed.",
    "Total time, including the procedure, was 30 minutes.",
    "Patient observed for 15 minutes after the injection with no reaction.",
    "Chest pain for 30 minutes, total of 3 episodes.",
    "Total urine output 1200 mL in 24 hours.",
    "Anesthesia time 95 minutes.",
    "Door-to-needle time 45 minutes.",
    "Symptoms began 20 minutes before arrival.",
]


@pytest.mark.parametrize("sentence", NOT_VISIT_TIME)
def test_time_that_is_not_the_visits(sentence: str) -> None:
    assert visit_time(sentence) is None


def test_more_than_and_less_than() -> None:
    st, _ = visit_time("More than 30 minutes were spent on discharge planning.") or (None, None)
    assert st is not None and st.minutes == 30 and st.more_than
    st, _ = visit_time("Total time less than 15 minutes.") or (None, None)
    assert st is not None and st.less_than and st.at_least == 14


def test_total_statement_wins_over_counseling_minutes() -> None:
    text = "I spent 20 minutes counseling on diet. Total time on the date of the encounter: 34 minutes."
    found = visit_time(text)
    assert found is not None and found[0].minutes == 34


def test_office_time_thresholds_met_or_exceeded() -> None:
    base = (
        "Established patient.\nA/P: Insect bite, minor. Cool compresses.\n"
        "Total time on the date of the encounter: {} minutes."
    )
    expected = {9: None, 10: "99212", 19: "99212", 20: "99213", 29: "99213", 30: "99214", 39: "99214", 40: "99215"}
    for minutes, code in expected.items():
        level = em.em_level_from_time(base.format(minutes))
        assert (level.code if level else None) == code, minutes
    new = "New patient.\nTotal time on the date of the encounter: {} minutes."
    for minutes, code in {14: None, 15: "99202", 30: "99203", 45: "99204", 60: "99205", 90: "99205"}.items():
        level = em.em_level_from_time(new.format(minutes))
        assert (level.code if level else None) == code, minutes


# -- linear time on hostile notes -----------------------------------------------------------------

HOSTILE = {
    "newlines": "\n" * 20000,
    "digits": "1" * 15000,
    "digits then minutes": "1" * 15000 + " minutes",
    "blanks": " " * 50000,
    "minute quantities": "1 min " * 8000,
    "time statements": "Total time: 30 minutes, " * 4000,
    "headers": "Plan:\n" * 5000,
    "capitals": "A" * 30000 + ":",
    "colons": ":" * 30000,
    "hyphenated digits": "1-" * 20000 + "min",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_notes_run_in_linear_time(name: str) -> None:
    text = HOSTILE[name]
    suggest_em(text)  # warm the caches
    start = time.perf_counter()
    suggest_em(text)
    suggest_em(text, setting="inpatient")
    elapsed = time.perf_counter() - start
    limit = 0.1 if name in ("newlines", "digits") else 1.0  # two calls; generous for loaded CI machines
    assert elapsed < limit, f"{name}: {elapsed:.3f}s"


# -- new or established ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,status",
    [
        ("New patient here to establish care.", "new"),
        ("52-year-old woman, new to this facility.", "new"),
        ("Established patient seen for follow-up.", "established"),
        ("She returns today for follow-up of her knee.", "established"),
        ("Last seen by me in March.", "established"),
        ("This is not a new patient.", "established"),
    ],
)
def test_patient_status_wordings(text: str, status: str) -> None:
    assert patient_status(text) == (status, True)


def test_patient_status_from_encounter_and_default() -> None:
    assert patient_status("Knee pain.", "new") == ("new", True)
    assert patient_status("Knee pain.") == ("established", False)


# -- MDM -------------------------------------------------------------------------------------------

EST_MODERATE = """CC: Follow-up of blood pressure and cholesterol.
HPI: Established patient, 64-year-old here for follow-up of hypertension and hyperlipidemia.
Exam: BP 128/78.
A/P:
1. Hypertension, stable. Continue lisinopril 20 mg daily.
2. Hyperlipidemia, at goal. Continue atorvastatin.
"""


def test_mdm_elements_and_warning_string() -> None:
    result = suggest_em(EST_MODERATE)
    assert result is not None and result.code == "99214" and result.basis == "mdm"
    assert result.mdm is not None
    assert (result.mdm.problems.level, result.mdm.data.level, result.mdm.risk.level) == (2, 0, 2)
    assert result.warnings[0] == (
        "E/M by MDM: problems moderate (2 stable chronic illnesses: hypertension, hyperlipidemia), "
        "data minimal or none, risk moderate (prescription drug management (lisinopril)) -> moderate: 99214"
    )
    words = {EST_MODERATE[a:b] for a, b in result.spans}
    assert {"Hypertension", "Hyperlipidemia", "lisinopril"} <= words


@pytest.mark.parametrize(
    "levels,expected",
    [((0, 0, 0), 0), ((3, 0, 0), 0), ((3, 1, 0), 1), ((2, 2, 0), 2), ((1, 3, 3), 3), ((3, 2, 1), 2), ((0, 3, 3), 3)],
)
def test_mdm_level_is_what_two_of_three_elements_meet(levels: tuple[int, int, int], expected: int) -> None:
    p, d, r = (Element(level, "") for level in levels)
    assert MDM(p, d, r).level == expected


def _mdm(ap: str, body: str = "HPI: Established patient seen today.\n", **kw: object) -> MDM:
    found = medical_decision_making(body + "Assessment and plan:\n" + ap, **kw)  # type: ignore[arg-type]
    assert found is not None, ap
    return found


@pytest.mark.parametrize(
    "ap,level",
    [
        ("Insect bite of the arm. Cool compresses.", 0),
        ("Insect bites and a common cold. Rest.", 1),
        ("Hypertension, controlled.", 1),
        ("Sprain of right ankle. Ice.", 1),
        ("Hypertension and hyperlipidemia, both stable.", 2),
        ("Type 2 diabetes, not at goal.", 2),
        ("COPD without exacerbation.", 1),
        ("Mass of the left breast, etiology uncertain.", 2),
        ("Pyelonephritis.", 2),
        ("Closed fracture of the distal radius.", 2),
        ("Chest pain, rule out MI.", 2),
        ("NSTEMI.", 3),
        ("COPD with severe exacerbation.", 3),
        ("Viral URI, mild and self-limited.", 0),
        ("Hypertension. Return if chest pain or stroke symptoms develop.", 1),
        ("Bladder cancer, staging pending.", 2),
        ("History of breast cancer in remission, stable.", 1),
    ],
)
def test_problems_element(ap: str, level: int) -> None:
    assert _mdm(ap).problems.level == level, _mdm(ap).problems


def test_consent_risks_are_not_problems() -> None:
    m = _mdm("Osteoarthritis of the knee. Risks discussed including DVT, pulmonary embolism, infection and fracture.")
    assert m.problems.level == 1 and "osteoarthritis" in m.problems.reason


@pytest.mark.parametrize(
    "body,level",
    [
        ("HPI: Seen today.\n", 0),
        ("HPI: Seen today.\nLabs: CBC normal. CMP normal.\n", 1),
        ("HPI: Seen today. History obtained from the mother.\n", 1),
        ("HPI: Seen today.\nLabs: CBC normal. CMP normal. TSH 2.1.\n", 2),
        ("HPI: Seen today. Discussed with Dr. Lee, cardiology.\n", 2),
        ("HPI: Seen today.\nChest x-ray: I independently interpreted the images, no infiltrate.\n", 2),
        ("HPI: Seen today. Outside records reviewed. CBC and BMP reviewed.\nDiscussed with the on-call surgeon.\n", 3),
        ("HPI: Seen today.\nECG performed in clinic and interpreted by me: sinus rhythm.\n", 0),
        ("HPI: Seen today.\nChest x-ray if cough persists.\n", 0),
        ("HPI: Seen today.\nChest x-ray ordered, chest x-ray reviewed.\n", 0),
    ],
)
def test_data_element(body: str, level: int) -> None:
    assert _mdm("Cough.", body).data.level == level


@pytest.mark.parametrize(
    "plan,level,why",
    [
        ("Cough. Rest and fluids.", 0, ""),
        ("Cough. Honey and over-the-counter guaifenesin.", 1, "over-the-counter"),
        ("Cough. Start benzonatate 100 mg three times daily.", 2, "prescription drug management"),
        ("Cough. Continue lisinopril; refill sent.", 2, "prescription drug management"),
        ("Cough. No antibiotics indicated. Acetaminophen as needed.", 1, "over-the-counter"),
        ("Cough. Oseltamivir would not change management.", 0, ""),
        ("Cough. Unable to afford an inhaler; samples given.", 2, ""),
        ("Pneumonia. Admit to the hospital for IV antibiotics.", 3, "hospitalization"),
        ("Appendicitis. Taken to the OR tonight.", 3, "emergency major surgery"),
        ("Atrial fibrillation. Warfarin with INR check in 3 days.", 3, "intensive monitoring"),
        ("Renal colic. Morphine 4 mg IV given.", 3, "parenteral controlled"),
        ("Knee osteoarthritis. Decided to proceed with total knee arthroplasty.", 2, "elective major surgery"),
    ],
)
def test_risk_element(plan: str, level: int, why: str) -> None:
    risk = _mdm(plan).risk
    assert risk.level == level, risk
    assert why in risk.reason


def test_hospital_notes_do_not_count_the_admission_itself_as_risk() -> None:
    text = "HPI: Seen today.\nAssessment and plan: Pneumonia. Admit to medicine."
    assert medical_decision_making(text) is not None
    office, hospital = medical_decision_making(text), medical_decision_making(text, hospital=True)
    assert office is not None and hospital is not None
    assert office.risk.level == 3 and hospital.risk.level < 3


def test_engine_diagnoses_count_as_problems_when_no_word_covers_them() -> None:
    text = "HPI: Seen today.\nAssessment: Entrapment of the superior gluteal nerve.\n"
    assert medical_decision_making(text) is None
    start = text.index("Entrapment")
    found = medical_decision_making(text, diagnoses=[("G57.80", start, start + 10)])
    assert found is not None and found.problems.level == 0


def test_mdm_needs_an_assessment() -> None:
    assert medical_decision_making("Hypertension, stable. Continue lisinopril.") is None
    assert suggest_em("BP check by the nurse. BP 128/80.") is None


# -- time or MDM, the higher -----------------------------------------------------------------------


def test_time_or_mdm_whichever_is_higher() -> None:
    by_mdm = EST_MODERATE + "Total time on the date of the encounter: 22 minutes.\n"
    result = suggest_em(by_mdm)
    assert result is not None and result.code == "99214" and result.basis == "mdm"
    assert any(w.startswith("E/M by total time: 22 min") and "lower" in w for w in result.warnings)
    by_time = EST_MODERATE + "Total time on the date of the encounter: 41 minutes.\n"
    result = suggest_em(by_time)
    assert result is not None and result.code == "99215" and result.basis == "time"
    assert result.warnings[0] == "E/M by total time: 41 min, established patient -> 99215"


def test_new_patient_from_the_note_or_the_encounter() -> None:
    new = suggest_em(EST_MODERATE.replace("Established patient", "New patient"))
    assert new is not None and new.code == "99204"
    silent = EST_MODERATE.replace("Established patient, 64-year-old here for follow-up of", "64-year-old with")
    given = suggest_em(silent, patient_status="new")
    assert given is not None and given.code == "99204" and given.status_documented
    assumed = suggest_em(silent)
    assert assumed is not None and assumed.code == "99214" and not assumed.status_documented
    assert "new/established status not documented; assumed established" in assumed.warnings


# -- document kinds and families -------------------------------------------------------------------

ED_NOTE = """EMERGENCY DEPARTMENT NOTE
Chief complaint: Fever and flank pain.
HPI: 34-year-old woman with fever to 102 F, chills and right flank pain.
ED course: CBC shows WBC 14.1. Basic metabolic panel normal. Urinalysis positive. Urine culture sent.
Impression: Acute pyelonephritis.
Disposition: Home on cephalexin.
Total time 70 minutes.
"""


def test_ed_visits_by_mdm_only() -> None:
    result = suggest_em(ED_NOTE)
    assert result is not None and result.family == "ed" and result.code == "99284" and result.basis == "mdm"
    assert "emergency department levels are chosen by MDM only; documented time is not used" in result.warnings


@pytest.mark.parametrize(
    "text,kind",
    [
        (ED_NOTE, "ed"),
        ("ED Note - Fast Track\nImpression: Conjunctival foreign body.", "ed"),
        ("CHIEF COMPLAINT: Cough.\nER COURSE: Nebulizer given.\nIMPRESSION: Asthma.", "ed"),
        ("HPI: Presents to the emergency department today with pain. In the ED, given ibuprofen.", "ed"),
        ("HPI: She was seen in the ER last week for a sprain.\nAssessment: Ankle sprain.", "office"),
        ("PREOPERATIVE DIAGNOSIS: Hernia.\nPOSTOPERATIVE DIAGNOSIS: Same.", "operative"),
        ("PROCEDURE NOTE - Incision and Drainage\nIndication: abscess.\nDiagnosis: Abscess.", "operative"),
        ("EXAM: CT chest.\nTECHNIQUE: Axial images.\nFINDINGS: Nodule.\nIMPRESSION: Nodule.", "report"),
        ("SURGICAL PATHOLOGY REPORT\nGROSS: Five cores.\nFINAL DIAGNOSIS: Carcinoma.", "report"),
        ("DISCHARGE SUMMARY\nHospital course: Treated for pneumonia.", "discharge"),
        ("Hospital course: Uneventful.\nDischarge diagnoses: Pneumonia.", "discharge"),
        ("REASON FOR CONSULTATION: Hematuria.\nIMPRESSION: Hematuria.", "consult"),
        (
            "DIAGNOSIS: Ankle sprain.\nHISTORY: Referred to physical therapy.\nShort-term goals: walk.\n"
            "Plan of care: therapeutic exercise.",
            "therapy",
        ),
        ("Established patient.\nA/P: Hypertension.", "office"),
    ],
)
def test_document_kind_from_the_words(text: str, kind: str) -> None:
    assert document_kind(text) == kind


@pytest.mark.parametrize(
    "text,setting,kind",
    [
        ("Progress note, hospital day 3.\nAssessment and plan: Pneumonia.", "inpatient", "progress"),
        ("HISTORY AND PHYSICAL\nAssessment and plan: Pneumonia. Admit to medicine.", "inpatient", "admission"),
        ("HISTORY AND PHYSICAL\nAssessment and plan: Pneumonia. Admit to medicine.", None, "admission"),
        ("HPI: Cough.\nAssessment and plan: Pneumonia.", "inpatient", "unknown"),
        (
            "HPI: Presented to the emergency department.\nAssessment and plan: Pneumonia. Admit to medicine.",
            "inpatient",
            "admission",
        ),
    ],
)
def test_document_kind_in_the_hospital(text: str, setting: str | None, kind: str) -> None:
    assert document_kind(text, setting=setting) == kind


@pytest.mark.parametrize(
    "doc_type,setting,kind",
    [
        ("ed_note", None, "ed"),
        ("ed_note", "inpatient", "ed"),
        ("history_physical", "inpatient", "admission"),
        ("progress_note", "inpatient", "progress"),
        ("discharge_summary", "inpatient", "discharge"),
        ("progress_note", "outpatient", "office"),
        ("history_physical", "outpatient", "unknown"),
        ("operative_report", None, "operative"),
    ],
)
def test_doc_type_argument(doc_type: str, setting: str | None, kind: str) -> None:
    assert document_kind("HPI: Cough.\nAssessment: Bronchitis.", doc_type, setting) == kind


def test_doc_type_ed_note_selects_ed_levels() -> None:
    text = "HPI: Sore throat for 2 days.\nImpression: Viral pharyngitis.\nPlan: Acetaminophen as needed."
    office, ed = suggest_em(text), suggest_em(text, doc_type="ed_note")
    assert office is not None and office.family == "office" and office.code == "99213"
    assert ed is not None and ed.family == "ed" and ed.code == "99283"


HOSPITAL_PROGRESS = """Progress note - hospital day 3
Subjective: Breathing better.
Assessment and plan:
1. Community-acquired pneumonia, improving. Continue ceftriaxone.
"""


def test_hospital_families() -> None:
    sub = suggest_em(HOSPITAL_PROGRESS, setting="inpatient")
    assert sub is not None and (sub.family, sub.code) == ("hospital_subsequent", "99232")
    timed = suggest_em(HOSPITAL_PROGRESS + "Total time today: 52 minutes.\n", setting="inpatient")
    assert timed is not None and timed.code == "99233" and timed.basis == "time"
    initial = suggest_em(
        "HISTORY AND PHYSICAL\nHPI: Vomiting.\nAssessment and plan: Diabetic ketoacidosis. Admit to the ICU. "
        "Insulin drip.",
        setting="inpatient",
    )
    assert initial is not None and (initial.family, initial.code) == ("hospital_initial", "99223")
    for minutes, code in ((39, None), (40, "99221"), (55, "99222"), (75, "99223")):
        text = f"HISTORY AND PHYSICAL\nHPI: Admit to observation for chest pain.\nTotal time: {minutes} minutes."
        found = suggest_em(text, setting="inpatient")
        assert (found.code if found else None) == code, minutes


@pytest.mark.parametrize(
    "sentence,code",
    [
        ("Discharge time: 25 minutes.", "99238"),
        ("Discharge time: 30 minutes.", "99238"),
        ("Time spent on discharge day management: 31 minutes.", "99239"),
        ("More than 30 minutes were spent on the discharge.", "99239"),
        ("", "99238"),
    ],
)
def test_discharge_day_management(sentence: str, code: str) -> None:
    text = f"DISCHARGE SUMMARY\nHospital course: Treated for cellulitis.\nDischarge diagnoses: Cellulitis.\n{sentence}"
    found = suggest_em(text, setting="inpatient")
    assert found is not None and found.family == "hospital_discharge" and found.code == code
    for a, b in found.spans:
        assert text[a:b].strip() == text[a:b] and text[a:b]


def test_no_em_for_procedure_reports_and_inpatient_office_notes() -> None:
    assert suggest_em("PREOPERATIVE DIAGNOSIS: Hernia.\nPOSTOPERATIVE DIAGNOSIS: Same.\nTotal time 55 minutes.") is None
    assert suggest_em("HPI: Cough.\nA/P: Bronchitis.\nTotal time 40 minutes.", setting="inpatient") is None


# -- modifier 25 and the engine ----------------------------------------------------------------------


def test_is_procedure() -> None:
    codes = cpt()
    for code, expected in [
        ("20610", True),
        ("12001", True),
        ("96372", True),
        ("90471", True),
        ("69210", True),
        ("36415", False),
        ("87880", False),
        ("71046", False),
        ("93000", False),
        ("94010", False),
        ("90686", False),
        ("99214", False),
        ("99406", False),
        ("96127", False),
    ]:
        pc = codes.get(code)
        assert pc is not None, code
        assert is_procedure(code, pc.category) is expected, code


KNEE = """CC: Right knee pain.
HPI: Established patient, 66-year-old with right knee osteoarthritis and type 2 diabetes.
Exam: Right knee effusion, crepitus.
Procedure: After consent, the right knee was prepped and injected with 40 mg triamcinolone. Tolerated well.
Assessment and plan:
1. Primary osteoarthritis of right knee, worsening. Injection given today.
2. Type 2 diabetes mellitus without complications, at goal. Continue metformin.
"""


def test_modifier_25_beside_a_procedure(suggest) -> None:  # type: ignore[no-untyped-def]
    result = suggest(KNEE, setting="outpatient", age=66)
    by_code = {s.code: s for s in result.suggestions}
    assert "20610" in by_code and "99214" in by_code
    visit = by_code["99214"]
    assert "modifier 25: significant, separately identifiable E/M on the day of a procedure (20610)" in visit.warnings
    assert visit.warnings[0].startswith("E/M by MDM: problems moderate")
    for e in visit.evidence:
        assert KNEE[e.start : e.end] == e.text


def test_no_modifier_25_beside_tests_only(suggest) -> None:  # type: ignore[no-untyped-def]
    text = EST_MODERATE + "Rapid strep test performed in clinic: negative.\n"
    result = suggest(text, setting="outpatient", age=64)
    visit = next(s for s in result.suggestions if s.code == "99214")
    assert not any(w.startswith("modifier 25") for w in visit.warnings)


def test_preventive_visit_is_not_also_coded_by_mdm(suggest) -> None:  # type: ignore[no-untyped-def]
    text = (
        "Annual physical exam, established patient.\nHPI: Here for a routine adult health checkup, no complaints.\n"
        "Assessment and plan: Encounter for general adult medical examination without abnormal findings. "
        "Hypertension, stable, continue lisinopril."
    )
    result = suggest(text, setting="outpatient", age=45)
    codes = [s.code for s in result.suggestions]
    assert "99396" in codes
    assert not set(codes) & {"99212", "99213", "99214", "99215"}


def test_add_em_takes_the_document_type(service) -> None:  # type: ignore[no-untyped-def]
    engine = service.engine
    text = (
        "Subjective: Breathing better.\n"
        "Assessment and plan: Community-acquired pneumonia, improving. Continue ceftriaxone."
    )
    found: dict = {}
    engine._add_em(found, text, Encounter(setting="inpatient"))
    assert not found  # an unlabelled inpatient note: no family to choose
    engine._add_em(found, text, Encounter(setting="inpatient"), document="progress_note")
    assert ("CPT", "99232") in found
    cand = found[("CPT", "99232")]
    assert all(text[e.start : e.end] == e.text for e in cand.evidence)


def test_em_codes_are_in_the_demo_set() -> None:
    codes = cpt()
    for code in [*em.HOSPITAL_INITIAL_MDM, *em.HOSPITAL_SUBSEQUENT_MDM, "99238", "99239", "99281", *em.ED_MDM]:
        pc = codes.get(code)
        assert pc is not None and pc.source == "chartcoder/codes/data/cpt_demo.csv", code
        assert pc.category in ("E/M hospital", "E/M emergency")


# -- whole-note patterns searched by their alternatives ---------------------------------------------


def _gated_patterns() -> list[tuple[str, _Gated]]:
    """Every gated pattern in every module of the E/M package."""
    modules = [importlib.import_module(f"{em.__name__}.{m.name}") for m in pkgutil.iter_modules(em.__path__)]
    found = [(f"{mod.__name__}.{name}", value) for mod in modules for name, value in vars(mod).items()]
    return [(name, value) for name, value in found if isinstance(value, _Gated)]


def _written_notes() -> list[str]:
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "us_notes" / "written_notes.jsonl"
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


GATE_TEXTS = [
    "ED COURSE: The patient was given fluids.",
    "Patient brought in by EMS after a fall. Triage vitals stable.",
    "Emergency Department Note\nChief complaint: chest pain.",
    "PREOPERATIVE DIAGNOSIS:, Right inguinal hernia.,POSTOPERATIVE DIAGNOSIS:, Same.",
    "Established patient here today for follow-up of hypertension. Last seen here in March.",
    "New patient establishing care. First visit to this clinic.",
    "She presents to the ER today with cough and was seen in the ER yesterday, in the ED, today.",
    "REASON FOR CONSULTATION: Chest pain.",
    "Name of procedure: Colonoscopy. Indications for the procedure: screening. Specimens: none.",
    "retriage of the patient; emergencies; noted; coursework; arrivals",  # near misses
    "ED note\n",
    "",
]


def test_each_alternative_gated_pattern_finds_what_the_whole_pattern_finds() -> None:
    """A note is searched with only the alternatives whose literal words it holds: the matches (spans
    and groups, first, all, and all as strings) are those of the whole pattern, on the written U.S.
    notes and on notes built to open one alternative or to nearly match one."""
    texts = GATE_TEXTS + _written_notes()
    assert len(texts) > 40
    patterns = _gated_patterns()
    assert len(patterns) >= 15
    narrowed = 0
    for name, gated in patterns:
        for text in texts:
            opened = any(w in text.lower() for w in gated.words)
            whole = [(m.span(), m.groups()) for m in gated.rx.finditer(text)] if opened else []
            assert [(m.span(), m.groups()) for m in gated.finditer(text)] == whole, (name, text[:60])
            first = gated.search(text)
            assert (first.span() if first else None) == (whole[0][0] if whole else None), (name, text[:60])
            assert gated.findall(text) == (gated.rx.findall(text) if opened else []), (name, text[:60])
            used = gated._pattern(text)
            narrowed += used is not None and used is not gated.rx
    assert narrowed > 50  # the narrowing is real: many searches ran on fewer alternatives


def test_alternative_words_are_read_from_the_pattern() -> None:
    """Each alternative's words are a run of literal characters it cannot match without, or one per
    branch of a group; a pattern with global inline flags is not split."""
    gated = _Gated(_rx(r"\bat[ \t]triage\b|\b(?:mode[ \t]of[ \t]arrival|BIBA)\b|^[ \t]*x$"), "triage", "a")
    assert [need for _, need in gated._branches] == [frozenset({"triage"}), frozenset({"arrival", "biba"}), None]
    assert gated._pattern("Seen at triage.") is not gated.rx
    assert gated.search("Seen at triage.") is not None
    assert gated._pattern("no words") is None  # the pattern's own words gate first, as before
    used = gated._pattern("a thing")
    assert used is not None and used.pattern == r"^[ \t]*x$"  # an alternative without words is always searched
    assert _top_branches(r"(?i)a|b") is None
    assert _top_branches(r"[|\]]a|(b|c)|\|d") == [r"[|\]]a", "(b|c)", r"\|d"]


def test_a_note_beyond_ascii_is_searched_with_the_whole_pattern() -> None:
    """Case folding beyond ASCII can match what lower-casing does not show (re.I matches the long s
    'ſ' to 's'), so such a note gets the whole pattern, as before."""
    gated = _ED_STRONG
    text = "Brought in by EMS. Caf\u00e9 worker."
    assert gated._pattern(text) is gated.rx
    assert gated.search(text) is not None
