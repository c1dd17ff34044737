"""Coders' decisions on an encounter's codes: each checked against the closed sets and against the
codes the encounter holds, stored, and audited in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from chartcoder.accounts.audit import record
from chartcoder.accounts.principal import Principal
from chartcoder.config import Settings
from chartcoder.domain.code_systems import PROCEDURE_SYSTEMS, CodeSystem
from chartcoder.domain.errors import InvalidInputError
from chartcoder.review.states import ACTIONS, REASON_CODES, SYSTEMS, canonical, code_states
from chartcoder.review.views import decisions_of, latest_sets
from chartcoder.store.base import utcnow
from chartcoder.store.review import Decision, Encounter, SuggestionSet

MAX_BATCH = 200


@dataclass(frozen=True)
class DecisionIn:
    action: str
    code: str
    system: str
    reason: str | None = None
    note: str | None = None
    replaces: str | None = None
    # A CPT/HCPCS line's data, checked against the billing tables by the caller (the API's schema):
    # modifiers, units, service_date, pointers (ICD-10-CM codes), ndc, dose; None when nothing is set.
    line: dict[str, Any] | None = None


def apply_decisions(
    s: Session, enc: Encounter, batch: Sequence[DecisionIn], actor: Principal, settings: Settings
) -> None:
    """Check every decision of `batch`, then store and audit them all (one bad decision stores none)."""
    sset = latest_sets(s, [enc.id]).get(enc.id)
    history = decisions_of(s, [enc.id]).get(enc.id, [])
    known = {(c["system"], c["code"]): c for c in code_states(sset, history, settings=settings)}
    rows: list[Decision] = []
    for i, d in enumerate(batch):
        code, replaces = _checked(d, f"decisions[{i}]", known, settings)
        line = _line_checked(d, f"decisions[{i}]", settings)
        prior = known.get((d.system, code))
        rows.append(
            Decision(
                encounter_id=enc.id,
                suggestion_set_id=sset.id if sset else None,
                action=d.action,
                code=code,
                system=d.system,
                replaces=replaces,
                reason=d.reason,
                note=(d.note or None) and d.note[:500],
                score=prior["score"] if prior else None,
                line=line,
                user_id=actor.user_id,
                encounter_version=enc.version + 1,
                created_at=utcnow(),
            )
        )
        # Later decisions in the same batch see this one (a batch may add a code and reject it).
        known[(d.system, code)] = {"system": d.system, "code": code, "score": prior["score"] if prior else None}
    _check_pointers(code_states(sset, [*history, *rows], settings=settings))
    for row in rows:
        s.add(row)
        record(s, actor, f"decision.{row.action}", enc.id, _detail(row, sset))


def _line_checked(d: DecisionIn, where: str, settings: Settings) -> dict[str, Any] | None:
    """The line data as stored: only on CPT/HCPCS codes coded by accept, add or change; pointers
    written as the code set writes them (m1712 -> M17.12)."""
    if not d.line:
        return None
    if d.system not in PROCEDURE_SYSTEMS:
        raise InvalidInputError(f"{where}: line data ({', '.join(d.line)}) goes on CPT or HCPCS codes only.")
    if d.action == "reject":
        raise InvalidInputError(f"{where}: a rejected code has no line data; send it with accept, add or change.")
    line = dict(d.line)
    if "pointers" in line:
        line["pointers"] = [
            canonical(p, CodeSystem.ICD10CM, f"{where}.pointers", must_exist=False, settings=settings)
            for p in line["pointers"]
        ]
    return line


def _check_pointers(codes: Sequence[dict[str, Any]]) -> None:
    """Every coded CPT/HCPCS line points only at ICD-10-CM codes that are accepted or added, as the
    batch leaves the encounter (a batch that rejects a diagnosis a line points at must re-point it)."""
    coded = {c["code"] for c in codes if c["state"] in ("accepted", "added") and c["system"] == CodeSystem.ICD10CM}
    bad = [
        f"{c['code']} points at {', '.join(p for p in c['pointers'] if p not in coded)}"
        for c in codes
        if c["state"] in ("accepted", "added") and c.get("pointers") and not set(c["pointers"]) <= coded
    ]
    if bad:
        raise InvalidInputError(
            f"{'; '.join(bad)}: a line's pointers must name ICD-10-CM codes accepted or added on this "
            "encounter; accept or add the diagnosis, or send the line again with other pointers (same batch)."
        )


def _checked(
    d: DecisionIn, where: str, known: dict[tuple[str, str], dict[str, Any]], settings: Settings
) -> tuple[str, str | None]:
    """(the code, the code it replaces) as the code set writes them, or InvalidInputError saying why not."""
    if d.action not in ACTIONS:
        raise InvalidInputError(f"{where}.action must be one of {', '.join(ACTIONS)}; got {d.action!r}.")
    if d.system not in SYSTEMS:
        raise InvalidInputError(f"{where}.system must be one of {', '.join(SYSTEMS)}; got {d.system!r}.")
    code = canonical(d.code, d.system, where, must_exist=d.action in ("add", "change"), settings=settings)
    if d.reason is not None and d.reason not in REASON_CODES:
        raise InvalidInputError(f"{where}.reason must be one of {', '.join(sorted(REASON_CODES))}; got {d.reason!r}.")
    if d.action in ("reject", "change") and not d.reason:
        raise InvalidInputError(f"{where}: a {d.action} needs a 'reason' (GET /v1/review/reasons lists them).")
    replaces = None
    if d.action == "change":
        if not d.replaces:
            raise InvalidInputError(f"{where}: a change needs 'replaces', the code it replaces.")
        replaces = canonical(d.replaces, d.system, where, must_exist=False, settings=settings)
        if (d.system, replaces) not in known:
            raise InvalidInputError(f"{where}.replaces: {replaces} is neither suggested nor added here.")
    if d.action in ("accept", "reject") and (d.system, code) not in known:
        raise InvalidInputError(
            f"{where}: {code} is neither suggested nor added on this encounter; use action 'add' for a new code."
        )
    return code, replaces


def _detail(row: Decision, sset: SuggestionSet | None) -> dict[str, Any]:
    detail: dict[str, Any] = {"code": row.code, "system": row.system, "version": row.encounter_version}
    if row.reason:
        detail["reason"] = row.reason
    if row.note:
        detail["note"] = row.note
    if row.replaces:
        detail["replaces"] = row.replaces
    if row.score is not None:
        detail["score"] = row.score
    if row.line:
        detail["line"] = row.line
    if sset is not None:
        detail["model"] = sset.model
    return detail
