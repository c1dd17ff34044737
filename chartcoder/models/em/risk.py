"""MDM element 3: risk of complications and/or morbidity or mortality of patient management."""

from __future__ import annotations

import re

from chartcoder.models.em._patterns import Span, _Intervals, _rx
from chartcoder.models.em.problems import _clause_before
from chartcoder.models.em.results import Element
from chartcoder.models.em.time import _sentence_bounds

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
