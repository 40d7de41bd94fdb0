"""Attention items: what a person at the shop has to look at, kept in the store for the
operator's "Today" until dismissed. Whoever notices first (a screen, the operator's pages, the
watcher) writes the item; the same finding twice writes the same item."""

from __future__ import annotations

import json
from typing import Any

from ..cryptom import Transaction
from .base import Base
from .outcome import Outcome
from .record import RECORD_TTL, Record

EVENTS = {
    Outcome.PAID: "paid",
    Outcome.CANCELLED: "cancelled",
    Outcome.EXPIRED: "expired",
    Outcome.PARTIAL_KEPT: "ended with partial payment",
    Outcome.SEE_CASHIER: "needs a check",
}
# The kinds of item, in the words the operator's screen shows for them.
KINDS = (
    "paid_late",  # completed after the kiosk had closed it
    "partial_late",  # coins arrived after the kiosk had closed it, not the full amount
    "partial",  # ended with part of the money received
    "see_cashier",  # upstream lost it or will not settle it
    "unknown",  # upstream holds a transaction of the last day that the kiosk does not know
    "ended_upstream",  # the kiosk thought it open, upstream had ended it
)


class Attention(Base):
    def _note_final(
        self, record: Record, outcome: Outcome, tx: Transaction | None, *, late: bool = False
    ) -> None:
        kind: str | None
        if late:
            kind = "paid_late" if outcome is Outcome.PAID else "partial_late"
            event = "paid late" if outcome is Outcome.PAID else "partly paid after close"
        else:
            kind = outcome.value if outcome in (Outcome.PARTIAL_KEPT, Outcome.SEE_CASHIER) else None
            event = EVENTS[outcome]
        self._event(event, record, tx, received=str(tx.total_transfer_amount) if tx else None)
        if kind is not None:
            self.note(record.tx_id, kind, str(record.amount), record.coin, record.network, tx)

    def note(self, tx_id: str, kind: str, amount: str, coin: str, network: str,
             tx: Transaction | None) -> None:
        item: dict[str, Any] = {"kind": kind, "at": self.clock(), "amount": amount, "coin": coin,
                                "network": network}
        if tx is not None:
            item.update(received=str(tx.total_transfer_amount), expected=str(tx.coin_amount))
        self.store.set(f"attention:{tx_id}", json.dumps(item), ttl=RECORD_TTL)
        self._flagged(tx_id, kind)

    def observe(self, transactions: list[Transaction]) -> None:
        """Note what history shows of this kiosk's transactions: a payment that completed after
        the kiosk gave up on it becomes an attention item, whoever looks first."""
        for tx in transactions:
            if tx.is_paid:
                record = self.record(tx.id)
                if record is not None and self.store.get(f"final:{tx.id}") != Outcome.PAID.value:
                    self._final(record, Outcome.PAID, tx)

    def lookup(self, tx_id: str) -> Transaction:
        """One transaction for the operator, whoever created it."""
        tx = self.client.transaction(tx_id)
        self.observe([tx])
        return tx

    def dismiss(self, tx_id: str) -> None:
        """The operator has dealt with an attention item."""
        self.store.delete(f"attention:{tx_id}")

    def attention(self) -> list[tuple[str, dict[str, Any]]]:
        items = [(k.split(":", 1)[1], json.loads(v)) for k, v in self.store.items("attention:")]
        return sorted(items, key=lambda item: -float(item[1].get("at", 0)))
