"""MDM element 1: number and complexity of problems addressed."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

from chartcoder.models.em._patterns import _MAX_ITEM_MENTIONS, _MAX_ITEMS, Span, _rx
from chartcoder.models.em.results import Element
from chartcoder.models.em.sections import _AP_HEADERS, _PLAN_HEADERS, Section


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


# The AMA ladder's moderate rungs: (kind, wording for one, wording for more than one).
_MODERATE_PROBLEMS = (
    (
        "worse",
        "chronic illness with exacerbation, progression or side effects of treatment",
        "chronic illnesses with exacerbation, progression or side effects of treatment",
    ),
    ("undiagnosed", "undiagnosed new problem with uncertain prognosis", "undiagnosed new problems"),
    ("systemic", "acute illness with systemic symptoms", "acute illnesses with systemic symptoms"),
    ("complicated_injury", "acute complicated injury", "acute complicated injuries"),
)


class _ByKind:
    """The problems found, grouped by kind, with the names and spans an element's reasoning quotes."""

    def __init__(self, problems: list[Problem]) -> None:
        self.by: dict[str, list[Problem]] = {}
        for p in problems:
            self.by.setdefault(p.kind, []).append(p)

    def count(self, kind: str) -> int:
        return len(self.by.get(kind, []))

    def element(self, level: int, what: str, kind: str) -> Element:
        names = ", ".join(p.name for p in self.by.get(kind, []))
        spans: list[Span] = []
        for p in self.by.get(kind, []):
            spans.append(p.span)
            if p.status_span:
                spans.append(p.status_span)
        return Element(level, f"{what}: {names}", tuple(spans))


def problems_element(problems: list[Problem]) -> Element:
    """AMA table, number and complexity of problems addressed."""
    found = _ByKind(problems)
    if found.count("threat"):
        what = _plural(found.count("threat"), "illness", "illnesses")
        return found.element(3, f"{what} posing a threat to life or bodily function", "threat")
    if found.count("severe"):
        return found.element(3, "chronic illness with severe exacerbation", "severe")
    for kind, one, many in _MODERATE_PROBLEMS:
        if found.count(kind):
            return found.element(2, _plural(found.count(kind), one, many), kind)
    chronic = found.count("chronic")
    if chronic >= 2:
        return found.element(2, f"{chronic} stable chronic illnesses", "chronic")
    if chronic == 1:
        return found.element(1, "1 stable chronic illness", "chronic")
    if found.count("acute"):
        one, many = "acute uncomplicated illness or injury", "acute uncomplicated illnesses or injuries"
        return found.element(1, _plural(found.count("acute"), one, many), "acute")
    minor = found.count("minor")
    if minor >= 2:
        return found.element(1, f"{minor} self-limited or minor problems", "minor")
    if minor == 1:
        return found.element(0, "1 self-limited or minor problem", "minor")
    return Element(0, "no problem identified")
