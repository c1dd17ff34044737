"""Roles and permissions as one table: who may do what. The API's `RequireRole` (chartcoder/api/deps.py),
the account store's role check and the CLI's help all read it; a new route names a permission here
instead of spelling roles out.

Each permission lists its roles in the order the 403 answer names them ("this needs the coder or
admin role"), which is part of the HTTP contract (docs/review-api.md)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args

Role = Literal["coder", "biller", "ehr", "data_scientist", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
ROLE_HELP = " | ".join(ROLES)


class Permission(StrEnum):
    """Something a caller does through the API; GRANTS says which roles may. What every signed-in
    role may do (suggestions, code lookup, its own session, the reasons list) needs no permission."""

    CREATE_ENCOUNTER = "create_encounter"  # also from FHIR and CDS Hooks
    LIST_ENCOUNTERS = "list_encounters"
    READ_ENCOUNTER = "read_encounter"
    EDIT_ENCOUNTER = "edit_encounter"  # correct the patient, payer and providers after creation
    DECIDE = "decide"  # decide, finalize, reopen (a signed-in person only)
    READ_AUDIT = "read_audit"
    EXPORT_AUDITS = "export_audits"
    BUILD_CLAIM = "build_claim"
    READ_CLAIM = "read_claim"
    SEND_BACK = "send_back"  # a biller returns a finalized encounter to the coder (a signed-in person only)
    READ_ANALYTICS = "read_analytics"
    WATCH_MODELS = "watch_models"  # list and register packs
    PROMOTE_MODELS = "promote_models"  # promote and roll back
    MANAGE_ACCOUNTS = "manage_accounts"  # users and API keys
    CALL_CDS = "call_cds"


_READERS: tuple[Role, ...] = ("coder", "biller", "data_scientist", "admin")

GRANTS: dict[Permission, tuple[Role, ...]] = {
    Permission.CREATE_ENCOUNTER: ("coder", "ehr", "admin"),
    Permission.LIST_ENCOUNTERS: _READERS,
    Permission.READ_ENCOUNTER: (*_READERS, "ehr"),
    Permission.EDIT_ENCOUNTER: ("coder", "biller", "ehr", "admin"),
    Permission.DECIDE: ("coder", "admin"),
    Permission.READ_AUDIT: _READERS,
    Permission.EXPORT_AUDITS: ("data_scientist", "admin"),
    Permission.BUILD_CLAIM: ("biller", "admin"),
    Permission.READ_CLAIM: ("biller", "admin", "coder"),
    Permission.SEND_BACK: ("biller", "admin"),
    Permission.READ_ANALYTICS: ("data_scientist", "admin"),
    Permission.WATCH_MODELS: ("data_scientist", "admin"),
    Permission.PROMOTE_MODELS: ("admin",),
    Permission.MANAGE_ACCOUNTS: ("admin",),
    Permission.CALL_CDS: ("coder", "ehr", "admin"),
}


def roles_for(permission: Permission) -> tuple[Role, ...]:
    return GRANTS[permission]


def may(role: str, permission: Permission) -> bool:
    return role in GRANTS[permission]
