"""Synthetic FHIR R4 resources for the FHIR-in and CDS Hooks tests: notes as DocumentReferences
(base64 attachments), and the Patient, Encounter, Practitioner, Coverage and payer Organization an EHR
sends beside them. No real patient data."""

from __future__ import annotations

import base64
from typing import Any

OFFICE_NOTE = (
    "Established patient seen for follow-up.\n"
    "Assessment: Type 2 diabetes mellitus with diabetic chronic kidney disease stage 3b. Essential hypertension.\n"
    "Procedure: ECG performed for palpitations.\nTotal time 32 minutes.\n"
)
DISCHARGE_NOTE = (
    "DISCHARGE SUMMARY\n"
    "Hospital course: admitted with community acquired pneumonia, treated with intravenous antibiotics.\n"
    "Type 2 diabetes mellitus with diabetic chronic kidney disease stage 3b, insulin continued.\n"
    "Discharge diagnoses: pneumonia. Type 2 diabetes mellitus with diabetic chronic kidney disease stage 3b.\n"
)


def b64(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.b64encode(raw).decode()


def document_reference(
    text: str | None = None,
    *,
    rid: str = "note-1",
    content_type: str = "text/plain; charset=utf-8",
    data: str | None = None,
    status: str = "current",
    encounter: str | None = "Encounter/enc-1",
    patient: str | None = "Patient/pat-1",
    author: str | None = "Practitioner/prac-1",
    date: str = "2026-11-20T10:00:00Z",
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "id": rid,
        "status": status,
        "type": {"coding": [{"system": "http://loinc.org", "code": "11506-3", "display": "Progress note"}]},
        "date": date,
        "content": [
            {"attachment": {"contentType": content_type, "data": data if data is not None else b64(text or "")}}
        ],
    }
    if patient:
        doc["subject"] = {"reference": patient}
    if author:
        doc["author"] = [{"reference": author}]
    if encounter:
        doc["context"] = {"encounter": [{"reference": encounter}]}
    return doc


def patient() -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": "pat-1",
        "identifier": [
            {
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
                "system": "urn:example:mrn",
                "value": "MRN-0001",
            }
        ],
        "name": [{"family": "Testpatient", "given": ["Jane"]}],
        "gender": "female",
        "birthDate": "1958-03-14",
        "address": [{"line": ["1 Elm St"], "city": "Springfield", "state": "IL", "postalCode": "62701"}],
    }


def encounter(cls: str = "AMB", start: str = "2026-11-20T09:30:00Z") -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": "enc-1",
        "identifier": [{"system": "urn:example:visit", "value": "V-1001"}],
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": cls},
        "subject": {"reference": "Patient/pat-1"},
        "participant": [{"individual": {"reference": "Practitioner/prac-1"}}],
        "period": {"start": start, "end": start},
    }


def practitioner(npi: str = "1234567893") -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "id": "prac-1",
        "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": npi}],
        "name": [{"family": "Test", "given": ["Doctor"], "prefix": ["Dr"]}],
    }


def coverage() -> dict[str, Any]:
    return {
        "resourceType": "Coverage",
        "id": "cov-1",
        "status": "active",
        "subscriberId": "W123456789",
        "beneficiary": {"reference": "Patient/pat-1"},
        "payor": [{"reference": "Organization/payer-1"}],
    }


def payer() -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "id": "payer-1",
        "identifier": [{"system": "urn:example:payer-id", "value": "60054"}],
        "name": "Aetna",
    }


def bundle(*resources: dict[str, Any], kind: str = "collection") -> dict[str, Any]:
    entries = [
        {"fullUrl": f"urn:example:{r['resourceType']}/{r.get('id', i)}", "resource": r} for i, r in enumerate(resources)
    ]
    if kind == "searchset":
        for e in entries:
            e["search"] = {"mode": "match"}
        return {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}
    return {"resourceType": "Bundle", "type": kind, "entry": entries}
