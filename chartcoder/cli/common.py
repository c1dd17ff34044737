"""Shared by the command modules: the two consoles, failing with a message and an exit code, reading a
note or a file, progress bars, and the review service and model registry the commands work on."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

console = Console()
err = Console(stderr=True)


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}")
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


def _progress() -> Any:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err,
    )


def _splits(splits: str) -> list[str]:
    return [s.strip() for s in splits.split(",") if s.strip()]


def _registry() -> Any:
    from chartcoder.config import get_settings
    from chartcoder.models.registry import ModelRegistry
    from chartcoder.store.database import ReviewStore

    settings = get_settings()
    return ModelRegistry(ReviewStore(settings.resolved_database_url), settings.model_dir, settings)


def _review() -> Any:
    from chartcoder.config import get_settings
    from chartcoder.review.service import ReviewService
    from chartcoder.store.database import ReviewStore

    settings = get_settings()
    return ReviewService(ReviewStore(settings.resolved_database_url), settings)


def _day(value: str | None, name: str) -> date | None:
    """A --since/--until style option: a day as YYYY-MM-DD, or None when not given."""
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        _fail(f"--{name} must be a date as YYYY-MM-DD; got {value!r}")
    return None
