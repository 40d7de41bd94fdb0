"""Following an order's status: each status it reaches is noted once in the shared store, with
the money facts seen so far, and told once to the listeners (the till API's webhooks), whichever
worker, host or job noticed it first. A late notice never moves a status back.

Keys in the store:
    order-status:<id>        the last status noticed, when it changed, and the money facts seen
    order-event:<id>:<word>  each status is announced once
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from ..checkout.record import RECORD_TTL, Record
from ..checkout.store import Store
from .models import Order, OrderState

log = logging.getLogger(__name__)

# A status never goes back to a lower rank (a late notice of "waiting" after "paid" is dropped);
# between final words it may move (coins arriving on a cancelled checkout make it paid).
RANK = {"pending": 0, "waiting": 1, "partly_paid": 2}
FACTS = ("coin", "network", "coin_amount", "received", "transaction_id", "sequence_id")


class Following:
    """Part of Orders: what the listeners hear."""

    store: Store
    clock: Callable[[], float]
    listeners: list[Callable[[OrderState, dict[str, Any]], None]]

    def get(self, order_id: str | None) -> Order | None:  # pragma: no cover - Orders has it
        raise NotImplementedError

    def _state(self, order: Order, look: bool) -> OrderState:  # pragma: no cover - Orders has it
        raise NotImplementedError

    def tx_of(self, order: Order) -> str | None:  # pragma: no cover - Orders has it
        raise NotImplementedError

    def known(self, order: Order) -> dict[str, Any]:
        """The last status noticed, when (`updated`), and the money facts seen so far."""
        text = self.store.get(f"order-status:{order.id}")
        return json.loads(text) if text else {}

    def _track(self, state: OrderState, facts: dict[str, Any] | None = None) -> None:
        """Note the order's status; the first to notice a new one tells the listeners, once."""
        order = state.order
        known = self.known(order)
        seen = dict(facts or {})
        view = state.view
        if view is not None:
            seen.update(coin=view.record.coin, network=view.record.network,
                        transaction_id=view.record.tx_id)
            if view.tx is not None:
                seen.update(coin_amount=str(view.tx.coin_amount), received=str(view.tx.total_transfer_amount),
                            sequence_id=view.tx.sequence_id)
        fresh = {k: v for k, v in seen.items() if k in FACTS and v is not None and known.get(k) != v}
        status = state.status
        if status == known.get("status") or RANK.get(status, 3) < RANK.get(known.get("status", ""), -1):
            if fresh and known:
                self.store.set(f"order-status:{order.id}", json.dumps({**known, **fresh}), ttl=RECORD_TTL)
            return
        if not self.store.add(f"order-event:{order.id}:{status}", "1", ttl=RECORD_TTL):
            return  # another request noticed it first and told the listeners
        now = self.clock()
        noted = {**known, **fresh, "status": status, "cancel_reason": state.cancel_reason, "updated": now}
        self.store.set(f"order-status:{order.id}", json.dumps(noted), ttl=RECORD_TTL)
        for listener in self.listeners:
            try:
                listener(state, noted)
            except Exception:  # a listener (a webhook queue away) never breaks a payment
                log.exception("an order listener failed")

    def _on_checkout(self, record: Record, facts: dict[str, str]) -> None:
        """The checkout of an order moved (a screen, the console, the till or the watcher looked)."""
        order = self.get(record.order) if record.order else None
        if order is None or self.tx_of(order) != record.tx_id:
            return  # not the order's checkout: nothing of it is the order's
        seen = {"coin": record.coin, "network": record.network, "transaction_id": record.tx_id}
        seen.update({k: v for k, v in facts.items() if k in ("coin_amount", "received")})
        self._track(self._state(order, look=False), seen)
