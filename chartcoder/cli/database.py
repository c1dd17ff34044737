"""`chartcoder db ...`: migrate the review database, show its revision."""

from __future__ import annotations

import typer

from chartcoder.cli.common import console, err

db_app = typer.Typer(help="The review database: migrate, show its revision.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (serve does this on start too)."""
    from chartcoder.config import get_settings
    from chartcoder.store.database import current_revision, make_engine, migrate

    engine = make_engine(get_settings().resolved_database_url)
    migrate(engine)
    err.print(f"database at revision {current_revision(engine)}")


@db_app.command("status")
def db_status() -> None:
    """The database's migration revision and the newest one this chartcoder knows."""
    from chartcoder.config import get_settings
    from chartcoder.store.database import current_revision, head_revision, make_engine

    engine = make_engine(get_settings().resolved_database_url)
    console.print(f"database revision: {current_revision(engine) or 'none'}; newest: {head_revision()}")
