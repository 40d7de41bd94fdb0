"""The ledger: one row per checkout, written by compare and set.

Every write reads the row and its version, works out what changes, and updates the row only where
the version is still the one it read, one higher afterwards. Two writers racing make one
transition; the loser reads again and finds nothing left to do, or what is left. A write that
changes nothing writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, insert, or_, select, update
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError

from ..clock import now as clock_now
from . import revision
from .database import reading
from .entry import Entry
from .schema import Item, Sale, attention_items, checkouts
from .states import FINAL, RANK, STATUSES, moves

TRIES = 5  # reads and writes again after losing a race, at most


class Conflict(Exception):
    """Other writers kept changing the row: the write was not made (the caller keeps it)."""


def moment(at: float | None) -> datetime | None:
    return None if at is None else datetime.fromtimestamp(at, UTC)


# Columns an entry fills in or, when its facts are newer than the row's, corrects.
FACTS = ("kiosk_ref", "started_by_kind", "started_by", "display_id", "reference", "lines", "note",
         "amount", "tip", "currency", "coin", "network", "coin_amount", "conversion_rate", "exchange_fee",
         "commission", "address", "sequence_id", "upstream_status", "created_at", "deadline",
         "cancel_reason", "ask_tip")
# A checkout's ids, its start and who started it never change once known.
SET_ONCE = ("tx_id", "order_id", "created_at", "started_by_kind", "started_by")
UNKNOWN = "unknown"  # who started a checkout, when the writer cannot tell: no news


def facts(entry: Entry) -> dict[str, Any]:
    """The entry's known facts as column values."""
    values: dict[str, Any] = {
        "tx_id": entry.tx_id, "order_id": entry.order_id, "kiosk_ref": entry.kiosk_ref,
        "started_by_kind": entry.started_by_kind, "started_by": entry.started_by,
        "display_id": entry.display_id, "reference": entry.reference, "note": entry.note,
        "lines": None if entry.lines is None else [line.to_json() for line in entry.lines],
        "amount": entry.amount, "tip": entry.tip, "currency": entry.currency, "coin": entry.coin,
        "network": entry.network, "coin_amount": entry.coin_amount,
        "conversion_rate": entry.conversion_rate, "exchange_fee": entry.exchange_fee,
        "commission": entry.commission, "address": entry.address, "sequence_id": entry.sequence_id,
        "upstream_status": entry.upstream_status, "created_at": moment(entry.created),
        "deadline": moment(entry.deadline), "cancel_reason": entry.cancel_reason,
        "ask_tip": entry.ask_tip,
    }
    if values["started_by_kind"] == UNKNOWN:
        values["started_by_kind"] = None
    return {k: v for k, v in values.items() if v is not None}


def changes(row: Mapping[Any, Any], entry: Entry, now: datetime) -> dict[str, Any]:
    """What `entry` changes in `row` (empty: nothing). Facts seen before the row's latest only
    fill gaps; the status only moves up (see states); received only grows; attention flags are
    only added; the moments a checkout was paid and closed are the first ones seen."""
    seen = moment(entry.at)
    assert seen is not None
    newer = seen >= row["seen_at"]
    out: dict[str, Any] = {}
    for name, value in facts(entry).items():
        old = row[name]
        if old == value:
            continue
        if old is None or (name == "started_by_kind" and old == UNKNOWN) or (
                newer and name not in SET_ONCE):
            out[name] = value
    if entry.status is not None and moves(row["status"], entry.status):
        out["status"] = entry.status
        if entry.status in FINAL and row["closed_at"] is None:
            out["closed_at"] = seen
        if entry.status == "paid" and row["paid_at"] is None:
            out["paid_at"] = seen
    if entry.received is not None and entry.received > row["received"]:
        out["received"] = entry.received
    flags = set(row["attention"] or ())
    if not entry.attention <= flags:
        out["attention"] = sorted(flags | entry.attention)
    if out:
        if seen > row["seen_at"]:
            out["seen_at"] = seen
        out["updated_at"] = now
        out["version"] = row["version"] + 1
    return out


def new_row(entry: Entry, now: datetime) -> dict[str, Any] | None:
    """The row a first entry makes; None when it knows too little to make one (no amount or no
    start), such as a flag for a checkout the ledger has not heard of."""
    status = entry.status or ("waiting" if entry.tx_id else "pending")
    if entry.amount is None or entry.created is None or status not in RANK:
        return None
    seen = moment(entry.at)
    values = facts(entry)
    values.update(
        status=status, version=1, received=entry.received or Decimal(0),
        attention=sorted(entry.attention), started_by_kind=values.get("started_by_kind", UNKNOWN),
        currency=entry.currency or "", lines=values.get("lines", []), tip=entry.tip or Decimal(0),
        closed_at=seen if status in FINAL else None, paid_at=seen if status == "paid" else None,
        seen_at=seen, updated_at=now,
    )
    return values


class Ledger:
    """The sales ledger over one database. `seed` and `items`: the checkouts and attention items
    the upgrades that make their tables import from the key-value store the kiosk kept before."""

    def __init__(self, engine: Engine, *, seed: Callable[[], Iterable[Entry]] | None = None,
                 items: revision.Items | None = None, clock: Callable[[], float] = clock_now) -> None:
        self.engine = engine
        self.seed = seed
        self.items = items
        self.clock = clock
        self._ready = False

    # -- the schema --------------------------------------------------------------------------

    def upgrade(self) -> revision.Upgraded:
        """Bring the schema to the newest migration (one process at a time); the first upgrade
        of an empty database also imports `seed`."""
        from . import migrate  # Alembic: only in the processes that upgrade (see revision)

        done = migrate.upgrade(self.engine, self.seed, self.items)
        self._ready = True
        return done

    def ensure(self) -> None:
        """Up to date once per process: one plain query of the schema's revision (the processes
        that start the kiosk upgraded it already); a ledger that was away at start, or is
        behind, is upgraded when it answers."""
        if self._ready:
            return
        with reading(self.engine) as conn:
            found = revision.current(conn)
        if found == revision.HEAD:
            self._ready = True
        else:
            self.upgrade()

    # -- reading -----------------------------------------------------------------------------

    def get(self, *, tx_id: str | None = None, order_id: str | None = None) -> Sale | None:
        if tx_id is None and order_id is None:
            return None
        with reading(self.engine) as conn:
            found = conn.execute(select(checkouts).where(or_(*_matching(tx_id, order_id)))).mappings()
            rows = [Sale.of(row) for row in found]
        return _pick(rows, tx_id)

    def row(self, tx_id: str) -> RowMapping | None:
        """The row of a transaction as the database holds it (with its version), for a writer
        that will compare and set (`advance`)."""
        self.ensure()
        with reading(self.engine) as conn:
            return conn.execute(select(checkouts).where(checkouts.c.tx_id == tx_id)).mappings().first()

    def all(self) -> list[Sale]:
        with reading(self.engine) as conn:
            query = select(checkouts).order_by(checkouts.c.created_at, checkouts.c.id)
            return [Sale.of(row) for row in conn.execute(query).mappings()]

    # -- writing -----------------------------------------------------------------------------

    def record(self, entry: Entry) -> Sale | None:
        """Write what `entry` changes (nothing when nothing does). Returns the row as it is now
        (None: no row, and the entry knows too little to make one). Raises Conflict when other
        writers won every try, or the database's own error."""
        self.ensure()
        for _ in range(TRIES):
            now = datetime.fromtimestamp(self.clock(), UTC)
            try:
                with self.engine.begin() as conn:
                    row = self._find(conn, entry)
                    if row is None:
                        values = new_row(entry, now)
                        if values is None:
                            return None
                        conn.execute(insert(checkouts).values(**values))
                    else:
                        values = changes(row, entry, now)
                        if values and not self._swap(conn, row["id"], row["version"], values):
                            continue  # another writer changed it since it was read
            except IntegrityError:
                continue  # another writer made the row first: merge into it
            return self.get(tx_id=entry.tx_id, order_id=entry.order_id)
        raise Conflict(f"the ledger row of {entry.tx_id or entry.order_id} kept changing")

    def advance(self, row: Mapping[str, Any], entry: Entry, values: Mapping[str, Any]) -> bool:
        """Compare and set: write what `entry` changes in `row` and the columns `values` where
        they differ from it, in one write, only if the row is still at the version it was read
        at. True when written (or when nothing changes); False when another writer changed the
        row first (read it again)."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        out = changes(row, entry, now)
        extra = {k: v for k, v in values.items() if row[k] != v and k not in out}
        if not out and not extra:
            return True
        out.update(extra)
        out.setdefault("updated_at", now)
        out["version"] = row["version"] + 1
        with self.engine.begin() as conn:
            return self._swap(conn, row["id"], row["version"], out)

    # -- attention items -----------------------------------------------------------------------

    def note(self, tx_id: str, kind: str, at: float, amount: Decimal, coin: str, network: str,
             received: Decimal | None = None, expected: Decimal | None = None) -> None:
        """The latest finding about a transaction for the operator, open until dismissed (a
        finding noted again is open again)."""
        self.ensure()
        values = {"kind": kind, "at": moment(at), "amount": amount, "coin": coin, "network": network,
                  "received": received, "expected": expected, "dismissed_at": None}
        for _ in range(TRIES):
            try:
                with self.engine.begin() as conn:
                    done = conn.execute(update(attention_items).where(attention_items.c.tx_id == tx_id)
                                        .values(**values))
                    if done.rowcount == 0:
                        conn.execute(insert(attention_items).values(tx_id=tx_id, **values))
                return
            except IntegrityError:
                continue  # another writer noted it first: write over it
        raise Conflict(f"the attention item of {tx_id} kept changing")

    def dismiss(self, tx_id: str) -> None:
        """The operator has dealt with the item: it stays in the ledger, dismissed."""
        self.ensure()
        with self.engine.begin() as conn:
            conn.execute(update(attention_items)
                         .where(attention_items.c.tx_id == tx_id, attention_items.c.dismissed_at.is_(None))
                         .values(dismissed_at=moment(self.clock())))

    def item(self, tx_id: str) -> Item | None:
        self.ensure()
        with reading(self.engine) as conn:
            query = select(attention_items).where(attention_items.c.tx_id == tx_id)
            found = conn.execute(query).mappings().first()
        return None if found is None else Item.of(found)

    def attention(self) -> list[Item]:
        """The items not dismissed, the newest first."""
        self.ensure()
        query = (select(attention_items).where(attention_items.c.dismissed_at.is_(None))
                 .order_by(attention_items.c.at.desc(), attention_items.c.tx_id))
        with reading(self.engine) as conn:
            return [Item.of(row) for row in conn.execute(query).mappings()]

    def set_status(self, row_id: int, version: int, status: str, **values: Any) -> bool:
        """Compare and set: move the row to `status` (and `values`) only if it is still at
        `version`. True when this write made the change; False when another writer did first."""
        if status not in STATUSES:
            raise ValueError(f"not a status word: {status!r}")
        self.ensure()
        now = datetime.fromtimestamp(self.clock(), UTC)
        with self.engine.begin() as conn:
            return self._swap(conn, row_id, version, {**values, "status": status, "version": version + 1,
                                                      "updated_at": now})

    @staticmethod
    def _swap(conn: Connection, row_id: int, version: int, values: dict[str, Any]) -> bool:
        result = conn.execute(update(checkouts)
                              .where(checkouts.c.id == row_id, checkouts.c.version == version)
                              .values(**values))
        return result.rowcount == 1

    @staticmethod
    def _find(conn: Connection, entry: Entry) -> RowMapping | None:
        if entry.tx_id is None and entry.order_id is None:
            return None
        rows = conn.execute(select(checkouts).where(or_(*_matching(entry.tx_id, entry.order_id)))).mappings()
        found = list(rows)
        for row in found:
            if entry.tx_id is not None and row["tx_id"] == entry.tx_id:
                return row
        return found[0] if found else None


def _matching(tx_id: str | None, order_id: str | None) -> list[Any]:
    conditions = []
    if tx_id is not None:
        conditions.append(checkouts.c.tx_id == tx_id)
    if order_id is not None:
        conditions.append(checkouts.c.order_id == order_id)
    return conditions


def _pick(rows: list[Sale], tx_id: str | None) -> Sale | None:
    for row in rows:
        if tx_id is not None and row.tx_id == tx_id:
            return row
    return rows[0] if rows else None
