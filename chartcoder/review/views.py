"""Encounters read out of the store as the API and the CLI show them: the summary of the worklist, the
whole encounter with its note, suggestions and code states, and the audit trail."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chartcoder.config import Settings
from chartcoder.domain.code_systems import CodeSystem
from chartcoder.domain.errors import NotFoundError
from chartcoder.review import locks
from chartcoder.review.states import code_states
from chartcoder.store.accounts import User
from chartcoder.store.audit import AuditEvent
from chartcoder.store.review import Decision, Encounter, SuggestionSet


def load(s: Session, encounter_id: str) -> Encounter:
    enc = s.get(Encounter, encounter_id) if len(encounter_id) <= 40 else None
    if enc is None:
        raise NotFoundError(f"no encounter with id {encounter_id!r}")
    return enc


def latest_sets(s: Session, ids: list[str]) -> dict[str, SuggestionSet]:
    if not ids:
        return {}
    out: dict[str, SuggestionSet] = {}
    for row in s.scalars(select(SuggestionSet).where(SuggestionSet.encounter_id.in_(ids)).order_by(SuggestionSet.id)):
        out[row.encounter_id] = row
    return out


def decisions_of(s: Session, ids: list[str]) -> dict[str, list[Decision]]:
    out: dict[str, list[Decision]] = {}
    if not ids:
        return out
    for row in s.scalars(select(Decision).where(Decision.encounter_id.in_(ids)).order_by(Decision.id)):
        out.setdefault(row.encounter_id, []).append(row)
    return out


def encounter_view(s: Session, enc: Encounter, settings: Settings) -> dict[str, Any]:
    sset = latest_sets(s, [enc.id]).get(enc.id)
    decisions = decisions_of(s, [enc.id]).get(enc.id, [])
    wanted = {d.user_id for d in decisions} | ({enc.sent_back_by} if enc.sent_back_by is not None else set())
    users = {u.id: u.username for u in s.scalars(select(User).where(User.id.in_(wanted)))}
    out = summary(enc, users)
    out["text"] = enc.note_text
    out["suggestion_set"] = (
        {
            "id": sset.id,
            "model": sset.model,
            "code_set_release": sset.code_set_release,
            "created_at": sset.created_at.isoformat(),
            "suggestions": sset.suggestions,
        }
        if sset
        else None
    )
    out["codes"] = code_states(sset, decisions, users, settings=settings)
    if enc.finalized_by is not None:
        finalizer = s.get(User, enc.finalized_by)
        out["finalized_by"] = finalizer.username if finalizer else None
    idle = timedelta(minutes=settings.chart_lock_idle_minutes)
    out["lock"] = locks.lock_view(locks.current(s, enc.id, idle))  # in EncounterOut's order
    out["diagnosis_order"] = diagnosis_order(enc, out["codes"])
    return out


def diagnosis_order(enc: Encounter, codes: list[dict[str, Any]]) -> list[str] | None:
    """The coder's diagnosis order among the diagnoses coded now (a code rejected since leaves it, and
    comes back to its place if coded again); None when the coder set none."""
    if enc.diagnosis_order is None:
        return None
    coded = {c["code"] for c in codes if c["system"] == CodeSystem.ICD10CM and c["state"] in ("accepted", "added")}
    return [c for c in enc.diagnosis_order if c in coded]


def summary(enc: Encounter, users: dict[int, str] | None = None) -> dict[str, Any]:
    """The encounter without its note and codes; `users` names the biller who sent it back."""
    sent_back = (
        {
            "by": (users or {}).get(enc.sent_back_by) if enc.sent_back_by is not None else None,
            "at": enc.sent_back_at.isoformat(),
            "reason": enc.sent_back_reason or "",
        }
        if enc.sent_back_at is not None
        else None
    )
    return {
        "id": enc.id,
        "external_id": enc.external_id,
        "status": enc.status,
        "version": enc.version,
        "setting": enc.setting,
        "date_of_service": enc.date_of_service.isoformat() if enc.date_of_service else None,
        "patient": enc.patient,
        "provider": enc.provider,
        "payer": enc.payer,
        "confidence": enc.confidence,
        "uncertainty": enc.uncertainty,
        "created_at": enc.created_at.isoformat(),
        "updated_at": enc.updated_at.isoformat(),
        "finalized_at": enc.finalized_at.isoformat() if enc.finalized_at else None,
        "finalized_by": None,
        "sent_back": sent_back,
    }


def audit_trail(s: Session, encounter_id: str) -> list[dict[str, Any]]:
    """Every audit event on an encounter, oldest first."""
    load(s, encounter_id)
    events = s.scalars(select(AuditEvent).where(AuditEvent.encounter_id == encounter_id).order_by(AuditEvent.id))
    return [_event_dict(e) for e in events]


def _event_dict(e: AuditEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": e.at.isoformat(),
        "actor": {"id": e.actor.id, "username": e.actor.username, "role": e.actor.role} if e.actor else None,
        "key_id": e.actor_key_id,
        "action": e.action,
        "detail": e.detail,
    }


def age(patient: dict[str, Any], dos: date | None) -> int | None:
    if isinstance(patient.get("age"), int):
        return int(patient["age"])
    born = patient.get("birth_date")
    if not born:
        return None
    try:
        b = date.fromisoformat(str(born))
    except ValueError:
        return None
    on = dos or date.today()
    return on.year - b.year - ((on.month, on.day) < (b.month, b.day))
