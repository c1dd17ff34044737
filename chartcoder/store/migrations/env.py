"""Alembic environment: the connection comes from the caller (`chartcoder.store.database.migrate`)."""

from __future__ import annotations

from alembic import context

from chartcoder.store import accounts, audit, cds, claims, registry, review  # noqa: F401  (all tables in Base.metadata)
from chartcoder.store.base import Base

config = context.config
target_metadata = Base.metadata
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through chartcoder.store.database.migrate (or `chartcoder db upgrade`)")
context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
