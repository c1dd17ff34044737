"""A seeded synthetic corpus of US clinical notes with gold ICD-10-CM, CPT and HCPCS codes.

How a note is made: the generator first decides what is true about one patient and one encounter -- a
`Plan` of `Problem`s (conditions present, ruled out, in the family, in the past, uncertain, statuses,
procedures done) -- derives the gold codes from those decisions by the official coding guidelines, and only
then writes the note, keeping for every code the sentences that carry it (`Record.evidence`). Nothing here
reads chartcoder's engine (`chartcoder.nlp`, `chartcoder.models`): the corpus trains and tests that engine,
so it must not be circular. The wording lives in `resources/synthetic/*.yaml`.

Guideline choices (see docs/DOMAIN.md and the ICD-10-CM Official Guidelines):
* negated findings and ruled-out conditions are not coded;
* family history is a Z80-Z84 code, never the disease; personal history is Z85-Z87 (old MI stays I25.2);
* uncertain diagnoses ("likely", "probable", "r/o", "concern for") are coded as their sign or symptom in
  outpatient notes and as if established in an inpatient discharge summary (Section II.H); the symptoms
  integral to a definitive diagnosis are not coded;
* combination codes: diabetes with CKD/neuropathy/retinopathy (presumed linked), hypertension with CKD
  (I12), with heart failure (I11.0 + I50.x), with both (I13), plus the CKD stage; BMI (Z68) only with an
  associated weight diagnosis, adult Z68.1-Z68.45 from age 20, pediatric percentiles below;
* injuries carry the 7th character A in the ED, urgent care and procedure notes, D at office follow-up;
* office and urgent-care E/M levels come only from a stated total time (2021 AMA ranges); without a time
  statement no E/M code is emitted (the demo CPT set has no ED E/M codes, so ED notes carry none);
* pregnancy: Z34/O09.5 supervision or the O-code complication, plus Z3A weeks; pre-existing hypertension in
  pregnancy is O10.x (never I10); no Z79.4 with O24.4-; smokers are not drawn for pregnant patients;
* a note never holds two codes of an Excludes1 pair (resources/synthetic/excludes1.yaml, from the tabular);
* allergy lists, occasional substance use without a disorder, and BMI without a weight diagnosis are written
  but not coded.

U.S. documents, coded as docs/coding-policy.md says (resources/synthetic/operations.yaml, radiology.yaml):
* operative and endoscopy reports code the postoperative diagnosis first; "Same" means the preoperative list; a
  postoperative diagnosis that refines or replaces a preoperative sign or working diagnosis withholds the
  preoperative code; blood loss, anesthesia, "complications: none", drains, specimens, a Foley catheter, wound
  closure and the risks named at consent are written and never coded; a tumour being operated on is current;
* consults and H&Ps (admission or preoperative) follow the outpatient rules; conditions named only in their past
  history (and in an operative report's indications) are written and not coded (a coder's optional codes);
* imaging reports code a definitive impression, else the sign of the indication (OCG IV.K);
* discharge summaries may name the admitting diagnosis (a working diagnosis, never coded) and a surgical stay;
* about 30% of notes are written in the transcription form of U.S. dictation: capital headings inline followed by
  ":," and sections joined by commas on one line, numbered lists inline (`Plan.layout`).

Modules, in the order a note is made: `generator` (the public entry: a kind and a patient per record) calls the
kind's planner (`planners`, `surgery`, `radiology`), which draws decisions from `problems`, `histories`,
`combinations`, `diabetes`, `encounters` and `procedures` into a `context.Ctx`; `render` and `layout` write the note.
`loading` reads the catalogues into the types of `model`; `tables`, `coding` and `text` hold fixed tables, coding
facts and text helpers; `coverage` lists every code the generator can emit.

Randomness: each record draws from its own `random.Random` seeded by (seed, index), so `generate(n, s)` is a
prefix of `generate(m, s)` for n < m and byte-identical across runs; nothing reads the clock or iterates a set.
"""

from chartcoder.training.synthetic.coverage import coverage
from chartcoder.training.synthetic.generator import generate, generate_with_plans
from chartcoder.training.synthetic.loading import _data
from chartcoder.training.synthetic.model import Line, Plan, Problem
from chartcoder.training.synthetic.tables import CPT, EM_EST, EM_NEW, HCPCS, ICD, KIND_NAMES, KINDS

__all__ = [
    "CPT",
    "EM_EST",
    "EM_NEW",
    "HCPCS",
    "ICD",
    "KINDS",
    "KIND_NAMES",
    "Line",
    "Plan",
    "Problem",
    "_data",
    "coverage",
    "generate",
    "generate_with_plans",
]
