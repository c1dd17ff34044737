"""`chartcoder users ...` and `chartcoder keys ...`: people who sign in, and API keys for systems."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from chartcoder.cli.common import _fail, _review, console, err
from chartcoder.domain.errors import ChartcoderError
from chartcoder.domain.roles import ROLE_HELP

users_app = typer.Typer(help="People who sign in to the review page: create, list.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys for systems (EHRs, scripts): create, list, revoke.", no_args_is_help=True)


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Argument(help="Sign-in name (letters, digits, . _ -).")],
    role: Annotated[str, typer.Option(help=ROLE_HELP)] = "coder",
    display_name: Annotated[str | None, typer.Option(help="Name shown on the page.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input instead of asking.")
    ] = False,
) -> None:
    """Create a person who signs in with a password (at least 12 characters)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = _review().accounts.create_user(username, password, role, display_name)
    except ChartcoderError as exc:
        _fail(str(exc))
    err.print(f"created user {escape(user.username)} with role {user.role}")


@users_app.command("list")
def users_list() -> None:
    """Every user, with role and whether active."""
    table = Table("id", "username", "name", "role", "active")
    for u in _review().accounts.list_users():
        table.add_row(str(u.id), u.username, u.display_name, u.role, "yes" if u.active else "no")
    console.print(table)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who uses the key, e.g. the EHR's name.")],
    role: Annotated[str, typer.Option(help=ROLE_HELP)] = "ehr",
) -> None:
    """Create an API key; it is printed once, on standard output, and stored only as a digest."""
    try:
        key = _review().accounts.create_key(name, role)
    except ChartcoderError as exc:
        _fail(str(exc))
    err.print(f"API key {key.id} for {escape(key.name)} (role {key.role}); shown once, keep it safe:")
    print(key.key)


@keys_app.command("list")
def keys_list() -> None:
    """Every API key (its prefix, never the key)."""
    table = Table("id", "name", "role", "prefix", "created", "revoked")
    for k in _review().accounts.list_keys():
        table.add_row(str(k.id), k.name, k.role, k.prefix + "...", k.created_at[:19], k.revoked_at or "")
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[int, typer.Argument(help="The key's id (see keys list).")]) -> None:
    """Revoke an API key at once."""
    from chartcoder.accounts.principal import Principal

    try:
        _review().accounts.revoke_key(key_id, Principal("admin", "cli"))
    except ChartcoderError as exc:
        _fail(str(exc))
    err.print(f"revoked key {key_id}")
