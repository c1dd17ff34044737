"""`chartcoder audits export`: finalized encounters as audited charts for retraining."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from chartcoder.cli.common import _day, _fail, _progress, _review, err

audits_app = typer.Typer(help="Audited charts: export coders' decisions for retraining.", no_args_is_help=True)


@audits_app.command("export")
def audits_export(
    out: Annotated[Path, typer.Option(help="Where to write the audited-chart JSONL.")],
    since: Annotated[str | None, typer.Option(help="Finalized on or after this day (YYYY-MM-DD, UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="Finalized on or before this day (YYYY-MM-DD, UTC).")] = None,
) -> None:
    """Write finalized encounters as audited charts (`chartcoder train --format jsonl` reads them):
    accepted and added codes are positives, rejected ones negatives."""
    start, end = _day(since, "since"), _day(until, "until")
    if start and end and start > end:
        _fail(f"--since ({start}) is after --until ({end})")
    review = _review()
    total = review.count_finalized(start, end)
    charts = codes = decisions = 0
    tmp = out.with_name(out.name + ".partial")
    with tmp.open("w", encoding="utf-8") as fh, _progress() as progress:
        bar = progress.add_task("exporting audited charts", total=max(total, 1))
        for chart, n in review.iter_audited(start, end):
            fh.write(json.dumps(chart, ensure_ascii=False) + "\n")
            charts += 1
            codes += len(chart["codes"])
            decisions += n
            progress.update(bar, completed=charts)
    tmp.replace(out)  # a reader never sees half a file
    err.print(f"wrote {out}: {charts:,} charts, {codes:,} codes, {decisions:,} decisions", soft_wrap=True)
