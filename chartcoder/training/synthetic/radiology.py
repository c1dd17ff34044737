"""Imaging reports (OCG IV.K): a definitive impression is coded, else the sign in the indication."""

from __future__ import annotations

from typing import Any

from chartcoder.training.synthetic.context import Ctx, _age_words, _sex_word
from chartcoder.training.synthetic.model import Line, Problem
from chartcoder.training.synthetic.problems import _cond_codes, _duration, _symptom, _term
from chartcoder.training.synthetic.surgery import _cond_ok
from chartcoder.training.synthetic.tables import CPT
from chartcoder.training.synthetic.text import _cap, _fill, _low, _pick, _sentence, _side_text, _wpick


def _rad_indication(ctx: Ctx, spec: Any, side: str) -> tuple[list[str], str]:
    """The sign of an imaging indication: a symptom id of phrasing.yaml or an inline {code | sides, terms}."""
    rng = ctx.rng
    if isinstance(spec, str):
        code, term = _symptom(ctx, spec)
        return [code], term
    codes = [str(spec["sides"][side])] if "sides" in spec else [str(spec["code"])]
    return codes, _side_text(rng, _pick(rng, spec["terms"]), side)


def _plan_radiology(ctx: Ctx) -> str:
    """An imaging report (OCG IV.K): a definitive impression is coded; a normal study, or an impression that
    only raises a condition, codes the sign in the indication."""
    rng = ctx.rng
    rad = ctx.d.rad
    exams = [e for e in rad["exams"] if e["ages"][0] <= ctx.age <= e["ages"][1]]
    if not exams:
        exams = list(rad["exams"])
        ctx.age = rng.randint(30, 80)
        ctx.medicare = ctx.age >= 65
    ex = _wpick(rng, exams, [float(e.get("w", 1)) for e in exams])
    ctx.reason = str(ex["id"])
    side = _pick(rng, ("right", "left")) if ex.get("sided") else ""
    name = _fill(rng, _pick(rng, ex["names"]), side=side, SIDE=side.upper())
    usable = [
        e
        for e in ex["dx"]
        if _cond_ok(ctx, ctx.d.conds[e["cond"]])
        and (not ctx.d.conds[e["cond"]].lateral or side in ctx.d.conds[e["cond"]].codes)
    ]
    outcome = _wpick(rng, ("definitive", "uncertain", "normal"), (50 if usable else 0, 20 if usable else 0, 30))
    ind_spec = _pick(rng, [i for i in ex["indications"] if not isinstance(i, str) or _sx_age_ok(ctx, i)])
    sym_codes, sym = _rad_indication(ctx, ind_spec, side)
    form = _pick(rng, rad["indication_forms"])
    ind_text = _fill(rng, form, Sx=_cap(sym), sx=sym, dur=_duration(ctx), rule=_pick(rng, ex["rule"]))
    ind_text = _fill(rng, ind_text, age=_age_words(ctx), sex=_sex_word(ctx))
    study = Problem("imaging", "procedure", [], [], name, rank=10)
    if ex.get("cpt"):
        study.procedures.append((str(ex["cpt"]), CPT))
    study.lines.append(Line("rad_exam", _sentence(_cap(name)), tuple(c for c, _ in study.procedures)))
    ctx.add(study, force=True)
    normal = [_side_text(rng, str(_pick(rng, slot)), side) for slot in ex["normal"]]
    findings: list[str] = []
    impression: list[Line] = []
    if outcome == "definitive":
        e = _pick(rng, usable)
        cond = ctx.d.conds[e["cond"]]
        cside = side if cond.lateral else ""
        phrase = _term(rng, cond, cside)
        p = Problem(cond.id, "present", _cond_codes(ctx, cond, cside), [], phrase, cside, rank=0, clash=cond.clash)
        p.withheld = [c for c in sym_codes if c not in p.codes]
        p.lines.append(Line("rad_indication", _sentence(_cap(ind_text)), ()))
        p.lines.append(Line("impression", _sentence(_cap(phrase)), tuple(p.codes)))
        if not ctx.add(p):
            outcome = "normal"
        else:
            findings = [_sentence(_cap(_side_text(rng, e["finding"], cside)))] + normal[1:]
    if outcome == "uncertain":
        e = _pick(rng, usable)
        cond = ctx.d.conds[e["cond"]]
        cside = side if cond.lateral else ""
        phrase = _term(rng, cond, cside)
        p = Problem(cond.id, "uncertain", list(sym_codes), _cond_codes(ctx, cond, cside), phrase, cside, rank=0)
        finding = _side_text(rng, _pick(rng, ex["uncertain_finding"]), side)
        text = _fill(rng, _pick(rng, rad["uncertain_forms"]), finding=finding, P=_low(phrase))
        p.lines.append(Line("rad_indication", _sentence(_cap(ind_text)), tuple(sym_codes)))
        p.lines.append(Line("impression", _sentence(_cap(text)), tuple(sym_codes)))
        if not ctx.add(p):
            outcome = "normal"
        else:
            findings = [_sentence(_cap(finding))] + normal[1:]
    if outcome == "normal":
        p = Problem("indication", "present", list(sym_codes), [], sym, side, rank=0)
        p.lines.append(Line("rad_indication", _sentence(_cap(ind_text)), tuple(sym_codes)))
        ctx.add(p, force=True)
        findings = normal
        text = _side_text(rng, _pick(rng, ex["normal_impression"]), side)
        impression.append(Line("impression", _sentence(text), ()))
    incidental = [
        e
        for e in ex["incidental"]
        if _cond_ok(ctx, ctx.d.conds[e["cond"]]) and not ctx.used(str(e["cond"])) and outcome != "uncertain"
    ]
    if incidental and rng.random() < 0.3:
        e = _pick(rng, incidental)
        cond = ctx.d.conds[e["cond"]]
        cside = side if cond.lateral and side in cond.codes else ""
        if not cond.lateral or cside:
            phrase = _term(rng, cond, cside)
            q = Problem(cond.id, "present", _cond_codes(ctx, cond, cside), [], phrase, cside, rank=2, clash=cond.clash)
            q.lines.append(Line("impression", _sentence(_cap(phrase)), tuple(q.codes)))
            if ctx.add(q):
                findings.append(_sentence(_cap(_side_text(rng, e["finding"], cside))))
    findings.append(_pick(rng, rad["closing"]))
    for text in findings:
        ctx.extra.append(Line("findings", _sentence(_cap(text)), (), True))
    ctx.extra.extend(impression)
    ctx.extra.append(Line("technique", _sentence(_side_text(rng, _pick(rng, ex["technique"]), side)), (), False))
    ctx.extra.append(Line("comparison", _sentence(_pick(rng, rad["comparison"])), (), False))
    return f"{ex['id']}:{outcome}"


def _sx_age_ok(ctx: Ctx, sx_id: str) -> bool:
    return ctx.age >= int(ctx.d.phr["symptoms"][sx_id].get("min_age", 0))
