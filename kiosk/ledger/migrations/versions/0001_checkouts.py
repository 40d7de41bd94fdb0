"""The checkouts: one row per sale. The first upgrade also imports the checkouts the kiosk kept
in its key-value store before it had a ledger.

Revision ID: 0001
Revises:
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import JSONB

from kiosk.ledger.entry import Entry
from kiosk.ledger.types import Moment, Money

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

STATUSES = ("pending", "waiting", "partly_paid", "paid", "cancelled", "expired", "partial", "see_cashier")
FINAL = ("paid", "cancelled", "expired", "partial", "see_cashier")
Document = sa.JSON().with_variant(JSONB(), "postgresql")
RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    table = op.create_table(
        "checkouts",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("order_id", sa.String(40), nullable=True),
        sa.Column("tx_id", sa.String(64), nullable=True),
        sa.Column("kiosk_ref", sa.String(40), nullable=True),
        sa.Column("started_by_kind", sa.String(16), nullable=False),
        sa.Column("started_by", sa.String(80), nullable=True),
        sa.Column("display_id", sa.String(64), nullable=True),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("lines", Document, nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("amount", Money(), nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("coin", sa.String(16), nullable=True),
        sa.Column("network", sa.String(16), nullable=True),
        sa.Column("coin_amount", Money(), nullable=True),
        sa.Column("conversion_rate", Money(), nullable=True),
        sa.Column("exchange_fee", Money(), nullable=True),
        sa.Column("commission", Money(), nullable=True),
        sa.Column("address", sa.String(128), nullable=True),
        sa.Column("sequence_id", sa.BigInteger(), nullable=True),
        sa.Column("upstream_status", sa.String(32), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("received", Money(), nullable=False),
        sa.Column("cancel_reason", sa.String(16), nullable=True),
        sa.Column("attention", Document, nullable=False),
        sa.Column("created_at", Moment(), nullable=False),
        sa.Column("deadline", Moment(), nullable=True),
        sa.Column("paid_at", Moment(), nullable=True),
        sa.Column("closed_at", Moment(), nullable=True),
        sa.Column("seen_at", Moment(), nullable=False),
        sa.Column("updated_at", Moment(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkouts")),
        sa.UniqueConstraint("order_id", name=op.f("uq_checkouts_order_id")),
        sa.UniqueConstraint("tx_id", name=op.f("uq_checkouts_tx_id")),
        sa.CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in STATUSES) + ")",
                           name=op.f("ck_checkouts_status")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_checkouts_version")),
    )
    op.create_index(op.f("ix_checkouts_created_at"), "checkouts", ["created_at"])
    op.create_index(op.f("ix_checkouts_status"), "checkouts", ["status"])
    op.create_index(op.f("ix_checkouts_display_id"), "checkouts", ["display_id"])
    seed: Callable[[], Iterable[Entry]] | None = context.config.attributes.get("seed")
    if seed is not None and table is not None:
        rows = _rows(seed())
        if rows:
            op.bulk_insert(table, rows)
        context.config.attributes["imported"] = len(rows)


def _rows(entries: Iterable[Entry]) -> list[dict[str, Any]]:
    """The store's checkouts as rows of this revision's table, one per checkout."""
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for e in entries:
        keys = {f"tx:{e.tx_id}" if e.tx_id else "", f"order:{e.order_id}" if e.order_id else ""} - {""}
        if not keys or keys & seen or e.amount is None or e.created is None:
            continue
        seen |= keys
        at = datetime.fromtimestamp(e.at, UTC)
        status = e.status if e.status in STATUSES else ("waiting" if e.tx_id else "pending")
        rows.append({
            "order_id": e.order_id, "tx_id": e.tx_id, "kiosk_ref": e.kiosk_ref,
            "started_by_kind": e.started_by_kind or "unknown", "started_by": e.started_by,
            "display_id": e.display_id, "reference": e.reference,
            "lines": [line.to_json() for line in e.lines or ()], "note": e.note,
            "amount": e.amount, "currency": e.currency or "", "coin": e.coin, "network": e.network,
            "coin_amount": e.coin_amount, "conversion_rate": e.conversion_rate,
            "exchange_fee": e.exchange_fee, "commission": e.commission, "address": e.address,
            "sequence_id": e.sequence_id, "upstream_status": e.upstream_status, "status": status,
            "version": 1, "received": e.received or Decimal(0), "cancel_reason": e.cancel_reason,
            "attention": sorted(e.attention), "created_at": datetime.fromtimestamp(e.created, UTC),
            "deadline": datetime.fromtimestamp(e.deadline, UTC) if e.deadline is not None else None,
            "paid_at": at if status == "paid" else None, "closed_at": at if status in FINAL else None,
            "seen_at": at, "updated_at": at,
        })
    return rows


def downgrade() -> None:
    op.drop_table("checkouts")
