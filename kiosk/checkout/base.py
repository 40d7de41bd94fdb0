"""What the parts of a checkout share: its record in the store, the telling of its lifecycle
events (log, listeners, followers) and the watcher's timetable in the store."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from blinker import Signal

from ..cryptom import Transaction
from ..references import sale_reference
from .record import RECORD_TTL, UNREADABLE, Recent, Record
from .store import Store

log = logging.getLogger("kiosk.checkout")

# The watcher's lists in the store, by the time each entry is next due.
WATCHED = "watched"  # checkouts: open ones until they close, closed ones for a day after
CREATES = "creates"  # creates that got no answer yet, by the time to look for them upstream
RECORDS = "records"  # the kiosk's checkouts by their start, for the reconciliation

# Sent by a Checkout (the sender) when one of its checkouts is next due for the watcher:
# (tx_id, at). The job queue listens to wake on time; the checkout knows nothing of it.
watch_due = Signal("checkout watch due")


@dataclass(frozen=True)
class Change:
    """A lifecycle event of one checkout, as its followers get it: the event's name, the kiosk's
    record, the facts logged with it, the upstream transaction it was seen in (None when
    upstream was not read) and when, by the kiosk's clock."""

    event: str
    record: Record
    facts: dict[str, str]
    tx: Transaction | None
    at: float


class Follower(Protocol):
    """Told of every lifecycle event, and of every attention item noted for a checkout."""

    def changed(self, change: Change) -> None: ...

    def flagged(self, tx_id: str, kind: str, at: float) -> None: ...


Listener = Callable[[Record, dict[str, str]], None]
Namer = Callable[[Record], "str | None"]


@dataclass
class Memory:
    """What one process keeps of the transactions it has seen: the last answer of each (shown
    while upstream is away) and QR images (the same for the whole life of a transaction)."""

    seen: Recent = field(default_factory=Recent)
    qr: Recent = field(default_factory=Recent)

    def last(self, tx_id: str) -> Transaction | None:
        tx = self.seen.get_item(tx_id)
        return tx if isinstance(tx, Transaction) else None


class Records:
    """The kiosk's own record of each checkout it started, in the store for as long as upstream
    reserves the wallet: who may act on it, its amount, coin and deadline."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, tx_id: str) -> Record | None:
        text = self.store.get(f"tx:{tx_id}")
        if not text:
            return None
        try:
            return Record.loads(text)
        except UNREADABLE:
            log.warning("the record of %s cannot be read: set aside as unknown", tx_id)
            return None

    def save(self, record: Record, started: float | None = None) -> None:
        """Keep the record; `started`: a new checkout, listed for the reconciliation too."""
        self.store.set(f"tx:{record.tx_id}", record.dumps(), ttl=RECORD_TTL)
        if started is not None:
            self.store.schedule(RECORDS, record.tx_id, started)


class Teller:
    """One log line per lifecycle event, for people and for machines (JSON fields); then the
    listeners (record and facts: the display and the order, whose webhook goes to the till) and
    the followers (the whole Change) are told. Neither ever breaks a payment."""

    def __init__(self, currency: str, memory: Memory, clock: Callable[[], float],
                 listeners: list[Listener], followers: list[Follower],
                 namers: list[Namer] | None = None) -> None:
        self.currency = currency
        self.memory = memory
        self.clock = clock
        self.listeners = listeners
        self.followers = followers
        self.namers = namers if namers is not None else []

    def shop_reference(self, record: Record) -> str | None:
        """How the shop names the sale: the first reference a namer knows (kiosk.displays.Orders
        gives the one the till or the console sent with the order)."""
        return next((name for namer in self.namers if (name := namer(record))), None)

    def tell(self, event: str, record: Record, tx: Transaction | None = None, **facts: str | None) -> None:
        """One log line per lifecycle event, for people and for machines (JSON fields), naming
        the sale as its screens do; then the listeners (record and facts) and the followers (the
        whole Change: `tx`, else the transaction last seen of this checkout) are told."""
        known = {k: v for k, v in facts.items() if v is not None}
        seen = tx if tx is not None else self.memory.last(record.tx_id)
        reference = sale_reference(self.shop_reference(record), seen.sequence_id if seen else None)
        extra = {"event": event, "tx": record.tx_id, "amount": str(record.amount),
                 "currency": self.currency, "coin": f"{record.coin}/{record.network}",
                 **({"reference": reference} if reference else {}), **known}
        details = " ".join(f"{k}={v}" for k, v in known.items())
        log.info("payment %s %stx=%s amount=%s %s %s %s", event, f"ref={reference!r} " if reference else "",
                 record.tx_id, record.amount, self.currency, extra["coin"], details, extra=extra)
        for listener in self.listeners:
            try:
                listener(record, dict(known))
            except Exception:  # a listener never breaks a payment
                log.exception("a checkout listener failed")
        if self.followers:
            change = Change(event, record, dict(known), seen, self.clock())
            for follower in self.followers:
                try:
                    follower.changed(change)
                except Exception:  # a follower never breaks a payment
                    log.exception("a checkout follower failed")

    def flagged(self, tx_id: str, kind: str) -> None:
        for follower in self.followers:
            try:
                follower.flagged(tx_id, kind, self.clock())
            except Exception:  # a follower never breaks a payment
                log.exception("a checkout follower failed")


class Timetable:
    """When the watcher looks at each checkout next: the entry in the store is the truth (a
    sweep finds it even if the queue lost its job); `watch_due`, sent as `sender` (the
    Checkout), wakes the queue on time."""

    def __init__(self, store: Store, sender: Any) -> None:
        self.store = store
        self.sender = sender

    def watch_at(self, tx_id: str, at: float) -> None:
        self.store.schedule(WATCHED, tx_id, at)
        self.wake(tx_id, at)

    def wake(self, tx_id: str, at: float) -> None:
        try:
            watch_due.send(self.sender, tx_id=tx_id, at=at)
        except Exception:  # the sweep picks it up: a queue hiccup must not fail a payment
            log.warning("could not queue the watch of %s; the next sweep will", tx_id, exc_info=True)
