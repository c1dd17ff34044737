"""The `chartcoder` command tree: the root app, its start-up check, and every command and group in the order
`chartcoder --help` lists them. Each group lives in its own module."""

from __future__ import annotations

import typer

from chartcoder.cli.accounts import keys_app, users_app
from chartcoder.cli.audits import audits_app
from chartcoder.cli.bulk import bulk_app
from chartcoder.cli.claims import claim_app
from chartcoder.cli.codes import codes_app
from chartcoder.cli.coding import predict, suggest
from chartcoder.cli.common import _fail
from chartcoder.cli.database import db_app
from chartcoder.cli.feedback import feedback_app
from chartcoder.cli.models import models_app
from chartcoder.cli.serve import serve
from chartcoder.cli.training import evaluate, train

# Tracebacks never show local variables: they would print note text.
app = typer.Typer(
    help="chartcoder: ICD-10-CM and CPT/HCPCS code suggestions with evidence.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
for command in (suggest, predict, train, evaluate, serve):
    app.command()(command)
for group, name in (
    (codes_app, "codes"),
    (models_app, "models"),
    (users_app, "users"),
    (keys_app, "keys"),
    (db_app, "db"),
    (audits_app, "audits"),
    (feedback_app, "feedback"),
    (claim_app, "claim"),
    (bulk_app, "bulk"),
):
    app.add_typer(group, name=name)


@app.callback()
def _settings_first() -> None:
    # A wrong CHARTCODER_* variable (a closed set, a file that is not there) stops every command at
    # start with the variable named, not a traceback from deep inside the command.
    from chartcoder.config import SettingsError, get_settings

    try:
        get_settings()
    except SettingsError as exc:
        _fail(str(exc))


def main() -> None:
    app()
