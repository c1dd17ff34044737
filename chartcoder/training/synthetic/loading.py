"""Reading `resources/synthetic/*.yaml` once: conditions become `Cond`s, the other catalogues are kept as loaded,
and every condition an operation or an imaging study names is checked to exist."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from chartcoder.training.synthetic.coding import _needs_seventh
from chartcoder.training.synthetic.model import Cond, Drug, Unc


def _tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value)
    return (str(value),)


def _codes(entry: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    if "sides" in entry:
        return {str(k): _tuple(v) for k, v in entry["sides"].items()}
    return {"": _tuple(entry["code"])}


DEFAULT_WHERE = {
    "chronic": ("office", "urgent", "ed", "discharge"),
    "acute": ("office", "urgent", "ed"),
    "injury": ("urgent", "ed", "office"),
    "inpatient": ("discharge",),
    "secondary": ("discharge",),
    "finding": ("office", "urgent", "ed"),
    "proc": ("procedure",),
    "encounter": ("office", "urgent"),
    "surgical": ("operative", "consult", "hp"),
}
DEFAULT_AGE = {
    "chronic": (18, 95),
    "acute": (2, 95),
    "injury": (2, 95),
    "inpatient": (18, 95),
    "secondary": (18, 95),
    "finding": (2, 95),
    "proc": (2, 95),
    "encounter": (2, 95),
    "surgical": (18, 90),
}


def _cond(entry: dict[str, Any]) -> Cond:
    ctype = str(entry.get("type", "chronic"))
    if ctype not in DEFAULT_WHERE:
        raise ValueError(f"condition {entry.get('id')}: unknown type {ctype!r}")
    unc = entry.get("unc")
    drugs = tuple(
        Drug(d.get("code"), str(d["med"]), str(d.get("plan", f"Continue {d['med']}."))) for d in entry.get("drugs", [])
    )
    xray = entry.get("xray")
    age = entry.get("age") or DEFAULT_AGE[ctype]
    return Cond(
        id=str(entry["id"]),
        type=ctype,
        codes=_codes(entry),
        terms=_tuple(entry["terms"]),
        bilateral_terms=_tuple(entry.get("bilateral_terms")),
        unspecified_terms=_tuple(entry.get("unspecified_terms")),
        where=_tuple(entry.get("where")) or DEFAULT_WHERE[ctype],
        age=(int(age[0]), int(age[1])),
        sex=entry.get("sex"),
        weight=float(entry.get("w", 1)),
        plan=_tuple(entry.get("plan")),
        plan_d=_tuple(entry.get("plan_d")),
        hpi=_tuple(entry.get("hpi")),
        sx=_tuple(entry.get("sx")),
        exam={str(k): str(v) for k, v in (entry.get("exam") or {}).items()},
        drugs=drugs,
        drug_p=float(entry.get("drug_p", 0.7)),
        med=_tuple(entry.get("med")),
        unc=Unc(_codes(unc), _tuple(unc["terms"])) if unc else None,
        unc_in=bool(entry.get("unc_in", False)),
        negs=_tuple(entry.get("negs")),
        poc=_tuple(entry.get("poc")),
        procs=_tuple(entry.get("procs")),
        xray=(str(xray["code"]), str(xray["text"])) if xray else None,
        dme=_tuple(entry.get("dme")),
        course=_tuple(entry.get("course")),
        status=_tuple(entry.get("status")),
        clash=_tuple(entry.get("clash")),
        seventh=_tuple(entry.get("seventh")) or ("A", "D"),
        needs7=any(_needs_seventh(c) for cs in _codes(entry).values() for c in cs),
        also=_tuple(entry.get("also")),
        also_opposite=bool(entry.get("also_opposite", False)),
    )


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader when PyYAML has libyaml: ~10x faster


@dataclass(frozen=True)
class _Data:
    conds: dict[str, Cond]
    phr: dict[str, Any]
    kinds: dict[str, Any]
    procs: dict[str, Any]
    hist: dict[str, Any]
    combos: dict[str, Any]
    excludes1: dict[str, frozenset[str]]  # code -> codes it is never coded with (both directions)
    ops: dict[str, Any]  # operations.yaml
    rad: dict[str, Any]  # radiology.yaml


@lru_cache(maxsize=1)
def _data() -> _Data:
    base = resources.files("chartcoder.training.resources").joinpath("synthetic")
    docs: dict[str, Any] = {}
    conds: dict[str, Cond] = {}
    for entry in sorted(base.iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".yaml"):
            continue
        doc = yaml.load(entry.read_text("utf-8"), Loader=_LOADER)
        if entry.name.startswith("conditions"):
            for raw in doc:
                c = _cond(raw)
                if c.id in conds:
                    raise ValueError(f"condition id {c.id!r} repeats in {entry.name}")
                conds[c.id] = c
        else:
            docs[entry.name[: -len(".yaml")]] = doc
    pairs: dict[str, set[str]] = {}
    for a, others in (docs["excludes1"]["excludes1"] or {}).items():
        for b in others:
            pairs.setdefault(str(a), set()).add(str(b))
            pairs.setdefault(str(b), set()).add(str(a))
    ex1 = {k: frozenset(v) for k, v in pairs.items()}
    data = _Data(
        conds,
        docs["phrasing"],
        docs["note_kinds"],
        docs["procedures"],
        docs["history"],
        docs["combos"],
        ex1,
        docs["operations"],
        docs["radiology"],
    )
    _check_references(data)
    return data


def _check_references(d: _Data) -> None:
    """Every condition an operation or an imaging study names exists (a typo fails at load, not mid-corpus)."""
    names: list[tuple[str, str]] = []
    for op in d.ops["operations"]:
        for key in ("dx",):
            names += [(op["id"], str(c)) for c in op[key]]
        for key in ("dx2", "add"):
            names += [(op["id"], str(e["cond"])) for e in op.get(key, [])]
        for r in op.get("refine", []):
            names.append((op["id"], str(r["post"])))
            if isinstance(r["pre"], str) and r["pre"] != "unc":
                names.append((op["id"], str(r["pre"])))
        names += [(op["id"], str(c)) for c in op.get("findings_by", {})]
    for ex in d.rad["exams"]:
        names += [(ex["id"], str(e["cond"])) for e in ex["dx"] + ex["incidental"]]
        names += [(ex["id"], str(i)) for i in ex["indications"] if isinstance(i, str) and i not in d.phr["symptoms"]]
    missing = sorted({f"{owner}: {cid}" for owner, cid in names if cid not in d.conds})
    if missing:
        raise ValueError(f"unknown condition ids: {missing}")


@lru_cache(maxsize=1)
def _by_type() -> dict[str, tuple[Cond, ...]]:
    out: dict[str, list[Cond]] = {}
    for c in _data().conds.values():
        out.setdefault(c.type, []).append(c)
    return {k: tuple(v) for k, v in out.items()}
