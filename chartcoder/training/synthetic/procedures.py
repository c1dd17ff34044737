"""Procedure notes: the indication, the steps and the CPT/HCPCS codes by count, size, variant or repair length."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from chartcoder.training.synthetic.context import Ctx
from chartcoder.training.synthetic.encounters import _vaccines
from chartcoder.training.synthetic.model import Cond, Line, Problem
from chartcoder.training.synthetic.problems import _cond_codes, _side, _term, _uncertain
from chartcoder.training.synthetic.tables import CPT, HCPCS
from chartcoder.training.synthetic.text import _cap, _fill, _pick, _sentence, _side_text, _wpick


def _by_threshold(table: Sequence[Any], value: float) -> list[tuple[str, str]]:
    for limit, codes in table:
        if value <= float(limit):
            return [(str(c), str(s)) for c, s in codes]
    limit, codes = table[-1]
    return [(str(c), str(s)) for c, s in codes]


def _laceration(ctx: Ctx, p: Problem, site: dict[str, Any], side: str) -> str:
    """Repair of one laceration: the CPT code follows the site group, the repair type and the length."""
    rng = ctx.rng
    lac = ctx.d.procs["laceration"]
    group = str(site["group"])
    kinds = [k for k in ("simple", "intermediate") if group in lac["codes"][k]]
    kind = _wpick(rng, kinds, [3 if k == "simple" else 1 for k in kinds])
    table = lac["codes"][kind][group]
    max_len = float(table[-1][0])
    length = round(rng.uniform(0.8, min(max_len, 9.0)), 1)
    where = _side_text(rng, _pick(rng, site["names"]), side)
    glue = kind == "simple" and ctx.medicare and rng.random() < 0.3
    if glue:
        codes = [("G0168", HCPCS)]
        text = _fill(rng, _pick(rng, lac["glue"]), len=length, site=where)
    else:
        codes = _by_threshold([(lim, [(c, CPT)]) for lim, c in table], length)
        text = _fill(rng, _pick(rng, lac[kind]), len=length, site=where, sutures=_pick(rng, lac["sutures"][group]))
    p.procedures.extend(codes)
    p.lines.append(Line("procedure", _sentence(_cap(text)), tuple(c for c, _ in codes)))
    return where


def _procedure_note(ctx: Ctx) -> bool:
    rng = ctx.rng
    notes = [
        t
        for t in ctx.d.procs["notes"]
        if t["ages"][0] <= ctx.age <= t["ages"][1] and (not t.get("sex") or t["sex"] == ctx.sex)
    ]
    t = _wpick(rng, notes, [x.get("w", 1) for x in notes])
    ctx.reason = str(t["id"])
    if t.get("special") == "vaccine":
        ctx.extra.append(Line("procedure", _sentence(_pick(rng, t["title"])), (), True))
        return _vaccines(ctx, rank=0, minimum=1)
    cond = ctx.d.conds[_pick(rng, t["indications"])]
    if not (cond.age[0] <= ctx.age <= cond.age[1]) or (cond.sex and cond.sex != ctx.sex):
        return False
    side = _side(rng, cond, t.get("sides"))
    codes, words, drug_text = _procedure_codes(rng, t)
    uncertain = bool(t.get("uncertain"))
    if uncertain:
        p = _uncertain(ctx, cond, rank=0, main=False)
        if p is None:
            return False
        p.lines = []
    else:
        p = Problem(cond.id, "present", _cond_codes(ctx, cond, side), [], _term(rng, cond, side), side, rank=0)
    side = p.side
    phrase = p.phrase if not uncertain else _side_text(rng, _pick(rng, cond.unc.terms), side)  # type: ignore[union-attr]
    words["P"] = phrase
    title = _cap(_side_text(rng, _fill(rng, _pick(rng, t["title"]), **words), side))
    if t.get("special") == "laceration":
        site = next(s for s in ctx.d.procs["laceration"]["sites"] if s["cond"] == cond.id)
        where = _laceration(ctx, p, site, side)
        title = _cap(_fill(rng, title, where=where))
    p.procedures.extend(codes)
    p.lines.insert(0, Line("proc_title", title, tuple(c for c, s in codes if s == CPT)))
    _indication(ctx, t, p, cond, phrase, uncertain=uncertain)
    _procedure_body(ctx, t, p, codes, words, drug_text)
    if not ctx.add(p):
        return False
    if "anesthesia" in t:
        ctx.extra.append(Line("anesthesia", _sentence(_pick(rng, t["anesthesia"])), (), True))
    return True


def _procedure_codes(rng: random.Random, t: dict[str, Any]) -> tuple[list[tuple[str, str]], dict[str, Any], str]:
    """The procedure's codes (fixed, by count, by size, by variant), the words its text is filled with, and the
    drug given ("" for none)."""
    words: dict[str, Any] = {}
    codes: list[tuple[str, str]] = [(str(c), str(s)) for c, s in t.get("codes", [])]
    if "count" in t:
        n = rng.randint(t["count"]["range"][0], t["count"]["range"][1])
        codes += _by_threshold(t["count"]["codes"], n)
        words["n"] = n
    if "size" in t:
        size = round(rng.uniform(t["size"]["range"][0], t["size"]["range"][1]), 1)
        codes += _by_threshold(t["size"]["codes"], size)
        words["size"] = size
    if "variants" in t:
        v = _pick(rng, t["variants"])
        codes += [(str(c), str(s)) for c, s in v["codes"]]
        words.update(v.get("words", {}))
    drug_text = ""
    if "drugs" in t:
        drug = _pick(rng, t["drugs"])
        drug_text = str(drug["text"])
        words["drug"] = drug_text
    return codes, words, drug_text


def _indication(ctx: Ctx, t: dict[str, Any], p: Problem, cond: Cond, phrase: str, *, uncertain: bool) -> None:
    """Why the procedure was done (the diagnosis, or its sign with the uncertain diagnosis); a postoperative
    diagnosis now and then."""
    rng = ctx.rng
    icd = tuple(p.codes)
    ind_forms = ctx.d.phr["indication_forms"] if t.get("conservative") else ["{P}"]
    ind_form = _pick(rng, ind_forms)
    if uncertain:
        cue = _pick(rng, ctx.d.phr["uncertain_out"])
        ind = _cap(_fill(rng, cue, sym=phrase, cond=_term(rng, cond, p.side)))
        p.lines.append(Line("indication", _sentence(ind), icd))
    else:
        p.lines.append(Line("indication", _sentence(_cap(_fill(rng, ind_form, P=phrase))), icd))
        if rng.random() < 0.6:
            p.lines.append(Line("postop", _cap(phrase), icd))


def _procedure_body(
    ctx: Ctx, t: dict[str, Any], p: Problem, codes: list[tuple[str, str]], words: dict[str, Any], drug_text: str
) -> None:
    """The steps (the one naming the drug supports the drug's HCPCS code), the findings and the aftermath."""
    rng = ctx.rng
    for step in t["steps"]:
        text = _side_text(rng, _fill(rng, _pick(rng, step) if isinstance(step, list) else step, **words), p.side)
        supports: tuple[str, ...] = ()
        if drug_text and drug_text in text:
            supports = tuple(c for c, s in codes if s == HCPCS)
        p.lines.append(Line("description", _sentence(_cap(text)), supports))
    for key in ("findings", "after"):
        if key in t:
            text = _side_text(rng, _fill(rng, _pick(rng, t[key]), **words), p.side)
            p.lines.append(Line(key, _sentence(_cap(text))))
