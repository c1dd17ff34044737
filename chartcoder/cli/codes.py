"""`chartcoder codes ...`: search and show codes."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from chartcoder.cli.common import _fail, console
from chartcoder.domain.errors import ChartcoderError

codes_app = typer.Typer(help="Look up and search code sets.", no_args_is_help=True)


@codes_app.command("search")
def codes_search(
    text: Annotated[str, typer.Argument(help="Words or a code prefix.")],
    system: Annotated[str, typer.Option(help="ICD-10-CM | CPT | HCPCS | all")] = "all",
    limit: Annotated[int, typer.Option(min=1, max=200)] = 20,
    billable_only: Annotated[bool, typer.Option("--billable-only")] = False,
) -> None:
    """Search codes by words in their descriptions or by code prefix."""
    from chartcoder.codes.lookup import search

    hits = search(text, system=system, limit=limit, billable_only=billable_only)
    table = Table(title=f"{len(hits)} codes for “{escape(text)}”")
    for col in ("code", "system", "billable", "description"):
        table.add_column(col)
    for h in hits:
        table.add_row(h.code, h.system, "yes" if h.billable else "header", h.description)
    console.print(table)


@codes_app.command("show")
def codes_show(
    code: Annotated[str, typer.Argument()],
    system: Annotated[str | None, typer.Option(help="ICD-10-CM | CPT | HCPCS (guessed when omitted)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show a code with its hierarchy, notes and 7th-character rules."""
    from chartcoder.codes.lookup import show

    try:
        data: dict[str, Any] = show(code, system)
    except ChartcoderError as exc:
        _fail(str(exc))
    if as_json:
        console.print_json(json.dumps(data))
        return
    console.print(f"[bold]{escape(str(data['code']))}[/] ({data['system']}) {escape(str(data['description']))}")
    for key, value in data.items():
        if key in {"code", "system", "description"} or value in (None, [], {}, ""):
            continue
        if isinstance(value, list):
            console.print(f"[cyan]{key}[/]:")
            for v in value:
                console.print(f"  - {escape(str(v))}")
        elif isinstance(value, dict):
            console.print(f"[cyan]{key}[/]:")
            for k, v in value.items():
                console.print(f"  {k}: {escape(str(v))}")
        else:
            console.print(f"[cyan]{key}[/]: {escape(str(value))}")
