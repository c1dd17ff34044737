"""Review databases for tests, on SQLite and PostgreSQL: a new empty PostgreSQL database, and
`Templates`, which makes a database once per test module (migrated, with the users a module needs,
created and signed in through the real account service) and copies it into each test's own fresh
database. Each test still starts from its own database; the module just pays the migrations and the
Argon2 hashing of its users once instead of once per test. Not a conftest, so that test folders import
it by name."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ADMIN_URL = os.environ.get("CHARTCODER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
_PLAIN = ADMIN_URL.replace("+psycopg", "")


def postgres_reason() -> str | None:
    """None when PostgreSQL answers; otherwise why its tests are skipped."""
    try:
        import psycopg

        with psycopg.connect(_PLAIN, connect_timeout=3):
            return None
    except Exception as exc:  # any failure to connect means: skip, and say why
        return f"PostgreSQL not reachable at {ADMIN_URL} ({type(exc).__name__}); its tests are skipped"


def _admin(*statements: str) -> None:
    import psycopg

    with psycopg.connect(_PLAIN, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]


def _name(url: str) -> str:
    return url.rpartition("/")[2]


def new_postgres_database() -> str:
    """A new, empty PostgreSQL database; drop it with `drop_postgres_database`."""
    name = f"chartcoder_test_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}"')
    return f"{ADMIN_URL.rpartition('/')[0]}/{name}"


def drop_postgres_database(url: str) -> None:
    _admin(f'DROP DATABASE IF EXISTS "{_name(url)}" WITH (FORCE)')


def _sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def copy_database(template_url: str, into_url: str) -> None:
    """Replaces the database at `into_url` (of the same kind) by a copy of the template: SQLite's backup
    API for a file, CREATE DATABASE ... TEMPLATE for PostgreSQL. Nobody may be connected to either."""
    if template_url.startswith("sqlite"):
        target = _sqlite_path(into_url)
        with sqlite3.connect(_sqlite_path(template_url)) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
        src.close()
        dst.close()
        target.chmod(0o600)  # as the store keeps its own files
        return
    name = _name(into_url)
    template = _name(template_url)
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


class Templates:
    """Template databases of one test module, one per (name, kind): `restore(name, db_url, seed)` makes
    the template on first use with `seed(template_url)` (which must leave no connection open) and copies
    it into `db_url`, answering what `seed` answered (e.g. the users' session tokens, which the copy
    holds). `close()` drops the PostgreSQL templates."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.made: dict[tuple[str, str], tuple[str, Any]] = {}

    def restore(self, name: str, db_url: str, seed: Callable[[str], Any]) -> Any:
        kind = "sqlite" if db_url.startswith("sqlite") else "postgresql"
        if (name, kind) not in self.made:
            url = f"sqlite:///{self.folder / f'{name}.db'}" if kind == "sqlite" else new_postgres_database()
            self.made[(name, kind)] = (url, seed(url))
        url, value = self.made[(name, kind)]
        copy_database(url, db_url)
        return value

    def close(self) -> None:
        for url, _ in self.made.values():
            if not url.startswith("sqlite"):
                drop_postgres_database(url)
