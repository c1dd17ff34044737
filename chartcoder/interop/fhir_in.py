"""FHIR R4 resources in: a `DocumentReference`, or a `Bundle` of them with the `Patient`,
`Encounter`, `Practitioner`, `Coverage` (and payer `Organization`) beside them, becomes the fields of
a review encounter (note text, setting, date of service, patient, provider, payer).

Resources are checked by `fhir.resources.R4B` (which validates structure and datatypes on
construction) and then read from the JSON itself, with checks `fhir.resources` does not make: base64
is decoded strictly (the library drops characters that are not base64 and decodes the rest), code
values we rely on are checked against their value sets, and NUL characters are refused anywhere.

Every problem is an `Issue` (FHIR OperationOutcome's severity, code, diagnostics, expression);
`FhirInputError` carries them all at once, so a sender fixes everything in one round. Note text
never appears in an issue.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from pydantic import ValidationError

from chartcoder.domain.errors import InvalidInputError, NoteTooLongError

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
# v3 ActCode encounter classes that are inpatient stays for coding (ICD-10-CM Section II rules);
# emergency, observation, short stay, pre-admission, home health and virtual visits are outpatient.
INPATIENT_CLASSES = {"IMP", "ACUTE", "NONAC"}
OUTPATIENT_CLASSES = {"AMB", "EMER", "FLD", "HH", "OBSENC", "PRENC", "SS", "VR"}
PLAIN_TYPES = ("text/plain", "text/markdown")
HTML_TYPES = ("text/html", "application/xhtml+xml")
READABLE = "text/plain or text/html"
# An HTML rendition may hold this many characters per character of note text: markup and the text. The
# API's body limit (4 bytes per note character) is the same allowance.
HTML_ALLOWANCE = 4
SKIPPED_STATUSES = {"entered-in-error", "superseded"}
DOC_STATUSES = {"current", "superseded", "entered-in-error"}
TOP_LEVEL = ("DocumentReference", "Bundle")
USED_TYPES = ("DocumentReference", "Bundle", "Patient", "Encounter", "Practitioner", "Coverage", "Organization")
_GENDER = {"male": "M", "female": "F", "other": "U", "unknown": "U"}
_STATES = re.compile(r"^[A-Z]{2}$")
_ZIP = re.compile(r"^[0-9]{5}(-?[0-9]{4})?$")

Kind = Literal["invalid", "unprocessable", "no_note"]


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome.issue: `severity` error|warning, `code` a FHIR IssueType (invalid,
    required, value, structure, not-supported, too-long, processing), where it is (a FHIRPath)."""

    severity: str
    code: str
    diagnostics: str
    expression: str | None = None

    def to_fhir(self) -> dict[str, Any]:
        out: dict[str, Any] = {"severity": self.severity, "code": self.code, "diagnostics": self.diagnostics}
        if self.expression:
            out["expression"] = [self.expression]
        return out


class FhirInputError(InvalidInputError):
    """Resources we cannot take, with every reason. `kind`: `invalid` (malformed: not FHIR, fails
    validation, bad base64), `unprocessable` (valid FHIR that holds nothing we can read), `no_note`
    (no DocumentReference at all)."""

    def __init__(self, issues: list[Issue], kind: Kind = "invalid") -> None:
        self.issues = issues
        self.kind = kind
        super().__init__("; ".join(i.diagnostics + (f" (at {i.expression})" if i.expression else "") for i in issues))


@dataclass
class FhirChart:
    """What the resources say about one encounter, in the shape `ReviewService.create_encounter` takes."""

    text: str
    document_ids: list[str]
    setting: Literal["inpatient", "outpatient"] | None = None
    date_of_service: date | None = None
    external_id: str | None = None
    patient: dict[str, Any] = field(default_factory=dict)
    provider: dict[str, Any] = field(default_factory=dict)
    payer: dict[str, Any] = field(default_factory=dict)
    warnings: list[Issue] = field(default_factory=list)

    @property
    def note_sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    def encounter_data(self, default_setting: str = "outpatient") -> dict[str, Any]:
        return {
            "text": self.text,
            "external_id": self.external_id,
            "setting": self.setting or default_setting,
            "date_of_service": self.date_of_service,
            "patient": self.patient,
            "provider": self.provider,
            "payer": self.payer,
        }


@dataclass(frozen=True)
class Located:
    """A resource and where it sits in what was sent (a FHIRPath prefix)."""

    path: str
    resource: dict[str, Any]
    full_url: str | None = None

    @property
    def type(self) -> str:
        return str(self.resource.get("resourceType"))

    @property
    def id(self) -> str | None:
        rid = self.resource.get("id")
        return rid if isinstance(rid, str) else None

    @property
    def label(self) -> str:
        return f"{self.type}/{self.id}" if self.id else self.path


# -- checking ------------------------------------------------------------------------------------


def check_top_level(raw: Any) -> list[Located]:
    """The body of `POST /v1/fhir/encounters`: one DocumentReference or one Bundle, checked, as the
    list of resources it holds (a Bundle's entries, in order)."""
    if not isinstance(raw, dict):
        raise FhirInputError(
            [Issue("error", "structure", f"expected a FHIR resource (a JSON object); got {_json_type(raw)}")]
        )
    rtype = raw.get("resourceType")
    if rtype not in TOP_LEVEL:
        got = f"resourceType {rtype!r}" if isinstance(rtype, str) else "no resourceType"
        raise FhirInputError(
            [
                Issue(
                    "error",
                    "not-supported",
                    f"expected a DocumentReference or a Bundle holding DocumentReferences; got {got}",
                    "resourceType" if isinstance(rtype, str) else None,
                )
            ]
        )
    return checked([(str(rtype), raw)])


def checked(items: list[tuple[str, Any]]) -> list[Located]:
    """Validates each (path, resource) whose type chartcoder reads (others are passed over) and
    flattens Bundles into their entries. Raises FhirInputError with every problem found."""
    issues: list[Issue] = []
    out: list[Located] = []
    for path, raw in items:
        if not isinstance(raw, dict) or not isinstance(raw.get("resourceType"), str):
            continue  # a prefetch value that is not a resource (or was not satisfied): nothing to read
        _find_nul(raw, path, issues)
        if issues:
            continue
        rtype = raw["resourceType"]
        if rtype not in USED_TYPES:
            continue
        issues.extend(_validate(rtype, raw, path))
        if rtype == "Bundle":
            for i, entry in enumerate(raw.get("entry") or []):
                res = entry.get("resource") if isinstance(entry, dict) else None
                if isinstance(res, dict) and res.get("resourceType") in USED_TYPES:
                    if res.get("resourceType") == "Bundle":
                        continue  # bundles in bundles: not a shape EHRs send for notes
                    full_url = entry.get("fullUrl")
                    out.append(
                        Located(f"{path}.entry[{i}].resource", res, full_url if isinstance(full_url, str) else None)
                    )
        else:
            out.append(Located(path, raw))
    if issues:
        raise FhirInputError(issues)
    for loc in out:
        if loc.type == "DocumentReference":
            status = loc.resource.get("status")
            if status not in DOC_STATUSES:
                issues.append(
                    Issue(
                        "error",
                        "value",
                        f"DocumentReference.status must be one of {', '.join(sorted(DOC_STATUSES))}; got {status!r}",
                        f"{loc.path}.status",
                    )
                )
    if issues:
        raise FhirInputError(issues)
    return out


def _validate(rtype: str, raw: dict[str, Any], path: str) -> list[Issue]:
    from fhir.resources.R4B import get_fhir_model_class

    try:
        get_fhir_model_class(rtype).model_validate(raw)
    except ValidationError as exc:
        issues = []
        for e in exc.errors()[:50]:
            loc = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in e.get("loc", ()))
            loc = loc.replace(".[", "[")
            msg = str(e.get("msg", "invalid value"))
            if e.get("type") == "extra_forbidden":
                msg = "unknown element (not part of FHIR R4 " + rtype + ")"
            elif e.get("type") == "base64_decode":
                msg = f"attachment.data is not valid base64 ({_short(msg)})"
            issues.append(Issue("error", "invalid" if "required" not in msg else "required", msg, _join(path, loc)))
        return issues
    except Exception as exc:  # a shape the library trips over: still the sender's malformed input
        return [Issue("error", "structure", f"{rtype} could not be read ({type(exc).__name__})", path)]
    return []


def _find_nul(value: Any, path: str, issues: list[Issue]) -> None:
    """NUL characters and lone surrogates anywhere (PostgreSQL refuses both in text). Iterative: a
    deeply nested resource must not exhaust the stack."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack and not issues:
        item, where = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                issues.append(Issue("error", "invalid", problem, where))
        elif isinstance(item, dict):
            for k, v in item.items():
                if isinstance(k, str) and text_problem(k):
                    issues.append(Issue("error", "invalid", "an element name " + str(text_problem(k)), where))
                    break
                stack.append((v, f"{where}.{k}"))
        elif isinstance(item, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(item))


def text_problem(text: str) -> str | None:
    """Why `text` cannot be stored as text, or None."""
    if "\x00" in text:
        return "contains a NUL character; send plain text"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (a lone surrogate escape such as \\ud800)"
    return None


# -- reading -------------------------------------------------------------------------------------


def chart_from_resources(resources: list[Located], max_chars: int | None = None) -> FhirChart:
    """Note text and encounter facts from checked resources. The note is every readable
    DocumentReference (current ones; superseded and entered-in-error are left out), oldest first,
    one text attachment each (plain text preferred over HTML: a DocumentReference's attachments
    are renditions of the same document). With `max_chars` (the note limit), an attachment whose
    decoded size shows it is longer raises NoteTooLongError before it is decoded or parsed."""
    docs = [r for r in resources if r.type == "DocumentReference"]
    if not docs:
        raise FhirInputError(
            [
                Issue(
                    "error",
                    "required",
                    "no DocumentReference found: send the note as a DocumentReference whose "
                    f"content[].attachment holds base64 {READABLE} in 'data'",
                )
            ],
            kind="no_note",
        )
    warnings: list[Issue] = []
    errors: list[Issue] = []
    texts: list[tuple[str, str, str]] = []  # (date, label, text)
    for doc in docs:
        status = doc.resource.get("status")
        if status in SKIPPED_STATUSES:
            warnings.append(Issue("warning", "business-rule", f"{doc.label} is {status}: left out", doc.path))
            continue
        text = _document_text(doc, errors, max_chars)
        if text is not None:
            texts.append((str(doc.resource.get("date") or ""), doc.label, text))
    if errors:  # bad bytes are malformed input (400); a kind of document we cannot read is not (422)
        malformed = any(i.code in ("invalid", "structure") for i in errors)
        raise FhirInputError(errors, kind="invalid" if malformed else "unprocessable")
    if not texts:
        raise FhirInputError(
            [Issue("error", "required", "no current DocumentReference with a readable note")], kind="unprocessable"
        )
    texts.sort(key=lambda t: t[0])  # stable: documents without a date keep their order
    chart = FhirChart(
        text="\n\n".join(t[2] for t in texts),
        document_ids=[t[1] for t in texts],
        warnings=warnings,
    )
    _read_context(chart, resources, docs)
    return chart


def _too_long(what: str, size: str, limit: int, max_chars: int) -> NoteTooLongError:
    return NoteTooLongError(
        f"{what} is {size}; the limit is {limit:,} characters "
        f"(notes are limited to {max_chars:,} characters, CHARTCODER_MAX_NOTE_CHARS)."
    )


def _document_text(doc: Located, errors: list[Issue], max_chars: int | None = None) -> str | None:
    picked = _readable_attachment(doc, errors)
    if picked is None:
        return None
    i, att = picked
    where = f"{doc.path}.content[{i}].attachment"
    data = att.get("data")
    if not isinstance(data, str) or not data.strip():
        if att.get("url"):
            msg = (
                f"{doc.label} points at its text by url only; chartcoder does not fetch from the FHIR "
                "server: send the text base64 in attachment.data"
            )
        else:
            msg = f"{doc.label} has an empty attachment: send the note base64 in attachment.data"
        errors.append(Issue("error", "required", msg, f"{where}.data"))
        return None
    packed = "".join(data.split())
    html = str(att.get("contentType") or "").split(";")[0].strip().lower() in HTML_TYPES
    if max_chars is not None:
        # Sized before decoding and long before parsing: 210,000 characters of "<a" once cost 49 s of
        # HTML parsing before the note's length was checked. No charset takes more than 4 bytes a character.
        limit = max_chars * HTML_ALLOWANCE if html else max_chars
        size = len(packed) // 4 * 3
        if size - 2 > 4 * limit:
            raise _too_long(f"{doc.label}'s attachment", f"{size:,} bytes decoded", limit, max_chars)
    text = _decoded_attachment(packed, att, where, errors)
    if text is None:
        return None
    if "\x00" in text:
        errors.append(Issue("error", "invalid", "the note contains NUL characters; send plain text", f"{where}.data"))
        return None
    if max_chars is not None and len(text) > (limit := max_chars * HTML_ALLOWANCE if html else max_chars):
        raise _too_long(f"{doc.label}'s attachment", f"{len(text):,} characters", limit, max_chars)
    if html:
        text = html_to_text(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        errors.append(Issue("error", "required", f"{doc.label}'s note is empty", f"{where}.data"))
        return None
    return text


def _readable_attachment(doc: Located, errors: list[Issue]) -> tuple[int, dict[str, Any]] | None:
    """(index in content, attachment) of the document's best readable attachment: plain text before
    HTML, the first of each; None with an issue in `errors` when it has none."""
    content = doc.resource.get("content") or []
    readable: list[tuple[int, int, dict[str, Any]]] = []
    seen_types: list[str] = []
    for i, c in enumerate(content):
        att = c.get("attachment") or {}
        ctype = str(att.get("contentType") or "text/plain")  # an attachment without a type: assume text
        mime = ctype.split(";")[0].strip().lower()
        seen_types.append(mime)
        if mime in PLAIN_TYPES:
            readable.append((0, i, att))
        elif mime in HTML_TYPES:
            readable.append((1, i, att))
    if not readable:
        errors.append(
            Issue(
                "error",
                "not-supported",
                f"{doc.label} has no text attachment: contentType {', '.join(sorted(set(seen_types))) or 'none'} "
                f"is not supported; send {READABLE}, base64 in attachment.data",
                f"{doc.path}.content",
            )
        )
        return None
    _, i, att = min(readable, key=lambda t: (t[0], t[1]))
    return i, att


def _decoded_attachment(packed: str, att: dict[str, Any], where: str, errors: list[Issue]) -> str | None:
    """The attachment's base64 data decoded with its declared charset (a leading BOM dropped); None with
    an issue in `errors` when it is not base64 or not text in that charset."""
    try:
        raw = base64.b64decode(packed, validate=True)
    except (binascii.Error, ValueError) as exc:
        errors.append(
            Issue("error", "invalid", f"attachment.data is not valid base64 ({_short(str(exc))})", f"{where}.data")
        )
        return None
    ctype = str(att.get("contentType") or "text/plain")
    charset = _charset(ctype)
    try:
        text = raw.decode(charset)
    except LookupError:
        errors.append(Issue("error", "not-supported", f"unknown charset {charset!r}", f"{where}.contentType"))
        return None
    except UnicodeDecodeError:
        errors.append(
            Issue(
                "error",
                "invalid",
                f"the decoded attachment is not valid {charset} text; declare its charset in contentType "
                "(text/plain; charset=...)",
                f"{where}.data",
            )
        )
        return None
    return text.lstrip("\ufeff")


def _charset(content_type: str) -> str:
    for part in content_type.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"')
    return "utf-8"


def _read_context(chart: FhirChart, resources: list[Located], docs: list[Located]) -> None:
    by_ref = {f"{r.type}/{r.id}": r for r in resources if r.id}
    by_full = {r.full_url: r for r in resources if r.full_url}

    def pick(rtype: str, refs: list[Any]) -> Located | None:
        for ref in refs:
            target = ref.get("reference") if isinstance(ref, dict) else None
            if isinstance(target, str):
                found = by_ref.get(target) or by_full.get(target) or by_ref.get("/".join(target.split("/")[-2:]))
                if found is not None and found.type == rtype:
                    return found
        return next((r for r in resources if r.type == rtype), None)

    first = docs[0].resource
    context = first.get("context") or {}
    enc = pick("Encounter", list(context.get("encounter") or []))
    pat = pick("Patient", [first.get("subject")])
    authors = list(first.get("author") or [])
    if enc is not None:
        authors += [p.get("individual") for p in enc.resource.get("participant") or [] if isinstance(p, dict)]
    prac = pick("Practitioner", authors)
    cov = next((r for r in resources if r.type == "Coverage" and r.resource.get("status") != "entered-in-error"), None)

    if enc is not None:
        _encounter(chart, enc)
    elif isinstance(context.get("period"), dict) and context["period"].get("start"):
        chart.date_of_service = _date(context["period"]["start"])
    if chart.external_id is None:
        refs = [e.get("reference") for e in context.get("encounter") or [] if isinstance(e, dict)]
        ref = next((r for r in refs if isinstance(r, str)), None)
        chart.external_id = _clip(ref.split("/")[-1] if ref else None, 200, "encounter id", chart)
    if pat is not None:
        _patient(chart, pat)
    if prac is not None:
        _practitioner(chart, prac)
    if cov is not None:
        _coverage(chart, cov, pick)


def _encounter(chart: FhirChart, enc: Located) -> None:
    r = enc.resource
    cls = r.get("class") or {}
    code = str(cls.get("code") or "").upper()
    if code in INPATIENT_CLASSES:
        chart.setting = "inpatient"
    elif code in OUTPATIENT_CLASSES:
        chart.setting = "outpatient"
    elif code:
        chart.warnings.append(
            Issue(
                "warning",
                "code-invalid",
                f"Encounter.class {code!r} is not a v3 ActCode encounter class chartcoder knows; "
                "the setting is the default",
                f"{enc.path}.class",
            )
        )
    period = r.get("period") or {}
    if period.get("start"):
        chart.date_of_service = _date(period["start"])
    ident = next((i.get("value") for i in r.get("identifier") or [] if isinstance(i, dict) and i.get("value")), None)
    chart.external_id = _clip(ident or enc.id, 200, "Encounter identifier", chart)


def _patient(chart: FhirChart, pat: Located) -> None:
    r = pat.resource
    out: dict[str, Any] = {}
    mrn = None
    for ident in r.get("identifier") or []:
        codes = [c.get("code") for c in (ident.get("type") or {}).get("coding") or []]
        if "MR" in codes and ident.get("value"):
            mrn = ident["value"]
            break
    out["id"] = _clip(mrn or pat.id, 100, "Patient identifier", chart)
    out["name"] = _clip(_human_name(r.get("name")), 200, "Patient name", chart)
    gender = r.get("gender")
    if gender is not None:
        if gender in _GENDER:
            out["sex"] = _GENDER[gender]
        else:
            chart.warnings.append(
                Issue("warning", "code-invalid", f"Patient.gender {gender!r} is not male|female|other|unknown")
            )
    born = r.get("birthDate")
    if isinstance(born, str):
        if len(born) == 10:
            out["birth_date"] = born
        else:  # a partial date (1960, 1960-02): an age would be a guess
            chart.warnings.append(
                Issue("warning", "incomplete", "Patient.birthDate is a partial date; age is left unknown")
            )
    address = _address(r.get("address"))
    if address:
        out["address"] = address
    chart.patient = {k: v for k, v in out.items() if v is not None}


def _practitioner(chart: FhirChart, prac: Located) -> None:
    r = prac.resource
    npi = next(
        (i.get("value") for i in r.get("identifier") or [] if i.get("system") == NPI_SYSTEM and i.get("value")), None
    )
    out: dict[str, Any] = {"name": _clip(_human_name(r.get("name")), 200, "Practitioner name", chart)}
    if npi is not None:
        if re.fullmatch(r"\d{10}", str(npi)):
            out["npi"] = str(npi)
        else:
            chart.warnings.append(
                Issue(
                    "warning", "value", "the Practitioner's NPI is not 10 digits; left out", f"{prac.path}.identifier"
                )
            )
    chart.provider = {k: v for k, v in out.items() if v is not None}


def _coverage(chart: FhirChart, cov: Located, pick: Any) -> None:
    r = cov.resource
    out: dict[str, Any] = {"member_id": _clip(r.get("subscriberId"), 80, "Coverage.subscriberId", chart)}
    if out["member_id"] is None:
        for ident in r.get("identifier") or []:
            codes = [c.get("code") for c in (ident.get("type") or {}).get("coding") or []]
            if "MB" in codes and ident.get("value"):
                out["member_id"] = _clip(ident["value"], 80, "Coverage member id", chart)
    payors = list(r.get("payor") or [])
    org = pick("Organization", payors) if payors else None
    if org is not None:
        out["name"] = _clip(org.resource.get("name"), 200, "payer name", chart)
        ident = next((i.get("value") for i in org.resource.get("identifier") or [] if i.get("value")), None)
        out["id"] = _clip(ident, 80, "payer identifier", chart)
    elif payors and isinstance(payors[0], dict):
        out["name"] = _clip(payors[0].get("display"), 200, "payer name", chart)
        ident = (payors[0].get("identifier") or {}).get("value")
        out["id"] = _clip(ident, 80, "payer identifier", chart)
    chart.payer = {k: v for k, v in out.items() if v is not None}


def _address(addresses: Any) -> dict[str, Any] | None:
    for a in addresses or []:
        lines = [str(x) for x in a.get("line") or []]
        city, state, zip_code = a.get("city"), a.get("state"), a.get("postalCode")
        if (
            lines
            and 0 < len(lines[0]) <= 55
            and isinstance(city, str)
            and 0 < len(city) <= 30
            and isinstance(state, str)
            and _STATES.match(state)
            and isinstance(zip_code, str)
            and _ZIP.match(zip_code)
        ):
            out: dict[str, Any] = {"line1": lines[0], "city": city, "state": state, "zip": zip_code.replace("-", "")}
            if len(lines) > 1 and len(lines[1]) <= 55:
                out["line2"] = lines[1]
            return out
    return None


def _human_name(names: Any) -> str | None:
    for n in names or []:
        if n.get("text"):
            return str(n["text"])
        parts = [*(n.get("given") or []), n.get("family") or ""]
        joined = " ".join(str(p) for p in parts if p).strip()
        if joined:
            return joined
    return None


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _clip(value: Any, limit: int, what: str, chart: FhirChart) -> str | None:
    if value is None or value == "":
        return None
    text = str(value)
    if len(text) > limit:
        chart.warnings.append(Issue("warning", "too-long", f"{what} is longer than {limit} characters; left out"))
        return None
    return text


def _join(path: str, loc: str) -> str:
    if not loc:
        return path
    return f"{path}{loc}" if loc.startswith("[") else f"{path}.{loc}"


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def _short(text: str) -> str:
    return text if len(text) <= 120 else text[:117] + "..."


class _TextOfHtml:
    """Text of an HTML note, as an lxml parser target: block elements and <br> become line breaks; script,
    style and head are dropped. libxml2 reads broken HTML in linear time (Python's html.parser took 33 s
    for 40,000 characters of "<a ", the square of the length)."""

    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "table", "ul", "ol", "pre"}

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.skip = 0

    def start(self, tag: str, attrib: Any) -> None:
        if tag in ("script", "style", "head"):
            self.skip += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def end(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCKS and tag != "br":  # <br> is one line break, however it is written
            self.parts.append("\n")

    def data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)

    def close(self) -> str:
        return "".join(self.parts)


def html_to_text(html: str) -> str:
    from lxml import etree

    target = _TextOfHtml()
    parser = etree.HTMLParser(target=target, recover=True, no_network=True, remove_comments=True, remove_pis=True)
    parser.feed(html)
    text: str = parser.close()
    lines = [" ".join(line.split()) for line in text.split("\n")]
    out: list[str] = []
    for line in lines:  # at most one empty line in a row
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def operation_outcome(issues: list[Issue]) -> dict[str, Any]:
    """The issues as a FHIR R4 OperationOutcome (validated by fhir.resources R4B)."""
    from fhir.resources.R4B.operationoutcome import OperationOutcome

    resource = OperationOutcome.model_validate(
        {"resourceType": "OperationOutcome", "issue": [i.to_fhir() for i in issues] or [_generic()]}
    )
    data: dict[str, Any] = resource.model_dump(mode="json", exclude_none=True)
    return data


def _generic() -> dict[str, Any]:
    return {"severity": "error", "code": "processing", "diagnostics": "the request could not be processed"}
