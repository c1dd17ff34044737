"""One condition as a decision: present, uncertain or ruled out, with the HPI, tests, in-visit procedures, symptom
denials and the review of systems that go with it."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from chartcoder.training.synthetic.coding import _needs_seventh
from chartcoder.training.synthetic.context import Ctx
from chartcoder.training.synthetic.loading import _tuple
from chartcoder.training.synthetic.model import Cond, Line, Problem
from chartcoder.training.synthetic.tables import CPT, HCPCS, SIDE_WEIGHTS
from chartcoder.training.synthetic.text import _cap, _fill, _join_words, _low, _pick, _sentence, _side_text, _wpick


def _side(rng: random.Random, cond: Cond, allowed: Sequence[str] | None = None) -> str:
    if not cond.lateral:
        return ""
    sides = [s for s in cond.codes if allowed is None or s in allowed]
    return _wpick(rng, sides, [SIDE_WEIGHTS.get(s, 1.0) for s in sides])


def _term(rng: random.Random, cond: Cond, side: str) -> str:
    if side == "bilateral" and cond.bilateral_terms:
        return _side_text(rng, _pick(rng, cond.bilateral_terms), side)
    if side == "unspecified" and cond.unspecified_terms:
        return _pick(rng, cond.unspecified_terms)
    return _side_text(rng, _pick(rng, cond.terms), side)


def _cond_codes(ctx: Ctx, cond: Cond, side: str) -> list[str]:
    return [c + ctx.seventh() if _needs_seventh(c) else c for c in cond.codes[side]]


def _unc_codes(cond: Cond, side: str) -> tuple[str, ...]:
    assert cond.unc is not None
    if side in cond.unc.codes:
        return cond.unc.codes[side]
    return cond.unc.codes.get("", ())


def _status_word(ctx: Ctx, cond: Cond) -> str:
    if cond.status:
        return _pick(ctx.rng, cond.status)
    key = "injury_" + ctx.seventh() if cond.type == "injury" else cond.type
    table = ctx.d.phr["status"]
    return _pick(ctx.rng, table.get(key, table["acute"]))


def _plan_text(ctx: Ctx, cond: Cond, side: str) -> str:
    rng = ctx.rng
    if cond.plan_d and ctx.seventh() == "D" and cond.type == "injury":
        return _sentence(_cap(_side_text(rng, _pick(rng, cond.plan_d), side)))
    if cond.plan and (cond.type != "injury" or ctx.seventh() == "A" or rng.random() < 0.3):
        return _sentence(_cap(_side_text(rng, _pick(rng, cond.plan), side)))
    key = "injury_" + ctx.seventh() if cond.type == "injury" else cond.type
    table = ctx.d.phr["plan_generic"]
    return _sentence(_pick(rng, table.get(key, table["acute"])))


def _ap_text(ctx: Ctx, phrase: str, status: str, plan: str) -> str:
    forms = ctx.d.phr["ap_forms"] if status else [f for f in ctx.d.phr["ap_forms"] if "{status}" not in f]
    form = _pick(ctx.rng, forms)
    return _fill(ctx.rng, form, P=_cap(phrase), status=status, plan=plan).strip()


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


def _duration(ctx: Ctx) -> str:
    return _pick(ctx.rng, ctx.d.phr["durations"])


def _symptom(ctx: Ctx, sx_id: str) -> tuple[str, str]:
    s = ctx.d.phr["symptoms"][sx_id]
    return str(s["code"]), _pick(ctx.rng, s["terms"])


def _hpi_symptoms(ctx: Ctx, terms: list[str], codes: tuple[str, ...] = ()) -> Line:
    form = _pick(ctx.rng, ctx.d.phr["hpi_symptom_forms"])
    text = _sentence(_cap(_fill(ctx.rng, form, sx=_join_words(terms, "and"), dur=_duration(ctx), pt=ctx.she)))
    return Line("hpi", text, codes)


def _present(ctx: Ctx, cond: Cond, *, main: bool, rank: int, side: str | None = None, new: bool = False) -> Problem:
    """A condition the note documents as present: coded."""
    rng = ctx.rng
    side = _side(rng, cond) if side is None else side
    phrase = _term(rng, cond, side)
    codes = _cond_codes(ctx, cond, side)
    p = Problem(cond.id, "present", codes, phrase=phrase, side=side, rank=rank, clash=cond.clash, new_finding=new)
    plan = _plan_text(ctx, cond, side)
    if new:
        plan = _sentence(_pick(rng, ctx.d.kinds["preventive"]["finding_plans"]))
    elif cond.drugs and rng.random() < cond.drug_p:
        drug = _pick(rng, cond.drugs)
        taken = drug.code is not None and drug.code in ctx.icd_codes()
        if drug.code and not taken:
            p.codes.append(drug.code)
            p.lines.append(Line("meds", drug.med, (drug.code,)))
            plan = _sentence(drug.plan)
        elif drug.code is None:
            p.lines.append(Line("meds", drug.med, (), False))
            plan = _sentence(drug.plan)
    elif cond.med:
        p.lines.append(Line("meds", _pick(rng, cond.med), (), False))
    if ctx.kind == "discharge":
        p.lines.append(Line("dx", _cap(phrase), tuple(p.codes)))
        if main or cond.course:
            course = _side_text(rng, _pick(rng, cond.course), side) if cond.course else plan
            form = _pick(rng, ctx.d.phr["course_forms"])
            p.lines.append(
                Line(
                    "course", _sentence(_cap(_fill(rng, form, pt=ctx.she, P=phrase, plan=_low(course)))), tuple(p.codes)
                )
            )
    else:
        p.lines.append(Line("ap", _ap_text(ctx, phrase, _status_word(ctx, cond), plan), tuple(p.codes)))
        if cond.type == "chronic" and not main and not new and rng.random() < 0.85:
            p.lines.append(Line("pmh", _term(rng, cond, side), tuple(p.codes)))
    if main:
        _main_details(ctx, cond, p, side)
    for system, text in cond.exam.items():
        if main or rng.random() < 0.5:
            ctx.exam_override[system] = _sentence(_cap(_side_text(rng, text, side)))
    return p


def _ros_related(ctx: Ctx, codes: Sequence[str]) -> None:
    """Keep the review of systems from denying what the main problem is about (no 'denies joint pain' for a sprain)."""
    related = ctx.d.phr["ros_related"]
    for code in codes:
        ctx.sx_used.extend(related.get(code[:1], []))


def _main_details(ctx: Ctx, cond: Cond, p: Problem, side: str) -> None:
    """HPI, chief complaint, tests and in-visit procedures for the reason of the encounter."""
    rng = ctx.rng
    _ros_related(ctx, p.codes)
    terms: list[str] = []
    for sx_id in cond.sx:
        code, term = _symptom(ctx, sx_id)
        terms.append(term)
        p.withheld.append(code)
        ctx.sx_used.append(sx_id)
        if sx_id == "fever":
            ctx.febrile = True
    if cond.unc is not None:
        unc = _side_text(rng, _pick(rng, cond.unc.terms), side)
        unc_codes = [c for c in _unc_codes(cond, side) if c not in p.codes]
        if not any(c in p.withheld for c in unc_codes):
            terms.insert(0, unc)
            p.withheld.extend(unc_codes)
    terms = [t for i, t in enumerate(terms) if t not in terms[:i]]
    if cond.hpi:
        p.lines.append(
            Line(
                "hpi",
                _sentence(
                    _cap(_fill(rng, _side_text(rng, _pick(rng, cond.hpi), side), pt=ctx.she, dur=_duration(ctx)))
                ),
            )
        )
    elif terms:
        p.lines.append(_hpi_symptoms(ctx, terms[:3]))
    if ctx.kind in ("urgent", "ed", "office", "consult", "hp"):
        ctx.cc.append(_cap(terms[0]) if terms else _cap(p.phrase))
    for test in cond.poc:
        _poc(ctx, p, test, positive=True)
    for proc in cond.procs:
        _inline_proc(ctx, p, proc, side)
    if cond.xray and ctx.kind in ("urgent", "ed"):
        code, text = cond.xray
        line = _sentence(_cap(_side_text(rng, text, side)))
        if ctx.kind == "urgent":
            p.procedures.append((code, CPT))
            p.lines.append(Line("results", line, (code,)))
        else:
            p.lines.append(Line("results", line))
    if cond.dme and ctx.kind == "urgent":
        for code in cond.dme:
            item = ctx.d.procs["dme"][code]
            p.procedures.append((code, HCPCS))
            p.lines.append(Line("ap_extra", _sentence(_cap(_side_text(rng, _pick(rng, item), side))), (code,)))


def _poc(ctx: Ctx, p: Problem, test_id: str, *, positive: bool) -> None:
    test = ctx.d.procs["poc"][test_id]
    if ctx.kind not in test.get("where", ["urgent", "office"]):
        return
    if not test["ages"][0] <= ctx.age <= test["ages"][1]:
        return
    text = _sentence(_fill(ctx.rng, _pick(ctx.rng, test["pos" if positive else "neg"])))
    code = str(test["code"])
    if any(code == c for q in ctx.problems + [p] for c, _ in q.procedures):
        return
    p.procedures.append((code, str(test.get("system", CPT))))
    p.lines.append(Line("results", text, (code,)))


def _inline_proc(ctx: Ctx, p: Problem, proc_id: str, side: str) -> None:
    proc = ctx.d.procs["inline"][proc_id]
    if ctx.kind not in proc.get("where", ["urgent", "ed", "office"]):
        return
    ages = proc.get("ages", [0, 200])
    if not ages[0] <= ctx.age <= ages[1]:
        return
    rng = ctx.rng
    text = _sentence(_cap(_fill(rng, _side_text(rng, _pick(rng, proc["text"]), side))))
    codes: list[tuple[str, str]] = [(str(c), str(s)) for c, s in proc["codes"]]
    if "drugs" in proc:
        drug = _pick(rng, proc["drugs"])
        text = _sentence(_fill(rng, text, drug=drug["text"]))
        codes.append((str(drug["code"]), HCPCS))
    have = [c for q in ctx.problems + [p] for c, _ in q.procedures]
    codes = [(c, s) for c, s in codes if c not in have]
    p.procedures.extend(codes)
    p.lines.append(Line("procedure" if ctx.kind != "office" else "ap_extra", text, tuple(c for c, _ in codes)))


def _uncertain(ctx: Ctx, cond: Cond, *, rank: int, main: bool = True) -> Problem | None:
    """An uncertain diagnosis: the symptom in an outpatient note, the condition itself at discharge."""
    rng = ctx.rng
    if cond.unc is None:
        return None
    allowed = [s for s in cond.codes if s in cond.unc.codes or "" in cond.unc.codes]
    if not allowed:
        return None
    side = _side(rng, cond, allowed)
    cond_phrase = _term(rng, cond, side)
    sym_codes = _unc_codes(cond, side)
    sym = _side_text(rng, _pick(rng, cond.unc.terms), side)
    full = _cond_codes(ctx, cond, side)
    if ctx.setting == "inpatient":
        cue = _pick(rng, ctx.d.phr["uncertain_in"])
        p = Problem(cond.id, "uncertain", full, [c for c in sym_codes if c not in full], cond_phrase, side, rank=rank)
        p.clash = cond.clash
        dx = _cap(_fill(rng, cue, cond=cond_phrase))
        p.lines.append(Line("dx", dx, tuple(full)))
        course = _side_text(rng, _pick(rng, cond.course), side) if cond.course else _plan_text(ctx, cond, side)
        form = _pick(rng, ctx.d.phr["course_uncertain"])
        text = _fill(rng, form, pt=ctx.she, sym=sym, cond=cond_phrase, plan=_low(course))
        p.lines.append(Line("course", _sentence(_cap(text)), tuple(full)))
        return p
    cue = _pick(rng, ctx.d.phr["uncertain_out"])
    plan = _pick(rng, ctx.d.phr["uncertain_plan"])
    p = Problem(cond.id, "uncertain", list(sym_codes), full, cond_phrase, side, rank=rank, clash=cond.clash)
    text = _cap(_fill(rng, cue, sym=sym, cond=cond_phrase))
    p.lines.append(Line("ap", _sentence(text) + " " + _sentence(plan), tuple(sym_codes)))
    if main:
        _ros_related(ctx, full + list(sym_codes))
        p.lines.append(_hpi_symptoms(ctx, [sym], tuple(sym_codes)))
        ctx.cc.append(_cap(sym))
        for sx_id in cond.sx[:1]:
            code, term = _symptom(ctx, sx_id)
            if code not in sym_codes:
                p.withheld.append(code)  # never written as present: keeps ROS from denying it
                ctx.sx_used.append(sx_id)
    return p


def _negatables(ctx: Ctx) -> list[dict[str, Any]]:
    """Conditions a note of this kind may rule out without a linked complaint."""
    return [
        n
        for n in ctx.d.phr["negatable"]
        if ctx.kind in n.get("random", ())
        and (not n.get("sex") or n["sex"] == ctx.sex)
        and ctx.age >= n.get("min_age", 12)
    ]


def _negated(ctx: Ctx, neg: dict[str, Any], *, rank: int = 8) -> Problem:
    """A condition the note rules out: not coded (a point-of-care test that ruled it out is billed)."""
    rng = ctx.rng
    term = _pick(rng, neg["terms"])
    tests = list(neg.get("tests") or [])
    poc = ctx.d.procs["poc"].get(str(neg.get("poc", "")))
    poc_code = ""
    if poc and ctx.kind in poc.get("where", ["urgent", "office"]) and poc["ages"][0] <= ctx.age <= poc["ages"][1]:
        poc_code = str(poc["code"])
        if any(poc_code == c for q in ctx.problems for c, _ in q.procedures):
            poc_code = ""
        else:
            tests = [_low(t) for t in poc["neg"]]
    forms = ctx.d.phr["negation_forms"] if tests else ctx.d.phr["negation_forms_no_test"]
    text = _sentence(_cap(_fill(rng, _pick(rng, forms), term=term, test=_pick(rng, tests) if tests else "")))
    codes = [str(c) for c in _tuple(neg["code"])]
    p = Problem(str(neg["id"]), "negated", [], codes, term, rank=rank, clash=_tuple(neg.get("clash")))
    section = {"discharge": "course", "ed": "mdm"}.get(ctx.kind, "ap" if rng.random() < 0.5 else "results")
    if poc_code:
        p.procedures.append((poc_code, str(poc.get("system", CPT)) if poc else CPT))
        p.lines.append(Line("results", text, (poc_code,)))
    else:
        p.lines.append(Line(section, text))
    return p


def _denials(ctx: Ctx, k: int, section: str = "hpi") -> None:
    """'Denies chest pain or fever': symptoms named as absent, none coded."""
    rng = ctx.rng
    table = ctx.d.phr["symptoms"]
    ids = [s for s in table if s not in ctx.sx_used and ctx.age >= table[s].get("min_age", 0)]
    chosen: list[tuple[str, str]] = []
    for _ in range(k * 3):
        if len(chosen) >= k or not ids:
            break
        sid = _pick(rng, ids)
        ids.remove(sid)
        if ctx.febrile and sid in ("fever", "chills"):
            continue
        code, term = _symptom(ctx, sid)
        probe = Problem("denial", "negated", [], [code])
        if ctx.conflicts([probe]):
            continue
        ctx.sx_used.append(sid)
        chosen.append((code, term))
    if not chosen:
        return
    form = _pick(rng, ctx.d.phr["denial_forms"])
    text = _sentence(_cap(_fill(rng, form, sx=_join_words([t for _, t in chosen]))))
    p = Problem("denial", "negated", [], [c for c, _ in chosen], rank=9)
    p.lines.append(Line(section, text))
    ctx.add(p, force=True)


def _ros(ctx: Ctx) -> None:
    rng = ctx.rng
    if rng.random() < 0.15:
        return
    table = ctx.d.phr["symptoms"]
    systems = ctx.d.phr["ros_systems"]
    for system in systems:
        if rng.random() < 0.35:
            continue
        ids = [s for s in system["sx"] if s not in ctx.sx_used and ctx.age >= table[s].get("min_age", 0)]
        if ctx.febrile:
            ids = [s for s in ids if s not in ("fever", "chills")]
        if not ids:
            continue
        rng.shuffle(ids)
        keep: list[tuple[str, str]] = []
        for sid in ids[: rng.randint(1, 3)]:
            code, term = _symptom(ctx, sid)
            if ctx.conflicts([Problem("ros", "negated", [], [code])]):
                continue
            keep.append((code, term))
            ctx.sx_used.append(sid)
        if not keep:
            continue
        label = _pick(rng, system["labels"])
        form = _pick(rng, ctx.d.phr["ros_forms"])
        text = _fill(rng, form, sys=label, sx=_join_words([t for _, t in keep]))
        p = Problem("ros", "negated", [], [c for c, _ in keep], rank=9)
        p.lines.append(Line("ros", _sentence(text), (), False))
        ctx.add(p, force=True)
    if rng.random() < 0.5:
        ctx.extra.append(Line("ros", _pick(rng, ctx.d.phr["ros_closers"]), (), False))
