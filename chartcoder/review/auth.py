"""Who is asking: passwords (Argon2id), sign-in sessions and API keys (random tokens stored as
SHA-256 digests), and the role checks every route makes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from chartcoder.errors import PermissionDeniedError

SESSION_HOURS = 12
MIN_PASSWORD = 12
_hasher = PasswordHasher()  # Argon2id with the library's current recommended cost
# Verified when the username is unknown, so a wrong username costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a person (user_id set) or a system key (key_id set, or neither for
    keys from the settings and the local key file)."""

    role: str
    username: str
    user_id: int | None = None
    key_id: int | None = None
    via_cookie: bool = False

    def require(self, *roles: str) -> None:
        if self.role not in roles:
            wanted = " or ".join(roles) if len(roles) <= 2 else ", ".join(roles[:-1]) + " or " + roles[-1]
            raise PermissionDeniedError(f"this needs the {wanted} role; you are {self.role}")

    def require_person(self, what: str) -> None:
        """Code decisions carry a person's name: an API key, whatever its role, cannot make them."""
        if self.user_id is None:
            raise PermissionDeniedError(f"only a signed-in person can {what}; API keys cannot")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)


def token_digest(token: str) -> str:
    """API keys and session tokens are 256-bit random strings: a plain SHA-256 digest is enough to
    store them (a slow hash protects guessable secrets such as passwords)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_session_token() -> str:
    return "ccs_" + secrets.token_urlsafe(32)


def new_api_key() -> str:
    return "cck_" + secrets.token_urlsafe(32)


def session_expiry(now: datetime) -> datetime:
    return now + timedelta(hours=SESSION_HOURS)
