"""Alembic environment: Postroom runs migrations itself, on a connection it hands over."""

from __future__ import annotations

from alembic import context

from postroom.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copying tables
)
with context.begin_transaction():
    context.run_migrations()
