"""From a finalized encounter to a claim: practice settings and a fee schedule give the provider,
submitter and charges; the coder's accepted codes give the diagnoses (sequenced by the code-first
conventions) and the service lines (each pointing at the diagnoses its evidence supports, modifier
25 on an E/M that is separately documented beside a same-day procedure)."""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from chartcoder.billing.claim import (
    Address,
    Claim,
    Diagnosis,
    Dose,
    Ndc,
    Payer,
    Provider,
    ServiceLine,
)
from chartcoder.billing.line_rules import DOSE_UNITS, sequencing_rules, unit_rules
from chartcoder.billing.names import split_name
from chartcoder.billing.parties import accident_extra, read_parties, read_person
from chartcoder.billing.scrubber import EM_OFFICE, is_procedure
from chartcoder.codes.icd10cm import icd10cm
from chartcoder.domain.code_systems import PROCEDURE_SYSTEMS, CodeSystem
from chartcoder.domain.errors import InvalidInputError, ResourceError

RESOURCES = Path(__file__).with_name("resources")
CODED = ("accepted", "added")
NEAR = 300  # characters: evidence this close to a procedure's evidence supports it


class AssemblyError(InvalidInputError):
    """The encounter or the practice data lacks what a claim needs; the message lists all of it."""


@dataclass(frozen=True)
class Practice:
    billing_provider: Provider
    rendering_provider: Provider | None = None
    submitter_name: str = "CHARTCODER"
    submitter_id: str = "CHARTCODER"
    receiver_name: str = ""
    receiver_id: str = ""
    place_of_service: str = "11"
    payers: Mapping[str, Payer] = field(default_factory=dict)


@dataclass(frozen=True)
class FeeSchedule:
    """Charges per code (and per code + modifier where the practice prices them apart)."""

    fees: Mapping[tuple[str, str], Decimal]
    source: str = ""

    def charge(self, code: str, modifiers: Sequence[str] = ()) -> Decimal | None:
        for m in modifiers:
            if (code, m) in self.fees:
                return self.fees[(code, m)]
        return self.fees.get((code, ""))


def _address(data: Mapping[str, Any] | None) -> Address | None:
    if not data:
        return None
    return Address(
        line1=str(data["line1"]),
        city=str(data["city"]),
        state=str(data["state"]),
        zip=str(data["zip"]),
        line2=data.get("line2"),
    )


def _provider(data: Mapping[str, Any], organization: bool) -> Provider:
    return Provider(
        npi=str(data["npi"]),
        name=data.get("name"),
        last_name=data.get("last_name"),
        first_name=data.get("first_name"),
        taxonomy=data.get("taxonomy"),
        tax_id=str(data["tax_id"]) if data.get("tax_id") else None,
        address=_address(data.get("address")),
        organization=organization,
        contact_name=data.get("contact_name"),
        contact_phone=str(data["contact_phone"]) if data.get("contact_phone") else None,
    )


def load_practice(path: str | Path | None = None) -> Practice:
    """Practice settings from YAML (`resources/practice.sample.yaml` when no path is given)."""
    source = Path(path) if path else RESOURCES / "practice.sample.yaml"
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
        bp = data["billing_provider"]
        rp = data.get("rendering_provider")
        payers = {
            str(k): Payer(
                name=str(v["name"]),
                payer_id=str(v.get("payer_id", k)),
                claim_filing=str(v.get("claim_filing", "CI")),
            )
            for k, v in (data.get("payers") or {}).items()
        }
        return Practice(
            billing_provider=_provider(bp, organization=True),
            rendering_provider=_provider(rp, organization=False) if rp else None,
            submitter_name=str(data.get("submitter", {}).get("name", "CHARTCODER")),
            submitter_id=str(data.get("submitter", {}).get("id", "CHARTCODER")),
            receiver_name=str(data.get("receiver", {}).get("name", "")),
            receiver_id=str(data.get("receiver", {}).get("id", "")),
            place_of_service=str(data.get("place_of_service", "11")),
            payers=payers,
        )
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        raise ResourceError(
            f"{source}: not a practice file ({type(exc).__name__}: {exc}); expected billing_provider with "
            "name, npi, taxonomy, tax_id, address {line1, city, state, zip}, contact_name, contact_phone"
        ) from None


@dataclass(frozen=True)
class PayerTable:
    """The payers a claim may go to, by payer id: the payer table's rows, then the practice file's
    payers for ids the table lacks."""

    payers: Mapping[str, Payer]
    source: str = ""

    def find(self, payer_id: Any, name: Any) -> Payer | None:
        """The payer with that id, else the one with that name (case-insensitive), else None."""
        if payer_id and str(payer_id) in self.payers:
            return self.payers[str(payer_id)]
        wanted = str(name or "").strip().lower()
        return next((p for p in self.payers.values() if wanted and p.name.lower() == wanted), None)


def load_payers(path: str | Path | None, practice: Practice) -> PayerTable:
    """The payer table (CSV `payer_id,name,claim_filing`), with the practice file's payers as the
    default for ids it does not list. Without a file: the practice file's payers alone."""
    payers: dict[str, Payer] = dict(practice.payers)
    if not path:
        return PayerTable(payers, "the practice file")
    source = Path(path)
    try:
        with source.open(encoding="utf-8", newline="") as fh:
            for n, row in enumerate(csv.DictReader(fh), start=2):
                payer_id = (row.get("payer_id") or "").strip()
                if not payer_id or payer_id.startswith("#"):
                    continue
                filing = (row.get("claim_filing") or "").strip().upper()
                name = (row.get("name") or "").strip()
                if not name or not re.fullmatch(r"[0-9A-Z]{2}", filing):
                    raise ResourceError(f"{source}, line {n}: a payer needs a name and a two-character claim_filing")
                payers[payer_id] = Payer(name=name, payer_id=payer_id, claim_filing=filing)
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        raise ResourceError(
            f"{source}: cannot read the payer table ({exc}); expected CSV payer_id,name,claim_filing"
        ) from None
    return PayerTable(payers, f"{source} and the practice file")


def load_fee_schedule(path: str | Path | None = None) -> FeeSchedule:
    """A CSV the practice maintains: `code,modifier,charge[,note]` (modifier may be empty)."""
    source = Path(path) if path else RESOURCES / "fee_schedule.sample.csv"
    fees: dict[tuple[str, str], Decimal] = {}
    try:
        with source.open(encoding="utf-8", newline="") as fh:
            for n, row in enumerate(csv.DictReader(fh), start=2):
                code = (row.get("code") or "").strip().upper()
                if not code or code.startswith("#"):
                    continue
                try:
                    charge = Decimal((row.get("charge") or "").strip())
                except InvalidOperation:
                    raise ResourceError(f"{source}, line {n}: charge {row.get('charge')!r} is not a number") from None
                if charge < 0:
                    raise ResourceError(f"{source}, line {n}: charge {charge} is negative")
                fees[(code, (row.get("modifier") or "").strip().upper())] = charge.quantize(Decimal("0.01"))
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        raise ResourceError(
            f"{source}: cannot read the fee schedule ({exc}); expected CSV code,modifier,charge"
        ) from None
    return FeeSchedule(fees, str(source))


def _date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _spans(suggestion: Mapping[str, Any] | None) -> list[tuple[int, int]]:
    return [(int(e["start"]), int(e["end"])) for e in (suggestion or {}).get("evidence", [])]


def _distance(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> int | None:
    if not a or not b:
        return None
    return min(max(0, max(s1, s2) - min(e1, e2)) for s1, e1 in a for s2, e2 in b)


def sequence_diagnoses(codes: Sequence[str]) -> list[str]:
    """Coder's order, then the conventions (see `sequence_with_notes`)."""
    return sequence_with_notes(codes)[0]


def sequence_with_notes(codes: Sequence[str]) -> tuple[list[str], list[str]]:
    """For an encounter without an explicit diagnosis order: the codes' order, then the conventions
    - a code whose "code first" note names another code on the claim goes after it, a manifestation
    code is never first-listed, an external cause code (V00-Y99) is never first-listed - with one
    note per move, so the change is said (the scrubber's DIAGNOSIS_ORDER warning), never silent."""
    icd = icd10cm()
    order = list(dict.fromkeys(codes))
    notes: list[str] = []
    for _ in range(len(order)):  # a few passes settle any chain of code-first notes
        moved = False
        for code in list(order):
            firsts = [o for o in order if o != code and _named_in(o, _code_first_text(code))]
            for first in firsts:
                if order.index(first) > order.index(code):
                    order.remove(first)
                    order.insert(order.index(code), first)
                    notes.append(f"{first} before {code} (the code-first note of {code})")
                    moved = True
        if not moved:
            break
    never_first = [ranges for ranges, _ in sequencing_rules().never_first]
    checks = (
        (lambda c: icd.is_valid(c) and icd.is_manifestation(c), "a manifestation code is never first-listed"),
        (lambda c: any(r.covers(c) for r in never_first), "an external cause code is never first-listed"),
    )
    for unfit, why in checks:
        if order and unfit(order[0]):
            lead = next((c for c in order if not any(u(c) for u, _ in checks)), None)
            if lead is not None:
                notes.append(f"{lead} first instead of {order[0]} ({why})")
                order.remove(lead)
                order.insert(0, lead)
    return order, notes


def _code_first_text(code: str) -> str:
    icd = icd10cm()
    return " ".join(icd.code_first(code)) if icd.is_valid(code) else ""


def _named_in(code: str, notes: str) -> bool:
    """Whether `code` (or its category or a parent) is named in code-first note text."""
    if not notes:
        return False
    named = set(re.findall(r"[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?", notes))
    return any(code == n or code.startswith(n.rstrip("-")) for n in named)


@dataclass(frozen=True)
class LineInput:
    """What the coder set on one CPT/HCPCS code of the encounter (its entry in `codes`). Every field
    but the code is optional; `modifiers` None means "not set" (the assembler may add 25), an empty
    tuple means "none"."""

    code: str
    system: str
    modifiers: tuple[str, ...] | None = None
    units: Decimal | None = None
    service_date: date | None = None
    pointers: tuple[int, ...] = ()  # 1-based, resolved from the diagnosis codes the coder named
    ndc: Ndc | None = None
    dose: Dose | None = None


def read_line_input(
    entry: Mapping[str, Any],
    dx_codes: Sequence[str],
    problems: list[str],
    coder_codes: Sequence[str] | None = None,
) -> LineInput:
    """A code entry as a LineInput. `"20610-LT"` is read as code 20610 with modifier LT (and merged
    with `modifiers`, a list or one string such as `"LT"` or `"LT,59"`); pointers name diagnosis
    codes (`["M17.12"]`) or 1-based positions in the coder's own list of diagnoses (`coder_codes`,
    the order the coder gave them in, before any re-sorting; `dx_codes` when not given). What cannot
    be read is added to `problems`, naming the code."""
    code, *inline = str(entry["code"]).strip().upper().split("-")
    what = f"{entry['code']}"
    listed = _modifier_list(entry.get("modifiers"), what, problems)
    modifiers = None
    if inline or listed is not None:
        modifiers = tuple(dict.fromkeys([*inline, *(listed or ())]))
    units = _decimal(entry.get("units"), f"{what} units", problems)
    if units is not None and units <= 0:
        problems.append(f"{what} units must be more than zero")
    when = entry.get("service_date")
    service_date = _date(when)
    if when and service_date is None:
        problems.append(f"{what} service_date {when!r} is not YYYY-MM-DD")
    return LineInput(
        code=code,
        system=str(entry["system"]),
        modifiers=modifiers,
        units=units,
        service_date=service_date,
        pointers=_pointers(entry.get("pointers") or (), dx_codes, coder_codes or dx_codes, what, problems),
        ndc=_ndc(entry.get("ndc"), what, problems),
        dose=_dose(entry.get("dose"), what, problems),
    )


def _decimal(value: Any, what: str, problems: list[str]) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        problems.append(f"{what} {value!r} is not a number")
        return None
    return number


def _modifier_list(raw: Any, what: str, problems: list[str]) -> list[str] | None:
    """The `modifiers` of a code entry: a list, or one string holding one modifier or several
    separated by commas, hyphens or spaces (`"LT"`, `"LT,59"`); None when not set."""
    if raw is None:
        return None
    if isinstance(raw, str):
        return [m for m in re.split(r"[\s,\-]+", raw.strip().upper()) if m]
    if not isinstance(raw, Sequence):
        problems.append(f"{what} modifiers must be a list of modifiers or one string such as 'LT'")
        return None
    return [str(m).strip().upper() for m in raw]


def _pointers(
    raw: Sequence[Any], dx_codes: Sequence[str], coder_codes: Sequence[str], what: str, problems: list[str]
) -> tuple[int, ...]:
    """Pointers into the claim's diagnoses (`dx_codes`, in claim order). A number is a position in
    the coder's own list (`coder_codes`), so it follows the diagnosis when the conventions re-sort."""
    out = []
    for p in raw:
        if isinstance(p, int) and not isinstance(p, bool):
            named = coder_codes[p - 1] if 1 <= p <= len(coder_codes) else None
            out.append(dx_codes.index(named) + 1 if named in dx_codes else p)
        elif str(p).strip().upper() in dx_codes:
            out.append(dx_codes.index(str(p).strip().upper()) + 1)
        else:
            problems.append(f"{what} points at {p!r}, which is not a diagnosis on the claim")
    return tuple(out)


def _ndc(raw: Any, what: str, problems: list[str]) -> Ndc | None:
    if not raw:
        return None
    if not isinstance(raw, Mapping) or not raw.get("code"):
        problems.append(f"{what} ndc must be an object with code, unit and quantity")
        return None
    quantity = _decimal(raw.get("quantity", 1), f"{what} ndc quantity", problems)
    return Ndc(str(raw["code"]).strip(), str(raw.get("unit") or "UN").strip().upper(), quantity or Decimal(0))


def _dose(raw: Any, what: str, problems: list[str]) -> Dose | None:
    if not raw:
        return None
    if not isinstance(raw, Mapping) or raw.get("unit") not in DOSE_UNITS:
        problems.append(f"{what} dose must be an object with amount and unit ({', '.join(DOSE_UNITS)})")
        return None
    amount = _decimal(raw.get("amount"), f"{what} dose amount", problems)
    if amount is None or amount <= 0:
        if amount is not None or raw.get("amount") in (None, ""):
            problems.append(f"{what} dose amount must be a number more than zero")
        return None
    return Dose(amount, str(raw["unit"]))


def _accepted_diagnoses(codes: Sequence[Mapping[str, Any]]) -> list[str]:
    """The accepted and added ICD-10-CM codes in the order the coder coded them."""
    return list(dict.fromkeys(str(c["code"]).strip().upper() for c in codes if c["system"] == CodeSystem.ICD10CM))


def _diagnosis_order(
    encounter: Mapping[str, Any], codes: Sequence[Mapping[str, Any]], problems: list[str]
) -> tuple[list[str], list[str]]:
    """(the diagnoses in claim order, notes on what was moved). With the coder's `diagnosis_order`
    the order is exactly that (codes it leaves out follow in their own order) and nothing is moved:
    the scrubber says what breaks a convention. Without it, the conventions order the codes and
    each move is noted (`sequence_with_notes`)."""
    accepted = _accepted_diagnoses(codes)
    given = encounter.get("diagnosis_order")
    if given is None:
        return sequence_with_notes(accepted)
    wanted = [str(c).strip().upper() for c in given]
    strays = [c for c in wanted if c not in accepted]
    if strays:
        problems.append(f"diagnosis_order names {', '.join(strays)}, not an accepted or added diagnosis")
    ordered = list(dict.fromkeys(c for c in wanted if c in accepted))
    return ordered + [c for c in accepted if c not in ordered], []


def assemble(
    encounter: Mapping[str, Any],
    practice: Practice,
    fees: FeeSchedule,
    *,
    claim_id: str | None = None,
    payers: PayerTable | None = None,
) -> Claim:
    """The claim for a finalized encounter (the shape GET /v1/encounters/{id} answers). Payers are
    looked up in `payers` (default: the practice file's)."""
    try:
        table = payers or PayerTable(practice.payers, "the practice file")
        return _assemble(encounter, practice, fees, claim_id, table)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        if isinstance(exc, AssemblyError):
            raise
        raise AssemblyError(
            f"not an encounter in the shape GET /v1/encounters/ID answers ({type(exc).__name__} at {exc!s:.60})"
        ) from None


def _assemble(
    encounter: Mapping[str, Any], practice: Practice, fees: FeeSchedule, claim_id: str | None, payers: PayerTable
) -> Claim:
    problems: list[str] = []
    if encounter.get("setting") == "inpatient":
        problems.append(
            "inpatient professional claims (place of service 21) need the facility and admission date, "
            "which encounters do not carry yet; bill inpatient visits from the EHR's own claim for now"
        )
    if encounter.get("status") != "finalized":
        problems.append("the encounter is not finalized; finalize it before billing")
    codes = [c for c in encounter.get("codes", []) if c.get("state") in CODED]
    suggestions = {(s["system"], s["code"]): s for s in (encounter.get("suggestion_set") or {}).get("suggestions", [])}
    dx_codes, order_notes = _diagnosis_order(encounter, codes, problems)
    # numeric pointers count in the coder's list: their diagnosis_order, else the order they coded in
    coder_codes = dx_codes if encounter.get("diagnosis_order") is not None else _accepted_diagnoses(codes)
    procs = [read_line_input(c, dx_codes, problems, coder_codes) for c in codes if c["system"] in PROCEDURE_SYSTEMS]
    if not dx_codes:
        problems.append("no ICD-10-CM diagnosis is accepted or added")
    if not procs:
        problems.append("no CPT or HCPCS service is accepted or added; a claim bills at least one service")

    patient_in = encounter.get("patient") or {}
    payer_in = encounter.get("payer") or {}
    dos = _date(encounter.get("date_of_service"))
    patient = read_person(patient_in, "patient", problems)
    problems.extend(
        f"missing {what}"
        for ok, what in (
            (dos, "date_of_service"),
            (payer_in.get("id") or payer_in.get("name"), "payer.id (the payer's id, or its name)"),
            (patient_in.get("address"), "patient.address"),
        )
        if not ok
    )
    parties = read_parties(encounter, patient, payers, problems)
    missing_fees = sorted({c.code for c in procs if fees.charge(c.code, c.modifiers or ()) is None})
    if missing_fees:
        problems.append(f"no fee for {', '.join(missing_fees)} in the fee schedule ({fees.source})")
    if problems:
        raise AssemblyError("cannot build a claim: " + "; ".join(problems) + ".")
    assert dos is not None

    diagnoses = [Diagnosis(code, icd10cm().description(code) if icd10cm().is_valid(code) else "") for code in dx_codes]
    lines = _service_lines(procs, dx_codes, suggestions, str(encounter.get("text") or ""), dos, fees)
    payer = parties.payer
    extra = {**parties.extra, **accident_extra(dx_codes, encounter)}
    if order_notes:
        extra["resequenced"] = "; ".join(order_notes)
    return Claim(
        claim_id=claim_id or _claim_id(str(encounter["id"])),
        billing_provider=practice.billing_provider,
        subscriber=parties.subscriber,
        payer=payer,
        diagnoses=diagnoses,
        lines=lines,
        place_of_service=practice.place_of_service,
        frequency=parties.frequency,
        rendering_provider=_rendering_provider(practice, encounter.get("provider") or {}),
        patient=parties.patient,
        relationship=parties.relationship,
        submitter_name=practice.submitter_name,
        submitter_id=practice.submitter_id,
        receiver_name=practice.receiver_name or payer.name,
        receiver_id=practice.receiver_id or payer.payer_id,
        encounter_id=str(encounter["id"]),
        extra=extra,
        other_coverage=parties.other_coverage,
        referring_provider=parties.referring_provider,
    )


def _service_lines(
    procs: list[LineInput],
    dx_codes: list[str],
    suggestions: Mapping[tuple[str, str], Mapping[str, Any]],
    text: str,
    dos: date,
    fees: FeeSchedule,
) -> list[ServiceLine]:
    """The lines, E/M first. What the coder set on a code (modifiers, units, date, pointers, NDC,
    dose) is used as given; what is not set is worked out: pointers from the evidence, modifier 25
    on a separately identifiable visit, a drug's units from its dose, one unit otherwise."""
    dx_spans = [_spans(suggestions.get((CodeSystem.ICD10CM, code))) for code in dx_codes]
    em = [c for c in procs if c.code in EM_OFFICE]
    others = [c for c in procs if c.code not in EM_OFFICE]
    lines: list[ServiceLine] = []
    pointed: set[int] = set()
    for c in others:  # procedures first: their pointers decide whether the E/M is separate
        pointers = c.pointers or _supporting(_spans(suggestions.get((c.system, c.code))), dx_spans, text)
        if is_procedure(c.code):
            pointed.update(pointers)
        lines.append(_line(c, dos, pointers, fees, c.modifiers or ()))
    for c in em:
        pointers = c.pointers or tuple(range(1, min(4, len(dx_codes)) + 1))
        modifiers = c.modifiers
        if modifiers is None:
            # Modifier 25: an E/M beside a same-day procedure is separately identifiable when it
            # addresses a diagnosis no procedure line points to.
            separate = any(is_procedure(o.code) for o in others) and any(p not in pointed for p in pointers)
            modifiers = ("25",) if separate else ()
        lines.insert(0, _line(c, dos, pointers, fees, modifiers))
    return lines


def _rendering_provider(practice: Practice, provider_in: Mapping[str, Any]) -> Provider | None:
    """The encounter's clinician when it names an NPI, else the practice's default clinician."""
    if not provider_in.get("npi"):
        return practice.rendering_provider
    r_last, r_first, _ = split_name(provider_in.get("name"))
    return Provider(
        npi=str(provider_in["npi"]),
        last_name=r_last or None,
        first_name=r_first or None,
        organization=False,
        taxonomy=None,  # the practice's default clinician's taxonomy is not this clinician's
    )


def _supporting(spans: list[tuple[int, int]], dx_spans: list[list[tuple[int, int]]], text: str) -> tuple[int, ...]:
    """Pointers for a procedure: the diagnoses named in the same sentence as its evidence ("ECG for
    palpitations"), else the nearest one within NEAR characters, else the principal diagnosis."""
    same = [i + 1 for i, ds in enumerate(dx_spans) if any(_one_sentence(text, a, b) for a in spans for b in ds)]
    if same:
        return tuple(same[:4])
    near = sorted((d, i) for i, ds in enumerate(dx_spans) if (d := _distance(spans, ds)) is not None and d <= NEAR)
    return (near[0][1] + 1,) if near else (1,)


def _one_sentence(text: str, a: tuple[int, int], b: tuple[int, int]) -> bool:
    lo, hi = min(a[1], b[1]), max(a[0], b[0])
    between = text[lo:hi] if lo < hi else ""
    return not re.search(r"[.;\n]", between)


def _line(
    c: LineInput, dos: date, pointers: tuple[int, ...], fees: FeeSchedule, modifiers: tuple[str, ...]
) -> ServiceLine:
    units = c.units
    rule = unit_rules().drugs.get(c.code)
    if units is None and c.dose is not None and rule is not None:
        units = rule.units_for(c.dose)  # J3301 is per 10 mg: 40 mg is 4 units
    units = units if units is not None else Decimal(1)
    fee = fees.charge(c.code, modifiers)
    assert fee is not None
    return ServiceLine(
        code=c.code,
        charge=(fee * units).quantize(Decimal("0.01")),
        service_date=c.service_date or dos,
        units=units,
        modifiers=modifiers,
        pointers=pointers,
        system=c.system,
        ndc=c.ndc,
        dose=c.dose,
    )


def _claim_id(encounter_id: str) -> str:
    """A patient control number from the encounter id: at most 20 characters, letters and digits."""
    return re.sub(r"[^A-Za-z0-9]", "", encounter_id).upper()[-20:]
