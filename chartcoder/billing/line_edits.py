"""Claim edits about sequencing, the claim's parties and each service line's modifiers, units and
drug data. Each edit is written from its definition (named in its docstring) and reads its rules
from the tables in `resources/` through `ScrubContext` (`line_rules` loads them).

- EXTERNAL_CAUSE_FIRST, FIRST_LISTED_ONLY, COMBINATION_CODE: ICD-10-CM guidelines I.C.20,
  I.C.21.c.16 and I.C.9.a (`sequencing.yaml`); DIAGNOSIS_ORDER says what the assembler moved.
- PREVENTIVE_PROBLEM_25: CPT's preventive medicine guidelines (a problem visit beside a preventive
  visit is reported with modifier 25).
- DUPLICATE_LINE: the same service twice on one day with nothing (76, 77, 91, a side) to tell them apart.
- ADDRESS_STATE: the 837P N402 state code (`states.yaml`).
- FREQUENCY_CODE: CLM05-3 (1, 7 or 8) and REF*F8, the payer's claim number a replacement or void needs.
- MODIFIER_INVALID, QW_MISSING: the modifier table (`modifiers.yaml`).
- UNITS_DOSE, NDC: the drug unit rules (`drug_units.yaml`) and the NDC billing form (11 digits 5-4-2).
"""

from __future__ import annotations

import re
from collections import Counter

from chartcoder.billing.claim import MAX_MODIFIERS, NDC_UNITS, Address, Claim, ServiceLine, original_reference
from chartcoder.billing.edit_base import WARNING, Edit, Finding, ScrubContext

FREQUENCIES = {"1": "original", "7": "replacement", "8": "void"}
_MODIFIER_SHAPE = re.compile(r"^[0-9A-Z]{2}$")
_SIDES = frozenset({"LT", "RT"})
# Modifiers that make a second line of the same code on the same day a different service.
_REPEAT_MODIFIERS = frozenset({"76", "77", "91", "59", "XE", "XP", "XS", "XU", "LT", "RT", "50"})
_MEDICARE = frozenset({"MA", "MB"})
_MEDICAID = "MC"


class ExternalCauseFirst(Edit):
    """ICD-10-CM guideline I.C.20: an external cause code (V00-Y99) explains how an injury or
    condition happened and is never the first-listed diagnosis."""

    id = "EXTERNAL_CAUSE_FIRST"
    title = "External cause code listed first"

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        if not claim.diagnoses:
            return []
        first = claim.diagnoses[0].code
        for ranges, why in context.sequencing.never_first:
            if ranges.covers(first):
                lead = next((d.code for d in claim.diagnoses[1:] if not ranges.covers(d.code)), None)
                fix = (
                    f"List the injury or condition it explains first ({lead})."
                    if lead
                    else ("Add the code for the injury or condition it explains, and list that first.")
                )
                return [self.finding(f"Diagnosis 1, {first}: {why}.", fix, diagnosis=1)]
        return []


class DiagnosisOrder(Edit):
    """The assembler, given no diagnosis order by the coder, moved codes to follow the conventions
    (code first, manifestation and external cause never first). Said, so it is never silent."""

    id = "DIAGNOSIS_ORDER"
    severity = WARNING
    title = "Diagnoses re-ordered by the sequencing conventions"

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        moved = claim.extra.get("resequenced", "").strip()
        if not moved:
            return []
        return [
            self.finding(
                f"The coder gave no diagnosis order, so the sequencing conventions set it: {moved}.",
                "Check the order, or set the diagnosis order on the encounter (diagnosis_order) and build again.",
                diagnosis=1,
            )
        ]


class FirstListedOnly(Edit):
    """ICD-10-CM guideline I.C.21.c.16: some Z codes (general examinations, routine prenatal
    supervision, liveborn infants...) may only be the first-listed diagnosis."""

    id = "FIRST_LISTED_ONLY"
    title = "A code that may only be first-listed is listed later"

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        rules = context.sequencing
        return [
            self.finding(
                f"Diagnosis {i}, {d.code}, {rules.first_only_why}; here it is listed {i}.",
                f"List {d.code} first (the reason for the encounter), or remove it if the visit was not for it.",
                diagnosis=i,
            )
            for i, d in enumerate(claim.diagnoses[1:], start=2)
            if rules.first_only.covers(d.code)
        ]


class CombinationCode(Edit):
    """ICD-10-CM guideline I.C.9.a: hypertension with chronic kidney disease (I12.-) or with heart
    failure (I11.0) is presumed linked; I10 with N18 or I50 should be the combination code."""

    id = "COMBINATION_CODE"
    title = "Two codes that ICD-10-CM combines into one"

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        out = []
        for combo in context.sequencing.combinations:
            hits = [next((i for i, d in enumerate(claim.diagnoses, 1) if r.covers(d.code)), 0) for r in combo.when_all]
            if all(hits):
                codes = " with ".join(claim.diagnoses[i - 1].code for i in hits)
                out.append(
                    self.finding(
                        f"{codes}: {combo.why}.",
                        f"Replace diagnosis {hits[0]} ({claim.diagnoses[hits[0] - 1].code}) with {combo.instead}, "
                        "unless the provider documents that the conditions are unrelated.",
                        diagnosis=hits[0],
                    )
                )
        return out


class PreventiveProblem25(Edit):
    """CPT preventive medicine guidelines: when a problem is addressed at a preventive visit with
    enough work to be a problem visit of its own, the problem visit is reported with modifier 25."""

    id = "PREVENTIVE_PROBLEM_25"
    title = "Problem visit beside a same-day preventive visit, without modifier 25"

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        groups = context.modifiers.groups_of
        preventive = {line.service_date: line.code for line in claim.lines if "preventive" in groups(line.code)}
        return [
            self.finding(
                f"Line {n} is a problem visit ({line.code}) on the same day as preventive visit "
                f"{preventive[line.service_date]}, without modifier 25; it will be denied as part of the "
                "preventive visit.",
                "If the note documents a significant, separately identifiable problem visit, add modifier 25 "
                "to this line; otherwise remove it.",
                line=n,
            )
            for n, line in enumerate(claim.lines, start=1)
            if "problem_visit" in groups(line.code) and line.service_date in preventive and "25" not in line.modifiers
        ]


class DuplicateLine(Edit):
    """The same code on the same day with the same modifiers (and the same NDC) twice: a payer pays
    the first and denies the second as a duplicate. A repeat is told apart by 76, 77, 91, 59/X or a
    side; one drug given from two NDCs is two lines (one per NDC), not a duplicate."""

    id = "DUPLICATE_LINE"
    title = "The same service line twice"

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        seen: dict[tuple[str, object, frozenset[str], str | None], int] = {}
        out = []
        for n, line in enumerate(claim.lines, start=1):
            ndc = line.ndc.code if line.ndc is not None else None
            key = (line.code.upper(), line.service_date, frozenset(m.upper() for m in line.modifiers), ndc)
            first = seen.setdefault(key, n)
            if first != n:
                out.append(
                    self.finding(
                        f"Line {n} repeats line {first} ({line.code} on {line.service_date.isoformat()}, same "
                        "modifiers); the payer will deny it as a duplicate.",
                        "Bill more of the same service as units on one line; a repeat service needs the modifier "
                        f"that says so ({', '.join(sorted(_REPEAT_MODIFIERS))}); otherwise remove the line.",
                        line=n,
                    )
                )
        return out


class AddressState(Edit):
    """An 837P address carries a U.S. state or territory code in N402 (pyx12 and payers reject others)."""

    id = "ADDRESS_STATE"
    title = "Address with a state code that does not exist"

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        addresses: list[tuple[str, Address | None]] = [
            ("billing provider", claim.billing_provider.address),
            ("subscriber", claim.subscriber.address),
        ]
        if claim.patient is not None:
            addresses.append(("patient", claim.patient.address))
        if claim.rendering_provider is not None:
            addresses.append(("rendering provider", claim.rendering_provider.address))
        return [
            self.finding(
                f"The {role}'s address has state {address.state!r}, which is not a U.S. state, territory or "
                "military postal code.",
                "Correct the state to its two-letter USPS code (IL, PR, AE...).",
            )
            for role, address in addresses
            if address is not None and address.state.strip().upper() not in context.states
        ]


class FrequencyCode(Edit):
    """CLM05-3, the claim frequency: 1 original, 7 replacement, 8 void. A replacement or void names
    the payer's claim number of the claim it changes (REF*F8, CMS-1500 item 22)."""

    id = "FREQUENCY_CODE"
    title = "Claim frequency and the original claim's number"

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        freq = claim.frequency.strip()
        if freq not in FREQUENCIES:
            return [
                self.finding(
                    f"Claim frequency {freq!r} is not one a professional claim uses "
                    "(1 original, 7 replacement, 8 void).",
                    "Send 1 for a new claim, 7 to replace one the payer has, 8 to void one.",
                )
            ]
        if freq in ("7", "8") and not original_reference(claim):
            return [
                self.finding(
                    f"The claim is a {FREQUENCIES[freq]} (frequency {freq}) but does not give the payer's claim "
                    "number of the claim it changes; the payer rejects it.",
                    "Enter the payer claim control number from the remittance (it goes in REF*F8 and item 22).",
                )
            ]
        return []


class ModifierInvalid(Edit):
    """Modifiers: at most four, two characters, not repeated, known to the modifier table, and fit for
    the code (a side on a code that has none, 25 on a non-visit, QW on a non-test...)."""

    id = "MODIFIER_INVALID"
    title = "A modifier that cannot go on its line"

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        out = []
        for n, line in enumerate(claim.lines, start=1):
            out.extend(self._line(n, line, context))
        return out

    def _line(self, n: int, line: ServiceLine, context: ScrubContext) -> list[Finding]:
        mods = [m.strip().upper() for m in line.modifiers]
        out = []
        if len(mods) > MAX_MODIFIERS:
            out.append(
                self.finding(
                    f"Line {n} ({line.code}) has {len(mods)} modifiers; a line holds {MAX_MODIFIERS}.",
                    "Keep the four that affect payment, pricing ones first.",
                    line=n,
                )
            )
        if dup := sorted(m for m, k in Counter(mods).items() if k > 1):
            out.append(
                self.finding(
                    f"Line {n} ({line.code}) repeats modifier {', '.join(dup)}.",
                    "Remove the repeated modifier.",
                    line=n,
                )
            )
        if set(mods) >= _SIDES:
            out.append(
                self.finding(
                    f"Line {n} ({line.code}) has both LT and RT.",
                    "Bill each side on its own line (LT, RT), or one line with 50 where the code "
                    "allows a bilateral procedure.",
                    line=n,
                )
            )
        table = context.modifiers
        for m in dict.fromkeys(mods):
            if not _MODIFIER_SHAPE.match(m):
                out.append(
                    self.finding(
                        f"Line {n} ({line.code}): {m!r} is not a modifier (two letters or digits).",
                        "Correct the modifier.",
                        line=n,
                    )
                )
            elif m not in table.modifiers:
                out.append(
                    self.finding(
                        f"Line {n} ({line.code}): modifier {m} is not in chartcoder's modifier "
                        "table, so it cannot be checked.",
                        "Check it against the payer's list.",
                        severity=WARNING,
                        line=n,
                    )
                )
            elif why := table.misfit(m, line.code.upper()):
                out.append(
                    self.finding(
                        f"Line {n} ({line.code}): {why}.", f"Remove {m}, or correct the code it is on.", line=n
                    )
                )
        return out


class QwMissing(Edit):
    """Medicare pays a CLIA-waived test done in an office with a waiver certificate only with QW."""

    id = "QW_MISSING"
    severity = WARNING
    title = "CLIA-waived test to Medicare without QW"

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        if claim.payer.claim_filing not in _MEDICARE:
            return []
        return [
            self.finding(
                f"Line {n} ({line.code}) is a test that is CLIA-waived when done with a waived kit, billed to "
                "Medicare without QW.",
                "If the practice holds a CLIA certificate of waiver and used a waived kit, add QW.",
                line=n,
            )
            for n, line in enumerate(claim.lines, start=1)
            if "clia_waived" in context.modifiers.groups_of(line.code) and "QW" not in line.modifiers
        ]


class UnitsDose(Edit):
    """Units: whole numbers except where a code is billed in fractions (mileage); a drug code's
    units are the dose given over the amount one unit stands for, rounded up (J3301 is per 10 mg:
    40 mg is 4 units)."""

    id = "UNITS_DOSE"
    title = "Units that do not match the code or the dose"

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        out = []
        for n, line in enumerate(claim.lines, start=1):
            code = line.code.upper()
            if (
                line.units > 0
                and line.units != line.units.to_integral_value()
                and code not in context.units.decimal_units
            ):
                out.append(
                    self.finding(
                        f"Line {n} ({line.code}) bills {line.units} units; this code is billed in whole units.",
                        "Round to the whole units given.",
                        line=n,
                    )
                )
            rule = context.units.drugs.get(code)
            if rule is None or rule.ndc_required:
                continue
            if line.dose is None:
                out.append(
                    self.finding(
                        f"Line {n} ({line.code}) is a drug billed per {rule.per} {rule.unit}, with no "
                        "dose recorded, so its units cannot be checked (without a dose it goes out at the "
                        "units given, one by default).",
                        "Record the dose given on the line.",
                        line=n,
                    )
                )
                continue
            want = rule.units_for(line.dose)
            given = f"{line.dose.amount} {line.dose.unit}"
            if want is None:
                out.append(
                    self.finding(
                        f"Line {n} ({line.code}): the dose, {given}, cannot be converted to the "
                        f"code's unit ({rule.unit}).",
                        f"Record the dose in {rule.unit}.",
                        line=n,
                    )
                )
            elif want != line.units:
                out.append(
                    self.finding(
                        f"Line {n} ({line.code}) bills {line.units} units for {given}; the code "
                        f"is per {rule.per} {rule.unit}, so {given} is {want} units.",
                        f"Bill {want} units.",
                        line=n,
                    )
                )
        return out


def ndc_problem(code: str) -> str | None:
    """Why an NDC is not in the 11-digit 5-4-2 billing form, or None."""
    digits = code.replace("-", "")
    if not digits.isdigit():
        return "has characters other than digits and hyphens"
    if "-" in code and [len(p) for p in code.split("-")] != [5, 4, 2]:
        return "is not in the 5-4-2 form (pad the short segment with a leading zero)"
    if len(digits) != 11:
        return f"has {len(digits)} digits, not 11 (pad the 10-digit label form to 5-4-2)"
    return None


class NdcCheck(Edit):
    """A drug line's NDC: 11 digits (5-4-2), a unit of measure (F2, GR, ME, ML, UN) and a quantity.
    Required on every drug line to Medicaid (the drug rebate program) and for an unclassified drug code."""

    id = "NDC"
    title = "The drug's NDC"

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        out = []
        for n, line in enumerate(claim.lines, start=1):
            rule = context.units.drugs.get(line.code.upper())
            ndc = line.ndc
            if ndc is None:
                if rule is not None and (rule.ndc_required or claim.payer.claim_filing == _MEDICAID):
                    why = "an unclassified drug code" if rule.ndc_required else "a drug billed to Medicaid"
                    out.append(
                        self.finding(
                            f"Line {n} ({line.code}) is {why} and has no NDC.",
                            "Enter the NDC from the vial or package, its unit and quantity.",
                            line=n,
                        )
                    )
                continue
            if problem := ndc_problem(ndc.code):
                out.append(
                    self.finding(
                        f"Line {n} ({line.code}): the NDC {problem}.",
                        "Copy the NDC from the package as 11 digits (5-4-2).",
                        line=n,
                    )
                )
            if ndc.unit not in NDC_UNITS:
                out.append(
                    self.finding(
                        f"Line {n} ({line.code}): NDC unit {ndc.unit!r} is not one of {', '.join(NDC_UNITS)}.",
                        "Use ML for liquids, UN for vials, GR, F2 or ME.",
                        line=n,
                    )
                )
            if ndc.quantity <= 0:
                out.append(
                    self.finding(
                        f"Line {n} ({line.code}): NDC quantity {ndc.quantity} must be more than zero.",
                        "Enter the quantity given in the NDC's unit.",
                        line=n,
                    )
                )
        return out


LINE_EDITS: tuple[type[Edit], ...] = (
    ExternalCauseFirst,
    DiagnosisOrder,
    FirstListedOnly,
    CombinationCode,
    PreventiveProblem25,
    DuplicateLine,
    AddressState,
    FrequencyCode,
    ModifierInvalid,
    QwMissing,
    UnitsDose,
    NdcCheck,
)
