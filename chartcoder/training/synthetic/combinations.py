"""Conditions coded together by the combination rules: weight with BMI, and diabetes, hypertension, CKD and heart
failure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chartcoder.training.synthetic.coding import _z68_adult
from chartcoder.training.synthetic.context import Ctx
from chartcoder.training.synthetic.histories import _year
from chartcoder.training.synthetic.loading import _tuple
from chartcoder.training.synthetic.model import Line, Problem
from chartcoder.training.synthetic.problems import _ap_text, _duration
from chartcoder.training.synthetic.tables import CPT, SIDE_WEIGHTS
from chartcoder.training.synthetic.text import _cap, _fill, _low, _ordinal, _pick, _sentence, _side_text, _wpick


def _weight(ctx: Ctx, *, rank: int = 3) -> bool:
    rng = ctx.rng
    w = ctx.d.combos["weight"]
    if ctx.age >= 20:
        e = _wpick(rng, w["adult"], [x.get("w", 1) for x in w["adult"]])
        bmi = round(rng.uniform(e["bmi"][0], e["bmi"][1]), 1)
        z68 = _z68_adult(bmi)
        bmi_text = f"BMI {bmi}"
    elif ctx.age >= 2:
        e = _wpick(rng, w["peds"], [x.get("w", 1) for x in w["peds"]])
        pct = rng.randint(e["pct"][0], e["pct"][1])
        z68 = str(e["z68"])
        bmi = round(rng.uniform(e["bmi"][0], e["bmi"][1]), 1)
        ctx.bmi_pct = pct
        bmi_text = f"BMI {_ordinal(pct)} percentile for age"
    else:
        return False
    code = str(e["code"])
    phrase = _pick(rng, e["terms"])
    p = Problem("weight", "present", [code, z68], [], phrase, rank=rank, clash=("E66", "Z68", "R63.6"))
    plan = _pick(rng, e.get("plans") or w["plans"])
    text = _fill(rng, _pick(rng, w["forms"]), P=_cap(phrase), bmi=bmi_text, plan=plan)
    if ctx.kind == "discharge":
        p.lines.append(Line("dx", _cap(_fill(rng, "{P}, {bmi}", P=phrase, bmi=bmi_text)), (code, z68)))
    else:
        p.lines.append(Line("ap", _sentence(text), (code, z68)))
    if ctx.add(p):
        ctx.bmi = bmi
        ctx.bmi_codes = (z68,)
        return True
    return False


def _dx_line(
    ctx: Ctx, phrase: str, status: str, plan: str, codes: Sequence[str], *, course: bool = False
) -> list[Line]:
    """The assessment line (or discharge-diagnosis line, with a hospital-course sentence) for a phrase."""
    if ctx.kind == "discharge":
        out = [Line("dx", _cap(phrase), tuple(codes))]
        if course:
            form = _pick(ctx.rng, ctx.d.phr["course_forms"])
            text = _fill(ctx.rng, form, pt=ctx.she, P=phrase, plan=_low(plan))
            out.append(Line("course", _sentence(_cap(text)), tuple(codes)))
        return out
    return [Line("ap", _ap_text(ctx, phrase, status, plan), tuple(codes))]


def _diabetes(ctx: Ctx, ckd_codes: list[str], *, dka: bool, rank: int, main: bool) -> Problem:
    rng = ctx.rng
    dm = ctx.d.combos["diabetes"]
    t1 = dka and rng.random() < 0.6 or rng.random() < (0.4 if ctx.age < 30 else 0.07)
    prefix = "e10" if t1 else "e11"
    name = _pick(rng, dm["t1_terms" if t1 else "t2_terms"])
    comps: list[str] = []
    if dka:
        comps.append("dka")
    else:
        if ckd_codes:
            comps.append("ckd")
        options = [k for k, v in dm["comps"].items() if v.get("w", 0) > 0 and (not v.get("e11_only") or not t1)]
        for _ in range(_wpick(rng, (0, 1, 2), (5, 4, 1)) - (1 if ckd_codes else 0)):
            extra = _wpick(rng, options, [dm["comps"][k]["w"] for k in options])
            clash = [extra] + list(dm["comps"][extra].get("excludes", []))
            if not any(c in comps for c in clash):
                comps.append(extra)
    p = Problem("diabetes", "present", [], [], name, rank=rank, clash=("E08", "E09", "E10", "E11", "E13", "O24", "R73"))
    if ctx.kind != "discharge" and rng.random() < 0.7:
        p.lines.append(Line("pmh", name, ("E1x",)))
    a1c_high = "hyperglycemia" in comps or "dka" in comps
    a1c = round(rng.uniform(8.2, 12.6) if a1c_high else rng.uniform(5.9, 7.8), 1)
    status = _fill(rng, _pick(rng, dm["status_high" if a1c_high else "status"]), a1c=a1c)
    # drugs
    drug_lines: list[str] = []
    if t1:
        drug_lines.append(_pick(rng, dm["t1_insulin"]))
        if rng.random() < 0.3:
            p.codes.append("Z96.41")
            p.lines.append(
                Line("psh", _sentence(_fill(rng, _pick(rng, dm["pump"]), year=_year(ctx, (1, 8)))), ("Z96.41",))
            )
    else:
        n = _wpick(rng, (0, 1, 2), (2, 5, 3))
        chosen: list[dict[str, Any]] = []
        for d in rng.sample(dm["t2_drugs"], len(dm["t2_drugs"])):
            if len(chosen) >= n:
                break
            if all(d["code"] != c["code"] for c in chosen):
                chosen.append(d)
        for d in chosen:
            code = str(d["code"])
            if code not in p.codes:
                p.codes.append(code)
            p.lines.append(Line("meds", str(d["med"]), (code,)))
            drug_lines.append(str(d["plan"]))
        if not chosen:
            drug_lines.append(_pick(rng, dm["diet"]))
    plan = " ".join(_sentence(x) for x in drug_lines[:2])
    first = True
    icd: list[str] = []
    for comp in comps or ["none"]:
        spec = dm["comps"].get(comp, dm["none"])
        side = ""
        if "sides" in spec:
            sides = list(spec["sides"][prefix])
            side = _wpick(rng, sides, [SIDE_WEIGHTS.get(s, 1.0) for s in sides])
            codes = list(_tuple(spec["sides"][prefix][side]))
        else:
            codes = list(_tuple(spec[prefix]))
        fill: dict[str, Any] = {"dm": name, "a1c": a1c}
        if comp == "ckd" and ckd_codes:
            fill["ckd"] = ctx.ckd_term
            codes.extend(ckd_codes)
        if comp == "foot_ulcer":
            ulcer = dm["ulcer"]
            uside = _pick(rng, ("right", "left"))
            site = _pick(rng, list(ulcer["sites"]))
            depth = _pick(rng, list(ulcer["depth"]))
            codes.append(f"{ulcer['sites'][site][uside]}{depth}")
            fill.update(site=site, depth=ulcer["depth"][depth])
            side = uside
        forms = spec["with"] if first else spec.get("alone", spec["with"])
        phrase = _side_text(rng, _fill(rng, _pick(rng, forms), **fill), side)
        for c in codes:
            if c not in icd:
                icd.append(c)
        line_plan = plan if first else _pick(rng, spec.get("plans", dm["plans"]))
        if comp == "dka":
            line_plan = _pick(rng, dm["dka_course"])
        line_status = status if first else _pick(rng, ctx.d.phr["status"]["chronic"])
        p.lines.extend(_dx_line(ctx, phrase, line_status, line_plan, codes, course=main and first))
        first = False
    p.codes = [c for c in icd if c not in ckd_codes] + [c for c in p.codes if c not in icd]
    for line in p.lines:
        if line.codes == ("E1x",):
            line.codes = tuple(c for c in p.codes if c[:3] in ("E10", "E11"))
    if (
        ctx.kind == "office"
        and rng.random() < 0.3
        and not any(c == "83036" for q in ctx.problems for c, _ in q.procedures)
    ):
        p.procedures.append(("83036", CPT))
        p.lines.append(Line("results", _sentence(_fill(rng, _pick(rng, dm["poc_a1c"]), a1c=a1c)), ("83036",)))
    if "neuropathy" in comps and ctx.kind == "office":
        ctx.exam_override["ext"] = _sentence(_pick(rng, dm["neuro_exam"]))
    return p


def _cardiometabolic(
    ctx: Ctx,
    *,
    dm: bool,
    htn: bool,
    ckd: bool,
    hf: bool,
    acute_hf: bool = False,
    dka: bool = False,
    rank: int = 2,
) -> bool:
    """Diabetes, hypertension, CKD and heart failure, coded together by the combination rules."""
    rng = ctx.rng
    cm = ctx.d.combos["cardiorenal"]
    main = acute_hf or dka
    stage: dict[str, Any] | None = None
    if ckd:
        stages = [s for s in cm["ckd"] if ctx.kind == "discharge" or s["key"] != "5"]
        stage = _wpick(rng, stages, [s["w"] for s in stages])
    ckd_code = str(stage["code"]) if stage else None
    esrd = bool(stage and stage["key"] in ("5", "esrd"))
    ckd_codes = ([ckd_code] if ckd_code else []) + (["Z99.2"] if stage and stage["key"] == "esrd" else [])
    ckd_term = _pick(rng, stage["terms"]) if stage else ""
    ctx.ckd_term = ckd_term
    hfe: dict[str, Any] | None = None
    if hf:
        hfe = _pick(rng, cm["hf_acute" if acute_hf else "hf_chronic"])
    hf_code = str(hfe["code"]) if hfe else None
    hf_term = _pick(rng, hfe["terms"]) if hfe else ""
    hcode = None
    if htn:
        if ckd and hf:
            hcode = "I13.2" if esrd else "I13.0"
        elif ckd:
            hcode = "I12.0" if esrd else "I12.9"
        elif hf:
            hcode = "I11.0"
        else:
            hcode = "I10"
    probs: list[Problem] = []
    htn_clash = ("I10", "I11", "I12", "I13", "I15", "I16", "O10", "O11", "O13", "O16")
    covered_ckd = covered_hf = False
    if hcode:
        p = Problem("hypertension", "present", [hcode], [], "", rank=0 if acute_hf else rank, clash=htn_clash)
        combine = rng.random() < 0.45 and (ckd or hf)
        if combine:
            key = "I13" if ckd and hf else "I12" if ckd else "I11"
            phrase = _fill(rng, _pick(rng, cm["combined"][key]), ckd=ckd_term, hf=hf_term)
            codes = [hcode] + ([hf_code] if hf_code and hf else []) + ckd_codes
            covered_hf, covered_ckd = bool(hf), bool(ckd)
        else:
            phrase = _pick(rng, cm["htn_terms"])
            codes = [hcode]
        ctx.bp = (rng.randint(118, 152), rng.randint(68, 94))
        status = _fill(rng, _pick(rng, cm["htn_status"]), sbp=ctx.bp[0], dbp=ctx.bp[1])
        p.phrase = _pick(rng, cm["htn_terms"])
        med = _pick(rng, cm["htn_meds"])
        plan = _fill(rng, _pick(rng, cm["htn_plans"]), med=med)
        if acute_hf and combine:
            plan = _pick(rng, cm["hf_course"])
        p.lines.extend(_dx_line(ctx, phrase, status, plan, codes, course=acute_hf and combine))
        if ctx.kind != "discharge" and rng.random() < 0.8:
            p.lines.append(Line("pmh", _pick(rng, cm["htn_terms"]), (hcode,)))
        p.lines.append(Line("meds", med, (), False))
        probs.append(p)
    if hfe and hf_code:
        hf_rank = 0 if acute_hf else rank + (1 if hcode else 0)
        p = Problem("heart_failure", "present", [hf_code], [], hf_term, rank=hf_rank, clash=("I50",))
        if not covered_hf or rng.random() < 0.5:
            codes = [hf_code] + ([hcode] if hcode else [])
            plan = _pick(rng, cm["hf_course" if acute_hf else "hf_plans"])
            p.lines.extend(_dx_line(ctx, hf_term, _pick(rng, cm["hf_status"]), plan, codes, course=acute_hf))
        if acute_hf:
            p.withheld.extend(["R06.02", "R60.0"])
            p.lines.append(
                Line("hpi", _sentence(_cap(_fill(rng, _pick(rng, cm["hf_hpi"]), pt=ctx.she, dur=_duration(ctx)))))
            )
            ctx.sx_used.extend(["sob", "leg_swelling"])
            ctx.exam_override["lungs"] = "Bibasilar crackles."
            ctx.exam_override["ext"] = "2+ pitting edema to the mid shins bilaterally."
        p.lines.append(Line("meds", _pick(rng, cm["hf_meds"]), (), False))
        probs.append(p)
    if stage and ckd_code:
        p = Problem(
            "ckd", "present", ckd_codes, [], ckd_term, rank=(1 if acute_hf else rank + 1), clash=("N18", "D63.1")
        )
        egfr = rng.randint(stage["egfr"][0], stage["egfr"][1])
        if not covered_ckd or not dm or rng.random() < 0.5:
            codes = ckd_codes + ([hcode] if hcode else []) + (["E10.22", "E11.22"] if dm else [])
            status = _fill(rng, _pick(rng, cm["ckd_status"]), egfr=egfr)
            p.lines.extend(_dx_line(ctx, ckd_term, status, _pick(rng, cm["ckd_plans"]), codes))
        probs.append(p)
        if rng.random() < 0.15:
            a = Problem(
                "anemia_ckd",
                "present",
                ["D63.1"],
                [],
                "",
                rank=(2 if acute_hf else rank + 2),
                clash=("D5", "D63", "D64"),
            )
            phrase = _pick(rng, cm["anemia_ckd"])
            a.lines.extend(
                _dx_line(
                    ctx,
                    phrase,
                    f"Hgb {round(rng.uniform(8.6, 10.9), 1)}",
                    _pick(rng, cm["anemia_plans"]),
                    ["D63.1", ckd_code],
                )
            )
            probs.append(a)
    if dm:
        p = _diabetes(ctx, ckd_codes, dka=dka, rank=0 if dka else rank, main=dka)
        probs.append(p)
    if not probs:
        return False
    # the CKD line lists both E10.22 and E11.22 as possibly supported; keep the one the diabetes problem has
    dm_codes = [c for q in probs if q.key == "diabetes" for c in q.codes]
    for q in probs:
        for line in q.lines:
            line.codes = tuple(c for c in line.codes if c not in ("E10.22", "E11.22") or c in dm_codes)
    if not main:
        rng.shuffle(probs)
    return ctx.add(*probs)
