"""The audit log's one writer: every change a principal makes is recorded in the same transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from chartcoder.accounts.principal import Principal
from chartcoder.store.audit import AuditEvent
from chartcoder.store.base import utcnow


def record(s: Session, actor: Principal | None, action: str, encounter_id: str | None, detail: dict[str, Any]) -> None:
    """Add an audit event to `s`. A static key (neither user nor stored key) is named in the detail."""
    if actor is not None and actor.user_id is None and actor.key_id is None:
        detail = {**detail, "via": actor.username}
    s.add(
        AuditEvent(
            at=utcnow(),
            actor_id=actor.user_id if actor else None,
            actor_key_id=actor.key_id if actor else None,
            encounter_id=encounter_id,
            action=action,
            detail=detail,
        )
    )
