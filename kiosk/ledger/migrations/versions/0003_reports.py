"""Tips and day closings: a checkout's tip beside its amount, the Z report that last counted it,
and the Z reports with their lines.

Revision ID: 0003_reports
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from kiosk.ledger.types import Moment, Money

revision: str = "0003_reports"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

Document = sa.JSON().with_variant(JSONB(), "postgresql")
RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("checkouts") as batch:
        batch.add_column(sa.Column("tip", Money(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("z_number", sa.Integer(), nullable=True))
        batch.create_index(op.f("ix_checkouts_z_number"), ["z_number"])
    op.create_table(
        "z_reports",
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("opened_at", Moment(), nullable=True),
        sa.Column("made_at", Moment(), nullable=False),
        sa.Column("made_by", sa.String(80), nullable=False),
        sa.Column("figures", Document, nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_z_reports")),
    )
    op.create_table(
        "z_lines",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("z_number", sa.Integer(), nullable=False),
        sa.Column("checkout_id", RowId, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("received", Money(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("row", Document, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_z_lines")),
        sa.ForeignKeyConstraint(["z_number"], ["z_reports.number"],
                                name=op.f("fk_z_lines_z_number_z_reports")),
        sa.ForeignKeyConstraint(["checkout_id"], ["checkouts.id"],
                                name=op.f("fk_z_lines_checkout_id_checkouts")),
        sa.UniqueConstraint("z_number", "checkout_id", name=op.f("uq_z_lines_z_number")),
    )
    op.create_index(op.f("ix_z_lines_checkout_id"), "z_lines", ["checkout_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_z_lines_checkout_id"), table_name="z_lines")
    op.drop_table("z_lines")
    op.drop_table("z_reports")
    with op.batch_alter_table("checkouts") as batch:
        batch.drop_index(op.f("ix_checkouts_z_number"))
        batch.drop_column("z_number")
        batch.drop_column("tip")
