"""Imaging reports (OCG IV.K): a definitive impression is coded, else the sign in the indication."""

from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass
class _Study:
    """One imaging study as read: the exam, its side, and the sign in the indication (coded when the reading
    does not explain it)."""

    ex: dict[str, Any]
    side: str
    sym_codes: list[str]
    sym: str
    ind_text: str
    normal: list[str] = field(default_factory=list)  # one normal sentence per slot of the exam's findings


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
    s = _study(ctx, ex, side)
    study = Problem("imaging", "procedure", [], [], name, rank=10)
    if ex.get("cpt"):
        study.procedures.append((str(ex["cpt"]), CPT))
    study.lines.append(Line("rad_exam", _sentence(_cap(name)), tuple(c for c, _ in study.procedures)))
    ctx.add(study, force=True)
    s.normal = [_side_text(rng, str(_pick(rng, slot)), side) for slot in ex["normal"]]
    findings: list[str] | None = None
    if outcome == "definitive":
        findings = _definitive(ctx, s, _pick(rng, usable))
    elif outcome == "uncertain":
        findings = _equivocal(ctx, s, _pick(rng, usable))
    outcome = outcome if findings is not None else "normal"
    impression: list[Line] = []
    if findings is None:
        findings, impression = _normal(ctx, s)
    if outcome != "uncertain":
        _incidental(ctx, s, findings)
    findings.append(_pick(rng, rad["closing"]))
    for text in findings:
        ctx.extra.append(Line("findings", _sentence(_cap(text)), (), True))
    ctx.extra.extend(impression)
    ctx.extra.append(Line("technique", _sentence(_side_text(rng, _pick(rng, ex["technique"]), side)), (), False))
    ctx.extra.append(Line("comparison", _sentence(_pick(rng, rad["comparison"])), (), False))
    return f"{ex['id']}:{outcome}"


def _study(ctx: Ctx, ex: dict[str, Any], side: str) -> _Study:
    """The indication: its sign (a symptom the patient's age allows, or the exam's own) in one of the forms."""
    rng = ctx.rng
    ind_spec = _pick(rng, [i for i in ex["indications"] if not isinstance(i, str) or _sx_age_ok(ctx, i)])
    sym_codes, sym = _rad_indication(ctx, ind_spec, side)
    form = _pick(rng, ctx.d.rad["indication_forms"])
    ind_text = _fill(rng, form, Sx=_cap(sym), sx=sym, dur=_duration(ctx), rule=_pick(rng, ex["rule"]))
    ind_text = _fill(rng, ind_text, age=_age_words(ctx), sex=_sex_word(ctx))
    return _Study(ex, side, sym_codes, sym, ind_text)


def _definitive(ctx: Ctx, s: _Study, e: dict[str, Any]) -> list[str] | None:
    """A definitive impression: the condition is coded, the sign withheld; the findings (None if the condition
    does not fit the note)."""
    rng = ctx.rng
    cond = ctx.d.conds[e["cond"]]
    cside = s.side if cond.lateral else ""
    phrase = _term(rng, cond, cside)
    p = Problem(cond.id, "present", _cond_codes(ctx, cond, cside), [], phrase, cside, rank=0, clash=cond.clash)
    p.withheld = [c for c in s.sym_codes if c not in p.codes]
    p.lines.append(Line("rad_indication", _sentence(_cap(s.ind_text)), ()))
    p.lines.append(Line("impression", _sentence(_cap(phrase)), tuple(p.codes)))
    if not ctx.add(p):
        return None
    return [_sentence(_cap(_side_text(rng, e["finding"], cside)))] + s.normal[1:]


def _equivocal(ctx: Ctx, s: _Study, e: dict[str, Any]) -> list[str] | None:
    """An impression that only raises a condition: the sign is coded, the condition withheld; the findings
    (None if the condition does not fit the note)."""
    rng = ctx.rng
    cond = ctx.d.conds[e["cond"]]
    cside = s.side if cond.lateral else ""
    phrase = _term(rng, cond, cside)
    p = Problem(cond.id, "uncertain", list(s.sym_codes), _cond_codes(ctx, cond, cside), phrase, cside, rank=0)
    finding = _side_text(rng, _pick(rng, s.ex["uncertain_finding"]), s.side)
    text = _fill(rng, _pick(rng, ctx.d.rad["uncertain_forms"]), finding=finding, P=_low(phrase))
    p.lines.append(Line("rad_indication", _sentence(_cap(s.ind_text)), tuple(s.sym_codes)))
    p.lines.append(Line("impression", _sentence(_cap(text)), tuple(s.sym_codes)))
    if not ctx.add(p):
        return None
    return [_sentence(_cap(finding))] + s.normal[1:]


def _normal(ctx: Ctx, s: _Study) -> tuple[list[str], list[Line]]:
    """A normal study: the sign in the indication is coded; the normal findings and impression."""
    p = Problem("indication", "present", list(s.sym_codes), [], s.sym, s.side, rank=0)
    p.lines.append(Line("rad_indication", _sentence(_cap(s.ind_text)), tuple(s.sym_codes)))
    ctx.add(p, force=True)
    text = _side_text(ctx.rng, _pick(ctx.rng, s.ex["normal_impression"]), s.side)
    return s.normal, [Line("impression", _sentence(text), ())]


def _incidental(ctx: Ctx, s: _Study, findings: list[str]) -> None:
    """Now and then an incidental finding the study shows, coded when it fits the note."""
    rng = ctx.rng
    incidental = [
        e for e in s.ex["incidental"] if _cond_ok(ctx, ctx.d.conds[e["cond"]]) and not ctx.used(str(e["cond"]))
    ]
    if not incidental or rng.random() >= 0.3:
        return
    e = _pick(rng, incidental)
    cond = ctx.d.conds[e["cond"]]
    cside = s.side if cond.lateral and s.side in cond.codes else ""
    if cond.lateral and not cside:
        return
    phrase = _term(rng, cond, cside)
    q = Problem(cond.id, "present", _cond_codes(ctx, cond, cside), [], phrase, cside, rank=2, clash=cond.clash)
    q.lines.append(Line("impression", _sentence(_cap(phrase)), tuple(q.codes)))
    if ctx.add(q):
        findings.append(_sentence(_cap(_side_text(rng, e["finding"], cside))))


def _sx_age_ok(ctx: Ctx, sx_id: str) -> bool:
    return ctx.age >= int(ctx.d.phr["symptoms"][sx_id].get("min_age", 0))
