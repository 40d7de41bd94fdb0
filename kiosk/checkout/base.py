"""The services one checkout works with, shared by the parts of `Checkout` (start, look,
cancel, attention, watch), each in a module of its own."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from blinker import Signal

from ..cryptom import CryptomClient, Transaction
from ..references import sale_reference
from .outcome import Outcome
from .record import Recent, Record, View
from .store import Store

log = logging.getLogger("kiosk.checkout")

# The watcher's lists in the store, by the time each entry is next due.
WATCHED = "watched"  # checkouts: open ones until they close, closed ones for a day after
CREATES = "creates"  # creates that got no answer yet, by the time to look for them upstream

# Sent by a Checkout (the sender) when one of its checkouts is next due for the watcher:
# (tx_id, at). The job queue listens to wake on time; the checkout knows nothing of it.
watch_due = Signal("checkout watch due")


@dataclass(frozen=True)
class Change:
    """A lifecycle event of one checkout, as its followers (the ledger) get it: the event's name,
    the kiosk's record, the facts logged with it, the upstream transaction it was seen in (None
    when upstream was not read) and when, by the kiosk's clock."""

    event: str
    record: Record
    facts: dict[str, str]
    tx: Transaction | None
    at: float


class Follower(Protocol):
    """Told of every lifecycle event, and of every attention item noted for a checkout."""

    def changed(self, change: Change) -> None: ...

    def flagged(self, tx_id: str, kind: str, at: float) -> None: ...


class Base:
    client: CryptomClient
    store: Store
    payment_timeout: int
    currency: str
    share_seconds: float
    watch_interval: float
    clock: Callable[[], float]
    _last_seen: Recent
    _qr: Recent
    listeners: list[Callable[[Record, dict[str, str]], None]]
    followers: list[Follower]

    if TYPE_CHECKING:  # the parts call each other: Checkout (service.py) has all of these
        def record(self, tx_id: str) -> Record | None: ...
        def _look(self, record: Record, *, expire: bool, max_age: float = 0.0) -> View: ...
        def _settle(self, record: Record, outcome: Outcome, tx: Transaction) -> View: ...
        def _seen(self, record: Record, outcome: Outcome, tx: Transaction) -> View: ...
        def _not_found(self, record: Record) -> View: ...
        def _away(self, record: Record, notice: str | None = None) -> View: ...
        def _final(self, record: Record, outcome: Outcome, tx: Transaction | None) -> View: ...
        def _cancel(self, record: Record, reason: str) -> View: ...
        def _note_final(self, record: Record, outcome: Outcome, tx: Transaction | None, *,
                        late: bool = False) -> None: ...
        def note(self, tx_id: str, kind: str, amount: str, coin: str, network: str,
                 tx: Transaction | None) -> None: ...

    @staticmethod
    def shop_reference(record: Record) -> str | None:
        """How the shop names the sale, for the log lines: the reference its till or console
        gave (kiosk.displays.Orders, which keeps the orders, puts its own reader here)."""
        return None

    def _event(self, event: str, record: Record, tx: Transaction | None = None, **facts: str | None) -> None:
        """One log line per lifecycle event, for people and for machines (JSON fields), naming
        the sale as its screens do; then the listeners (record and facts) and the followers (the
        whole Change: `tx`, else the transaction last seen of this checkout) are told."""
        seen = tx if tx is not None else self._last_seen.get_item(record.tx_id)
        reference = sale_reference(self.shop_reference(record), seen.sequence_id if seen else None)
        extra = {"event": event, "tx": record.tx_id, "amount": str(record.amount),
                 "currency": self.currency, "coin": f"{record.coin}/{record.network}",
                 **({"reference": reference} if reference else {}),
                 **{k: v for k, v in facts.items() if v is not None}}
        details = " ".join(f"{k}={v}" for k, v in facts.items() if v is not None)
        log.info("payment %s %stx=%s amount=%s %s %s %s", event, f"ref={reference!r} " if reference else "",
                 record.tx_id, record.amount, self.currency, extra["coin"], details, extra=extra)
        for listener in self.listeners:
            try:
                listener(record, {k: v for k, v in facts.items() if v is not None})
            except Exception:  # a listener never breaks a payment
                log.exception("a checkout listener failed")
        if self.followers:
            change = Change(event, record, {k: v for k, v in facts.items() if v is not None}, seen,
                            self.clock())
            for follower in self.followers:
                try:
                    follower.changed(change)
                except Exception:  # a follower never breaks a payment
                    log.exception("a checkout follower failed")

    def _flagged(self, tx_id: str, kind: str) -> None:
        """An attention item was noted for this checkout: the followers are told."""
        for follower in self.followers:
            try:
                follower.flagged(tx_id, kind, self.clock())
            except Exception:  # a follower never breaks a payment
                log.exception("a checkout follower failed")

    def watch_at(self, tx_id: str, at: float) -> None:
        """Have the watcher look at this checkout at `at`: the entry in the store is the truth
        (a sweep finds it even if the queue lost its job); `watch_due` wakes the queue on time."""
        self.store.schedule(WATCHED, tx_id, at)
        self.wake(tx_id, at)

    def wake(self, tx_id: str, at: float) -> None:
        try:
            watch_due.send(self, tx_id=tx_id, at=at)
        except Exception:  # the sweep picks it up: a queue hiccup must not fail a payment
            log.warning("could not queue the watch of %s; the next sweep will", tx_id, exc_info=True)
