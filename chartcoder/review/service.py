"""The review workflow over the store: encounters with their stored suggestions, coders' decisions
under optimistic locking, finalization, the audit trail and the retraining export. Each concern has its
module (`states`, `decisions`, `views`, `export`); this class holds the transactions. The API and the
CLI call it; nothing here knows about HTTP."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from chartcoder import metrics
from chartcoder.accounts.audit import record
from chartcoder.accounts.principal import Principal
from chartcoder.accounts.service import AccountService
from chartcoder.config import Settings
from chartcoder.domain.encounter import Encounter as NoteContext
from chartcoder.domain.encounter import Setting
from chartcoder.domain.errors import ConflictError, InvalidInputError
from chartcoder.domain.uncertainty import uncertainty
from chartcoder.review import export, views
from chartcoder.review.decisions import MAX_BATCH, DecisionIn, apply_decisions
from chartcoder.review.states import code_states
from chartcoder.store.base import utcnow
from chartcoder.store.database import ReviewStore
from chartcoder.store.review import Encounter, SuggestionSet


class ReviewService:
    """Everything a coder, an EHR or an admin does to the review store."""

    def __init__(self, store: ReviewStore, settings: Settings, suggester: Callable[[], Any] | None = None) -> None:
        self.store = store
        self.accounts = AccountService(store, settings)
        self.settings = settings
        self._suggester = suggester

    # -- encounters ------------------------------------------------------------------------------
    def create_encounter(self, data: dict[str, Any], actor: Principal) -> dict[str, Any]:
        text = data["text"]
        setting: Setting = "inpatient" if data.get("setting") == "inpatient" else "outpatient"
        dos: date | None = data.get("date_of_service")
        patient = {k: v for k, v in (data.get("patient") or {}).items() if v is not None}
        context = NoteContext(
            setting=setting,
            sex=patient.get("sex") if patient.get("sex") in ("F", "M") else None,
            age=views.age(patient, dos),
            date=dos.isoformat() if dos else None,
        )
        service = self._suggester() if self._suggester else None
        if service is None:
            raise ConflictError("the suggestion engine is not loaded yet; try again shortly", "not_ready")
        result = service.suggest(text, context, self.settings.default_top_k)
        suggestions = result.to_dict()["suggestions"]
        payer = {k: v for k, v in (data.get("payer") or {}).items() if v is not None}
        now = utcnow()
        with self.store.session() as s:
            enc = Encounter(
                id="enc_" + secrets.token_hex(12),
                external_id=data.get("external_id"),
                note_text=text,
                setting=setting,
                date_of_service=dos,
                patient=patient,
                provider={k: v for k, v in (data.get("provider") or {}).items() if v is not None},
                payer=payer,
                payer_key=str(payer.get("id") or payer.get("name") or "") or None,
                status="open",
                confidence=max((x["score"] for x in suggestions), default=None),
                uncertainty=uncertainty(x["score"] for x in suggestions),
                created_by=actor.user_id,
                created_by_key=actor.key_id,
                created_at=now,
                updated_at=now,
            )
            s.add(enc)
            s.flush()
            sset = SuggestionSet(
                encounter_id=enc.id,
                model=result.model,
                code_set_release=_release(),
                suggestions=suggestions,
                created_at=now,
            )
            s.add(sset)
            s.flush()
            record(s, actor, "encounter.created", enc.id, {"setting": setting, "version": enc.version})
            record(
                s,
                actor,
                "suggestions.stored",
                enc.id,
                {
                    "suggestion_set": sset.id,
                    "model": sset.model,
                    "code_set_release": sset.code_set_release,
                    "codes": [x["code"] for x in suggestions],
                },
            )
            return views.encounter_view(s, enc, self.settings)

    def get_encounter(self, encounter_id: str) -> dict[str, Any]:
        with self.store.session(write=False) as s:
            return views.encounter_view(s, views.load(s, encounter_id), self.settings)

    def worklist(
        self,
        status: str = "open",
        date_from: date | None = None,
        date_to: date | None = None,
        payer: str | None = None,
        order: str = "confidence",
        limit: int = 50,
        offset: int = 0,
    ) -> dict[str, Any]:
        q = select(Encounter)
        if status != "all":
            q = q.where(Encounter.status == status)
        if date_from:
            q = q.where(Encounter.date_of_service >= date_from)
        if date_to:
            q = q.where(Encounter.date_of_service <= date_to)
        if payer:
            q = q.where(Encounter.payer_key == payer)
        if order == "confidence":  # no suggestion at all is the least confident of all
            q = q.order_by(Encounter.confidence.is_not(None), Encounter.confidence, Encounter.created_at, Encounter.id)
        elif order == "uncertainty":  # active learning: most to learn first; no suggestion at all first of all
            q = q.order_by(
                Encounter.uncertainty.is_not(None), Encounter.uncertainty.desc(), Encounter.created_at, Encounter.id
            )
        elif order == "date":
            q = q.order_by(Encounter.date_of_service.is_(None), Encounter.date_of_service.desc(), Encounter.id)
        else:
            q = q.order_by(Encounter.created_at, Encounter.id)
        with self.store.session(write=False) as s:
            total = int(s.scalar(select(func.count()).select_from(q.order_by(None).subquery())) or 0)
            rows = list(s.scalars(q.limit(limit).offset(offset)))
            ids = [e.id for e in rows]
            sets = views.latest_sets(s, ids)
            decisions = views.decisions_of(s, ids)
            items = []
            for e in rows:
                codes = code_states(sets.get(e.id), decisions.get(e.id, []), settings=self.settings)
                item = views.summary(e)
                item["n_suggestions"] = len(sets[e.id].suggestions) if e.id in sets else 0
                item["n_pending"] = sum(1 for c in codes if c["state"] == "pending")
                item["n_decided"] = sum(1 for c in codes if c["state"] != "pending")
                items.append(item)
            return {"items": items, "total": total}

    def decide(self, encounter_id: str, version: int, batch: Sequence[DecisionIn], actor: Principal) -> dict[str, Any]:
        if not batch:
            raise InvalidInputError("'decisions' is empty; send at least one decision.")
        if len(batch) > MAX_BATCH:
            raise InvalidInputError(f"'decisions' holds {len(batch)} decisions; send at most {MAX_BATCH} at once.")
        answer = self._change(
            encounter_id, version, actor, lambda s, enc: apply_decisions(s, enc, batch, actor, self.settings)
        )
        metrics.decisions_made(d.action for d in batch)  # counted once stored
        return answer

    def finalize(self, encounter_id: str, version: int, actor: Principal) -> dict[str, Any]:
        def run(s: Session, enc: Encounter) -> None:
            codes = code_states(
                views.latest_sets(s, [enc.id]).get(enc.id),
                views.decisions_of(s, [enc.id]).get(enc.id, []),
                settings=self.settings,
            )
            coded = [c for c in codes if c["state"] in ("accepted", "added")]
            if not coded:
                raise InvalidInputError("nothing to finalize: accept or add at least one code first.")
            enc.status = "finalized"
            enc.finalized_at = utcnow()
            enc.finalized_by = actor.user_id
            record(
                s,
                actor,
                "encounter.finalized",
                enc.id,
                {"version": version + 1, "codes": [f"{c['system']}:{c['code']}" for c in coded]},
            )

        return self._change(encounter_id, version, actor, run)

    def reopen(self, encounter_id: str, version: int, reason: str, actor: Principal) -> dict[str, Any]:
        reason = (reason or "").strip()
        if not reason:
            raise InvalidInputError("'reason' is required to reopen a finalized encounter.")

        def run(s: Session, enc: Encounter) -> None:
            enc.status = "open"
            enc.finalized_at = None
            enc.finalized_by = None
            record(s, actor, "encounter.reopened", enc.id, {"version": version + 1, "reason": reason[:500]})

        return self._change(encounter_id, version, actor, run, allow_finalized=True, need_finalized=True)

    def audit_trail(self, encounter_id: str) -> list[dict[str, Any]]:
        with self.store.session(write=False) as s:
            return views.audit_trail(s, encounter_id)

    # -- audited charts (the retraining export) --------------------------------------------------
    def count_finalized(self, since: date | None = None, until: date | None = None) -> int:
        with self.store.session(write=False) as s:
            return export.count_finalized(s, since, until)

    def iter_audited(
        self, since: date | None = None, until: date | None = None, batch: int = 200
    ) -> Iterator[tuple[dict[str, Any], int]]:
        """Finalized encounters as audited charts (chartcoder/review/export.py)."""
        return export.audited_charts(self.store, self.settings, since, until, batch)

    # -- internals -------------------------------------------------------------------------------
    def _change(
        self,
        encounter_id: str,
        version: int,
        actor: Principal,
        run: Callable[[Session, Encounter], None],
        allow_finalized: bool = False,
        need_finalized: bool = False,
    ) -> dict[str, Any]:
        """One versioned change: the encounter must be at `version`; the UPDATE itself carries
        `WHERE version = :version`, so of two writers racing from the same version exactly one wins
        and the other gets a 409, whatever the isolation level."""
        try:
            with self.store.session() as s:
                enc = views.load(s, encounter_id)
                if enc.version != version:
                    raise ConflictError(
                        f"encounter {encounter_id} is at version {enc.version}, not {version}: someone else "
                        "changed it; reload it and decide again",
                        "version_conflict",
                        enc.version,
                    )
                if need_finalized and enc.status != "finalized":
                    raise ConflictError(f"encounter {encounter_id} is not finalized", "not_finalized", enc.version)
                if enc.status == "finalized" and not allow_finalized:
                    raise ConflictError(
                        f"encounter {encounter_id} is finalized; reopen it (with a reason) to change its codes",
                        "encounter_finalized",
                        enc.version,
                    )
                run(s, enc)
                enc.updated_at = utcnow()
                s.flush()  # the versioned UPDATE
                return views.encounter_view(s, enc, self.settings)
        except StaleDataError:
            current = self._current_version(encounter_id)
            raise ConflictError(
                f"encounter {encounter_id} changed while this was being saved; reload it and decide again",
                "version_conflict",
                current,
            ) from None

    def _current_version(self, encounter_id: str) -> int | None:
        with self.store.session(write=False) as s:
            return s.scalar(select(Encounter.version).where(Encounter.id == encounter_id))


def _release() -> str:
    from chartcoder.codes.icd10cm import RELEASE

    return RELEASE if RELEASE.startswith("ICD-10-CM") else f"ICD-10-CM {RELEASE}"
