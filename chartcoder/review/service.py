"""The review workflow over the store: encounters with their stored suggestions, coders' decisions
under optimistic locking, finalization, the audit trail and the retraining export. Each concern has its
module (`states`, `decisions`, `views`, `export`); this class holds the transactions. The API and the
CLI call it; nothing here knows about HTTP."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
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
from chartcoder.review import edits, export, locks, views, worklist
from chartcoder.review.decisions import MAX_BATCH, DecisionIn, apply_decisions
from chartcoder.review.states import code_states
from chartcoder.store.audit import AuditEvent
from chartcoder.store.base import utcnow
from chartcoder.store.database import ReviewStore
from chartcoder.store.review import Encounter, SuggestionSet, patient_key


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
        # Every suggestion the engine makes (up to max_top_k), not the first default_top_k: a coder
        # reviewing the chart must be able to reach each one (the page lists them all).
        result = service.suggest(text, context, self.settings.max_top_k)
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
                patient_key=patient_key(patient),
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
        claim_status: str | None = None,
        patient: str | None = None,
        claims: bool = True,
    ) -> dict[str, Any]:
        """The worklist (chartcoder/review/worklist.py): filtered, ordered, one page; the claims
        only when `claims` (the caller may read them)."""
        with self.store.session(write=False) as s:
            return worklist.page(
                s,
                worklist.Filters(status, date_from, date_to, payer, claim_status, patient),
                order,
                limit,
                offset,
                self.settings,
                claims,
            )

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
            locks.drop(s, enc.id)  # the coding session is over (a query: before enc changes, one UPDATE)
            enc.status = "finalized"
            enc.finalized_at = utcnow()
            enc.finalized_by = actor.user_id
            enc.sent_back_at = enc.sent_back_by = enc.sent_back_reason = None
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

    def send_back(self, encounter_id: str, version: int, reason: str, actor: Principal) -> dict[str, Any]:
        """A biller sends a finalized encounter back to the coder: it is open again, with the reason
        shown on the encounter until it is finalized again."""
        reason = (reason or "").strip()
        if not reason:
            raise InvalidInputError("'reason' is required to send an encounter back: say what the coder should fix.")

        def run(s: Session, enc: Encounter) -> None:
            locks.drop(s, enc.id)  # a query: before enc changes, so the version moves by one UPDATE
            enc.status = "open"
            enc.finalized_at = None
            enc.finalized_by = None
            enc.sent_back_at = utcnow()
            enc.sent_back_by = actor.user_id
            enc.sent_back_reason = reason[:500]
            record(s, actor, "encounter.sent_back", enc.id, {"version": version + 1, "reason": reason[:500]})

        return self._change(
            encounter_id, version, actor, run, allow_finalized=True, need_finalized=True, check_lock=False
        )

    # -- the chart lock --------------------------------------------------------------------------
    def lock(self, encounter_id: str, actor: Principal, take_over: bool = False) -> dict[str, Any]:
        """Takes the encounter's chart lock (chartcoder/review/locks.py); 409 naming the holder."""
        for attempt in (1, 2):
            try:
                with self.store.session() as s:
                    enc = views.load(s, encounter_id)
                    if enc.status != "open":  # a finalized chart is reopened (or sent back), not held
                        raise ConflictError(
                            f"encounter {encounter_id} is {enc.status}; only an open encounter can be locked "
                            "(reopen it with a reason to code it again)",
                            "encounter_finalized",
                            enc.version,
                        )
                    return locks.take(s, encounter_id, actor, take_over, self._idle)
            except IntegrityError:  # two took a free lock at once: the second sees the first's
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def unlock(self, encounter_id: str, actor: Principal) -> None:
        with self.store.session() as s:
            views.load(s, encounter_id)
            locks.release(s, encounter_id, actor, self._idle)

    def set_diagnosis_order(
        self, encounter_id: str, version: int, order: Sequence[str] | None, actor: Principal
    ) -> dict[str, Any]:
        """The coder's diagnosis order (chartcoder/review/edits.py); the claim lists them so."""
        return self._change(
            encounter_id, version, actor, lambda s, enc: edits.set_diagnosis_order(s, enc, order, actor, self.settings)
        )

    def update_encounter(
        self, encounter_id: str, version: int, changes: dict[str, dict[str, Any]], actor: Principal
    ) -> dict[str, Any]:
        """Correct the patient, payer or providers, also once finalized (a biller fixing a member id)."""
        return self._change(
            encounter_id,
            version,
            actor,
            lambda s, enc: edits.update_details(s, enc, changes, actor),
            allow_finalized=True,
            check_lock=False,  # demographics and insurance are not the coding the chart lock guards
        )

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
    @property
    def _idle(self) -> timedelta:
        """How long a chart lock lasts without activity (chartcoder/review/locks.py)."""
        return timedelta(minutes=self.settings.chart_lock_idle_minutes)

    def _change(
        self,
        encounter_id: str,
        version: int,
        actor: Principal,
        run: Callable[[Session, Encounter], None],
        allow_finalized: bool = False,
        need_finalized: bool = False,
        check_lock: bool = True,
    ) -> dict[str, Any]:
        """One versioned change: the encounter must be at `version`; the UPDATE itself carries
        `WHERE version = :version`, so of two writers racing from the same version exactly one wins
        and the other gets a 409, whatever the isolation level."""
        try:
            with self.store.session() as s:
                enc = views.load(s, encounter_id)
                if check_lock:  # first: while someone else holds the chart, that is what to say
                    locks.check(s, encounter_id, actor, self._idle, enc.version)
                if enc.version != version:
                    raise _stale(s, encounter_id, enc.version, version)
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


# Audited events that leave the encounter's version as it was: a stale version was not their doing.
UNVERSIONED_ACTIONS = ("encounter.lock_taken_over", "suggestions.stored")


def _stale(s: Session, encounter_id: str, current: int, sent: int) -> ConflictError:
    """The 409 of a stale version, naming who changed the encounter last and when."""
    last = s.scalar(
        select(AuditEvent)
        .where(
            AuditEvent.encounter_id == encounter_id,
            AuditEvent.actor_id.is_not(None),
            AuditEvent.action.not_in(UNVERSIONED_ACTIONS),
            AuditEvent.action.not_like("claim.%"),  # building a claim reads the encounter, never changes it
        )
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    who = last.actor.username if last is not None and last.actor is not None else None
    at = last.at.isoformat() if last is not None else None
    by = "someone else changed it"
    if who and last is not None:
        by = f"{who} changed it ({last.action} at {last.at.strftime('%H:%M:%S UTC')})"
    return ConflictError(
        f"encounter {encounter_id} is at version {current}, not {sent}: {by}; reload it and decide again",
        "version_conflict",
        current,
        {"changed_by": who, "changed_at": at},
    )


def _release() -> str:
    from chartcoder.codes.icd10cm import RELEASE

    return RELEASE if RELEASE.startswith("ICD-10-CM") else f"ICD-10-CM {RELEASE}"
