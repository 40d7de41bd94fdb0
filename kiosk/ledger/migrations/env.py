"""Alembic's environment for the ledger: it runs on the connection (and in the transaction) that
kiosk.ledger.migrate hands it, never on a URL of its own."""

from __future__ import annotations

from alembic import context

from kiosk.ledger.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("the ledger's migrations run through `kiosk db upgrade` (kiosk.ledger.migrate)")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
