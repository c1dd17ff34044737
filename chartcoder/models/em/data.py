"""MDM element 2: amount and complexity of data reviewed and analyzed."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from chartcoder.models.em._patterns import Span, _Intervals, _rx
from chartcoder.models.em.problems import _plural
from chartcoder.models.em.results import Element
from chartcoder.models.em.sections import _PAST_HEADERS, Section
from chartcoder.models.em.time import _sentence_bounds

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

    tests = _tests(text, usable)
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
    categories = sum((cat1 >= 3, interpretation is not None, discussion is not None))
    reasons: list[str] = []
    spans: list[Span] = []
    if tests:
        reasons.append(f"{_plural(n_tests, 'unique test', 'unique tests')} ordered or reviewed: {', '.join(tests)}")
        spans.extend(tests.values())
    if external:
        reasons.append(f"external notes reviewed ({', '.join(external)})")
        spans.extend(external.values())
    for found, why in (
        (historian, "independent historian"),
        (interpretation, "independent interpretation of a test"),
        (discussion, "discussion of management with an external physician or source"),
    ):
        if found:
            reasons.append(why)
            spans.append((found.start(), found.end()))
    if categories >= 2:
        level = 3
    elif categories == 1:
        level = 2
    elif n_tests + n_notes >= 2 or historian:
        level = 1
    else:
        level = 0
    return Element(level, "; ".join(reasons), tuple(spans))


def _tests(text: str, usable: Callable[[int], bool]) -> dict[str, Span]:
    """Unique tests ordered or reviewed (with a value, an order cue or a review cue in their sentence),
    outside the history sections; each name once, and a longer name wins over the words inside it."""
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
    return tests
