"""Webhooks of the till API: every status change of a checkout, as {"type": "checkout.updated",
"data": <checkout>}, signed by the Standard Webhooks spec (webhook-id, webhook-timestamp,
webhook-signature) with KIOSK_WEBHOOK_SECRET.

Each change is written to an outbox in the shared store first, numbered per checkout; delivery
takes a checkout's events strictly in that order and keeps the first one that failed until the
receiver takes it (at least once, in order), retrying with back-off for three days. Delivery never
runs on a request's path: it is handed to background work, so a dead receiver never slows a
display or a poll: `delivery_due` announces when a checkout's events are to be sent, the job
queue (kiosk/jobs) listens and runs each delivery, and its sweep queues again the ones whose job
was lost. No Flask here.

Keys in the store:
    webhook-seq:<checkout>           the last event number of that checkout
    webhook-event:<checkout>:<n>     an event not delivered yet: id, when, body
    webhook-sent:<checkout>          the last number the receiver took
    webhook-tries:<checkout>         failed tries of the event at the head of the line
    webhook-lock:<checkout>          one delivery at a time per checkout
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests
from blinker import Signal
from standardwebhooks import Webhook

from ..checkout.record import RECORD_TTL
from ..checkout.store import Store
from ..clock import now as clock_now
from ..displays import Orders, OrderState
from . import present

log = logging.getLogger(__name__)

GIVE_UP = 3 * 24 * 3600.0  # an event is retried this long (the contract: at least a day)
TIMEOUT = 5.0  # a receiver has this long to answer one delivery
LOCK_TTL = 60.0

# Sent by a Webhooks (the sender) when a checkout's waiting events are due: (checkout_id, at).
delivery_due = Signal("webhook delivery due")


class Webhooks:
    def __init__(self, store: Store, orders: Orders, url: str, secret: str, *,
                 backoff: tuple[float, float] = (5.0, 3600.0),
                 clock: Callable[[], float] = clock_now) -> None:
        self.store = store
        self.orders = orders
        self.url = url
        self.signer = Webhook(secret)
        self.backoff = backoff
        self.clock = clock
        orders.listeners.append(self.changed)

    # -- the outbox ---------------------------------------------------------------------------

    def changed(self, state: OrderState, noted: dict) -> None:
        """An order reached a new status: put the event in its checkout's line, then wake delivery."""
        order = state.order
        body = json.dumps({"type": "checkout.updated", "data": present.checkout(state, self.orders)},
                          separators=(",", ":"))
        seq = self.store.incr(f"webhook-seq:{order.id}", ttl=RECORD_TTL)
        event = {"id": f"msg_{order.id}_{seq}", "at": self.clock(), "body": body}
        self.store.set(f"webhook-event:{order.id}:{seq:08d}", json.dumps(event), ttl=RECORD_TTL)
        delivery_due.send(self, checkout_id=order.id, at=self.clock())

    def pending(self, checkout_id: str) -> list[tuple[int, dict[str, Any]]]:
        sent = int(self.store.get(f"webhook-sent:{checkout_id}") or 0)
        found = [(int(k.rsplit(":", 1)[1]), json.loads(v))
                 for k, v in self.store.items(f"webhook-event:{checkout_id}:")]
        return sorted((n, e) for n, e in found if n > sent)

    # -- delivery ------------------------------------------------------------------------------

    def deliver(self, checkout_id: str) -> float | None:
        """Send the checkout's waiting events in order. Returns when to try again (None: all
        delivered, or another delivery of this checkout is running and will carry on)."""
        lock = f"webhook-lock:{checkout_id}"
        if not self.store.add(lock, "1", ttl=LOCK_TTL):
            return None
        try:
            for seq, event in self.pending(checkout_id):
                if self._post(event):
                    self.store.set(f"webhook-sent:{checkout_id}", str(seq), ttl=RECORD_TTL)
                    self.store.delete(f"webhook-event:{checkout_id}:{seq:08d}")
                    self.store.delete(f"webhook-tries:{checkout_id}")
                    continue
                if self.clock() - float(event["at"]) > GIVE_UP:
                    log.error("webhook %s given up after %d days without a receiver", event["id"],
                              GIVE_UP // 86400)
                    self.store.set(f"webhook-sent:{checkout_id}", str(seq), ttl=RECORD_TTL)
                    self.store.delete(f"webhook-event:{checkout_id}:{seq:08d}")
                    continue
                tries = self.store.incr(f"webhook-tries:{checkout_id}", ttl=GIVE_UP)
                first, most = self.backoff
                return self.clock() + min(first * 2 ** (tries - 1), most)
            return None
        finally:
            self.store.delete(lock)

    def _post(self, event: dict[str, Any]) -> bool:
        moment = datetime.fromtimestamp(self.clock(), UTC)
        signature = self.signer.sign(event["id"], moment, event["body"])
        headers = {"content-type": "application/json", "webhook-id": event["id"],
                   "webhook-timestamp": str(int(moment.timestamp())), "webhook-signature": signature}
        try:
            # The status line is the receiver's whole answer: its body is never read, so one
            # that drips (or never ends, or is huge) holds a job's thread no longer than TIMEOUT.
            with requests.post(self.url, data=event["body"].encode(), headers=headers, timeout=TIMEOUT,
                               allow_redirects=False, stream=True) as answer:
                code = answer.status_code
        except requests.RequestException as exc:
            log.warning("webhook %s not delivered: %s", event["id"], type(exc).__name__)
            return False
        if 200 <= code < 300:
            return True
        log.warning("webhook %s refused by the receiver: HTTP %d", event["id"], code)
        return False

