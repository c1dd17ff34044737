"""The chart lock: who has an encounter open to code it, since when. A coder who opens an open
encounter on the review page takes its lock; a second coder sees who holds it and may take it over,
explicitly (the take-over is audited). While someone else holds the lock, decisions, finalizing and
reopening are refused with a 409 that names them. Finalizing, and a biller's send-back, release it;
only an open encounter can be locked, and a lock lapses once idle (neither taken nor the encounter
changed) for `chart_lock_idle_minutes`. Callers that never take a lock (API clients, scripts) are not
held up by a lock nobody holds."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chartcoder.accounts.audit import record
from chartcoder.accounts.principal import Principal
from chartcoder.domain.errors import ConflictError
from chartcoder.store.base import utcnow
from chartcoder.store.review import ChartLock, Encounter


def lock_view(lock: ChartLock | None) -> dict[str, Any] | None:
    if lock is None:
        return None
    return {
        "username": lock.user.username,
        "display_name": lock.user.display_name or lock.user.username,
        "since": lock.since.isoformat(),
    }


def _stored(s: Session, encounter_id: str) -> ChartLock | None:
    return s.scalar(select(ChartLock).where(ChartLock.encounter_id == encounter_id))


def _lapsed(s: Session, lock: ChartLock, idle: timedelta) -> bool:
    changed: datetime | None = s.scalar(select(Encounter.updated_at).where(Encounter.id == lock.encounter_id))
    last = max(lock.since, changed) if changed is not None else lock.since
    return utcnow() - last > idle


def current(s: Session, encounter_id: str, idle: timedelta) -> ChartLock | None:
    """The lock in force: none when nobody holds one or the holder's has lapsed (idle too long)."""
    lock = _stored(s, encounter_id)
    return None if lock is None or _lapsed(s, lock, idle) else lock


def _serialise(s: Session, encounter_id: str) -> None:
    """Holds the encounter's row (PostgreSQL: FOR UPDATE) until the transaction ends, so a lock check
    and a take-over of the same chart run one after the other: a change checked against the old holder
    cannot be saved after someone took the chart over. SQLite's writing transactions already queue."""
    s.execute(select(Encounter.id).where(Encounter.id == encounter_id).with_for_update())


def held_by_other(lock: ChartLock, encounter_id: str, version: int | None = None) -> ConflictError:
    name, username = lock.user.display_name, lock.user.username
    who = f"{name} ({username})" if name and name != username else username
    since = lock.since.strftime("%Y-%m-%d %H:%M UTC")
    return ConflictError(
        f"{who} has had encounter {encounter_id} open since {since}; take the chart over to work on it",
        "chart_locked",
        version,
        {"lock": lock_view(lock)},
    )


def check(s: Session, encounter_id: str, actor: Principal, idle: timedelta, version: int | None = None) -> None:
    """Refuses a change while another person holds the encounter's lock."""
    _serialise(s, encounter_id)
    lock = _stored(s, encounter_id)
    if lock is not None and _lapsed(s, lock, idle):
        s.delete(lock)  # nobody's now: the change about to be made must not revive it
        s.flush()
        return
    if lock is not None and lock.user_id != actor.user_id:
        raise held_by_other(lock, encounter_id, version)


def take(s: Session, encounter_id: str, actor: Principal, take_over: bool, idle: timedelta) -> dict[str, Any]:
    """Takes the lock for `actor` (a person) on an open encounter. Held by another: 409 unless
    `take_over`. A lapsed lock is nobody's."""
    assert actor.user_id is not None  # the route lets people only
    _serialise(s, encounter_id)
    lock = _stored(s, encounter_id)
    if lock is not None and _lapsed(s, lock, idle):
        s.delete(lock)
        s.flush()
        lock = None
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


def release(s: Session, encounter_id: str, actor: Principal, idle: timedelta) -> None:
    """Releases `actor`'s own lock; someone else's is not theirs to release (take it over instead)."""
    lock = _stored(s, encounter_id)
    if lock is None:
        return
    if lock.user_id != actor.user_id and _lapsed(s, lock, idle):
        s.delete(lock)  # lapsed: nobody's
        return
    if lock.user_id != actor.user_id:
        raise held_by_other(lock, encounter_id)
    s.delete(lock)


def drop(s: Session, encounter_id: str) -> None:
    """Whoever holds it: finalizing and sending back end the coding session."""
    lock = _stored(s, encounter_id)
    if lock is not None:
        s.delete(lock)
