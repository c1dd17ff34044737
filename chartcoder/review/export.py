"""The retraining export: finalized encounters as audited charts, the format `chartcoder train --format
jsonl` reads. Accepted and added codes are positives, rejected ones negatives; suggestions nobody
decided on are left out (no one said either way)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, literal, select, tuple_
from sqlalchemy.orm import Session

from chartcoder.config import Settings
from chartcoder.review.states import code_states
from chartcoder.review.views import age, decisions_of, latest_sets
from chartcoder.store.base import UTCDateTime
from chartcoder.store.database import ReviewStore
from chartcoder.store.review import Decision, Encounter, SuggestionSet


def count_finalized(s: Session, since: date | None = None, until: date | None = None) -> int:
    return int(s.scalar(select(func.count()).select_from(_finalized(since, until).subquery())) or 0)


def audited_charts(
    store: ReviewStore, settings: Settings, since: date | None = None, until: date | None = None, batch: int = 200
) -> Iterator[tuple[dict[str, Any], int]]:
    """Finalized encounters as audited charts, oldest finalization first: (chart, decisions behind
    it). A chart is `{"id", "text", "encounter", "codes": [{"code", "system", "decision"}]}`. The
    encounter context is what coding needs (setting, sex, age, date of service) and the model that
    made the suggestions; names, ids and addresses stay in the store."""
    after: tuple[datetime, str] | None = None  # keyset paging: a reopen mid-export shifts nothing
    while True:
        with store.session(write=False) as s:
            q = _finalized(since, until)
            if after is not None:
                q = q.where(
                    tuple_(Encounter.finalized_at, Encounter.id)
                    > tuple_(literal(after[0], UTCDateTime()), literal(after[1]))
                )
            rows = list(s.scalars(q.limit(batch)))
            if not rows:
                return
            last = rows[-1]
            assert last.finalized_at is not None
            after = (last.finalized_at, last.id)
            ids = [e.id for e in rows]
            sets = latest_sets(s, ids)
            decisions = decisions_of(s, ids)
            for e in rows:
                made = decisions.get(e.id, [])
                yield _chart(e, sets.get(e.id), made, settings), len(made)


def _chart(
    e: Encounter, sset: SuggestionSet | None, decisions: Sequence[Decision], settings: Settings
) -> dict[str, Any]:
    patient = e.patient or {}
    context = {
        "setting": e.setting,
        "sex": patient.get("sex"),
        "age": age(patient, e.date_of_service),
        "date": e.date_of_service.isoformat() if e.date_of_service else None,
        "model": sset.model if sset else None,
    }
    spans = {(x.get("system"), x.get("code")): x.get("evidence") or [] for x in (sset.suggestions if sset else [])}
    codes = []
    for c in code_states(sset, decisions, settings=settings):
        if c["state"] not in ("accepted", "added", "rejected"):
            continue
        row = {"code": c["code"], "system": c["system"], "decision": c["state"]}
        cited = cited_sentences(e.note_text, spans.get((c["system"], c["code"]), []))
        if c["state"] == "accepted" and cited:
            row["evidence"] = cited  # the sentences whose evidence the coder accepted
        codes.append(row)
    return {
        "id": e.id,
        "text": e.note_text,
        "encounter": {k: v for k, v in context.items() if v is not None},
        "codes": codes,
    }


def _finalized(since: date | None, until: date | None) -> Any:
    q = select(Encounter).where(Encounter.status == "finalized")
    if since:
        q = q.where(Encounter.finalized_at >= datetime.combine(since, datetime.min.time(), tzinfo=UTC))
    if until:  # inclusive: everything finalized on that day
        q = q.where(
            Encounter.finalized_at < datetime.combine(until + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        )
    return q.order_by(Encounter.finalized_at, Encounter.id)


def cited_sentences(text: str, evidence: list[dict[str, Any]]) -> list[str]:
    """The sentences (up to a full stop or a line end) holding each evidence span, once each, in note
    order: what the re-ranker mines terms from, as it does from CodiEsp's cited sentences."""
    out: list[str] = []
    for ev in sorted(evidence, key=lambda x: x.get("start", 0)):
        start, end = ev.get("start"), ev.get("end")
        if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start < end <= len(text):
            continue
        left = max(text.rfind("\n", 0, start), *(text.rfind(p, 0, start) for p in (". ", "? ", "! "))) + 1
        right = min((i for i in (text.find(p, end) for p in ("\n", ". ", "? ", "! ")) if i >= 0), default=len(text))
        sentence = text[left : right + 1].strip()
        if sentence and sentence not in out:
            out.append(sentence[:1000])
    return out
