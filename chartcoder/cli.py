"""The `chartcoder` command: suggest, predict, codes, serve."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from chartcoder.errors import ChartcoderError

app = typer.Typer(help="chartcoder: ICD-10-CM and CPT/HCPCS code suggestions with evidence.", no_args_is_help=True)
codes_app = typer.Typer(help="Look up and search code sets.", no_args_is_help=True)
app.add_typer(codes_app, name="codes")
console = Console()
err = Console(stderr=True)


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def _read_note(source: str) -> str:
    raw = sys.stdin.buffer.read() if source == "-" else _read_bytes(source)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        _fail(f"{source}: not UTF-8 text (bad byte at offset {exc.start}); give a plain-text note.")
    raise AssertionError("unreachable")


def _read_bytes(path: str) -> bytes:
    p = Path(path)
    if not p.is_file():
        _fail(f"{path}: no such file")
    return p.read_bytes()


@app.command()
def suggest(
    file: Annotated[str, typer.Argument(help="Note text file, or - for standard input.")],
    setting: Annotated[str | None, typer.Option(help="outpatient | inpatient")] = None,
    sex: Annotated[str | None, typer.Option(help="F | M")] = None,
    age: Annotated[int | None, typer.Option(min=0, max=130)] = None,
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=100)] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON result instead of a table.")] = False,
) -> None:
    """Suggest codes for one note and show them with their evidence."""
    from chartcoder.models.schema import Encounter
    from chartcoder.models.service import get_service

    if setting not in (None, "outpatient", "inpatient"):
        _fail("--setting must be outpatient or inpatient")
    text = _read_note(file)
    try:
        result = get_service().suggest(text, Encounter(setting=setting, sex=sex, age=age), top_k)  # type: ignore[arg-type]
    except ChartcoderError as exc:
        _fail(str(exc))
    if as_json:
        console.print_json(json.dumps(result.to_dict()))
        return
    table = Table(title=f"{len(result.suggestions)} suggestions · {result.model}", show_lines=True)
    table.add_column("#", justify="right")
    table.add_column("code")
    table.add_column("system")
    table.add_column("score", justify="right")
    table.add_column("description")
    table.add_column("evidence")
    table.add_column("warnings", style="yellow")
    for i, s in enumerate(result.suggestions, 1):
        ev = "\n".join(
            f"“{e.text}” [{e.start}:{e.end}] {e.assertion}{' · ' + e.section if e.section else ''}"
            for e in s.evidence[:4]
        )
        table.add_row(str(i), s.code, s.system, f"{s.score:.2f}", s.description, ev, "\n".join(s.warnings))
    console.print(table)


@app.command()
def predict(
    input: Annotated[Path, typer.Option("--input", help="JSONL: {id, text, encounter?} per line.")],
    output: Annotated[Path, typer.Option("--output", help="JSONL: {id, model, suggestions} per line.")],
    model: Annotated[str | None, typer.Option("--model", help="Model pack (default: the active one).")] = None,
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=100)] = 20,
) -> None:
    """Suggest codes for every note of a JSONL file (the contract other tools rely on)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from chartcoder.models.schema import Encounter
    from chartcoder.models.service import get_service

    if model not in (None, "knowledge", "default"):
        _fail(f"--model {model!r}: only the built-in knowledge engine exists in this version ('knowledge').")
    if not input.is_file():
        _fail(f"{input}: no such file")
    lines = input.read_bytes().splitlines()
    service = get_service()
    failures = 0
    with (
        output.open("w", encoding="utf-8") as out,
        Progress(
            TextColumn("predict"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err
        ) as progress,
    ):
        task = progress.add_task("notes", total=len(lines))
        for lineno, raw in enumerate(lines, 1):
            progress.advance(task)
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8"))
                if not isinstance(record, dict) or "text" not in record:
                    raise ValueError("expected an object with 'id' and 'text'")
                enc = record.get("encounter") or {}
                if not isinstance(enc, dict):
                    raise ValueError("'encounter' must be an object")
                result = service.suggest(record["text"], Encounter.from_dict(enc), top_k)
                out.write(json.dumps(result.to_dict(str(record.get("id", lineno))), ensure_ascii=False) + "\n")
            except (ValueError, UnicodeDecodeError, ChartcoderError) as exc:
                failures += 1
                err.print(f"[yellow]line {lineno}:[/] {exc}")
    if failures:
        err.print(f"{failures} of {len(lines)} lines failed; the others were written to {output}")
        raise typer.Exit(1)


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
    table = Table(title=f"{len(hits)} codes for “{text}”")
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
    console.print(f"[bold]{data['code']}[/] ({data['system']}) {data['description']}")
    for key, value in data.items():
        if key in {"code", "system", "description"} or value in (None, [], {}, ""):
            continue
        if isinstance(value, list):
            console.print(f"[cyan]{key}[/]:")
            for v in value:
                console.print(f"  - {v}")
        elif isinstance(value, dict):
            console.print(f"[cyan]{key}[/]:")
            for k, v in value.items():
                console.print(f"  {k}: {v}")
        else:
            console.print(f"[cyan]{key}[/]: {value}")


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=32)] = 1,
) -> None:
    """Start the API (and, later, the review page), preparing what the engine needs first."""
    import logging

    import uvicorn

    from chartcoder.api.auth import ensure_local_key
    from chartcoder.config import get_settings
    from chartcoder.models.service import SuggestionService

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    err.print("Preparing the suggestion engine (first start builds the term index, ~15 s)...")
    SuggestionService(settings)  # builds and caches the term index before workers start
    key, created = ensure_local_key(settings)
    err.print(
        f"\n[bold]chartcoder[/] on http://{host}:{port}  (OpenAPI at /docs)\n"
        f"API key ({'new' if created else 'existing'}, in {settings.api_key_file}):\n  {key}\n"
        f"Try:\n  curl -s -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\\n"
        f'    -d \'{{"text": "Assessment: type 2 diabetes with CKD stage 3b. HTN."}}\' '
        f"http://{host}:{port}/v1/suggestions\n",
        soft_wrap=True,  # keep the curl line copy-pasteable
    )
    uvicorn.run("chartcoder.api.main:app", host=host, port=port, workers=workers, log_level="info")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
