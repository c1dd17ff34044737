"""Family, personal and status history, tobacco and the social history (coded or written only)."""

from __future__ import annotations

from chartcoder.training.synthetic.context import Ctx
from chartcoder.training.synthetic.loading import _tuple
from chartcoder.training.synthetic.model import Line, Problem
from chartcoder.training.synthetic.problems import _ap_text
from chartcoder.training.synthetic.tables import CPT, SIDE_WEIGHTS
from chartcoder.training.synthetic.text import _cap, _fill, _pick, _sentence, _side_text, _wpick


def _year(ctx: Ctx, back: tuple[int, int] = (1, 25)) -> int:
    span = max(1, min(back[1], ctx.age - 3))
    return ctx.when.year - ctx.rng.randint(min(back[0], span), span)


def _family(ctx: Ctx, k: int) -> None:
    rng = ctx.rng
    entries = ctx.d.hist["family"]
    rels = ctx.d.phr["relatives"]
    added = 0
    for _ in range(k * 4):
        if added >= k:
            break
        e = _pick(rng, entries)
        pool = [r for r in rels[e.get("rel", "any")] if ctx.age >= 35 or r not in ("son", "daughter")]
        rel = _pick(rng, pool)
        term = _pick(rng, e["terms"])
        form = _pick(rng, ctx.d.phr["family_forms"])
        text = _cap(_fill(rng, form, rel=rel, cond=term, age=rng.randint(38, 82), her=ctx.her))
        code = str(e["code"])
        p = Problem("family", "family", [code], list(_tuple(e["cond"])), term, rank=7)
        p.lines.append(Line("fh", _sentence(text), (code,)))
        if ctx.add(p):
            added += 1


def _personal_history(ctx: Ctx, k: int) -> None:
    rng = ctx.rng
    entries = [
        e
        for e in ctx.d.hist["personal"]
        if e["age"][0] <= ctx.age <= e["age"][1] and (not e.get("sex") or e["sex"] == ctx.sex)
    ]
    added = 0
    for _ in range(k * 4):
        if added >= k or not entries:
            break
        e = _wpick(rng, entries, [x.get("w", 1) for x in entries])
        code = str(e["code"])
        text = _sentence(_cap(_fill(rng, _pick(rng, e["text"]), year=_year(ctx))))
        p = Problem(
            "history", "history", [code], list(_tuple(e.get("cond"))), text, rank=6, clash=_tuple(e.get("clash"))
        )
        p.lines.append(Line(str(e.get("section", "pmh")), text, (code,)))
        if ctx.add(p):
            added += 1


def _status(ctx: Ctx, k: int) -> None:
    rng = ctx.rng
    entries = [
        e
        for e in ctx.d.hist["status"]
        if e["age"][0] <= ctx.age <= e["age"][1] and (not e.get("sex") or e["sex"] == ctx.sex)
    ]
    added = 0
    for _ in range(k * 4):
        if added >= k or not entries:
            break
        e = _pick(rng, entries)
        if "sides" in e:
            sides = list(e["sides"])
            side = _wpick(rng, sides, [SIDE_WEIGHTS.get(s, 1.0) for s in sides])
            codes = list(_tuple(e["sides"][side]))
        else:
            side, codes = "", list(_tuple(e["code"]))
        text = _sentence(_cap(_side_text(rng, _fill(rng, _pick(rng, e["text"]), year=_year(ctx)), side)))
        p = Problem("status", "status", codes, [], text, side, rank=6, clash=_tuple(e.get("clash")))
        p.lines.append(Line(str(e.get("section", "psh")), text, tuple(codes)))
        if ctx.add(p):
            added += 1


def _tobacco(ctx: Ctx, *, allow_current: bool = True) -> None:
    rng = ctx.rng
    if ctx.age < 18:
        return
    tob = ctx.d.hist["tobacco"]
    r = rng.random()
    if r < 0.17 and allow_current:
        e = _wpick(rng, tob["current"], [x.get("w", 1) for x in tob["current"]])
        code = str(e["code"])
        p = Problem("tobacco", "present", [code], [], "", rank=4)
        sh = _sentence(_cap(_fill(rng, _pick(rng, e["sh"]), n=rng.randint(5, 40), year=_year(ctx, (3, 30)))))
        p.lines.append(Line("sh", sh, (code,)))
        if ctx.kind == "discharge":
            p.lines.append(Line("dx", _cap(_pick(rng, e["dx"])), (code,)))
        elif ctx.kind != "procedure":
            plan = _pick(rng, tob["plans"])
            p.lines.append(Line("ap", _ap_text(ctx, _pick(rng, e["dx"]), "counseled", plan), (code,)))
            if ctx.kind == "office" and rng.random() < 0.5:
                minutes = rng.randint(3, 15)
                cpt = "99406" if minutes <= 10 else "99407"
                p.procedures.append((cpt, CPT))
                text = _sentence(_fill(rng, _pick(rng, tob["counseling"]), n=minutes))
                p.lines.append(Line("ap_extra", text, (cpt,)))
        ctx.add(p)
    elif r < 0.38:
        p = Problem("tobacco", "history", ["Z87.891"], ["F17.210"], "", rank=6)
        text = _sentence(_cap(_fill(rng, _pick(rng, tob["former"]), n=rng.randint(5, 40), year=_year(ctx, (2, 30)))))
        p.lines.append(Line("sh", text, ("Z87.891",)))
        ctx.add(p)
    elif r < 0.85:
        p = Problem("tobacco", "negated", [], ["F17.210", "Z87.891"], "", rank=9)
        p.lines.append(Line("sh", _sentence(_pick(rng, tob["never"]))))
        ctx.add(p)


def _social_distractors(ctx: Ctx) -> None:
    rng = ctx.rng
    sh = ctx.d.phr["social"]
    if ctx.age >= 18:
        alcohol = (
            sh["alcohol_pregnant"] if ctx.pregnant_weeks else sh["alcohol"] if ctx.age >= 21 else sh["alcohol_young"]
        )
        ctx.extra.append(Line("sh", _sentence(_pick(rng, alcohol)), (), True))
        if rng.random() < 0.6:
            ctx.extra.append(Line("sh", _sentence(_pick(rng, sh["drugs"])), (), True))
        if rng.random() < 0.7:
            job = _pick(rng, sh["jobs"])
            forms = sh["work"] + (sh["work_retired"] if ctx.age >= 60 else [])
            article = "an" if job[0] in "aeiou" else "a"
            text = _fill(rng, _pick(rng, forms), job=job, a=article)
            ctx.extra.append(Line("sh", _sentence(_cap(text)), (), False))
    else:
        grade = min(12, max(1, ctx.age - 5))
        pool = sh["child"] if ctx.age >= 6 else sh["toddler"]
        ctx.extra.append(Line("sh", _sentence(_fill(rng, _pick(rng, pool), grade=grade)), (), False))
    if rng.random() < 0.5 and ctx.age >= 18:
        ctx.extra.append(Line("sh", _sentence(_pick(rng, sh["living"])), (), False))
    if ctx.age >= 18 and rng.random() < 0.06:
        e = _pick(rng, ctx.d.hist["sdoh"])
        code = str(e["code"])
        p = Problem("sdoh", "social", [code], [], "", rank=5)
        p.lines.append(Line("sh", _sentence(_cap(_pick(rng, e["sh"]))), (code,)))
        if ctx.kind in ("office", "urgent", "ed"):
            p.lines.append(Line("ap", _sentence(_cap(_pick(rng, e["ap"]))), (code,)))
        ctx.add(p)
