"""`chartcoder claim build`: assemble, scrub and write a claim from a finalized encounter."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from chartcoder.cli.common import _fail, _read_bytes, err
from chartcoder.domain.errors import ChartcoderError

claim_app = typer.Typer(help="Claims: build one from a finalized encounter and scrub it.", no_args_is_help=True)


@claim_app.command("build")
def claim_build(
    encounter_file: Annotated[
        str, typer.Argument(help="A finalized encounter as JSON (what GET /v1/encounters/ID answers).")
    ],
    fmt: Annotated[str, typer.Option("--format", help="837p | fhir | cms1500 | cms1500-html | json")] = "837p",
    out: Annotated[Path | None, typer.Option(help="Write here instead of standard output.")] = None,
    practice: Annotated[
        Path | None, typer.Option(help="Practice settings YAML (default: settings or the sample).")
    ] = None,
    fees: Annotated[Path | None, typer.Option(help="Fee schedule CSV (default: settings or the sample).")] = None,
    allow_errors: Annotated[
        bool, typer.Option("--allow-errors", help="Write the claim even when the scrubber finds errors.")
    ] = False,
) -> None:
    """Assemble, scrub and write a claim. The scrubber's findings go to standard error; with an error
    among them nothing is written and the exit code is 1 (unless --allow-errors)."""
    from chartcoder.billing.service import FORMATS, ClaimBuilder, render, require_issuable
    from chartcoder.config import get_settings

    if fmt not in FORMATS:
        _fail(f"--format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    raw = _read_bytes(encounter_file)
    try:
        encounter = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        _fail(f"{encounter_file}: not a JSON encounter ({exc})")
    if not isinstance(encounter, dict):
        _fail(f"{encounter_file}: expected a JSON object (an encounter), got {type(encounter).__name__}")
    settings = get_settings()
    overrides: dict[str, Any] = {}
    if practice:
        overrides["practice_file"] = practice
    if fees:
        overrides["fee_schedule_file"] = fees
    builder = ClaimBuilder(settings.model_copy(update=overrides) if overrides else settings)
    try:
        claim, findings = builder.build(encounter)
        render(claim, fmt, production=settings.environment == "production")  # what cannot be written stops here
    except ChartcoderError as exc:
        _fail(str(exc))
    for f in findings:
        err.print(
            f"[{'red' if f['severity'] == 'error' else 'yellow'}]{f['severity']}[/] {f['edit']} ({f['where']}): "
            f"{escape(f['message'])}" + (f" [dim]{escape(f['fix'])}[/]" if f["fix"] else "")
        )
    try:
        require_issuable(findings, draft=allow_errors)
    except ChartcoderError as exc:
        _fail(str(exc), code=1)
    # the control number is taken only for a file that is written: a refused claim uses none
    control = _control_number(settings, claim.submitter_id) if fmt == "837p" else 1
    body, _media = render(claim, fmt, control_number=control, production=settings.environment == "production")
    text = body if isinstance(body, str) else json.dumps(body, indent=2)
    if fmt == "837p":
        err.print(f"control number {control} (ISA13, GS06, ST02)")
    if out:
        out.write_text(text, encoding="utf-8")
        err.print(
            f"wrote {out} ({claim.claim_id}, {len(claim.diagnoses)} diagnoses, {len(claim.lines)} lines, "
            f"total {claim.total_charge})"
        )
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _control_number(settings: Any, submitter_id: str) -> int:
    """The next control number for the submitter, from the same database the API uses (the
    settings' database_url), so files from the CLI and the API never share one."""
    from chartcoder.billing.service import allocate_control_number
    from chartcoder.store.database import ReviewStore

    store = ReviewStore(settings.resolved_database_url)
    try:
        return allocate_control_number(store, submitter_id)
    finally:
        store.dispose()
