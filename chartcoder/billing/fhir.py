"""The claim as a FHIR R4B `Claim` resource (through `fhir.resources.R4B`, which validates on
construction).

Self-contained: the patient, the subscriber (when someone else), the billing provider, the rendering
provider, the payer and the coverage travel as contained resources referenced by `#id`, so the
resource stands alone without a FHIR server. Diagnoses keep the dot (`E11.22`, as the ICD-10-CM code
system writes them); service lines carry the CPT/HCPCS code number and the description already in
the claim object, never an AMA descriptor; a drug line's NDC is the item's `detail` (NDC system,
quantity in the NDC unit). More than twelve diagnoses are carried as they are: FHIR has no limit.

A claim that lacks something a FHIR Claim (or any payer) needs raises `FhirClaimError` listing every
problem; it never produces a resource with holes.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fhir.resources.R4B.address import Address as FhirAddress
from fhir.resources.R4B.claim import Claim as FhirClaim
from fhir.resources.R4B.claim import (
    ClaimCareTeam,
    ClaimDiagnosis,
    ClaimInsurance,
    ClaimItem,
    ClaimItemDetail,
    ClaimRelated,
)
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.contactpoint import ContactPoint
from fhir.resources.R4B.coverage import Coverage
from fhir.resources.R4B.humanname import HumanName
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.money import Money
from fhir.resources.R4B.organization import Organization, OrganizationContact
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.period import Period
from fhir.resources.R4B.practitioner import Practitioner, PractitionerQualification
from fhir.resources.R4B.quantity import Quantity
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

from chartcoder.billing.claim import (
    MAX_POINTERS,
    Address,
    Claim,
    Ndc,
    Person,
    Provider,
    ServiceLine,
    original_reference,
)
from chartcoder.domain.code_systems import PROCEDURE_SYSTEMS, CodeSystem

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"  # HL7 terminology's canonical URI
NDC = "http://hl7.org/fhir/sid/ndc"
NPI = "http://hl7.org/fhir/sid/us-npi"
EIN = "urn:oid:2.16.840.1.113883.4.4"  # US IRS employer identification number
POS = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
NUCC_TAXONOMY = "http://nucc.org/provider-taxonomy"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
DIAGNOSIS_TYPE = "http://terminology.hl7.org/CodeSystem/ex-diagnosistype"
PROCESS_PRIORITY = "http://terminology.hl7.org/CodeSystem/processpriority"
CARE_TEAM_ROLE = "http://terminology.hl7.org/CodeSystem/claimcareteamrole"
SUBSCRIBER_RELATIONSHIP = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
RELATED_CLAIM_RELATIONSHIP = "http://terminology.hl7.org/CodeSystem/related-claim-relationship"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
# Identifiers that have no public system of their own: chartcoder's namespaces.
PATIENT_CONTROL_NUMBER = "urn:chartcoder:patient-control-number"
PAYER_ID = "urn:chartcoder:payer-id"
MEMBER_ID = "urn:chartcoder:member-id"
ORIGINAL_CLAIM = "urn:chartcoder:payer-claim-control-number"

# X12 individual relationship codes (SBR02/PAT01) -> FHIR subscriber-relationship
_RELATIONSHIP = {"18": "self", "01": "spouse", "19": "child", "53": "common"}
_GENDER = {"F": "female", "M": "male", "U": "unknown"}
_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
# Keys of Claim.extra that may hold the payer's claim number of the claim being replaced or voided.


class FhirClaimError(ValueError):
    """The claim cannot become a valid FHIR Claim; `problems` lists why, one line each."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("cannot build a FHIR Claim: " + "; ".join(problems))


def _problems(claim: Claim) -> list[str]:
    out = _party_problems(claim)
    if not claim.diagnoses:
        out.append("claim has no diagnoses")
    if not claim.lines:
        out.append("claim has no service lines (Claim.item, billablePeriod and total need them)")
    for n, line in enumerate(claim.lines, start=1):
        out.extend(_line_problems(n, line, len(claim.diagnoses)))
    return out


def _party_problems(claim: Claim) -> list[str]:
    """What the claim lacks about its providers, payer, subscriber and patient."""
    out: list[str] = []
    if not claim.claim_id.strip():
        out.append("claim_id (patient control number) is empty")
    if not claim.billing_provider.npi.strip():
        out.append("billing provider has no NPI")
    if not _provider_name(claim.billing_provider):
        out.append("billing provider has no name")
    if claim.rendering_provider is not None and not claim.rendering_provider.npi.strip():
        out.append("rendering provider has no NPI")
    if not claim.payer.name.strip():
        out.append("payer has no name")
    if not (claim.subscriber.member_id or "").strip():
        out.append("subscriber has no member id (Coverage.subscriberId)")
    for role, person in (("patient", claim.the_patient), ("subscriber", claim.subscriber)):
        if not person.last_name.strip():
            out.append(f"{role} has no last name")
    return out


def _line_problems(n: int, line: ServiceLine, n_diagnoses: int) -> list[str]:
    out: list[str] = []
    if not line.code.strip():
        out.append(f"line {n} has no procedure code")
    if line.units <= 0:
        out.append(f"line {n} has units {line.units}, must be positive")
    if line.charge < 0:
        out.append(f"line {n} has a negative charge")
    if not line.pointers:
        out.append(f"line {n} points at no diagnosis")
    if len(line.pointers) > MAX_POINTERS:
        out.append(f"line {n} has {len(line.pointers)} diagnosis pointers, at most {MAX_POINTERS}")
    bad = [p for p in line.pointers if not 1 <= p <= n_diagnoses]
    if bad:
        out.append(f"line {n} points at diagnoses {bad} the claim does not have")
    if line.system not in PROCEDURE_SYSTEMS:
        out.append(f"line {n} has code system {line.system!r}, expected CPT or HCPCS")
    return out


def _provider_name(p: Provider) -> str:
    if p.name:
        return p.name.strip()
    return " ".join(part for part in (p.first_name, p.last_name) if part).strip()


def _address(a: Address | None) -> list[FhirAddress] | None:
    if a is None:
        return None
    lines = [a.line1] + ([a.line2] if a.line2 else [])
    zip_code = f"{a.zip[:5]}-{a.zip[5:]}" if len(a.zip) == 9 else a.zip
    return [FhirAddress(line=lines, city=a.city, state=a.state, postalCode=zip_code, country="US")]


def _member_identifier(member_id: str, payer_id: str) -> Identifier:
    """The payer's member id, in a namespace of that payer (member ids are only unique per payer)."""
    return Identifier(
        type=CodeableConcept(coding=[Coding(system=IDENTIFIER_TYPE, code="MB", display="Member Number")]),
        system=f"{MEMBER_ID}:{payer_id}" if payer_id else MEMBER_ID,
        value=member_id,
    )


def _patient(person: Person, rid: str, payer_id: str) -> Patient:
    identifiers = [_member_identifier(person.member_id, payer_id)] if person.member_id else None
    return Patient(
        id=rid,
        identifier=identifiers,
        name=[HumanName(family=person.last_name, given=[person.first_name] if person.first_name else None)],
        gender=_GENDER.get(person.sex.upper(), "unknown"),
        birthDate=person.birth_date,
        address=_address(person.address),
    )


def _provider_identifiers(p: Provider) -> list[Identifier]:
    ids = [Identifier(system=NPI, value=p.npi)]
    if p.tax_id:
        ids.append(
            Identifier(
                type=CodeableConcept(coding=[Coding(system=IDENTIFIER_TYPE, code="TAX", display="Tax ID number")]),
                system=EIN,
                value=p.tax_id,
            )
        )
    return ids


def _provider_resource(p: Provider, rid: str) -> Organization | Practitioner:
    telecom = [ContactPoint(system="phone", value=p.contact_phone)] if p.contact_phone else None
    if p.organization:
        contact = None
        if p.contact_name:
            contact = [OrganizationContact(name=HumanName(text=p.contact_name), telecom=telecom)]
        return Organization(
            id=rid,
            identifier=_provider_identifiers(p),
            active=True,
            type=[
                CodeableConcept(
                    coding=[
                        Coding(
                            system="http://terminology.hl7.org/CodeSystem/organization-type",
                            code="prov",
                            display="Healthcare Provider",
                        )
                    ]
                )
            ],
            name=_provider_name(p),
            telecom=telecom,
            address=_address(p.address),
            contact=contact,
        )
    qualification = None
    if p.taxonomy:
        qualification = [
            PractitionerQualification(code=CodeableConcept(coding=[Coding(system=NUCC_TAXONOMY, code=p.taxonomy)]))
        ]
    name = HumanName(family=p.last_name, given=[p.first_name] if p.first_name else None)
    if not p.last_name:
        name = HumanName(text=_provider_name(p))
    return Practitioner(
        id=rid,
        identifier=_provider_identifiers(p),
        active=True,
        name=[name],
        telecom=telecom,
        address=_address(p.address),
        qualification=qualification,
    )


def _ref(rid: str, display: str | None = None, identifier: Identifier | None = None) -> Reference:
    return Reference(reference=f"#{rid}", display=display or None, identifier=identifier)


def _money(value: Decimal) -> Money:
    return Money(value=value, currency="USD")


def _unit_price(charge: Decimal, units: Decimal) -> Decimal:
    price = charge / units
    cents = price.quantize(Decimal("0.01"))
    if cents * units == charge:
        return cents
    return price.quantize(Decimal("0.000001")).normalize()


def _cc(system: str, code: str, display: str | None = None) -> CodeableConcept:
    return CodeableConcept(coding=[Coding(system=system, code=code, display=display or None)])


def _modifier(code: str) -> CodeableConcept:
    # Two-digit numeric modifiers are CPT's; letters (GT, XE, LT, ...) are HCPCS Level II modifiers.
    return _cc(CPT if code.isdigit() else HCPCS, code)


def _full_name(person: Person) -> str:
    return f"{person.first_name} {person.last_name}".strip()


def to_fhir_claim(claim: Claim, *, created: date | datetime | None = None) -> FhirClaim:
    """Build the R4B `Claim` (validated by `fhir.resources` on construction).

    `created` defaults to today. Raises `FhirClaimError` when the claim lacks something required.
    """
    problems = _problems(claim)
    if problems:
        raise FhirClaimError(problems)
    try:
        return _build(claim, created or date.today())
    except ValidationError as exc:  # a value the FHIR datatypes reject (a malformed code, date, ...)
        raise FhirClaimError([f"fhir.resources rejected the claim: {exc}"]) from exc


def _payer_organization(claim: Claim, payer_identifier: Identifier | None, rid: str = "payer") -> Organization:
    return Organization(
        id=rid,
        identifier=[payer_identifier] if payer_identifier else None,
        active=True,
        type=[
            CodeableConcept(
                coding=[
                    Coding(
                        system="http://terminology.hl7.org/CodeSystem/organization-type",
                        code="pay",
                        display="Payer",
                    )
                ]
            )
        ],
        name=claim.payer.name,
    )


def _coverage(claim: Claim, separate_subscriber: bool) -> Coverage:
    relationship = _RELATIONSHIP.get(claim.relationship, "other")
    if not separate_subscriber:
        relationship = "self"
    return Coverage(
        id="coverage",
        status="active",
        subscriber=_ref(
            "subscriber" if separate_subscriber else "patient",
            _full_name(claim.subscriber),
        ),
        subscriberId=claim.subscriber.member_id,
        beneficiary=_ref("patient", _full_name(claim.the_patient)),
        relationship=_cc(SUBSCRIBER_RELATIONSHIP, relationship),
        payor=[_ref("payer", claim.payer.name)],
        order=_ORDER.get(claim.payer.responsibility, 1),
    )


_ORDER = {"P": 1, "S": 2, "T": 3}


def _other_coverage(claim: Claim) -> tuple[list[Resource], list[ClaimInsurance]]:
    """The other plan (a secondary claim's primary): its payer, its subscriber when not the patient,
    and its Coverage, with the Claim.insurance entries in coverage order (the billed one focal)."""
    billed = ClaimInsurance(sequence=_ORDER.get(claim.payer.responsibility, 1), focal=True, coverage=_ref("coverage"))
    other = claim.other_coverage
    if other is None:
        return [], [billed]
    own = other.relationship == "18"
    payer_identifier = Identifier(system=PAYER_ID, value=other.payer.payer_id) if other.payer.payer_id else None
    contained: list[Resource] = [
        _payer_organization(replace(claim, payer=other.payer), payer_identifier, "other-payer")
    ]
    if not own:
        contained.append(_patient(other.subscriber, "other-subscriber", other.payer.payer_id))
    contained.append(
        Coverage(
            id="other-coverage",
            status="active",
            subscriber=_ref("patient" if own else "other-subscriber", _full_name(other.subscriber)),
            subscriberId=other.subscriber.member_id,
            beneficiary=_ref("patient", _full_name(claim.the_patient)),
            relationship=_cc(
                SUBSCRIBER_RELATIONSHIP, _RELATIONSHIP.get(other.relationship, "self" if own else "other")
            ),
            payor=[_ref("other-payer", other.payer.name)],
            order=_ORDER.get(other.payer.responsibility, 1),
        )
    )
    order = _ORDER.get(other.payer.responsibility, 1)
    entry = ClaimInsurance(sequence=order, focal=False, coverage=_ref("other-coverage"))
    return contained, [entry, billed] if order < (billed.sequence or 1) else [billed, entry]


def _parties(claim: Claim, separate_subscriber: bool) -> list[Resource]:
    """The patient, the subscriber when another person, and the providers, as contained resources."""
    contained: list[Resource] = [
        _patient(claim.the_patient, "patient", claim.payer.payer_id),
    ]
    if separate_subscriber:
        contained.append(_patient(claim.subscriber, "subscriber", claim.payer.payer_id))
    contained.append(_provider_resource(claim.billing_provider, "billing-provider"))
    if claim.rendering_provider is not None:
        contained.append(_provider_resource(claim.rendering_provider, "rendering-provider"))
    return contained


def _care_team(claim: Claim) -> list[ClaimCareTeam] | None:
    if claim.rendering_provider is None:
        return None
    rp = claim.rendering_provider
    return [
        ClaimCareTeam(
            sequence=1,
            provider=_ref("rendering-provider", _provider_name(rp), Identifier(system=NPI, value=rp.npi)),
            responsible=True,
            role=_cc(CARE_TEAM_ROLE, "primary", "Primary provider"),
            qualification=_cc(NUCC_TAXONOMY, rp.taxonomy) if rp.taxonomy else None,
        )
    ]


def _diagnoses(claim: Claim) -> list[ClaimDiagnosis]:
    return [
        ClaimDiagnosis(
            sequence=i,
            diagnosisCodeableConcept=_cc(ICD10CM, d.code, d.description),
            type=[_cc(DIAGNOSIS_TYPE, "principal", "Principal Diagnosis")] if i == 1 else None,
        )
        for i, d in enumerate(claim.diagnoses, start=1)
    ]


def _items(claim: Claim, with_care_team: bool) -> list[ClaimItem]:
    return [
        ClaimItem(
            sequence=i,
            careTeamSequence=[1] if with_care_team else None,
            diagnosisSequence=list(line.pointers),
            productOrService=_cc(CPT if line.system == CodeSystem.CPT else HCPCS, line.code, line.description),
            modifier=[_modifier(m) for m in line.modifiers] or None,
            servicedDate=line.service_date,
            locationCodeableConcept=_cc(POS, line.place_of_service or claim.place_of_service),
            quantity=Quantity(value=line.units),
            unitPrice=_money(_unit_price(line.charge, line.units)),
            net=_money(line.charge),
            detail=_ndc_detail(line),
        )
        for i, line in enumerate(claim.lines, start=1)
    ]


# The NCPDP units of an NDC quantity (837P CTP05) as UCUM codes: a FHIR Quantity with a unit code
# must name the code's system (invariant qty-3). UN (each, a unit of use) is UCUM's unity.
UCUM = "http://unitsofmeasure.org"
_NDC_UNIT_UCUM = {"F2": "[iU]", "GR": "g", "ME": "mg", "ML": "mL", "UN": "{unit}"}


def _ndc_quantity(ndc: Ndc) -> Quantity:
    """The NDC quantity: the NCPDP unit as the text, its UCUM code with the UCUM system (no code
    for a unit outside the table; the scrubber's NDC edit refuses those)."""
    ucum = _NDC_UNIT_UCUM.get(ndc.unit)
    if ucum is None:
        return Quantity(value=ndc.quantity, unit=ndc.unit)
    return Quantity(value=ndc.quantity, unit=ndc.unit, system=UCUM, code=ucum)


def _ndc_detail(line: ServiceLine) -> list[ClaimItemDetail] | None:
    """A drug line's NDC as the item's one detail: the 11-digit code, the quantity in its unit
    (the 837P's LIN/CTP; F2, GR, ME, ML or UN as the unit text, its UCUM code)."""
    if line.ndc is None:
        return None
    return [
        ClaimItemDetail(
            sequence=1,
            productOrService=_cc(NDC, line.ndc.code.replace("-", "")),
            quantity=_ndc_quantity(line.ndc),
            net=_money(line.charge),
        )
    ]


def _related(claim: Claim) -> list[ClaimRelated] | None:
    """The claim being replaced (frequency 7) or voided (8)."""
    if claim.frequency not in ("7", "8"):
        return None
    ref = original_reference(claim)
    return [
        ClaimRelated(
            relationship=_cc(RELATED_CLAIM_RELATIONSHIP, "prior", "Prior Claim"),
            reference=Identifier(system=ORIGINAL_CLAIM, value=ref) if ref else None,
        )
    ]


def _build(claim: Claim, created: date | datetime) -> FhirClaim:
    patient = claim.the_patient
    separate_subscriber = claim.patient is not None and claim.patient != claim.subscriber
    contained = _parties(claim, separate_subscriber)
    payer_identifier = Identifier(system=PAYER_ID, value=claim.payer.payer_id) if claim.payer.payer_id else None
    contained.append(_payer_organization(claim, payer_identifier))
    contained.append(_coverage(claim, separate_subscriber))
    other_contained, insurance = _other_coverage(claim)
    contained.extend(other_contained)
    start, end = claim.service_dates
    npi = Identifier(system=NPI, value=claim.billing_provider.npi)
    care_team = _care_team(claim)
    diagnoses = _diagnoses(claim)
    items = _items(claim, bool(care_team))
    related = _related(claim)
    return FhirClaim(
        id=claim.claim_id if _FHIR_ID.match(claim.claim_id) else None,
        contained=contained,
        identifier=[Identifier(system=PATIENT_CONTROL_NUMBER, value=claim.claim_id)],
        status="active",
        type=_cc(CLAIM_TYPE, "professional", "Professional"),
        use="claim",
        patient=_ref(
            "patient",
            _full_name(patient),
            _member_identifier(patient.member_id, claim.payer.payer_id) if patient.member_id else None,
        ),
        billablePeriod=Period(start=start, end=end),
        created=created,
        insurer=_ref("payer", claim.payer.name, payer_identifier),
        provider=_ref("billing-provider", _provider_name(claim.billing_provider), npi),
        priority=_cc(PROCESS_PRIORITY, "normal", "Normal"),
        related=related,
        careTeam=care_team,
        diagnosis=diagnoses,
        insurance=insurance,
        item=items,
        total=_money(claim.total_charge),
    )


def fhir_claim_json(claim: Claim, *, created: date | datetime | None = None) -> dict[str, Any]:
    """The FHIR Claim as a JSON-ready dict (what `Claim.model_validate` reads back)."""
    resource = to_fhir_claim(claim, created=created)
    data: dict[str, Any] = resource.model_dump(mode="json", exclude_none=True)
    return data
