"""The professional claim as typed data: what the assembler builds, the scrubber checks and the
writers (837P, FHIR Claim, CMS-1500) turn into files. Plain dataclasses with no behaviour beyond
small derived values, so every part can be built and tested on its own."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

MAX_DIAGNOSES = 12
MAX_POINTERS = 4
MAX_MODIFIERS = 4


@dataclass(frozen=True)
class Address:
    line1: str
    city: str
    state: str  # two-letter USPS code
    zip: str  # 5 or 9 digits (the billing provider needs 9 in the 837P)
    line2: str | None = None


@dataclass(frozen=True)
class Provider:
    """Billing or rendering provider. `organization` providers carry `name`; people carry
    `last_name` and `first_name`."""

    npi: str
    name: str | None = None
    last_name: str | None = None
    first_name: str | None = None
    taxonomy: str | None = None  # NUCC provider taxonomy, e.g. 207Q00000X (family medicine)
    tax_id: str | None = None  # EIN, 9 digits (billing provider)
    address: Address | None = None
    organization: bool = True
    contact_name: str | None = None
    contact_phone: str | None = None  # 10 digits


@dataclass(frozen=True)
class Person:
    """Patient or subscriber."""

    last_name: str
    first_name: str
    birth_date: date
    sex: str  # F | M | U
    member_id: str | None = None  # the payer's id for the subscriber
    address: Address | None = None
    suffix: str | None = None  # JR, SR, II, III...: NM107, never part of the last name


@dataclass(frozen=True)
class Payer:
    name: str
    payer_id: str  # the clearinghouse/payer id
    claim_filing: str = "CI"  # SBR09: CI commercial, MB Medicare Part B, MC Medicaid, ...
    responsibility: str = "P"  # SBR01: P primary, S secondary, T tertiary
    listed: bool = True  # False: found in neither the payer table nor the practice file (PAYER_UNKNOWN)


@dataclass(frozen=True)
class OtherCoverage:
    """Another plan that covers the patient (837P 2320/2330A/2330B, CMS-1500 items 9-9d and 11d):
    on a secondary claim, the primary plan and what it paid."""

    payer: Payer  # its `responsibility` is that plan's order (P on a secondary claim)
    subscriber: Person  # the other plan's subscriber, with the member id there
    relationship: str = "18"  # the patient's relationship to that subscriber (SBR02 in 2320)
    group_number: str | None = None
    paid_amount: Decimal | None = None  # what that payer paid on this claim (AMT*D)


@dataclass(frozen=True)
class Diagnosis:
    code: str  # ICD-10-CM as the code set writes it, with the dot (E11.22); writers drop it where needed
    description: str = ""


NDC_UNITS = ("F2", "GR", "ME", "ML", "UN")  # international unit, gram, milligram, milliliter, unit (each)


@dataclass(frozen=True)
class Ndc:
    """The National Drug Code of what was given on a drug line: 11 digits in the 5-4-2 billing form
    (`00003029305`), the unit of measure (one of NDC_UNITS) and the quantity in that unit."""

    code: str
    unit: str = "UN"
    quantity: Decimal = Decimal(1)


@dataclass(frozen=True)
class Dose:
    """How much of a drug was given, as the note says it (`40 mg`); the scrubber turns it into
    billing units with the code's unit rule (J3301 is billed per 10 mg: 40 mg is 4 units)."""

    amount: Decimal
    unit: str  # mg | mcg | g | mL | units


@dataclass(frozen=True)
class ServiceLine:
    code: str  # CPT or HCPCS
    charge: Decimal
    service_date: date
    units: Decimal = Decimal(1)
    modifiers: tuple[str, ...] = ()  # up to MAX_MODIFIERS, in billing order
    pointers: tuple[int, ...] = (1,)  # 1-based indexes into Claim.diagnoses, 1-4 of them
    system: str = "CPT"  # CPT | HCPCS
    description: str = ""
    place_of_service: str | None = None  # only when it differs from the claim's
    ndc: Ndc | None = None  # drug lines: the NDC, its unit and quantity (837P LIN/CTP, CMS-1500 24 shaded)
    dose: Dose | None = None  # drug lines: the dose given, for the units-versus-dose edit


@dataclass
class Claim:
    """One professional claim (one patient, one payer, one billing provider)."""

    claim_id: str  # the patient control number (CLM01), unique per claim
    billing_provider: Provider
    subscriber: Person
    payer: Payer
    diagnoses: list[Diagnosis]
    lines: list[ServiceLine]
    place_of_service: str = "11"  # office
    frequency: str = "1"  # 1 original, 7 replacement, 8 void
    rendering_provider: Provider | None = None
    patient: Person | None = None  # None: the patient is the subscriber
    relationship: str = "18"  # patient's relationship to the subscriber (18 self)
    submitter_name: str = "CHARTCODER"
    submitter_id: str = "CHARTCODER"
    receiver_name: str = ""
    receiver_id: str = ""
    encounter_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    other_coverage: OtherCoverage | None = None  # a secondary claim: the primary plan
    referring_provider: Provider | None = None  # 837P 2310A, CMS-1500 item 17

    @property
    def total_charge(self) -> Decimal:
        return sum((line.charge for line in self.lines), Decimal(0))

    @property
    def the_patient(self) -> Person:
        return self.patient or self.subscriber

    @property
    def service_dates(self) -> tuple[date, date]:
        dates = [line.service_date for line in self.lines]
        return min(dates), max(dates)


# Where a replacement (frequency 7) or void (8) keeps the payer's number of the claim it refers to.
ORIGINAL_REFERENCE_KEYS = ("original_reference", "payer_claim_control_number", "original_claim_id")


def original_reference(claim: Claim) -> str:
    """The payer's claim number of the claim a replacement (7) or void (8) refers to, or ''."""
    for key in ORIGINAL_REFERENCE_KEYS:
        value = claim.extra.get(key, "").strip()
        if value:
            return value
    return ""


def claim_to_dict(claim: Claim) -> dict[str, Any]:
    """JSON-ready: dates as ISO strings, money and units as decimal strings (no float rounding)."""

    def conv(value: Any) -> Any:
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, dict):
            return {k: conv(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [conv(v) for v in value]
        return value

    out = conv(asdict(claim))
    out["total_charge"] = str(claim.total_charge)
    return out  # type: ignore[no-any-return]


def claim_from_dict(data: dict[str, Any]) -> Claim:
    """The inverse of claim_to_dict."""

    def address(d: dict[str, Any] | None) -> Address | None:
        return Address(**d) if d else None

    def provider(d: dict[str, Any] | None) -> Provider | None:
        return Provider(**{**d, "address": address(d.get("address"))}) if d else None

    def person(d: dict[str, Any] | None) -> Person | None:
        if not d:
            return None
        return Person(**{**d, "birth_date": date.fromisoformat(d["birth_date"]), "address": address(d.get("address"))})

    def line_from(d: dict[str, Any]) -> ServiceLine:
        ndc, dose = d.get("ndc"), d.get("dose")
        return ServiceLine(
            **{
                **d,
                "charge": Decimal(d["charge"]),
                "units": Decimal(d["units"]),
                "service_date": date.fromisoformat(d["service_date"]),
                "modifiers": tuple(d["modifiers"]),
                "pointers": tuple(d["pointers"]),
                "ndc": Ndc(ndc["code"], ndc["unit"], Decimal(ndc["quantity"])) if ndc else None,
                "dose": Dose(Decimal(dose["amount"]), dose["unit"]) if dose else None,
            }
        )

    def other(d: dict[str, Any] | None) -> OtherCoverage | None:
        if not d:
            return None
        paid = d.get("paid_amount")
        other_subscriber = person(d["subscriber"])
        assert other_subscriber is not None
        return OtherCoverage(
            payer=Payer(**d["payer"]),
            subscriber=other_subscriber,
            relationship=d.get("relationship", "18"),
            group_number=d.get("group_number"),
            paid_amount=Decimal(paid) if paid is not None else None,
        )

    billing = provider(data["billing_provider"])
    subscriber = person(data["subscriber"])
    assert billing is not None and subscriber is not None
    return Claim(
        claim_id=data["claim_id"],
        billing_provider=billing,
        subscriber=subscriber,
        payer=Payer(**data["payer"]),
        diagnoses=[Diagnosis(**d) for d in data["diagnoses"]],
        lines=[line_from(line) for line in data["lines"]],
        place_of_service=data["place_of_service"],
        frequency=data["frequency"],
        rendering_provider=provider(data.get("rendering_provider")),
        patient=person(data.get("patient")),
        relationship=data["relationship"],
        submitter_name=data["submitter_name"],
        submitter_id=data["submitter_id"],
        receiver_name=data["receiver_name"],
        receiver_id=data["receiver_id"],
        encounter_id=data.get("encounter_id"),
        extra=dict(data.get("extra") or {}),
        other_coverage=other(data.get("other_coverage")),
        referring_provider=provider(data.get("referring_provider")),
    )


def split_by_diagnoses(claim: Claim) -> list[Claim]:
    """A claim with more than MAX_DIAGNOSES diagnoses as several claims of at most MAX_DIAGNOSES
    each (the 837P's HI segment and the CMS-1500's item 21 hold twelve): lines are kept in order
    and a new claim starts when a line's diagnoses no longer fit; each part keeps the coder's
    relative order of diagnoses and its pointers are renumbered. A diagnosis no line points to goes
    on the first part with room. Parts after the first get `-2`, `-3`... on the claim id. A claim
    with twelve or fewer comes back alone, unchanged."""
    if len(claim.diagnoses) <= MAX_DIAGNOSES:
        return [claim]
    groups: list[tuple[list[ServiceLine], set[int]]] = []
    for line in claim.lines:
        wanted = set(line.pointers)
        if not groups or len(groups[-1][1] | wanted) > MAX_DIAGNOSES:
            groups.append(([], set()))
        groups[-1][0].append(line)
        groups[-1][1].update(wanted)
    pointed = set().union(*(g[1] for g in groups))
    for i in range(1, len(claim.diagnoses) + 1):
        if i not in pointed:
            room = next((g for g in groups if len(g[1]) < MAX_DIAGNOSES), None)
            if room is not None:
                room[1].add(i)
    parts = []
    for k, (lines, used) in enumerate(groups, start=1):
        order = sorted(p for p in used if 1 <= p <= len(claim.diagnoses))
        renumber = {old: new for new, old in enumerate(order, start=1)}
        parts.append(
            replace(
                claim,
                claim_id=claim.claim_id if k == 1 else f"{claim.claim_id[:17]}-{k}",
                diagnoses=[claim.diagnoses[p - 1] for p in order],
                lines=[replace(x, pointers=tuple(renumber.get(p, p) for p in x.pointers)) for x in lines],
            )
        )
    return parts
