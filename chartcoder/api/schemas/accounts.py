"""Accounts: signing in, the people (users) and the system keys (API keys) an admin manages."""

from __future__ import annotations

from pydantic import BaseModel, Field

from chartcoder.api.schemas.common import Strict
from chartcoder.domain.roles import Role


class LoginIn(Strict):
    username: str = Field(..., min_length=1, max_length=64)
    password: str = Field(..., min_length=1, max_length=1024)


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    active: bool


class LoginOut(BaseModel):
    user: UserOut
    token: str
    expires_at: str


class UserCreate(Strict):
    username: str = Field(..., min_length=1, max_length=64)
    password: str = Field(..., min_length=12, max_length=1024)
    role: Role
    display_name: str | None = Field(None, max_length=128)


class UserUpdate(Strict):
    role: Role | None = None
    active: bool | None = None
    password: str | None = Field(None, min_length=12, max_length=1024)


class KeyCreate(Strict):
    name: str = Field(..., min_length=1, max_length=128)
    role: Role


class KeyOut(BaseModel):
    id: int
    name: str
    role: str
    prefix: str
    created_at: str
    revoked_at: str | None = None
    key: str | None = Field(None, description="Shown once, when the key is created.")
