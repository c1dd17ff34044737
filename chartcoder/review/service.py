"""The review workflow over the store: encounters with their stored suggestions, coders' decisions
under optimistic locking, finalization, the audit trail, and the users and keys behind them. The API
and the CLI call this; nothing here knows about HTTP."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, literal, select, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from chartcoder import metrics
from chartcoder.config import Settings
from chartcoder.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    UnknownCodeError,
)
from chartcoder.models.schema import Encounter as NoteContext
from chartcoder.models.schema import Setting
from chartcoder.review import auth
from chartcoder.review.auth import Principal
from chartcoder.review.db import make_engine, migrate, session_factory
from chartcoder.review.models import (
    ACTIONS,
    ROLES,
    ApiKey,
    AuditEvent,
    Decision,
    Encounter,
    SignInSession,
    SuggestionSet,
    User,
    UTCDateTime,
    utcnow,
)
from chartcoder.review.names import normalize_username, skeleton
from chartcoder.review.uncertainty import uncertainty

# Why a suggested code was turned down. Kept short and stable: the retraining export and the
# feedback analytics group by these codes.
REASONS: tuple[tuple[str, str], ...] = (
    ("not_documented", "Not documented in the note"),
    ("negated", "Negated or ruled out"),
    ("history_only", "History only, not current"),
    ("uncertain_outpatient", "Uncertain diagnosis (outpatient: code the sign or symptom)"),
    ("more_specific_code", "A more specific code applies"),
    ("wrong_laterality", "Wrong side or site"),
    ("header_not_billable", "Header code, not billable"),
    ("excludes1_conflict", "Excludes1 conflict with another code"),
    ("duplicate", "Duplicate of another code"),
    ("not_billable_for_encounter", "Not reportable for this encounter"),
    ("other", "Other (see note)"),
)
REASON_CODES = frozenset(code for code, _ in REASONS)
MAX_BATCH = 200
SYSTEMS = ("ICD-10-CM", "CPT", "HCPCS", "ICD-10-PCS")


@dataclass(frozen=True)
class DecisionIn:
    action: str
    code: str
    system: str
    reason: str | None = None
    note: str | None = None
    replaces: str | None = None


class ReviewStore:
    """The database behind review: one engine, migrated on open."""

    def __init__(self, url: str, run_migrations: bool = True) -> None:
        self.url = url
        self.engine: Engine = make_engine(url)
        if run_migrations:
            migrate(self.engine)
        self.readers = session_factory(self.engine)
        self.writers = session_factory(self.engine.execution_options(sqlite_immediate=True))

    @contextmanager
    def session(self, write: bool = True) -> Iterator[Session]:
        """One transaction. `write=False` for reads: on SQLite they do not queue behind writers."""
        with (self.writers if write else self.readers)() as s, s.begin():
            yield s

    def dispose(self) -> None:
        self.engine.dispose()


class ReviewService:
    """Everything a coder, an EHR or an admin does to the review store."""

    def __init__(self, store: ReviewStore, settings: Settings, suggester: Callable[[], Any] | None = None) -> None:
        self.store = store
        self.settings = settings
        self._suggester = suggester

    # -- people and keys -------------------------------------------------------------------------
    def create_user(
        self, username: str, password: str, role: str, display_name: str | None = None, actor: Principal | None = None
    ) -> dict[str, Any]:
        username = normalize_username(username)  # NFKC, case-folded: 'Admin' and 'ａｄｍｉｎ' are 'admin'
        if (
            not username
            or len(username) > 64
            or not username.replace("_", "").replace("-", "").replace(".", "").isalnum()
        ):
            raise InvalidInputError("'username' must be 1-64 letters, digits, '.', '_' or '-'.")
        _check_role(role)
        _check_password(password)
        looks = skeleton(username)
        with self.store.session() as s:
            for (existing,) in s.execute(select(User.username)):
                if normalize_username(existing) == username:
                    raise ConflictError(f"a user named {existing!r} already exists", "user_exists")
                if skeleton(existing) == looks:
                    raise ConflictError(
                        f"{username!r} looks like the existing user {existing!r} (letters from another "
                        "alphabet or look-alike characters); choose a name that reads differently",
                        "username_confusable",
                    )
            user = User(
                username=username,
                display_name=(display_name or username).strip()[:128],
                role=role,
                password_hash=auth.hash_password(password),
                active=True,
            )
            s.add(user)
            s.flush()
            self._audit(s, actor, "user.created", None, {"user": username, "role": role})
            return _user_dict(user)

    def list_users(self) -> list[dict[str, Any]]:
        with self.store.session(write=False) as s:
            return [_user_dict(u) for u in s.scalars(select(User).order_by(User.id))]

    def get_user(self, user_id: int) -> dict[str, Any]:
        with self.store.session(write=False) as s:
            user = s.get(User, user_id)
            if user is None:
                raise NotFoundError(f"no user with id {user_id}")
            return _user_dict(user)

    def count_users(self) -> int:
        with self.store.session(write=False) as s:
            return int(s.scalar(select(func.count(User.id))) or 0)

    def update_user(self, user_id: int, changes: dict[str, Any], actor: Principal) -> dict[str, Any]:
        with self.store.session() as s:
            user = s.get(User, user_id)
            if user is None:
                raise NotFoundError(f"no user with id {user_id}")
            detail: dict[str, Any] = {"user": user.username}
            sign_out = False
            if user.role == "admin" and user.active:
                demoted = changes.get("role") is not None and changes["role"] != "admin"
                if demoted or changes.get("active") is False:
                    others = s.scalar(
                        select(func.count(User.id)).where(User.role == "admin", User.active, User.id != user.id)
                    )
                    if not others:
                        raise ConflictError(
                            f"{user.username!r} is the last active admin: make another person admin first, "
                            "then deactivate or change this one",
                            "last_admin",
                        )
            if changes.get("role") is not None and changes["role"] != user.role:
                _check_role(changes["role"])
                user.role = detail["role"] = changes["role"]
                sign_out = True  # sessions carry what the old role allowed
            if changes.get("active") is not None:
                user.active = detail["active"] = bool(changes["active"])
                sign_out |= not user.active
            if changes.get("password") is not None:
                _check_password(changes["password"])
                user.password_hash = auth.hash_password(changes["password"])
                detail["password_changed"] = sign_out = True
                initial = self.settings.data_dir / "initial-admin-password"
                if user.username == "admin" and initial.exists():
                    initial.unlink()  # the first-start password is no longer the password
            if sign_out:  # signed out everywhere
                for sess in s.scalars(select(SignInSession).where(SignInSession.user_id == user.id)):
                    sess.revoked_at = sess.revoked_at or utcnow()
            self._audit(s, actor, "user.updated", None, detail)
            return _user_dict(user)

    def create_key(self, name: str, role: str, actor: Principal | None = None) -> dict[str, Any]:
        name = name.strip()
        if not name or len(name) > 128:
            raise InvalidInputError("'name' must be 1-128 characters.")
        _check_role(role)
        key = auth.new_api_key()
        with self.store.session() as s:
            row = ApiKey(
                name=name,
                role=role,
                prefix=key[:10],
                key_hash=auth.token_digest(key),
                created_by=actor.user_id if actor else None,
            )
            s.add(row)
            s.flush()
            self._audit(s, actor, "key.created", None, {"key_id": row.id, "name": name, "role": role})
            return {**_key_dict(row), "key": key}

    def list_keys(self) -> list[dict[str, Any]]:
        with self.store.session(write=False) as s:
            return [_key_dict(k) for k in s.scalars(select(ApiKey).order_by(ApiKey.id))]

    def revoke_key(self, key_id: int, actor: Principal) -> None:
        with self.store.session() as s:
            row = s.get(ApiKey, key_id)
            if row is None:
                raise NotFoundError(f"no API key with id {key_id}")
            if row.revoked_at is None:
                row.revoked_at = utcnow()
                self._audit(s, actor, "key.revoked", None, {"key_id": key_id, "name": row.name})

    # -- authentication --------------------------------------------------------------------------
    def sign_in(self, username: str, password: str) -> tuple[dict[str, Any], str, datetime]:
        failed: str | None = None
        with self.store.session() as s:
            wanted = normalize_username(username)
            user = s.scalar(select(User).where(User.username == wanted))
            if user is None and wanted != username.strip():  # a name stored before names were normalized
                user = s.scalar(select(User).where(User.username == username.strip()))
            ok = auth.verify_password(user.password_hash if user else None, password)
            if user is None or not ok or not user.active:
                failed = user.username if user is not None else None
            else:
                return self._open_session(s, user, password)
        if failed is not None:  # its own transaction: the refused sign-in is kept in the audit log
            with self.store.session() as s:
                self._audit(s, None, "user.sign_in_failed", None, {"user": failed})
        raise AuthenticationError("wrong username or password")

    def _open_session(self, s: Session, user: User, password: str) -> tuple[dict[str, Any], str, datetime]:
        if user.password_hash and auth.needs_rehash(user.password_hash):
            user.password_hash = auth.hash_password(password)
        token = auth.new_session_token()
        now = utcnow()
        expires = auth.session_expiry(now)
        s.add(SignInSession(user_id=user.id, token_hash=auth.token_digest(token), created_at=now, expires_at=expires))
        self._audit(s, _principal(user), "user.signed_in", None, {"user": user.username})
        return _user_dict(user), token, expires

    def sign_out(self, token: str) -> None:
        with self.store.session() as s:
            row = s.scalar(select(SignInSession).where(SignInSession.token_hash == auth.token_digest(token)))
            if row is not None and row.revoked_at is None:
                row.revoked_at = utcnow()

    def principal_for(self, token: str, via_cookie: bool = False) -> Principal | None:
        """The caller a bearer token, API key or session cookie stands for; None if it stands for
        nobody (unknown, revoked, expired, or its user deactivated)."""
        if not token or len(token) > 512:
            return None
        digest = auth.token_digest(token)
        with self.store.session(write=False) as s:
            if token.startswith("ccs_"):
                row = s.scalar(select(SignInSession).where(SignInSession.token_hash == digest))
                if row is None or row.revoked_at is not None or row.expires_at <= utcnow() or not row.user.active:
                    return None
                return Principal(row.user.role, row.user.username, user_id=row.user.id, via_cookie=via_cookie)
            if via_cookie:
                return None
            key = s.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
            if key is not None:
                if key.revoked_at is not None:
                    return None
                return Principal(key.role, f"key:{key.name}", key_id=key.id)
        from chartcoder.api.auth import accepted_keys, key_is_valid

        # CHARTCODER_API_KEYS and the local key file are EHR keys (compared in constant time, all of them)
        return Principal("ehr", "key:static") if key_is_valid(token, accepted_keys(self.settings)) else None

    # -- encounters ------------------------------------------------------------------------------
    def create_encounter(self, data: dict[str, Any], actor: Principal) -> dict[str, Any]:
        text = data["text"]
        setting: Setting = "inpatient" if data.get("setting") == "inpatient" else "outpatient"
        dos: date | None = data.get("date_of_service")
        patient = {k: v for k, v in (data.get("patient") or {}).items() if v is not None}
        context = NoteContext(
            setting=setting,
            sex=patient.get("sex") if patient.get("sex") in ("F", "M") else None,
            age=_age(patient, dos),
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
            self._audit(s, actor, "encounter.created", enc.id, {"setting": setting, "version": enc.version})
            self._audit(
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
            return self._encounter_dict(s, enc)

    def get_encounter(self, encounter_id: str) -> dict[str, Any]:
        with self.store.session(write=False) as s:
            return self._encounter_dict(s, self._load(s, encounter_id))

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
            sets = self._latest_sets(s, ids)
            decisions = self._decisions(s, ids)
            items = []
            for e in rows:
                codes = _code_states(sets.get(e.id), decisions.get(e.id, []), settings=self.settings)
                item = _summary(e)
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
        answer = self._change(encounter_id, version, actor, lambda s, enc: self._apply(s, enc, batch, actor))
        metrics.decisions_made(d.action for d in batch)  # counted once stored
        return answer

    def finalize(self, encounter_id: str, version: int, actor: Principal) -> dict[str, Any]:
        def run(s: Session, enc: Encounter) -> None:
            codes = _code_states(
                self._latest_sets(s, [enc.id]).get(enc.id),
                self._decisions(s, [enc.id]).get(enc.id, []),
                settings=self.settings,
            )
            coded = [c for c in codes if c["state"] in ("accepted", "added")]
            if not coded:
                raise InvalidInputError("nothing to finalize: accept or add at least one code first.")
            enc.status = "finalized"
            enc.finalized_at = utcnow()
            enc.finalized_by = actor.user_id
            self._audit(
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
            self._audit(s, actor, "encounter.reopened", enc.id, {"version": version + 1, "reason": reason[:500]})

        return self._change(encounter_id, version, actor, run, allow_finalized=True, need_finalized=True)

    def audit_trail(self, encounter_id: str) -> list[dict[str, Any]]:
        with self.store.session(write=False) as s:
            self._load(s, encounter_id)
            events = s.scalars(
                select(AuditEvent).where(AuditEvent.encounter_id == encounter_id).order_by(AuditEvent.id)
            )
            return [_event_dict(e) for e in events]

    # -- audited charts (the retraining export) --------------------------------------------------
    def count_finalized(self, since: date | None = None, until: date | None = None) -> int:
        with self.store.session(write=False) as s:
            return int(s.scalar(select(func.count()).select_from(self._finalized(since, until).subquery())) or 0)

    def iter_audited(
        self, since: date | None = None, until: date | None = None, batch: int = 200
    ) -> Iterator[tuple[dict[str, Any], int]]:
        """Finalized encounters as audited charts, oldest finalization first: (chart, decisions behind
        it). A chart is `{"id", "text", "encounter", "codes": [{"code", "system", "decision"}]}`, the
        format `chartcoder train --format jsonl` reads: accepted and added codes are positives,
        rejected ones negatives; suggestions nobody decided on are left out (no one said either way).
        The encounter context is what coding needs (setting, sex, age, date of service) and the
        model that made the suggestions; names, ids and addresses stay in the store."""
        after: tuple[datetime, str] | None = None  # keyset paging: a reopen mid-export shifts nothing
        while True:
            with self.store.session(write=False) as s:
                q = self._finalized(since, until)
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
                sets = self._latest_sets(s, ids)
                decisions = self._decisions(s, ids)
                for e in rows:
                    sset = sets.get(e.id)
                    states = _code_states(sset, decisions.get(e.id, []), settings=self.settings)
                    patient = e.patient or {}
                    context = {
                        "setting": e.setting,
                        "sex": patient.get("sex"),
                        "age": _age(patient, e.date_of_service),
                        "date": e.date_of_service.isoformat() if e.date_of_service else None,
                        "model": sset.model if sset else None,
                    }
                    spans = {
                        (x.get("system"), x.get("code")): x.get("evidence") or []
                        for x in (sset.suggestions if sset else [])
                    }
                    codes = []
                    for c in states:
                        if c["state"] not in ("accepted", "added", "rejected"):
                            continue
                        row = {"code": c["code"], "system": c["system"], "decision": c["state"]}
                        cited = _cited_sentences(e.note_text, spans.get((c["system"], c["code"]), []))
                        if c["state"] == "accepted" and cited:
                            row["evidence"] = cited  # the sentences whose evidence the coder accepted
                        codes.append(row)
                    chart = {
                        "id": e.id,
                        "text": e.note_text,
                        "encounter": {k: v for k, v in context.items() if v is not None},
                        "codes": codes,
                    }
                    yield chart, len(decisions.get(e.id, []))

    def _finalized(self, since: date | None, until: date | None) -> Any:
        q = select(Encounter).where(Encounter.status == "finalized")
        if since:
            q = q.where(Encounter.finalized_at >= datetime.combine(since, datetime.min.time(), tzinfo=UTC))
        if until:  # inclusive: everything finalized on that day
            q = q.where(
                Encounter.finalized_at < datetime.combine(until + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
            )
        return q.order_by(Encounter.finalized_at, Encounter.id)

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
                enc = self._load(s, encounter_id)
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
                return self._encounter_dict(s, enc)
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

    def _apply(self, s: Session, enc: Encounter, batch: Sequence[DecisionIn], actor: Principal) -> None:
        sset = self._latest_sets(s, [enc.id]).get(enc.id)
        history = self._decisions(s, [enc.id]).get(enc.id, [])
        known = {(c["system"], c["code"]): c for c in _code_states(sset, history, settings=self.settings)}
        rows: list[Decision] = []
        for i, d in enumerate(batch):
            where = f"decisions[{i}]"
            if d.action not in ACTIONS:
                raise InvalidInputError(f"{where}.action must be one of {', '.join(ACTIONS)}; got {d.action!r}.")
            if d.system not in SYSTEMS:
                raise InvalidInputError(f"{where}.system must be one of {', '.join(SYSTEMS)}; got {d.system!r}.")
            code = _canonical(d.code, d.system, where, must_exist=d.action in ("add", "change"), settings=self.settings)
            if d.reason is not None and d.reason not in REASON_CODES:
                raise InvalidInputError(
                    f"{where}.reason must be one of {', '.join(sorted(REASON_CODES))}; got {d.reason!r}."
                )
            if d.action in ("reject", "change") and not d.reason:
                raise InvalidInputError(f"{where}: a {d.action} needs a 'reason' (GET /v1/review/reasons lists them).")
            replaces = None
            if d.action == "change":
                if not d.replaces:
                    raise InvalidInputError(f"{where}: a change needs 'replaces', the code it replaces.")
                replaces = _canonical(d.replaces, d.system, where, must_exist=False, settings=self.settings)
                if (d.system, replaces) not in known:
                    raise InvalidInputError(f"{where}.replaces: {replaces} is neither suggested nor added here.")
            if d.action in ("accept", "reject") and (d.system, code) not in known:
                raise InvalidInputError(
                    f"{where}: {code} is neither suggested nor added on this encounter; "
                    "use action 'add' for a new code."
                )
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
                    user_id=actor.user_id,
                    encounter_version=enc.version + 1,
                    created_at=utcnow(),
                )
            )
            # Later decisions in the same batch see this one (a batch may add a code and reject it).
            known[(d.system, code)] = {"system": d.system, "code": code, "score": prior["score"] if prior else None}
        for row in rows:
            s.add(row)
            detail = {"code": row.code, "system": row.system, "version": row.encounter_version}
            if row.reason:
                detail["reason"] = row.reason
            if row.note:
                detail["note"] = row.note
            if row.replaces:
                detail["replaces"] = row.replaces
            if row.score is not None:
                detail["score"] = row.score
            if sset is not None:
                detail["model"] = sset.model
            self._audit(s, actor, f"decision.{row.action}", enc.id, detail)

    def _load(self, s: Session, encounter_id: str) -> Encounter:
        enc = s.get(Encounter, encounter_id) if len(encounter_id) <= 40 else None
        if enc is None:
            raise NotFoundError(f"no encounter with id {encounter_id!r}")
        return enc

    def _latest_sets(self, s: Session, ids: list[str]) -> dict[str, SuggestionSet]:
        if not ids:
            return {}
        out: dict[str, SuggestionSet] = {}
        for row in s.scalars(
            select(SuggestionSet).where(SuggestionSet.encounter_id.in_(ids)).order_by(SuggestionSet.id)
        ):
            out[row.encounter_id] = row
        return out

    def _decisions(self, s: Session, ids: list[str]) -> dict[str, list[Decision]]:
        out: dict[str, list[Decision]] = {}
        if not ids:
            return out
        for row in s.scalars(select(Decision).where(Decision.encounter_id.in_(ids)).order_by(Decision.id)):
            out.setdefault(row.encounter_id, []).append(row)
        return out

    def _encounter_dict(self, s: Session, enc: Encounter) -> dict[str, Any]:
        sset = self._latest_sets(s, [enc.id]).get(enc.id)
        decisions = self._decisions(s, [enc.id]).get(enc.id, [])
        users = {u.id: u.username for u in s.scalars(select(User).where(User.id.in_({d.user_id for d in decisions})))}
        out = _summary(enc)
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
        out["codes"] = _code_states(sset, decisions, users, settings=self.settings)
        if enc.finalized_by is not None:
            finalizer = s.get(User, enc.finalized_by)
            out["finalized_by"] = finalizer.username if finalizer else None
        return out

    def _audit(
        self, s: Session, actor: Principal | None, action: str, encounter_id: str | None, detail: dict[str, Any]
    ) -> None:
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


def _principal(user: User) -> Principal:
    return Principal(user.role, user.username, user_id=user.id)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInputError(f"'role' must be one of {', '.join(ROLES)}; got {role!r}.")


def _check_password(password: str) -> None:
    if len(password) < auth.MIN_PASSWORD:
        raise InvalidInputError(f"'password' must be at least {auth.MIN_PASSWORD} characters.")
    if len(password) > 1024:
        raise InvalidInputError("'password' must be at most 1024 characters.")


def _canonical(code: str, system: str, where: str, must_exist: bool, settings: Settings | None = None) -> str:
    """The code as the code set writes it (E1122 -> E11.22); unknown codes are refused for add and
    change, and kept as written otherwise (they were suggested or added before)."""
    from chartcoder.codes.lookup import show

    raw = (code or "").strip().upper()
    if not raw or len(raw) > 16:
        raise InvalidInputError(f"{where}.code must be a code of 1-16 characters.")
    if system == "ICD-10-PCS":
        if must_exist:  # no PCS table is loaded to check a new code against
            raise InvalidInputError(
                f"{where}: ICD-10-PCS codes can be accepted or rejected as suggested, not added by hand."
            )
        return raw
    try:
        return str(show(raw, system, settings)["code"])
    except UnknownCodeError as exc:
        if must_exist:
            raise InvalidInputError(f"{where}.code: {exc}") from None
        return raw


def _code_states(
    sset: SuggestionSet | None,
    decisions: Sequence[Decision],
    users: dict[int, str] | None = None,
    *,
    settings: Settings | None = None,
) -> list[dict[str, Any]]:
    """The current state of every suggested or added code, suggestions first in their rank order."""
    from chartcoder.models.service import describe

    states: dict[tuple[str, str], dict[str, Any]] = {}
    for sug in sset.suggestions if sset else []:
        states.setdefault(
            (sug["system"], sug["code"]),
            {
                "code": sug["code"],
                "system": sug["system"],
                "description": sug["description"],
                "state": "pending",
                "score": sug["score"],
                "suggested": True,
                "reason": None,
                "note": None,
                "replaces": None,
                "decided_by": None,
                "decided_at": None,
            },
        )

    def entry(system: str, code: str) -> dict[str, Any]:
        if (system, code) not in states:
            states[(system, code)] = {
                "code": code,
                "system": system,
                "description": _describe(describe, code, system, settings),
                "state": "pending",
                "score": None,
                "suggested": False,
                "reason": None,
                "note": None,
                "replaces": None,
                "decided_by": None,
                "decided_at": None,
            }
        return states[(system, code)]

    for d in decisions:
        who = (users or {}).get(d.user_id)
        stamp = {"decided_by": who, "decided_at": d.created_at.isoformat()}
        if d.action == "change" and d.replaces:
            old = entry(d.system, d.replaces)
            old.update(state="rejected", reason=d.reason, note=d.note, **stamp)
        e = entry(d.system, d.code)
        if d.action == "accept":  # a code a person added stays "added" when accepted again
            e.update(state="accepted" if e["suggested"] else "added", reason=None, note=None, **stamp)
        elif d.action == "reject":
            e.update(state="rejected", reason=d.reason, note=d.note, **stamp)
        else:  # add, or the new code of a change: a suggested code added by hand counts as accepted
            e.update(
                state="accepted" if e["suggested"] else "added",
                reason=d.reason if d.action == "change" else None,
                note=d.note,
                replaces=d.replaces,
                **stamp,
            )
    return list(states.values())


def _cited_sentences(text: str, evidence: list[dict[str, Any]]) -> list[str]:
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


def _describe(
    describe: Callable[[str, str, Settings | None], str], code: str, system: str, settings: Settings | None
) -> str:
    try:
        return describe(code, system, settings)
    except Exception:  # an unknown or PCS code still shows, without a description
        return ""


def _summary(enc: Encounter) -> dict[str, Any]:
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
    }


def _user_dict(u: User) -> dict[str, Any]:
    return {"id": u.id, "username": u.username, "display_name": u.display_name, "role": u.role, "active": u.active}


def _key_dict(k: ApiKey) -> dict[str, Any]:
    return {
        "id": k.id,
        "name": k.name,
        "role": k.role,
        "prefix": k.prefix,
        "created_at": k.created_at.isoformat(),
        "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
    }


def _event_dict(e: AuditEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": e.at.isoformat(),
        "actor": {"id": e.actor.id, "username": e.actor.username, "role": e.actor.role} if e.actor else None,
        "key_id": e.actor_key_id,
        "action": e.action,
        "detail": e.detail,
    }


def _age(patient: dict[str, Any], dos: date | None) -> int | None:
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


def _release() -> str:
    from chartcoder.codes.icd10cm import RELEASE

    return RELEASE if RELEASE.startswith("ICD-10-CM") else f"ICD-10-CM {RELEASE}"
