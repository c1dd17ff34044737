"""Writing a note from its decisions: the header, opener, vitals and exam, the fillers each kind writes, typos and
capitals, then the sections in the kind's order and the evidence sentences of every code."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from chartcoder.training.synthetic.context import Ctx, _age_words, _sex_word
from chartcoder.training.synthetic.layout import _Blk, _block, _draw_style, _line_form, _Style, _transcribed
from chartcoder.training.synthetic.model import Line, Plan
from chartcoder.training.synthetic.tables import CRITICAL_WORDS
from chartcoder.training.synthetic.text import _cap, _fill, _join_words, _low, _ordinal, _pick, _sentence, _typo

INLINE_SECTIONS = frozenset(("vaccines", "ap_extra", "time"))
FALLBACK = {
    "psh": ("pmh", "sh", "hpi"),
    "fh": ("sh", "pmh", "hpi"),
    "pmh": ("hpi", "indication", "indications"),
    "sh": ("pmh", "hpi"),
    "results": ("mdm", "ap", "procedure"),
    "mdm": ("results", "ap", "course"),
    "ap": ("dx", "indication"),
    "meds": ("pmh",),
    "procedure": ("description", "ap"),
    "hpi": ("course", "indication", "indications"),
    "recs": ("ap",),
}


def _fmt_date(d: date, how: int) -> str:
    if how == 0:
        return d.isoformat()
    if how == 1:
        return f"{d.month:02d}/{d.day:02d}/{d.year}"
    return f"{d.strftime('%B')} {d.day}, {d.year}"


def _vitals(ctx: Ctx) -> Line:
    rng = ctx.rng
    temp = round(rng.uniform(100.6, 102.9), 1) if ctx.febrile else round(rng.uniform(97.6, 99.0), 1)
    parts = []
    if ctx.age >= 3:
        if ctx.bp:
            sbp, dbp = ctx.bp
        elif ctx.age < 13:
            sbp, dbp = rng.randint(92, 114), rng.randint(52, 74)
        else:
            sbp, dbp = rng.randint(104, 138), rng.randint(62, 88)
        parts.append(f"BP {sbp}/{dbp}")
    parts += [f"HR {rng.randint(58, 104) if ctx.age >= 12 else rng.randint(80, 130)}", f"RR {rng.randint(12, 20)}"]
    parts.append(_pick(rng, (f"T {temp} F", f"Temp {temp}", f"Temp {temp} F")))
    parts.append(f"SpO2 {rng.randint(94, 100)}%" + _pick(rng, ("", " on RA", " RA")))
    codes: tuple[str, ...] = ()
    if ctx.age >= 20:
        bmi = ctx.bmi if ctx.bmi is not None else round(rng.uniform(19.5, 29.4), 1)
        height = rng.uniform(61, 74) if ctx.sex == "M" else rng.uniform(58, 69)
        wt = round(bmi * height * height / 703)
        parts.append(f"Wt {wt} lb")
        if ctx.bmi is not None or rng.random() < 0.7:
            parts.append(f"BMI {bmi}")
            codes = ctx.bmi_codes
    elif ctx.age >= 2:
        parts.append(f"Wt {round(rng.uniform(3.0, 4.2) * ctx.age + 8, 1)} kg")
        if ctx.bmi_pct is not None:
            parts.append(f"BMI {_ordinal(ctx.bmi_pct)} %ile")
            codes = ctx.bmi_codes
    sep = _pick(rng, (", ", " | ", "  "))
    label = _pick(rng, ("Vitals: ", "VS: ", "Vital signs: ", ""))
    return Line("exam", label + sep.join(parts), codes, True)


def _exam_lines(ctx: Ctx, n: tuple[int, int]) -> list[Line]:
    rng = ctx.rng
    phr = ctx.d.phr
    systems = list(phr["exam_normal"])
    keep = [s for s in systems if s in ctx.exam_override]
    others = [s for s in systems if s not in keep]
    rng.shuffle(others)
    chosen = keep + others[: max(0, rng.randint(*n) - len(keep))]
    chosen.sort(key=systems.index)
    out = [_vitals(ctx)]
    for s in chosen:
        label = _pick(rng, phr["exam_labels"][s])
        if s in ctx.exam_override:
            out.append(Line("exam", f"{label}: {ctx.exam_override[s]}", (), True))
        else:
            out.append(Line("exam", f"{label}: {_pick(rng, phr['exam_normal'][s])}", (), False))
    return out


def _opener(ctx: Ctx) -> Line:
    rng = ctx.rng
    chronic = [
        p.phrase
        for p in ctx.problems
        if p.role == "present"
        and p.phrase
        and not p.new_finding
        and not (ctx.kind == "discharge" and p.rank < 2)
        and (
            p.key in ("hypertension", "diabetes", "ckd", "heart_failure")
            or (p.key in ctx.d.conds and ctx.d.conds[p.key].type == "chronic")
        )
    ]
    who = f"{_age_words(ctx)} {_sex_word(ctx)}"
    cc = _low(ctx.cc[0]) if ctx.cc else ""
    if ctx.kind == "discharge":
        why = (
            _pick(rng, ("who presented with", "admitted with", "who was admitted for"))
            + " "
            + (cc or "the problems below")
        )
    elif ctx.kind == "consult":
        form = _pick(rng, ctx.d.phr["consult_opener"])
        return Line("hpi", _sentence(_cap(_fill(rng, form, who=who, ref=ctx.ref, cc=cc or "evaluation"))), (), True)
    elif ctx.reason in ("preventive", "prenatal visit") and cc:
        why = _pick(rng, ("here for", "presenting for", "seen today for")) + " " + cc
    elif cc and ctx.reason != "follow-up":
        why = _pick(rng, ("presents with", "here for", "presenting with", "who comes in with")) + " " + cc
    else:
        why = _pick(
            rng,
            ("here for follow-up", "presents for routine follow-up", "seen today for follow-up of chronic conditions"),
        )
    if ctx.age < 18 and ctx.kind != "discharge":
        who += _pick(rng, (" brought in by mother", " brought in by father", " accompanied by parent", ""))
    if chronic and ctx.age >= 18 and rng.random() < 0.8:
        pmh = _join_words(chronic[:3], "and")
        text = f"{who} with {_pick(rng, ('PMH of', 'a history significant for', 'PMHx', 'hx of'))} {pmh} {why}"
    else:
        text = f"{who} {why}"
    return Line("hpi", _sentence(_cap(text)), (), True)


DATE_LABELS = {
    "operative": ("Date of operation", "Date of surgery", "Date of procedure", "DOS"),
    "radiology": ("Date of exam", "Exam date", "Date of study"),
    "hp": ("Date of admission", "Date of service", "Date"),
    "consult": ("Date of consultation", "Date of service", "Date"),
}
EXAM_SYSTEMS = {"office": (5, 9), "urgent": (3, 6), "ed": (5, 9), "discharge": (3, 5), "procedure": (1, 2)}
EXAM_SYSTEMS |= {"operative": (1, 2), "consult": (4, 8), "hp": (6, 10), "radiology": (1, 2)}


def _render(ctx: Ctx, plan: Plan) -> tuple[str, dict[str, list[str]]]:
    spec = ctx.d.kinds[ctx.kind]
    style = _draw_style(ctx.rng, ctx.kind, spec)
    plan.layout = style.layout
    by = _lines_by_section(ctx)
    by["header"] = _header(ctx, plan, spec, style, by) + by.get("header", [])
    _opening(ctx, by)
    sections = spec["sections"]
    if "sections_alt" in spec and ctx.rng.random() < 0.35:
        sections = spec["sections_alt"]
    order = [key if isinstance(key, str) else key[0] for key in sections]
    _history_fillers(ctx, by, order)
    by["exam"] = _exam_lines(ctx, EXAM_SYSTEMS[ctx.kind])
    _closing(ctx, by)
    _typos(ctx, plan, by)
    plan.all_caps = style.caps
    for name, lines in by.items():
        if style.caps or name == style.caps_section:
            for ln in lines:
                ln.text = ln.text.upper()
    _fall_back(by, order)
    blocks = _blocks(ctx, plan, style, sections, by)
    if style.layout == "lines":
        text = ("\n\n" if style.blank else "\n").join(_line_form(style, b) for b in blocks).strip() + "\n"
    else:
        joiner = "," if style.layout == "csv" else " "
        text = joiner.join(_transcribed(ctx, style, b) for b in blocks).strip() + "\n"
    return text, _evidence(by, text)


def _lines_by_section(ctx: Ctx) -> dict[str, list[Line]]:
    """The decisions' lines (most important first) and the other lines, by section, one copy of a repeated line
    per section (the copy supports the codes of both)."""
    by: dict[str, list[Line]] = {}
    for p in sorted(ctx.problems, key=lambda q: q.rank):
        for line in p.lines:
            by.setdefault(line.section, []).append(line)
    for line in ctx.extra:
        by.setdefault(line.section, []).append(line)
    for key, lines in by.items():
        uniq: list[Line] = []
        for line in lines:
            twin = next((u for u in uniq if u.text == line.text), None)
            if twin is None:
                uniq.append(line)
            else:
                twin.codes = twin.codes + tuple(c for c in line.codes if c not in twin.codes)
        by[key] = uniq
    return by


def _header(ctx: Ctx, plan: Plan, spec: dict[str, Any], style: _Style, by: dict[str, list[Line]]) -> list[Line]:
    """Title, dates, the patient, the visit type (which supports the E/M code) and a letter's RE line."""
    rng = ctx.rng
    title = _pick(rng, spec.get(f"titles_{plan.subtype.split(':')[0]}") or spec["titles"])
    header = [Line("header", title.upper() if rng.random() < 0.5 else title)]
    when = _fmt_date(ctx.when, style.date_fmt)
    if ctx.kind == "discharge":
        admitted = ctx.when - timedelta(days=rng.randint(1, 7))
        header.append(Line("header", f"Admission date: {_fmt_date(admitted, style.date_fmt)}"))
        header.append(Line("header", f"Discharge date: {when}"))
    else:
        labels = DATE_LABELS.get(ctx.kind, ("Date of service", "DOS", "Visit date", "Date"))
        header.append(Line("header", f"{_pick(rng, labels)}: {when}"))
    age_text = f"{ctx.age} y/o" if ctx.age else "under 1 yr"
    header.append(Line("header", f"Patient: {age_text} {ctx.sex}"))
    em = list(by.get("time", []))
    if plan.patient_status:
        status_codes = em[0].codes if em else ()
        header.append(Line("header", f"Visit type: {plan.patient_status} patient", status_codes))
    if ctx.kind == "consult" and ctx.letter:
        header.append(Line("header", f"RE: {ctx.name}"))
    return header


def _opening(ctx: Ctx, by: dict[str, list[Line]]) -> None:
    """A consultation letter's thanks or the HPI's opening sentence, and the chief complaint."""
    rng = ctx.rng
    phr = ctx.d.phr
    if ctx.kind == "consult" and ctx.letter:
        cc = _low(ctx.cc[0]) if ctx.cc else "evaluation"
        slots = {"name": ctx.name, "age": _age_words(ctx), "sex": _sex_word(ctx), "cc": cc}
        thanks = _fill(rng, _pick(rng, phr["letter_thanks"]), **slots)
        by.setdefault("letter_open", []).append(Line("letter_open", _sentence(thanks), (), True))
    elif ctx.kind not in ("procedure", "operative", "radiology"):
        by.setdefault("hpi", []).insert(0, _opener(ctx))
    if ctx.kind == "discharge":
        by.pop("cc", None)
    if ctx.cc:
        by["cc"] = [Line("cc", _cap(ctx.cc[0]))]
    elif ctx.kind in phr["cc_generic"]:
        by["cc"] = [Line("cc", _cap(_pick(rng, phr["cc_generic"][ctx.kind])))]


def _history_fillers(ctx: Ctx, by: dict[str, list[Line]], order: list[str]) -> None:
    """What a note writes when a history section has nothing coded: "None", "No known allergies", fillers."""
    rng = ctx.rng
    phr = ctx.d.phr
    chronic = any(p.role == "present" and ctx.d.conds.get(p.key, None) is not None for p in ctx.problems)
    if not by.get("pmh") and not chronic and "pmh" in order:
        by["pmh"] = [Line("pmh", _pick(rng, phr["pmh_none"]), (), False)]
    elif not by.get("pmh") and ctx.kind in ("hp", "consult"):  # an H&P or a consult always has a past history
        by["pmh"] = [Line("pmh", _pick(rng, phr["pmh_filler"]), (), False)]
    if "meds" in order:
        if not by.get("meds"):
            by["meds"] = [Line("meds", _pick(rng, phr["meds_none"]), (), False)]
        elif rng.random() < 0.5 and ctx.age >= 18:
            by["meds"].append(Line("meds", _pick(rng, phr["meds_filler"]), (), False))
    by["allergies"] = [Line("allergies", _pick(rng, phr["allergies"]), (), True)]
    if not by.get("fh") and "fh" in order:
        by["fh"] = [Line("fh", _pick(rng, phr["fh_none"]), (), True)]
    if not by.get("psh") and "psh" in order:
        psh_pool = phr["psh_filler"] + (phr["psh_filler_f"] if ctx.sex == "F" else []) if ctx.age >= 18 else ["None"]
        # not the operation this note plans or reports (no prior tonsillectomy before a tonsillectomy)
        planned = set(re.findall(r"[a-z]{6,}", ctx.title_low))
        psh_pool = [x for x in psh_pool if not planned & set(re.findall(r"[a-z]{6,}", x.lower()))] or ["None"]
        by["psh"] = [Line("psh", _pick(rng, psh_pool), (), False)]


def _closing(ctx: Ctx, by: dict[str, list[Line]]) -> None:
    """Disposition, discharge condition and follow-up, a procedure's aftermath, closers and the signature."""
    rng = ctx.rng
    phr = ctx.d.phr
    kind = ctx.kind
    if kind in ("urgent", "ed"):
        admit = kind == "ed" and any(
            p.rank == 0 and p.key in ctx.d.conds and ctx.d.conds[p.key].type == "inpatient" for p in ctx.problems
        )
        dispo = phr["disposition"]["ed_admit" if admit else kind]
        by["disposition"] = [Line("disposition", _sentence(_pick(rng, dispo)), (), False)]
    if kind == "discharge":
        by["condition"] = [Line("condition", _sentence(_pick(rng, phr["discharge"]["condition"])), (), False)]
        by["disposition"] = [Line("disposition", _sentence(_pick(rng, phr["discharge"]["disposition"])), (), False)]
        by["followup"] = [Line("followup", _sentence(_pick(rng, phr["discharge"]["followup"])), (), False)]
        by.setdefault("course", []).append(
            Line("course", _sentence(_pick(rng, phr["discharge"]["course_filler"])), (), False)
        )
    if kind == "procedure":
        by.setdefault("after", []).append(
            Line("after", _sentence(_pick(rng, phr["procedure"]["tolerated"])), (), False)
        )
        by["complications"] = [Line("complications", _pick(rng, phr["procedure"]["complications"]), (), True)]
        by["consent"] = [Line("consent", _sentence(_pick(rng, phr["procedure"]["consent"])), (), False)]
    if kind in ("office", "urgent") and rng.random() < 0.5:
        by.setdefault("ap_extra", []).append(Line("ap_extra", _sentence(_pick(rng, phr["ap_closers"])), (), False))
    by["signature"] = [Line("signature", _fill(rng, _pick(rng, phr["signature"]), who=phr["providers"]), (), True)]


def _typos(ctx: Ctx, plan: Plan, by: dict[str, list[Line]]) -> None:
    """Typos in words that carry no code (never in a negation, history, uncertainty or laterality cue)."""
    rng = ctx.rng
    if rng.random() >= 0.15:
        return
    typo_pool = [ln for lines in by.values() for ln in lines if not ln.protected]
    for _ in range(rng.randint(1, 3)):
        if not typo_pool:
            break
        ln = _pick(rng, typo_pool)
        words = [m for m in re.finditer(r"\b[a-z]{5,}\b", ln.text) if m.group(0) not in CRITICAL_WORDS]
        if words:
            m = _pick(rng, words)
            ln.text = ln.text[: m.start()] + _typo(rng, m.group(0)) + ln.text[m.end() :]
            plan.typos += 1


def _fall_back(by: dict[str, list[Line]], order: list[str]) -> None:
    """A line whose section this kind does not write moves to the nearest one it does."""
    for name in list(by):
        if name not in order and name not in INLINE_SECTIONS:
            target = next((f for f in FALLBACK.get(name, ()) if f in order), None)
            if target is not None:
                by.setdefault(target, []).extend(by.pop(name))


def _blocks(ctx: Ctx, plan: Plan, style: _Style, sections: list[Any], by: dict[str, list[Line]]) -> list[_Blk]:
    """The sections written, in the kind's order: an optional section is left out now and then unless a line of
    it carries or withholds a code."""
    rng = ctx.rng
    must = {id(ln) for p in ctx.problems if p.codes or p.withheld for ln in p.lines}
    blocks: list[_Blk] = []
    for key in sections:
        name, p_show = (key, 1.0) if isinstance(key, str) else (key[0], float(key[1]))
        section = by.get(name) or []
        if not section:
            continue
        if rng.random() >= p_show and not any(ln.codes or id(ln) in must for ln in section):
            continue
        if style.layout != "lines" and name in ("header", "signature"):
            # a transcription keeps no letterhead or signature block; a line that carries a code stays
            section = [ln for ln in section if ln.codes]
            if not section:
                continue
        block = _block(ctx, style, name, section, by)
        blocks.append(block)
        plan.sections.append((name, block.head))
        if block.then is not None:
            plan.sections.append((name, block.then.head))
    return blocks


def _evidence(by: dict[str, list[Line]], text: str) -> dict[str, list[str]]:
    """For every code, the lines that carry it and made it into the text."""
    evidence: dict[str, list[str]] = {}
    for lines in by.values():
        for ln in lines:
            for c in ln.codes:
                if ln.text and ln.text in text and ln.text not in evidence.setdefault(c, []):
                    evidence[c].append(ln.text)
    return evidence
