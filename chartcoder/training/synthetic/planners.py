"""The planner of each kind of note but operative and imaging reports (surgery.py, radiology.py): office, urgent
care, ED, discharge summary, procedure note, consultation and H&P."""

from __future__ import annotations

from collections.abc import Sequence

from chartcoder.training.synthetic.combinations import _cardiometabolic, _weight
from chartcoder.training.synthetic.context import Ctx
from chartcoder.training.synthetic.encounters import _delivery, _em, _pregnancy_ed, _prenatal, _preventive, _sepsis
from chartcoder.training.synthetic.histories import _family, _personal_history, _social_distractors, _status, _tobacco
from chartcoder.training.synthetic.model import Cond, Line, Problem
from chartcoder.training.synthetic.problems import (
    _denials,
    _negatables,
    _negated,
    _present,
    _ros,
    _side,
    _unc_codes,
    _uncertain,
)
from chartcoder.training.synthetic.procedures import _procedure_note
from chartcoder.training.synthetic.surgery import _comorbid, _surgical_main
from chartcoder.training.synthetic.tables import CPT
from chartcoder.training.synthetic.text import _cap, _fill, _pick, _sentence, _side_text, _wpick


def _add_conditions(
    ctx: Ctx, types: Sequence[str], k: int, *, rank: int, main: bool = False, where: str | None = None
) -> int:
    rng = ctx.rng
    pool = [c for c in ctx.candidates(types, where) if not ctx.used(c.id)]
    added = 0
    tries = 0
    while added < k and pool and tries < k * 6:
        tries += 1
        cond = _wpick(rng, pool, [c.weight for c in pool])
        pool.remove(cond)
        if ctx.add(_present(ctx, cond, main=main, rank=rank)):
            added += 1
    return added


def _main_problem(ctx: Ctx, weights: dict[str, float]) -> bool:
    """The reason for the encounter: present, uncertain, an injury, a finding."""
    rng = ctx.rng
    for _ in range(6):
        how = _wpick(rng, list(weights), list(weights.values()))
        if how == "uncertain":
            pool = [c for c in ctx.candidates(("acute", "injury", "inpatient", "chronic")) if c.unc is not None]
            if ctx.kind in ("ed", "hp"):
                pool += [c for c in ctx.candidates(("inpatient",), "discharge") if c.unc is not None and c.unc_in]
            if not pool:
                continue
            cond = _wpick(rng, pool, [c.weight for c in pool])
            p = _uncertain(ctx, cond, rank=0)
            if p is not None and ctx.add(p):
                _link_negations(ctx, cond)
                return True
            continue
        types = {
            "acute": ("acute",),
            "injury": ("injury",),
            "finding": ("finding",),
            "inpatient": ("inpatient",),
            "encounter": ("encounter",),
        }[how]
        pool = ctx.candidates(types)
        if not pool:
            continue
        cond = _wpick(rng, pool, [c.weight for c in pool])
        if ctx.add(_present(ctx, cond, main=True, rank=0)):
            _link_negations(ctx, cond)
            return True
    return False


def _link_negations(ctx: Ctx, cond: Cond) -> None:
    """Tests the clinician did for the main problem that came back negative ('rapid strep negative')."""
    table = {n["id"]: n for n in ctx.d.phr["negatable"]}
    for nid in cond.negs:
        neg = table[nid]
        if ctx.kind in neg["where"] and ctx.rng.random() < 0.8:
            ctx.add(_negated(ctx, neg))


def _random_negation(ctx: Ctx, p: float) -> None:
    if ctx.rng.random() >= p:
        return
    pool = _negatables(ctx)
    if not pool:
        return
    for _ in range(3):
        neg = _pick(ctx.rng, pool)
        if ctx.add(_negated(ctx, neg)):
            return


def _extras(ctx: Ctx, *, family: float, history: float, status: float, smoker: bool = True) -> None:
    rng = ctx.rng
    if rng.random() < history:
        _personal_history(ctx, _wpick(rng, (1, 2), (3, 1)))
    if rng.random() < status and ctx.age >= 30:
        _status(ctx, 1)
    if rng.random() < family:
        _family(ctx, _wpick(rng, (1, 2, 3), (5, 3, 1)))
    _tobacco(ctx, allow_current=smoker)
    _social_distractors(ctx)


def _plan_office(ctx: Ctx) -> str:
    rng = ctx.rng
    subs = ctx.d.kinds["office"]["subtypes"]
    sub = _wpick(rng, list(subs), list(subs.values()))
    if sub == "prenatal" and not (ctx.sex == "F" and 16 <= ctx.age <= 44):
        ctx.sex, ctx.age = "F", rng.randint(18, 42)  # a prenatal visit is drawn for a patient who can be pregnant
        ctx.medicare = False
    if sub == "chronic" and ctx.age < 18:
        sub = _pick(rng, ("acute", "chronic_peds"))
    if sub == "preventive":
        _preventive(ctx)
    elif sub == "prenatal":
        _prenatal(ctx)
    elif sub == "chronic":
        ctx.reason = "follow-up"
        if ctx.age >= 30 and rng.random() < 0.6:
            htn = rng.random() < 0.75
            dm = rng.random() < (0.55 if htn else 0.9)
            _cardiometabolic(ctx, dm=dm, htn=htn, ckd=rng.random() < 0.25, hf=rng.random() < 0.12, rank=1)
        if rng.random() < 0.2:
            _weight(ctx, rank=3)
        _add_conditions(ctx, ("chronic",), _wpick(rng, (1, 2, 3), (4, 4, 2)), rank=2)
    elif sub == "chronic_peds":
        ctx.reason = "follow-up"
        _add_conditions(ctx, ("chronic",), _wpick(rng, (1, 2), (3, 1)), rank=1)
        if not ctx.problems:
            _main_problem(ctx, {"acute": 1.0})
    elif sub == "injury":
        ctx.reason = "injury follow-up"
        if not _main_problem(ctx, {"injury": 1.0}):
            _main_problem(ctx, {"acute": 1.0})
        _add_conditions(ctx, ("chronic",), _wpick(rng, (0, 1), (1, 1)), rank=2)
    else:
        ctx.reason = "acute visit"
        _main_problem(ctx, {"acute": 6.0, "uncertain": 2.5, "finding": 1.5, "encounter": 1.0})
        _add_conditions(ctx, ("chronic",), _wpick(rng, (0, 1, 2), (3, 3, 1)), rank=2)
        _random_negation(ctx, 0.25)
    if not any(p.codes for p in ctx.problems):
        _add_conditions(ctx, ("chronic", "acute"), 1, rank=1, main=True)
    if sub != "prenatal":
        _extras(ctx, family=0.45, history=0.35, status=0.25)
    else:
        _extras(ctx, family=0.35, history=0.15, status=0.0, smoker=False)
    _denials(ctx, _wpick(rng, (0, 1, 2, 3), (1, 2, 3, 2)))
    _ros(ctx)
    if sub not in ("preventive", "prenatal"):
        _em(ctx, 0.75)
    return sub


def _plan_urgent(ctx: Ctx) -> str:
    rng = ctx.rng
    ctx.reason = "urgent care visit"
    _main_problem(ctx, {"acute": 5.5, "injury": 2.5, "uncertain": 2.0, "finding": 0.4, "encounter": 0.3})
    if rng.random() < 0.3 and ctx.age >= 18:
        _add_conditions(ctx, ("chronic",), 1, rank=2)
    if rng.random() < 0.15:
        _main_problem(ctx, {"acute": 1.0})
    _random_negation(ctx, 0.2)
    _extras(ctx, family=0.1, history=0.2, status=0.1)
    _denials(ctx, _wpick(rng, (1, 2, 3), (2, 3, 2)))
    _ros(ctx)
    _em(ctx, 0.5)
    return "urgent"


def _plan_ed(ctx: Ctx) -> str:
    rng = ctx.rng
    ctx.reason = "emergency visit"
    sub = "ed"
    if ctx.sex == "F" and 16 <= ctx.age <= 44 and rng.random() < 0.05 and _pregnancy_ed(ctx):
        sub = "pregnancy"
    else:
        _main_problem(ctx, {"acute": 4.0, "injury": 2.5, "uncertain": 2.5, "inpatient": 1.0, "finding": 0.8})
    if ctx.age >= 40 and rng.random() < 0.35 and sub == "ed":
        _cardiometabolic(
            ctx, dm=rng.random() < 0.4, htn=rng.random() < 0.8, ckd=rng.random() < 0.15, hf=rng.random() < 0.1, rank=2
        )
    _add_conditions(ctx, ("chronic",), _wpick(rng, (0, 1, 2), (3, 3, 1)), rank=2)
    _random_negation(ctx, 0.45)
    _extras(ctx, family=0.15, history=0.3, status=0.2, smoker=sub != "pregnancy")
    _denials(ctx, _wpick(rng, (1, 2, 3), (2, 3, 3)))
    _ros(ctx)
    ekg_for = ("R07", "R55", "R00", "I48", "I21", "I20", "R42", "I26")
    main = [c for p in ctx.problems if p.role in ("present", "uncertain") for c in p.codes + p.withheld]
    if ctx.age >= 18 and any(c.startswith(ekg_for) for c in main) and rng.random() < 0.6:
        p = Problem("ekg", "procedure", [], [], "", rank=10)
        p.procedures.append(("93010", CPT))
        p.lines.append(Line("mdm", _sentence(_pick(rng, ctx.d.procs["ekg_read"])), ("93010",)))
        ctx.add(p, force=True)
    return sub


def _plan_discharge(ctx: Ctx) -> str:
    rng = ctx.rng
    subs = dict(ctx.d.kinds["discharge"]["subtypes"])
    sub = _wpick(rng, list(subs), list(subs.values()))
    if sub == "delivery" and not (ctx.sex == "F" and 18 <= ctx.age <= 42):
        ctx.sex, ctx.age = "F", rng.randint(18, 42)
        ctx.medicare = False
    ok = False
    if sub == "delivery":
        ok = _delivery(ctx)
    elif sub == "hf":
        ok = _cardiometabolic(
            ctx, dm=rng.random() < 0.4, htn=rng.random() < 0.8, ckd=rng.random() < 0.4, hf=True, acute_hf=True
        )
    elif sub == "sepsis":
        ok = _sepsis(ctx)
    elif sub == "dka":
        ok = _cardiometabolic(ctx, dm=True, htn=False, ckd=False, hf=False, dka=True)
    elif sub == "uncertain":
        pool = [c for c in ctx.candidates(("inpatient", "acute")) if c.unc is not None and c.unc_in]
        if pool:
            p = _uncertain(ctx, _wpick(rng, pool, [c.weight for c in pool]), rank=0)
            ok = p is not None and ctx.add(p)
    elif sub == "surgical":
        ok = _surgical_main(ctx, inpatient=True)
        if ok:
            ctx.extra.append(Line("procedures_done", _cap(ctx.title_low), (), True))
            course = _fill(rng, _pick(rng, ctx.d.phr["surgical_course"]), pt=_cap(ctx.she), title_low=ctx.title_low)
            ctx.extra.append(Line("course", _sentence(_cap(course)), (), False))
    if not ok:
        sub = "condition"
        pool = ctx.candidates(("inpatient", "acute", "injury"))
        cond = _wpick(rng, pool, [c.weight for c in pool])
        principal = _present(ctx, cond, main=True, rank=0)
        if ctx.add(principal):
            _associated(ctx, cond, principal.side)
    ctx.reason = "admission"
    if sub != "delivery":
        _add_conditions(ctx, ("secondary",), _wpick(rng, (0, 1, 2), (4, 3, 1)), rank=1)
        if ctx.age >= 35 and sub not in ("hf", "dka") and rng.random() < 0.5:
            _cardiometabolic(
                ctx,
                dm=rng.random() < 0.45,
                htn=rng.random() < 0.85,
                ckd=rng.random() < 0.2,
                hf=rng.random() < 0.12,
                rank=2,
            )
        _add_conditions(ctx, ("chronic",), _wpick(rng, (1, 2, 3), (3, 3, 2)), rank=3)
        _random_negation(ctx, 0.4)
        _extras(ctx, family=0.15, history=0.4, status=0.35)
    else:
        _extras(ctx, family=0.1, history=0.1, status=0.0, smoker=False)
    _admitting_diagnosis(ctx)
    return sub


def _admitting_diagnosis(ctx: Ctx) -> None:
    """What the patient was admitted for: the principal diagnosis's sign (withheld: the final diagnosis explains
    it) or the principal diagnosis itself; a working diagnosis, never the source of a code."""
    principal = next((p for p in ctx.problems if p.rank == 0 and p.codes), None)
    if principal is None:
        return
    cond = ctx.d.conds.get(principal.key)
    rng = ctx.rng
    if cond is not None and cond.unc is not None and rng.random() < 0.6:
        unc = [c for c in _unc_codes(cond, principal.side) if c not in principal.codes]
        if unc and all(c in principal.withheld for c in unc):
            text = _side_text(rng, _pick(rng, cond.unc.terms), principal.side)
            ctx.extra.append(Line("admit_dx", _cap(text), (), True))
            return
    if principal.phrase:
        ctx.extra.append(Line("admit_dx", _cap(principal.phrase), (), True))


def _associated(ctx: Ctx, cond: Cond, side: str) -> None:
    """Deficits that come with a principal diagnosis (hemiparesis and aphasia with a stroke)."""
    rng = ctx.rng
    for cid in cond.also:
        other = ctx.d.conds[cid]
        if rng.random() >= 0.55:
            continue
        other_side = ""
        if other.lateral:
            opposite = {"right": "left", "left": "right"}.get(side, "")
            other_side = opposite if cond.also_opposite and opposite else _side(rng, other)
        ctx.add(_present(ctx, other, main=False, rank=1, side=other_side))


def _plan_procedure(ctx: Ctx) -> str:
    for _ in range(5):
        if _procedure_note(ctx):
            break
    if ctx.rng.random() < 0.15:
        _personal_history(ctx, 1)
    return ctx.reason


def _plan_consult(ctx: Ctx) -> str:
    rng = ctx.rng
    ctx.letter = rng.random() < 0.4
    ctx.ref = _pick(rng, ctx.d.phr["referring"])
    title = ("Mr." if ctx.sex == "M" else "Ms.") if ctx.age >= 18 else ""
    ctx.name = f"{title} {_pick(rng, ctx.d.phr['surnames'])}".strip()
    sub = _wpick(rng, ("surgical", "medical"), (45, 55))
    ok = sub == "surgical" and _surgical_main(ctx)
    if sub == "surgical" and ok:
        recs = _fill(rng, _pick(rng, ctx.d.phr["recs_surgical"]), title_low=ctx.title_low)
        ctx.extra.append(Line("recs", _sentence(recs), (), False))
    else:
        sub = "medical"
        ctx.reason = "consultation"
        if rng.random() < 0.4:
            _add_conditions(ctx, ("chronic",), 1, rank=0, main=True)
        if not ctx.problems:
            _main_problem(ctx, {"acute": 1.5, "uncertain": 3.0, "finding": 2.0, "injury": 0.5})
    if not any(p.codes for p in ctx.problems):
        _add_conditions(ctx, ("chronic", "acute"), 1, rank=1, main=True)
    _add_conditions(ctx, ("chronic",), _wpick(rng, (0, 1, 2), (3, 3, 1)), rank=2)
    _comorbid(ctx, _wpick(rng, (0, 1, 2, 3), (3, 3, 2, 1)), "pmh", sentence=False)
    _random_negation(ctx, 0.2)
    _extras(ctx, family=0.3, history=0.3, status=0.2)
    _denials(ctx, _wpick(rng, (0, 1, 2), (1, 2, 2)))
    _ros(ctx)
    for _ in range(rng.randint(0, 2)):
        pool = ctx.d.phr["recs_workup" if rng.random() < 0.5 else "recs_generic"]
        ctx.extra.append(Line("recs", _sentence(_pick(rng, pool)), (), False))
    if ctx.letter:
        who = _fill(rng, _pick(rng, ctx.d.phr["letter_salutation"]), ref=ctx.ref, name=ctx.name)
        ctx.extra.append(Line("letter_open", who, (), True))
        close = _fill(rng, _pick(rng, ctx.d.phr["letter_close"]), her=ctx.her)
        ctx.extra.append(Line("letter_close", _sentence(close), (), False))
    return f"{sub}:{'letter' if ctx.letter else 'note'}"


def _plan_hp(ctx: Ctx) -> str:
    rng = ctx.rng
    sub = _wpick(rng, ("admission", "preop"), (65, 35))
    if sub == "preop" and _surgical_main(ctx):
        line = _fill(rng, _pick(rng, ctx.d.phr["hp_plan_preop"]), title_low=ctx.title_low)
        ctx.extra.append(Line("ap_extra", _sentence(line), (), False))
    else:
        sub = "admission"
        ctx.reason = "admission"
        _main_problem(ctx, {"inpatient": 4.0, "acute": 2.5, "uncertain": 2.5, "injury": 0.5})
        for line in rng.sample(ctx.d.phr["hp_plan_admit"], 2):
            ctx.extra.append(Line("ap_extra", _sentence(line), (), False))
    if ctx.age >= 40 and rng.random() < 0.45:
        _cardiometabolic(
            ctx, dm=rng.random() < 0.45, htn=rng.random() < 0.8, ckd=rng.random() < 0.2, hf=rng.random() < 0.1, rank=2
        )
    if not any(p.codes for p in ctx.problems):
        _add_conditions(ctx, ("chronic", "acute"), 1, rank=1, main=True)
    _add_conditions(ctx, ("chronic",), _wpick(rng, (0, 1, 2, 3), (2, 3, 3, 1)), rank=2)
    _comorbid(ctx, _wpick(rng, (0, 1, 2), (3, 3, 2)), "pmh", sentence=False)
    _random_negation(ctx, 0.3)
    _extras(ctx, family=0.35, history=0.35, status=0.3)
    _denials(ctx, _wpick(rng, (0, 1, 2, 3), (1, 2, 3, 2)))
    _ros(ctx)
    return sub
