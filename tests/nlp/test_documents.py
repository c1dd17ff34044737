"""Real U.S. documents: sections and sentences of MTSamples transcriptions (headers inline, "HEADER:,"
with a comma, numbered lists on one line) and of typed notes, and the document type of each note."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser  # type: ignore[attr-defined]

import pytest
import spacy

from chartcoder.nlp import documents as documents_module
from chartcoder.nlp import sections as sections_module
from chartcoder.nlp import sentences as sentences_module
from chartcoder.nlp.documents import DOCUMENT_TYPES, classify_document, document_rules
from chartcoder.nlp.pipeline import TRANSCRIPTION_INFIXES, _split_transcription_commas
from chartcoder.nlp.sections import MAX_HEADER, find_sections
from chartcoder.nlp.sentences import inline_list_items

MTSAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mtsamples" / "notes.jsonl"


@lru_cache(maxsize=1)
def _notes() -> dict[str, str]:
    with MTSAMPLES.open(encoding="utf-8") as fh:
        return {row["id"]: row["text"] for row in map(json.loads, fh)}


def mtsample(note_id: str) -> str:
    if not MTSAMPLES.exists():
        pytest.skip(f"MTSamples notes not found at {MTSAMPLES}")
    return _notes()[note_id]


def label_at(text: str, phrase: str, occurrence: int = 1) -> str | None:
    """The section label at the n-th occurrence of a phrase."""
    pos = -1
    for _ in range(occurrence):
        pos = text.index(phrase, pos + 1)
    return find_sections(text).at(pos)


@pytest.fixture(scope="module")
def nlp():
    """Tokenizer, sections, document type and sentences as the clinical pipeline runs them (no concepts)."""
    pipe = spacy.blank("en")
    _split_transcription_commas(pipe)
    for name in ("chartcoder_sections", "chartcoder_document", "chartcoder_sentences"):
        pipe.add_pipe(name)
    return pipe


# ------------------------------------------------------------------------------------------------
# Sections in MTSamples transcriptions


def test_operative_report_diagnoses_procedure_and_narrative():
    text = mtsample("mtsd-082")  # "PREOPERATIVE DIAGNOSIS:,  Right inguinal hernia.,POSTOPERATIVE DIAGNOSIS:, ..."
    assert label_at(text, "Right inguinal hernia", 1) == "preop_diagnosis"
    assert label_at(text, "Right inguinal hernia", 2) == "postop_diagnosis"
    assert label_at(text, "Right inguinal hernia repair") == "procedures"
    assert label_at(text, "This patient is a 9-year-old boy") == "indications"
    assert label_at(text, "The patient was taken to the operating room") == "procedure_detail"


def test_same_moves_the_preoperative_diagnosis_to_postoperative():
    text = mtsample("mtsd-299")  # "POSTOPERATIVE DIAGNOSIS: , Same.,"
    assert label_at(text, "Nasal deformity, status post rhinoplasty") == "postop_diagnosis"
    assert "preop_diagnosis" not in find_sections(text).labels()
    for note_id in ("mtsd-180", "mtsd-303"):
        labels = [s.label for s in find_sections(mtsample(note_id)).sections]
        assert labels[:2] == ["postop_diagnosis", "postop_diagnosis"], note_id


def test_different_postoperative_diagnosis_keeps_the_preoperative_one():
    text = mtsample("mtsd-080")  # preop "Right inguinal hernia", postop "Direct right inguinal hernia"
    assert label_at(text, "Right inguinal hernia.") == "preop_diagnosis"
    assert label_at(text, "Direct right inguinal hernia") == "postop_diagnosis"


def test_blood_loss_anesthesia_and_complications_have_their_own_sections():
    text = mtsample("mtsd-023")
    assert label_at(text, "Minimal.") == "ebl"
    assert label_at(text, "General.") == "anesthesia"
    assert label_at(text, "None.") == "complications"
    assert label_at(text, "Repair of umbilical hernia") == "procedures"


def test_exam_subheaders_stay_in_the_physical_exam():
    text = mtsample("mtsd-000")  # "OBJECTIVE:,Vitals: ...,HEENT:  Her throat ...,Neck:  Supple ...,Lungs:  Clear."
    idx = find_sections(text)
    assert label_at(text, "Her throat was mildly erythematous") == "physical_exam"
    assert label_at(text, "Supple without adenopathy") == "physical_exam"
    assert label_at(text, "Lungs:  Clear") == "physical_exam"
    assert {"heent", "neck", "lungs"} <= {h.name for h in idx.subheaders}
    assert label_at(text, "Allergic rhinitis") == "assessment_plan"
    assert label_at(text, "She will try Zyrtec") == "plan"
    text = mtsample("mtsd-095")  # "...,CHEST:  Clear to auscultation.,HEART: ..."
    assert label_at(text, "Clear to auscultation") == "physical_exam"
    assert label_at(text, "Without edema") == "physical_exam"
    assert label_at(text, "1.  Hematuria.") == "assessment_plan"


def test_review_of_systems_subheaders_stay_in_the_review_and_admin_headers_end_a_section():
    text = mtsample("mtsd-144")
    assert label_at(text, "No fever or chills") == "review_of_systems"
    assert label_at(text, "The patient was given normal saline") == "ed_course"
    assert label_at(text, "Fair, but improved") == "admin"  # CONDITION ON DISPOSITION
    assert label_at(text, "To home with his son") == "plan"


def test_unknown_capitalised_headers_end_the_section_as_other():
    text = mtsample("mtsd-363")  # a physical therapy evaluation
    assert label_at(text, "The patient will demonstrate independence") == "other"  # SHORT-TERM GOALS ...:
    assert label_at(text, "The patient is currently on medical leave") == "admin"  # WORK STATUS:


def test_discharge_summary_sections():
    text = mtsample("mtsd-022")
    assert label_at(text, "Difficulty voiding") == "admission_diagnosis"
    assert label_at(text, "The patient had a cysto and TUR") == "hospital_course"  # COURSE IN THE HOSPITAL
    assert label_at(text, "Enlarged prostate with benign bladder neck obstruction") == "assessment_plan"


@pytest.mark.parametrize(
    "note_id, phrase, occurrence, label",
    [
        # "PREOPERATIVE DIAGNOSES,1.  Abnormal ...": a known header in capitals ending with a comma
        ("mtsd-167", "Abnormal uterine bleeding", 1, "preop_diagnosis"),
        ("mtsd-167", "Abnormal uterine bleeding", 2, "postop_diagnosis"),
        # "PREOPERATIVE DIAGNOSES 1. Herniated ...": running into a numbered list, headers after periods
        ("mtsd-326", "Herniated nucleus pulposus, C5-C6", 1, "preop_diagnosis"),
        ("mtsd-326", "Herniated nucleus pulposus, C5-C6", 2, "postop_diagnosis"),
        # "... wrist. POSTOPERATIVE DIAGNOSIS: Ganglion ...": headers after a period and a space
        ("mtsd-317", "Ganglion of the left wrist", 2, "postop_diagnosis"),
        ("mtsd-317", "Less than 5 mL", 1, "ebl"),
        # "PREOPERATIVE DIAGNOSIS (ES):"
        ("mtsd-199", "Osteoarthritis, right knee", 2, "postop_diagnosis"),
        # a radiology report: "EXAM: ... REASON FOR EXAM: ... FINDINGS: ... IMPRESSION: ..."
        ("mtsd-030", "Scrotal pain", 1, "indications"),
        ("mtsd-030", "Trace bilateral hydroceles", 1, "assessment_plan"),
    ],
)
def test_header_forms(note_id, phrase, occurrence, label):
    assert label_at(mtsample(note_id), phrase, occurrence) == label


def test_pre_and_post_operative_written_as_two_words():
    """ "POST OPERATIVE DIAGNOSES,1.  ...": the spaced spelling is the same header (it occurs in the
    MTSamples pool without a colon, before a numbered list)."""
    text = "PRE OPERATIVE DIAGNOSIS: Left inguinal hernia.,POST OPERATIVE DIAGNOSES,1.  Left indirect inguinal hernia."
    assert label_at(text, "Left inguinal hernia") == "preop_diagnosis"
    assert label_at(text, "Left indirect inguinal hernia") == "postop_diagnosis"


def test_a_short_section_ends_at_a_transcription_line_break():
    """ "CC:, Confusion and slurred speech.,HX , (...)": the history after the chief complaint is not
    chief complaint (".," is the transcription's line break, like the end of a line in a typed note)."""
    text = mtsample("mtsd-011")
    assert label_at(text, "Confusion and slurred speech") == "chief_complaint"
    assert label_at(text, "primarily obtained from boyfriend") is None


def test_a_narrative_under_procedure_is_procedure_detail():
    text = mtsample("mtsd-028")  # "PROCEDURE PERFORMED: , Umbilical hernia repair.,PROCEDURE:,  After informed ..."
    assert label_at(text, "Umbilical hernia repair") == "procedures"
    assert label_at(text, "The patient was sedated") == "procedure_detail"


# ------------------------------------------------------------------------------------------------
# Sections in typed notes


def test_line_headers_and_inline_headers_in_a_typed_note():
    text = (
        "OPERATIVE REPORT\n"
        "Surgeon: A. Patel, MD\n"
        "Preoperative diagnosis: Right inguinal hernia.\n"
        "Postoperative diagnosis: Same as preoperative diagnosis.\n"
        "Procedure performed: Open right inguinal hernia repair with mesh.\n"
        "Anesthesia: General endotracheal.\n"
        "Estimated blood loss: 10 mL.\n"
        "Findings: Indirect hernia sac. Complications: None.\n"
        "Description of procedure:\n"
        "The patient was brought to the operating room and placed supine.\n"
    )
    idx = find_sections(text)
    assert label_at(text, "A. Patel") == "admin"
    assert label_at(text, "Right inguinal hernia.") == "postop_diagnosis"  # "Same as preoperative diagnosis"
    assert label_at(text, "10 mL") == "ebl"
    assert label_at(text, "Indirect hernia sac") == "findings"
    assert label_at(text, "None.") == "complications"  # inline "Complications:" after a period
    assert label_at(text, "placed supine") == "procedure_detail"
    assert idx.at(0) == "procedure_detail" and idx.sections[0].name == "operative report"


def test_prose_colons_and_capitals_in_a_typed_note_are_not_headers():
    text = (
        "HPI: Cough for 3 days. The patient reports the following: fever, chills.\n"
        "Labs:\nWBC: 12.0\nLDL CHOLESTEROL: 130 mg/dL\n"
        "Assessment: Acute bronchitis.\n"
    )
    idx = find_sections(text)
    assert [s.label for s in idx.sections] == ["hpi", "results", "assessment_plan"]
    assert label_at(text, "130 mg/dL") == "results"  # an item name in capitals inside results


def test_a_note_dictated_in_capitals_is_read_by_its_known_headers():
    text = (
        "CHIEF COMPLAINT: COUGH.\nHPI: COUGH FOR 3 DAYS. PATIENT REPORTS THE FOLLOWING: FEVER.\nASSESSMENT: BRONCHITIS."
    )
    assert [s.label for s in find_sections(text).sections] == ["chief_complaint", "hpi", "assessment_plan"]


# ------------------------------------------------------------------------------------------------
# Sentences


def test_transcription_sentences_split_at_headers_and_list_items(nlp):
    doc = nlp(mtsample("mtsd-000"))
    sents = [s.text.strip() for s in doc.sents]
    assert "ASSESSMENT:," in sents
    assert "Allergic rhinitis.," in sents
    assert "1.  She will try Zyrtec instead of Allegra again." in sents
    assert "2.  Samples of Nasonex two sprays in each nostril given for three weeks." in sents
    assert "HEENT:" in sents and "Supple without adenopathy.," in sents


def test_header_after_a_transcription_line_break_starts_a_sentence(nlp):
    doc = nlp("He has reflux disease.,PAST SURGICAL HISTORY:, Includes surgery on his right hand.")
    sents = [s.text for s in doc.sents]
    assert sents[1].startswith(",PAST SURGICAL HISTORY") or sents[1].startswith("PAST SURGICAL HISTORY")
    assert not any("reflux" in s and "SURGICAL" in s for s in sents)


def test_numbered_list_on_one_line_splits_into_items(nlp):
    doc = nlp("POSTOPERATIVE DIAGNOSES: 1. Right inguinal hernia 2. Left hydrocele 3. Adhesions.")
    sents = [s.text.strip() for s in doc.sents]
    assert sents[1:] == ["1. Right inguinal hernia", "2. Left hydrocele", "3. Adhesions."]


def test_lists_at_line_starts_keep_the_line_rules():
    assert inline_list_items("Plan:\n1. Rest.\n2. Fluids.\n") == []
    text = "Plan: 1. Rest. 2. Fluids."
    assert [text[s] for s, _ in inline_list_items(text)] == ["1", "2"]
    assert inline_list_items("Measured 2. Then grade 3. Next") == []  # no list without a 1


def test_commas_of_the_transcription_form_are_split_off_digits_stay_whole(nlp):
    assert [t.text for t in nlp.make_doc("disease.,PLAN:,1.  Rest")][:6] == ["disease", ".", ",", "PLAN", ":", ","]
    assert "10,000" in [t.text for t in nlp.make_doc("Platelets 10,000 today.")]
    assert len(TRANSCRIPTION_INFIXES) == 3


# ------------------------------------------------------------------------------------------------
# Document types

# Read one by one (the note and its MTSamples title); the type each evidently is.
MTSAMPLES_TYPES = {
    "mtsd-009": "operative_report",  # laparoscopic gastric bypass
    "mtsd-023": "operative_report",  # umbilical hernia repair
    "mtsd-041": "operative_report",  # radical retropubic prostatectomy
    "mtsd-082": "operative_report",  # pediatric inguinal hernia repair
    "mtsd-195": "operative_report",  # total thyroidectomy
    "mtsd-203": "operative_report",  # total knee arthroplasty
    "mtsd-299": "operative_report",  # revision rhinoplasty ("Same")
    "mtsd-317": "operative_report",  # ganglion excision (headers after periods)
    "mtsd-335": "operative_report",  # Austin bunionectomy ("TITLE OF OPERATION")
    "mtsd-126": "procedure_report",  # infant circumcision (pre-/post-procedure diagnosis)
    "mtsd-170": "procedure_report",  # urgent cardiac catheterization
    "mtsd-229": "procedure_report",  # thoracentesis
    "mtsd-262": "procedure_report",  # stab wound closure under local (pre-/post-procedure diagnosis)
    "mtsd-278": "procedure_report",  # sigmoidoscopy
    "mtsd-312": "procedure_report",  # radiofrequency ablation
    "mtsd-483": "procedure_report",  # dorsal ramus / lateral branch blocks
    "mtsd-022": "discharge_summary",
    "mtsd-107": "discharge_summary",
    "mtsd-113": "discharge_summary",
    "mtsd-398": "discharge_summary",
    "mtsd-439": "discharge_summary",
    "mtsd-447": "discharge_summary",
    "mtsd-459": "discharge_summary",
    "mtsd-473": "discharge_summary",
    "mtsd-050": "ed_note",  # presents to the Emergency Department, discharged from the ER
    "mtsd-144": "ed_note",  # EMERGENCY DEPARTMENT COURSE
    "mtsd-052": "history_physical",  # admission diagnosis, full history and examination
    "mtsd-056": "history_physical",  # reason for admission
    "mtsd-345": "history_physical",  # admitted to the transitional care unit
    "mtsd-441": "history_physical",
    "mtsd-096": "consult",  # reason for consultation
    "mtsd-106": "consult",
    "mtsd-128": "consult",  # "CONSULT FOR PROSTATE CANCER"
    "mtsd-401": "consult",  # reason for neurological consultation
    "mtsd-000": "progress_note",  # SOAP
    "mtsd-026": "progress_note",  # presents today for followup
    "mtsd-029": "progress_note",
    "mtsd-047": "progress_note",
    "mtsd-104": "progress_note",
    "mtsd-130": "progress_note",  # reason for visit: followup circumcision
    "mtsd-341": "progress_note",
    "mtsd-346": "progress_note",  # SOAP
    "mtsd-475": "progress_note",
    "mtsd-017": "radiology_report",  # bone scan: indication, technique, findings, conclusion
    "mtsd-030": "radiology_report",  # scrotal ultrasound
    "mtsd-323": "radiology_report",  # ankle films
    "mtsd-349": "radiology_report",  # thoracic spine films
    "mtsd-444": "radiology_report",  # lumbar spine CT
    "mtsd-470": "radiology_report",
    "mtsd-493": "radiology_report",
    "mtsd-505": "radiology_report",
    "mtsd-059": "pathology_report",  # gross and microscopic description
    "mtsd-501": "pathology_report",
    "mtsd-024": "clinic_letter",
    "mtsd-058": "clinic_letter",
    "mtsd-486": "clinic_letter",
    "mtsd-415": "other",  # a patient handout on RICE
}


def test_document_types_of_mtsamples_notes():
    if not MTSAMPLES.exists():
        pytest.skip(f"MTSamples notes not found at {MTSAMPLES}")
    got = {note_id: classify_document(mtsample(note_id)) for note_id in MTSAMPLES_TYPES}
    wrong = {k: (MTSAMPLES_TYPES[k], v) for k, v in got.items() if v != MTSAMPLES_TYPES[k]}
    assert wrong == {}
    assert len(MTSAMPLES_TYPES) >= 30 and set(MTSAMPLES_TYPES.values()) == set(DOCUMENT_TYPES)


TYPED = {
    "operative_report": (
        "OPERATIVE REPORT\nDate of surgery: 03/02/2026\nSurgeon: A. Patel, MD\n"
        "Preoperative diagnosis: Right inguinal hernia.\nPostoperative diagnosis: Same.\n"
        "Procedure: Open right inguinal hernia repair with mesh.\nAnesthesia: General endotracheal.\n"
        "Estimated blood loss: 10 mL.\nComplications: None.\n"
        "Description of procedure: The patient was brought to the operating room and placed supine.\n"
    ),
    "procedure_report": (
        "Pre-procedure diagnosis: Screening for colon cancer.\nPost-procedure diagnosis: Sigmoid diverticulosis.\n"
        "Procedure: Colonoscopy.\nSedation: Moderate sedation with midazolam and fentanyl.\n"
        "Findings: Scattered sigmoid diverticula. No polyps.\nComplications: None.\n"
    ),
    "discharge_summary": (
        "Admission date: 02/01/2026\nDischarge date: 02/04/2026\nAdmitting diagnosis: Chest pain.\n"
        "Discharge diagnoses:\n1. NSTEMI.\n2. Type 2 diabetes mellitus.\n"
        "Hospital course:\nThe patient was admitted to telemetry and taken for catheterization.\n"
        "Discharge medications: aspirin, atorvastatin.\nCondition at discharge: Stable.\n"
    ),
    "ed_note": (
        "Chief complaint: Left ankle injury.\n"
        "HPI: 24-year-old woman rolled her left ankle playing soccer today.\n"
        "Exam: Swelling over the lateral malleolus.\n"
        "ED course: X-ray negative for fracture. Splint applied.\n"
        "Clinical impression: Left ankle sprain.\nDisposition: Discharged home.\n"
    ),
    "history_physical": (
        "HISTORY AND PHYSICAL\nChief complaint: Shortness of breath.\n"
        "HPI: 72-year-old man with 3 days of worsening dyspnea and leg swelling.\n"
        "Past medical history: CHF, hypertension.\nReview of systems: Positive for orthopnea.\n"
        "Physical exam: Bibasilar crackles, 2+ edema.\n"
        "Assessment and plan: Acute on chronic systolic heart failure. Admit to telemetry, IV furosemide.\n"
    ),
    "consult": (
        "Reason for consultation: Elevated creatinine.\nRequesting physician: Dr. Lee\n"
        "HPI: Thank you for asking me to see this 66-year-old with a creatinine of 2.1.\n"
        "Impression: Acute kidney injury, prerenal.\nRecommendations: IV fluids, hold lisinopril.\n"
    ),
    "progress_note": (
        "S: Here for follow-up of hypertension. No headaches.\nO: BP 128/80, HR 72.\n"
        "A: Essential hypertension, controlled.\nP: Continue lisinopril 10 mg daily.\n"
    ),
    "radiology_report": (
        "EXAMINATION: CT abdomen and pelvis with contrast\nCLINICAL HISTORY: Right lower quadrant pain.\n"
        "TECHNIQUE: Axial images after intravenous contrast.\nCOMPARISON: None.\n"
        "FINDINGS: Dilated appendix with periappendiceal fat stranding.\nIMPRESSION: Acute appendicitis.\n"
    ),
    "pathology_report": (
        "Specimen: Gallbladder.\nClinical history: Cholelithiasis.\n"
        "Gross description: Received in formalin is a gallbladder measuring 8 cm.\n"
        "Microscopic description: Chronic inflammation of the wall.\n"
        "Final diagnosis: Chronic cholecystitis with cholelithiasis.\n"
    ),
    "clinic_letter": (
        "March 3, 2026\n\nDr. Jane Smith\nFamily Medicine Associates\n\nDear Dr. Smith,\n\n"
        "I saw Mr. Jones again today for his knee osteoarthritis. He is doing well on meloxicam.\n\n"
        "Sincerely,\nR. Brown, MD\n"
    ),
    "other": "Keep the dressing dry for 48 hours. Call the office for fever, redness or drainage.\n",
}


@pytest.mark.parametrize("kind", sorted(TYPED))
def test_document_types_of_typed_notes(kind, nlp):
    assert classify_document(TYPED[kind]) == kind
    assert nlp(TYPED[kind])._.document == kind


def test_every_type_is_named_and_unknown_text_is_other():
    assert set(TYPED) == set(DOCUMENT_TYPES)
    assert classify_document("") == "other"
    assert classify_document("Lorem ipsum dolor sit amet.") == "other"


# ------------------------------------------------------------------------------------------------
# Linear time, as a property of the patterns (no timing asserts)


def _repeats(tree, inside_unbounded=False):
    """(op, max, nested-in-an-unbounded-repeat) of every repeat in a parsed pattern."""
    for op, arg in tree:
        if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, sre_constants.POSSESSIVE_REPEAT):
            low, high, sub = arg
            yield op, high, inside_unbounded
            yield from _repeats(sub, inside_unbounded or high == sre_constants.MAXREPEAT)
        elif op in (sre_constants.SUBPATTERN,):
            yield from _repeats(arg[-1], inside_unbounded)
        elif op in (sre_constants.ATOMIC_GROUP,):
            yield from _repeats(arg, inside_unbounded)
        elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            yield from _repeats(arg[1], inside_unbounded)
        elif op == sre_constants.BRANCH:
            for branch in arg[1]:
                yield from _repeats(branch, inside_unbounded)


def _parse(pattern: re.Pattern[str]):
    return _parser.parse(pattern.pattern, pattern.flags)


def _module_patterns(*modules) -> list[re.Pattern[str]]:
    return [v for m in modules for v in vars(m).values() if isinstance(v, re.Pattern)]


def test_no_pattern_nests_unbounded_repetition():
    """Nested quantifiers ((a+)+) are what makes a regular expression exponential on a bad note."""
    patterns = _module_patterns(sections_module, sentences_module, documents_module)
    for rule in document_rules():
        patterns += [v for v in vars(rule).values() if isinstance(v, re.Pattern)]
    patterns += [re.compile(p) for p in TRANSCRIPTION_INFIXES]
    assert len(patterns) > 20
    nested = [p.pattern for p in patterns if any(n for _, _, n in _repeats(_parse(p)))]
    assert nested == []


def test_header_patterns_never_backtrack_into_a_long_run():
    """The header scans try a pattern after every comma, period and line break of a note. Each of their
    repetitions is possessive (no backtracking) or bounded by MAX_HEADER, so a start costs O(MAX_HEADER)
    and a note of 20,000 line breaks, 15,000 digits or 200,000 characters is read in linear time."""
    header_patterns = [
        sections_module._LINE,
        sections_module._INLINE,
        sections_module._INLINE_FIRST,
        sections_module._COMMA_AFTER,
        sections_module._SAME,
        sections_module._CONTINUES,
        sections_module._LIST_START,
        sentences_module._ITEM,
    ]
    for p in header_patterns:
        for op, high, _ in _repeats(_parse(p)):
            assert op == sre_constants.POSSESSIVE_REPEAT or high <= MAX_HEADER, (p.pattern, op, high)


@pytest.mark.parametrize(
    "text",
    [
        "\n" * 20_000,
        "1" * 15_000,
        "." + "A" * 50_000 + " " * 50_000 + "x",
        ("ABC DEF GHI JKL MNO PQR STU VWX," * 7000)[:200_000],
        (". ABCDEFGHIJ:" * 20_000)[:200_000],
        ("1. a 2. b " * 20_000)[:200_000],
        "." * 200_000,
    ],
    ids=["newlines", "digits", "capitals-then-spaces", "capitals-commas", "colons", "list-items", "periods"],
)
def test_pathological_notes_are_read(text):
    idx = find_sections(text)
    assert all(s.header_start <= s.header_end <= s.end for s in idx.sections)
    assert classify_document(text) in DOCUMENT_TYPES
    inline_list_items(text)
