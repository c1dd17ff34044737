"""`chartcoder suggest` and `chartcoder predict`: code one note, or every note of a JSONL file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from chartcoder.cli.common import _fail, _read_note, console, err
from chartcoder.domain.errors import ChartcoderError


def suggest(
    file: Annotated[str, typer.Argument(help="Note text file, or - for standard input.")],
    setting: Annotated[str | None, typer.Option(help="outpatient | inpatient")] = None,
    sex: Annotated[str | None, typer.Option(help="F | M")] = None,
    age: Annotated[int | None, typer.Option(min=0, max=130)] = None,
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=100)] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON result instead of a table.")] = False,
) -> None:
    """Suggest codes for one note and show them with their evidence."""
    from chartcoder.domain.encounter import Encounter

    if setting not in (None, "outpatient", "inpatient"):
        _fail("--setting must be outpatient or inpatient")
    text = _read_note(file)
    try:
        result = _active_service().suggest(text, Encounter(setting=setting, sex=sex, age=age), top_k)  # type: ignore[arg-type]
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


def predict(
    input: Annotated[Path, typer.Option("--input", help="JSONL: {id, text, encounter?} per line.")],
    output: Annotated[Path, typer.Option("--output", help="JSONL: {id, model, suggestions} per line.")],
    model: Annotated[str | None, typer.Option("--model", help="Model pack (default: the active one).")] = None,
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=100)] = 20,
) -> None:
    """Suggest codes for every note of a JSONL file (the contract other tools rely on). Each line goes
    through `chartcoder.bulk.predict.code_note`, the per-note path of `bulk predict`."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from chartcoder.bulk.io import RawNote
    from chartcoder.bulk.predict import code_note

    if not input.is_file():
        _fail(f"{input}: no such file")
    lines = input.read_bytes().splitlines()
    service = _pick_service(model)
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
            try:
                line = raw.decode("utf-8")  # strict here: bulk's reader replaces bad bytes, predict refuses the line
            except UnicodeDecodeError as exc:
                failures += 1
                err.print(f"[yellow]line {lineno}:[/] {escape(str(exc))}")
                continue
            row, failure = code_note(service, RawNote(lineno, None, line=line), "jsonl", top_k)
            if row is not None:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
            elif failure is not None:
                failures += 1
                err.print(f"[yellow]line {lineno}:[/] {escape(failure['error'])}")
    if failures:
        err.print(f"{failures} of {len(lines)} lines failed; the others were written to {output}")
        raise typer.Exit(1)


def _service_for(pack_path: str) -> Any:
    from chartcoder.config import get_settings
    from chartcoder.models.pack import load_pack
    from chartcoder.models.service import SuggestionService

    try:
        return SuggestionService(get_settings(), pack=load_pack(pack_path))
    except ChartcoderError as exc:
        _fail(str(exc))


def _pick_service(model: str | None) -> Any:
    """'knowledge' for the guideline engine alone, a pack folder, or (None) the configured pack."""
    from chartcoder.models.service import get_service

    if model == "knowledge":
        return get_service()
    return _active_service() if model is None else _service_for(model)


def _active_service() -> Any:
    """The configured pack (CHARTCODER_MODEL, default 'default') when built, else the knowledge engine."""
    from chartcoder.models.service import service_from_settings

    try:
        return service_from_settings()
    except ChartcoderError as exc:
        _fail(str(exc))
