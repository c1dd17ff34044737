"""X12 005010X222A1 837P (professional claim): writer, a small reader for what it writes, and
validation through pyx12's Python API.

One claim per interchange: ISA/GS/ST, BHT, 1000A submitter, 1000B receiver, 2000A billing provider,
2000B subscriber (with 2000C patient when the patient is not the subscriber), 2300 claim (CLM11 auto accident, REF*G1
prior authorization, REF*F8 the payer's number of the claim a replacement or void changes), optional
2310A referring and 2310B rendering providers, 2320/2330A/2330B the other plan (a secondary claim's
primary, with what it paid), 2400 service lines (SV1 with up to four modifiers, units and pointers, DTP*472
per line, 2410 LIN/CTP for a drug's NDC), SE/GE/IEA. A claim with more than twelve diagnoses is
written as several 2300 claims under the one subscriber (`split_by_diagnoses`). Delimiters: segment '~' (followed by a
newline, as the shared sample does), element '*', component ':', repetition '^'.

Free text (names, addresses, contact name) is upper-cased, transliterated to ASCII (`names.fold_x12`:
a letter without a transliteration is refused, never dropped) and stripped of the four delimiter
characters; an address line over 55 characters is refused, never cut. Identifiers and codes are
never altered: a delimiter or an out-of-range value there raises ValueError, because silently
changing an NPI or a member id would send a wrong claim.
"""

from __future__ import annotations

import io
import logging
import re
import threading
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from chartcoder.billing.claim import (
    MAX_DIAGNOSES,
    MAX_MODIFIERS,
    MAX_POINTERS,
    Address,
    Claim,
    Ndc,
    OtherCoverage,
    Person,
    Provider,
    ServiceLine,
    original_reference,
    split_by_diagnoses,
)
from chartcoder.billing.line_rules import us_states
from chartcoder.billing.names import fold_x12

IMPLEMENTATION = "005010X222A1"
SEGMENT_TERMINATOR = "~"
ELEMENT_SEPARATOR = "*"
COMPONENT_SEPARATOR = ":"
REPETITION_SEPARATOR = "^"
DELIMITERS = frozenset(SEGMENT_TERMINATOR + ELEMENT_SEPARATOR + COMPONENT_SEPARATOR + REPETITION_SEPARATOR)
MAX_LINES = 50  # 2400 loop repeat in the 837P
MAX_ADDRESS_LINE = 55  # N301/N302
MAX_CLAIM_ID = 20  # CLM01: the implementation guide allows 20 characters (the data element 38)

_ICD = re.compile(r"^[A-Z][0-9][0-9A-Z]{1,5}$")  # without the dot: 3-7 characters
_PROCEDURE = re.compile(r"^[A-Z0-9]{5}$")
_MODIFIER = re.compile(r"^[A-Z0-9]{2}$")
_SEXES = {"F", "M", "U"}
_PATIENT_RELATIONSHIPS = {"01", "19", "20", "21", "39", "40", "53", "G8"}  # PAT01 (2000C)


# --------------------------------------------------------------------------------------- writer


def _fold(value: str) -> str:
    """Upper-case ASCII by transliteration (`names.fold_x12`: Ø -> O, ß -> SS, é -> E), no delimiters
    or control characters, single spaces. A letter without a transliteration raises ValueError:
    a letter is never dropped."""
    ascii_text, _ = fold_x12(value)
    kept = "".join(" " if (ch.isspace() or not ch.isprintable()) else ch for ch in ascii_text if ch not in DELIMITERS)
    return " ".join(kept.split())


def _text(value: str | None, what: str, max_len: int, *, min_len: int = 1) -> str:
    """Free text for an element: cleaned, truncated to the element's length; required non-empty."""
    cleaned = _fold(value or "")[:max_len].rstrip()
    if len(cleaned) < min_len:
        raise ValueError(f"{what} is empty (or too short) after removing characters X12 cannot carry: {value!r}")
    return cleaned


def _ident(value: str | None, what: str, max_len: int, *, min_len: int = 1, pattern: str | None = None) -> str:
    """An identifier is written exactly as given (trimmed) or refused."""
    text = (value or "").strip()
    if not (min_len <= len(text) <= max_len):
        raise ValueError(f"{what} must be {min_len}-{max_len} characters: {value!r}")
    if any(ch in DELIMITERS or not ch.isprintable() or not ch.isascii() for ch in text):
        raise ValueError(f"{what} contains a character X12 cannot carry (one of * ~ : ^ or non-ASCII): {value!r}")
    if pattern is not None and not re.fullmatch(pattern, text):
        raise ValueError(f"{what} is not in the expected form {pattern}: {value!r}")
    return text


def format_amount(value: Decimal | int | str) -> str:
    """An X12 decimal (R): no exponent, no trailing zeros, no '+': 150.00 -> '150', 100.50 -> '100.5'."""
    try:
        number = Decimal(value)
    except (InvalidOperation, ValueError, TypeError) as exc:
        raise ValueError(f"not a number: {value!r}") from exc
    if not number.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    if number == 0:
        return "0"
    text = format(number.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _money(value: Decimal, what: str) -> str:
    number = Decimal(value)
    if number < 0:
        raise ValueError(f"{what} is negative: {value}")
    if number != number.quantize(Decimal("0.01")):
        raise ValueError(f"{what} has more than 2 decimal places: {value}")
    return format_amount(number)


def _d8(value: date) -> str:
    return value.strftime("%Y%m%d")


def _zip(value: str, what: str) -> str:
    digits = value.replace("-", "").strip()
    if not re.fullmatch(r"[0-9]{5}|[0-9]{9}", digits):
        raise ValueError(f"{what} ZIP must be 5 or 9 digits: {value!r}")
    return digits


def _segment(*elements: str) -> str:
    """One segment without its terminator; trailing empty elements are dropped, as X12 requires."""
    parts = list(elements)
    while parts and parts[-1] == "":
        parts.pop()
    return ELEMENT_SEPARATOR.join(parts)


def _composite(*components: str) -> str:
    parts = list(components)
    while parts and parts[-1] == "":
        parts.pop()
    return COMPONENT_SEPARATOR.join(parts)


def _address_segments(address: Address | None, what: str, nine_digit_zip: bool = False) -> list[str]:
    if address is None:
        raise ValueError(f"{what} address is required")
    n3 = ["N3", _address_line(address.line1, f"{what} address line 1")]
    if address.line2 and _fold(address.line2):
        n3.append(_address_line(address.line2, f"{what} address line 2"))
    state = address.state.strip().upper()
    if state not in us_states():
        raise ValueError(f"{what} state must be a U.S. state or territory code: {address.state!r}")
    zip_code = _zip(address.zip, what)
    if nine_digit_zip and len(zip_code) != 9:  # 2010AA N403: the billing provider's ZIP+4
        raise ValueError(f"{what} ZIP must have 9 digits (ZIP+4) in an 837P")
    return [
        _segment(*n3),
        _segment("N4", _text(address.city, f"{what} city", 30, min_len=2), state, zip_code),
    ]


def _address_line(value: str, what: str) -> str:
    """N301/N302: at most MAX_ADDRESS_LINE characters; a longer line is refused, never cut (the
    scrubber's ADDRESS_LENGTH says which)."""
    folded = _fold(value)
    if len(folded) > MAX_ADDRESS_LINE:
        raise ValueError(f"{what} is {len(folded)} characters; an 837P address line holds {MAX_ADDRESS_LINE}")
    return _text(value, what, MAX_ADDRESS_LINE)


def _provider_name(provider: Provider, what: str) -> tuple[str, str, str]:
    """(NM102 entity type, NM103 last/organization name, NM104 first name)."""
    if provider.organization:
        return "2", _text(provider.name, f"{what} organization name", 60), ""
    first = _fold(provider.first_name or "")[:35].rstrip()
    return "1", _text(provider.last_name, f"{what} last name", 60), first


def _npi(value: str, what: str) -> str:
    return _ident(value, f"{what} NPI", 10, min_len=10, pattern=r"[0-9]{10}")


def _person_nm1(code: str, person: Person, what: str, id_qualifier: str = "", identifier: str = "") -> str:
    """NM1 for a person: last name (NM103), first (NM104), suffix (NM107: JR, III...), then the id."""
    first = _fold(person.first_name or "")[:35].rstrip()
    last = _text(person.last_name, f"{what} last name", 60)
    suffix = _fold(person.suffix or "")[:10].rstrip()
    return _segment("NM1", code, "1", last, first, "", "", suffix, id_qualifier, identifier)


def _dmg(person: Person, what: str) -> str:
    sex = (person.sex or "").strip().upper()
    if sex not in _SEXES:
        raise ValueError(f"{what} sex must be F, M or U: {person.sex!r}")
    return _segment("DMG", "D8", _d8(person.birth_date), sex)


def _check_arguments(control_number: int, usage: str) -> None:
    if not (1 <= control_number <= 999_999_999):
        raise ValueError(f"control_number must be 1-999999999: {control_number}")
    if usage not in ("T", "P"):
        raise ValueError(f"usage must be T (test) or P (production): {usage!r}")


def _check_sizes(claim: Claim) -> None:
    """One part of a (split) claim: 1-12 diagnoses and 1-50 lines."""
    if not claim.diagnoses or len(claim.diagnoses) > MAX_DIAGNOSES:
        raise ValueError(f"a claim carries 1-{MAX_DIAGNOSES} diagnoses, not {len(claim.diagnoses)}")
    if not claim.lines or len(claim.lines) > MAX_LINES:
        raise ValueError(f"a claim carries 1-{MAX_LINES} service lines, not {len(claim.lines)}")


def _distinct_patient(claim: Claim) -> tuple[Person | None, str]:
    """(the patient when not the subscriber, PAT01 relationship), checked against each other."""
    subscriber = claim.subscriber
    patient = claim.patient if claim.patient is not None and claim.patient != subscriber else None
    relationship = claim.relationship.strip()
    if patient is None and relationship != "18":
        raise ValueError(f"relationship {relationship!r} needs a patient distinct from the subscriber")
    if patient is not None and relationship not in _PATIENT_RELATIONSHIPS:
        raise ValueError(f"patient relationship to the subscriber must be one of {sorted(_PATIENT_RELATIONSHIPS)}")
    return patient, relationship


def _diagnosis_codes(claim: Claim) -> list[str]:
    """HI codes: ICD-10-CM without the dot, principal first."""
    codes = [d.code.replace(".", "").strip().upper() for d in claim.diagnoses]
    for original, code in zip(claim.diagnoses, codes, strict=True):
        if not _ICD.match(code):
            raise ValueError(f"not an ICD-10-CM code: {original.code!r}")
    return codes


@dataclass(frozen=True)
class _Header:
    """The identifiers the envelope and the claim loop share, checked once."""

    sender: str
    receiver: str
    receiver_name: str
    claim_id: str
    pos: str
    frequency: str

    @classmethod
    def of(cls, claim: Claim) -> _Header:
        return cls(
            sender=_ident(claim.submitter_id, "submitter id", 15, min_len=2),
            receiver=_ident(claim.receiver_id or claim.payer.payer_id, "receiver id", 15, min_len=2),
            receiver_name=_text(claim.receiver_name or claim.payer.name, "receiver name", 60),
            claim_id=_ident(claim.claim_id, "claim id (CLM01)", MAX_CLAIM_ID),
            pos=_ident(claim.place_of_service, "place of service", 2, min_len=2, pattern=r"[0-9]{2}"),
            frequency=_ident(claim.frequency, "claim frequency", 1, pattern=r"[0-9]"),
        )


def _submitter_and_receiver(claim: Claim, header: _Header) -> list[str]:
    """1000A submitter (with its PER contact) and 1000B receiver."""
    billing = claim.billing_provider
    submitter = _text(claim.submitter_name, "submitter name", 60)
    segments = [_segment("NM1", "41", "2", submitter, "", "", "", "", "46", header.sender)]
    phone = re.sub(r"[^0-9]", "", billing.contact_phone or "")
    if len(phone) != 10:
        raise ValueError(f"billing provider contact_phone must have 10 digits (1000A PER): {billing.contact_phone!r}")
    contact = _fold(billing.contact_name or "")[:60].rstrip()
    segments.append(_segment("PER", "IC", contact, "TE", phone))
    segments.append(_segment("NM1", "40", "2", header.receiver_name, "", "", "", "", "46", header.receiver))
    return segments


def _billing_provider_loop(billing: Provider) -> list[str]:
    """2000A billing provider: HL, PRV, NM1, N3/N4, REF EI."""
    segments = [_segment("HL", "1", "", "20", "1")]
    if billing.taxonomy:
        segments.append(_segment("PRV", "BI", "PXC", _ident(billing.taxonomy, "billing taxonomy", 10, min_len=10)))
    kind, last, first = _provider_name(billing, "billing provider")
    segments.append(_segment("NM1", "85", kind, last, first, "", "", "", "XX", _npi(billing.npi, "billing provider")))
    segments.extend(_address_segments(billing.address, "billing provider", nine_digit_zip=True))
    tax_id = _ident(
        (billing.tax_id or "").replace("-", ""), "billing provider tax id (EIN)", 9, min_len=9, pattern=r"[0-9]{9}"
    )
    segments.append(_segment("REF", "EI", tax_id))
    return segments


def _subscriber_loop(claim: Claim, patient: Person | None) -> list[str]:
    """2000B subscriber (SBR: the payer's order, the relationship when the patient is the
    subscriber, the group number, the filing indicator) with 2010BA subscriber name and 2010BB payer."""
    subscriber = claim.subscriber
    group_number = claim.extra.get("group_number", "").strip()
    group = _ident(group_number, "group number (SBR03)", 50) if group_number else ""
    segments = [_segment("HL", "2", "1", "22", "1" if patient is not None else "0")]
    segments.append(
        _segment(
            "SBR",
            _ident(claim.payer.responsibility, "payer responsibility (SBR01)", 1, pattern=r"[A-HPST]"),
            "18" if patient is None else "",
            group,
            "",
            "",
            "",
            "",
            "",
            _ident(claim.payer.claim_filing, "claim filing indicator (SBR09)", 2, pattern=r"[0-9A-Z]{2}"),
        )
    )
    # 2010BA subscriber name
    member_id = _ident(subscriber.member_id, "subscriber member id", 80, min_len=2)
    segments.append(_person_nm1("IL", subscriber, "subscriber", "MI", member_id))
    if patient is None or subscriber.address is not None:
        segments.extend(_address_segments(subscriber.address, "subscriber"))
    if patient is None:
        segments.append(_dmg(subscriber, "subscriber"))
    # 2010BB payer
    payer_name = _text(claim.payer.name, "payer name", 60)
    segments.append(
        _segment(
            "NM1", "PR", "2", payer_name, "", "", "", "", "PI", _ident(claim.payer.payer_id, "payer id", 80, min_len=2)
        )
    )
    return segments


def _patient_loop(patient: Person, relationship: str) -> list[str]:
    """2000C patient, sent only when the patient is not the subscriber."""
    return [
        _segment("HL", "3", "2", "23", "0"),
        _segment("PAT", relationship),
        _person_nm1("QC", patient, "patient"),
        *_address_segments(patient.address, "patient"),
        _dmg(patient, "patient"),
    ]


def _claim_loop(claim: Claim, header: _Header, codes: list[str]) -> list[str]:
    """2300 claim (CLM, HI) and the 2310B rendering provider when it is not the billing provider."""
    total = _money(claim.total_charge, "total charge")
    clm_05 = _composite(header.pos, "B", header.frequency)
    accident = _accident(claim)
    segments = [_segment("CLM", header.claim_id, total, "", "", clm_05, "Y", "A", "Y", "Y", "", accident)]
    segments.extend(_claim_references(claim, header))
    qualifiers = ["ABK"] + ["ABF"] * (len(codes) - 1)
    segments.append(_segment("HI", *(_composite(q, c) for q, c in zip(qualifiers, codes, strict=True))))
    referring = claim.referring_provider
    if referring is not None:  # 2310A referring provider
        d_kind, d_last, d_first = _provider_name(referring, "referring provider")
        npi = _npi(referring.npi, "referring provider")
        segments.append(_segment("NM1", "DN", d_kind, d_last, d_first, "", "", "", "XX", npi))
    # 2310B rendering provider: only when it is not the billing provider (the guide: "do not send" otherwise)
    rendering = claim.rendering_provider
    if rendering is not None and rendering.npi.strip() != claim.billing_provider.npi.strip():
        r_kind, r_last, r_first = _provider_name(rendering, "rendering provider")
        segments.append(
            _segment("NM1", "82", r_kind, r_last, r_first, "", "", "", "XX", _npi(rendering.npi, "rendering provider"))
        )
        if rendering.taxonomy:
            taxonomy = _ident(rendering.taxonomy, "rendering taxonomy", 10, min_len=10)
            segments.append(_segment("PRV", "PE", "PXC", taxonomy))
    if claim.other_coverage is not None:
        segments.extend(_other_payer_loops(claim.other_coverage))
    return segments


def _accident(claim: Claim) -> str:
    """CLM11 related causes: AA (auto accident) with the state it happened in (CLM11-4), when the
    assembler found an auto-accident external cause code and the state is known."""
    state = claim.extra.get("auto_accident_state", "").strip().upper()
    if not state:
        return ""
    if state not in us_states():
        raise ValueError(f"auto accident state must be a U.S. state or territory code: {state!r}")
    return _composite("AA", "", "", state)


def _other_payer_loops(other: OtherCoverage) -> list[str]:
    """2320 other subscriber information (SBR with the other plan's order, the patient's
    relationship to its subscriber and its filing indicator; AMT*D what it paid; OI), 2330A the
    other subscriber and 2330B the other payer."""
    relationship = other.relationship.strip()
    if relationship not in _PATIENT_RELATIONSHIPS | {"18"}:
        raise ValueError(f"other coverage relationship must be 18 or one of {sorted(_PATIENT_RELATIONSHIPS)}")
    group = _ident(other.group_number, "other coverage group number", 50) if other.group_number else ""
    segments = [
        _segment(
            "SBR",
            _ident(other.payer.responsibility, "other payer responsibility (2320 SBR01)", 1, pattern=r"[A-HPST]"),
            relationship,
            group,
            "",
            "",
            "",
            "",
            "",
            _ident(other.payer.claim_filing, "other payer claim filing indicator", 2, pattern=r"[0-9A-Z]{2}"),
        )
    ]
    if other.paid_amount is not None:
        segments.append(_segment("AMT", "D", format_amount(_money(other.paid_amount, "other payer paid amount"))))
    segments.append(_segment("OI", "", "", "Y", "", "", "Y"))
    member_id = _ident(other.subscriber.member_id, "other subscriber member id", 80, min_len=2)
    segments.append(_person_nm1("IL", other.subscriber, "other subscriber", "MI", member_id))
    if other.subscriber.address is not None:
        segments.extend(_address_segments(other.subscriber.address, "other subscriber"))
    payer_id = _ident(other.payer.payer_id, "other payer id", 80, min_len=2)
    payer_name = _text(other.payer.name, "other payer name", 60)
    segments.append(_segment("NM1", "PR", "2", payer_name, "", "", "", "", "PI", payer_id))
    return segments


def _claim_references(claim: Claim, header: _Header) -> list[str]:
    """2300 REF*G1 (prior authorization) and REF*F8 (the payer's claim control number of the claim
    a replacement, 7, or void, 8, changes; required for both)."""
    segments = []
    prior = claim.extra.get("prior_authorization", "").strip()
    if prior:
        segments.append(_segment("REF", "G1", _ident(prior, "prior authorization number", 50)))
    if header.frequency in ("7", "8"):
        original = original_reference(claim)
        if not original:
            raise ValueError(f"frequency {header.frequency} needs the payer's claim number of the original (REF*F8)")
        segments.append(_segment("REF", "F8", _ident(original, "payer claim control number", 50)))
    return segments


def _ndc_segments(ndc: Ndc, what: str) -> list[str]:
    """2410 drug identification: LIN (N4 qualifier, the 11-digit NDC) and CTP (quantity, unit)."""
    code = _ident(ndc.code.replace("-", ""), f"{what} NDC", 11, min_len=11, pattern=r"[0-9]{11}")
    unit = _ident(ndc.unit.upper(), f"{what} NDC unit", 2, min_len=2, pattern="F2|GR|ME|ML|UN")
    quantity = Decimal(ndc.quantity)
    if quantity <= 0:
        raise ValueError(f"{what} NDC quantity must be positive: {ndc.quantity}")
    return [_segment("LIN", "", "N4", code), _segment("CTP", "", "", "", format_amount(quantity), unit)]


def _service_line(number: int, line: ServiceLine, claim: Claim, codes: list[str]) -> list[str]:
    """One 2400 loop: LX, SV1, DTP 472."""
    what = f"line {number}"
    code = _ident(line.code.upper(), f"{what} procedure code", 5, min_len=5, pattern=_PROCEDURE.pattern)
    if len(line.modifiers) > MAX_MODIFIERS:
        raise ValueError(f"{what} has more than {MAX_MODIFIERS} modifiers")
    mods = [_ident(m.upper(), f"{what} modifier", 2, min_len=2, pattern=_MODIFIER.pattern) for m in line.modifiers]
    if not (1 <= len(line.pointers) <= MAX_POINTERS) or len(set(line.pointers)) != len(line.pointers):
        raise ValueError(f"{what} needs 1-{MAX_POINTERS} distinct diagnosis pointers: {line.pointers}")
    for pointer in line.pointers:
        if not (1 <= pointer <= len(codes)):
            raise ValueError(f"{what} points at diagnosis {pointer}; the claim has {len(codes)}")
    units = Decimal(line.units)
    if units <= 0:
        raise ValueError(f"{what} units must be positive: {line.units}")
    line_pos = ""
    if line.place_of_service and line.place_of_service != claim.place_of_service:
        line_pos = _ident(line.place_of_service, f"{what} place of service", 2, min_len=2, pattern=r"[0-9]{2}")
    return [
        _segment("LX", str(number)),
        _segment(
            "SV1",
            _composite("HC", code, *mods),
            _money(line.charge, f"{what} charge"),
            "UN",
            format_amount(units),
            line_pos,
            "",
            _composite(*(str(p) for p in line.pointers)),
        ),
        _segment("DTP", "472", "D8", _d8(line.service_date)),
        *(_ndc_segments(line.ndc, what) if line.ndc is not None else []),
    ]


def _envelope(body: list[str], header: _Header, created: datetime, control_number: int, usage: str) -> list[str]:
    """ISA/GS before the transaction set, GE/IEA after it."""
    isa = _segment(
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        "ZZ",
        header.sender.ljust(15),
        "ZZ",
        header.receiver.ljust(15),
        created.strftime("%y%m%d"),
        created.strftime("%H%M"),
        REPETITION_SEPARATOR,
        "00501",
        f"{control_number:09d}",
        "0",
        usage,
        COMPONENT_SEPARATOR,
    )
    gs = _segment(
        "GS",
        "HC",
        header.sender,
        header.receiver,
        created.strftime("%Y%m%d"),
        created.strftime("%H%M"),
        str(control_number),
        "X",
        IMPLEMENTATION,
    )
    return [isa, gs, *body, _segment("GE", "1", str(control_number)), _segment("IEA", "1", f"{control_number:09d}")]


def write_837p(claim: Claim, *, control_number: int = 1, created: datetime | None = None, usage: str = "T") -> str:
    """The claim as one X12 005010X222A1 837P interchange. The same claim, control number and
    `created` time always give the same text. Raises ValueError for what cannot be written
    (missing required data, identifiers with delimiter characters, pointers out of range...)."""
    _check_arguments(control_number, usage)
    created = created or datetime.now()
    parts = split_by_diagnoses(claim)
    for part in parts:
        _check_sizes(part)
    patient, relationship = _distinct_patient(claim)
    header = _Header.of(claim)

    st_control = f"{control_number:04d}"
    body: list[str] = [  # ST .. SE
        _segment("ST", "837", st_control, IMPLEMENTATION),
        _segment("BHT", "0019", "00", header.claim_id, created.strftime("%Y%m%d"), created.strftime("%H%M"), "CH"),
        *_submitter_and_receiver(claim, header),
        *_billing_provider_loop(claim.billing_provider),
        *_subscriber_loop(claim, patient),
    ]
    if patient is not None:
        body.extend(_patient_loop(patient, relationship))
    for part in parts:
        codes = _diagnosis_codes(part)
        body.extend(_claim_loop(part, _Header.of(part), codes))
        for number, line in enumerate(part.lines, start=1):
            body.extend(_service_line(number, line, part, codes))
    body.append(_segment("SE", str(len(body) + 1), st_control))
    segments = _envelope(body, header, created, control_number, usage)
    return "".join(f"{s}{SEGMENT_TERMINATOR}\n" for s in segments)


# --------------------------------------------------------------------------------------- reader


@dataclass(frozen=True)
class ParsedLine:
    code: str
    modifiers: tuple[str, ...]
    charge: Decimal
    units: Decimal
    pointers: tuple[int, ...]
    service_date: date | None
    place_of_service: str | None = None
    ndc: str | None = None  # 2410 LIN03
    ndc_quantity: Decimal | None = None  # CTP04
    ndc_unit: str | None = None  # CTP05-1


@dataclass(frozen=True)
class ParsedClaim:
    claim_id: str
    total_charge: Decimal
    billing_npi: str
    diagnoses: tuple[str, ...]  # ICD-10-CM with the dot restored, principal first
    lines: tuple[ParsedLine, ...]
    place_of_service: str = ""
    frequency: str = ""
    rendering_npi: str | None = None
    payer_id: str | None = None
    member_id: str | None = None
    original_reference: str | None = None  # 2300 REF*F8
    prior_authorization: str | None = None  # 2300 REF*G1


def icd10_with_dot(code: str) -> str:
    """E1165 -> E11.65; three-character categories stay as they are."""
    code = code.strip().upper()
    return code if len(code) <= 3 or "." in code else f"{code[:3]}.{code[3:]}"


def _segments(text: str) -> tuple[list[list[str]], str]:
    """Split an interchange into segments of elements, using the delimiters its ISA declares.
    Returns (segments, component separator)."""
    start = text.find("ISA")
    if start < 0 or len(text) < start + 106:
        raise ValueError("not an X12 interchange: no ISA segment")
    text = text[start:]
    element = text[3]
    isa = text.split(element, 16)
    if len(isa) < 17 or len(isa[16]) < 2:
        raise ValueError("malformed ISA segment")
    component, terminator = isa[16][0], isa[16][1]
    segments = []
    for raw in text.split(terminator):
        raw = raw.strip()
        if raw:
            segments.append(raw.split(element))
    return segments, component


def _get(elements: list[str], index: int) -> str:
    return elements[index] if index < len(elements) else ""


class _Reader:
    """Walks the segments once; the envelope-level ids (billing NPI, payer, member) are shared by
    every claim under them, the rest belongs to the current claim."""

    def __init__(self, component: str) -> None:
        self.component = component
        self.shared: dict[str, str | None] = {"billing_npi": "", "payer_id": None, "member_id": None}
        self.claims: list[dict[str, object]] = []

    @property
    def claim(self) -> dict[str, object]:
        return self.claims[-1]

    def lines(self) -> list[ParsedLine]:
        return self.claim["lines"]  # type: ignore[return-value]

    def read(self, seg: list[str]) -> None:
        sid = seg[0]
        if sid == "CLM":
            parts = _get(seg, 5).split(self.component)
            self.claims.append({
                "claim_id": _get(seg, 1), "total_charge": Decimal(_get(seg, 2) or "0"), "place_of_service": parts[0],
                "frequency": parts[2] if len(parts) > 2 else "", "diagnoses": [], "lines": [],
                "rendering_npi": None, "original_reference": None, "prior_authorization": None,
            })  # fmt: skip
        elif sid == "NM1":
            self._name(seg)
        elif not self.claims:
            return
        elif sid == "REF" and not self.lines() and _get(seg, 1) in ("F8", "G1"):
            key = "original_reference" if _get(seg, 1) == "F8" else "prior_authorization"
            self.claim[key] = _get(seg, 2)
        elif sid == "HI":
            for composite in seg[1:]:
                parts = composite.split(self.component)
                if len(parts) >= 2 and parts[0] in ("ABK", "ABF", "BK", "BF"):
                    self.claim["diagnoses"].append(icd10_with_dot(parts[1]))  # type: ignore[attr-defined]
        elif sid == "SV1":
            self.lines().append(self._sv1(seg))
        else:
            self._line_detail(seg)

    def _name(self, seg: list[str]) -> None:
        qualifier = _get(seg, 1)
        if qualifier == "85" and not self.shared["billing_npi"]:
            self.shared["billing_npi"] = _get(seg, 9)
        elif qualifier == "82" and self.claims and not self.lines():  # 2310B, not a line's 2420A
            self.claim["rendering_npi"] = _get(seg, 9)
        elif qualifier == "PR" and self.shared["payer_id"] is None:
            self.shared["payer_id"] = _get(seg, 9) or None
        elif qualifier == "IL" and self.shared["member_id"] is None:
            self.shared["member_id"] = _get(seg, 9) or None

    def _sv1(self, seg: list[str]) -> ParsedLine:
        product = _get(seg, 1).split(self.component)
        return ParsedLine(
            code=_get(product, 1),
            modifiers=tuple(m for m in product[2:6] if m),
            charge=Decimal(_get(seg, 2) or "0"),
            units=Decimal(_get(seg, 4) or "1"),
            pointers=tuple(int(p) for p in _get(seg, 7).split(self.component) if p),
            service_date=None,
            place_of_service=_get(seg, 5) or None,
        )

    def _line_detail(self, seg: list[str]) -> None:
        lines = self.lines()
        if not lines:
            return
        sid, last = seg[0], lines[-1]
        if sid == "DTP" and _get(seg, 1) == "472" and last.service_date is None:
            value = _get(seg, 3).split("-")[0]  # D8, or the first date of an RD8 range
            lines[-1] = replace(last, service_date=datetime.strptime(value, "%Y%m%d").date())
        elif sid == "LIN" and _get(seg, 2) == "N4":
            lines[-1] = replace(last, ndc=_get(seg, 3))
        elif sid == "CTP" and last.ndc is not None:
            unit = _get(seg, 5).split(self.component)[0]
            lines[-1] = replace(last, ndc_quantity=Decimal(_get(seg, 4) or "0"), ndc_unit=unit or None)

    def parsed(self) -> list[ParsedClaim]:
        out = []
        for c in self.claims:
            out.append(
                ParsedClaim(
                    **{**c, "diagnoses": tuple(c["diagnoses"]), "lines": tuple(c["lines"])},  # type: ignore[arg-type]
                    billing_npi=self.shared["billing_npi"] or "",
                    payer_id=self.shared["payer_id"],
                    member_id=self.shared["member_id"],
                )
            )
        return out


def parse_837p_claims(text: str) -> list[ParsedClaim]:
    """Every claim (CLM) of an 837P like the ones `write_837p` produces (and the shared sample), in
    order: a claim split for having more than twelve diagnoses reads back as its parts."""
    segments, component = _segments(text)
    reader = _Reader(component)
    for seg in segments:
        reader.read(seg)
    if not reader.claims:
        raise ValueError("no CLM segment: not an 837 claim")
    return reader.parsed()


def parse_837p(text: str) -> ParsedClaim:
    """The first claim of an 837P (see parse_837p_claims). Raises ValueError when there is none."""
    return parse_837p_claims(text)[0]


# ------------------------------------------------------------------------------------ validator

_PYX12_LOCK = threading.Lock()


class _Collector(logging.Handler):
    """Keeps the error records the validating thread logs to the `pyx12` logger."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            try:
                self.messages.append(record.getMessage())
            except Exception:  # a malformed record must not break validation
                self.messages.append(str(record.msg))


def _envelope_errors(text: str) -> list[str]:
    """pyx12 validates whatever transaction the GS names (a valid 835 would pass), and crashes on
    an unknown GS08: check first that this is an 837P 005010X222A1."""
    try:
        segments, _ = _segments(text)
    except ValueError as exc:
        return [str(exc)]
    gs = next((s for s in segments if s[0] == "GS"), None)
    st = next((s for s in segments if s[0] == "ST"), None)
    if gs is None or st is None:
        return ["no GS or ST segment"]
    errors = []
    if _get(gs, 1) != "HC":
        errors.append(f"GS01 must be HC (health care claim): {_get(gs, 1)!r}")
    if _get(gs, 8) != IMPLEMENTATION:
        errors.append(f"GS08 must be {IMPLEMENTATION}: {_get(gs, 8)!r}")
    if _get(st, 1) != "837":
        errors.append(f"ST01 must be 837: {_get(st, 1)!r}")
    if _get(st, 3) != IMPLEMENTATION:
        errors.append(f"ST03 must be {IMPLEMENTATION}: {_get(st, 3)!r}")
    return errors


def validate_837p(text: str) -> list[str]:
    """Validate an 837P with pyx12 against its 005010X222A1 map. Returns the error messages pyx12
    logged (empty list: valid). pyx12 does not check ICD validity, NPI check digits, totals or
    pointers: the scrubber does. Serialised by a lock; about 0.15-0.2 s per claim."""
    errors = _envelope_errors(text)
    if errors:
        return errors
    import pyx12.params
    import pyx12.x12n_document

    logger = logging.getLogger("pyx12")
    with _PYX12_LOCK:
        collector = _Collector()
        old_level = logger.level
        if logger.getEffectiveLevel() > logging.ERROR:
            logger.setLevel(logging.ERROR)
        logger.addHandler(collector)
        try:
            ok = pyx12.x12n_document.x12n_document(
                param=pyx12.params.params(),
                src_file=io.StringIO(text),
                fd_997=None,
                fd_html=None,
                fd_xmldoc=None,
                fd_json=None,
            )
        except Exception as exc:  # pyx12 raises EngineError and friends on input it cannot walk
            return [*collector.messages, f"pyx12 failed: {type(exc).__name__}: {exc}"]
        finally:
            logger.removeHandler(collector)
            logger.setLevel(old_level)
    if ok and not collector.messages:
        return []
    return collector.messages or ["pyx12 reported the file invalid without logging an error"]
