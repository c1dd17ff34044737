"""Operative and endoscopy reports, and the surgical reason for a consult, a preoperative H&P or a surgical stay."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chartcoder.training.synthetic.context import Ctx, _age_words, _sex_word
from chartcoder.training.synthetic.model import Cond, Line, Problem
from chartcoder.training.synthetic.problems import _ap_text, _cond_codes, _duration, _present, _side, _term, _unc_codes
from chartcoder.training.synthetic.text import _cap, _fill, _join_words, _low, _pick, _sentence, _side_text, _wpick


def _cond_ok(ctx: Ctx, cond: Cond) -> bool:
    """Age and sex allow the condition (an operation names its conditions, so `where` does not apply)."""
    return cond.age[0] <= ctx.age <= cond.age[1] and (not cond.sex or cond.sex == ctx.sex)


def _op_ok(ctx: Ctx, op: dict[str, Any]) -> bool:
    if not op["ages"][0] <= ctx.age <= op["ages"][1] or (op.get("sex") and op["sex"] != ctx.sex):
        return False
    return any(_cond_ok(ctx, ctx.d.conds[c]) for c in op["dx"])


def _pick_op(ctx: Ctx, pool: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """An operation for this patient; when none fits, the patient is redrawn to fit one (as for prenatal visits)."""
    rng = ctx.rng
    fitting = [op for op in pool if _op_ok(ctx, op)]
    if fitting:
        return _wpick(rng, fitting, [float(op.get("w", 1)) for op in fitting])
    op = _wpick(rng, list(pool), [float(op.get("w", 1)) for op in pool])
    ctx.sex = str(op.get("sex") or ctx.sex)
    for _ in range(20):
        ctx.age = rng.randint(op["ages"][0], op["ages"][1])
        if _op_ok(ctx, op):
            break
    ctx.medicare = ctx.age >= 65
    return op


def _op_side(ctx: Ctx, op: dict[str, Any], cond: Cond, prefer: str = "") -> str:
    """The side of a condition an operation treats: one the operation allows, never 'unspecified'."""
    if not cond.lateral:
        return ""
    allowed = [s for s in cond.codes if s != "unspecified" and s in op.get("sides", cond.codes)]
    allowed = allowed or [s for s in cond.codes if s != "unspecified"] or list(cond.codes)
    if prefer in allowed:
        return prefer
    return _side(ctx.rng, cond, allowed)


def _title(ctx: Ctx, template: str, side: str, phrase: str) -> str:
    return _cap(_side_text(ctx.rng, _fill(ctx.rng, template, P=_low(phrase)), side))


def _comorbid(ctx: Ctx, k: int, section: str, *, sentence: bool) -> None:
    """Conditions named only in the past history: written, not coded (optional for a coder), never contradicted
    by a coded code of the same category."""
    rng = ctx.rng
    pool = [e for e in ctx.d.ops["comorbid"] if e["age"][0] <= ctx.age <= e["age"][1]]
    terms: list[str] = []
    for e in rng.sample(pool, len(pool))[: k * 2]:
        if len(terms) >= k:
            break
        term = str(_pick(rng, e["terms"]))
        p = Problem("comorbid", "optional", [], [str(e["code"])], term, rank=9)
        if ctx.add(p):
            terms.append(term)
            if not sentence:
                p.lines.append(Line(section, term, (), True))
    if sentence and terms:
        form = _pick(rng, ctx.d.ops["comorbid_forms"])
        text = _fill(rng, form, list=_join_words(terms, "and"), Her=_cap(ctx.her), Pt=_cap(ctx.she))
        ctx.extra.append(Line(section, _sentence(_cap(text)), (), True))


def _ebl(ctx: Ctx, op: dict[str, Any]) -> str:
    rng = ctx.rng
    lo, hi = int(op["ebl"][0]), int(op["ebl"][1])
    ops = ctx.d.ops
    if hi == 0:
        return str(_pick(rng, ("None", "Minimal", "None.")))
    n = rng.randint(lo, hi)
    n = n if n < 20 else int(round(n / 10.0) * 10)
    if n <= 10 and rng.random() < 0.7:
        return str(_pick(rng, ops["ebl_small"]))
    return _fill(rng, _pick(rng, ops["ebl_forms"]), n=max(n, 5))


def _plan_operative(ctx: Ctx) -> str:
    """An operative (or endoscopy) report: the postoperative diagnosis is coded; "Same" means the preoperative
    list; a refined postoperative diagnosis replaces the preoperative one, whose code is withheld."""
    rng = ctx.rng
    ops = ctx.d.ops
    op = _pick_op(ctx, ops["operations"])
    ctx.reason = str(op["id"])
    if op.get("report") == "endoscopy":
        ctx.headings = dict(ctx.d.phr["headings_endoscopy"])
    conds = ctx.d.conds
    refines = [
        r
        for r in op.get("refine", [])
        if _cond_ok(ctx, conds[r["post"]])
        and not (isinstance(r["pre"], str) and r["pre"] != "unc" and not _cond_ok(ctx, conds[r["pre"]]))
        and not (r["pre"] == "unc" and conds[r["post"]].unc is None)
    ]
    mode = _wpick(rng, ("same", "repeat", "refine"), (45, 25, 30 if refines else 0))
    pre_spec: Any = None
    if mode == "refine":
        r = _wpick(rng, refines, [float(x.get("p", 1)) for x in refines])
        cond, pre_spec = conds[r["post"]], r["pre"]
    else:
        pool = [conds[c] for c in op["dx"] if _cond_ok(ctx, conds[c])]
        cond = _wpick(rng, pool, [c.weight for c in pool])
    side = _op_side(ctx, op, cond)
    tside = side or (_pick(rng, ("right", "left")) if op.get("side_free") else "")
    phrase = _term(rng, cond, side)
    main = Problem(cond.id, "present", _cond_codes(ctx, cond, side), [], phrase, side, rank=0, clash=cond.clash)
    # the preoperative diagnosis the report starts from
    pre_phrase, pre_codes = phrase, list(main.codes)
    if mode == "refine":
        if pre_spec == "unc":
            assert cond.unc is not None
            pre_phrase = _side_text(rng, _pick(rng, cond.unc.terms), side)
            pre_codes = list(_unc_codes(cond, side))
        elif isinstance(pre_spec, str):
            pre_cond = conds[pre_spec]
            pre_side = _op_side(ctx, op, pre_cond, prefer=side)
            pre_phrase = _term(rng, pre_cond, pre_side)
            pre_codes = _cond_codes(ctx, pre_cond, pre_side)
        else:
            pre_codes = [str(pre_spec["sides"][side or "right"])] if "sides" in pre_spec else [str(pre_spec["code"])]
            pre_phrase = _side_text(rng, _pick(rng, pre_spec["terms"]), side or tside)
        main.withheld = [c for c in pre_codes if c not in main.codes]
    pre_lines: list[Line] = [Line("preop", _cap(pre_phrase), tuple(main.codes) if mode != "refine" else ())]
    post_lines: list[Line] = [] if mode == "same" else [Line("postop", _cap(phrase), tuple(main.codes))]
    titles = [_title(ctx, str(_pick(rng, op["title"])), tside, phrase)]
    if not ctx.add(main):
        return "failed"
    extra_probs: list[Problem] = []
    for e in op.get("dx2", []):  # listed before and after the operation
        other = conds[e["cond"]]
        if rng.random() >= float(e.get("p", 0.5)) or not _cond_ok(ctx, other):
            continue
        oside = _op_side(ctx, op, other, prefer=side)
        p2 = Problem(other.id, "present", _cond_codes(ctx, other, oside), [], _term(rng, other, oside), oside, rank=1)
        p2.clash = other.clash
        if ctx.add(p2):
            extra_probs.append(p2)
            pre_lines.append(Line("preop", _cap(p2.phrase), tuple(p2.codes)))
            if mode != "same":
                post_lines.append(Line("postop", _cap(p2.phrase), tuple(p2.codes)))
            if e.get("title"):
                titles.append(_title(ctx, str(e["title"]), oside or tside, p2.phrase))
    for e in op.get("add", []):  # found at operation: only in the postoperative list
        other = conds[e["cond"]]
        if rng.random() >= float(e.get("p", 0.3)) or not _cond_ok(ctx, other):
            continue
        oside = _op_side(ctx, op, other, prefer=side)
        p3 = Problem(other.id, "present", _cond_codes(ctx, other, oside), [], _term(rng, other, oside), oside, rank=2)
        p3.clash = other.clash
        if ctx.add(p3):
            extra_probs.append(p3)
            if mode == "same":  # the list now differs from the preoperative one: written out in full
                mode = "repeat"
                post_lines = [Line("postop", ln.text, ln.codes) for ln in pre_lines]
            post_lines.append(Line("postop", _cap(p3.phrase), tuple(p3.codes)))
            if e.get("title"):
                titles.append(_title(ctx, str(e["title"]), oside or tside, p3.phrase))
    if mode == "same":
        post_lines = [Line("postop", _sentence(str(_pick(rng, ops["same"]))), (), True)]
    main.lines.extend(pre_lines + post_lines)
    ctx.title_low = _low(titles[0]).rstrip(".")
    main.lines.extend(Line("proc_title", t) for t in titles)
    # the story that led to the operation: the preoperative diagnosis and its signs, never coded from here
    stories = ops["refine_story"] if mode == "refine" else op.get("story") or list(cond.hpi) or ["{P}"]
    story = _fill(rng, _side_text(rng, _pick(rng, stories), tside), P=_low(pre_phrase), dur=_duration(ctx), pt=ctx.she)
    words = {"age": _age_words(ctx), "sex": _sex_word(ctx), "Pt": _cap(ctx.she), "title_low": ctx.title_low}
    opener = _fill(rng, _pick(rng, ops["indication_openers"]), story=_low(story), **words)
    ctx.extra.append(Line("indications", _sentence(_cap(opener)), (), True))
    if rng.random() < 0.45:
        _comorbid(ctx, _wpick(rng, (1, 2, 3), (3, 3, 1)), "indications", sentence=True)
    if rng.random() < 0.6:
        ctx.extra.append(Line("indications", _sentence(_pick(rng, ops["risk_forms"])), (), False))
    if rng.random() < 0.5:
        tail = _fill(rng, _pick(rng, ops["indication_tails"]), **words)
        ctx.extra.append(Line("indications", _sentence(tail), (), False))
    # who, what anesthesia, blood loss, drains, specimens: written, never coded
    anesthesia = _pick(rng, op["anesthesia"])
    ctx.extra.append(Line("anesthesia", _sentence(_pick(rng, ops["anesthesia"][anesthesia])), (), True))
    ctx.extra.append(Line("surgeon", str(_pick(rng, ops["surgeons"])), (), True))
    ctx.extra.append(Line("assistant", str(_pick(rng, ops["assistants"])), (), True))
    ctx.extra.append(Line("ebl", _sentence(_ebl(ctx, op)), (), True))
    ctx.extra.append(Line("complications", _sentence(_pick(rng, ops["complications"])), (), True))
    if op["ebl"][1]:
        fluids = _fill(rng, _pick(rng, ops["fluids"]), n=rng.randint(3, 25) * 100)
        ctx.extra.append(Line("fluids", _sentence(fluids), (), True))
    drains = op.get("drains") or ops["drains_none"]
    ctx.extra.append(Line("drains", _sentence(_pick(rng, drains)), (), True))
    specimen = _side_text(rng, _pick(rng, op.get("specimens") or ["None"]), tside)
    ctx.extra.append(Line("specimens", _sentence(_cap(specimen)), (), True))
    if op.get("implants"):
        ctx.extra.append(Line("implants", "See implant record", (), True))
    if op.get("tourniquet"):
        ctx.extra.append(Line("tourniquet", f"{rng.randint(12, 95)} minutes", (), True))
    findings = list(op.get("findings_by", {}).get(cond.id, [])) or list(op.get("findings", []))
    if findings:
        ctx.extra.append(Line("findings", _sentence(_cap(_side_text(rng, _pick(rng, findings), tside))), (), True))
    # the description: access, the operation's own steps, closure; integral steps are never coded
    approach = ops["approaches"][op["approach"]]
    steps: list[Any] = [*approach["open"], *op["steps"], *approach.get("close", [])]
    for step in steps:
        text = _side_text(rng, _pick(rng, step) if isinstance(step, list) else str(step), tside)
        ctx.extra.append(Line("description", _sentence(_cap(text)), (), False))
    if op["approach"] not in ("gi_endo",) and rng.random() < 0.5:
        ctx.extra.append(Line("description", _sentence(_pick(rng, ops["counts"])), (), False))
    ctx.extra.append(Line("description", _sentence(_pick(rng, ops["tolerated"])), (), False))
    return f"{op['id']}:{mode}"


def _surgical_main(ctx: Ctx, *, inpatient: bool = False) -> bool:
    """A condition that an operation treats, as the reason for a consult, a preoperative H&P or a surgical
    admission; the operation is named (planned or done), never coded."""
    rng = ctx.rng
    pool = [op for op in ctx.d.ops["operations"] if not inpatient or op.get("inpatient")]
    op = _pick_op(ctx, pool)
    conds = [ctx.d.conds[c] for c in op["dx"] if _cond_ok(ctx, ctx.d.conds[c])]
    cond = _wpick(rng, conds, [c.weight for c in conds])
    side = _op_side(ctx, op, cond)
    ctx.title_low = _low(_title(ctx, str(_pick(rng, op["title"])), side, _term(rng, cond, side))).rstrip(".")
    p = _present(ctx, cond, main=True, rank=0, side=side)
    if ctx.kind != "discharge":  # a surgeon's assessment: the operation planned (not coded), not a referral
        status = _pick(rng, ctx.d.phr["status"]["surgical"])
        plan = _sentence(_fill(rng, _pick(rng, ctx.d.phr["plan_surgical"]), title_low=ctx.title_low))
        for line in p.lines:
            if line.section == "ap" and line.codes:
                line.text = _ap_text(ctx, p.phrase, status, plan)
    if not ctx.add(p):
        return False
    ctx.reason = str(op["id"])
    return True
