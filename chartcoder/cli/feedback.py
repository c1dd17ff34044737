"""`chartcoder feedback report`: where coders disagree with the model."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from chartcoder.cli.common import _day, _fail, _review, console
from chartcoder.domain.errors import ChartcoderError

feedback_app = typer.Typer(help="Feedback analytics: where coders disagree with the model.", no_args_is_help=True)


@feedback_app.command("report")
def feedback_report(
    since: Annotated[str | None, typer.Option(help="From this UTC day (YYYY-MM-DD), inclusive.")] = None,
    until: Annotated[str | None, typer.Option(help="Through this UTC day (YYYY-MM-DD), inclusive.")] = None,
    pack: Annotated[str | None, typer.Option(help="A pack version (name@hash), or a name: all its versions.")] = None,
    system: Annotated[str | None, typer.Option(help="ICD-10-CM | CPT | HCPCS | ICD-10-PCS")] = None,
    bucket: Annotated[str, typer.Option(help="Over-time periods: day | week (ISO weeks).")] = "day",
    top: Annotated[int, typer.Option(help="Length of the top lists (1-100).")] = 10,
    include_open: Annotated[
        bool, typer.Option("--include-open", help="Also count open encounters (default: finalized only).")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON, as the API answers it.")] = False,
) -> None:
    """Acceptance rate of the model's suggestions by pack version, over time and by code; the codes
    coders reject most and add by hand most (definitions: docs/review-api.md)."""
    from chartcoder.review.analytics import FeedbackAnalytics, FeedbackQuery

    try:
        query = FeedbackQuery(_day(since, "since"), _day(until, "until"), pack, system, bucket, top, include_open)
        report = FeedbackAnalytics(_review().store).report(query)
    except ChartcoderError as exc:
        _fail(str(exc))
    if json_out:
        sys.stdout.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        return
    from chartcoder.review.analytics_tables import print_report

    print_report(report, console)
