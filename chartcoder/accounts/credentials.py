"""Credentials: passwords (Argon2id), sign-in session tokens and API keys (random tokens stored as
SHA-256 digests)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from chartcoder.domain.errors import InvalidInputError

SESSION_HOURS = 12
MIN_PASSWORD = 12
_hasher = PasswordHasher()  # Argon2id with the library's current recommended cost
# Verified when the username is unknown, so a wrong username costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


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


def check_password(password: str) -> None:
    """A new password's length: at least MIN_PASSWORD characters, at most 1024."""
    if len(password) < MIN_PASSWORD:
        raise InvalidInputError(f"'password' must be at least {MIN_PASSWORD} characters.")
    if len(password) > 1024:
        raise InvalidInputError("'password' must be at most 1024 characters.")
