"""The authenticated caller and the role checks made on it."""

from __future__ import annotations

from dataclasses import dataclass

from chartcoder.domain.errors import PermissionDeniedError


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
