"""The public generator: a patient and a kind for each (seed, index), the kind's planner, the note and its gold
codes."""

from __future__ import annotations

import random
import re
from datetime import date, timedelta
from typing import Any

from chartcoder.training.records import GoldCode, Record
from chartcoder.training.synthetic.context import Ctx
from chartcoder.training.synthetic.loading import _data
from chartcoder.training.synthetic.model import Plan
from chartcoder.training.synthetic.planners import (
    _plan_consult,
    _plan_discharge,
    _plan_ed,
    _plan_hp,
    _plan_office,
    _plan_procedure,
    _plan_urgent,
)
from chartcoder.training.synthetic.radiology import _plan_radiology
from chartcoder.training.synthetic.render import _render
from chartcoder.training.synthetic.surgery import _plan_operative
from chartcoder.training.synthetic.tables import ICD, KIND_NAMES
from chartcoder.training.synthetic.text import _wpick

PLANNERS = {
    "office": _plan_office,
    "urgent": _plan_urgent,
    "ed": _plan_ed,
    "discharge": _plan_discharge,
    "procedure": _plan_procedure,
    "operative": _plan_operative,
    "consult": _plan_consult,
    "hp": _plan_hp,
    "radiology": _plan_radiology,
}


def _patient(rng: random.Random, kind: str) -> tuple[int, str]:
    sex = "F" if rng.random() < 0.53 else "M"
    peds = {"office": 0.16, "urgent": 0.28, "ed": 0.14, "discharge": 0.0, "procedure": 0.12}.get(kind, 0.06)
    if rng.random() < peds:
        return (rng.randint(0, 17) if kind == "office" else rng.randint(1, 17)), sex
    band = _wpick(rng, ((18, 44), (45, 64), (65, 95)), (3, 3, 3) if kind != "discharge" else (2, 3, 5))
    return rng.randint(*band), sex


def _one(seed: int, index: int) -> tuple[Record, Plan]:
    rng = random.Random(f"chartcoder-synthetic:{seed}:{index}")
    weights = _data().kinds["weights"]
    kind = _wpick(rng, list(weights), list(weights.values()))
    age, sex = _patient(rng, kind)
    when = date(2025, 1, 1) + timedelta(days=rng.randrange(730))
    ctx = Ctx(rng, kind, age, sex, when)
    status: str | None = None
    if kind in ("office", "urgent"):
        ctx.new_patient = rng.random() < (0.2 if kind == "office" else 0.45)
        status = "new" if ctx.new_patient else "established"
    subtype = PLANNERS[kind](ctx)
    em = next((p for p in ctx.problems if p.key == "em"), None)
    em_code = em.procedures[0][0] if em else None
    minutes = int(re.findall(r"(\d+) ?min", em.phrase)[0]) if em else None
    age, sex = ctx.age, ctx.sex
    plan = Plan(index, kind, ctx.setting, sex, age, when.isoformat(), status, ctx.problems, minutes, em_code, subtype)
    text, evidence = _render(ctx, plan)
    ordered = sorted(ctx.problems, key=lambda p: p.rank)
    icd: list[str] = []
    for p in ordered:
        for c in p.codes:
            if c not in icd:
                icd.append(c)
    procs: list[tuple[str, str]] = []
    visit_first = sorted(ordered, key=lambda p: (p.key not in ("em", "preventive"), p.rank))
    for p in visit_first:
        for c, s in p.procedures:
            if (c, s) not in procs:
                procs.append((c, s))
    codes = [GoldCode(c, ICD) for c in icd] + [GoldCode(c, s) for c, s in procs]
    wanted = [g.code for g in codes]
    encounter: dict[str, Any] = {"setting": ctx.setting, "sex": sex, "age": age, "date": when.isoformat()}
    if status:
        encounter["patient_status"] = status
    encounter["kind"] = KIND_NAMES[kind]
    record = Record(
        id=f"syn-{seed}-{index:05d}",
        text=text,
        codes=codes,
        encounter=encounter,
        source="synthetic",
        evidence={c: evidence[c] for c in wanted if c in evidence},
    )
    return record, plan


def generate_with_plans(n: int, seed: int = 0) -> list[tuple[Record, Plan]]:
    """The records and the decisions behind them (for tests and error analysis)."""
    if n < 0:
        raise ValueError("n must be >= 0")
    return [_one(seed, i) for i in range(n)]


def generate(n: int, seed: int = 0) -> list[Record]:
    """`n` synthetic notes with gold codes; the same (n, seed) always gives the same records."""
    return [r for r, _ in generate_with_plans(n, seed)]
