"""The database: engine set-up for SQLite (WAL) and PostgreSQL, sessions, and migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from chartcoder.files import create_private_file

MIGRATIONS = Path(__file__).with_name("migrations")


def make_engine(url: str) -> Engine:
    """An engine for `url`, whose errors never echo the statement's values. SQLite gets WAL (readers
    never block the writer), foreign keys, a busy timeout instead of instant "database is locked"
    errors, and full fsync so an answered write survives a crash."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            # 0600 in a 0700 folder before SQLite opens it; SQLite gives -wal and -shm the same mode
            create_private_file(Path(parsed.database))
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # the driver's own BEGIN handling off: _begin below emits it
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=FULL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # A writing transaction takes SQLite's write lock when it begins, so two writers queue
            # (busy_timeout) instead of both reading a version and one failing to upgrade its
            # snapshot with "database is locked"; reading transactions stay deferred.
            immediate = conn.get_execution_options().get("sqlite_immediate")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    # hide_parameters: a database error's message never carries the values (note text, patients).
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, hide_parameters=True)


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent). On PostgreSQL an advisory lock keeps
    several API processes starting at once from migrating twice."""
    cfg = _config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(727274)"))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


class ReviewStore:
    """The one database (review, accounts, claims, the registry, CDS Hooks): one engine, migrated on open."""

    def __init__(self, url: str, run_migrations: bool = True) -> None:
        self.url = url
        self.engine: Engine = make_engine(url)
        if run_migrations:
            migrate(self.engine)
        self.readers = session_factory(self.engine)
        self.writers = session_factory(self.engine.execution_options(sqlite_immediate=True))

    @contextmanager
    def session(self, write: bool = True) -> Iterator[Session]:
        """One transaction. `write=False` for reads: on SQLite they do not queue behind writers."""
        with (self.writers if write else self.readers)() as s, s.begin():
            yield s

    def dispose(self) -> None:
        self.engine.dispose()
