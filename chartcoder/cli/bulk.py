"""`chartcoder bulk predict`: many notes on Apache Spark or in one local process."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from chartcoder.cli.common import _fail, err
from chartcoder.domain.errors import ChartcoderError

bulk_app = typer.Typer(help="Bulk coding: many notes on Apache Spark or in one local process.", no_args_is_help=True)


@bulk_app.command("predict")
def bulk_predict(
    input: Annotated[
        str, typer.Option("--input", help="Notes: a Parquet, CSV or JSONL file or folder (any path Spark reads).")
    ],
    output: Annotated[
        str, typer.Option("--output", help="Parquet folder to write: {id, model, suggestions} per note.")
    ],
    engine: Annotated[str, typer.Option(help="spark | local")] = "spark",
    model: Annotated[str | None, typer.Option("--model", help="Model pack (default: the active one).")] = None,
    master: Annotated[
        str | None, typer.Option(help="Spark master URL (default: spark-submit's, else local[*]).")
    ] = None,
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=100)] = 20,
    input_format: Annotated[
        str | None, typer.Option("--format", help="parquet | csv | jsonl (default: by extension).")
    ] = None,
    failures: Annotated[
        str | None, typer.Option(help="Parquet folder for notes that failed (default: OUTPUT_failures).")
    ] = None,
    summary: Annotated[Path | None, typer.Option(help="Also write the JSON summary to this file.")] = None,
    partitions: Annotated[
        int | None, typer.Option(min=1, help="Spark partitions to code in (default: 4 per core).")
    ] = None,
    ship_pack: Annotated[bool, typer.Option(help="Copy the pack to every executor (SparkContext.addFile).")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace existing outputs.")] = False,
) -> None:
    """Suggest codes for every note of a large input and write Parquet, failures and a summary."""
    from chartcoder.bulk import BulkJob, run_local, run_spark

    if engine not in ("spark", "local"):
        _fail(f"--engine must be spark or local; got {engine!r}")
    job = BulkJob(
        input,
        output,
        model=model,
        format=input_format,
        failures=failures,
        top_k=top_k,
        overwrite=overwrite,
        partitions=partitions,
        ship_pack=ship_pack,
        summary=str(summary) if summary is not None else None,
    )
    try:
        if engine == "local":
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            columns = (SpinnerColumn(), TextColumn("bulk predict: {task.completed} notes"), TimeElapsedColumn())
            with Progress(*columns, console=err) as bar:
                task = bar.add_task("notes", total=None)
                result = run_local(job, progress=lambda n: bar.update(task, completed=n))
        else:
            from chartcoder.spark import SparkUnavailable, executor_env, get_session

            job.prepare()  # refuse bad paths, options and packs before starting a JVM
            conf = {**executor_env(), "spark.ui.showConsoleProgress": str(sys.stderr.isatty()).lower()}
            try:
                session = get_session(master, "chartcoder bulk predict", conf)
            except SparkUnavailable as exc:
                _fail(f"--engine spark: {exc}")
            result = run_spark(session, job)
    except ChartcoderError as exc:
        _fail(str(exc))
    text = json.dumps(result, indent=2)
    sys.stdout.write(text + "\n")
    if result["failures"]:
        err.print(f"{result['failures']} of {result['notes']} notes failed; see {escape(str(job.failures))}")
    if summary is not None:
        try:
            summary.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:  # checked before the job ran: the disk or the folder changed since
            _fail(f"could not write --summary {summary}: {exc.strerror or exc}; the summary is on standard output")
