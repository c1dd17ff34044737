"""The claim as the CMS-1500 (02/12) paper form: a field-by-field map keyed by the form's item
numbers, and a printable HTML rendering laid out like the form for a biller to look at.

Keys of `cms1500_fields` are the item numbers (`"1"`, `"1a"`, `"2"`, ..., `"33b"`); an item with
several parts adds a suffix (`"3_sex"`, `"5_city"`, `"22_original_ref"`, `"31_date"`). Item `"21"`
is the list of the 12 diagnosis slots A-L (unused slots empty; codes without the dot, as the form's
OCR layout expects, like the 837P) with `"21_ind"` the ICD indicator (0, ICD-10-CM). Item `"24"` is
the list of service lines, each a dict keyed `"24A_from"` ... `"24J"`; `"24E"` holds the diagnosis
pointer letters (1 -> A ... 12 -> L, primary first, no separators), `"24D_modifiers"` up to four
modifiers, `"24G"` the units, and `"24_shaded"` the shaded supplemental line (a drug's NDC: `N4`, the
11 digits, its unit and quantity). Dates are `MM DD YY` in 24A and
`MM DD YYYY` elsewhere, money `1234.56`.

Only code numbers appear (procedure descriptions are never printed), so no AMA CPT descriptor can
leak onto the form. A form page holds 6 service lines; more lines make more pages, each repeating
the claim's header and footer, with item 28 on all but the last page saying CONTINUED.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from html import escape
from typing import Any

from chartcoder.billing.claim import (
    MAX_DIAGNOSES,
    MAX_POINTERS,
    Address,
    Claim,
    Ndc,
    Person,
    Provider,
    original_reference,
    split_by_diagnoses,
)

LINES_PER_PAGE = 6
DIAGNOSIS_LETTERS = "ABCDEFGHIJKL"
ICD10_INDICATOR = "0"
SIGNATURE_ON_FILE = "SIGNATURE ON FILE"
# Keys of Claim.extra the form reads when present.

INSURANCE_TYPES = ("Medicare", "Medicaid", "TRICARE", "CHAMPVA", "Group Health Plan", "FECA Blk Lung", "Other")
# X12 claim filing indicator (SBR09) -> item 1 box
_INSURANCE_TYPE = {
    "MA": "Medicare",
    "MB": "Medicare",
    "MC": "Medicaid",
    "CH": "TRICARE",
    "VA": "CHAMPVA",
    **dict.fromkeys(("CI", "BL", "HM", "12", "13", "14", "15", "16", "DS", "FI", "LM"), "Group Health Plan"),
}
RELATIONSHIPS = ("Self", "Spouse", "Child", "Other")
_RELATIONSHIP = {"18": "Self", "01": "Spouse", "19": "Child"}

Fields = dict[str, Any]  # values are str, list[str] or list[dict[str, str | list[str]]]


class Cms1500Error(ValueError):
    """The claim cannot be put on a CMS-1500 (more than 12 diagnoses, a pointer with no letter, ...)."""


def pointer_letter(pointer: int) -> str:
    """Diagnosis pointer 1..12 -> the item 21 letter A..L."""
    if not 1 <= pointer <= MAX_DIAGNOSES:
        raise Cms1500Error(f"diagnosis pointer {pointer} has no item 21 letter (1-{MAX_DIAGNOSES})")
    return DIAGNOSIS_LETTERS[pointer - 1]


def _d8(d: date) -> str:
    return d.strftime("%m %d %Y")


def _d6(d: date) -> str:
    return d.strftime("%m %d %y")


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


def _units(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def _person_name(p: Person | None) -> str:
    """NUCC's order: last name, suffix, first name ("SMITH JR, JOHN")."""
    if p is None:
        return ""
    last = f"{p.last_name} {p.suffix}" if p.suffix else p.last_name
    return f"{last}, {p.first_name}".strip(", ")


def _provider_name(p: Provider) -> str:
    if p.name:
        return p.name
    return " ".join(part for part in (p.first_name, p.last_name) if part)


def _zip(z: str) -> str:
    return f"{z[:5]}-{z[5:]}" if len(z) == 9 else z


def _street(a: Address | None) -> str:
    if a is None:
        return ""
    return ", ".join(part for part in (a.line1, a.line2) if part)


def _address_block(name: str, a: Address | None) -> list[str]:
    lines = [name]
    if a is not None:
        lines.append(_street(a))
        lines.append(f"{a.city}, {a.state} {_zip(a.zip)}")
    return lines


def _phone(p: str | None) -> str:
    if p and len(p) == 10 and p.isdigit():
        return f"({p[:3]}) {p[3:6]}-{p[6:]}"
    return p or ""


def _check(claim: Claim) -> None:
    if not claim.lines:
        raise Cms1500Error("the claim has no service lines")
    if len(claim.diagnoses) > MAX_DIAGNOSES:
        parts = len(split_by_diagnoses(claim))
        raise Cms1500Error(
            f"the claim has {len(claim.diagnoses)} diagnoses; item 21 holds {MAX_DIAGNOSES}, so it needs {parts} "
            "forms: use cms1500_forms (the printable form, cms1500-html, prints them all)"
        )
    for n, line in enumerate(claim.lines, start=1):
        if len(line.pointers) > MAX_POINTERS:
            raise Cms1500Error(f"line {n} has {len(line.pointers)} pointers; item 24E holds {MAX_POINTERS}")
        for p in line.pointers:
            if not 1 <= p <= len(claim.diagnoses):
                raise Cms1500Error(f"line {n} points at diagnosis {p}; the claim has {len(claim.diagnoses)}")


def _line_fields(claim: Claim, rendering_npi: str) -> list[dict[str, Any]]:
    out = []
    for line in claim.lines:
        out.append(
            {
                "24A_from": _d6(line.service_date),
                "24A_to": _d6(line.service_date),
                "24B": line.place_of_service or claim.place_of_service,
                "24C": "",  # EMG
                "24D": line.code,
                "24D_modifiers": list(line.modifiers),
                "24E": "".join(pointer_letter(p) for p in line.pointers),
                "24F": _money(line.charge),
                "24G": _units(line.units),
                "24H": "",  # EPSDT / family plan
                "24I": "NPI" if rendering_npi else "",
                "24J": rendering_npi,
                "24_shaded": _supplemental(line.ndc),
            }
        )
    return out


def _supplemental(ndc: Ndc | None) -> str:
    """The shaded part of a line (NUCC 1500 instructions, item 24): a drug's NDC as the N4
    qualifier, the 11 digits, a space, the unit qualifier and the quantity: `N400003029305 ML1`."""
    if ndc is None:
        return ""
    return f"N4{ndc.code.replace('-', '')} {ndc.unit}{_units(Decimal(ndc.quantity))}"


def cms1500_fields(claim: Claim, *, signed_on: date | None = None) -> Fields:
    """The CMS-1500 (02/12) as a map from item number to value (see the module docstring).

    `signed_on` is the date by item 31 (default today). Raises `Cms1500Error` when the claim does not
    fit the form."""
    _check(claim)
    billing = claim.billing_provider
    rendering = claim.rendering_provider
    if rendering is not None:
        rendering_npi = rendering.npi
    elif not billing.organization:
        rendering_npi = billing.npi
    else:
        rendering_npi = ""
    signer = rendering if rendering is not None else billing
    return {
        **_patient_and_insured_items(claim),
        **_claim_items(claim, rendering_npi),
        **_provider_items(claim, signer, signed_on),
    }


def cms1500_forms(claim: Claim, *, signed_on: date | None = None) -> list[Fields]:
    """One field map per form: a claim with more than twelve diagnoses is split as the 837P splits
    it (`split_by_diagnoses`), each part on its own form with its own item 26 account number."""
    return [cms1500_fields(part, signed_on=signed_on) for part in split_by_diagnoses(claim)]


def _patient_and_insured_items(claim: Claim) -> Fields:
    """Items 1 to 11d: the payer type, the patient, the insured and their relationship."""
    patient = claim.the_patient
    insured = claim.subscriber
    relationship = _RELATIONSHIP.get(claim.relationship, "Other") if claim.patient is not None else "Self"
    patient_address = patient.address
    insured_address = insured.address
    return {
        "1": _INSURANCE_TYPE.get(claim.payer.claim_filing, "Other"),
        "1a": insured.member_id or "",
        "2": _person_name(patient),
        "3": _d8(patient.birth_date),
        "3_sex": patient.sex if patient.sex in ("F", "M") else "",
        "4": _person_name(insured),
        "5": _street(patient_address),
        "5_city": patient_address.city if patient_address else "",
        "5_state": patient_address.state if patient_address else "",
        "5_zip": _zip(patient_address.zip) if patient_address else "",
        "5_phone": "",
        "6": relationship,
        "7": _street(insured_address),
        "7_city": insured_address.city if insured_address else "",
        "7_state": insured_address.state if insured_address else "",
        "7_zip": _zip(insured_address.zip) if insured_address else "",
        "7_phone": "",
        "8": "",  # reserved for NUCC use
        **_other_insured_items(claim),
        "10a": "NO",
        "10b": "YES" if claim.extra.get("auto_accident") == "Y" else "NO",
        "10b_state": claim.extra.get("auto_accident_state", ""),
        "10c": "NO",
        "10d": "",
        "11": _group_number(claim),
        "11a": _d8(insured.birth_date),
        "11a_sex": insured.sex if insured.sex in ("F", "M") else "",
        "11b": "",
        "11c": claim.payer.name,
        "11d": "YES" if claim.other_coverage is not None else "NO",
    }


def _other_insured_items(claim: Claim) -> Fields:
    """Items 9, 9a and 9d: the other plan (the primary on a secondary claim), filled only when 11d is
    YES, as NUCC's instructions say."""
    other = claim.other_coverage
    if other is None:
        return {"9": "", "9a": "", "9d": ""}
    return {
        "9": _person_name(other.subscriber),
        "9a": other.group_number or other.subscriber.member_id or "",
        "9d": other.payer.name,
    }


def _group_number(claim: Claim) -> str:
    """Item 11: the insured's group number; "NONE" on a claim to Medicare as primary (CMS's
    instructions: NONE says no insurance is primary to Medicare)."""
    if claim.payer.claim_filing in ("MA", "MB") and claim.payer.responsibility == "P":
        return "NONE"
    return claim.extra.get("group_number", "")


def _claim_items(claim: Claim, rendering_npi: str) -> Fields:
    """Items 12 to 24: signatures on file, the diagnoses, resubmission and the service lines."""
    codes = [d.code.replace(".", "") for d in claim.diagnoses]
    frequency = claim.frequency if claim.frequency in ("7", "8") else ""
    return {
        "12": SIGNATURE_ON_FILE,
        "13": SIGNATURE_ON_FILE,
        "14": "",
        "15": "",
        "16": "",
        "17": f"DN {_provider_name(claim.referring_provider)}" if claim.referring_provider else "",
        "17b": claim.referring_provider.npi if claim.referring_provider else "",
        "18": "",
        "19": claim.extra.get("additional_claim_information", ""),
        "20": "NO",
        "21_ind": ICD10_INDICATOR,
        "21": codes + [""] * (MAX_DIAGNOSES - len(codes)),
        "22": frequency,
        "22_original_ref": original_reference(claim) if frequency else "",
        "23": claim.extra.get("prior_authorization", ""),
        "24": _line_fields(claim, rendering_npi),
    }


def _provider_items(claim: Claim, signer: Provider, signed_on: date | None) -> Fields:
    """Items 25 to 33b: the billing provider's tax id, totals, the signer and the billing provider."""
    billing = claim.billing_provider
    return {
        "25": billing.tax_id or "",
        "25_type": "EIN" if billing.tax_id else "",
        "26": claim.claim_id,
        "27": "YES",
        "28": _money(claim.total_charge),
        "29": "",
        "30": "",  # reserved for NUCC use
        "31": SIGNATURE_ON_FILE,
        "31_name": _provider_name(signer),
        "31_date": _d8(signed_on or date.today()),
        "32": _address_block(_provider_name(billing), billing.address),
        "32a": billing.npi,
        "32b": "",
        "33": _address_block(_provider_name(billing), billing.address),
        "33_phone": _phone(billing.contact_phone),
        "33a": billing.npi,
        "33b": f"ZZ{billing.taxonomy}" if billing.taxonomy else "",
    }


# --- HTML ------------------------------------------------------------------------------------

_CSS = """
*{box-sizing:border-box}
body{margin:0;background:#eee;font:12px/1.25 "Helvetica Neue",Arial,sans-serif;color:#000}
.page{width:8.5in;min-height:11in;margin:16px auto;padding:.35in .4in;background:#fff;
  box-shadow:0 1px 4px rgba(0,0,0,.3)}
.page+.page{break-before:page;page-break-before:always}
header.form{display:flex;justify-content:space-between;align-items:flex-end;border-bottom:2px solid #b00;
  padding-bottom:4px;margin-bottom:6px}
header.form h1{margin:0;font-size:18px;letter-spacing:.04em;color:#b00}
header.form .sub{font-size:9px;color:#b00}
.carrier{font-size:12px;text-align:right}
.pageno{font-size:10px;color:#444}
section{border:1px solid #b00;margin-bottom:6px}
section>h2{margin:0;padding:1px 4px;font-size:9px;background:#b00;color:#fff;letter-spacing:.05em}
.grid{display:grid;grid-template-columns:repeat(12,1fr)}
.cell{border-right:1px solid #e3a3a3;border-bottom:1px solid #e3a3a3;padding:2px 4px;min-height:30px}
.cell .lbl{display:block;font-size:8px;color:#b00;text-transform:uppercase}
.cell .lbl b{font-weight:700;margin-right:3px}
.cell .val{display:block;font-family:"Courier New",Courier,monospace;font-size:12px;white-space:pre-line;
  text-transform:uppercase;word-break:break-word}
.s2{grid-column:span 2}.s3{grid-column:span 3}.s4{grid-column:span 4}.s5{grid-column:span 5}
.s6{grid-column:span 6}.s8{grid-column:span 8}.s12{grid-column:span 12}
.box{font-family:"Courier New",Courier,monospace;margin-right:8px;white-space:nowrap}
.dx{display:grid;grid-template-columns:repeat(4,1fr);gap:0 8px}
.dx span{font-family:"Courier New",Courier,monospace}
.dx i{font-style:normal;color:#b00;font-size:9px;margin-right:4px}
table.lines{width:100%;border-collapse:collapse;table-layout:fixed}
table.lines th{font-size:8px;color:#b00;font-weight:400;text-transform:uppercase;border:1px solid #e3a3a3;
  padding:2px;vertical-align:bottom}
table.lines th b{display:block;font-weight:700}
table.lines td{font-family:"Courier New",Courier,monospace;font-size:11px;border:1px solid #e3a3a3;
  height:26px;padding:2px 3px;text-align:center;white-space:nowrap;overflow:hidden}
table.lines td.money{text-align:right}
table.lines tr.empty td{color:transparent}
table.lines tr.shaded td{background:#fbe9e9;height:16px;font-size:10px;text-align:left}
@media print{
  @page{size:letter;margin:0}
  body{background:#fff}
  .page{margin:0;box-shadow:none;width:auto;min-height:auto}
  section,table.lines tr{break-inside:avoid}
}
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _cell(item: str, label: str, value: str | list[str], span: int = 3) -> str:
    text = "\n".join(value) if isinstance(value, list) else value
    return (
        f'<div class="cell s{span}"><span class="lbl"><b>{_e(item)}.</b>{_e(label)}</span>'
        f'<span class="val">{_e(text)}</span></div>'
    )


def _boxes(options: tuple[str, ...], chosen: str) -> str:
    return "".join(f'<span class="box">{"☒" if o == chosen else "☐"} {_e(o)}</span>' for o in options)


def _box_cell(item: str, label: str, options: tuple[str, ...], chosen: str, span: int, extra: str = "") -> str:
    return (
        f'<div class="cell s{span}"><span class="lbl"><b>{_e(item)}.</b>{_e(label)}</span>'
        f'<span class="val">{_boxes(options, chosen)}{_e(extra)}</span></div>'
    )


def _city_line(f: Fields, item: str) -> str:
    city, state, zip_code = f[f"{item}_city"], f[f"{item}_state"], f[f"{item}_zip"]
    if not (city or state or zip_code):
        return ""
    return f"{city}, {state} {zip_code}".strip()


def _header(claim: Claim, f: Fields, page: int, pages: int) -> str:
    carrier = f"{claim.payer.name}\nPayer ID {claim.payer.payer_id}" if claim.payer.payer_id else claim.payer.name
    return (
        '<header class="form"><div><h1>HEALTH INSURANCE CLAIM FORM</h1>'
        '<div class="sub">APPROVED BY NATIONAL UNIFORM CLAIM COMMITTEE (NUCC) 02/12</div>'
        f'<div class="pageno">Page {page} of {pages}</div></div>'
        f'<div class="carrier" style="white-space:pre-line">{_e(carrier)}</div></header>'
    )


def _patient_section(f: Fields) -> str:
    cells = [
        _box_cell("1", "Insurance type", INSURANCE_TYPES, f["1"], 8),
        _cell("1a", "Insured's I.D. number", f["1a"], 4),
        _cell("2", "Patient's name (last, first)", f["2"], 5),
        _cell("3", "Patient's birth date / sex", f"{f['3']}   {f['3_sex']}", 3),
        _cell("4", "Insured's name (last, first)", f["4"], 4),
        _cell("5", "Patient's address", [f["5"], _city_line(f, "5")], 5),
        _box_cell("6", "Patient relationship to insured", RELATIONSHIPS, f["6"], 3),
        _cell("7", "Insured's address", [f["7"], _city_line(f, "7")], 4),
        _cell("8", "Reserved for NUCC use", f["8"], 5),
        _cell("9", "Other insured's name", f["9"], 3),
        _cell("11", "Insured's policy group or FECA number", f["11"], 4),
        _cell("9a", "Other insured's policy or group number", f["9a"], 3),
        _box_cell("10a", "Condition related to employment?", ("YES", "NO"), f["10a"], 2),
        _box_cell("10b", "Auto accident?", ("YES", "NO"), f["10b"], 2, f["10b_state"]),
        _box_cell("10c", "Other accident?", ("YES", "NO"), f["10c"], 1),
        _cell("11a", "Insured's date of birth / sex", f"{f['11a']}   {f['11a_sex']}", 4),
        _cell("9d", "Insurance plan name or program name", f["9d"], 5),
        _cell("10d", "Claim codes (designated by NUCC)", f["10d"], 3),
        _cell("11b", "Other claim ID", f["11b"], 4),
        _cell("11c", "Insurance plan name or program name", f["11c"], 8),
        _box_cell("11d", "Is there another health benefit plan?", ("YES", "NO"), f["11d"], 4),
        _cell("12", "Patient's or authorized person's signature", f["12"], 8),
        _cell("13", "Insured's or authorized person's signature", f["13"], 4),
    ]
    return '<section><h2>PATIENT AND INSURED INFORMATION</h2><div class="grid">' + "".join(cells) + "</div></section>"


def _claim_section(f: Fields) -> str:
    dx = "".join(
        f"<span><i>{letter}.</i>{_e(code)}</span>" for letter, code in zip(DIAGNOSIS_LETTERS, f["21"], strict=True)
    )
    cells = [
        _cell("14", "Date of current illness, injury or pregnancy", f["14"], 4),
        _cell("15", "Other date", f["15"], 4),
        _cell("16", "Dates patient unable to work", f["16"], 4),
        _cell("17", "Name of referring provider or other source", f["17"], 4),
        _cell("17b", "NPI", f["17b"], 4),
        _cell("18", "Hospitalization dates related to current services", f["18"], 4),
        _cell("19", "Additional claim information", f["19"], 8),
        _box_cell("20", "Outside lab?", ("YES", "NO"), f["20"], 4),
        (
            '<div class="cell s12"><span class="lbl"><b>21.</b>Diagnosis or nature of illness or injury '
            f"(relate A-L to service line below, 24E) &nbsp; ICD Ind. {_e(f['21_ind'])}</span>"
            f'<div class="dx">{dx}</div></div>'
        ),
        _cell("22", "Resubmission code / original ref. no.", f"{f['22']}   {f['22_original_ref']}".strip(), 6),
        _cell("23", "Prior authorization number", f["23"], 6),
    ]
    return '<section><h2>CLAIM INFORMATION</h2><div class="grid">' + "".join(cells) + "</div></section>"


# (item, label, column width %)
_LINE_HEADS = (
    ("24A", "From MM DD YY", 9),
    ("", "To MM DD YY", 9),
    ("B", "Place of service", 6),
    ("C", "EMG", 5),
    ("D", "CPT/HCPCS", 9),
    ("", "Modifier", 12),
    ("E", "Diagnosis pointer", 8),
    ("F", "$ Charges", 10),
    ("G", "Days or units", 6),
    ("H", "EPSDT family plan", 6),
    ("I", "ID qual.", 6),
    ("J", "Rendering provider ID #", 14),
)


def _lines_section(lines: list[dict[str, Any]]) -> str:
    cols = "".join(f'<col style="width:{w}%">' for _, _, w in _LINE_HEADS)
    head = "".join(f"<th><b>{_e(n)}</b>{_e(label)}</th>" for n, label, _ in _LINE_HEADS)
    rows = []
    for n in range(LINES_PER_PAGE):
        if n < len(lines):
            line = lines[n]
            cells = [
                line["24A_from"],
                line["24A_to"],
                line["24B"],
                line["24C"],
                line["24D"],
                " ".join(line["24D_modifiers"]),
                line["24E"],
                line["24F"],
                line["24G"],
                line["24H"],
                line["24I"],
                line["24J"],
            ]
            tds = "".join(
                f'<td class="money">{_e(c)}</td>' if i == 7 else f"<td>{_e(c)}</td>" for i, c in enumerate(cells)
            )
            if line["24_shaded"]:  # the shaded half of the line: the NDC
                rows.append(f'<tr class="shaded"><td colspan="{len(_LINE_HEADS)}">{_e(line["24_shaded"])}</td></tr>')
            rows.append(f'<tr data-line="{n + 1}">{tds}</tr>')
        else:
            rows.append('<tr class="empty">' + "<td>&nbsp;</td>" * len(_LINE_HEADS) + "</tr>")
    return (
        '<section><h2>24. SERVICE LINES</h2><table class="lines"><colgroup>'
        + cols
        + "</colgroup><thead><tr>"
        + head
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></section>"
    )


def _provider_section(f: Fields, total: str) -> str:
    cells = [
        _cell("25", "Federal tax I.D. number", f"{f['25']}   {f['25_type']}".strip(), 3),
        _cell("26", "Patient's account no.", f["26"], 3),
        _box_cell("27", "Accept assignment?", ("YES", "NO"), f["27"], 2),
        _cell("28", "Total charge", total, 2),
        _cell("29", "Amount paid", f["29"], 1),
        _cell("30", "Rsvd for NUCC use", f["30"], 1),
        _cell("31", "Signature of physician or supplier", [f["31"], f["31_name"]], 4),
        _cell("32", "Service facility location information", f["32"], 4),
        _cell("33", "Billing provider info & ph #", [*f["33"], f["33_phone"]], 4),
        _cell("31", "Date", f["31_date"], 4),
        _cell("32a", "NPI", f["32a"], 2),
        _cell("32b", "Other ID", f["32b"], 2),
        _cell("33a", "NPI", f["33a"], 2),
        _cell("33b", "Other ID", f["33b"], 2),
    ]
    return '<section><h2>PHYSICIAN OR SUPPLIER INFORMATION</h2><div class="grid">' + "".join(cells) + "</div></section>"


def render_cms1500_html(claim: Claim, *, signed_on: date | None = None) -> str:
    """A standalone printable HTML page of the CMS-1500 (one form page per 6 service lines; every
    value HTML-escaped; no external assets)."""
    pages: list[str] = []
    forms = cms1500_forms(claim, signed_on=signed_on)
    for f in forms:
        lines: list[dict[str, Any]] = f["24"]
        chunks = [lines[i : i + LINES_PER_PAGE] for i in range(0, len(lines), LINES_PER_PAGE)]
        for n, chunk in enumerate(chunks, start=1):
            total = f["28"] if n == len(chunks) else "CONTINUED"
            pages.append(
                f'<article class="page" data-page="{len(pages) + 1}" data-claim="{_e(f["26"])}">'
                + _header(claim, f, n, len(chunks))
                + _patient_section(f)
                + _claim_section(f)
                + _lines_section(chunk)
                + _provider_section(f, total)
                + "</article>"
            )
    title = f"CMS-1500 claim {forms[0]['26']}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_CSS}</style></head><body>" + "".join(pages) + "</body></html>\n"
    )
