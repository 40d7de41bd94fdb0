"""A till's or the console's order keeps whether its display asks for a tip (the till API lists
checkouts from the ledger with it).

Revision ID: 0005_ask_tip
Revises: 0004_checkout_state
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005_ask_tip"
down_revision: str | None = "0004_checkout_state"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("checkouts") as batch:
        batch.add_column(sa.Column("ask_tip", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("checkouts") as batch:
        batch.drop_column("ask_tip")
