"""Sending an order to a display: refused (nothing changed) unless the display is in till mode
(still, once it is taken), online and free; a repeat with the same idempotency key returns the
first order, from any worker or host. Part of Orders (see orders.py for the store's keys)."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from ..checkout.inputs import N_, NOTE_MAX, InputError, check_amount
from ..checkout.record import RECORD_TTL
from ..checkout.service import Checkout
from ..checkout.store import Store
from .models import (
    DisplayBusy,
    DisplayNotInTillMode,
    DisplayOffline,
    IdempotencyConflict,
    Line,
    Order,
    OrderState,
    check_total,
)
from .registry import Display, Displays

log = logging.getLogger("kiosk.displays.orders")

KEY_TTL = 24 * 3600  # a repeated send with the same key returns the same order for a day
PENDING_TTL = 60  # a send under way holds its key this long at most
PENDING = "orders"  # the index of orders waiting for a coin, by deadline


class Sending:
    """Part of Orders: putting an order on a display."""

    store: Store
    checkout: Checkout
    displays: Displays
    min_amount: Decimal
    max_amount: Decimal
    currency: str
    clock: Callable[[], float]

    def get(self, order_id: str | None) -> Order | None:  # pragma: no cover - Orders has it
        raise NotImplementedError

    def state(self, order: Order, look: bool = False) -> OrderState:  # pragma: no cover - Orders has it
        raise NotImplementedError

    _track: Callable[[OrderState], None]  # Following's

    def send(self, display: Display, amount: Decimal, **options: Any) -> Order:
        """Put an order on a display. Refused (nothing changed) when the display is not in
        till mode, offline, or busy with an open order. A repeat with the same `key` (a double
        tap, a resent form) returns the first order instead of a second. See `send_once`."""
        return self.send_once(display, amount, **options)[0]

    def send_once(
        self,
        display: Display,
        amount: Decimal,
        *,
        reference: str | None = None,
        note: str | None = None,
        lines: Iterable[Line] = (),
        source: str = "console",
        key: str | None = None,
        fingerprint: str = "-",
        ask_tip: bool = True,
    ) -> tuple[Order, bool]:
        """`send`, telling whether the order is new. The same `key` with the same `fingerprint`
        (what was asked) returns the first order for a day, from any worker or host, even when
        both arrive at once; the same key with another fingerprint raises IdempotencyConflict."""
        if key is None:
            return self._send(display, amount, reference, note, tuple(lines), source, ask_tip), True
        guard = f"order-key:{key}"
        for _ in range(150):
            # "pending" lives a minute only: a process killed midway (or its host gone) must not
            # hold the key for a day. A send takes milliseconds, one upstream look at most.
            if self.store.add(guard, f"pending {fingerprint}", ttl=PENDING_TTL):
                try:
                    order = self._send(display, amount, reference, note, tuple(lines), source, ask_tip)
                except BaseException:
                    self.store.delete(guard)
                    raise
                self.store.set(guard, f"{order.id} {fingerprint}", ttl=KEY_TTL)
                return order, True
            earlier, _, sent_as = (self.store.get(guard) or "").partition(" ")
            if earlier and sent_as != fingerprint:
                raise IdempotencyConflict("this key was used for another order")
            if earlier not in ("", "pending"):
                first = self.get(earlier)
                if first is not None:
                    return first, False
            time.sleep(0.1)  # the first request is sending it now
        raise DisplayBusy("the same order is still being sent")

    def _send(self, display: Display, amount: Decimal, reference: str | None, note: str | None,
              lines: tuple[Line, ...], source: str, ask_tip: bool = True) -> Order:
        amount = check_amount(amount, self.min_amount, self.max_amount, self.currency)
        if note is not None and len(note) > NOTE_MAX:
            raise InputError(N_("The note can be at most %(max)d characters."), max=NOTE_MAX)
        check_total(lines, amount)
        if display.mode != "till":
            raise DisplayNotInTillMode("the display is in keypad mode")
        if not self.displays.online(display):
            raise DisplayOffline("the display has not been seen for a while")
        now = self.clock()
        order = Order(f"chk_{secrets.token_hex(8)}", display.id, amount, self.currency, reference, note,
                      lines, now, now + self.checkout.payment_timeout, source, ask_tip=ask_tip)
        self.store.set(f"order:{order.id}", order.dumps(), ttl=RECORD_TTL)  # readable once claimed
        key = f"display-order:{display.id}"
        if not self.store.add(key, order.id):
            current = self.store.get(key)
            # An ended order makes room, unless another send takes its place first.
            if current is not None and not self._open(current):
                self.store.discard(key, current)
            if not self.store.add(key, order.id):
                self.store.delete(f"order:{order.id}")
                raise DisplayBusy("the display is showing another payment")
        # Staff may have switched its mode a moment ago (see Orders.set_mode): taken the display
        # first, then looked at its mode, so one of the two always sees the other.
        taken = self.displays.get(display.id)
        if taken is None or taken.mode != "till":
            self.store.discard(key, order.id)
            self.store.delete(f"order:{order.id}")
            raise DisplayNotInTillMode("the display is in keypad mode")
        self.store.schedule(PENDING, order.id, order.deadline)  # for the watcher, if nobody picks it up
        self._track(OrderState(order, "pending"))
        log.info("order sent %sid=%s display=%s amount=%s %s",
                 f"ref={order.reference!r} " if order.reference else "", order.id, display.id, order.amount,
                 order.currency, extra={"event": "order sent", "order": order.id, "display": display.id,
                                        "amount": str(order.amount), "currency": order.currency,
                                        **({"reference": order.reference} if order.reference else {})})
        return order

    def _open(self, order_id: str) -> bool:
        order = self.get(order_id)
        return order is not None and not self.state(order, look=True).final
