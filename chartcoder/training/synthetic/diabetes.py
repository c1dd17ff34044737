"""Diabetes as the combination rules code it: type 1 or 2 with its complications (CKD, neuropathy, foot ulcer,
DKA...), long-term drugs or an insulin pump, and the office A1c."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from chartcoder.training.synthetic.context import Ctx
from chartcoder.training.synthetic.histories import _year
from chartcoder.training.synthetic.loading import _tuple
from chartcoder.training.synthetic.model import Line, Problem
from chartcoder.training.synthetic.problems import _dx_line
from chartcoder.training.synthetic.tables import CPT, SIDE_WEIGHTS
from chartcoder.training.synthetic.text import _fill, _pick, _sentence, _side_text, _wpick

DM_CLASH = ("E08", "E09", "E10", "E11", "E13", "O24", "R73")


@dataclass(frozen=True)
class _Dm:
    """What every line about the diabetes shares: the type, its name in the note, the A1c, status and plan."""

    t1: bool
    name: str
    a1c: float
    status: str
    plan: str

    @property
    def prefix(self) -> str:
        return "e10" if self.t1 else "e11"


def _diabetes(ctx: Ctx, ckd_codes: list[str], *, dka: bool, rank: int, main: bool) -> Problem:
    rng = ctx.rng
    dm = ctx.d.combos["diabetes"]
    t1 = dka and rng.random() < 0.6 or rng.random() < (0.4 if ctx.age < 30 else 0.07)
    name = _pick(rng, dm["t1_terms" if t1 else "t2_terms"])
    comps = ["dka"] if dka else _complications(rng, dm, t1, ckd=bool(ckd_codes))
    p = Problem("diabetes", "present", [], [], name, rank=rank, clash=DM_CLASH)
    if ctx.kind != "discharge" and rng.random() < 0.7:
        p.lines.append(Line("pmh", name, ("E1x",)))
    a1c_high = "hyperglycemia" in comps or "dka" in comps
    a1c = round(rng.uniform(8.2, 12.6) if a1c_high else rng.uniform(5.9, 7.8), 1)
    status = _fill(rng, _pick(rng, dm["status_high" if a1c_high else "status"]), a1c=a1c)
    drug_lines = _insulin(ctx, dm, p) if t1 else _oral_drugs(ctx, dm, p)
    written = _Dm(t1, name, a1c, status, " ".join(_sentence(x) for x in drug_lines[:2]))
    icd = _complication_lines(ctx, p, written, comps, ckd_codes, main=main)
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


def _complications(rng: random.Random, dm: dict[str, Any], t1: bool, *, ckd: bool) -> list[str]:
    """CKD when the patient has it, and up to two more that do not exclude each other."""
    comps: list[str] = ["ckd"] if ckd else []
    options = [k for k, v in dm["comps"].items() if v.get("w", 0) > 0 and (not v.get("e11_only") or not t1)]
    for _ in range(_wpick(rng, (0, 1, 2), (5, 4, 1)) - (1 if ckd else 0)):
        extra = _wpick(rng, options, [dm["comps"][k]["w"] for k in options])
        clash = [extra] + list(dm["comps"][extra].get("excludes", []))
        if not any(c in comps for c in clash):
            comps.append(extra)
    return comps


def _insulin(ctx: Ctx, dm: dict[str, Any], p: Problem) -> list[str]:
    """Type 1: insulin (no long-term-use code), now and then by a pump (Z96.41)."""
    rng = ctx.rng
    drug_lines = [_pick(rng, dm["t1_insulin"])]
    if rng.random() < 0.3:
        p.codes.append("Z96.41")
        text = _sentence(_fill(rng, _pick(rng, dm["pump"]), year=_year(ctx, (1, 8))))
        p.lines.append(Line("psh", text, ("Z96.41",)))
    return drug_lines


def _oral_drugs(ctx: Ctx, dm: dict[str, Any], p: Problem) -> list[str]:
    """Type 2: up to two drugs of different long-term-use codes, or diet alone."""
    rng = ctx.rng
    n = _wpick(rng, (0, 1, 2), (2, 5, 3))
    chosen: list[dict[str, Any]] = []
    for d in rng.sample(dm["t2_drugs"], len(dm["t2_drugs"])):
        if len(chosen) >= n:
            break
        if all(d["code"] != c["code"] for c in chosen):
            chosen.append(d)
    drug_lines: list[str] = []
    for d in chosen:
        code = str(d["code"])
        if code not in p.codes:
            p.codes.append(code)
        p.lines.append(Line("meds", str(d["med"]), (code,)))
        drug_lines.append(str(d["plan"]))
    if not chosen:
        drug_lines.append(_pick(rng, dm["diet"]))
    return drug_lines


def _complication_lines(
    ctx: Ctx, p: Problem, written: _Dm, comps: list[str], ckd_codes: list[str], *, main: bool
) -> list[str]:
    """One assessment line per complication (the first with the status and the drug plan); the ICD codes of all."""
    rng = ctx.rng
    dm = ctx.d.combos["diabetes"]
    icd: list[str] = []
    for i, comp in enumerate(comps or ["none"]):
        first = i == 0
        spec = dm["comps"].get(comp, dm["none"])
        codes, side, fill = _complication_codes(ctx, written, comp, spec, ckd_codes)
        forms = spec["with"] if first else spec.get("alone", spec["with"])
        phrase = _side_text(rng, _fill(rng, _pick(rng, forms), **fill), side)
        for c in codes:
            if c not in icd:
                icd.append(c)
        line_plan = written.plan if first else _pick(rng, spec.get("plans", dm["plans"]))
        if comp == "dka":
            line_plan = _pick(rng, dm["dka_course"])
        line_status = written.status if first else _pick(rng, ctx.d.phr["status"]["chronic"])
        p.lines.extend(_dx_line(ctx, phrase, line_status, line_plan, codes, course=main and first))
    return icd


def _complication_codes(
    ctx: Ctx, written: _Dm, comp: str, spec: dict[str, Any], ckd_codes: list[str]
) -> tuple[list[str], str, dict[str, Any]]:
    """The codes of one complication (by side where it has one; the CKD stage and the ulcer site and depth), its
    side, and the words its phrase is filled with."""
    rng = ctx.rng
    side = ""
    if "sides" in spec:
        sides = list(spec["sides"][written.prefix])
        side = _wpick(rng, sides, [SIDE_WEIGHTS.get(s, 1.0) for s in sides])
        codes = list(_tuple(spec["sides"][written.prefix][side]))
    else:
        codes = list(_tuple(spec[written.prefix]))
    fill: dict[str, Any] = {"dm": written.name, "a1c": written.a1c}
    if comp == "ckd" and ckd_codes:
        fill["ckd"] = ctx.ckd_term
        codes.extend(ckd_codes)
    if comp == "foot_ulcer":
        ulcer = ctx.d.combos["diabetes"]["ulcer"]
        side = _pick(rng, ("right", "left"))
        site = _pick(rng, list(ulcer["sites"]))
        depth = _pick(rng, list(ulcer["depth"]))
        codes.append(f"{ulcer['sites'][site][side]}{depth}")
        fill.update(site=site, depth=ulcer["depth"][depth])
    return codes, side, fill
