"""Attention items: what a person at the shop has to look at, kept in the ledger for the
operator's "Today" until dismissed (and, dismissed, for ever). Whoever notices first (a screen,
the operator's pages, the watcher) writes the item; the same finding twice writes the same item."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ..cryptom import CryptomClient, Transaction
from ..ledger import Ledger
from .base import Records, Teller
from .runner import Runner
from .states import Answered

# The kinds of item, in the words the operator's screen shows for them.
KINDS = (
    "paid_late",  # completed after the kiosk had closed it
    "partial_late",  # coins arrived after the kiosk had closed it, not the full amount
    "partial",  # ended with part of the money received
    "see_cashier",  # upstream lost it or will not settle it
    "unknown",  # upstream holds a transaction of the last day that the kiosk does not know
    "ended_upstream",  # the kiosk thought it open, upstream had ended it
)


class Attention:
    def __init__(self, client: CryptomClient, ledger: Ledger, records: Records, runner: Runner,
                 teller: Teller, clock: Callable[[], float]) -> None:
        self.client = client
        self.ledger = ledger
        self.records = records
        self.runner = runner
        self.teller = teller
        self.clock = clock

    def note(self, tx_id: str, kind: str, amount: str, coin: str, network: str,
             tx: Transaction | None) -> None:
        self.ledger.note(tx_id, kind, self.clock(), Decimal(amount), coin, network,
                         tx.total_transfer_amount if tx is not None else None,
                         tx.coin_amount if tx is not None else None)
        self.teller.flagged(tx_id, kind)

    def observe(self, transactions: list[Transaction]) -> None:
        """Note what history shows of this kiosk's transactions: a payment that completed after
        the kiosk gave up on it becomes an attention item, whoever looks first."""
        for tx in transactions:
            if tx.is_paid:
                record = self.records.get(tx.id)
                if record is not None:
                    self.runner.run(record, Answered(tx, expire=False))

    def lookup(self, tx_id: str) -> Transaction:
        """One transaction for the operator, whoever created it."""
        tx = self.client.transaction(tx_id)
        self.observe([tx])
        return tx

    def has_item(self, tx_id: str) -> bool:
        """An item not dismissed is open for this transaction."""
        item = self.ledger.item(tx_id)
        return item is not None and item.dismissed_at is None

    def dismiss(self, tx_id: str) -> None:
        """The operator has dealt with an attention item."""
        self.ledger.dismiss(tx_id)

    def items(self) -> list[tuple[str, dict[str, Any]]]:
        """The items not dismissed, the newest first, as the operator's screen shows them."""
        out: list[tuple[str, dict[str, Any]]] = []
        for item in self.ledger.attention():
            shown: dict[str, Any] = {"kind": item.kind, "at": item.at.timestamp(), "amount": str(item.amount),
                                     "coin": item.coin, "network": item.network}
            if item.received is not None:
                shown["received"] = str(item.received)
            if item.expected is not None:
                shown["expected"] = str(item.expected)
            out.append((item.tx_id, shown))
        return out
