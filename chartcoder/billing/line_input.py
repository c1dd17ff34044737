"""What a coder may set on one CPT/HCPCS line, checked when it is entered (the API's decisions) against
the same tables the scrubber reads: the modifier table (`modifiers.yaml`), the unit rules
(`drug_units.yaml`) and the NDC billing form. The scrubber still checks the built claim; this refuses
what can never be right before it is stored, with a message naming what was expected."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from chartcoder.billing.claim import MAX_MODIFIERS, NDC_UNITS
from chartcoder.billing.line_edits import ndc_problem
from chartcoder.billing.line_rules import DOSE_UNITS, modifier_table, unit_rules, us_states

MAX_UNITS = Decimal(99999)


def modifier_problems(code: str, modifiers: Sequence[str]) -> list[str]:
    """Why these modifiers cannot go on `code`: more than four, repeated, both sides, not in the
    modifier table, or ruled out for the code's group (LT on a visit, 25 off a visit)."""
    table = modifier_table()
    out = []
    if len(modifiers) > MAX_MODIFIERS:
        out.append(f"at most {MAX_MODIFIERS} modifiers go on a line; got {len(modifiers)}")
    if len(set(modifiers)) != len(modifiers):
        out.append(f"modifiers {list(modifiers)} repeat one")
    if {"LT", "RT"} <= set(modifiers):
        out.append("LT and RT on one line: bill each side on its own line, or 50 where the code allows it")
    for m in dict.fromkeys(modifiers):
        if m not in table.modifiers:
            out.append(f"modifier {m!r} is not in chartcoder's modifier table (GET /v1/review/modifiers lists them)")
        elif why := table.misfit(m, code):
            out.append(f"{why}, not on {code}")
    return out


def units_problem(code: str, units: Decimal) -> str | None:
    """Why `units` cannot be billed for `code`: not more than zero, too many, or a fraction on a code
    billed in whole units (only the codes listed as decimal in `drug_units.yaml` take tenths)."""
    if units <= 0 or units > MAX_UNITS:
        return f"units must be more than 0 and at most {MAX_UNITS}; got {units}"
    if code in unit_rules().decimal_units:
        if units != units.quantize(Decimal("0.1")):
            return f"{code} is billed in tenths; got {units}"
    elif units != units.to_integral_value():
        return f"{code} is billed in whole units; got {units}"
    return None


def ndc_problems(code: str, unit: str, quantity: Decimal) -> list[str]:
    """Why an NDC entry is not billable: not 11 digits 5-4-2, a unit outside F2/GR/ME/ML/UN, no quantity."""
    out = []
    if problem := ndc_problem(code):
        out.append(f"ndc.code {problem}")
    if unit not in NDC_UNITS:
        out.append(f"ndc.unit must be one of {', '.join(NDC_UNITS)}; got {unit!r}")
    if quantity <= 0:
        out.append(f"ndc.quantity must be more than 0; got {quantity}")
    return out


def dose_problem(unit: str, amount: Decimal) -> str | None:
    if unit not in DOSE_UNITS:
        return f"dose.unit must be one of {', '.join(DOSE_UNITS)}; got {unit!r}"
    if amount <= 0:
        return f"dose.amount must be more than 0; got {amount}"
    return None


def state_problem(state: str) -> str | None:
    """Why `state` is not a U.S. state, territory or military code (the 837P N402 list)."""
    if state not in us_states():
        return f"{state!r} is not a U.S. state, territory or military state code (two capital letters, like IL)"
    return None
