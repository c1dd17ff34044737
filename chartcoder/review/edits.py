"""Changes to an encounter besides decisions: the coder's diagnosis order, and the details a claim
needs (patient, payer, providers) corrected after the encounter was created. Each runs inside the
service's versioned change and is audited there; the audit names the fields, never their values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from chartcoder.accounts.audit import record
from chartcoder.accounts.principal import Principal
from chartcoder.config import Settings
from chartcoder.domain.code_systems import CodeSystem
from chartcoder.domain.errors import InvalidInputError
from chartcoder.review.states import canonical, code_states
from chartcoder.review.views import decisions_of, latest_sets
from chartcoder.store.review import Encounter, patient_key

SECTIONS = ("patient", "payer", "provider")


def set_diagnosis_order(
    s: Session, enc: Encounter, order: Sequence[str] | None, actor: Principal, settings: Settings
) -> None:
    """Store the coder's order: accepted or added ICD-10-CM codes, each once; None clears it."""
    if order is None:
        enc.diagnosis_order = None
        record(s, actor, "encounter.diagnosis_order", enc.id, {"version": enc.version + 1, "order": None})
        return
    codes = [
        canonical(c, CodeSystem.ICD10CM, f"diagnosis_order[{i}]", must_exist=False, settings=settings)
        for i, c in enumerate(order)
    ]
    if repeated := sorted({c for c in codes if codes.count(c) > 1}):
        raise InvalidInputError(f"diagnosis_order names {', '.join(repeated)} more than once; name each code once.")
    states = code_states(
        latest_sets(s, [enc.id]).get(enc.id), decisions_of(s, [enc.id]).get(enc.id, []), settings=settings
    )
    coded = {c["code"] for c in states if c["system"] == CodeSystem.ICD10CM and c["state"] in ("accepted", "added")}
    if strays := [c for c in codes if c not in coded]:
        raise InvalidInputError(
            f"diagnosis_order names {', '.join(strays)}, not an accepted or added ICD-10-CM code on this encounter; "
            "accept or add it first."
        )
    enc.diagnosis_order = codes
    record(s, actor, "encounter.diagnosis_order", enc.id, {"version": enc.version + 1, "order": codes})


def update_details(s: Session, enc: Encounter, changes: Mapping[str, Mapping[str, Any]], actor: Principal) -> None:
    """Merge `changes` into the encounter's patient, payer and provider: a field given replaces the
    stored one (an object, like an address, whole), a field given as null removes it, a field left
    out stays."""
    if not any(changes.get(k) for k in SECTIONS):
        raise InvalidInputError("nothing to change: send at least one field of patient, payer or provider.")
    changed: list[str] = []
    for section in SECTIONS:
        given = changes.get(section) or {}
        if not given:
            continue
        merged = {**(getattr(enc, section) or {}), **given}
        setattr(enc, section, {k: v for k, v in merged.items() if v is not None})
        changed += [f"{section}.{k}" for k in given]
    payer = enc.payer or {}
    enc.payer_key = str(payer.get("id") or payer.get("name") or "") or None
    enc.patient_key = patient_key(enc.patient or {})
    record(s, actor, "encounter.updated", enc.id, {"version": enc.version + 1, "fields": sorted(changed)})
