"""Orders: a checkout the cashier's console or a till sends to a display in till mode.

The order waits on the display (status `pending`) until the customer picks a coin; then it becomes
an ordinary checkout with its one upstream transaction, and its status is that checkout's outcome.
A display holds one open order at a time: sending a second while one is open is refused, never a
silent replacement. Everything lives in the shared store, so any worker or host can serve any
display, console or till.

Keys in the store:
    order:<id>               the order: display, amount, lines, reference, note, times, tx id
    order-gate:<id>          "started" once a coin was picked; "ended:<reason>" if it ended before
    display-order:<id>       the display's current order (it is busy while that one is open)
    order-key:<key>          a send's idempotency key: "pending <fingerprint>", then "<id> <fingerprint>"
    (order-status and order-event: see following.py; sending an order: sending.py)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from ..checkout import ownership
from ..checkout.outcome import Outcome
from ..checkout.record import RECORD_TTL, CheckoutError, View
from ..checkout.service import Checkout
from ..checkout.start import guard_key
from ..checkout.store import Store
from ..clock import now as clock_now
from .following import Following
from .models import (
    Order,
    OrderEnded,
    OrderState,
)
from .registry import Display, Displays
from .sending import PENDING, Sending


class Orders(Following, Sending):
    def __init__(
        self,
        store: Store,
        checkout: Checkout,
        displays: Displays,
        *,
        min_amount: Decimal,
        max_amount: Decimal,
        currency: str = "TRY",
        clock: Callable[[], float] = clock_now,
    ) -> None:
        self.store = store
        self.checkout = checkout
        self.displays = displays
        self.min_amount = min_amount
        self.max_amount = max_amount
        self.currency = currency
        self.clock = clock
        # Told once of each status an order reaches, with its facts (the webhooks).
        self.listeners: list[Callable[[OrderState, dict], None]] = []
        checkout.listeners.append(self._on_checkout)

    # -- reading ---------------------------------------------------------------------------

    def get(self, order_id: str | None) -> Order | None:
        if not order_id or len(order_id) > 40:
            return None
        text = self.store.get(f"order:{order_id}")
        return Order.loads(text) if text else None

    def current(self, display: Display) -> Order | None:
        """The order the display shows or is about to show (None: idle)."""
        return self.get(self.store.get(f"display-order:{display.id}"))

    def busy(self, display: Display) -> bool:
        """From the store alone: an open order is on the display."""
        order = self.current(display)
        return order is not None and not self.state(order).final

    def gate(self, order: Order) -> str | None:
        return self.store.get(f"order-gate:{order.id}")

    def tx_of(self, order: Order) -> str | None:
        if order.tx:
            return order.tx
        # Set by the checkout once it exists.
        value = self.store.get(guard_key(f"order-{order.id}", ownership.display(order.display)))
        return value if value not in (None, "pending") else None

    def state(self, order: Order, look: bool = False) -> OrderState:
        """Where the order stands. `look`: ask upstream (shared with the display's own poll)
        and apply the deadline; without it, from the store alone."""
        state = self._state(order, look)
        self._track(state)
        return state

    def _state(self, order: Order, look: bool) -> OrderState:
        tx_id = self.tx_of(order)
        if tx_id is None:
            gate = self.gate(order)
            if gate is None and self.clock() >= order.deadline:
                # Nobody picked a coin in time: expired, without any upstream transaction.
                self.store.add(f"order-gate:{order.id}", "ended:deadline", ttl=RECORD_TTL)
                gate = self.gate(order)
            if gate and gate.startswith("ended:"):
                reason = gate.split(":", 1)[1]
                return OrderState(order, "expired" if reason == "deadline" else "cancelled",
                                  cancel_reason=reason)
            return OrderState(order, "pending")
        record = self.checkout.record(tx_id)
        if record is None:  # the record outlived by the order: only a person can tell
            return OrderState(order, Outcome.SEE_CASHIER.value)
        if look:
            return self._with_view(order, self.checkout.view(record))
        return self._status(order, self.checkout.last_outcome(tx_id), tx_id)

    def recent(self, since: float = 0.0, display_id: str | None = None, limit: int = 20) -> list[OrderState]:
        """Orders sent since `since`, newest first, with their status from the store alone."""
        orders = [Order.loads(text) for _key, text in self.store.items("order:")]
        chosen = [o for o in orders if o.created >= since and display_id in (None, o.display)]
        chosen.sort(key=lambda o: o.created, reverse=True)
        return [self.state(o) for o in chosen[:limit]]

    # -- the customer picks a coin -----------------------------------------------------------

    def begin(self, order: Order, coin: str, network: str) -> str:
        """Create the order's one upstream transaction; a repeat (double tap, reload) returns the
        same one. Raises OrderEnded when it was cancelled or expired before."""
        gate_key = f"order-gate:{order.id}"
        for _ in range(3):
            if self.store.add(gate_key, "started", ttl=RECORD_TTL):
                first = True
                break
            gate = self.store.get(gate_key)
            if gate == "started":
                first = False
                break
            if gate is not None:
                raise OrderEnded("the order has ended")
        else:  # pragma: no cover - the gate changed three times in a row
            raise OrderEnded("the order could not be started")
        if first and self.clock() >= order.deadline:
            self.store.set(gate_key, "ended:deadline", ttl=RECORD_TTL)
            raise OrderEnded("the order has expired")
        try:
            tx_id = self.checkout.start(
                f"order-{order.id}", order.amount, coin, network, None, order.note,
                owner=ownership.display(order.display), display=order.display, order=order.id,
            )
        except CheckoutError:
            if first:
                self.store.delete(gate_key)  # not started after all: a retry or a cancel may follow
            raise
        if order.tx != tx_id:
            self.store.set(f"order:{order.id}", replace(order, tx=tx_id).dumps(), ttl=RECORD_TTL)
            self.store.unschedule(PENDING, order.id)  # the checkout's own deadline watches it now
        return tx_id

    # -- ending --------------------------------------------------------------------------------

    def cancel(self, order: Order, reason: str) -> OrderState:
        """Cancel by `reason` (customer, till, operator). Before a coin was picked nothing exists
        upstream and the order simply ends; after, the checkout's own cancel decides (a payment
        that completed meanwhile stays paid)."""
        for _ in range(150):
            tx_id = self.tx_of(order)
            if tx_id is not None:
                record = self.checkout.record(tx_id)
                if record is None:
                    return self.state(order)
                view = self.checkout.cancel(record, reason)
                return self._with_view(order, view)
            gate = self.gate(order)
            if gate is None:
                if self.clock() >= order.deadline:
                    return self.state(order)  # it has expired: that is its end
                if self.store.add(f"order-gate:{order.id}", f"ended:{reason}", ttl=RECORD_TTL):
                    return self.state(order)
                continue
            if gate.startswith("ended:"):
                return self.state(order)
            time.sleep(0.1)  # the customer picked a coin a moment ago: its transaction is on the way
        return self.state(order)

    def _with_view(self, order: Order, view: View) -> OrderState:
        state = self._status(order, view.outcome, view.record.tx_id, view)
        self._track(state)
        return state

    def _status(self, order: Order, outcome: Outcome, tx_id: str, view: View | None = None) -> OrderState:
        status = Outcome.WAITING.value if outcome is Outcome.DUE else outcome.value
        reason = self.checkout.cancel_reason(tx_id) if status in ("cancelled", "expired", "partial") else None
        return OrderState(order, status, view, reason)

    def acknowledge(self, display: Display, order: Order) -> None:
        """The display has shown the order's result: it is free for the next one."""
        if self.state(order).final:
            self.store.discard(f"display-order:{display.id}", order.id)

    def unpair(self, display: Display, by: str = "operator") -> None:
        """Staff (or a till: `by`) unpair a display: an open order or keypad checkout on it is
        cancelled by them, and the browser shows a pairing code again on its next look."""
        order = self.current(display)
        if order is not None and not self.state(order).final:
            self.cancel(order, by)
        # A keypad display's customer may be paying: once unpaired the browser can no longer show
        # that payment, so it is cancelled too (a payment that completed meanwhile stays paid).
        for record in self.checkout.open_of(display.owner):
            self.checkout.cancel(record, by)
        self.store.delete(f"display-order:{display.id}")
        self.displays.unpair(display)

    def sweep(self) -> int:
        """Expire the orders nobody picked up by their deadline (the display was off, say): the
        watcher's sweep calls this every minute. Returns how many expired."""
        expired = 0
        for order_id, _due in self.store.scheduled(PENDING, self.clock()):
            order = self.get(order_id)
            if order is not None and self.tx_of(order) is None and self.gate(order) is None:
                expired += self.state(order).status == "expired"
            self.store.unschedule(PENDING, order_id)
        return expired
