"""Claims assembled, scrubbed and written per second on one core (issue 5).

Generates `--claims` synthetic finalized encounters (seeded) in the shape `assemble` takes, the dict
GET /v1/encounters/{id} answers: notes built from sentence templates with real billable ICD-10-CM
codes and CPT/HCPCS codes from the sample fee schedule, evidence offsets that slice the note text,
1-8 diagnoses, 1-4 service lines, often an E/M (99212-99215) beside a same-day procedure so the
modifier 25 logic runs. Then, pinned to one core and after a warm-up, times per claim `assemble`,
`Scrubber.scrub`, `write_837p`, `fhir_claim_json` and `cms1500_fields` over `--repeat` passes.

Headline: claims/s for assemble + scrub + 837P (target >= 500/s), the median over passes; also
assemble + scrub + all three writers. Per-claim p50/p99 use each claim's median over the passes.
The same run measures pyx12 validation (`validate_837p`) of 20 of the written files as the baseline
that puts the figure in context (excluded from the headline), checks that those files validate, and
reads every written 837P back (`parse_837p`) to check diagnoses, codes, charges and pointers.
Findings per edit id are counted over the set: the claims should be clean or fail for the reasons
the generator planted (an E/M that addresses only the procedure's diagnosis gets no modifier 25).

    .venv/bin/python benchmarks/claims.py [--claims 2000] [--repeat 5] [--seed 7]
        [--json benchmarks/results/claims.json] [--core K]

The scrubber is `Scrubber.default()`: without CMS NCCI/MUE files loaded those two edits find nothing.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HEADLINE_TARGET = 500.0  # claims/s, issue 5
PYX12_SAMPLE = 20
WARMUP = 200

# -- templates -----------------------------------------------------------------------------------
# Visit diagnoses: (code, phrase, sentence with {p} where the phrase goes, exclusive group, sex).
VISIT_DX: list[tuple[str, str, str, str, str | None]] = [
    ("I10", "essential hypertension", "{p}, well controlled on lisinopril, continue", "htn", None),
    ("E78.5", "hyperlipidemia", "{p}, on atorvastatin, recheck lipids in six months", "lipid", None),
    ("E11.9", "type 2 diabetes without complications", "{p}, continue metformin", "dm", None),
    ("E11.65", "type 2 diabetes with hyperglycemia", "{p}, sugars running high, increase metformin", "dm", None),
    ("J45.909", "asthma, uncomplicated", "{p}, uses albuterol twice a month", "airway", None),
    ("J30.9", "allergic rhinitis", "{p}, seasonal, continue fluticasone", "airway", None),
    ("K21.9", "gastroesophageal reflux disease", "{p}, symptoms controlled on omeprazole", "gi", None),
    ("F41.1", "generalized anxiety disorder", "{p}, stable on sertraline", "mood", None),
    ("F32.A", "depression", "{p}, PHQ-9 improved, continue therapy", "mood2", None),
    ("M54.50", "low back pain", "{p}, no red flags, home exercise program", "back", None),
    ("G43.909", "migraine", "{p}, two episodes a month, sumatriptan as needed", "head", None),
    ("E03.9", "hypothyroidism", "{p}, continue levothyroxine, TSH at goal", "thyroid", None),
    ("E66.9", "obesity", "{p}, counselled on diet and activity", "weight", None),
    ("G47.33", "obstructive sleep apnea", "{p}, using CPAP nightly", "sleep", None),
    ("E55.9", "vitamin D deficiency", "{p}, continue cholecalciferol", "vitd", None),
    ("I48.91", "atrial fibrillation", "{p}, rate controlled, on apixaban", "afib", None),
    ("N40.0", "benign prostatic hyperplasia", "{p}, without urinary symptoms, watchful waiting", "sex", "M"),
    ("N95.1", "menopausal symptoms", "{p}, hot flashes improving", "sex", "F"),
]
# Diabetic CKD: N18.31 is listed before E11.22 on purpose (its "code first" note moves E11.22 ahead).
CKD_PAIR = (
    ("N18.31", "chronic kidney disease stage 3a", "{p}, eGFR stable, avoid NSAIDs"),
    ("E11.22", "type 2 diabetes with diabetic chronic kidney disease", "{p}, continue metformin at reduced dose"),
)

# Procedures: (lines [(code, system, evidence phrase)], sentence with {x0}, {x1} (the line phrases)
# and {p} (the diagnosis phrase), candidate diagnoses [(code, phrase, sex)], exclusive group).
PROCEDURES: list[tuple[list[tuple[str, str, str]], str, list[tuple[str, str, str | None]], str]] = [
    (
        [("11102", "CPT", "Tangential biopsy of the skin lesion")],
        "{x0} on the upper back was performed for {p}",
        [("D48.5", "a changing pigmented lesion of uncertain behavior", None), ("L82.1", "seborrheic keratosis", None)],
        "skin",
    ),
    (
        [
            ("20610", "CPT", "Arthrocentesis with injection of the right knee"),
            ("J1030", "HCPCS", "methylprednisolone 40 mg"),
        ],
        "{x0} using {x1} was done for {p}",
        [("M17.11", "primary osteoarthritis of the right knee", None)],
        "knee",
    ),
    (
        [("20610", "CPT", "Arthrocentesis with injection of the left knee")],
        "{x0} was done for {p}",
        [("M17.12", "primary osteoarthritis of the left knee", None)],
        "knee",
    ),
    (
        [("17110", "CPT", "Cryotherapy destruction of three warts")],
        "{x0} was performed for {p}",
        [("B07.8", "common warts of the hands", None), ("B07.0", "plantar warts", None)],
        "wart",
    ),
    (
        [("17000", "CPT", "Cryotherapy destruction of one premalignant lesion")],
        "{x0} on the scalp was performed for {p}",
        [("L57.0", "actinic keratosis", None)],
        "ak",
    ),
    (
        [("69210", "CPT", "Removal of impacted cerumen with curette")],
        "{x0} was done in the right ear for {p}",
        [("H61.21", "impacted cerumen of the right ear", None)],
        "ear",
    ),
    (
        [("12001", "CPT", "Simple repair of a 2 cm wound")],
        "{x0} was performed for {p}",
        [("S61.411A", "laceration of the right hand", None)],
        "lac",
    ),
    (
        [("96372", "CPT", "Intramuscular injection"), ("J3420", "HCPCS", "cyanocobalamin 1000 mcg")],
        "{x0} of {x1} was given for {p}",
        [("D51.9", "vitamin B12 deficiency anemia", None)],
        "b12",
    ),
    (
        [("93000", "CPT", "12-lead electrocardiogram with interpretation")],
        "{x0} was obtained for {p}",
        [("R00.2", "palpitations", None), ("R07.9", "chest pain", None)],
        "ecg",
    ),
    (
        [("87880", "CPT", "Rapid streptococcal antigen test")],
        "{x0} was positive, consistent with {p}",
        [("J02.0", "streptococcal pharyngitis", None)],
        "throat",
    ),
    (
        [("81002", "CPT", "Urinalysis by dipstick")],
        "{x0} showed leukocytes and nitrites, consistent with {p}",
        [("N39.0", "urinary tract infection", None)],
        "uti",
    ),
    (
        [("94640", "CPT", "Albuterol nebulizer treatment")],
        "{x0} was given in clinic for {p}",
        [("J45.901", "asthma exacerbation", None)],
        "airway",
    ),
    (
        [("90686", "CPT", "Quadrivalent influenza vaccine"), ("90471", "CPT", "administration")],
        "{x0} was given with {x1} counselling, {p}",
        [("Z23", "encounter for immunization", None)],
        "vaccine",
    ),
]
EM_CODES = ("99212", "99213", "99214", "99215")
FIRST_F = ["Maria", "Jennifer", "Linda", "Aisha", "Mei", "Sofia", "Olga", "Grace", "Priya", "Ana", "Ruth", "Emma"]
FIRST_M = ["James", "Robert", "Ahmed", "Wei", "Carlos", "David", "Ivan", "Samuel", "Kofi", "Luis", "John", "Omar"]
LAST = ["Smith", "Garcia", "Nguyen", "Johnson", "Okafor", "Kowalski", "Chen", "Patel", "Brown", "Lopez", "Cohen"]
STREETS = ["Main Street", "Oak Avenue", "Maple Drive", "Cedar Lane", "Elm Street", "Park Road", "Lake View"]
CITIES = [("Springfield", "IL", "627"), ("Columbus", "OH", "432"), ("Austin", "TX", "787"), ("Tacoma", "WA", "984")]


def _npi(rng: random.Random) -> str:
    """A 10-digit NPI whose last digit is the Luhn check digit with the 80840 prefix."""
    body = str(rng.randint(1, 2)) + "".join(str(rng.randint(0, 9)) for _ in range(8))
    digits = "80840" + body
    total = 0
    for k, ch in enumerate(reversed(digits)):
        d = int(ch)
        if k % 2 == 0:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


class NoteBuilder:
    """Appends text and returns the offsets of marked phrases, so evidence always slices the note."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text)

    def sentence(self, template: str, phrases: dict[str, str]) -> dict[str, tuple[int, int]]:
        """Write `template` with {name} filled by phrases[name]; return each name's (start, end)."""
        spans: dict[str, tuple[int, int]] = {}
        rest = template
        while "{" in rest:
            before, _, after = rest.partition("{")
            name, _, rest = after.partition("}")
            self.add(before)
            value = phrases[name]
            spans[name] = (self.length, self.length + len(value))
            self.add(value)
        self.add(rest)
        return spans

    @property
    def text(self) -> str:
        return "".join(self.parts)


def _capitalized(template: str, phrases: dict[str, str]) -> tuple[str, dict[str, str]]:
    """Capitalize a sentence that starts with a placeholder by capitalizing that phrase."""
    if template.startswith("{"):
        name = template[1 : template.index("}")]
        phrases = {**phrases, name: phrases[name][:1].upper() + phrases[name][1:]}
    return template, phrases


Procedure = tuple[list[tuple[str, str, str]], str, tuple[str, str, str | None]]  # lines, template, diagnosis
Evidence = dict[tuple[str, str], list[dict[str, Any]]]  # (system, code) -> evidence spans


def make_encounter(n: int, rng: random.Random, today: date) -> tuple[dict[str, Any], dict[str, Any]]:
    """One synthetic finalized encounter and what the generator planted (for the sanity checks)."""
    sex = rng.choices(["F", "M", "U"], weights=[49, 49, 2])[0]
    age = rng.randint(18, 89)
    dos = today - timedelta(days=rng.randint(1, 300))
    born = date(dos.year - age, rng.randint(1, 12), rng.randint(1, 28))
    first = rng.choice(FIRST_F if sex == "F" else FIRST_M if sex == "M" else FIRST_F + FIRST_M)
    name = f"{first} {rng.choice(LAST)}"

    has_em, procs, used_groups = _draw_services(rng, sex)
    surgical = any(_is_procedure(code) for lines, _, _ in procs for code, _, _ in lines)
    visit = _draw_visit_diagnoses(rng, sex, has_em, surgical, len(procs), used_groups)
    note, evidence, em_span, fever = _write_note(age, sex, has_em, visit, procs)
    suggestions, codes = _coding(rng, note, evidence, em_span, fever, visit, procs)

    city, state, zip3 = rng.choice(CITIES)
    encounter: dict[str, Any] = {
        "id": f"enc-{n:06d}",
        "status": "finalized",
        "text": note.text,
        "date_of_service": dos.isoformat(),
        "setting": "outpatient",
        "patient": {
            "name": name,
            "sex": sex,
            "birth_date": born.isoformat(),
            "address": {
                "line1": f"{rng.randint(1, 9999)} {rng.choice(STREETS)}",
                "city": city,
                "state": state,
                "zip": f"{zip3}{rng.randint(0, 99):02d}",
            },
        },
        "payer": {"id": "60054", "name": "Aetna", "member_id": f"W{rng.randint(10**8, 10**9 - 1)}"},
        "suggestion_set": {"suggestions": suggestions},
        "codes": codes,
    }
    if rng.random() < 0.7:
        encounter["provider"] = {"npi": _npi(rng), "name": f"{rng.choice(FIRST_F + FIRST_M)} {rng.choice(LAST)}"}
    # Modifier 25 when the E/M addresses a diagnosis no surgical procedure points to: a visit
    # diagnosis, or the diagnosis of a service with no surgical line (each template has its own).
    non_surgical = any(not any(_is_procedure(code) for code, _, _ in lines) for lines, _, _ in procs)
    expect_25 = has_em and surgical and (bool(visit) or non_surgical)
    planted = {
        "em_with_surgical": has_em and surgical,
        "expect_modifier_25": expect_25,
        "expect_modifier_25_missing": has_em and surgical and not expect_25,
        "code_first_pair": any(code == "N18.31" for code, _, _ in visit),
        # The E/M points to diagnoses 1-4 (visit diagnoses come first), each procedure to its own:
        # visit diagnoses past the fourth, or all of them without an E/M, are pointed to by no line.
        "unpointed_diagnoses": max(0, len(visit) - 4) if has_em else len(visit),
    }
    return encounter, planted


def _draw_services(rng: random.Random, sex: str) -> tuple[bool, list[Procedure], set[str]]:
    """Service lines: 1-4, an E/M in most visits. (has an E/M, procedures, their exclusive groups)."""
    n_lines = rng.choices([1, 2, 3, 4], weights=[30, 35, 25, 10])[0]
    has_em = rng.random() < 0.75
    room = n_lines - (1 if has_em else 0)
    if not has_em:
        room = max(room, 1)
    procs: list[Procedure] = []
    used_groups: set[str] = set()
    for _ in range(20):
        if room <= 0:
            break
        lines, template, dxs, group = rng.choice(PROCEDURES)
        choices = [d for d in dxs if d[2] in (None, sex)]
        if group in used_groups or len(lines) > room or not choices:
            continue
        used_groups.add(group)
        procs.append((lines, template, rng.choice(choices)))
        room -= len(lines)
    if not procs and not has_em:  # the draw failed to fit: one single-line procedure
        lines, template, dxs, group = PROCEDURES[0]
        procs.append((lines, template, dxs[0]))
        used_groups.add(group)
    return has_em, procs, used_groups


def _draw_visit_diagnoses(
    rng: random.Random, sex: str, has_em: bool, surgical: bool, n_procs: int, used_groups: set[str]
) -> list[tuple[str, str, str]]:
    """Visit diagnoses (the E/M's) beside the procedures' own, 1-8 diagnoses in all."""
    n_dx_target = rng.choices(range(1, 9), weights=[14, 20, 20, 16, 11, 8, 6, 5])[0]
    em_only_procedure_dx = has_em and surgical and rng.random() < 0.08  # planted: no modifier 25
    visit: list[tuple[str, str, str]] = []
    if not em_only_procedure_dx:
        want = max(n_dx_target - n_procs, 1 if has_em else 0)
        pool = [d for d in VISIT_DX if d[3] not in used_groups and d[4] in (None, sex)]
        rng.shuffle(pool)
        groups = set(used_groups)
        if want >= 2 and rng.random() < 0.15 and "htn" not in groups and "dm" not in groups:
            visit.extend(CKD_PAIR)
            groups.update({"htn", "dm"})
        for code, phrase, template, group, _ in pool:
            if len(visit) >= want:
                break
            if group in groups:
                continue
            groups.add(group)
            visit.append((code, phrase, template))
    return visit[: 8 - n_procs]


def _write_note(
    age: int, sex: str, has_em: bool, visit: list[tuple[str, str, str]], procs: list[Procedure]
) -> tuple[NoteBuilder, Evidence, tuple[int, int] | None, tuple[int, int]]:
    """The note, the evidence of each code in it, the E/M's span and the negated fever's span."""
    note = NoteBuilder()
    reason = (visit[0][1] if visit else procs[0][2][1]) if (visit or procs) else "follow-up"
    pronoun = {"F": "woman", "M": "man", "U": "patient"}[sex]
    note.add(f"Chief complaint: follow-up visit.\nHPI: {age}-year-old {pronoun} seen today about {reason}")
    note.add(". Denies fever")
    fever = (note.length - len("fever"), note.length)
    note.add(" or weight loss.\n")
    evidence: Evidence = {}
    em_span = None
    if has_em:
        note.add("Exam: alert, no distress; heart regular, lungs clear.\n")
        spans = note.sentence(
            "{e} with history, exam and medical decision making.\n", {"e": "Established patient visit"}
        )
        em_span = spans["e"]
    if visit:
        note.add("Assessment and plan:\n")
    for code, phrase, template in visit:
        note.add("- ")
        t, ph = _capitalized(template, {"p": phrase})
        spans = note.sentence(t + ".\n", ph)
        s, e = spans["p"]
        evidence.setdefault(("ICD-10-CM", code), []).append(_ev(note, s, e, "assessment_plan"))
    if procs:
        note.add("Procedures:\n")
    for lines, template, (dx_code, dx_phrase, _) in procs:
        phrases = {f"x{k}": phrase for k, (_, _, phrase) in enumerate(lines)}
        phrases["p"] = dx_phrase
        spans = note.sentence(template + ".\n", phrases)
        for k, (code, system, _) in enumerate(lines):
            s, e = spans[f"x{k}"]
            evidence.setdefault((system, code), []).append(_ev(note, s, e, "procedures"))
        s, e = spans["p"]
        evidence.setdefault(("ICD-10-CM", dx_code), []).append(_ev(note, s, e, "procedures"))
    text = note.text
    for items in evidence.values():
        for ev in items:
            ev["text"] = text[ev["start"] : ev["end"]]
    return note, evidence, em_span, fever


def _coding(
    rng: random.Random,
    note: NoteBuilder,
    evidence: Evidence,
    em_span: tuple[int, int] | None,
    fever: tuple[int, int],
    visit: list[tuple[str, str, str]],
    procs: list[Procedure],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the engine's suggestions, the coder's final codes) in the coder's order: visit diagnoses first
    (the E/M's), then the procedures'."""
    from chartcoder.codes import procedures
    from chartcoder.codes.icd10cm import icd10cm

    icd = icd10cm()
    text = note.text
    dx_order = [code for code, _, _ in visit] + [d[0] for _, _, d in procs]
    dx_order = list(dict.fromkeys(dx_order))
    proc_codes = [(code, system) for lines, _, _ in procs for code, system, _ in lines]
    em_code = rng.choice(EM_CODES) if em_span is not None else None
    suggestions: list[dict[str, Any]] = []
    codes: list[dict[str, Any]] = []
    # Sometimes the coder added a visit diagnosis the engine did not suggest (no evidence). Never a
    # procedure's diagnosis: without evidence its procedure would point to the principal instead.
    visit_codes = [code for code, _, _ in visit]
    added = rng.choice(visit_codes) if len(dx_order) > 1 and visit_codes and rng.random() < 0.15 else None
    for code in dx_order:
        desc = icd.description(code)
        if code != added:
            suggestions.append(_suggestion(code, "ICD-10-CM", desc, evidence[("ICD-10-CM", code)], rng))
        codes.append(_code(code, "ICD-10-CM", desc, "added" if code == added else "accepted"))
    for code, system in proc_codes:
        desc = (procedures.cpt() if system == "CPT" else procedures.hcpcs()).lookup(code).description
        suggestions.append(_suggestion(code, system, desc, evidence[(system, code)], rng))
        codes.append(_code(code, system, desc, "accepted"))
    if em_code is not None:
        assert em_span is not None
        desc = procedures.cpt().lookup(em_code).description
        suggestions.append(_suggestion(em_code, "CPT", desc, [_ev(note, *em_span, "exam")], rng))
        codes.append(_code(em_code, "CPT", desc, "accepted"))
        for ev in suggestions[-1]["evidence"]:
            ev["text"] = text[ev["start"] : ev["end"]]
    if rng.random() < 0.3:  # a rejected suggestion the assembler must leave out
        ev = _ev(note, *fever, "hpi")
        ev["text"], ev["assertion"] = text[fever[0] : fever[1]], "negated"
        suggestions.append(_suggestion("R50.9", "ICD-10-CM", icd.description("R50.9"), [ev], rng))
        codes.append(_code("R50.9", "ICD-10-CM", icd.description("R50.9"), "rejected"))
    return suggestions, codes


def _is_procedure(code: str) -> bool:
    from chartcoder.billing.scrubber import is_procedure

    return is_procedure(code)


def _ev(note: NoteBuilder, start: int, end: int, section: str) -> dict[str, Any]:
    return {"start": start, "end": end, "text": "", "assertion": "present", "section": section}


def _suggestion(
    code: str, system: str, desc: str, evidence: list[dict[str, Any]], rng: random.Random
) -> dict[str, Any]:
    return {
        "code": code,
        "system": system,
        "description": desc,
        "score": round(rng.uniform(0.55, 0.99), 3),
        "evidence": evidence,
        "warnings": [],
    }


def _code(code: str, system: str, desc: str, state: str) -> dict[str, Any]:
    return {"code": code, "system": system, "description": desc, "state": state, "source": "coder"}


# -- measurement ---------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def dist_ms(seconds: list[float]) -> dict[str, float]:
    ms = [t * 1000 for t in seconds]
    return {
        "p50_ms": round(percentile(ms, 0.5), 4),
        "p99_ms": round(percentile(ms, 0.99), 4),
        "mean_ms": round(statistics.fmean(ms), 4),
    }


def pin(core: int | None) -> dict[str, Any]:
    if not hasattr(os, "sched_setaffinity"):
        return {"pinned": False, "core": None, "note": "os.sched_setaffinity is not available: not pinned"}
    allowed = sorted(os.sched_getaffinity(0))
    chosen = allowed[-1] if core is None else core
    os.sched_setaffinity(0, {chosen})
    return {
        "pinned": True,
        "core": chosen,
        "note": f"pinned to core {chosen} with os.sched_setaffinity (allowed before: {allowed})",
    }


STAGES = ("assemble", "scrub", "write_837p", "fhir_claim_json", "cms1500_fields")


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--claims", type=int, default=2000, help="Synthetic encounters to generate.")
    ap.add_argument("--repeat", type=int, default=5, help="Timed passes over all claims; medians are reported.")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", type=Path, default=None, help="Also write the summary here.")
    ap.add_argument("--core", type=int, default=None, help="CPU to pin to (default: the last allowed one).")
    args = ap.parse_args()
    if args.claims < 1 or args.repeat < 1:
        ap.error("--claims and --repeat must be at least 1")
    return args


def main() -> int:
    args = parse_args()
    started = datetime.now(UTC)
    load_start = os.getloadavg()
    pinning = pin(args.core)

    t0 = time.perf_counter()
    from chartcoder.billing import cms1500, fhir, x12  # noqa: F401  (imported here so setup_s counts them)
    from chartcoder.billing.assembler import load_fee_schedule, load_practice
    from chartcoder.billing.scrubber import EDIT_IDS, Scrubber

    practice, fees, scrubber = load_practice(), load_fee_schedule(), Scrubber.default()
    setup_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    encounters, planted = generate(args.claims, args.seed)
    generate_s = time.perf_counter() - t0

    timed = time_passes(encounters, args.repeat, practice, fees, scrubber)
    claims, results, texts = timed.claims, timed.results, timed.texts
    per_stage, head_claim, all_claim, share = stage_stats(timed.times)

    # Findings per edit over the set (first pass), and the planted expectations.
    findings, clean, with_warnings = findings_per_edit(results, EDIT_IDS)
    em25 = planted_checks(claims, planted, results)
    # Every written 837P read back: same diagnoses, codes, modifiers, charges, pointers.
    round_trip_ok = round_trips(claims, texts)
    pyx12 = pyx12_baseline(texts, claims, args.seed, head_claim)

    headline = statistics.median(timed.headline_passes)
    res: dict[str, Any] = {
        "command": "benchmarks/claims.py " + " ".join(sys.argv[1:]),
        "claims": len(encounters),
        "repeat": args.repeat,
        "seed": args.seed,
        "warmup_claims": timed.warm,
        "pinning": pinning,
        "headline": {
            "what": "assemble + scrub + write_837p, claims/s on one core (median over passes)",
            "claims_per_s": round(headline, 1),
            "per_pass": [round(x, 1) for x in timed.headline_passes],
            "target": HEADLINE_TARGET,
            "met": headline >= HEADLINE_TARGET,
        },
        "all_writers": {
            "what": "assemble + scrub + 837P + FHIR Claim + CMS-1500 fields, claims/s (median over passes)",
            "claims_per_s": round(statistics.median(timed.all_passes), 1),
            "per_pass": [round(x, 1) for x in timed.all_passes],
        },
        "pass_wall_s": [round(x, 3) for x in timed.wall_passes],
        "per_claim": {
            **per_stage,
            "assemble+scrub+837p": dist_ms(head_claim),
            "all": dist_ms(all_claim),
        },
        "share_of_time": share,
        "findings_per_edit": {k: dict(v) for k, v in findings.items() if v},
        "edits_run": list(EDIT_IDS),
        "claims_without_errors": clean,
        "claims_with_warnings": with_warnings,
        "planted_checks": dict(em25),
        "round_trip_837p": {"checked": len(texts), "same": round_trip_ok},
        "pyx12": pyx12,
        "dataset": {**dataset_shape(claims, encounters, planted), "generate_s": round(generate_s, 2)},
        "setup_s": round(setup_s, 2),
        "scrubber": "Scrubber.default(): no NCCI/MUE files loaded, so NCCI_PTP and MUE_UNITS find nothing",
        "started_utc": started.strftime("%Y-%m-%d %H:%M:%S"),
        "finished_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "loadavg_start": [round(x, 2) for x in load_start],
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpu",
    }
    print(json.dumps(res, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2) + "\n")
    return 0


def stage_stats(
    times: list[list[list[float]]],
) -> tuple[dict[str, dict[str, float]], list[float], list[float], dict[str, float]]:
    """From each claim's median over the passes: (per-stage distribution, assemble + scrub + 837P seconds
    per claim, all stages' seconds per claim, each stage's share of the time)."""
    med = [[statistics.median(times[i][k]) for k in range(len(STAGES))] for i in range(len(times))]
    per_stage = {name: dist_ms([m[k] for m in med]) for k, name in enumerate(STAGES)}
    head_claim = [m[0] + m[1] + m[2] for m in med]
    all_claim = [sum(m) for m in med]
    stage_sums = [sum(m[k] for m in med) for k in range(len(STAGES))]
    share = {name: round(stage_sums[k] / sum(stage_sums), 3) for k, name in enumerate(STAGES)}
    return per_stage, head_claim, all_claim, share


def generate(n_claims: int, seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(encounters, what was planted in each), checking that every evidence span slices its note."""
    rng = random.Random(seed)
    today = date.today()
    generated = [make_encounter(n, rng, today) for n in range(1, n_claims + 1)]
    encounters = [e for e, _ in generated]
    planted = [p for _, p in generated]
    for enc in encounters:  # evidence must slice the note text
        for s in enc["suggestion_set"]["suggestions"]:
            for ev in s["evidence"]:
                assert enc["text"][ev["start"] : ev["end"]] == ev["text"] and ev["text"], (enc["id"], ev)
    return encounters, planted


def findings_per_edit(results: list[Any], edit_ids: Sequence[str]) -> tuple[dict[str, Counter[str]], int, int]:
    """(findings per edit and severity, claims without errors, claims with warnings)."""
    findings: dict[str, Counter[str]] = {eid: Counter() for eid in edit_ids}
    clean = with_warnings = 0
    for result in results:
        for f in result.findings:
            findings[f.edit][f.severity] += 1
        clean += result.clean
        with_warnings += bool(result.warnings)
    return findings, clean, with_warnings


@dataclass
class Passes:
    """What the timed passes measured: per claim, per stage, per pass seconds; claims/s per pass; and the
    first pass's claims, scrubber results and 837P texts."""

    warm: int
    times: list[list[list[float]]]
    headline_passes: list[float] = field(default_factory=list)
    all_passes: list[float] = field(default_factory=list)
    wall_passes: list[float] = field(default_factory=list)
    claims: list[Any] = field(default_factory=list)
    results: list[Any] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)


def time_passes(encounters: list[dict[str, Any]], repeat: int, practice: Any, fees: Any, scrubber: Any) -> Passes:
    """After a warm-up, `repeat` timed passes of every stage over every encounter."""
    from chartcoder.billing.assembler import assemble
    from chartcoder.billing.cms1500 import cms1500_fields
    from chartcoder.billing.fhir import fhir_claim_json
    from chartcoder.billing.x12 import write_837p

    def one(i: int, enc: dict[str, Any]) -> tuple[list[float], Any, Any, str]:
        pc = time.perf_counter
        a = pc()
        claim = assemble(enc, practice, fees)
        b = pc()
        result = scrubber.scrub(claim)
        c = pc()
        x12 = write_837p(claim, control_number=i + 1)
        d = pc()
        fhir_claim_json(claim)
        e = pc()
        cms1500_fields(claim)
        f = pc()
        return [b - a, c - b, d - c, e - d, f - e], claim, result, x12

    warm = min(WARMUP, len(encounters))
    for i, enc in enumerate(encounters[:warm]):
        one(i, enc)

    passes = Passes(warm, [[[] for _ in STAGES] for _ in encounters])  # claim -> stage -> passes
    for r in range(repeat):
        gc.collect()
        head_total = all_total = 0.0
        w0 = time.perf_counter()
        for i, enc in enumerate(encounters):
            st, claim, result, x12 = one(i, enc)
            for k, t in enumerate(st):
                passes.times[i][k].append(t)
            head_total += st[0] + st[1] + st[2]
            all_total += sum(st)
            if r == 0:
                passes.claims.append(claim)
                passes.results.append(result)
                passes.texts.append(x12)
        passes.wall_passes.append(time.perf_counter() - w0)
        passes.headline_passes.append(len(encounters) / head_total)
        passes.all_passes.append(len(encounters) / all_total)
    return passes


def planted_checks(claims: list[Any], planted: list[dict[str, Any]], results: list[Any]) -> Counter[str]:
    """How often the claims and the scrubber did what the generator planted."""
    from chartcoder.billing.scrubber import EM_OFFICE

    em25: Counter[str] = Counter()
    for claim, p, result in zip(claims, planted, results, strict=True):
        em = [ln for ln in claim.lines if ln.code in EM_OFFICE]
        has25 = any("25" in ln.modifiers for ln in em)
        em25["modifier_25_expected"] += p["expect_modifier_25"]
        em25["modifier_25_on_claim"] += has25
        em25["modifier_25_as_planted"] += has25 == p["expect_modifier_25"]
        missing = "MODIFIER_25_MISSING" in result.edit_ids
        em25["modifier_25_missing_expected"] += p["expect_modifier_25_missing"]
        em25["MODIFIER_25_MISSING_as_planted"] += missing == p["expect_modifier_25_missing"]
        em25["unpointed_diagnoses_expected"] += p["unpointed_diagnoses"]
        em25["unpointed_diagnosis_warnings"] += sum(
            f.edit == "POINTER_INTEGRITY" and f.diagnosis is not None for f in result.findings
        )
        em25["code_first_pairs"] += p["code_first_pair"]
        em25["code_first_sequenced"] += p["code_first_pair"] and [d.code for d in claim.diagnoses].index("E11.22") < [
            d.code for d in claim.diagnoses
        ].index("N18.31")
    return em25


def round_trips(claims: list[Any], texts: list[str]) -> int:
    """How many written 837Ps read back to the same diagnoses, codes, modifiers, charges and pointers."""
    from chartcoder.billing.x12 import parse_837p

    same = 0
    for claim, text in zip(claims, texts, strict=True):
        parsed = parse_837p(text)
        same += (
            parsed.diagnoses == tuple(d.code for d in claim.diagnoses)
            and [(ln.code, ln.modifiers, ln.charge, ln.pointers) for ln in parsed.lines]
            == [(ln.code, ln.modifiers, ln.charge, ln.pointers) for ln in claim.lines]
            and parsed.total_charge == claim.total_charge
        )
    return same


def pyx12_baseline(texts: list[str], claims: list[Any], seed: int, head_claim: list[float]) -> dict[str, Any]:
    """Baseline in the same run: pyx12 validation of a sample of the written files."""
    from chartcoder.billing.x12 import validate_837p

    sample = sorted(random.Random(seed + 1).sample(range(len(texts)), min(PYX12_SAMPLE, len(texts))))
    validate_837p(texts[sample[0]])  # warm-up: pyx12 imports and loads its maps on first use
    v_times: list[float] = []
    valid = 0
    invalid: list[dict[str, Any]] = []
    for i in sample:
        a = time.perf_counter()
        errors = validate_837p(texts[i])
        v_times.append(time.perf_counter() - a)
        if errors:
            invalid.append({"claim": claims[i].claim_id, "errors": errors[:3]})
        else:
            valid += 1
    return {
        "sample": len(sample),
        "valid": valid,
        "invalid": invalid,
        "per_file": dist_ms(v_times),
        "ratio_p50_to_claim_p50": round(percentile(v_times, 0.5) / percentile(head_claim, 0.5), 1),
        "ratio_mean_to_claim_mean": round(statistics.fmean(v_times) / statistics.fmean(head_claim), 1),
    }


def dataset_shape(claims: list[Any], encounters: list[dict[str, Any]], planted: list[dict[str, Any]]) -> dict[str, Any]:
    from chartcoder.billing.scrubber import EM_OFFICE

    n_dx = [len(c.diagnoses) for c in claims]
    n_lines = [len(c.lines) for c in claims]
    return {
        "diagnoses_per_claim": {"mean": round(statistics.fmean(n_dx), 2), "min": min(n_dx), "max": max(n_dx)},
        "lines_per_claim": {"mean": round(statistics.fmean(n_lines), 2), "min": min(n_lines), "max": max(n_lines)},
        "claims_with_em": sum(any(ln.code in EM_OFFICE for ln in c.lines) for c in claims),
        "claims_em_with_surgical_procedure": sum(p["em_with_surgical"] for p in planted),
        "hcpcs_lines": sum(ln.system == "HCPCS" for c in claims for ln in c.lines),
        "note_chars_median": int(statistics.median(len(e["text"]) for e in encounters)),
    }


if __name__ == "__main__":
    raise SystemExit(main())
