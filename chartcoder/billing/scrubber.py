"""The claim scrubber: the edits a payer or clearinghouse would deny a professional claim for,
checked before the claim leaves.

Each edit is a small class with an `id`, a default `severity` and `check(claim, context)`, which
returns `Finding`s: a plain-English message for the biller, a fix hint, and where on the claim
(1-based diagnosis position, as the pointers count, and 1-based service line). `Scrubber` runs a
list of edits; `Scrubber.default(ncci=..., mue=...)` runs all of them.

Speed: everything a check needs about a code (validity, billable children, Excludes1 references,
manifestation, code-first references, age/sex rules) is worked out once per code and cached on the
`CodeFacts` the context holds, so a claim costs dictionary lookups, never file reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from chartcoder.billing.claim import MAX_DIAGNOSES, MAX_POINTERS, Claim, Person, Provider, split_by_diagnoses
from chartcoder.billing.edit_base import ERROR, SEVERITIES, WARNING, Edit, Finding, ScrubContext
from chartcoder.billing.line_edits import LINE_EDITS
from chartcoder.billing.ncci import MUETable, PTPEdits
from chartcoder.billing.party_edits import PARTY_EDITS
from chartcoder.codes import procedures
from chartcoder.codes.em_tables import OFFICE_CODES
from chartcoder.codes.icd10cm import ICD10CM, icd10cm, normalize_code
from chartcoder.codes.procedures import CPT_CODE, HCPCS_CODE, ProcedureCodeSet
from chartcoder.domain.errors import ResourceError

# -- ICD-10-CM code references (Excludes1 and code-first notes) ---------------------------------

_CODE = r"[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?"
# One item of a parenthesised list in a tabular note: "E08.-", "O24.4-", "N18.1-N18.6",
# "E08-E13 with .42", "B27.0-B27.9 with fifth character 1", "S06.0X- with seventh character A",
# "I69. with final characters -23".
_ITEM = re.compile(rf"^(?P<lo>{_CODE})\.?(?:-(?=\s|$))?(?:\s*-\s*(?P<hi>{_CODE})\.?(?:-(?=\s|$))?)?\s*(?P<q>.*)$")
_Q_SUFFIX = re.compile(r"^with \.([0-9A-Z]+)-?(?:\s*-\s*\.([0-9A-Z]+)-?)?$")
_Q_POSITION = re.compile(
    r"^with (5th|fifth|6th|sixth|7th|seventh)[- ]characters? \.?([0-9A-Z])$|"
    r"^with fifth to sixth characters ([0-9A-Z]{2})$"
)
_Q_FINAL = re.compile(r"^with final characters -([0-9A-Z]+)$")
_POSITIONS = {"5th": 4, "fifth": 4, "6th": 5, "sixth": 5, "7th": 6, "seventh": 6}
_PAREN = re.compile(r"\(([^()]*)\)")
_ANY_CODE = re.compile(rf"(?<![A-Za-z0-9/])({_CODE})(?![A-Za-z0-9])")


@dataclass(frozen=True)
class CodeRef:
    """A set of ICD-10-CM codes a note cites: a code or an inclusive range of codes (with their
    descendants), optionally narrowed to those with a given subcategory suffix, character at a
    position, or final characters. Codes are compared without the dot."""

    lo: str
    hi: str
    suffix_lo: str = ""  # ".42" in "E08-E13 with .42": characters after the category
    suffix_hi: str = ""
    position: int = -1  # "with fifth character 1": index 4 of the dotless code is "1"
    chars: str = ""
    final: str = ""  # "with final characters -23"
    text: str = ""  # the note the reference came from

    def matches(self, code: str) -> bool:
        c = code.replace(".", "")
        if c[: len(self.lo)] < self.lo or c[: len(self.hi)] > self.hi:
            return False
        if self.suffix_lo:
            tail = c[3:]
            if tail[: len(self.suffix_lo)] < self.suffix_lo or tail[: len(self.suffix_hi)] > self.suffix_hi:
                return False
        if self.position >= 0 and c[self.position : self.position + len(self.chars)] != self.chars:
            return False
        return not (self.final and (len(c) <= len(self.lo) or not c.endswith(self.final)))

    @property
    def label(self) -> str:
        return self.lo if self.lo == self.hi else f"{self.lo}-{self.hi}"


def _dotless(code: str) -> str:
    return code.replace(".", "")


def parse_code_refs(note: str, is_valid: Any) -> list[CodeRef]:
    """The code references in a tabular note (Excludes1, code first), ranges and qualifiers
    understood. A qualifier we do not understand drops the reference rather than guess wide."""
    refs: list[CodeRef] = []
    for group in _PAREN.findall(note):
        for item in group.split(","):
            item = " ".join(item.split())
            m = _ITEM.match(item)
            if not m:
                # "see I10 and I11" style: take each code alone, if the item has no qualifier.
                if " with" not in item:
                    refs.extend(
                        CodeRef(_dotless(c), _dotless(c), text=note) for c in _ANY_CODE.findall(item) if is_valid(c)
                    )
                continue
            lo, hi, q = m.group("lo"), m.group("hi") or m.group("lo"), m.group("q").strip()
            if not (is_valid(lo) and is_valid(hi)):
                continue
            ref = CodeRef(_dotless(lo), _dotless(hi), text=note)
            if q:
                if (s := _Q_SUFFIX.match(q)) is not None:
                    ref = CodeRef(ref.lo, ref.hi, s.group(1), s.group(2) or s.group(1), text=note)
                elif (p := _Q_POSITION.match(q)) is not None:
                    if p.group(3):
                        ref = CodeRef(ref.lo, ref.hi, position=4, chars=p.group(3), text=note)
                    else:
                        ref = CodeRef(ref.lo, ref.hi, position=_POSITIONS[p.group(1)], chars=p.group(2), text=note)
                elif (f := _Q_FINAL.match(q)) is not None:
                    ref = CodeRef(ref.lo, ref.hi, final=f.group(1), text=note)
                else:
                    continue
            refs.append(ref)
    return refs


# -- age/sex rules -------------------------------------------------------------------------------

_RANGE = re.compile(rf"^({_CODE})(?:-({_CODE}))?$")
_RULE_KEYS = {"id", "description", "codes", "sex", "age_min", "age_max", "severity", "note"}


@dataclass(frozen=True)
class AgeSexRule:
    id: str
    description: str
    ranges: tuple[tuple[str, str], ...]  # dotless, inclusive, prefix-compared
    sex: str | None = None
    age_min: int | None = None
    age_max: int | None = None
    severity: str = ERROR
    note: str = ""

    def covers(self, code: str) -> bool:
        c = _dotless(code)
        return any(lo <= c[: len(lo)] and c[: len(hi)] <= hi for lo, hi in self.ranges)

    @property
    def age_text(self) -> str:
        if self.age_max == 0:
            return "under 1 year old"
        if self.age_min is not None and self.age_max is not None:
            return f"{self.age_min} to {self.age_max} years old"
        if self.age_min is not None:
            return f"{self.age_min} years or older"
        return f"{self.age_max} years or younger"


_Bad = Callable[[str, str], ResourceError]  # (where, problem) -> the error to raise


def parse_age_sex_rules(data: Any, source: str) -> tuple[AgeSexRule, ...]:
    """Check the age/sex rule document against its schema; ResourceError names what is wrong."""

    def bad(where: str, problem: str) -> ResourceError:
        return ResourceError(f"{source}: {where}: {problem}")

    if not isinstance(data, dict):
        raise bad("top level", "expected a mapping with 'version' and 'rules'")
    unknown = set(data) - {"version", "rules"}
    if unknown:
        raise bad("top level", f"unknown key(s) {sorted(unknown)}; allowed: version, rules")
    if data.get("version") != 1:
        raise bad("version", f"expected 1, got {data.get('version')!r}")
    rules = data.get("rules")
    if not isinstance(rules, list) or not rules:
        raise bad("rules", "expected a non-empty list of rules")
    seen: set[str] = set()
    return tuple(_age_sex_rule(n, rule, seen, bad) for n, rule in enumerate(rules, start=1))


def _age_sex_rule(n: int, rule: Any, seen: set[str], bad: _Bad) -> AgeSexRule:
    """Rule number `n` of the document, checked; its id is added to `seen` (ids are unique)."""
    where = f"rule {n}"
    if not isinstance(rule, dict):
        raise bad(where, "expected a mapping")
    rid = rule.get("id")
    if not isinstance(rid, str) or not rid.strip():
        raise bad(where, "'id' is required and must be a non-empty string")
    where = f"rule {n} ({rid})"
    if rid in seen:
        raise bad(where, "duplicate id")
    seen.add(rid)
    unknown = set(rule) - _RULE_KEYS
    if unknown:
        raise bad(where, f"unknown key(s) {sorted(unknown)}; allowed: {sorted(_RULE_KEYS)}")
    ranges = _code_ranges(rule.get("codes"), where, bad)
    sex = rule.get("sex")
    if sex is not None and sex not in ("F", "M"):
        raise bad(where, f"'sex' must be F or M, got {sex!r}")
    age_min, age_max = _age_limits(rule, where, bad)
    if sex is None and age_min is None and age_max is None:
        raise bad(where, "a rule needs 'sex', 'age_min' or 'age_max'")
    severity = rule.get("severity", ERROR)
    if severity not in SEVERITIES:
        raise bad(where, f"'severity' must be error or warning, got {severity!r}")
    for key in ("description", "note"):
        if key in rule and not isinstance(rule[key], str):
            raise bad(where, f"'{key}' must be a string")
    return AgeSexRule(
        rid,
        str(rule.get("description", rid)),
        ranges,
        sex,
        age_min,
        age_max,
        severity,
        str(rule.get("note", "")).strip(),
    )


def _code_ranges(codes: Any, where: str, bad: _Bad) -> tuple[tuple[str, str], ...]:
    """A rule's 'codes' as dotless inclusive (low, high) ranges."""
    if not isinstance(codes, list) or not codes:
        raise bad(where, "'codes' must be a non-empty list of codes or ranges like 'N40-N53'")
    ranges = []
    for item in codes:
        m = _RANGE.match(str(item).strip().upper()) if isinstance(item, str) else None
        if not m:
            raise bad(where, f"code or range {item!r} is not like 'C61', 'D07.4' or 'N40-N53'")
        lo, hi = _dotless(m.group(1)), _dotless(m.group(2) or m.group(1))
        if hi[: len(lo)] < lo:
            raise bad(where, f"range {item!r} ends before it starts")
        ranges.append((lo, hi))
    return tuple(ranges)


def _age_limits(rule: dict[str, Any], where: str, bad: _Bad) -> tuple[int | None, int | None]:
    """(age_min, age_max), each a whole number of years or None, the minimum not above the maximum."""
    ages: dict[str, int | None] = {}
    for key in ("age_min", "age_max"):
        v = rule.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 130):
            raise bad(where, f"'{key}' must be a whole number of years from 0 to 130, got {v!r}")
        ages[key] = v
    age_min, age_max = ages["age_min"], ages["age_max"]
    if age_min is not None and age_max is not None and age_min > age_max:
        raise bad(where, "'age_min' is greater than 'age_max'")
    return age_min, age_max


def load_age_sex_rules(path: str | Path | None = None) -> tuple[AgeSexRule, ...]:
    """The age/sex rules: our bundled file, or another file in the same schema."""
    if path is None:
        text = resources.files("chartcoder.billing").joinpath("resources", "age_sex_rules.yaml").read_text("utf-8")
        source = "chartcoder/billing/resources/age_sex_rules.yaml"
    else:
        text, source = Path(path).read_text("utf-8"), str(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ResourceError(f"{source}: not valid YAML: {exc}") from exc
    return parse_age_sex_rules(data, source)


# -- per-code facts, cached ---------------------------------------------------------------------


@dataclass(frozen=True)
class DiagnosisFacts:
    code: str  # normalized
    valid: bool
    billable: bool = False
    description: str = ""
    manifestation: bool = False
    excludes1: tuple[CodeRef, ...] = ()
    code_first: tuple[CodeRef, ...] = ()
    billable_children: tuple[str, ...] = ()
    nearest_valid: str | None = None
    rules: tuple[AgeSexRule, ...] = ()


class CodeFacts:
    """What the edits need about each ICD-10-CM code, computed once per code."""

    def __init__(self, icd: ICD10CM, rules: Sequence[AgeSexRule]) -> None:
        self.icd = icd
        self.rules = tuple(rules)
        self._facts: dict[str, DiagnosisFacts] = {}
        self._valid: dict[str, bool] = {}

    def _is_valid(self, code: str) -> bool:
        v = self._valid.get(code)
        if v is None:
            v = self._valid[code] = self.icd.is_valid(code)
        return v

    def get(self, code: str) -> DiagnosisFacts:
        f = self._facts.get(code)
        if f is None:
            f = self._facts[code] = self._compute(code)
        return f

    def _compute(self, raw: str) -> DiagnosisFacts:
        icd = self.icd
        c = normalize_code(raw)
        if not icd.is_valid(c):
            nearest = None
            for cut in range(len(c) - 1, 2, -1):
                prefix = c[:cut].rstrip(".")
                if icd.is_valid(prefix):
                    nearest = prefix
                    break
            return DiagnosisFacts(c, False, nearest_valid=nearest)
        billable = icd.is_billable(c)
        excludes1 = tuple(r for note in icd.excludes1(c) for r in parse_code_refs(note, self._is_valid))
        code_first = tuple(r for note in icd.code_first(c) for r in parse_code_refs(note, self._is_valid))
        return DiagnosisFacts(
            c,
            True,
            billable,
            icd.description(c),
            icd.is_manifestation(c),
            excludes1,
            code_first,
            () if billable else tuple(icd.billable_descendants(c)),
            None,
            tuple(r for r in self.rules if r.covers(c)),
        )


# -- procedure codes -----------------------------------------------------------------------------

EM_OFFICE = OFFICE_CODES  # the office/outpatient visits, from chartcoder.codes.em_tables


# Surgery-section codes that are specimen collection, not procedures with a global period.
_NOT_PROCEDURES = ((36400, 36425), (36591, 36592))


def is_procedure(code: str) -> bool:
    """A procedure for the modifier-25 rule: the CPT surgery section (10004-69990, the codes with a
    global period) less venipuncture and other blood collection, and therapeutic/diagnostic
    injections and infusions (96360-96379)."""
    if not code.isdigit() or len(code) != 5:
        return False
    n = int(code)
    if any(lo <= n <= hi for lo, hi in _NOT_PROCEDURES):
        return False
    return 10004 <= n <= 69990 or 96360 <= n <= 96379


def _valid_diagnoses(claim: Claim, context: ScrubContext) -> list[tuple[int, DiagnosisFacts]]:
    out = []
    for i, d in enumerate(claim.diagnoses, start=1):
        f = context.facts.get(d.code)
        if f.valid:
            out.append((i, f))
    return out


def _age(person: Person, on: date) -> int:
    b = person.birth_date
    return on.year - b.year - ((on.month, on.day) < (b.month, b.day))


def _claim_date(claim: Claim) -> date | None:
    return min((line.service_date for line in claim.lines), default=None)


def _list(codes: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(codes[:limit])
    return shown + (f" and {len(codes) - limit} more" if len(codes) > limit else "")


# -- the edits -----------------------------------------------------------------------------------


class IcdInvalid(Edit):
    id = "ICD_INVALID"
    title = "Diagnosis code does not exist in ICD-10-CM"

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        out = []
        for i, d in enumerate(claim.diagnoses, start=1):
            f = context.facts.get(d.code)
            if f.valid:
                continue
            fix = "Check the code against the chart and the ICD-10-CM tabular list."
            suggestions: tuple[str, ...] = ()
            if f.nearest_valid:
                near = context.facts.get(f.nearest_valid)
                fix = f"The nearest valid code is {near.code} ({near.description})."
                suggestions = (near.code,) if near.billable else near.billable_children
                if suggestions and not near.billable:
                    fix += f" Billable codes under it: {_list(suggestions)}."
            out.append(
                Finding(
                    self.id,
                    self.severity,
                    f"Diagnosis {i}, {d.code}, is not a valid {context.facts.icd.release.split(' (')[0]} code.",
                    fix,
                    diagnosis=i,
                    suggestions=suggestions,
                )
            )
        return out


class IcdNotBillable(Edit):
    id = "ICD_NOT_BILLABLE"
    title = "Diagnosis code is a header, not a billable code"

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        out = []
        for i, f in _valid_diagnoses(claim, context):
            if f.billable:
                continue
            children = f.billable_children
            out.append(
                Finding(
                    self.id,
                    self.severity,
                    f"Diagnosis {i}, {f.code} ({f.description}), is a category header; only its most specific "
                    "codes can be billed.",
                    f"Pick the billable code the documentation supports: {_list(children)}.",
                    diagnosis=i,
                    suggestions=children,
                )
            )
        return out


class Excludes1Conflict(Edit):
    id = "EXCLUDES1"
    title = "Two diagnoses that ICD-10-CM says are never coded together"

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        out = []
        diags = _valid_diagnoses(claim, context)
        for a in range(len(diags)):
            for b in range(a + 1, len(diags)):
                (i, fa), (j, fb) = diags[a], diags[b]
                if fa.code == fb.code:
                    continue
                ref = next((r for r in fa.excludes1 if r.matches(fb.code)), None)
                owner, other = fa, fb
                if ref is None:
                    ref = next((r for r in fb.excludes1 if r.matches(fa.code)), None)
                    owner, other = fb, fa
                if ref is None:
                    continue
                out.append(
                    Finding(
                        self.id,
                        self.severity,
                        f"Diagnoses {i} ({fa.code}) and {j} ({fb.code}) cannot be billed together: "
                        f'{owner.code} has an Excludes1 note for {other.code} ("{ref.text}").',
                        f"Keep the one code the documentation supports and remove the other ({fa.code} or {fb.code}).",
                        diagnosis=j,
                        suggestions=(fa.code, fb.code),
                    )
                )
        return out


class AgeConflict(Edit):
    id = "AGE_CONFLICT"
    title = "Diagnosis does not fit the patient's age"

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        day = _claim_date(claim)
        if day is None:
            return []
        patient = claim.the_patient
        age = _age(patient, day)
        out = []
        for i, f in _valid_diagnoses(claim, context):
            for rule in f.rules:
                if rule.age_min is None and rule.age_max is None:
                    continue
                if (rule.age_min is not None and age < rule.age_min) or (
                    rule.age_max is not None and age > rule.age_max
                ):
                    fix = f"Check the patient's birth date ({patient.birth_date.isoformat()}) and the code."
                    if rule.note:
                        fix += " " + rule.note
                    out.append(
                        Finding(
                            self.id,
                            rule.severity,
                            f"Diagnosis {i}, {f.code}, is for {rule.description}, which applies to patients "
                            f"{rule.age_text}; the patient is {age} on {day.isoformat()}.",
                            fix,
                            diagnosis=i,
                        )
                    )
                    break
        return out


class SexConflict(Edit):
    id = "SEX_CONFLICT"
    title = "Diagnosis does not fit the patient's sex"

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        patient = claim.the_patient
        if patient.sex not in ("F", "M"):
            return []
        out = []
        for i, f in _valid_diagnoses(claim, context):
            rule = next((r for r in f.rules if r.sex and r.sex != patient.sex), None)
            if rule is None:
                continue
            word = {"F": "female", "M": "male"}
            assert rule.sex is not None
            out.append(
                Finding(
                    self.id,
                    rule.severity,
                    f"Diagnosis {i}, {f.code}, is for {rule.description}, billed for {word[rule.sex]} patients "
                    f"only; the patient is recorded as {word[patient.sex]}.",
                    "Check the patient's recorded sex and the code.",
                    diagnosis=i,
                )
            )
        return out


class ManifestationFirst(Edit):
    id = "MANIFESTATION_FIRST"
    title = "A manifestation code, or a code whose underlying condition is on the claim, is listed first"

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        if not claim.diagnoses:
            return []
        first = context.facts.get(claim.diagnoses[0].code)
        if not first.valid:
            return []
        if first.manifestation:
            return [
                Finding(
                    self.id,
                    self.severity,
                    f"The first-listed diagnosis, {first.code} ({first.description}), is a manifestation code; "
                    "ICD-10-CM never lets it be listed first.",
                    "List the underlying condition first and this code after it.",
                    diagnosis=1,
                )
            ]
        for j, f in _valid_diagnoses(claim, context):
            if j == 1:
                continue
            ref = next((r for r in first.code_first if r.matches(f.code)), None)
            if ref is not None:
                return [
                    Finding(
                        self.id,
                        self.severity,
                        f'The first-listed diagnosis, {first.code}, has a "code first" note for {f.code} '
                        f"(diagnosis {j}), which is on the claim but listed after it.",
                        f"Move {f.code} ahead of {first.code}.",
                        diagnosis=1,
                    )
                ]
        return []


class NcciPtp(Edit):
    id = "NCCI_PTP"
    title = "Procedure pair that NCCI does not pay together"

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        ptp = context.ncci
        if ptp is None or len(claim.lines) < 2:
            return []
        out = []
        lines = [(n, line) for n, line in enumerate(claim.lines, start=1) if line.code.upper() in ptp]
        for n1, l1 in lines:
            for n2, l2 in lines:
                if n1 == n2 or l1.service_date != l2.service_date:
                    continue
                edit = ptp.lookup(l1.code.upper(), l2.code.upper(), l1.service_date)
                em_line = l1.code in EM_OFFICE or l2.code in EM_OFFICE
                if edit is None or edit.bypassed_by(l2.modifiers, l1.modifiers, em_line=em_line):
                    continue
                if edit.modifier_indicator == "0":
                    fix = f"Remove line {n2} ({l2.code}); no modifier allows this pair (modifier indicator 0)."
                else:
                    fix = (
                        f"If {l2.code} was a separate service (different site, session or encounter), add the "
                        f"NCCI modifier that says so (59, XE, XS, XP or XU; or an anatomic modifier) to line {n2}; "
                        "otherwise remove it."
                    )
                why = f" ({edit.rationale})" if edit.rationale else ""
                out.append(
                    Finding(
                        self.id,
                        self.severity,
                        f"Line {n2} ({l2.code}) is a column 2 code of line {n1} ({l1.code}) in the NCCI "
                        f"procedure-to-procedure edits{why}: it is not paid with it on the same day.",
                        fix,
                        line=n2,
                    )
                )
        return out


class MueUnits(Edit):
    id = "MUE_UNITS"
    title = "More units than the medically unlikely edit allows"

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        mue = context.mue
        if mue is None:
            return []
        out = []
        per_day: dict[tuple[str, date], list[tuple[int, Decimal]]] = {}
        for n, line in enumerate(claim.lines, start=1):
            edit = mue.get(line.code.upper())
            if edit is None:
                continue
            if edit.per_day:
                per_day.setdefault((edit.code, line.service_date), []).append((n, line.units))
            elif line.units > edit.value:
                out.append(
                    Finding(
                        self.id,
                        self.severity,
                        f"Line {n} bills {line.units} units of {line.code}; the MUE allows {edit.value} per line.",
                        "Reduce the units, or if more were truly given, split them over lines with the modifier "
                        "that explains it (76, 77, 91, RT/LT or an anatomic modifier).",
                        line=n,
                    )
                )
        for (code, day), rows in per_day.items():
            edit = mue.get(code)
            assert edit is not None
            total = sum((u for _, u in rows), Decimal(0))
            if total <= edit.value:
                continue
            kind = "policy; no more is ever paid" if edit.indicator == 2 else "clinical; appeal needs records"
            out.append(
                Finding(
                    self.id,
                    self.severity,
                    f"{code} is billed for {total} units on {day.isoformat()}; the MUE allows {edit.value} per day "
                    f"({kind}).",
                    f"Bill at most {edit.value} units of {code} for that day.",
                    line=rows[-1][0],
                )
            )
        return out


class Modifier25Missing(Edit):
    id = "MODIFIER_25_MISSING"
    title = "Office visit billed with a same-day procedure, without modifier 25"

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        out = []
        proc_days: dict[date, str] = {}
        for line in claim.lines:
            if is_procedure(line.code):
                proc_days.setdefault(line.service_date, line.code)
        if not proc_days:
            return []
        for n, line in enumerate(claim.lines, start=1):
            if line.code in EM_OFFICE and line.service_date in proc_days and "25" not in line.modifiers:
                out.append(
                    Finding(
                        self.id,
                        self.severity,
                        f"Line {n} is an office visit ({line.code}) on the same day as procedure "
                        f"{proc_days[line.service_date]}, without modifier 25; the visit will be bundled "
                        "into the procedure.",
                        "If the note documents a significant, separately identifiable visit, add modifier 25 "
                        "to the visit line; otherwise remove the visit line.",
                        line=n,
                    )
                )
        return out


class PointerIntegrity(Edit):
    id = "POINTER_INTEGRITY"
    title = "Service line diagnosis pointers"

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        out = []
        n_diag = len(claim.diagnoses)
        if n_diag == 0:
            return [self.finding("The claim has no diagnoses.", "Add the diagnoses the services treat.")]
        used: set[int] = set()
        for n, line in enumerate(claim.lines, start=1):
            ptrs = line.pointers
            if not ptrs:
                out.append(
                    self.finding(
                        f"Line {n} ({line.code}) points to no diagnosis.",
                        "Point the line to the diagnosis (1 to 4 of them) that justifies it.",
                        line=n,
                    )
                )
                continue
            if len(ptrs) > MAX_POINTERS:
                out.append(
                    self.finding(
                        f"Line {n} ({line.code}) has {len(ptrs)} diagnosis pointers; at most {MAX_POINTERS} fit.",
                        "Keep the four diagnoses that best justify the service, most important first.",
                        line=n,
                    )
                )
            if len(set(ptrs)) != len(ptrs):
                out.append(
                    self.finding(
                        f"Line {n} ({line.code}) points to the same diagnosis twice ({', '.join(map(str, ptrs))}).",
                        "Remove the repeated pointer.",
                        line=n,
                    )
                )
            bad = [p for p in ptrs if not 1 <= p <= n_diag]
            if bad:
                out.append(
                    self.finding(
                        f"Line {n} ({line.code}) points to diagnosis {', '.join(map(str, bad))}, but the claim has "
                        f"{n_diag} diagnos{'is' if n_diag == 1 else 'es'}.",
                        f"Point only to diagnoses 1 to {n_diag}.",
                        line=n,
                    )
                )
            used.update(p for p in ptrs if 1 <= p <= n_diag)
        for i, d in enumerate(claim.diagnoses, start=1):
            if i not in used and claim.lines:
                out.append(
                    self.finding(
                        f"Diagnosis {i} ({d.code}) is not pointed to by any service line.",
                        "Point the service it supports to it, or drop it if nothing on the claim treats it.",
                        severity=WARNING,
                        diagnosis=i,
                    )
                )
        return out


def npi_valid(npi: str) -> bool:
    """10 digits whose last is the Luhn check digit of the other nine with the 80840 prefix."""
    if len(npi) != 10 or not npi.isdigit():
        return False
    digits = "80840" + npi[:9]
    total = 0
    for k, ch in enumerate(reversed(digits)):
        d = int(ch)
        if k % 2 == 0:  # the rightmost digit of the payload is doubled
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10 == int(npi[9])


class NpiCheckDigit(Edit):
    id = "NPI_CHECK_DIGIT"
    title = "Provider NPI fails its check digit"

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        out = []
        providers: list[tuple[str, Provider | None]] = [
            ("billing", claim.billing_provider),
            ("rendering", claim.rendering_provider),
        ]
        for role, p in providers:
            if p is None or npi_valid(p.npi):
                continue
            shape = "is not 10 digits" if not (len(p.npi) == 10 and p.npi.isdigit()) else "fails the check digit"
            out.append(
                self.finding(
                    f"The {role} provider's NPI, {p.npi!r}, {shape}.",
                    "Copy the NPI again from the NPPES registry (npiregistry.cms.hhs.gov); a typo is the usual cause.",
                )
            )
        return out


class DateImpossible(Edit):
    id = "DATE_IMPOSSIBLE"
    title = "Service dates that cannot be right"

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        out = []
        today = context.today
        people = [("patient", claim.the_patient)]
        if claim.patient is not None:
            people.append(("subscriber", claim.subscriber))
        for role, person in people:
            if person.birth_date > today:
                out.append(
                    self.finding(
                        f"The {role}'s birth date, {person.birth_date.isoformat()}, is in the future.",
                        "Correct the birth date.",
                    )
                )
        birth = claim.the_patient.birth_date
        for n, line in enumerate(claim.lines, start=1):
            d = line.service_date
            if d > today:
                out.append(
                    self.finding(
                        f"Line {n} ({line.code}) has a service date in the future ({d.isoformat()}).",
                        "Bill services after they are given; correct the date.",
                        line=n,
                    )
                )
            elif d < birth:
                out.append(
                    self.finding(
                        f"Line {n} ({line.code}) is dated {d.isoformat()}, before the patient was born "
                        f"({birth.isoformat()}).",
                        "Correct the service date or the patient's birth date.",
                        line=n,
                    )
                )
            elif today - d > context.stale_after:
                out.append(
                    self.finding(
                        f"Line {n} ({line.code}) is dated {d.isoformat()}, more than a year ago; most payers "
                        "deny claims past their timely filing limit.",
                        "Check the date, and the payer's filing limit before sending.",
                        severity=WARNING,
                        line=n,
                    )
                )
        return out


class Totals(Edit):
    id = "TOTALS"
    title = "Charges and units"

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        out = []
        if not claim.lines:
            return [self.finding("The claim has no service lines.", "Add the services given.")]
        for n, line in enumerate(claim.lines, start=1):
            if line.charge <= 0:
                out.append(
                    self.finding(
                        f"Line {n} ({line.code}) has a charge of {line.charge}; every line needs a positive charge.",
                        "Enter the charge from the fee schedule.",
                        line=n,
                    )
                )
            if line.units <= 0:
                out.append(
                    self.finding(
                        f"Line {n} ({line.code}) has {line.units} units; units must be more than zero.",
                        "Enter the units given (1 for most services).",
                        line=n,
                    )
                )
        stated = claim.extra.get("total_charge")
        if stated is not None:
            try:
                ok = Decimal(stated) == claim.total_charge
            except ArithmeticError:
                ok = False
            if not ok:
                out.append(
                    self.finding(
                        f"The claim total, {stated}, is not the sum of its lines ({claim.total_charge}).",
                        "Correct the total or the line charges.",
                    )
                )
        return out


class TooManyDiagnoses(Edit):
    id = "TOO_MANY_DIAGNOSES"
    severity = WARNING
    title = "More diagnoses than one professional claim holds"

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        n = len(claim.diagnoses)
        if n <= MAX_DIAGNOSES:
            return []
        parts = split_by_diagnoses(claim)
        kept = {d.code for part in parts for d in part.diagnoses}
        left = [d.code for d in claim.diagnoses if d.code not in kept]
        message = (
            f"The claim has {n} diagnoses; the 837P and the CMS-1500 hold {MAX_DIAGNOSES} per claim, so it goes "
            f"out as {len(parts)} claims ({', '.join(p.claim_id for p in parts)}), each with the lines that "
            "point to its diagnoses. The FHIR Claim carries all of them."
        )
        if left:
            message += f" No claim has room for {_list(left)}, which no line points to: they are not sent."
        return [
            self.finding(
                message,
                f"Keep the {MAX_DIAGNOSES} that the services point to and that matter most if the payer wants one "
                "claim; otherwise send the parts.",
                diagnosis=MAX_DIAGNOSES + 1,
            )
        ]


class CptUnknown(Edit):
    id = "CPT_UNKNOWN"
    title = "Procedure code unknown"

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        out = []
        for n, line in enumerate(claim.lines, start=1):
            code = line.code.strip().upper()
            system = "HCPCS" if line.system.upper() == "HCPCS" else "CPT"
            codes, pattern = (context.hcpcs, HCPCS_CODE) if system == "HCPCS" else (context.cpt, CPT_CODE)
            if code in codes:
                continue
            if not pattern.match(code):
                shape = "5 digits (or 4 digits and F, T or U)" if system == "CPT" else "a letter A-V and 4 digits"
                out.append(
                    self.finding(
                        f"Line {n}: {line.code!r} is not a {system} code; a {system} code is {shape}.",
                        "Correct the procedure code (and the line's code system, CPT or HCPCS).",
                        line=n,
                    )
                )
            elif system == "CPT" and not context.cpt_licensed:
                out.append(
                    self.finding(
                        f"Line {n}: CPT {code} is not in chartcoder's built-in demo set, so it cannot be checked.",
                        "Load the practice's licensed CPT file (CHARTCODER_CPT_FILE) to check every CPT code.",
                        severity=WARNING,
                        line=n,
                    )
                )
            else:
                out.append(
                    self.finding(
                        f"Line {n}: {system} {code} is not in the loaded {system} code set.",
                        "Check the code against the current code set; it may be new, deleted or mistyped.",
                        line=n,
                    )
                )
        return out


DEFAULT_EDITS: tuple[type[Edit], ...] = (
    IcdInvalid,
    IcdNotBillable,
    Excludes1Conflict,
    AgeConflict,
    SexConflict,
    ManifestationFirst,
    NcciPtp,
    MueUnits,
    Modifier25Missing,
    PointerIntegrity,
    NpiCheckDigit,
    DateImpossible,
    Totals,
    TooManyDiagnoses,
    CptUnknown,
    *LINE_EDITS,
    *PARTY_EDITS,
)
EDIT_IDS = tuple(e.id for e in DEFAULT_EDITS)
# The edits about the first-listed diagnosis, run again on each part of a split claim.
FIRST_LISTED_EDITS = frozenset({"EXTERNAL_CAUSE_FIRST", "MANIFESTATION_FIRST"})


@dataclass
class ScrubResult:
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]

    @property
    def clean(self) -> bool:
        return not self.errors

    @property
    def edit_ids(self) -> set[str]:
        return {f.edit for f in self.findings}


_QUOTED = re.compile(r":?\s*'[^']*'|:?\s*\"[^\"]*\"")


def _x12_writable(claim: Claim) -> list[Finding]:
    """X12_WRITABLE: what the 837P writer refuses that no edit above explains (a name with no
    letters left after folding to ASCII, a delimiter inside an id, a 5-digit billing ZIP, ...). Run
    only on claims without other errors; the message names the field, never its value (PHI)."""
    from chartcoder.billing.x12 import write_837p

    try:
        write_837p(claim, created=datetime(2000, 1, 1))
    except ValueError as exc:
        problem = _QUOTED.sub("", str(exc)).strip()
        return [
            Finding(
                "X12_WRITABLE",
                ERROR,
                f"The claim cannot be written as an 837P: {problem}.",
                "Correct it in the encounter (patient, payer, provider) or the practice settings, then build again.",
            )
        ]
    return []


class Scrubber:
    """Runs a list of edits over claims. Build once (it loads the code sets and rules), reuse."""

    def __init__(
        self,
        edits: Iterable[Edit],
        *,
        icd: ICD10CM | None = None,
        cpt: ProcedureCodeSet | None = None,
        hcpcs: ProcedureCodeSet | None = None,
        ncci: PTPEdits | None = None,
        mue: MUETable | None = None,
        age_sex_rules: Sequence[AgeSexRule] | None = None,
        today: date | None = None,
    ) -> None:
        self.edits = list(edits)
        cpt_set = cpt if cpt is not None else procedures.cpt()
        self.context = ScrubContext(
            today=today or date.today(),
            facts=CodeFacts(icd or icd10cm(), age_sex_rules if age_sex_rules is not None else load_age_sex_rules()),
            cpt=cpt_set,
            hcpcs=hcpcs if hcpcs is not None else procedures.hcpcs(),
            ncci=ncci,
            mue=mue,
            cpt_licensed=any(not c.source.startswith(("built-in", "chartcoder/codes/data/")) for c in cpt_set),
        )
        self._fixed_today = today is not None

    @classmethod
    def default(
        cls,
        ncci: PTPEdits | None = None,
        mue: MUETable | None = None,
        *,
        edits: Iterable[str] | None = None,
        **kwargs: Any,
    ) -> Scrubber:
        """Every edit (or those named in `edits`, by id). Without NCCI/MUE tables those two edits find
        nothing: load the CMS files with chartcoder.billing.ncci.load_ptp / load_mue."""
        wanted = set(edits) if edits is not None else None
        if wanted is not None and (unknown := wanted - set(EDIT_IDS)):
            raise ValueError(f"unknown edit id(s) {sorted(unknown)}; known: {', '.join(EDIT_IDS)}")
        chosen = [e() for e in DEFAULT_EDITS if wanted is None or e.id in wanted]
        return cls(chosen, ncci=ncci, mue=mue, **kwargs)

    def scrub(self, claim: Claim) -> ScrubResult:
        if not self._fixed_today:
            self.context.today = date.today()
        findings: list[Finding] = []
        for edit in self.edits:
            findings.extend(edit.check(claim, self.context))
        findings.extend(self._split_part_findings(claim))
        if not any(f.severity == ERROR for f in findings):
            findings.extend(_x12_writable(claim))
        return ScrubResult(findings)

    def _split_part_findings(self, claim: Claim) -> list[Finding]:
        """The first-listed edits (FIRST_LISTED_EDITS) on each part of a claim with more than
        MAX_DIAGNOSES diagnoses: every part goes out as its own claim with its own first-listed
        diagnosis, which may not be the whole claim's (a later part may start with a fall code).
        A part led by the claim's own first diagnosis is left to the whole-claim check. Diagnosis
        numbers are the whole claim's."""
        if len(claim.diagnoses) <= MAX_DIAGNOSES:
            return []
        edits = [e for e in self.edits if e.id in FIRST_LISTED_EDITS]
        out = []
        for k, part in enumerate(split_by_diagnoses(claim), start=1):
            if not part.diagnoses or part.diagnoses[0] == claim.diagnoses[0]:
                continue
            for edit in edits:
                for f in edit.check(part, self.context):
                    at = claim.diagnoses.index(part.diagnoses[f.diagnosis - 1]) + 1 if f.diagnosis else None
                    out.append(
                        replace(
                            f,
                            message=f"Claim {part.claim_id} (part {k} of the split claim): {f.message}",
                            fix=f"{f.fix} Or point that part's lines at a diagnosis that may lead, or drop "
                            f"diagnoses so the claim fits in one ({MAX_DIAGNOSES} at most).",
                            diagnosis=at,
                        )
                    )
        return out

    def check(self, claim: Claim) -> list[Finding]:
        return self.scrub(claim).findings
