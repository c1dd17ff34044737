"""Encounters with their own codes: vaccines, preventive visits, prenatal visits, sepsis, deliveries, threatened
abortion in the ED, and the office E/M level from a stated time."""

from __future__ import annotations

from typing import Any

from chartcoder.training.synthetic.coding import _trimester, _z3a
from chartcoder.training.synthetic.combinations import _weight
from chartcoder.training.synthetic.context import Ctx
from chartcoder.training.synthetic.loading import _tuple
from chartcoder.training.synthetic.model import Line, Problem
from chartcoder.training.synthetic.problems import _ap_text, _present
from chartcoder.training.synthetic.tables import CPT, EM_EST, EM_NEW, HCPCS, PREVENTIVE_AGES
from chartcoder.training.synthetic.text import _cap, _fill, _pick, _sentence, _side_text, _wpick


def _vaccines(ctx: Ctx, *, rank: int, minimum: int = 1) -> bool:
    """Vaccines given today: Z23, the products, and the administration codes by age and payer."""
    rng = ctx.rng
    vx = ctx.d.procs["vaccines"]
    table = vx["products"]
    chosen = _vaccines_due(ctx, vx, minimum)
    if len(chosen) < minimum:
        return False
    p = Problem("vaccination", "encounter", ["Z23"], [], "vaccination", rank=rank)
    sites = vx["sites_child"] if ctx.age < 3 else vx["sites_adult"]
    for v in chosen:
        prod = table[v]
        name = _pick(rng, prod["names"])
        route = "PO" if prod.get("route") == "oral" else "IM"
        site = "" if route == "PO" else f" {_pick(rng, sites)}"
        lot = f"{rng.choice('ABCDEFGHKLMNPRSTUVWXYZ')}{rng.randint(1000, 99999)}"
        text = _fill(rng, _pick(rng, vx["line_forms"]), name=name, route=route, site=site, lot=lot)
        code = str(prod["code"])
        p.procedures.append((code, CPT))
        p.lines.append(Line("vaccines", _sentence(text), ("Z23", code)))
    admin, counsel = _administration(ctx, vx, chosen)
    uniq: list[tuple[str, str]] = []
    for a in admin:
        if a not in uniq:
            uniq.append(a)
    p.procedures.extend(uniq)
    p.lines.append(Line("vaccines", _sentence(counsel), tuple(c for c, _ in uniq)))
    if ctx.kind != "procedure":
        p.lines.append(Line("ap", _sentence(_cap(_pick(rng, vx["ap"]))), ("Z23",)))
    return ctx.add(p)


def _vaccines_due(ctx: Ctx, vx: dict[str, Any], minimum: int) -> list[str]:
    """A set of the age's schedule, influenza in season (or to reach `minimum`), now and then COVID-19; Medicare
    patients get only the vaccines Part B pays for."""
    rng = ctx.rng
    table = vx["products"]
    sets: list[list[str]] = []
    for sched in vx["schedules"]:
        if sched["ages"][0] <= ctx.age <= sched["ages"][1]:
            sets = sched["sets"]
    chosen: list[str] = list(_pick(rng, sets)) if sets and rng.random() < 0.85 else []
    chosen = [v for v in chosen if table[v]["ages"][0] <= ctx.age <= table[v]["ages"][1]]
    in_season = ctx.when.month in (9, 10, 11, 12, 1, 2, 3)
    if ctx.age >= 1 and (in_season and rng.random() < 0.7 or len(chosen) < minimum):
        flus = [k for k, v in table.items() if v.get("flu") and v["ages"][0] <= ctx.age <= v["ages"][1]]
        chosen.append(_pick(rng, flus))
    if ctx.age >= 12 and rng.random() < 0.12:
        chosen.append("covid")
    if ctx.medicare:
        chosen = [v for v in chosen if table[v].get("flu") or table[v].get("pneumo") or table[v].get("covid")]
    return [v for i, v in enumerate(chosen) if v not in chosen[:i]]


def _administration(ctx: Ctx, vx: dict[str, Any], chosen: list[str]) -> tuple[list[tuple[str, str]], str]:
    """The administration codes (with counselling for children, else by route and payer) and the counselling
    sentence."""
    rng = ctx.rng
    table = vx["products"]
    admin: list[tuple[str, str]] = []
    non_covid = [v for v in chosen if not table[v].get("covid")]
    if ctx.age <= 18 and non_covid and rng.random() < 0.85:
        admin.append(("90460", CPT))
        if any(int(table[v].get("components", 1)) > 1 for v in non_covid):
            admin.append(("90461", CPT))
        who = "parent" if ctx.age < 16 else "patient and parent"
        counsel = _fill(rng, _pick(rng, vx["counsel_peds"]), who=who)
    else:
        admin += _adult_administration(ctx, table, non_covid)
        counsel = _pick(rng, vx["counsel_adult"])
    if any(table[v].get("covid") for v in chosen):
        admin.append(("90480", CPT))
    return admin, counsel


def _adult_administration(ctx: Ctx, table: dict[str, Any], vaccines: list[str]) -> list[tuple[str, str]]:
    """Medicare's G codes for influenza, pneumococcal and hepatitis B vaccines; else the first injection or oral
    dose and each additional one."""
    admin: list[tuple[str, str]] = []
    injected = oral = 0
    for v in vaccines:
        prod = table[v]
        if ctx.medicare and prod.get("flu"):
            admin.append(("G0008", HCPCS))
        elif ctx.medicare and prod.get("pneumo"):
            admin.append(("G0009", HCPCS))
        elif ctx.medicare and prod.get("hepb"):
            admin.append(("G0010", HCPCS))
        elif prod.get("route") == "oral":
            admin.append(("90473" if not injected and not oral else "90474", CPT))
            oral += 1
        else:
            admin.append(("90471" if not injected and not oral else "90472", CPT))
            injected += 1
    return admin


def _preventive(ctx: Ctx) -> None:
    rng = ctx.rng
    prev = ctx.d.kinds["preventive"]
    peds = ctx.age < 18
    awv = ctx.age >= 65 and rng.random() < 0.45
    if awv:
        code, system = ("G0438" if ctx.new_patient else "G0439"), HCPCS
        title = _pick(rng, prev["awv_initial" if ctx.new_patient else "awv_subsequent"])
    else:
        idx = next(i for i, (lo, hi) in enumerate(PREVENTIVE_AGES) if lo <= ctx.age <= hi)
        code, system = f"99{'38' if ctx.new_patient else '39'}{idx + 1}", CPT
        title = _pick(rng, prev["title_peds" if peds else "title_adult"])
    ctx.cc.append(title)
    ctx.reason = "preventive"
    main = Problem("preventive", "encounter", [], [], title, rank=0)
    main.procedures.append((code, system))
    ctx.add(main, force=True)
    found = False
    if rng.random() < 0.4:
        if ctx.age >= 2 and rng.random() < 0.35:
            found = _weight(ctx, rank=2)
        ids = prev["findings_peds" if peds else "findings_adult"]
        for cid in rng.sample(ids, len(ids))[: rng.randint(1, 2)]:
            cond = ctx.d.conds[cid]
            fits = ctx.fits(cond, "office") or (cond.age[0] <= ctx.age <= cond.age[1] and not cond.sex)
            if fits and ctx.add(_present(ctx, cond, main=False, rank=2, new=True)):
                found = True
    z = {(True, True): "Z00.121", (True, False): "Z00.129", (False, True): "Z00.01", (False, False): "Z00.00"}[
        (peds, found)
    ]
    main.codes.append(z)
    forms = prev["ap_abnormal" if found else "ap_normal"]
    exam_name = _pick(rng, prev["exam_peds" if peds else "exam_adult"])
    main.lines.append(Line("ap", _sentence(_cap(_fill(rng, _pick(rng, forms), exam=exam_name))), (z, code)))
    main.lines.append(
        Line("hpi", _sentence(_cap(_fill(rng, _pick(rng, prev["hpi"]), pt=ctx.she, exam=exam_name))), (code,))
    )
    if awv and not ctx.new_patient and rng.random() < 0.5:
        main.procedures.append(("G0444", HCPCS))
        main.lines.append(
            Line(
                "results", _sentence(_fill(rng, _pick(rng, prev["depression_screen"]), n=rng.randint(0, 4))), ("G0444",)
            )
        )
    elif ctx.age >= 12 and rng.random() < 0.4:
        main.procedures.append(("96127", CPT))
        main.lines.append(
            Line("results", _sentence(_fill(rng, _pick(rng, prev["phq"]), n=rng.randint(0, 4))), ("96127",))
        )
    for scr in prev["screens"]:
        if scr["ages"][0] <= ctx.age <= scr["ages"][1] and rng.random() < scr.get("p", 0.5):
            main.procedures.append((str(scr["code"]), CPT))
            main.lines.append(Line("results", _sentence(_pick(rng, scr["text"])), (str(scr["code"]),)))
    for _ in range(rng.randint(1, 3)):
        pool = prev["maintenance_peds" if peds else "maintenance_adult"]
        ctx.extra.append(Line("ap_extra", _sentence(_fill(rng, _pick(rng, pool), year=ctx.when.year + 1)), (), False))
    if rng.random() < 0.55:
        _vaccines(ctx, rank=1)


def _prenatal(ctx: Ctx) -> None:
    rng = ctx.rng
    preg = ctx.d.combos["pregnancy"]
    weeks = rng.randint(6, 40)
    days = rng.randint(0, 6)
    tri = _trimester(weeks)
    grav = rng.randint(1, min(5, 1 + (ctx.age - 14) // 4))
    para = rng.randint(0, grav - 1)
    ama = ctx.age >= 35
    ctx.pregnant_weeks = weeks
    ctx.reason = "prenatal visit"
    ctx.cc.append(_pick(rng, preg["cc"]))
    clash = ("O", "Z3A", "Z34", "Z33", "I10", "I11", "I12", "I13", "E10", "E11", "E66", "Z68", "Z79")
    comps = [c for c in preg["complications"] if c["weeks"][0] <= weeks <= c["weeks"][1]]
    z3a = _z3a(weeks)
    ga = f"{weeks}w{days}d"
    main = Problem("pregnancy", "present", [], [], "", rank=0, clash=clash)
    comp = _pick(rng, comps) if comps and rng.random() < 0.45 else None
    if comp:
        codes = list(_tuple(comp["codes"][str(tri)] if isinstance(comp["codes"], dict) else comp["codes"]))
        codes += list(_tuple(comp.get("extra")))
        phrase = _pick(rng, comp["terms"])
        main.lines.append(Line("ap", _ap_text(ctx, phrase, f"{ga}", _pick(rng, comp["plans"])), tuple(codes)))
        if comp.get("withheld"):
            main.withheld.extend(_tuple(comp["withheld"]))
    else:
        key = "ama" if ama else "routine"
        spec = preg[key]["primi" if grav == 1 else "multi"]
        codes = [str(spec["codes"][str(tri)])]
        phrase = _pick(rng, spec["terms"])
        main.lines.append(Line("ap", _ap_text(ctx, phrase, ga, _pick(rng, preg["plans"])), tuple(codes)))
    if comp and ama:
        spec = preg["ama"]["primi" if grav == 1 else "multi"]
        ama_code = str(spec["codes"][str(tri)])
        codes.append(ama_code)
        main.lines.append(
            Line("ap", _ap_text(ctx, _pick(rng, spec["terms"]), "", _pick(rng, preg["plans"])), (ama_code,))
        )
    codes.append(z3a)
    main.codes = codes
    main.phrase = phrase
    hpi = _fill(rng, _pick(rng, preg["hpi"]), g=grav, p=para, ga=ga, weeks=weeks, days=days, pt=ctx.she)
    main.lines.append(Line("hpi", _sentence(_cap(hpi)), (z3a,)))
    main.lines.append(
        Line("ap", _sentence(_fill(rng, _pick(rng, preg["ga_lines"]), ga=ga, weeks=weeks, days=days)), (z3a,))
    )
    main.lines.append(Line("hpi", _sentence(_pick(rng, preg["denials"]))))
    if weeks >= 12:
        ctx.exam_override["abdomen"] = _sentence(
            _fill(rng, _pick(rng, preg["exam"]), fh=max(weeks - rng.randint(0, 2), 12), fht=rng.randint(128, 160))
        )
    ctx.add(main, force=True)


def _sepsis(ctx: Ctx) -> bool:
    rng = ctx.rng
    sp = ctx.d.combos["sepsis"]
    org = _pick(rng, sp["organisms"])
    sources = [s for s in sp["sources"] if org.get("sources") is None or s["id"] in org["sources"]]
    src = _pick(rng, sources)
    side = ""
    if "sides" in src:
        side = _pick(rng, list(src["sides"]))
        src_codes = list(_tuple(src["sides"][side]))
    else:
        src_codes = list(_tuple(src["code"]))
    sev = _wpick(rng, ("none", "severe", "shock"), (5, 3, 2))
    org_code = str(org["code"])
    p = Problem(
        "sepsis",
        "present",
        [org_code],
        ["R50.9", "R65.10", "R65.11"],
        "",
        rank=0,
        clash=("A40", "A41", "R65", "J18", "N39", "N10", "L03"),
    )
    org_term = _pick(rng, org["terms"])
    src_term = _side_text(rng, _pick(rng, src["terms"]), side)
    p.phrase = org_term
    p.lines.append(
        Line("dx", _cap(_fill(rng, _pick(rng, sp["dx_forms"]), org=org_term, src=src_term)), (org_code, *src_codes))
    )
    s = Problem("sepsis_source", "present", src_codes, [], src_term, side, rank=1)
    s.lines.append(Line("dx", _cap(src_term), tuple(src_codes)))
    probs = [p, s]
    course = _fill(rng, _pick(rng, sp["course"]), pt=ctx.she, src=src_term, org=org_term, abx=_pick(rng, src["abx"]))
    p.lines.append(Line("course", _sentence(_cap(course)), (org_code, *src_codes)))
    if sev != "none":
        rcode = "R65.21" if sev == "shock" else "R65.20"
        organ = _pick(rng, sp["organ_dysfunction"])
        phrase = _pick(rng, sp["shock_terms" if sev == "shock" else "severe_terms"])
        r = Problem("severe_sepsis", "present", [rcode], [], phrase, rank=2)
        r.lines.append(Line("dx", _cap(phrase), (rcode,)))
        o = Problem(organ["id"], "present", [str(organ["code"])], [], "", rank=3)
        o.lines.append(Line("dx", _cap(_pick(rng, organ["terms"])), (str(organ["code"]), rcode)))
        probs += [r, o]
    return ctx.add(*probs)


def _delivery(ctx: Ctx) -> bool:
    rng = ctx.rng
    dl = ctx.d.combos["delivery"]
    weeks = rng.randint(37, 41)
    days = rng.randint(0, 6)
    z3a = _z3a(weeks)
    p = Problem("delivery", "present", ["O80", "Z37.0", z3a], [], "", rank=0, clash=("O", "Z3A", "Z37", "Z34"))
    ga = f"{weeks}w{days}d"
    g = rng.randint(1, 4)
    p.lines.append(Line("dx", _cap(_fill(rng, _pick(rng, dl["dx"]), ga=ga)), ("O80", z3a)))
    p.lines.append(Line("dx", _cap(_pick(rng, dl["liveborn"])), ("Z37.0",)))
    course = _fill(
        rng,
        _pick(rng, dl["course"]),
        g=g,
        p=g - 1,
        ga=ga,
        baby=_pick(rng, ("male", "female")),
        wt=rng.randint(2700, 4100),
    )
    p.lines.append(Line("course", _sentence(_cap(course)), ("O80", "Z37.0", z3a)))
    ctx.pregnant_weeks = weeks
    return ctx.add(p)


def _pregnancy_ed(ctx: Ctx) -> bool:
    rng = ctx.rng
    ta = ctx.d.combos["threatened_abortion"]
    weeks = rng.randint(6, 19)
    z3a = _z3a(weeks)
    p = Problem(
        "threatened_abortion", "present", ["O20.0", z3a], ["N93.9", "O03.9"], "", rank=0, clash=("O", "Z3A", "N93")
    )
    p.lines.append(
        Line(
            "hpi",
            _sentence(_cap(_fill(rng, _pick(rng, ta["hpi"]), weeks=weeks, pt=ctx.she, g=rng.randint(1, 4)))),
            (z3a,),
        )
    )
    p.lines.append(Line("mdm", _sentence(_pick(rng, ta["mdm"]))))
    p.lines.append(Line("ap", _sentence(_cap(_fill(rng, _pick(rng, ta["dx"]), weeks=weeks))), ("O20.0", z3a)))
    ctx.cc.append(_pick(rng, ta["cc"]))
    ctx.pregnant_weeks = weeks
    return ctx.add(p)


def _em(ctx: Ctx, p_time: float) -> Problem | None:
    """Office/urgent-care E/M from a stated total time; no statement, no code."""
    rng = ctx.rng
    if rng.random() >= p_time:
        return None
    table = EM_NEW if ctx.new_patient else EM_EST
    lo, hi, code = _wpick(rng, table, (2, 5, 4, 2) if ctx.new_patient else (1, 5, 5, 2))
    minutes = rng.randint(lo, hi)
    text = _sentence(_fill(rng, _pick(rng, ctx.d.phr["time_statements"]), m=minutes))
    p = Problem("em", "procedure", [], [], text, rank=10)
    p.procedures.append((code, CPT))
    p.lines.append(Line("time", text, (code,)))
    ctx.add(p, force=True)
    return p
