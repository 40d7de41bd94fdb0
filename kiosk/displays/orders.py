"""Orders: a checkout the cashier's console or a till sends to a display in till mode.

The order waits on the display (status `pending`) until the customer picks a coin; then it becomes
an ordinary checkout with its one upstream transaction, and its status is that checkout's outcome.
A display holds one open order at a time: sending a second while one is open is refused, never a
silent replacement, and its mode cannot change while it holds one. Everything lives in the shared
store, so any worker or host can serve any display, console or till.

An order follows only its own checkout: the one its own key (`order-tx:<id>`, written once by the
checkout's start, see checkout/start.py) names for its amount, and whose record names the order,
its amount and its display. Nothing a form or a note sends can make another checkout its payment.

An order whose start died (its process killed while the create was on its way) is finished by the
watcher: adopted when upstream made its transaction, or ended once its time is up.

Keys in the store:
    order:<id>               the order: display, amount, lines, reference, note, times, tx id
    order-gate:<id>          "started" once a coin was picked; "ended:<reason>" if it ended before
                             its transaction was made
    display-order:<id>       the display's current order (it is busy while that one is open)
    order-key:<key>          a send's idempotency key: "pending <fingerprint>", then "<id> <fingerprint>"
    (order-status and order-event: see following.py; sending an order: sending.py; the order's
    transaction, order-tx and order-start: checkout/start.py)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from .. import money
from ..checkout import ownership
from ..checkout.outcome import Outcome
from ..checkout.record import RECORD_TTL, CheckoutError, OrderTaken, Record, View
from ..checkout.service import Checkout
from ..checkout.start import CREATE_GRACE
from ..checkout.store import Store
from ..clock import now as clock_now
from .following import Following
from .models import (
    DisplayBusy,
    Order,
    OrderEnded,
    OrderState,
)
from .registry import Display, Displays, parse_mode
from .sending import PENDING, Sending, log

# An order whose coin was picked but that has no transaction this long after its deadline ends
# (its start died and upstream made nothing, or nothing the watcher found in time): long enough
# for the watcher to look for a create sent just before the deadline at least once.
ORDER_START_GRACE = CREATE_GRACE + 60
# A start whose create has had no answer for this long has died with its process: a cancel no
# longer waits for it. (Were it alive after all, its transaction is cancelled when it arrives.)
START_STALE = 60


class Orders(Following, Sending):
    def __init__(
        self,
        store: Store,
        checkout: Checkout,
        displays: Displays,
        *,
        min_amount: Decimal,
        max_amount: Decimal,
        currency: str = money.DEFAULT,
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
        self.listeners: list[Callable[[OrderState, dict[str, Any]], None]] = []
        checkout.listeners.append(self._on_checkout)
        checkout.namers.append(self._shop_reference)

    # -- reading ---------------------------------------------------------------------------

    def _shop_reference(self, record: Record) -> str | None:
        """The reference the till or the console gave the order a checkout was started for."""
        order = self.get(record.order) if record.order else None
        return order.reference if order else None

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
        """The order's transaction: only one made for this order and its amount (see
        Checkout.order_checkout), never a checkout the display's keypad or anyone else made."""
        record = self.checkout.order_checkout(order.id, order.amount, order.display, order.tx)
        return record.tx_id if record is not None else None

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
            elif gate == "started" and self.clock() >= order.deadline + ORDER_START_GRACE:
                # A coin was picked, but its start died and nothing was found for it in time.
                self._end_unstarted(order, "deadline")
                gate = self.gate(order)
            if gate and gate.startswith("ended:"):
                tx_id = self._seal(order, gate.split(":", 1)[1])
        if tx_id is None:
            held = self.checkout.order_link(order.id)
            if held is not None and held.tx is not None:
                # Its own key names a transaction whose record is gone, or does not name this
                # order and amount: never its payment, and only a person can tell.
                return OrderState(order, Outcome.SEE_CASHIER.value)
            if gate and gate.startswith("ended:"):
                reason = gate.split(":", 1)[1]
                return OrderState(order, "expired" if reason == "deadline" else "cancelled",
                                  cancel_reason=reason)
            return OrderState(order, "pending")
        record = self.checkout.record(tx_id)
        if record is None:  # pragma: no cover - tx_of reads the record
            return OrderState(order, Outcome.SEE_CASHIER.value)
        if look:
            return self._with_view(order, self.checkout.view(record))
        return self._status(order, self.checkout.last_outcome(tx_id), tx_id)

    def _seal(self, order: Order, reason: str) -> str | None:
        """An order that ended without a transaction keeps it so: its own key says it ended, and
        a transaction upstream makes for it later (a create that got no answer) is cancelled,
        never adopted. Returns the transaction if one was made for it just before."""
        if self.checkout.order_link(order.id) is None and not self.checkout.end_order(order.id, reason):
            return self.tx_of(order)
        return None

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
            if self._seal(order, "deadline") is None:
                raise OrderEnded("the order has expired")
        known = self.tx_of(order)  # made already (the watcher may have adopted it)
        if known is not None:
            return known
        try:
            tx_id = self.checkout.start(
                None, order.amount, coin, network, None, order.note,
                owner=ownership.display(order.display), display=order.display, order=order.id,
                tip=self.tip_of(order) or Decimal(0),
            )
        except OrderTaken:
            raise OrderEnded("the order has ended") from None
        except CheckoutError:
            if first:
                self.store.delete(gate_key)  # not started after all: a retry or a cancel may follow
            raise
        if order.tx != tx_id:
            self.store.set(f"order:{order.id}", replace(order, tx=tx_id).dumps(), ttl=RECORD_TTL)
            self.store.unschedule(PENDING, order.id)  # the checkout's own deadline watches it now
        return tx_id

    # -- the customer's tip ------------------------------------------------------------------

    def tip_of(self, order: Order) -> Decimal | None:
        """The tip the customer chose on the display for this order (None: not chosen yet)."""
        text = self.store.get(f"order-tip:{order.id}")
        try:
            return Decimal(text) if text is not None else None
        except ArithmeticError:
            return None

    def choose_tip(self, order: Order, tip: Decimal) -> bool:
        """Keep the customer's tip for the order, before its transaction is made; the first
        answer stands (a second tap, another tab). False when it was not kept, as is a tip that
        would take the total past the largest amount (KIOSK_MAX_AMOUNT)."""
        if tip < 0 or order.amount + tip > self.max_amount:
            return False
        if self.tx_of(order) is not None or self.state(order).status != "pending":
            return False
        return self.store.add(f"order-tip:{order.id}", format(tip, "f"), ttl=RECORD_TTL)

    # -- ending --------------------------------------------------------------------------------

    def cancel(self, order: Order, reason: str) -> OrderState:
        """Cancel by `reason` (customer, till, operator). Before a coin was picked nothing exists
        upstream and the order simply ends; after, the checkout's own cancel decides (a payment
        that completed meanwhile stays paid). A start under way is waited for a moment; one whose
        create has had no answer for START_STALE seconds (its process died) is not: the order
        ends, and a transaction upstream made for it is cancelled when found, never adopted."""
        for _ in range(150):
            tx_id = self.tx_of(order)
            if tx_id is not None:
                return self._cancel_checkout(order, tx_id, reason)
            gate = self.gate(order)
            if gate is None:
                if self.clock() >= order.deadline:
                    return self.state(order)  # it has expired: that is its end
                if self.store.add(f"order-gate:{order.id}", f"ended:{reason}", ttl=RECORD_TTL):
                    tx_id = self._seal(order, reason)  # the watcher adopted one just before?
                    return self._cancel_checkout(order, tx_id, reason) if tx_id else self.state(order)
                continue
            if gate.startswith("ended:"):
                return self.state(order)
            sent = self.checkout.start_sent_at(order.id)
            if sent is not None and self.clock() - sent >= START_STALE:
                break  # its start died waiting for upstream's answer
            time.sleep(0.1)  # the customer picked a coin a moment ago: its transaction is on the way
        # The start has had its time: the order ends without it. Whatever upstream makes for it
        # later is cancelled, never adopted (a start still alive cancels its own).
        if self._end_unstarted(order, reason):
            return self.state(order)
        tx_id = self.tx_of(order)
        return self._cancel_checkout(order, tx_id, reason) if tx_id is not None else self.state(order)

    def _cancel_checkout(self, order: Order, tx_id: str, reason: str) -> OrderState:
        record = self.checkout.record(tx_id)
        if record is None:
            return self.state(order)
        return self._with_view(order, self.checkout.cancel(record, reason))

    def _end_unstarted(self, order: Order, reason: str) -> bool:
        """End an order whose coin was picked but which has no transaction (its start died), by
        `reason`, unless its transaction was made meanwhile. True when it has ended (the first
        reason given stays)."""
        if not self.checkout.end_order(order.id, reason):
            return False
        held = self.checkout.order_link(order.id)
        ended = f"ended:{held.ended if held is not None and held.ended else reason}"
        if self.gate(order) != ended:
            self.store.set(f"order-gate:{order.id}", ended, ttl=RECORD_TTL)
            log.warning("order %s ended (%s) without the transaction its start was making", order.id,
                        ended, extra={"event": "order ended unstarted", "order": order.id})
        return True

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
        """Expire the orders nobody picked up by their deadline (the display was off, say), and
        end those whose start died without a transaction once their time is up: the watcher's
        sweep calls this every minute. Returns how many expired before a coin was picked."""
        expired = 0
        for order_id, _due in self.store.scheduled(PENDING, self.clock()):
            order = self.get(order_id)
            if order is not None and self.tx_of(order) is None:
                gate = self.gate(order)
                if gate is None:
                    expired += self.state(order).status == "expired"
                elif gate == "started" and not self.state(order).final:
                    # Its start is under way, or died: the watcher looks for its create; the
                    # order ends if nothing turns up by then.
                    self.store.schedule(PENDING, order_id, order.deadline + ORDER_START_GRACE)
                    continue
            self.store.unschedule(PENDING, order_id)
        return expired

    # -- the display's mode ----------------------------------------------------------------------

    def set_mode(self, display: Display, raw_mode: str | None) -> Display:
        """Switch a display between till and keypad mode. Refused (DisplayBusy, nothing changed)
        while it holds an open order: the order's customer may be paying, and a display in
        keypad mode takes amounts from whoever stands at it. The same mode is no change."""
        mode = parse_mode(raw_mode)
        current = self.displays.get(display.id) or display
        if current.mode == mode:
            return current
        if self._holds_open_order(current, look=True):
            raise DisplayBusy("the display holds an open order")
        changed = self.displays.set_mode(current, mode)
        # An order sent at this very moment checks the mode after taking the display, as this
        # checks for an order after changing it: one of the two always sees the other.
        if self._holds_open_order(changed):
            self.displays.set_mode(changed, current.mode)
            raise DisplayBusy("the display holds an open order")
        return changed

    def _holds_open_order(self, display: Display, look: bool = False) -> bool:
        order = self.current(display)
        return order is not None and not self.state(order, look=look).final
