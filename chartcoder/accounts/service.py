"""People, API keys and sign-in sessions in the store: who may act, and as whom a token acts. The API
and the CLI call this; HTTP matters (cookies, throttling of failed sign-ins) stay in `api/`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chartcoder.accounts import credentials
from chartcoder.accounts.audit import record
from chartcoder.accounts.names import normalize_username, skeleton
from chartcoder.accounts.principal import Principal
from chartcoder.accounts.static_keys import accepted_keys, key_is_valid
from chartcoder.config import Settings
from chartcoder.domain.errors import AuthenticationError, ConflictError, InvalidInputError, NotFoundError
from chartcoder.domain.roles import ROLES
from chartcoder.store.accounts import ApiKey, SignInSession, User
from chartcoder.store.base import utcnow
from chartcoder.store.database import ReviewStore


@dataclass(frozen=True)
class UserInfo:
    """A person as the API and the CLI show them (never the password hash)."""

    id: int
    username: str
    display_name: str
    role: str
    active: bool

    @classmethod
    def of(cls, u: User) -> UserInfo:
        return cls(u.id, u.username, u.display_name, u.role, u.active)


@dataclass(frozen=True)
class ApiKeyInfo:
    """A stored API key; `key` (the secret) only in the answer that created it."""

    id: int
    name: str
    role: str
    prefix: str
    created_at: str
    revoked_at: str | None
    key: str | None = None

    @classmethod
    def of(cls, k: ApiKey, key: str | None = None) -> ApiKeyInfo:
        revoked = k.revoked_at.isoformat() if k.revoked_at else None
        return cls(k.id, k.name, k.role, k.prefix, k.created_at.isoformat(), revoked, key)


class AccountService:
    """Everything done to users, keys and sessions."""

    def __init__(self, store: ReviewStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    # -- people ----------------------------------------------------------------------------------
    def create_user(
        self, username: str, password: str, role: str, display_name: str | None = None, actor: Principal | None = None
    ) -> UserInfo:
        username = normalize_username(username)  # NFKC, case-folded: 'Admin' and 'ａｄｍｉｎ' are 'admin'
        if (
            not username
            or len(username) > 64
            or not username.replace("_", "").replace("-", "").replace(".", "").isalnum()
        ):
            raise InvalidInputError("'username' must be 1-64 letters, digits, '.', '_' or '-'.")
        check_role(role)
        credentials.check_password(password)
        with self.store.session() as s:
            _refuse_taken(s, username)
            user = User(
                username=username,
                display_name=(display_name or username).strip()[:128],
                role=role,
                password_hash=credentials.hash_password(password),
                active=True,
            )
            s.add(user)
            s.flush()
            record(s, actor, "user.created", None, {"user": username, "role": role})
            return UserInfo.of(user)

    def list_users(self) -> list[UserInfo]:
        with self.store.session(write=False) as s:
            return [UserInfo.of(u) for u in s.scalars(select(User).order_by(User.id))]

    def get_user(self, user_id: int) -> UserInfo:
        with self.store.session(write=False) as s:
            user = s.get(User, user_id)
            if user is None:
                raise NotFoundError(f"no user with id {user_id}")
            return UserInfo.of(user)

    def count_users(self) -> int:
        with self.store.session(write=False) as s:
            return int(s.scalar(select(func.count(User.id))) or 0)

    def update_user(self, user_id: int, changes: dict[str, Any], actor: Principal) -> UserInfo:
        """Change a person's role, active flag or password; any of the three signs them out everywhere
        (a session carries what the old role allowed). The last active admin stays an active admin."""
        with self.store.session() as s:
            user = s.get(User, user_id)
            if user is None:
                raise NotFoundError(f"no user with id {user_id}")
            _keep_an_admin(s, user, changes)
            detail: dict[str, Any] = {"user": user.username}
            sign_out = False
            if changes.get("role") is not None and changes["role"] != user.role:
                check_role(changes["role"])
                user.role = detail["role"] = changes["role"]
                sign_out = True
            if changes.get("active") is not None:
                user.active = detail["active"] = bool(changes["active"])
                sign_out |= not user.active
            if changes.get("password") is not None:
                credentials.check_password(changes["password"])
                user.password_hash = credentials.hash_password(changes["password"])
                detail["password_changed"] = sign_out = True
                initial = self.settings.data_dir / "initial-admin-password"
                if user.username == "admin" and initial.exists():
                    initial.unlink()  # the first-start password is no longer the password
            if sign_out:
                for sess in s.scalars(select(SignInSession).where(SignInSession.user_id == user.id)):
                    sess.revoked_at = sess.revoked_at or utcnow()
            record(s, actor, "user.updated", None, detail)
            return UserInfo.of(user)

    # -- API keys --------------------------------------------------------------------------------
    def create_key(self, name: str, role: str, actor: Principal | None = None) -> ApiKeyInfo:
        name = name.strip()
        if not name or len(name) > 128:
            raise InvalidInputError("'name' must be 1-128 characters.")
        check_role(role)
        key = credentials.new_api_key()
        with self.store.session() as s:
            row = ApiKey(
                name=name,
                role=role,
                prefix=key[:10],
                key_hash=credentials.token_digest(key),
                created_by=actor.user_id if actor else None,
            )
            s.add(row)
            s.flush()
            record(s, actor, "key.created", None, {"key_id": row.id, "name": name, "role": role})
            return ApiKeyInfo.of(row, key)

    def list_keys(self) -> list[ApiKeyInfo]:
        with self.store.session(write=False) as s:
            return [ApiKeyInfo.of(k) for k in s.scalars(select(ApiKey).order_by(ApiKey.id))]

    def revoke_key(self, key_id: int, actor: Principal) -> None:
        with self.store.session() as s:
            row = s.get(ApiKey, key_id)
            if row is None:
                raise NotFoundError(f"no API key with id {key_id}")
            if row.revoked_at is None:
                row.revoked_at = utcnow()
                record(s, actor, "key.revoked", None, {"key_id": key_id, "name": row.name})

    # -- sign-in sessions ------------------------------------------------------------------------
    def sign_in(self, username: str, password: str) -> tuple[UserInfo, str, datetime]:
        """(the person, a new session token, when it expires); a refused sign-in is audited."""
        failed: str | None = None
        with self.store.session() as s:
            wanted = normalize_username(username)
            user = s.scalar(select(User).where(User.username == wanted))
            if user is None and wanted != username.strip():  # a name stored before names were normalized
                user = s.scalar(select(User).where(User.username == username.strip()))
            ok = credentials.verify_password(user.password_hash if user else None, password)
            if user is None or not ok or not user.active:
                failed = user.username if user is not None else None
            else:
                return _open_session(s, user, password)
        if failed is not None:  # its own transaction: the refused sign-in is kept in the audit log
            with self.store.session() as s:
                record(s, None, "user.sign_in_failed", None, {"user": failed})
        raise AuthenticationError("wrong username or password")

    def sign_out(self, token: str) -> None:
        with self.store.session() as s:
            digest = credentials.token_digest(token)
            row = s.scalar(select(SignInSession).where(SignInSession.token_hash == digest))
            if row is not None and row.revoked_at is None:
                row.revoked_at = utcnow()

    def principal_for(self, token: str, via_cookie: bool = False) -> Principal | None:
        """The caller a bearer token, API key or session cookie stands for; None if it stands for
        nobody (unknown, revoked, expired, or its user deactivated)."""
        if not token or len(token) > 512:
            return None
        digest = credentials.token_digest(token)
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
        # CHARTCODER_API_KEYS and the local key file are EHR keys (compared in constant time, all of them)
        return Principal("ehr", "key:static") if key_is_valid(token, accepted_keys(self.settings)) else None


def check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInputError(f"'role' must be one of {', '.join(ROLES)}; got {role!r}.")


def _refuse_taken(s: Session, username: str) -> None:
    """A new name may neither equal an existing one (once normalized) nor look like one."""
    looks = skeleton(username)
    for (existing,) in s.execute(select(User.username)):
        if normalize_username(existing) == username:
            raise ConflictError(f"a user named {existing!r} already exists", "user_exists")
        if skeleton(existing) == looks:
            raise ConflictError(
                f"{username!r} looks like the existing user {existing!r} (letters from another "
                "alphabet or look-alike characters); choose a name that reads differently",
                "username_confusable",
            )


def _keep_an_admin(s: Session, user: User, changes: dict[str, Any]) -> None:
    if not (user.role == "admin" and user.active):
        return
    demoted = changes.get("role") is not None and changes["role"] != "admin"
    if demoted or changes.get("active") is False:
        others = s.scalar(select(func.count(User.id)).where(User.role == "admin", User.active, User.id != user.id))
        if not others:
            raise ConflictError(
                f"{user.username!r} is the last active admin: make another person admin first, "
                "then deactivate or change this one",
                "last_admin",
            )


def _open_session(s: Session, user: User, password: str) -> tuple[UserInfo, str, datetime]:
    if user.password_hash and credentials.needs_rehash(user.password_hash):
        user.password_hash = credentials.hash_password(password)
    token = credentials.new_session_token()
    now = utcnow()
    expires = credentials.session_expiry(now)
    s.add(
        SignInSession(user_id=user.id, token_hash=credentials.token_digest(token), created_at=now, expires_at=expires)
    )
    record(s, Principal(user.role, user.username, user_id=user.id), "user.signed_in", None, {"user": user.username})
    return UserInfo.of(user), token, expires
