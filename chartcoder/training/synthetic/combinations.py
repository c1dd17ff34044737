"""Conditions coded together by the combination rules: weight with BMI, and diabetes, hypertension, CKD and heart
failure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chartcoder.training.synthetic.coding import _z68_adult
from chartcoder.training.synthetic.context import Ctx
from chartcoder.training.synthetic.diabetes import _diabetes
from chartcoder.training.synthetic.model import Line, Problem
from chartcoder.training.synthetic.problems import _duration, _dx_line
from chartcoder.training.synthetic.text import _cap, _fill, _ordinal, _pick, _sentence, _wpick


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


HTN_CLASH = ("I10", "I11", "I12", "I13", "I15", "I16", "O10", "O11", "O13", "O16")


@dataclass
class _Cardiorenal:
    """The cardiorenal picture drawn for one note: CKD stage, heart failure, the hypertension code they make."""

    acute_hf: bool
    dm: bool
    rank: int
    stage: dict[str, Any] | None = None
    ckd_codes: list[str] = field(default_factory=list)
    ckd_term: str = ""
    hf_code: str | None = None
    hf_term: str = ""
    hcode: str | None = None
    covered_ckd: bool = False  # the hypertension line names the CKD too (I12/I13 written as one phrase)
    covered_hf: bool = False

    @property
    def ckd_code(self) -> str | None:
        return str(self.stage["code"]) if self.stage else None


def _hypertension_code(*, ckd: bool, hf: bool, esrd: bool) -> str:
    """I10, or the combination code hypertension makes with CKD (I12), heart failure (I11) or both (I13)."""
    if ckd and hf:
        return "I13.2" if esrd else "I13.0"
    if ckd:
        return "I12.0" if esrd else "I12.9"
    return "I11.0" if hf else "I10"


def _cardiorenal(ctx: Ctx, *, htn: bool, ckd: bool, hf: bool, acute_hf: bool, dm: bool, rank: int) -> _Cardiorenal:
    rng = ctx.rng
    cm = ctx.d.combos["cardiorenal"]
    cr = _Cardiorenal(acute_hf, dm, rank)
    if ckd:
        stages = [s for s in cm["ckd"] if ctx.kind == "discharge" or s["key"] != "5"]
        cr.stage = _wpick(rng, stages, [s["w"] for s in stages])
    stage = cr.stage
    esrd = bool(stage and stage["key"] in ("5", "esrd"))
    cr.ckd_codes = ([str(stage["code"])] if stage else []) + (["Z99.2"] if stage and stage["key"] == "esrd" else [])
    cr.ckd_term = _pick(rng, stage["terms"]) if stage else ""
    ctx.ckd_term = cr.ckd_term
    hfe = _pick(rng, cm["hf_acute" if acute_hf else "hf_chronic"]) if hf else None
    cr.hf_code = str(hfe["code"]) if hfe else None
    cr.hf_term = _pick(rng, hfe["terms"]) if hfe else ""
    cr.hcode = _hypertension_code(ckd=ckd, hf=hf, esrd=esrd) if htn else None
    return cr


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
    cr = _cardiorenal(ctx, htn=htn, ckd=ckd, hf=hf, acute_hf=acute_hf, dm=dm, rank=rank)
    probs: list[Problem] = []
    if cr.hcode:
        probs.append(_hypertension(ctx, cr, cr.hcode))
    if cr.hf_code:
        probs.append(_heart_failure(ctx, cr, cr.hf_code))
    if cr.stage:
        probs += _ckd(ctx, cr, cr.stage)
    if dm:
        probs.append(_diabetes(ctx, cr.ckd_codes, dka=dka, rank=0 if dka else rank, main=dka))
    if not probs:
        return False
    # the CKD line lists both E10.22 and E11.22 as possibly supported; keep the one the diabetes problem has
    dm_codes = [c for q in probs if q.key == "diabetes" for c in q.codes]
    for q in probs:
        for line in q.lines:
            line.codes = tuple(c for c in line.codes if c not in ("E10.22", "E11.22") or c in dm_codes)
    if not (acute_hf or dka):
        ctx.rng.shuffle(probs)
    return ctx.add(*probs)


def _hypertension(ctx: Ctx, cr: _Cardiorenal, hcode: str) -> Problem:
    """Hypertension, written alone or as one phrase with the CKD and heart failure its code combines."""
    rng = ctx.rng
    cm = ctx.d.combos["cardiorenal"]
    ckd, hf = cr.stage is not None, cr.hf_code is not None
    p = Problem("hypertension", "present", [hcode], [], "", rank=0 if cr.acute_hf else cr.rank, clash=HTN_CLASH)
    combine = rng.random() < 0.45 and (ckd or hf)
    if combine:
        key = "I13" if ckd and hf else "I12" if ckd else "I11"
        phrase = _fill(rng, _pick(rng, cm["combined"][key]), ckd=cr.ckd_term, hf=cr.hf_term)
        codes = [hcode] + ([cr.hf_code] if cr.hf_code else []) + cr.ckd_codes
        cr.covered_hf, cr.covered_ckd = hf, ckd
    else:
        phrase = _pick(rng, cm["htn_terms"])
        codes = [hcode]
    ctx.bp = (rng.randint(118, 152), rng.randint(68, 94))
    status = _fill(rng, _pick(rng, cm["htn_status"]), sbp=ctx.bp[0], dbp=ctx.bp[1])
    p.phrase = _pick(rng, cm["htn_terms"])
    med = _pick(rng, cm["htn_meds"])
    plan = _fill(rng, _pick(rng, cm["htn_plans"]), med=med)
    if cr.acute_hf and combine:
        plan = _pick(rng, cm["hf_course"])
    p.lines.extend(_dx_line(ctx, phrase, status, plan, codes, course=cr.acute_hf and combine))
    if ctx.kind != "discharge" and rng.random() < 0.8:
        p.lines.append(Line("pmh", _pick(rng, cm["htn_terms"]), (hcode,)))
    p.lines.append(Line("meds", med, (), False))
    return p


def _heart_failure(ctx: Ctx, cr: _Cardiorenal, hf_code: str) -> Problem:
    """Heart failure; acute, the principal diagnosis of a stay, with its story and exam (its signs withheld)."""
    rng = ctx.rng
    cm = ctx.d.combos["cardiorenal"]
    hf_rank = 0 if cr.acute_hf else cr.rank + (1 if cr.hcode else 0)
    p = Problem("heart_failure", "present", [hf_code], [], cr.hf_term, rank=hf_rank, clash=("I50",))
    if not cr.covered_hf or rng.random() < 0.5:
        codes = [hf_code] + ([cr.hcode] if cr.hcode else [])
        plan = _pick(rng, cm["hf_course" if cr.acute_hf else "hf_plans"])
        p.lines.extend(_dx_line(ctx, cr.hf_term, _pick(rng, cm["hf_status"]), plan, codes, course=cr.acute_hf))
    if cr.acute_hf:
        p.withheld.extend(["R06.02", "R60.0"])
        hpi = _fill(rng, _pick(rng, cm["hf_hpi"]), pt=ctx.she, dur=_duration(ctx))
        p.lines.append(Line("hpi", _sentence(_cap(hpi))))
        ctx.sx_used.extend(["sob", "leg_swelling"])
        ctx.exam_override["lungs"] = "Bibasilar crackles."
        ctx.exam_override["ext"] = "2+ pitting edema to the mid shins bilaterally."
    p.lines.append(Line("meds", _pick(rng, cm["hf_meds"]), (), False))
    return p


def _ckd(ctx: Ctx, cr: _Cardiorenal, stage: dict[str, Any]) -> list[Problem]:
    """CKD with its stage (and dialysis status), and now and then the anemia in CKD."""
    rng = ctx.rng
    cm = ctx.d.combos["cardiorenal"]
    rank = 1 if cr.acute_hf else cr.rank + 1
    p = Problem("ckd", "present", cr.ckd_codes, [], cr.ckd_term, rank=rank, clash=("N18", "D63.1"))
    egfr = rng.randint(stage["egfr"][0], stage["egfr"][1])
    if not cr.covered_ckd or not cr.dm or rng.random() < 0.5:
        codes = cr.ckd_codes + ([cr.hcode] if cr.hcode else []) + (["E10.22", "E11.22"] if cr.dm else [])
        status = _fill(rng, _pick(rng, cm["ckd_status"]), egfr=egfr)
        p.lines.extend(_dx_line(ctx, cr.ckd_term, status, _pick(rng, cm["ckd_plans"]), codes))
    if rng.random() >= 0.15:
        return [p]
    a = Problem("anemia_ckd", "present", ["D63.1"], [], "", rank=(2 if cr.acute_hf else cr.rank + 2))
    a.clash = ("D5", "D63", "D64")
    phrase = _pick(rng, cm["anemia_ckd"])
    hgb = f"Hgb {round(rng.uniform(8.6, 10.9), 1)}"
    a.lines.extend(_dx_line(ctx, phrase, hgb, _pick(rng, cm["anemia_plans"]), ["D63.1", str(stage["code"])]))
    return [p, a]
