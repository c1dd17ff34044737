"""The billing layer's rule tables, kept as data in `resources/` and checked on load: the modifier
table and the code groups it refers to (`modifiers.yaml`), the drug unit rules (`drug_units.yaml`),
the U.S. state and territory codes (`states.yaml`) and the diagnosis sequencing and combination rules
(`sequencing.yaml`). A malformed file raises ResourceError naming the file and the entry."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from chartcoder.billing.claim import Dose
from chartcoder.domain.errors import ResourceError

_PROC_RANGE = re.compile(r"^([0-9A-Z]{5})(?:-([0-9A-Z]{5}))?$")
_ICD_RANGE = re.compile(r"^([A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?)(?:-([A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?))?$")
_MODIFIER = re.compile(r"^[0-9A-Z]{2}$")
DOSE_UNITS = ("mg", "mcg", "g", "mL", "units")
_MASS_IN_MG = {"mg": Decimal(1), "mcg": Decimal("0.001"), "g": Decimal(1000)}


def _read(name: str) -> Any:
    source = f"chartcoder/billing/resources/{name}"
    text = resources.files("chartcoder.billing").joinpath("resources", name).read_text("utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ResourceError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or data.get("version") != 1:
        raise ResourceError(f"{source}: expected a mapping with version: 1")
    return data


def _bad(name: str, where: str, problem: str) -> ResourceError:
    return ResourceError(f"chartcoder/billing/resources/{name}: {where}: {problem}")


# -- procedure code groups and modifiers -------------------------------------------------------


@dataclass(frozen=True)
class CodeGroup:
    name: str
    ranges: tuple[tuple[str, str], ...]

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and len(code) == 5 and any(lo <= code <= hi for lo, hi in self.ranges)


@dataclass(frozen=True)
class Modifier:
    code: str
    group: str
    wording: str
    only_on: tuple[str, ...] = ()
    not_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModifierTable:
    modifiers: dict[str, Modifier]
    groups: dict[str, CodeGroup]
    _memo: dict[str, frozenset[str]] = field(default_factory=dict, compare=False, repr=False)

    def groups_of(self, code: str) -> frozenset[str]:
        """The code groups a code is in (worked out once per code)."""
        found = self._memo.get(code)
        if found is None:
            found = self._memo[code] = frozenset(name for name, g in self.groups.items() if code in g)
        return found

    def misfit(self, modifier: str, code: str) -> str | None:
        """Why `modifier` cannot go on `code` (the code group that rules it out), or None."""
        m = self.modifiers.get(modifier)
        if m is None:
            return None
        mine = self.groups_of(code)
        if m.only_on and not mine & set(m.only_on):
            return f"{modifier} ({m.wording}) goes only on {' or '.join(map(_shown, m.only_on))} codes"
        clash = [g for g in m.not_on if g in mine]
        if clash:
            return f"{modifier} ({m.wording}) never goes on {_shown(clash[0])} codes"
        return None


def _shown(group: str) -> str:
    return {"em": "E/M visit"}.get(group, group.replace("_", " "))


def _proc_ranges(items: Any, name: str, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(items, list) or not items:
        raise _bad(name, where, "expected a non-empty list of codes or ranges like '20600-20611'")
    out = []
    for item in items:
        m = _PROC_RANGE.match(str(item))
        if not m:
            raise _bad(name, where, f"{item!r} is not a five-character code or range")
        lo, hi = m.group(1), m.group(2) or m.group(1)
        if hi < lo:
            raise _bad(name, where, f"range {item!r} ends before it starts")
        out.append((lo, hi))
    return tuple(out)


@lru_cache(maxsize=1)
def modifier_table() -> ModifierTable:
    name = "modifiers.yaml"
    data = _read(name)
    groups = {
        str(g): CodeGroup(str(g), _proc_ranges(r, name, f"code group {g}")) for g, r in data["code_groups"].items()
    }
    modifiers: dict[str, Modifier] = {}
    for code, entry in (data.get("modifiers") or {}).items():
        code = str(code)
        if not _MODIFIER.match(code) or not isinstance(entry, dict) or not entry.get("wording"):
            raise _bad(name, f"modifier {code}", "expected a two-character code with group and wording")
        if unknown_keys := set(entry) - {"group", "wording", "only_on", "not_on"}:
            raise _bad(name, f"modifier {code}", f"unknown key(s) {sorted(map(str, unknown_keys))}")
        only_on, not_on = tuple(entry.get("only_on") or ()), tuple(entry.get("not_on") or ())
        unknown = set(only_on + not_on) - set(groups)
        if unknown:
            raise _bad(name, f"modifier {code}", f"unknown code group(s) {sorted(unknown)}")
        modifiers[code] = Modifier(code, str(entry.get("group", "")), str(entry["wording"]), only_on, not_on)
    return ModifierTable(modifiers, groups)


# -- drug units ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DrugUnit:
    code: str
    per: Decimal
    unit: str
    ndc_required: bool = False

    def units_for(self, dose: Dose) -> Decimal | None:
        """Billing units for a dose: the dose over `per`, rounded up to a whole unit; None when the
        dose's unit cannot be converted to the code's (mL against mg)."""
        amount = convert(dose, self.unit)
        if amount is None:
            return None
        return (amount / self.per).to_integral_value(rounding=ROUND_CEILING)


def convert(dose: Dose, unit: str) -> Decimal | None:
    """The dose's amount in `unit` (mg, mcg and g convert to each other; mL and units only to themselves)."""
    if dose.unit == unit:
        return dose.amount
    if dose.unit in _MASS_IN_MG and unit in _MASS_IN_MG:
        return dose.amount * _MASS_IN_MG[dose.unit] / _MASS_IN_MG[unit]
    return None


@dataclass(frozen=True)
class UnitRules:
    drugs: dict[str, DrugUnit]
    decimal_units: frozenset[str]


@lru_cache(maxsize=1)
def unit_rules() -> UnitRules:
    name = "drug_units.yaml"
    data = _read(name)
    drugs = {}
    for code, entry in (data.get("drugs") or {}).items():
        code = str(code)
        try:
            per = Decimal(str(entry["per"]))
        except (KeyError, TypeError, InvalidOperation):
            raise _bad(name, f"drug {code}", "expected per: a number") from None
        unit = entry.get("unit")
        if not _PROC_RANGE.match(code) or per <= 0 or unit not in DOSE_UNITS:
            raise _bad(name, f"drug {code}", f"expected a HCPCS code, per > 0 and unit one of {DOSE_UNITS}")
        drugs[code] = DrugUnit(code, per, unit, bool(entry.get("ndc_required", False)))
    return UnitRules(drugs, frozenset(str(c) for c in data.get("decimal_units") or ()))


# -- states ----------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def us_states() -> frozenset[str]:
    data = _read("states.yaml")
    codes = [str(c) for key in ("states", "territories", "military") for c in data.get(key) or ()]
    if len(codes) < 51 or any(not re.fullmatch(r"[A-Z]{2}", c) for c in codes):
        raise _bad("states.yaml", "top level", "expected lists of two-letter codes (states, territories, military)")
    return frozenset(codes)


# -- sequencing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class IcdRanges:
    ranges: tuple[tuple[str, str], ...]  # dotless, inclusive, prefix-compared
    _memo: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)

    def covers(self, code: str) -> bool:
        hit = self._memo.get(code)
        if hit is None:
            c = code.replace(".", "")
            hit = self._memo[code] = any(lo <= c[: len(lo)] and c[: len(hi)] <= hi for lo, hi in self.ranges)
        return hit


@dataclass(frozen=True)
class Combination:
    id: str
    when_all: tuple[IcdRanges, ...]
    instead: str
    why: str


@dataclass(frozen=True)
class SequencingRules:
    never_first: tuple[tuple[IcdRanges, str], ...]
    first_only: IcdRanges
    first_only_why: str
    combinations: tuple[Combination, ...]
    auto_accident: IcdRanges = field(default_factory=lambda: IcdRanges(()))  # CMS-1500 10b, CLM11 AA


def _icd_ranges(items: Any, where: str) -> IcdRanges:
    name = "sequencing.yaml"
    if not isinstance(items, list) or not items:
        raise _bad(name, where, "expected a non-empty list of ICD-10-CM codes or ranges")
    out = []
    for item in items:
        m = _ICD_RANGE.match(str(item))
        if not m:
            raise _bad(name, where, f"{item!r} is not an ICD-10-CM code or range")
        lo = m.group(1).replace(".", "")
        out.append((lo, (m.group(2) or m.group(1)).replace(".", "")))
    return IcdRanges(tuple(out))


@lru_cache(maxsize=1)
def sequencing_rules() -> SequencingRules:
    data = _read("sequencing.yaml")
    try:
        never = tuple(
            (_icd_ranges(r["codes"], f"never_first {n}"), str(r["why"]))
            for n, r in enumerate(data["never_first"], start=1)
        )
        first = data["first_only"]
        combos = tuple(
            Combination(
                str(c["id"]),
                tuple(_icd_ranges([w], f"combination {c['id']}") for w in c["when_all"]),
                str(c["instead"]),
                str(c["why"]),
            )
            for c in data["combinations"]
        )
        auto = _icd_ranges(data["auto_accident"]["codes"], "auto_accident")
        return SequencingRules(never, _icd_ranges(first["codes"], "first_only"), str(first["why"]), combos, auto)
    except (KeyError, TypeError) as exc:
        raise _bad("sequencing.yaml", "top level", f"missing or malformed {exc}") from None
