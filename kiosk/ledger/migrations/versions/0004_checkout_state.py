"""A checkout's whole state in its row: the cancel upstream refused and when to ask again, the
"not found" answers of a transaction that may be lost, and the attention items for the operator
(one per transaction, kept without expiry: what was dismissed stays dismissed). Before, these
lived in the key-value store, with a time to live.

Revision ID: 0004_checkout_state
Revises: 0003_reports
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from kiosk.ledger.types import Moment, Money

revision: str = "0004_checkout_state"
down_revision: str | None = "0003_reports"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("checkouts") as batch:
        batch.add_column(sa.Column("cancel_refusals", sa.Integer(), nullable=False, server_default="0"))
        # The kiosk's clock exactly (seconds), not a Moment: the rules compare them at their edges.
        batch.add_column(sa.Column("cancel_retry_at", sa.Double(), nullable=True))
        batch.add_column(sa.Column("lost_since", sa.Double(), nullable=True))
        batch.add_column(sa.Column("lost_count", sa.Integer(), nullable=False, server_default="0"))
    table = op.create_table(
        "attention",
        sa.Column("tx_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", Moment(), nullable=False),
        sa.Column("amount", Money(), nullable=False),
        sa.Column("coin", sa.String(16), nullable=False),
        sa.Column("network", sa.String(16), nullable=False),
        sa.Column("received", Money(), nullable=True),
        sa.Column("expected", Money(), nullable=True),
        sa.Column("dismissed_at", Moment(), nullable=True),
        sa.PrimaryKeyConstraint("tx_id", name=op.f("pk_attention")),
    )
    op.create_index(op.f("ix_attention_at"), "attention", ["at"])
    # The first upgrade of an install from before the ledger: the items its store holds.
    items: Callable[[], Iterable[dict[str, Any]]] | None = context.config.attributes.get("attention")
    if items is not None and table is not None:
        rows = list(items())
        if rows:
            op.bulk_insert(table, rows)


def downgrade() -> None:
    op.drop_index(op.f("ix_attention_at"), table_name="attention")
    op.drop_table("attention")
    with op.batch_alter_table("checkouts") as batch:
        for name in ("lost_count", "lost_since", "cancel_retry_at", "cancel_refusals"):
            batch.drop_column(name)
