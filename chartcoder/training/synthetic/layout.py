"""Laying out a note's sections: the style drawn for a note, headings, list forms, and the line and transcription
forms of a section."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from chartcoder.training.synthetic.context import Ctx
from chartcoder.training.synthetic.model import Line
from chartcoder.training.synthetic.text import _pick, _wpick


@dataclass
class _Style:
    upper_headings: bool
    colon: bool
    blank: bool
    ap: str  # num | dash | hash | plain | dx
    lists: str  # dash | num | plain | comma
    caps: bool
    date_fmt: int
    caps_section: str  # one section dictated in capitals ("" for none)
    layout: str = "lines"  # lines | csv | flat (see Plan.layout)
    us: bool = False  # the headings of U.S. transcriptions (phrasing `headings_us`)
    num_sep: str = ""  # "1.  " in transcriptions; "" picks ". " or ") " per list


def _draw_style(rng: random.Random, kind: str, spec: dict[str, Any]) -> _Style:
    """How this note is laid out; about 30% of some kinds take the transcription form of U.S. dictation: headings
    in capitals inline, "HEADER:,  text.,NEXT:, ..." on one line (or, flattened, "HEADER: text. NEXT: ..."),
    numbered lists inline, the transcriptions' headings."""
    style = _Style(
        upper_headings=rng.random() < 0.45,
        colon=rng.random() < 0.88,
        blank=rng.random() < 0.85,
        ap=_wpick(rng, ("num", "dash", "hash", "plain", "dx"), (5, 2, 1.5, 1, 1.5 if kind in ("urgent", "ed") else 0)),
        lists=_wpick(rng, ("dash", "num", "plain", "comma"), (4, 2, 2, 2)),
        caps=rng.random() < 0.03,
        date_fmt=rng.randrange(3),
        caps_section=_pick(rng, ("ap", "hpi", "dx", "course", "exam", "ros")) if rng.random() < 0.06 else "",
    )
    if rng.random() < float(spec.get("csv", 0.0)):
        style.layout = "csv" if rng.random() < 0.8 else "flat"
        style.us, style.colon, style.upper_headings, style.caps_section = True, True, True, ""
        style.ap = _wpick(rng, ("num", "plain"), (4, 1))
        style.lists = _wpick(rng, ("num", "comma", "plain"), (2, 3, 1))
        style.num_sep = _pick(rng, (".  ", ".  ", ". "))
    else:
        style.us = rng.random() < float(spec.get("us", 0.0))
    return style


PROSE = frozenset(("hpi", "course", "mdm", "description", "findings", "after", "indications"))
PROSE |= frozenset(("letter_open", "letter_close"))
LISTS = frozenset(("pmh", "psh", "meds", "fh", "results", "procedure", "vaccines", "dm_meds", "recs"))
LINES = frozenset(("ros", "exam", "sh", "header", "disposition", "followup", "condition"))
# Diagnosis and procedure lists of operative, imaging and discharge documents: one item on the heading's line,
# several numbered (the heading in its plural form when there is one).
DX_LISTS = frozenset(("preop", "postop", "proc_title", "impression", "admit_dx", "procedures_done"))
PLURAL = {"preop": "preop_pl", "postop": "postop_pl", "proc_title": "proc_title_pl"}
HEAD_SEPS = (":,  ", ": , ", ":  ,", ":, ", ":,", ":,  ")


@dataclass
class _Blk:
    """One section ready to be laid out: its heading, its body lines, and how they sit."""

    head: str
    body: list[str]
    inline: bool = False  # line form: a one-line body goes on the heading's line
    listed: bool = False  # the body is list items (numbered, dashed...)
    then: _Blk | None = None  # a second heading of the same section (principal / secondary diagnoses)


def _heading(ctx: Ctx, style: _Style, key: str) -> str:
    """A heading for a section: the note's own choices (an endoscopy report's), the kind's, the transcriptions'
    when the note uses them, else the common ones."""
    table = ctx.headings.get(key) or ctx.d.kinds[ctx.kind].get("headings", {}).get(key)
    if not table and style.us:
        table = ctx.d.phr["headings_us"].get(key)
    h = _pick(ctx.rng, table or ctx.d.phr["headings"][key])
    return h.upper() if style.upper_headings or style.caps or key == style.caps_section else h


def _items(ctx: Ctx, style: _Style, lines: list[Line], how: str) -> list[str]:
    if how == "num":
        sep = style.num_sep or _pick(ctx.rng, (". ", ") "))
        return [f"{i}{sep}{ln.text}" for i, ln in enumerate(lines, 1)]
    if how == "dash":
        return [f"- {ln.text}" for ln in lines]
    if how == "hash":
        return [f"# {ln.text}" for ln in lines]
    if how == "dx":
        return [f"Dx: {ln.text}" if i == 0 else f"Dx {i + 1}: {ln.text}" for i, ln in enumerate(lines)]
    return [ln.text for ln in lines]


def _paragraphs(ctx: Ctx, lines: list[Line]) -> list[str]:
    """A long narrative (an operative description) in paragraphs of three to five sentences."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        n = ctx.rng.randint(3, 5)
        out.append(" ".join(ln.text for ln in lines[i : i + n]))
        i += n
    return out


def _block(ctx: Ctx, style: _Style, name: str, lines: list[Line], by: dict[str, list[Line]]) -> _Blk:
    rng = ctx.rng
    if name in ("header", "signature"):
        return _Blk("", [ln.text for ln in lines])
    head = ""
    if name in ctx.d.phr["headings"]:
        key = PLURAL[name] if name in PLURAL and len(lines) > 1 else name
        head = _heading(ctx, style, key)
    if name in PROSE:
        if name == "description" and len(lines) > 6:
            return _Blk(head, _paragraphs(ctx, lines))
        return _Blk(head, [" ".join(ln.text for ln in lines)], inline=style.colon and rng.random() < 0.3)
    if name in DX_LISTS:
        if len(lines) == 1:
            return _Blk(head, [lines[0].text], inline=style.colon and rng.random() < 0.7)
        return _Blk(head, _items(ctx, style, lines, "num"), listed=True)
    if name == "ap":
        body = _items(ctx, style, lines, style.ap)
        body += [ln.text for ln in by.get("ap_extra", [])]
        body += [ln.text for ln in by.get("time", [])]
        return _Blk(head, body, listed=style.ap != "plain")
    if name == "dx":
        if rng.random() < 0.5 and len(lines) > 1:
            how = style.lists if style.lists != "comma" else "dash" if style.layout == "lines" else "num"
            rest = _items(ctx, style, lines[1:], how)
            second = _Blk(_heading(ctx, style, "secondary"), rest, listed=True)
            return _Blk(_heading(ctx, style, "principal"), [lines[0].text], inline=True, then=second)
        how = "num" if style.lists in ("num", "comma") else style.lists
        return _Blk(head, _items(ctx, style, lines, how), listed=True)
    if name in LISTS:
        texts = [ln.text for ln in lines]
        if (
            style.lists == "comma"
            and name in ("pmh", "psh", "meds")
            and all(len(t) < 60 and "." not in t for t in texts)
        ):
            return _Blk(head, [", ".join(texts)], inline=style.colon)
        how = style.lists if style.lists != "comma" else "dash" if style.layout == "lines" else "num"
        return _Blk(head, _items(ctx, style, lines, how), listed=True)
    if name in LINES:
        body = [ln.text for ln in lines]
        if name == "sh" and rng.random() < 0.5:
            return _Blk(head, [" ".join(body)], inline=style.colon and rng.random() < 0.5)
        return _Blk(head, body)
    return _Blk(head, [" ".join(ln.text for ln in lines)], inline=style.colon)


def _line_form(style: _Style, b: _Blk) -> str:
    colon = ":" if style.colon else ""
    if not b.head:
        out = "\n".join(b.body)
    elif b.inline and len(b.body) == 1:
        out = f"{b.head}{colon} {b.body[0]}"
    else:
        out = f"{b.head}{colon}\n" + "\n".join(b.body)
    return out + ("\n" + _line_form(style, b.then) if b.then else "")


def _end(text: str) -> str:
    """A transcribed item ends with a period, as dictation does ("1.  Cholelithiasis.")."""
    return text if text.endswith((".", "!", "?", ":")) else text + "."


def _transcribed(ctx: Ctx, style: _Style, b: _Blk) -> str:
    """A section in the transcription form: 'HEADER:,  text.' with list items and paragraphs joined by commas
    (or all on one run, '1.  Xxx.  2.  Yyy.'); flattened: 'HEADER: text.' joined by spaces."""
    rng = ctx.rng
    csv = style.layout == "csv"
    if b.listed:
        joiner = "," if csv and rng.random() < 0.6 else "  "
        body = joiner.join(_end(x) for x in b.body)
    else:
        body = ("," if csv else " ").join(_end(x) for x in b.body)
    if not b.head:
        out = body
    elif csv:
        sep = _pick(rng, HEAD_SEPS)
        out = f"{b.head}{sep}{body}" if not (b.listed and sep.endswith(" ")) else f"{b.head}:,{body}"
    else:
        out = f"{b.head}: {body}"
    if b.then is not None:
        out += ("," if csv else " ") + _transcribed(ctx, style, b.then)
    return out
