"""`chartcoder train` and `chartcoder evaluate`: fit a ranker into a signed pack, score a pack."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from chartcoder.cli.common import _fail, _progress, _splits, console, err
from chartcoder.domain.errors import ChartcoderError


def train(
    out: Annotated[Path, typer.Option("--out", help="Pack folder to write.")],
    data: Annotated[Path | None, typer.Option("--data", help="Dataset folder or file (one source).")] = None,
    format: Annotated[str, typer.Option("--format", help="codiesp | jsonl | mimic | synthetic")] = "codiesp",
    splits: Annotated[str, typer.Option("--splits", help="CodiEsp splits, comma-separated.")] = "train",
    task: Annotated[str, typer.Option("--task", help="diagnosis | procedure")] = "diagnosis",
    name: Annotated[str | None, typer.Option("--name", help="Pack name (default: TASK-ranker).")] = None,
    source: Annotated[
        list[str] | None,
        typer.Option(
            "--source",
            help="Several sources at once, each FORMAT:PATH[:WEIGHT] (repeat the option), e.g. "
            "--source synthetic:2000:1:1 --source jsonl:audits.jsonl:3. Used instead of --data/--format.",
        ),
    ] = None,
    base: Annotated[
        Path | None,
        typer.Option(
            "--base",
            help="A pack to stack over (e.g. models/default): the ranker trained here ranks every code, the base "
            "pack's adds only codes these sources never hold (docs/models.md).",
        ),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="local | spark: with spark, the knowledge engine's note analyses and the ranker's folds, "
            "candidate features and tree fits run as Spark tasks (pip install 'chartcoder[spark]'; docs/scale.md).",
        ),
    ] = "local",
    master: Annotated[
        str | None,
        typer.Option("--master", help="Spark master URL for --engine spark (local[2], spark://HOST:7077, yarn, ...)."),
    ] = None,
) -> None:
    """Train a learned ranker and write a model pack, signed with your key (CHARTCODER_PACK_SIGNING_KEY)."""
    from chartcoder.models.signing import key_id

    if (data is None) == (not source):
        _fail("give either --data (with --format) or one or more --source FORMAT:PATH[:WEIGHT]")
    signing_key = _signing_key()  # before training: a key that cannot be read or made should not cost a run
    spark_training = _spark_training(engine, master)
    specs = [(format, str(data), 1.0)] if data is not None else []
    records, weights, sources = _read_sources(specs, source or [], _splits(splits), task, one=data is not None)
    weighted = len(sources) > 1 or any(w != 1.0 for w in weights)
    with _progress() as progress:
        bar = progress.add_task("training", total=1.0)

        def step(stage: str, frac: float) -> None:
            progress.update(bar, description=stage, completed=frac)

        params: dict[str, Any] = {"task": task, "name": name, "sources": sources, "progress": step, "base": base}
        params |= {"weights": weights if weighted else None, "signing_key": signing_key}
        path = _train(records, out, params, spark_training)
    err.print(f"wrote {path}, signed with key {key_id(signing_key.public_key())}")


def _signing_key() -> Any:
    from chartcoder.config import get_settings
    from chartcoder.models.signing import trainer_key, trainer_key_path

    try:
        return trainer_key(get_settings())
    except (ChartcoderError, OSError) as exc:
        _fail(f"the pack signing key {trainer_key_path(get_settings())}: {exc}")


def _spark_training(engine: str, master: str | None) -> Any:
    """None for --engine local; for spark, a SparkTraining whose executors analyse notes with the driver's
    output-changing settings (code files, limits)."""
    if engine not in ("local", "spark"):
        _fail(f"--engine must be local or spark; got {engine!r}")
    if master is not None and engine != "spark":
        _fail("--master is for --engine spark")
    if engine != "spark":
        return None
    from chartcoder.spark import executor_env, spark_available
    from chartcoder.training.spark_engine import SparkTraining

    ok, why = spark_available()
    if not ok:
        _fail(f"--engine spark: {why}")
    return SparkTraining(master, conf=executor_env())


def _read_sources(
    specs: list[tuple[str, str, float]], source: list[str], splits: list[str], task: str, *, one: bool
) -> tuple[list[Any], list[float], list[dict[str, Any]]]:
    """The records of every source (--data, or each --source FORMAT:PATH[:WEIGHT]), each record's weight, and the
    sources as the model card states them; what was read is said on standard error."""
    from chartcoder.training.readers import ReadReport
    from chartcoder.training.train import load_records, parse_source, records_digest

    records: list[Any] = []
    weights: list[float] = []
    sources = []
    try:
        specs = specs + [parse_source(s) for s in source]
        for fmt, where, weight in specs:
            report = ReadReport()
            got = load_records(fmt, where, splits, task, report)
            label = "" if one and not source else f" {fmt}:{where} (weight {weight:g}):"
            err.print(f"read{label} {report.summary()}")
            records += got
            weights += [weight] * len(got)
            sources.append(
                {
                    "format": fmt,
                    "data": where,
                    "splits": list(splits) if fmt == "codiesp" else None,
                    "records": len(got),
                    "weight": weight,
                    "sha256": records_digest(got),
                }
            )
    except ChartcoderError as exc:
        _fail(str(exc))
    return records, weights, sources


def _train(records: list[Any], out: Path, params: dict[str, Any], spark_training: Any) -> Path:
    """train_pack, on Spark when asked (a failed Spark job is one line, the session is always stopped)."""
    from contextlib import nullcontext

    from chartcoder.training.train import train_pack

    try:
        with spark_training if spark_training is not None else nullcontext():
            if spark_training is not None:
                err.print(f"training on Spark: {spark_training.card()['master']}")
            return train_pack(records, out, **params)
    except ChartcoderError as exc:
        _fail(str(exc))
    except Exception as exc:  # a Spark job that failed (Py4JJavaError, PythonException, a lost executor)
        if spark_training is None:
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        _fail(f"--engine spark: the Spark job failed ({type(exc).__name__}: {first}); the driver log has the rest")
    finally:
        if spark_training is not None:
            spark_training.stop()
    raise AssertionError("unreachable")


def evaluate(
    model: Annotated[Path, typer.Option("--model", help="Pack folder.")],
    data: Annotated[Path, typer.Option("--data", help="Dataset folder or file.")],
    format: Annotated[str, typer.Option("--format")] = "codiesp",
    splits: Annotated[str, typer.Option("--splits")] = "dev",
    task: Annotated[str, typer.Option("--task")] = "diagnosis",
    report_dir: Annotated[Path | None, typer.Option("--report", help="Where to write JSON, Markdown, PNG.")] = None,
) -> None:
    """Score a pack on held-out charts: MAP, P@k, R@k, micro/macro F1, calibration error."""
    from chartcoder.training.train import evaluate_pack, load_records

    try:
        records = load_records(format, data, _splits(splits), task)
        out = report_dir or Path("reports") / f"{model.name}-{format}-{'-'.join(_splits(splits))}-{task}"
        with _progress() as progress:
            bar = progress.add_task("evaluating", total=1.0)
            result = evaluate_pack(
                model, records, out, progress=lambda s, f: progress.update(bar, description=s, completed=f)
            )
    except ChartcoderError as exc:
        _fail(str(exc))
    table = Table(title=f"{result['pack']} on {format} {splits} ({task}), {result['records']} records")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in (
        "MAP",
        "P@1",
        "P@5",
        "P@10",
        "R@5",
        "R@10",
        "R@20",
        "micro_precision",
        "micro_recall",
        "micro_f1",
        "macro_f1",
        "ECE",
        "threshold",
        "ms_per_note",
    ):
        table.add_row(key, f"{result[key]:.4f}")
    console.print(table)
    err.print(f"report: {out}/report.md, report.json, precision_recall.png, calibration.png")
