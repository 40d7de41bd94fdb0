"""The ledger's tables. One row per checkout: the kiosk's own record of the sale, kept without
expiry. Upstream stays the truth about money; the row is what the kiosk asked and saw.

SQLAlchemy Core tables, read into plain dataclasses (Sale, Item): the ledger needs no identity
map or unit of work, and the ORM would cost every web worker about 6 MB."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
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
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

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

class Document(TypeDecorator[Any]):
    """A JSON document: JSONB on PostgreSQL, JSON elsewhere. SQLAlchemy's PostgreSQL dialect
    (about 2 MB) is imported only where the database is PostgreSQL."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())
RowId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite counts rows with INTEGER only


metadata = MetaData(naming_convention=NAMING)


def _null(name: str, kind: Any, *args: Any, **kw: Any) -> Column[Any]:
    return Column(name, kind, *args, nullable=True, **kw)


def _need(name: str, kind: Any, *args: Any, **kw: Any) -> Column[Any]:
    return Column(name, kind, *args, nullable=False, **kw)


checkouts = Table(
    "checkouts", metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    # The checkout's ids: the order a till or the console sent (chk_…), upstream's transaction,
    # and the kiosk's own reference sent upstream in statusNote.
    _null("order_id", String(40), unique=True),
    _null("tx_id", String(64), unique=True),
    _null("kiosk_ref", String(40)),
    # Who started it: kiosk (a keypad kiosk's session), display (a paired keypad display),
    # cashier (the console), till (an API key) or unknown; and that one's id or name, never a secret.
    _need("started_by_kind", String(16)),
    _null("started_by", String(80)),
    _null("display_id", String(64)),
    # What was asked.
    _null("reference", Text),
    _need("lines", Document, default=list),
    _null("note", Text),
    _need("amount", Money),  # without the tip
    _need("tip", Money, default=Decimal(0), server_default="0"),
    _need("currency", String(8)),
    # What upstream quoted.
    _null("coin", String(16)),
    _null("network", String(16)),
    _null("coin_amount", Money),
    _null("conversion_rate", Money),
    _null("exchange_fee", Money),
    _null("commission", Money),
    _null("address", String(128)),
    _null("sequence_id", BigInteger),
    _null("upstream_status", String(32)),
    # Where it stands; `version` goes up by one with every change, and every write names the
    # version it read (compare and set).
    _need("status", String(16)),
    _need("version", Integer),
    _need("received", Money),
    _null("cancel_reason", String(16)),
    # Upstream's refusals of the kiosk's cancel, and when to ask again; the "not found" answers
    # of a transaction that may be lost (the first one's moment, and how many since). Moments of
    # the kiosk's clock exactly, in seconds: the rules compare them at their edges.
    _need("cancel_refusals", Integer, server_default="0"),
    _null("cancel_retry_at", Double),
    _null("lost_since", Double),
    _need("lost_count", Integer, server_default="0"),
    _need("attention", Document, default=list),
    _need("created_at", Moment),
    _null("deadline", Moment),
    _null("paid_at", Moment),
    _null("closed_at", Moment),
    _need("seen_at", Moment),  # when the latest facts written were seen
    _need("updated_at", Moment),
    # The Z report that last counted the row (kiosk.reports.closing); its line there says how.
    _null("z_number", Integer, index=True),
    CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in STATUSES) + ")", name="status"),
    CheckConstraint("version >= 1", name="version"),
    Index(None, "created_at"),
    Index(None, "status"),
    Index(None, "display_id"),
)

# What a person at the shop has to look at, one per transaction (the latest finding), for the
# operator's "Today" until dismissed: a checkout's (see Sale.attention) or a transaction
# upstream holds that the kiosk does not know.
attention_items = Table(
    "attention", metadata,
    Column("tx_id", String(64), primary_key=True),
    _need("kind", String(16)),
    _need("at", Moment),
    _need("amount", Money),
    _need("coin", String(16)),
    _need("network", String(16)),
    _null("received", Money),
    _null("expected", Money),
    _null("dismissed_at", Moment),
    Index(None, "at"),
)

# A day closing: numbered from 1 without gaps, its figures frozen as they were made.
z_reports = Table(
    "z_reports", metadata,
    Column("number", Integer, primary_key=True, autoincrement=False),
    _null("opened_at", Moment),  # the previous report's making
    _need("made_at", Moment),
    _need("made_by", String(80)),
    _need("figures", Document),
)

# A checkout as a Z report counted it: its status and what was received then, and its export
# row as it read then. A checkout counted again later (a late payment) has a line in each
# report that counted it.
z_lines = Table(
    "z_lines", metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    _need("z_number", Integer, ForeignKey("z_reports.number")),
    _need("checkout_id", RowId, ForeignKey("checkouts.id"), index=True),
    _need("status", String(16)),
    _need("received", Money),
    _need("late", Boolean),
    _need("row", Document),
    UniqueConstraint("z_number", "checkout_id"),
)


@dataclass(frozen=True)
class Sale:
    """A checkout's row as read: who started it, what was asked, what upstream quoted, where it
    stands (the columns of `checkouts`)."""

    id: int
    order_id: str | None
    tx_id: str | None
    kiosk_ref: str | None
    started_by_kind: str
    started_by: str | None
    display_id: str | None
    reference: str | None
    lines: list[dict[str, Any]]
    note: str | None
    amount: Decimal
    tip: Decimal
    currency: str
    coin: str | None
    network: str | None
    coin_amount: Decimal | None
    conversion_rate: Decimal | None
    exchange_fee: Decimal | None
    commission: Decimal | None
    address: str | None
    sequence_id: int | None
    upstream_status: str | None
    status: str
    version: int
    received: Decimal
    cancel_reason: str | None
    cancel_refusals: int
    cancel_retry_at: float | None
    lost_since: float | None
    lost_count: int
    attention: list[str]
    created_at: datetime
    deadline: datetime | None
    paid_at: datetime | None
    closed_at: datetime | None
    seen_at: datetime
    updated_at: datetime
    z_number: int | None

    @classmethod
    def of(cls, row: Mapping[Any, Any]) -> Sale:
        return cls(**{f.name: row[f.name] for f in fields(cls)})


@dataclass(frozen=True)
class Item:
    """An attention item's row as read (the columns of `attention_items`)."""

    tx_id: str
    kind: str
    at: datetime
    amount: Decimal
    coin: str
    network: str
    received: Decimal | None
    expected: Decimal | None
    dismissed_at: datetime | None

    @classmethod
    def of(cls, row: Mapping[Any, Any]) -> Item:
        return cls(**{f.name: row[f.name] for f in fields(cls)})
