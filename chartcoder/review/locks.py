"""The chart lock: who has an encounter open to code it, since when. A coder who opens an open
encounter on the review page takes its lock; a second coder sees who holds it and may take it over,
explicitly (the take-over is audited). While someone else holds the lock, decisions, finalizing and
reopening are refused with a 409 that names them. Finalizing, and a biller's send-back, release it.
Callers that never take a lock (API clients, scripts) are not held up by a lock nobody holds."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chartcoder.accounts.audit import record
from chartcoder.accounts.principal import Principal
from chartcoder.domain.errors import ConflictError
from chartcoder.store.base import utcnow
from chartcoder.store.review import ChartLock


def lock_view(lock: ChartLock | None) -> dict[str, Any] | None:
    if lock is None:
        return None
    return {
        "username": lock.user.username,
        "display_name": lock.user.display_name or lock.user.username,
        "since": lock.since.isoformat(),
    }


def current(s: Session, encounter_id: str) -> ChartLock | None:
    return s.scalar(select(ChartLock).where(ChartLock.encounter_id == encounter_id))


def held_by_other(lock: ChartLock, encounter_id: str, version: int | None = None) -> ConflictError:
    name, username = lock.user.display_name, lock.user.username
    who = f"{name} ({username})" if name and name != username else username
    since = lock.since.strftime("%Y-%m-%d %H:%M UTC")
    return ConflictError(
        f"{who} has had encounter {encounter_id} open since {since}; "
        "take the chart over to work on it",
        "chart_locked",
        version,
        {"lock": lock_view(lock)},
    )


def check(s: Session, encounter_id: str, actor: Principal, version: int | None = None) -> None:
    """Refuses a change while another person holds the encounter's lock."""
    lock = current(s, encounter_id)
    if lock is not None and lock.user_id != actor.user_id:
        raise held_by_other(lock, encounter_id, version)


def take(s: Session, encounter_id: str, actor: Principal, take_over: bool) -> dict[str, Any]:
    """Takes the lock for `actor` (a person). Held by another: 409 unless `take_over`."""
    assert actor.user_id is not None  # the route lets people only
    lock = current(s, encounter_id)
    previous = None
    if lock is not None and lock.user_id != actor.user_id:
        if not take_over:
            raise held_by_other(lock, encounter_id)
        previous = lock.user.username
        record(
            s,
            actor,
            "encounter.lock_taken_over",
            encounter_id,
            {"from": previous, "held_since": lock.since.isoformat()},
        )
        s.delete(lock)
        s.flush()
        lock = None
    if lock is None:
        lock = ChartLock(encounter_id=encounter_id, user_id=actor.user_id, since=utcnow())
        s.add(lock)
        s.flush()
        s.refresh(lock)
    return {"encounter_id": encounter_id, "lock": lock_view(lock), "taken_over_from": previous}


def release(s: Session, encounter_id: str, actor: Principal) -> None:
    """Releases `actor`'s own lock; someone else's is not theirs to release (take it over instead)."""
    lock = current(s, encounter_id)
    if lock is None:
        return
    if lock.user_id != actor.user_id:
        raise held_by_other(lock, encounter_id)
    s.delete(lock)


def drop(s: Session, encounter_id: str) -> None:
    """Whoever holds it: finalizing and sending back end the coding session."""
    lock = current(s, encounter_id)
    if lock is not None:
        s.delete(lock)
