"""The `chartcoder` command: suggest, predict, codes, serve."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from chartcoder.errors import ChartcoderError

# Tracebacks never show local variables: they would print note text.
app = typer.Typer(
    help="chartcoder: ICD-10-CM and CPT/HCPCS code suggestions with evidence.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
codes_app = typer.Typer(help="Look up and search code sets.", no_args_is_help=True)
app.add_typer(codes_app, name="codes")
models_app = typer.Typer(
    help="Model packs: list, compare, sign, register, promote, roll back.", no_args_is_help=True
)
app.add_typer(models_app, name="models")
users_app = typer.Typer(help="People who sign in to the review page: create, list.", no_args_is_help=True)
app.add_typer(users_app, name="users")
keys_app = typer.Typer(help="API keys for systems (EHRs, scripts): create, list, revoke.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
db_app = typer.Typer(help="The review database: migrate, show its revision.", no_args_is_help=True)
app.add_typer(db_app, name="db")
audits_app = typer.Typer(help="Audited charts: export coders' decisions for retraining.", no_args_is_help=True)
app.add_typer(audits_app, name="audits")
feedback_app = typer.Typer(help="Feedback analytics: where coders disagree with the model.", no_args_is_help=True)
app.add_typer(feedback_app, name="feedback")
claim_app = typer.Typer(help="Claims: build one from a finalized encounter and scrub it.", no_args_is_help=True)
app.add_typer(claim_app, name="claim")
bulk_app = typer.Typer(help="Bulk coding: many notes on Apache Spark or in one local process.", no_args_is_help=True)
app.add_typer(bulk_app, name="bulk")
console = Console()
err = Console(stderr=True)
ROLE_HELP = "coder | biller | ehr | data_scientist | admin"


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


@app.callback()
def _settings_first() -> None:
    # A wrong CHARTCODER_* variable (a closed set, a file that is not there) stops every command at
    # start with the variable named, not a traceback from deep inside the command.
    from chartcoder.config import SettingsError, get_settings

    try:
        get_settings()
    except SettingsError as exc:
        _fail(str(exc))


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


@app.command()
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


@app.command()
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
    from contextlib import nullcontext

    from chartcoder.config import get_settings
    from chartcoder.models.signing import key_id, trainer_key, trainer_key_path
    from chartcoder.training.readers import ReadReport
    from chartcoder.training.train import load_records, parse_source, records_digest, train_pack

    if (data is None) == (not source):
        _fail("give either --data (with --format) or one or more --source FORMAT:PATH[:WEIGHT]")
    try:  # before training: a key that cannot be read or made should not cost a training run
        signing_key = trainer_key(get_settings())
    except (ChartcoderError, OSError) as exc:
        _fail(f"the pack signing key {trainer_key_path(get_settings())}: {exc}")
    if engine not in ("local", "spark"):
        _fail(f"--engine must be local or spark; got {engine!r}")
    if master is not None and engine != "spark":
        _fail("--master is for --engine spark")
    spark_training: Any = None
    if engine == "spark":
        from chartcoder.spark import executor_env, spark_available
        from chartcoder.training.spark_engine import SparkTraining

        ok, why = spark_available()
        if not ok:
            _fail(f"--engine spark: {why}")
        # The executors analyse notes with the driver's output-changing settings (code files, limits).
        spark_training = SparkTraining(master, conf=executor_env())
    specs = [(format, str(data), 1.0)] if data is not None else []
    records: list[Any] = []
    weights: list[float] = []
    sources = []
    try:
        specs += [parse_source(s) for s in source or []]
        for fmt, where, weight in specs:
            report = ReadReport()
            got = load_records(fmt, where, _splits(splits), task, report)
            label = "" if data is not None and not source else f" {fmt}:{where} (weight {weight:g}):"
            err.print(f"read{label} {report.summary()}")
            records += got
            weights += [weight] * len(got)
            sources.append(
                {
                    "format": fmt,
                    "data": where,
                    "splits": _splits(splits) if fmt == "codiesp" else None,
                    "records": len(got),
                    "weight": weight,
                    "sha256": records_digest(got),
                }
            )
    except ChartcoderError as exc:
        _fail(str(exc))
    with _progress() as progress:
        bar = progress.add_task("training", total=1.0)

        def step(stage: str, frac: float) -> None:
            progress.update(bar, description=stage, completed=frac)

        try:
            with spark_training if spark_training is not None else nullcontext():
                if spark_training is not None:
                    err.print(f"training on Spark: {spark_training.card()['master']}")
                path = train_pack(
                    records,
                    out,
                    task=task,
                    name=name,
                    sources=sources,
                    progress=step,
                    weights=weights if len(specs) > 1 or any(w != 1.0 for w in weights) else None,
                    base=base,
                    signing_key=signing_key,
                )
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
    err.print(f"wrote {path}, signed with key {key_id(signing_key.public_key())}")


@app.command()
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


@models_app.command("compare")
def models_compare(
    champion: Annotated[Path, typer.Argument(help="The pack in service.")],
    challenger: Annotated[Path, typer.Argument(help="The pack that wants its place.")],
    data: Annotated[Path, typer.Option("--data", help="Held-out charts both are scored on.")],
    format: Annotated[str, typer.Option("--format", help="jsonl | codiesp | mimic | synthetic")] = "jsonl",
    splits: Annotated[str, typer.Option("--splits", help="CodiEsp splits.")] = "dev",
    task: Annotated[str, typer.Option("--task", help="diagnosis | procedure")] = "diagnosis",
    boot: Annotated[int, typer.Option("--boot", min=100, max=100_000, help="Bootstrap resamples.")] = 2000,
    report_dir: Annotated[Path | None, typer.Option("--report", help="Write JSON, Markdown and a PNG here.")] = None,
) -> None:
    """Both packs on the same charts: MAP and P@5 with bootstrap confidence intervals for the
    differences, the codes that got better or worse, and whether the challenger is better."""
    from chartcoder.models.pack import load_pack
    from chartcoder.training.compare import compare_packs, write_comparison
    from chartcoder.training.readers import ReadReport
    from chartcoder.training.train import load_records

    try:
        packs = load_pack(champion), load_pack(challenger)
        records = load_records(format, data, _splits(splits), task, ReadReport())
        with _progress() as progress:
            bar = progress.add_task("ranking", total=1.0)
            result = compare_packs(
                *packs, records, n_boot=boot, progress=lambda s, f: progress.update(bar, description=s, completed=f)
            )
    except ChartcoderError as exc:
        _fail(str(exc))
    table = Table(title=f"{result['charts']} charts ({result['system']})")
    for col in ("", "champion", "challenger", "difference", "95% CI"):
        table.add_column(col)
    for m in ("MAP", "P@5"):
        d = result[f"{m}_difference"]
        table.add_row(
            m,
            f"{result['champion'][m]:.3f}",
            f"{result['challenger'][m]:.3f}",
            f"{d['mean']:+.3f}",
            f"{d['ci95'][0]:+.3f} to {d['ci95'][1]:+.3f}",
        )
    console.print(table)
    for title, key in (("better", "codes_better"), ("worse", "codes_worse")):
        codes = ", ".join(f"{c['code']} ({c['change']:+d})" for c in result[key][:10]) or "none"
        console.print(f"codes found {title} by the challenger: {codes}")
    if report_dir:
        for path in write_comparison(result, report_dir):
            err.print(f"wrote {path}")
    console.print(f"[bold]{escape(result['summary'])}[/]")


@models_app.command("list")
def models_list(
    model_dir: Annotated[Path | None, typer.Option("--dir", help="Default: CHARTCODER_MODEL_DIR.")] = None,
) -> None:
    """Packs in the model folder, verified against their manifests."""
    from chartcoder.config import get_settings
    from chartcoder.models.pack import list_packs

    folder = model_dir or get_settings().model_dir
    rows = list_packs(folder)
    table = Table(title=f"{len(rows)} model packs in {folder}")
    for col in ("name", "version", "system", "labels", "MAP", "measured on", "created", "status"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r["name"]),
            str(r["version"]),
            str(r["system"]),
            str(r["labels"]),
            *_map_columns(r["metrics"]),
            str(r["created"]),
            r["status"],
        )
    console.print(table)


def _registry() -> Any:
    from chartcoder.config import get_settings
    from chartcoder.models.registry import ModelRegistry
    from chartcoder.review.service import ReviewStore

    settings = get_settings()
    return ModelRegistry(ReviewStore(settings.resolved_database_url), settings.model_dir, settings)


def _actor() -> str:
    import getpass

    return f"cli:{getpass.getuser()}"


def _print_promotion(event: dict[str, Any]) -> None:
    console.print(
        f"{event['action']}: [bold]{escape(event['serves'])}[/] is now the active pack "
        f"(before: {escape(event['previous'] or 'the configured pack')}). Running API processes switch "
        "within CHARTCODER_REGISTRY_POLL_SECONDS (default 5 s), without a restart."
    )


@models_app.command("register")
def models_register(
    pack: Annotated[Path, typer.Argument(help="A pack folder (from `chartcoder train --out`).")],
    note: Annotated[str | None, typer.Option(help="What this pack is, for the history.")] = None,
) -> None:
    """Verify a pack and copy it into the registry (CHARTCODER_MODEL_DIR/registry), so it can be promoted."""
    try:
        row = _registry().register(pack, _actor(), note)
    except ChartcoderError as exc:
        _fail(str(exc))
    said = "already registered" if row["already_registered"] else "registered"
    console.print(f"{said}: [bold]{escape(row['ref'])}[/]; promote it with `chartcoder models promote {row['ref']}`")


@models_app.command("promote")
def models_promote(
    ref: Annotated[str, typer.Argument(help="The registered pack's name@version.")],
    reason: Annotated[str | None, typer.Option(help="Why, for the history.")] = None,
) -> None:
    """Make a registered pack the one the API serves (verified, and smoke-tested in a child process first:
    loaded, it must rank known notes; a pack that fails is refused and the current one keeps serving)."""
    from chartcoder.models.registry import validate_ref

    try:
        _print_promotion(_registry().promote(validate_ref(ref), _actor(), reason))
    except ChartcoderError as exc:
        _fail(str(exc))


@models_app.command("sign")
def models_sign(
    pack: Annotated[Path, typer.Argument(help="A pack folder you trust (e.g. one made before packs were signed).")],
) -> None:
    """Sign a pack you trust with your key (CHARTCODER_PACK_SIGNING_KEY, made on first use). The pack's
    files are checked against its manifest, and its ranker loaded with the allow-list and ranked, first.
    A server loads it once it trusts your key (`chartcoder models key` prints it)."""
    from chartcoder.config import get_settings
    from chartcoder.models.pack import sign_pack
    from chartcoder.models.signing import trainer_key, trainer_key_path

    settings = get_settings()
    try:
        kid = sign_pack(pack, trainer_key(settings))
    except ChartcoderError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{pack}: could not sign it ({exc.strerror or exc})")
    err.print(f"signed {pack} with key {kid} ({trainer_key_path(settings)})", soft_wrap=True)


@models_app.command("key")
def models_key() -> None:
    """Print the public half of your pack signing key (made on first use), for a server's
    CHARTCODER_TRUSTED_PACK_KEYS."""
    from chartcoder.config import get_settings
    from chartcoder.models.signing import key_id, public_text, trainer_key, trainer_key_path

    settings = get_settings()
    try:
        public = trainer_key(settings).public_key()
    except ChartcoderError as exc:
        _fail(str(exc))
    err.print(f"key {key_id(public)} ({trainer_key_path(settings)}); trust it on a server with", soft_wrap=True)
    err.print("  CHARTCODER_TRUSTED_PACK_KEYS='<the line below>' (or a file holding it):", soft_wrap=True)
    print(public_text(public))


@models_app.command("rollback")
def models_rollback(reason: Annotated[str | None, typer.Option(help="Why, for the history.")] = None) -> None:
    """Return to the pack that served before the current one."""
    try:
        _print_promotion(_registry().rollback(_actor(), reason))
    except ChartcoderError as exc:
        _fail(str(exc))


@models_app.command("registry")
def models_registry(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Registered packs, which one is active, and the history of promotions and rollbacks."""
    listing = _registry().listing()
    if json_out:
        console.print_json(data=listing)
        return
    active = listing["active"] or "the configured pack"
    table = Table(title=f"{len(listing['packs'])} registered packs; active: {active}")
    for col in ("", "pack", "system", "labels", "MAP", "measured on", "registered", "by", "note"):
        table.add_column(col)
    for p in listing["packs"]:
        table.add_row(
            "*" if p["active"] else "",
            escape(p["ref"]),
            str(p["system"]),
            str(p["labels"]),
            *_map_columns(p["metrics"]),
            p["registered_at"][:19],
            escape(p["registered_by"]),
            escape(p["note"] or ""),
        )
    console.print(table)
    history = Table(title="promotions and rollbacks, newest first")
    for col in ("when", "action", "serves", "before", "by", "reason"):
        history.add_column(col)
    for e in listing["history"]:
        history.add_row(
            e["at"][:19],
            e["action"],
            escape(e["serves"]),
            escape(e["previous"] or "configured pack"),
            escape(e["actor"]),
            escape(e["reason"] or ""),
        )
    console.print(history)


def _map_columns(m: dict[str, Any]) -> tuple[str, str]:
    """The pack's MAP and what it was measured on: held-out records when the card has them, else
    the out-of-fold ranking of its training records."""
    if isinstance(m.get("MAP"), float):
        return f"{m['MAP']:.3f}", str(m.get("evaluated_on", "held-out records"))
    if isinstance(m.get("MAP_out_of_fold"), float):
        return f"{m['MAP_out_of_fold']:.3f}", "training records, out of fold"
    return "-", "-"


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


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=32)] = 1,
) -> None:
    """Start the API and the review page, preparing what the engine needs first."""
    import logging

    import uvicorn

    from chartcoder.api.auth import ensure_local_key
    from chartcoder.config import get_settings
    from chartcoder.models.pack import PackError, active_pack_path, verify_pack
    from chartcoder.models.service import service_from_settings
    from chartcoder.models.signing import trusted_keys

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = get_settings()
    except ChartcoderError as exc:  # e.g. CHARTCODER_ENVIRONMENT=prod: name the variable and the allowed values
        _fail(str(exc))
    err.print("Preparing the suggestion engine (first start builds the term index, ~15 s)...")
    if settings.model == "default":
        path = active_pack_path(settings.model, settings.model_dir)
        try:
            if path is not None:
                verify_pack(path, trusted_keys(settings))
        except PackError as exc:  # made by an older chartcoder, or not signed by a trusted key: build one
            err.print(f"The default pack is refused ({exc}); rebuilding it.", soft_wrap=True)
            path = None
        if path is None:
            _build_default_pack(settings.model_dir / "default", settings.default_pack_notes, settings)
    try:
        service = service_from_settings(settings)  # verifies the pack; builds the term index cache
    except ChartcoderError as exc:
        _fail(str(exc))
    active = _registry().active()
    if active is None:
        err.print(f"Serving suggestions from {service.model_name}")
    else:
        err.print(
            f"Serving suggestions from {active.ref} (promoted in the model registry; configured: {service.model_name})"
        )
    del service  # each worker loads its own; this one only checked that it loads
    key, created = ensure_local_key(settings)
    where = _key_notice(key, created, settings.api_key_file, sys.stderr.isatty())
    shown = f"$(cat {settings.api_key_file})"
    example = '{"text": "Assessment: type 2 diabetes with CKD stage 3b. HTN."}'
    err.print(
        f"\n[bold]chartcoder[/] on http://{host}:{port}  (OpenAPI at /docs)\n{where}\nTry:\n"
        f"  curl -s -H \"Authorization: Bearer {shown}\" -H 'Content-Type: application/json' \\\n"
        f"    -d '{example}' http://{host}:{port}/v1/suggestions\n",
        soft_wrap=True,  # keep the curl line copy-pasteable
        highlight=False,
    )
    _first_admin(settings, host, port)
    if workers > 1:
        _share_metrics_between_workers()
    # uvicorn's own proxy-header handling (X-Forwarded-For believed from loopback) is off: the app
    # believes forwarded addresses from CHARTCODER_TRUSTED_PROXIES only.
    uvicorn.run(
        "chartcoder.api.main:app", host=host, port=port, workers=workers, log_level="info", proxy_headers=False
    )


def _key_notice(key: str, created: bool, path: Path, terminal: bool) -> str:
    """What `serve` says about the local API key. The key itself only once, when it is made, and
    only to a terminal: standard error under systemd, Docker or a redirect is a log, and a log must
    never hold a key (the operator reads the 0600 file instead)."""
    if created and terminal:
        return f"New API key (kept in {path}, readable only by you; shown this once):\n  {key}"
    if created:
        return f"New API key written to {path} (readable only by you); read it with: cat {path}"
    return f"API key: in {path}"


def _share_metrics_between_workers() -> None:
    """Several workers: prometheus_client keeps each worker's metrics in files of one folder, so
    /metrics (answered by any one worker) shows them all (chartcoder/metrics.py). A fresh folder per
    run, removed at exit; a PROMETHEUS_MULTIPROC_DIR set by the operator is used as it is."""
    import atexit
    import os
    import shutil
    import tempfile

    from chartcoder.metrics import MULTIPROC_ENV

    if os.environ.get(MULTIPROC_ENV):
        return
    folder = tempfile.mkdtemp(prefix="chartcoder-metrics-")
    os.environ[MULTIPROC_ENV] = folder  # the workers are started after this, and inherit it
    atexit.register(shutil.rmtree, folder, ignore_errors=True)


def _review() -> Any:
    from chartcoder.config import get_settings
    from chartcoder.review.service import ReviewService, ReviewStore

    settings = get_settings()
    return ReviewService(ReviewStore(settings.resolved_database_url), settings)


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
        user = _review().create_user(username, password, role, display_name)
    except ChartcoderError as exc:
        _fail(str(exc))
    err.print(f"created user {escape(user['username'])} with role {user['role']}")


@users_app.command("list")
def users_list() -> None:
    """Every user, with role and whether active."""
    table = Table("id", "username", "name", "role", "active")
    for u in _review().list_users():
        table.add_row(str(u["id"]), u["username"], u["display_name"], u["role"], "yes" if u["active"] else "no")
    console.print(table)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who uses the key, e.g. the EHR's name.")],
    role: Annotated[str, typer.Option(help=ROLE_HELP)] = "ehr",
) -> None:
    """Create an API key; it is printed once, on standard output, and stored only as a digest."""
    try:
        key = _review().create_key(name, role)
    except ChartcoderError as exc:
        _fail(str(exc))
    err.print(f"API key {key['id']} for {escape(key['name'])} (role {key['role']}); shown once, keep it safe:")
    print(key["key"])


@keys_app.command("list")
def keys_list() -> None:
    """Every API key (its prefix, never the key)."""
    table = Table("id", "name", "role", "prefix", "created", "revoked")
    for k in _review().list_keys():
        table.add_row(
            str(k["id"]), k["name"], k["role"], k["prefix"] + "...", k["created_at"][:19], k["revoked_at"] or ""
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[int, typer.Argument(help="The key's id (see keys list).")]) -> None:
    """Revoke an API key at once."""
    from chartcoder.review.auth import Principal

    try:
        _review().revoke_key(key_id, Principal("admin", "cli"))
    except ChartcoderError as exc:
        _fail(str(exc))
    err.print(f"revoked key {key_id}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (serve does this on start too)."""
    from chartcoder.config import get_settings
    from chartcoder.review.db import current_revision, make_engine, migrate

    engine = make_engine(get_settings().resolved_database_url)
    migrate(engine)
    err.print(f"database at revision {current_revision(engine)}")


@db_app.command("status")
def db_status() -> None:
    """The database's migration revision and the newest one this chartcoder knows."""
    from chartcoder.config import get_settings
    from chartcoder.review.db import current_revision, head_revision, make_engine

    engine = make_engine(get_settings().resolved_database_url)
    console.print(f"database revision: {current_revision(engine) or 'none'}; newest: {head_revision()}")


@audits_app.command("export")
def audits_export(
    out: Annotated[Path, typer.Option(help="Where to write the audited-chart JSONL.")],
    since: Annotated[str | None, typer.Option(help="Finalized on or after this day (YYYY-MM-DD, UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="Finalized on or before this day (YYYY-MM-DD, UTC).")] = None,
) -> None:
    """Write finalized encounters as audited charts (`chartcoder train --format jsonl` reads them):
    accepted and added codes are positives, rejected ones negatives."""
    from datetime import date

    def day(value: str | None, name: str) -> date | None:
        try:
            return date.fromisoformat(value) if value else None
        except ValueError:
            _fail(f"--{name} must be a date as YYYY-MM-DD; got {value!r}")
        return None

    start, end = day(since, "since"), day(until, "until")
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
    from datetime import date

    from chartcoder.review.analytics import FeedbackAnalytics, FeedbackQuery

    def day(value: str | None, name: str) -> date | None:
        try:
            return date.fromisoformat(value) if value else None
        except ValueError:
            _fail(f"--{name} must be a date as YYYY-MM-DD; got {value!r}")
        return None

    try:
        query = FeedbackQuery(day(since, "since"), day(until, "until"), pack, system, bucket, top, include_open)
        report = FeedbackAnalytics(_review().store).report(query)
    except ChartcoderError as exc:
        _fail(str(exc))
    if json_out:
        sys.stdout.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        return
    from chartcoder.review.analytics_tables import print_report

    print_report(report, console)


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
        body, _media = render(claim, fmt, production=settings.environment == "production")
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
    text = body if isinstance(body, str) else json.dumps(body, indent=2)
    if out:
        out.write_text(text, encoding="utf-8")
        err.print(
            f"wrote {out} ({claim.claim_id}, {len(claim.diagnoses)} diagnoses, {len(claim.lines)} lines, "
            f"total {claim.total_charge})"
        )
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


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


def _first_admin(settings: Any, host: str, port: int) -> None:
    """On the first start (no users yet) make an `admin` with a random password kept in a 0600
    file, and say how to sign in; the password itself is never printed or logged."""
    import os
    import secrets

    from chartcoder.files import private_dir

    review = _review()
    if review.count_users():
        err.print(
            f"Review page: http://{host}:{port}/  (add people with: chartcoder users create NAME --role coder)",
            soft_wrap=True,
        )
        return
    password = secrets.token_urlsafe(15)
    path = settings.data_dir / "initial-admin-password"
    private_dir(path.parent)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password + "\n")
    review.create_user("admin", password, "admin", "Administrator")
    err.print(
        f"\n[bold]First start:[/] created the user [bold]admin[/]; its password is in {path} (readable only by you).\n"
        f"Sign in at http://{host}:{port}/ as admin with:  cat {path}\n"
        "Add coders with:  .venv/bin/chartcoder users create NAME --role coder\n",
        highlight=False,
        soft_wrap=True,  # keep paths and commands on one line, copy-pasteable
    )


def _build_default_pack(out: Path, notes: int, settings: Any) -> None:
    from chartcoder.training.default_pack import build_default_pack

    err.print(
        f"No model pack yet: building the default pack from {notes:,} synthetic notes into {out} "
        "(once; a few minutes on 2 cores)..."
    )
    with _progress() as progress:
        bar = progress.add_task("default pack", total=1.0)
        try:
            build_default_pack(
                out, notes, lambda s, f: progress.update(bar, description=s, completed=f), settings=settings
            )
        except ChartcoderError as exc:
            _fail(f"could not build the default pack: {exc}")
    err.print(f"wrote {out}, signed with the server's own key ({settings.data_dir / 'pack-signing.key'})")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
