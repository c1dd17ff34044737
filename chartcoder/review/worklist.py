"""The worklist: encounters filtered by status, date of service, payer, patient and claim status, in the
order asked for, one page at a time, each with its code counts and its newest claim (status, amount),
which is what a biller works from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from chartcoder.config import Settings
from chartcoder.review import views
from chartcoder.review.states import code_states
from chartcoder.store.accounts import User
from chartcoder.store.claims import ClaimRecord
from chartcoder.store.review import Encounter

# A claim's status as the biller's worklist shows it (docs/review-api.md, "Worklist").
CLAIM_STATUSES = ("not_built", "clean", "findings", "outdated", "sent_back")


@dataclass(frozen=True)
class Filters:
    status: str = "open"
    date_from: date | None = None
    date_to: date | None = None
    payer: str | None = None
    claim_status: str | None = None
    patient: str | None = None


def _latest_claim() -> Any:
    return (
        select(ClaimRecord.encounter_id, func.max(ClaimRecord.id).label("claim_id"))
        .group_by(ClaimRecord.encounter_id)
        .subquery()
    )


def _claim_condition(status: str, latest: Any) -> ColumnElement[bool]:
    finalized = Encounter.status == "finalized"
    current = ClaimRecord.encounter_version == Encounter.version
    if status == "not_built":
        return and_(finalized, latest.c.claim_id.is_(None))
    if status == "clean":
        return and_(finalized, current, ClaimRecord.clean.is_(True))
    if status == "findings":
        return and_(finalized, current, ClaimRecord.clean.is_(False))
    if status == "outdated":
        return and_(finalized, latest.c.claim_id.is_not(None), ClaimRecord.encounter_version != Encounter.version)
    return and_(Encounter.status == "open", Encounter.sent_back_at.is_not(None))  # sent_back


def _like(words: str) -> str:
    escaped = words.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filtered(f: Filters) -> Any:
    latest = _latest_claim()
    q: Any = (
        select(Encounter, ClaimRecord)
        .outerjoin(latest, latest.c.encounter_id == Encounter.id)
        .outerjoin(ClaimRecord, ClaimRecord.id == latest.c.claim_id)
    )
    if f.status != "all":
        q = q.where(Encounter.status == f.status)
    if f.date_from:
        q = q.where(Encounter.date_of_service >= f.date_from)
    if f.date_to:
        q = q.where(Encounter.date_of_service <= f.date_to)
    if f.payer:
        q = q.where(Encounter.payer_key == f.payer)
    if f.patient and f.patient.strip():
        q = q.where(Encounter.patient_key.like(_like(f.patient.strip()), escape="\\"))
    if f.claim_status:
        q = q.where(_claim_condition(f.claim_status, latest))
    return q


def _ordered(q: Any, order: str) -> Any:
    if order == "confidence":  # no suggestion at all is the least confident of all
        return q.order_by(Encounter.confidence.is_not(None), Encounter.confidence, Encounter.created_at, Encounter.id)
    if order == "uncertainty":  # active learning: most to learn first; no suggestion at all first of all
        return q.order_by(
            Encounter.uncertainty.is_not(None), Encounter.uncertainty.desc(), Encounter.created_at, Encounter.id
        )
    if order == "date":
        return q.order_by(Encounter.date_of_service.is_(None), Encounter.date_of_service.desc(), Encounter.id)
    return q.order_by(Encounter.created_at, Encounter.id)


def claim_status(enc: Encounter, claim: ClaimRecord | None) -> str | None:
    """Where the encounter stands for billing; None while it is being coded (and was not sent back)."""
    if enc.status != "finalized":
        return "sent_back" if enc.sent_back_at is not None else None
    if claim is None:
        return "not_built"
    if claim.encounter_version != enc.version:
        return "outdated"
    return "clean" if claim.clean else "findings"


def claim_summary(enc: Encounter, claim: ClaimRecord | None) -> dict[str, Any]:
    total = (claim.claim or {}).get("total_charge") if claim is not None else None
    return {
        "status": claim_status(enc, claim),
        "id": claim.id if claim is not None else None,
        "total_charge": str(total) if total is not None else None,
        "built_at": claim.created_at.isoformat() if claim is not None else None,
    }


def page(
    s: Session, f: Filters, order: str, limit: int, offset: int, settings: Settings, claims: bool = True
) -> dict[str, Any]:
    """One page of the worklist; each item's claim only when `claims` (the caller may read claims)."""
    q = _filtered(f)
    total = int(s.scalar(select(func.count()).select_from(q.order_by(None).subquery())) or 0)
    rows = list(s.execute(_ordered(q, order).limit(limit).offset(offset)).tuples())
    ids = [e.id for e, _ in rows]
    sets = views.latest_sets(s, ids)
    decisions = views.decisions_of(s, ids)
    senders = {e.sent_back_by for e, _ in rows if e.sent_back_by is not None}
    names = {u.id: u.username for u in s.scalars(select(User).where(User.id.in_(senders)))}
    items = []
    for e, claim in rows:
        codes = code_states(sets.get(e.id), decisions.get(e.id, []), settings=settings)
        item = views.summary(e, names)
        item["n_suggestions"] = len(sets[e.id].suggestions) if e.id in sets else 0
        item["n_pending"] = sum(1 for c in codes if c["state"] == "pending")
        item["n_decided"] = sum(1 for c in codes if c["state"] != "pending")
        if claims:
            item["claim"] = claim_summary(e, claim)
        items.append(item)
    return {"items": items, "total": total}
