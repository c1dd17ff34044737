"""`Ctx`: the decisions for one note while they are made (problems, conflicts, the code budget), and how the
patient is named in words."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date

from chartcoder.training.synthetic.loading import _by_type, _data
from chartcoder.training.synthetic.model import Cond, Line, Problem
from chartcoder.training.synthetic.tables import MAX_ICD, MULTI_OK, SETTING, WHERE_ALIAS
from chartcoder.training.synthetic.text import _pick


class Ctx:
    """The decisions for one note while they are being made."""

    def __init__(self, rng: random.Random, kind: str, age: int, sex: str, when: date) -> None:
        self.rng = rng
        self.kind = kind
        self.setting = SETTING[kind]
        self.age = age
        self.sex = sex
        self.when = when
        self.d = _data()
        self.problems: list[Problem] = []
        self.extra: list[Line] = []  # lines tied to no decision (distractors, headers)
        self.exam_override: dict[str, str] = {}
        self.sx_used: list[str] = []
        self.bmi: float | None = None
        self.bmi_pct: int | None = None
        self.bmi_codes: tuple[str, ...] = ()
        self.pregnant_weeks: int | None = None
        self.febrile = False
        self.cc: list[str] = []
        self.reason = ""
        self.new_patient = False
        self.medicare = age >= 65
        self.ckd_term = ""
        self.bp: tuple[int, int] | None = None
        self.headings: dict[str, Sequence[str]] = {}  # heading choices of this note over the kind's
        self.title_low = ""  # the operation a surgical note names, in lower case
        self.letter = False  # a consultation written as a letter to the referring doctor
        self.name = ""  # "Mr. Smith" (consult letters)
        self.ref = ""  # the referring doctor

    # -- people words
    @property
    def she(self) -> str:
        return "she" if self.sex == "F" else "he"

    @property
    def her(self) -> str:
        return "her" if self.sex == "F" else "his"

    # -- bookkeeping
    def icd_codes(self) -> list[str]:
        out: list[str] = []
        for p in self.problems:
            for c in p.codes:
                if c not in out:
                    out.append(c)
        return out

    def withheld_codes(self) -> list[str]:
        return [c for p in self.problems for c in p.withheld]

    def fits(self, cond: Cond, where: str | None = None) -> bool:
        places = (where,) if where else WHERE_ALIAS.get(self.kind, (self.kind,))
        if not any(place in cond.where for place in places):
            return False
        if not cond.age[0] <= self.age <= cond.age[1]:
            return False
        if cond.sex and cond.sex != self.sex:
            return False
        if cond.needs7:
            return self.seventh() in cond.seventh
        return True

    def seventh(self) -> str:
        return "D" if self.kind == "office" else "A"

    def conflicts(self, new: Sequence[Problem]) -> bool:
        new_codes = [c for p in new for c in p.codes + p.withheld]
        new_clash = [pre for p in new for pre in p.clash]
        excluded = [x for p in new for c in p.codes for x in self.d.excludes1.get(c, ())]
        if excluded and any(x in q.codes for q in self.problems for x in excluded):
            return True
        for q in self.problems:
            old = q.codes + q.withheld
            for a in new_codes:
                for b in old:
                    if a == b or (a[:3] == b[:3] and a[:3] not in MULTI_OK):
                        return True
                if any(a.startswith(pre) for pre in q.clash):
                    return True
            if any(b.startswith(pre) for pre in new_clash for b in old):
                return True
        return False

    def add(self, *problems: Problem, force: bool = False) -> bool:
        if not problems:
            return False
        if not force and self.conflicts(problems):
            return False
        have = self.icd_codes()
        more = [c for p in problems for c in p.codes if c not in have]
        if len(set(have) | set(more)) > MAX_ICD:
            return False
        for p in problems:
            p.setting = self.setting
            self.problems.append(p)
        return True

    def candidates(self, types: Sequence[str], where: str | None = None) -> list[Cond]:
        by_type = _by_type()
        return [c for t in types for c in by_type.get(t, ()) if self.fits(c, where)]

    def used(self, cond_id: str) -> bool:
        return any(p.key == cond_id for p in self.problems)


def _age_words(ctx: Ctx) -> str:
    if ctx.age == 0:
        months = ctx.rng.randint(1, 11)
        return f"{months}-month-old"
    return _pick(ctx.rng, (f"{ctx.age}-year-old", f"{ctx.age} y/o", f"{ctx.age} yo", f"{ctx.age}-year-old"))


def _sex_word(ctx: Ctx) -> str:
    if ctx.age < 13:
        return "girl" if ctx.sex == "F" else "boy"
    if ctx.age < 18:
        return _pick(ctx.rng, ("female", "girl")) if ctx.sex == "F" else _pick(ctx.rng, ("male", "boy"))
    if ctx.rng.random() < 0.25:
        return ctx.sex
    return _pick(ctx.rng, ("female", "woman")) if ctx.sex == "F" else _pick(ctx.rng, ("male", "man"))
