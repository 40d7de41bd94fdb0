"""The ledger's tables. One row per checkout: the kiosk's own record of the sale, kept without
expiry. Upstream stays the truth about money; the row is what the kiosk asked and saw."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .states import STATUSES
from .types import Moment, Money

# Constraint names that are the same on every database, so later migrations can name them.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Document = JSON().with_variant(JSONB(), "postgresql")
RowId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite counts rows with INTEGER only


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Sale(Base):
    """A checkout: who started it, what was asked, what upstream quoted, where it stands."""

    __tablename__ = "checkouts"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    # The checkout's ids: the order a till or the console sent (chk_…), upstream's transaction,
    # and the kiosk's own reference sent upstream in statusNote.
    order_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    tx_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    kiosk_ref: Mapped[str | None] = mapped_column(String(40))
    # Who started it: kiosk (a keypad kiosk's session), display (a paired keypad display),
    # cashier (the console), till (an API key) or unknown; and that one's id or name, never a secret.
    started_by_kind: Mapped[str] = mapped_column(String(16))
    started_by: Mapped[str | None] = mapped_column(String(80))
    display_id: Mapped[str | None] = mapped_column(String(64))
    # What was asked.
    reference: Mapped[str | None] = mapped_column(Text)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(Document, default=list)
    note: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(Money)  # without the tip
    tip: Mapped[Decimal] = mapped_column(Money, default=Decimal(0), server_default="0")
    currency: Mapped[str] = mapped_column(String(8))
    # What upstream quoted.
    coin: Mapped[str | None] = mapped_column(String(16))
    network: Mapped[str | None] = mapped_column(String(16))
    coin_amount: Mapped[Decimal | None] = mapped_column(Money)
    conversion_rate: Mapped[Decimal | None] = mapped_column(Money)
    exchange_fee: Mapped[Decimal | None] = mapped_column(Money)
    commission: Mapped[Decimal | None] = mapped_column(Money)
    address: Mapped[str | None] = mapped_column(String(128))
    sequence_id: Mapped[int | None] = mapped_column(BigInteger)
    upstream_status: Mapped[str | None] = mapped_column(String(32))
    # Where it stands; `version` goes up by one with every change, and every write names the
    # version it read (compare and set).
    status: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    received: Mapped[Decimal] = mapped_column(Money)
    cancel_reason: Mapped[str | None] = mapped_column(String(16))
    # An order's choice whether its display asks for a tip (None: not an order, or not known).
    ask_tip: Mapped[bool | None] = mapped_column(Boolean)
    # Upstream's refusals of the kiosk's cancel, and when to ask again; the "not found" answers
    # of a transaction that may be lost (the first one's moment, and how many since). Moments of
    # the kiosk's clock exactly, in seconds: the rules compare them at their edges.
    cancel_refusals: Mapped[int] = mapped_column(Integer, server_default="0")
    cancel_retry_at: Mapped[float | None] = mapped_column(Double)
    lost_since: Mapped[float | None] = mapped_column(Double)
    lost_count: Mapped[int] = mapped_column(Integer, server_default="0")
    attention: Mapped[list[str]] = mapped_column(Document, default=list)
    created_at: Mapped[datetime] = mapped_column(Moment)
    deadline: Mapped[datetime | None] = mapped_column(Moment)
    paid_at: Mapped[datetime | None] = mapped_column(Moment)
    closed_at: Mapped[datetime | None] = mapped_column(Moment)
    seen_at: Mapped[datetime] = mapped_column(Moment)  # when the latest facts written were seen
    updated_at: Mapped[datetime] = mapped_column(Moment)
    # The Z report that last counted the row (kiosk.reports.closing); its line there says how.
    z_number: Mapped[int | None] = mapped_column(Integer, index=True)

    __table_args__ = (
        CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in STATUSES) + ")", name="status"),
        CheckConstraint("version >= 1", name="version"),
        Index(None, "created_at"),
        Index(None, "status"),
        Index(None, "display_id"),
    )


class Item(Base):
    """What a person at the shop has to look at, one per transaction (the latest finding), for
    the operator's "Today" until dismissed: a checkout's (see Sale.attention) or a transaction
    upstream holds that the kiosk does not know."""

    __tablename__ = "attention"

    tx_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(Moment)
    amount: Mapped[Decimal] = mapped_column(Money)
    coin: Mapped[str] = mapped_column(String(16))
    network: Mapped[str] = mapped_column(String(16))
    received: Mapped[Decimal | None] = mapped_column(Money)
    expected: Mapped[Decimal | None] = mapped_column(Money)
    dismissed_at: Mapped[datetime | None] = mapped_column(Moment)

    __table_args__ = (Index(None, "at"),)


class ZReport(Base):
    """A day closing: numbered from 1 without gaps, its figures frozen as they were made."""

    __tablename__ = "z_reports"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    opened_at: Mapped[datetime | None] = mapped_column(Moment)  # the previous report's making
    made_at: Mapped[datetime] = mapped_column(Moment)
    made_by: Mapped[str] = mapped_column(String(80))
    figures: Mapped[dict[str, Any]] = mapped_column(Document)


class ZLine(Base):
    """A checkout as a Z report counted it: its status and what was received then, and its
    export row as it read then. A checkout counted again later (a late payment) has a line in
    each report that counted it."""

    __tablename__ = "z_lines"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    z_number: Mapped[int] = mapped_column(ForeignKey("z_reports.number"))
    checkout_id: Mapped[int] = mapped_column(RowId, ForeignKey("checkouts.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    received: Mapped[Decimal] = mapped_column(Money)
    late: Mapped[bool] = mapped_column(Boolean)
    row: Mapped[dict[str, Any]] = mapped_column(Document)

    __table_args__ = (UniqueConstraint("z_number", "checkout_id"),)


checkouts = cast(Table, Sale.__table__)
attention_items = cast(Table, Item.__table__)
z_reports = cast(Table, ZReport.__table__)
z_lines = cast(Table, ZLine.__table__)
