"""Who a claim is about and who pays it, read from the encounter: the patient, the subscriber of
each plan and the patient's relationship to them, the payer billed and the other plan (a secondary
claim's primary, or a primary claim's secondary), the referring provider, a correction of an earlier
claim, and an auto accident.

The encounter's fields (all but `payer` optional; see docs/billing.md):

    "payer": {"id": "60054", "member_id": "W123", "group_number": "G77", "relationship": "child",
              "subscriber": {"name": "Maria Lopez", "birth_date": "1980-02-03", "sex": "F"},
              "paid_amount": "80.00"},
    "secondary_payer": {... the same shape ...},
    "claim_to": "primary" | "secondary",
    "referring_provider": {"name": "Ana Rivera", "npi": "1245319599"},
    "correction": {"frequency": "7", "payer_claim_number": "2026123400001"},
    "accident_state": "IL"
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from chartcoder.billing.claim import Address, OtherCoverage, Payer, Person, Provider
from chartcoder.billing.line_rules import sequencing_rules
from chartcoder.billing.names import split_name

# The patient's relationship to the subscriber (X12 individual relationship codes, PAT01/SBR02),
# by code or by the word a coder types.
RELATIONSHIPS = {
    "18": "18", "self": "18",
    "01": "01", "spouse": "01",
    "19": "19", "child": "19",
    "20": "20", "employee": "20",
    "21": "21", "unknown": "21",
    "39": "39", "organ donor": "39",
    "40": "40", "cadaver donor": "40",
    "53": "53", "life partner": "53",
    "G8": "G8", "other": "G8",
}  # fmt: skip
CORRECTIONS = {"7": "replacement", "8": "void"}


class PayerLookup(Protocol):
    def find(self, payer_id: Any, name: Any) -> Payer | None: ...


@dataclass(frozen=True)
class Coverage:
    """One plan as the encounter gives it."""

    payer: Payer
    subscriber: Person  # with the plan's member id
    relationship: str  # the patient's relationship to the subscriber
    group_number: str | None = None
    paid_amount: Decimal | None = None


@dataclass(frozen=True)
class Parties:
    payer: Payer
    subscriber: Person
    patient: Person | None  # None: the patient is the subscriber
    relationship: str
    other_coverage: OtherCoverage | None = None
    referring_provider: Provider | None = None
    frequency: str = "1"
    extra: dict[str, str] = field(default_factory=dict)


def read_person(data: Mapping[str, Any], what: str, problems: list[str], address: Address | None = None) -> Person:
    """A person from `{"name", "birth_date", "sex", "address"}`; "John Smith Jr" gives the suffix JR."""
    last, first, suffix = split_name(data.get("name"))
    born = _date(data.get("birth_date"))
    if not (last and first):
        problems.append(f"missing {what}.name (First Last)")
    if born is None:
        problems.append(f"missing {what}.birth_date")
    if data.get("sex") not in ("F", "M", "U"):
        problems.append(f"missing {what}.sex")
    own = data.get("address")
    return Person(
        last_name=last,
        first_name=first,
        birth_date=born or date.min,
        sex=str(data.get("sex") or "U"),
        address=_address(own) if own else address,
        suffix=suffix,
    )


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _address(data: Mapping[str, Any]) -> Address:
    return Address(str(data["line1"]), str(data["city"]), str(data["state"]), str(data["zip"]), data.get("line2"))


def _coverage(
    data: Mapping[str, Any], patient: Person, payers: PayerLookup, what: str, problems: list[str]
) -> Coverage:
    """One plan: the payer from the payer table (an unlisted one is kept, marked `listed=False`, for
    the scrubber's PAYER_UNKNOWN: never silently filed as commercial), the subscriber (the patient
    unless `relationship` says otherwise) with the member id."""
    found = payers.find(data.get("id"), data.get("name"))
    if found is None:
        payer_id = str(data.get("id") or "").strip()
        found = Payer(name=str(data.get("name") or payer_id), payer_id=payer_id, claim_filing="ZZ", listed=False)
    relationship = RELATIONSHIPS.get(str(data.get("relationship") or "self").strip().lower()) or RELATIONSHIPS.get(
        str(data.get("relationship")).strip().upper()
    )
    if relationship is None:
        problems.append(f"{what}.relationship {data.get('relationship')!r} is not one of {', '.join(RELATIONSHIPS)}")
        relationship = "18"
    member_id = str(data.get("member_id") or "") or None
    if not member_id:
        problems.append(f"missing {what}.member_id")
    if relationship == "18":
        subscriber = replace(patient, member_id=member_id)
    elif not isinstance(data.get("subscriber"), Mapping):
        problems.append(f"{what}.subscriber (name, birth_date, sex) is needed when the patient is not the subscriber")
        subscriber = replace(patient, member_id=member_id)
    else:
        subscriber = replace(
            read_person(data["subscriber"], f"{what}.subscriber", problems, patient.address), member_id=member_id
        )
    return Coverage(
        payer=found,
        subscriber=subscriber,
        relationship=relationship,
        group_number=str(data["group_number"]) if data.get("group_number") else None,
        paid_amount=_money(data.get("paid_amount"), f"{what}.paid_amount", problems),
    )


def _money(value: Any, what: str, problems: list[str]) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        amount = Decimal(-1)
    if not amount.is_finite() or amount < 0:
        problems.append(f"{what} {value!r} is not an amount of money")
        return None
    return amount.quantize(Decimal("0.01"))


def read_parties(encounter: Mapping[str, Any], patient: Person, payers: PayerLookup, problems: list[str]) -> Parties:
    """The claim's parties from the encounter; what cannot be read goes to `problems`."""
    primary = _coverage(encounter.get("payer") or {}, patient, payers, "payer", problems)
    second_in = encounter.get("secondary_payer")
    secondary = _coverage(second_in, patient, payers, "secondary_payer", problems) if second_in else None
    claim_to = str(encounter.get("claim_to") or "primary")
    if claim_to not in ("primary", "secondary") or (claim_to == "secondary" and secondary is None):
        problems.append("claim_to must be primary or secondary (secondary needs a secondary_payer)")
        claim_to = "primary"
    billed, other = (secondary, primary) if claim_to == "secondary" and secondary else (primary, secondary)
    assert billed is not None
    billed_payer = replace(billed.payer, responsibility="S" if claim_to == "secondary" else "P")
    other_coverage = None
    if other is not None:
        other_coverage = OtherCoverage(
            payer=replace(other.payer, responsibility="P" if claim_to == "secondary" else "S"),
            subscriber=other.subscriber,
            relationship=other.relationship,
            group_number=other.group_number,
            paid_amount=other.paid_amount if claim_to == "secondary" else None,
        )
    extra = {"group_number": billed.group_number} if billed.group_number else {}
    frequency = _correction(encounter.get("correction"), extra, problems)
    return Parties(
        payer=billed_payer,
        subscriber=billed.subscriber,
        patient=None if billed.relationship == "18" else patient,
        relationship=billed.relationship,
        other_coverage=other_coverage,
        referring_provider=_referring(encounter.get("referring_provider"), problems),
        frequency=frequency,
        extra=extra,
    )


def _correction(data: Any, extra: dict[str, str], problems: list[str]) -> str:
    """The claim frequency: 1, or 7 (replacement) / 8 (void) of a claim the payer has, which needs
    the payer's claim number (REF*F8): refused without it."""
    if not data:
        return "1"
    frequency = str(data.get("frequency", "")) if isinstance(data, Mapping) else ""
    if frequency not in CORRECTIONS:
        problems.append("correction.frequency must be 7 (replacement) or 8 (void)")
        return "1"
    number = str(data.get("payer_claim_number") or "").strip()
    if not number:
        problems.append(
            f"a {CORRECTIONS[frequency]} (frequency {frequency}) needs correction.payer_claim_number, the payer's "
            "claim control number of the claim it changes (from the remittance advice); without it the payer "
            "cannot match it"
        )
    else:
        extra["original_reference"] = number
    return frequency


def _referring(data: Any, problems: list[str]) -> Provider | None:
    if not data:
        return None
    if not isinstance(data, Mapping) or not data.get("npi") or not data.get("name"):
        problems.append("referring_provider needs name and npi")
        return None
    last, first, _ = split_name(str(data["name"]))
    return Provider(npi=str(data["npi"]), last_name=last, first_name=first or None, organization=False)


def accident_extra(
    diagnoses: list[str], encounter: Mapping[str, Any], is_auto: Callable[[str], bool] | None = None
) -> dict[str, str]:
    """`auto_accident` (CMS-1500 10b) when a diagnosis is an auto-accident external cause code,
    with `auto_accident_state` (10b's state, 837P CLM11-4) when the encounter gives `accident_state`."""
    covers = is_auto or sequencing_rules().auto_accident.covers
    if not any(covers(code) for code in diagnoses):
        return {}
    state = str(encounter.get("accident_state") or "").strip().upper()
    return {"auto_accident": "Y", **({"auto_accident_state": state} if state else {})}
