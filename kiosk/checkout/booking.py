"""Booking: the ledger told of every order a till or the console sends, from the moment one
waits on a display through its end (a checkout's own row is written by its runner, with its
state: kiosk.checkout.runner). Each write carries all that the writer knows, so any later write
repairs an earlier one that was lost; and the first upgrade's import of today's store.

A ledger write never breaks a payment: when the ledger is away, the entry is kept in the store
(`ledger-due:<id>`, in the `ledger` index by the time it was seen) and the watcher's sweep writes
it once the ledger answers again (the watcher's heartbeat tries every few seconds while entries
wait); meanwhile this process does not wait on the ledger for each event (a short pause after a
failure, over once the entries kept were written), and its screens say they are reconnecting.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import fields, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from .. import money
from ..clock import now as clock_now
from ..ledger import Entry, Ledger, Line, moves
from .record import RECORD_TTL, UNREADABLE, Record
from .store import Store

log = logging.getLogger("kiosk.ledger")

DUE = "ledger"  # the store's index of entries the ledger has not taken yet
PAUSE = 30.0  # after a failed write, this process keeps entries for the sweep this long
CATCH_UP_LIMIT = 500

# The status each lifecycle event means.
STATUS_OF = {
    "created": "waiting",
    "created without an answer": "waiting",
    "partly paid": "partly_paid",
    "paid": "paid",
    "paid late": "paid",
    "cancelled": "cancelled",
    "expired": "expired",
    "ended with partial payment": "partial",
    "partly paid after close": "partial",
    "needs a check": "see_cashier",
}
ENDED_BY = ("cancelled", "expired", "partial", "see_cashier")  # ends that may have a cancel reason
SOURCES = {"api": "till", "console": "cashier"}  # who sent an order, in the ledger's words


class OrderLine(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def quantity(self) -> int: ...
    @property
    def unit_amount(self) -> Decimal: ...


class OrderLike(Protocol):
    """What the ledger reads of an order (kiosk.displays.Order)."""

    @property
    def id(self) -> str: ...
    @property
    def display(self) -> str: ...
    @property
    def amount(self) -> Decimal: ...
    @property
    def currency(self) -> str: ...
    @property
    def reference(self) -> str | None: ...
    @property
    def note(self) -> str | None: ...
    @property
    def lines(self) -> tuple[Any, ...]: ...
    @property
    def created(self) -> float: ...
    @property
    def deadline(self) -> float: ...
    @property
    def source(self) -> str: ...
    @property
    def tx(self) -> str | None: ...
    @property
    def ask_tip(self) -> bool: ...


class OrderStateLike(Protocol):
    """What the ledger reads of an order's state (kiosk.displays.OrderState)."""

    @property
    def order(self) -> Any: ...
    @property
    def status(self) -> str: ...
    @property
    def cancel_reason(self) -> str | None: ...


def started_by(record: Record) -> tuple[str | None, str | None]:
    """Who started a checkout, from its owner: a keypad kiosk's browser or a paired display
    (an order's sender is the order's to say)."""
    if record.order:
        return None, None
    kind, _, who = (record.owner or "").partition(":")
    if kind in ("kiosk", "display") and who:
        return kind, who
    return "unknown", None


def customer_note(tx_note: str | None) -> str | None:
    """The note the customer (or the till) gave, without the kiosk's own reference."""
    words = [w for w in (tx_note or "").split(" ") if not w.startswith("kiosk:")]
    return " ".join(words).strip() or None


def amount(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return result if result.is_finite() else None


class Booking:
    def __init__(self, ledger: Ledger, store: Store, *, currency: str = money.DEFAULT,
                 clock: Callable[[], float] = clock_now) -> None:
        self.ledger = ledger
        self.store = store
        self.currency = currency
        self.clock = clock
        self._paused_until = 0.0

    # -- what the orders tell ----------------------------------------------------------------

    def on_order(self, state: OrderStateLike, noted: dict[str, Any]) -> None:
        """An order reached a status (sent and waiting on its display, then its checkout's)."""
        self.write(self.order_entry(state.order, state.status, noted, state.cancel_reason))

    def order_entry(self, order: OrderLike, status: str | None, noted: dict[str, Any],
                    reason: str | None = None) -> Entry:
        tx_id = order.tx or noted.get("transaction_id")
        sequence = noted.get("sequence_id")
        return Entry(
            at=self.clock(), order_id=order.id, tx_id=tx_id, status=status,
            started_by_kind=SOURCES.get(order.source, "unknown"), display_id=order.display,
            reference=order.reference, note=order.note, amount=order.amount, currency=order.currency,
            lines=tuple(Line(ln.name, ln.quantity, ln.unit_amount) for ln in order.lines),
            created=order.created,
            # The order's own deadline is for picking a coin: its checkout has its own.
            deadline=order.deadline if tx_id is None else None,
            coin=noted.get("coin"), network=noted.get("network"),
            coin_amount=amount(noted.get("coin_amount")), received=amount(noted.get("received")),
            sequence_id=sequence if isinstance(sequence, int) else None, cancel_reason=reason,
            ask_tip=order.ask_tip,
        )

    def sent_by(self, order_id: str, kind: str, name: str) -> None:
        """Who sent an order, where the order itself does not say (the till API's key name)."""
        self.write(Entry(at=self.clock(), order_id=order_id, started_by_kind=kind, started_by=name))

    # -- writing, and catching up ------------------------------------------------------------

    def away(self) -> bool:
        """Whether this process found the ledger away lately and the entries it kept still wait:
        the screens say they are reconnecting. Once another process (the watcher) has caught up,
        the ledger answers again and this process writes to it at once."""
        if self.clock() >= self._paused_until:
            return False
        if self.waiting() == 0:
            self._paused_until = 0.0
            return False
        return True

    def write(self, entry: Entry) -> None:
        if self.away():
            self._keep(entry)
            return
        try:
            self.ledger.record(entry)
        except Exception as exc:
            self._paused_until = self.clock() + PAUSE
            log.warning("the ledger could not be written (%s: %s); the watcher's sweep writes it later",
                        type(exc).__name__, str(exc).splitlines()[0][:200] if str(exc) else "",
                        extra={"event": "ledger.kept", "tx": entry.tx_id, "order": entry.order_id})
            self._keep(entry)

    def _keep(self, entry: Entry) -> None:
        key = f"ledger-due:{entry.tx_id or entry.order_id}:{secrets.token_hex(4)}"
        self.store.set(key, json.dumps(entry.to_json()), ttl=RECORD_TTL)
        self.store.schedule(DUE, key, entry.at)

    def waiting(self) -> int:
        """Entries the ledger has not taken yet."""
        return self.store.size(DUE)

    def catch_up(self, limit: int = CATCH_UP_LIMIT) -> int:
        """Write the entries kept while the ledger was away, oldest first (the watcher's sweep,
        every minute). Stops at the first that fails: the ledger is still away. Returns how many
        were written."""
        written = 0
        for key, _at in self.store.scheduled(DUE, float("inf"), limit=limit):
            text = self.store.get(key)
            entry: Entry | None = None
            if text is not None:
                try:
                    entry = Entry.from_json(json.loads(text))
                except UNREADABLE:
                    log.warning("a kept ledger entry cannot be read: dropped (%s)", key)
            if entry is not None:
                try:
                    self.ledger.record(entry)
                except Exception as exc:
                    log.warning("the ledger is still not answering (%s); %d entries wait",
                                type(exc).__name__, self.waiting())
                    return written
                written += 1
            self.store.delete(key)
            self.store.unschedule(DUE, key)
        if written:
            self._paused_until = 0.0
            log.info("the ledger caught up: %d entries written", written)
        return written


# -- the first upgrade: what the key-value store holds ------------------------------------------

def store_checkouts(store: Store, currency: str, clock: Callable[[], float] = clock_now) -> list[Entry]:
    """The checkouts the key-value store still holds (its records live 15 days): open ones,
    closed ones, and orders still waiting for a coin, one entry each, for the ledger's first
    upgrade. What upstream quoted is not in the store: the next event of an open one fills it in."""
    at = clock()
    by_order: dict[str, Entry] = {}
    entries: list[Entry] = []
    for key, text in store.items("tx:"):
        try:
            record = Record.loads(text)
        except UNREADABLE:
            log.warning("the record %s cannot be read: not imported into the ledger", key)
            continue
        tx_id = record.tx_id
        final = store.get(f"final:{tx_id}")
        status = final if final else ("partly_paid" if store.get(f"partly:{tx_id}") else "waiting")
        if status not in STATUS_OF.values():
            status = "waiting"
        item = _json(store.get(f"attention:{tx_id}"))
        kind, who = started_by(record)
        entry = Entry(
            at=at, tx_id=tx_id, order_id=record.order, status=status, started_by_kind=kind,
            started_by=who, display_id=record.display, kiosk_ref=record.ref or None,
            amount=record.amount, tip=record.tip, currency=currency, coin=record.coin, network=record.network,
            created=record.created, deadline=record.deadline,
            cancel_reason=store.get(f"cancel:{tx_id}") if status in ENDED_BY else None,
            received=amount(item.get("received")),
            coin_amount=amount(item.get("expected")),
            attention=frozenset({str(item["kind"])}) if item.get("kind") else frozenset(),
        )
        if record.order:
            by_order[record.order] = entry
        else:
            entries.append(entry)
    for key, text in store.items("order:"):
        data = _json(text)
        order_id = str(data.get("id") or key.split(":", 1)[1])
        try:
            lines = tuple(Line(str(n), int(q), Decimal(str(u))) for n, q, u in data.get("lines") or ())
            sent = Entry(
                at=at, order_id=order_id, tx_id=data.get("tx"),
                started_by_kind=SOURCES.get(str(data.get("source") or "console"), "unknown"),
                display_id=data.get("display"), reference=data.get("reference"), note=data.get("note"),
                amount=Decimal(str(data["amount"])), currency=str(data.get("currency") or currency),
                lines=lines, created=float(data["created"]), deadline=float(data["deadline"]),
                status=_order_status(store, order_id), ask_tip=data.get("ask_tip") is not False,
            )
        except (*UNREADABLE, InvalidOperation):
            log.warning("the order %s cannot be read: not imported into the ledger", order_id)
            continue
        paid = by_order.pop(order_id, None)
        entries.append(_merge(sent, paid) if paid is not None else sent)
    entries.extend(by_order.values())  # checkouts of orders the store no longer holds
    return entries


def _order_status(store: Store, order_id: str) -> str:
    status = _json(store.get(f"order-status:{order_id}")).get("status")
    if isinstance(status, str) and status in (*STATUS_OF.values(), "pending"):
        return status
    gate = store.get(f"order-gate:{order_id}") or ""
    if gate.startswith("ended:"):
        return "expired" if gate == "ended:deadline" else "cancelled"
    return "pending"


def _merge(order: Entry, checkout: Entry) -> Entry:
    """An order and its checkout as one entry: the checkout's facts, the order's sender, lines
    and reference, the furthest status."""
    values = {f.name: getattr(checkout, f.name) for f in fields(Entry)
              if getattr(checkout, f.name) is not None and f.name not in ("started_by_kind", "started_by")}
    merged = replace(order, **values)
    if order.status and checkout.status and moves(checkout.status, order.status):
        merged = replace(merged, status=order.status)
    return merged


def _json(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def store_items(store: Store) -> list[dict[str, Any]]:
    """The attention items the key-value store holds (for the operator's "Today" until
    dismissed), as rows of the ledger's attention table, for the upgrade that makes it."""
    rows: list[dict[str, Any]] = []
    for key, text in store.items("attention:"):
        item = _json(text)
        try:
            rows.append({
                "tx_id": key.split(":", 1)[1], "kind": str(item["kind"]),
                "at": datetime.fromtimestamp(float(item["at"]), UTC), "amount": Decimal(str(item["amount"])),
                "coin": str(item.get("coin") or ""), "network": str(item.get("network") or ""),
                "received": amount(item.get("received")), "expected": amount(item.get("expected")),
                "dismissed_at": None,
            })
        except (*UNREADABLE, InvalidOperation, OverflowError):
            log.warning("the attention item %s cannot be read: not imported into the ledger", key)
    return rows


def follow(checkout: Any, orders: Any, booking: Booking) -> None:
    """Wire the booking to the orders (kiosk.services does this): every status of an order sent
    by a till or the console. A checkout's own row is written by its runner."""
    if orders is not None:
        orders.listeners.append(booking.on_order)
