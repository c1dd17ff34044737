"""Alembic environment: the connection comes from the caller (`chartcoder.review.db.migrate`)."""

from __future__ import annotations

from alembic import context

from chartcoder.review import cds_models  # noqa: F401  (the CDS Hooks tables join Base.metadata)
from chartcoder.review.models import Base

config = context.config
target_metadata = Base.metadata
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through chartcoder.review.db.migrate (or `chartcoder db upgrade`)")
context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
