"""`chartcoder serve`: prepare the engine (the default pack, the term index), the local API key and the
first admin, then start the API and the review page."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from chartcoder.cli.common import _fail, _progress, _registry, _review, err
from chartcoder.domain.errors import ChartcoderError


def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=32)] = 1,
) -> None:
    """Start the API and the review page, preparing what the engine needs first."""
    import logging

    import uvicorn

    from chartcoder.accounts.static_keys import ensure_local_key
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
    uvicorn.run("chartcoder.api.main:app", host=host, port=port, workers=workers, log_level="info", proxy_headers=False)


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


def _first_admin(settings: Any, host: str, port: int) -> None:
    """On the first start (no users yet) make an `admin` with a random password kept in a 0600
    file, and say how to sign in; the password itself is never printed or logged."""
    import os
    import secrets

    from chartcoder.files import private_dir

    review = _review()
    if review.accounts.count_users():
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
    review.accounts.create_user("admin", password, "admin", "Administrator")
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
