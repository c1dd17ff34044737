"""`chartcoder models ...`: list, compare, sign, register, promote and roll back model packs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from chartcoder.cli.common import _fail, _progress, _registry, _splits, console, err
from chartcoder.domain.errors import ChartcoderError

models_app = typer.Typer(help="Model packs: list, compare, sign, register, promote, roll back.", no_args_is_help=True)


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
