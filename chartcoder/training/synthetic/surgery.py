"""Operative and endoscopy reports, and the surgical reason for a consult, a preoperative H&P or a surgical stay."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
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


@dataclass
class _Operation:
    """An operative report while it is written: the operation, its main diagnosis and the diagnosis lists."""

    op: dict[str, Any]
    cond: Cond
    mode: str  # same ("Same" as the preoperative list) | repeat (written out again) | refine (replaced)
    side: str  # the side of the main diagnosis ("" if not lateral)
    tside: str  # the side the operation is written with (a side-free operation may name one)
    main: Problem
    pre_phrase: str
    pre_lines: list[Line] = field(default_factory=list)
    post_lines: list[Line] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)


def _plan_operative(ctx: Ctx) -> str:
    """An operative (or endoscopy) report: the postoperative diagnosis is coded; "Same" means the preoperative
    list; a refined postoperative diagnosis replaces the preoperative one, whose code is withheld."""
    op = _pick_op(ctx, ctx.d.ops["operations"])
    ctx.reason = str(op["id"])
    if op.get("report") == "endoscopy":
        ctx.headings = dict(ctx.d.phr["headings_endoscopy"])
    o = _operation(ctx, op)
    if not ctx.add(o.main):
        return "failed"
    _other_diagnoses(ctx, o)
    if o.mode == "same":
        o.post_lines = [Line("postop", _sentence(str(_pick(ctx.rng, ctx.d.ops["same"]))), (), True)]
    o.main.lines.extend(o.pre_lines + o.post_lines)
    ctx.title_low = _low(o.titles[0]).rstrip(".")
    o.main.lines.extend(Line("proc_title", t) for t in o.titles)
    _indications(ctx, o)
    _operative_record(ctx, o)
    _operative_description(ctx, o)
    return f"{op['id']}:{o.mode}"


def _refinements(ctx: Ctx, op: dict[str, Any]) -> list[dict[str, Any]]:
    """The refinements of the operation this patient allows (pre: a condition id, "unc" or an inline sign)."""
    conds = ctx.d.conds
    return [
        r
        for r in op.get("refine", [])
        if _cond_ok(ctx, conds[r["post"]])
        and not (isinstance(r["pre"], str) and r["pre"] != "unc" and not _cond_ok(ctx, conds[r["pre"]]))
        and not (r["pre"] == "unc" and conds[r["post"]].unc is None)
    ]


def _operation(ctx: Ctx, op: dict[str, Any]) -> _Operation:
    """The main diagnosis, how the postoperative list relates to the preoperative one, and the first title."""
    rng = ctx.rng
    conds = ctx.d.conds
    refines = _refinements(ctx, op)
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
    o = _Operation(op, cond, mode, side, tside, main, phrase)
    if mode == "refine":
        pre_codes = _preoperative(ctx, o, pre_spec)
        main.withheld = [c for c in pre_codes if c not in main.codes]
    o.pre_lines.append(Line("preop", _cap(o.pre_phrase), tuple(main.codes) if mode != "refine" else ()))
    if mode != "same":
        o.post_lines.append(Line("postop", _cap(phrase), tuple(main.codes)))
    o.titles.append(_title(ctx, str(_pick(rng, op["title"])), tside, phrase))
    return o


def _preoperative(ctx: Ctx, o: _Operation, pre_spec: Any) -> list[str]:
    """The preoperative diagnosis a refined report starts from (sets its phrase): its codes, withheld."""
    rng = ctx.rng
    cond, side = o.cond, o.side
    if pre_spec == "unc":
        assert cond.unc is not None
        o.pre_phrase = _side_text(rng, _pick(rng, cond.unc.terms), side)
        return list(_unc_codes(cond, side))
    if isinstance(pre_spec, str):
        pre_cond = ctx.d.conds[pre_spec]
        pre_side = _op_side(ctx, o.op, pre_cond, prefer=side)
        o.pre_phrase = _term(rng, pre_cond, pre_side)
        return _cond_codes(ctx, pre_cond, pre_side)
    pre_codes = [str(pre_spec["sides"][side or "right"])] if "sides" in pre_spec else [str(pre_spec["code"])]
    o.pre_phrase = _side_text(rng, _pick(rng, pre_spec["terms"]), side or o.tside)
    return pre_codes


def _other_diagnoses(ctx: Ctx, o: _Operation) -> None:
    """Other diagnoses: `dx2` ones are listed before and after the operation, `add` ones are found at operation
    and only in the postoperative list (which then can no longer be "Same")."""
    for e in o.op.get("dx2", []):
        p = _other_diagnosis(ctx, o, e, p_default=0.5, rank=1)
        if p is not None:
            o.pre_lines.append(Line("preop", _cap(p.phrase), tuple(p.codes)))
            if o.mode != "same":
                o.post_lines.append(Line("postop", _cap(p.phrase), tuple(p.codes)))
    for e in o.op.get("add", []):
        p = _other_diagnosis(ctx, o, e, p_default=0.3, rank=2)
        if p is not None:
            if o.mode == "same":  # the list now differs from the preoperative one: written out in full
                o.mode = "repeat"
                o.post_lines = [Line("postop", ln.text, ln.codes) for ln in o.pre_lines]
            o.post_lines.append(Line("postop", _cap(p.phrase), tuple(p.codes)))


def _other_diagnosis(ctx: Ctx, o: _Operation, e: dict[str, Any], *, p_default: float, rank: int) -> Problem | None:
    """One other diagnosis an operation may list, drawn with its probability; its title when it has one."""
    rng = ctx.rng
    other = ctx.d.conds[e["cond"]]
    if rng.random() >= float(e.get("p", p_default)) or not _cond_ok(ctx, other):
        return None
    oside = _op_side(ctx, o.op, other, prefer=o.side)
    codes = _cond_codes(ctx, other, oside)
    p = Problem(other.id, "present", codes, [], _term(rng, other, oside), oside, rank=rank, clash=other.clash)
    if not ctx.add(p):
        return None
    if e.get("title"):
        o.titles.append(_title(ctx, str(e["title"]), oside or o.tside, p.phrase))
    return p


def _indications(ctx: Ctx, o: _Operation) -> None:
    """The story that led to the operation: the preoperative diagnosis and its signs, never coded from here."""
    rng = ctx.rng
    ops = ctx.d.ops
    stories = ops["refine_story"] if o.mode == "refine" else o.op.get("story") or list(o.cond.hpi) or ["{P}"]
    story = _side_text(rng, _pick(rng, stories), o.tside)
    story = _fill(rng, story, P=_low(o.pre_phrase), dur=_duration(ctx), pt=ctx.she)
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


def _operative_record(ctx: Ctx, o: _Operation) -> None:
    """Who, what anesthesia, blood loss, drains, specimens, findings: written, never coded."""
    rng = ctx.rng
    ops, op = ctx.d.ops, o.op
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
    specimen = _side_text(rng, _pick(rng, op.get("specimens") or ["None"]), o.tside)
    ctx.extra.append(Line("specimens", _sentence(_cap(specimen)), (), True))
    if op.get("implants"):
        ctx.extra.append(Line("implants", "See implant record", (), True))
    if op.get("tourniquet"):
        ctx.extra.append(Line("tourniquet", f"{rng.randint(12, 95)} minutes", (), True))
    findings = list(op.get("findings_by", {}).get(o.cond.id, [])) or list(op.get("findings", []))
    if findings:
        text = _side_text(rng, _pick(rng, findings), o.tside)
        ctx.extra.append(Line("findings", _sentence(_cap(text)), (), True))


def _operative_description(ctx: Ctx, o: _Operation) -> None:
    """Access, the operation's own steps, closure: integral steps are never coded."""
    rng = ctx.rng
    ops, op = ctx.d.ops, o.op
    approach = ops["approaches"][op["approach"]]
    steps: list[Any] = [*approach["open"], *op["steps"], *approach.get("close", [])]
    for step in steps:
        text = _side_text(rng, _pick(rng, step) if isinstance(step, list) else str(step), o.tside)
        ctx.extra.append(Line("description", _sentence(_cap(text)), (), False))
    if op["approach"] not in ("gi_endo",) and rng.random() < 0.5:
        ctx.extra.append(Line("description", _sentence(_pick(rng, ops["counts"])), (), False))
    ctx.extra.append(Line("description", _sentence(_pick(rng, ops["tolerated"])), (), False))


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
