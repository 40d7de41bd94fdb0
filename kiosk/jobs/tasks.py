"""The watcher's jobs. Each calls the same checkout functions as the screens.

- `watch` (one checkout, queued for the moment it is next due: its deadline, its next look);
- `resolve_create` (a create that got no answer, once its customer has had time to retry);
- `sweep` (every minute): queues again whatever is overdue (checkouts and webhook deliveries), in
  case a host died with its job, and expires the orders sent to a display that nobody picked up
  by their deadline;
- `webhook` (one checkout's waiting webhooks, queued at once and again after each back-off);
- `reconcile` (every hour): the last day of upstream's history against the kiosk's records;
- `print` (one receipt or report to its printer, kiosk.printing): when asked, and again after
  each back-off while the printer does not take it.

A periodic job runs once per period across every host (a guard in the shared store, per period)
and never twice at once (a lock in the same store, with a time limit so a dead host does not hold
it: Huey's own `lock_task` has no time limit on SQLite). Every job can be repeated, so a host
that dies half way leaves nothing another cannot finish.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from huey import Huey, crontab
from huey.signals import SIGNAL_ERROR

from ..checkout import Checkout, Store
from ..checkout.base import watch_due
from ..checkout.booking import Booking
from ..clock import now
from ..displays import Orders
from ..printing.jobs import Prints, print_due
from ..tills.webhooks import Webhooks, delivery_due

log = logging.getLogger(__name__)

SWEEP_PERIOD = 60  # Huey's periodic jobs run by the minute
SWEEP_LAG = 15.0  # a watch this late was lost with its job (a dead host, a full queue)
RECONCILE_PERIOD = 3600
PERIODIC = {"sweep": SWEEP_PERIOD, "reconcile": RECONCILE_PERIOD}
LOCK_TTL = {"sweep": 300, "reconcile": 1800}
HEARTBEAT_TTL = 60.0


class Jobs:
    """The queue and its jobs, for one process: the web workers queue, the consumer runs."""

    def __init__(self, huey: Huey, checkout: Checkout, store: Store, orders: Orders | None = None, *,
                 webhooks: Webhooks | None = None, booking: Booking | None = None,
                 prints: Prints | None = None) -> None:
        self.huey = huey
        self.checkout = checkout
        self.store = store
        self.orders = orders
        self.webhooks = webhooks  # the till API's webhooks, delivered by the `webhook` job
        self.booking = booking  # the ledger's entries kept while it was away, caught up by the sweep
        self.prints = prints  # receipts and reports, sent by the `print` job
        self.host = f"{socket.gethostname()}:{os.getpid()}"

        @huey.task(priority=10, name="watch")
        def watch(tx_id: str, due_at: float | None = None) -> None:
            checkout.watch(tx_id, due_at)

        @huey.task(priority=5, name="resolve_create")
        def resolve_create(ref: str) -> None:
            checkout.resolve_create(ref)

        @huey.task(priority=1, name="catch_up")
        def catch_up() -> None:
            self._run("sweep", lambda: self._sweep(lag=0.0))

        @huey.periodic_task(crontab(minute="*"), priority=1, name="sweep")
        def sweep() -> None:
            self._periodic("sweep", lambda: self._sweep(lag=SWEEP_LAG))

        @huey.periodic_task(crontab(minute="7"), priority=0, name="reconcile")
        def reconcile() -> None:
            self._periodic("reconcile", self._reconcile)

        self.watch_task = watch
        self.resolve_task = resolve_create
        self.catch_up = catch_up
        self.sweep_task = sweep
        self.reconcile_task = reconcile

        @huey.task(priority=8, name="webhook")
        def webhook(checkout_id: str) -> None:
            if self.webhooks is None:
                return
            again = self.webhooks.deliver(checkout_id)
            if again is not None:
                self.webhook_at(checkout_id, again)

        self.webhook_task = webhook

        @huey.task(priority=7, name="print")
        def print_job(print_id: str) -> None:
            if self.prints is not None:
                self.prints.run(print_id)

        self.print_task = print_job
        huey.signal(SIGNAL_ERROR)(self._failed)
        # The checkout and the webhooks announce when they are next due; the queue wakes then.
        watch_due.connect(self._watch_due, sender=checkout)
        if webhooks is not None:
            delivery_due.connect(self._delivery_due, sender=webhooks)
        if prints is not None:
            print_due.connect(self._print_due, sender=prints)

    # -- queueing ------------------------------------------------------------------------------

    def wake(self, tx_id: str, at: float) -> None:
        """Run the watch of this checkout at `at` (Huey's scheduler looks every second)."""
        if at <= now():
            self.watch_task(tx_id, at)
        else:
            self.watch_task.schedule((tx_id, at), eta=datetime.fromtimestamp(at, UTC))

    def _watch_due(self, sender: Checkout, *, tx_id: str, at: float) -> None:
        self.wake(tx_id, at)

    def _delivery_due(self, sender: Webhooks, *, checkout_id: str, at: float) -> None:
        self.webhook_at(checkout_id, at)

    def _print_due(self, sender: Prints, *, print_id: str, at: float) -> None:
        if at <= now():
            self.print_task(print_id)
        else:
            self.print_task.schedule((print_id,), eta=datetime.fromtimestamp(at, UTC))

    def webhook_at(self, checkout_id: str, at: float) -> None:
        """Deliver this checkout's waiting webhooks at `at` (a retry's back-off)."""
        self.store.set(f"webhook-due:{checkout_id}", repr(at), ttl=4 * 24 * 3600)
        if at <= now():
            self.webhook_task(checkout_id)
        else:
            self.webhook_task.schedule((checkout_id,), eta=datetime.fromtimestamp(at, UTC))

    def _sweep_webhooks(self, lag: float) -> int:
        """Webhooks whose delivery job was lost (a host died with it) are queued again."""
        lost = 0
        for checkout_id in sorted({k.split(":")[1] for k, _v in self.store.items("webhook-event:")}):
            due = self.store.get(f"webhook-due:{checkout_id}")
            if due is None or float(due) + lag < now():
                self.webhook_at(checkout_id, now())
                lost += 1
        return lost

    def _sweep(self, lag: float) -> dict[str, int]:
        hooks = self._sweep_webhooks(lag) if self.webhooks is not None else 0
        overdue = self.checkout.overdue(lag)
        for tx_id, due in overdue:
            self.watch_task(tx_id, due)
        creates = self.checkout.unanswered()
        for ref in creates:
            self.resolve_task(ref)
        if overdue:
            log.info("watcher: %d checkouts were overdue; queued again", len(overdue))
        expired = self.orders.sweep() if self.orders is not None else 0
        if expired:
            log.info("watcher: %d orders sent to a display expired before a coin was picked", expired)
        booked = self.booking.catch_up() if self.booking is not None else 0
        prints = self.prints.sweep(lag) if self.prints is not None else 0
        return {"overdue": len(overdue), "creates": len(creates), "orders_expired": expired,
                "webhooks": hooks, "ledger": booked, "prints": prints}

    def _reconcile(self) -> dict[str, int]:
        found = self.checkout.reconcile()
        log.info("reconciliation: %d pages, %d transactions of the last day, %d unknown, "
                 "%d ended upstream", found.pages, found.read, found.unknown, found.ended_upstream)
        return {"pages": found.pages, "read": found.read, "unknown": found.unknown,
                "ended_upstream": found.ended_upstream}

    # -- running -----------------------------------------------------------------------------

    def _periodic(self, name: str, body: Callable[[], dict[str, int]]) -> None:
        """Once per period across all hosts: the first host to take the period's guard runs it."""
        period = PERIODIC[name]
        slot = int(now() // period)
        if not self.store.add(f"jobs:period:{name}:{slot}", self.host, ttl=2 * period):
            return
        self._run(name, body)

    def _run(self, name: str, body: Callable[[], dict[str, int]]) -> None:
        started = now()
        lock = f"jobs:lock:{name}"
        if not self.store.add(lock, self.host, ttl=LOCK_TTL[name]):
            return  # still running elsewhere: that run records itself
        try:
            facts = body()
        except Exception as exc:
            self._record(name, started, ok=False, error=type(exc).__name__)
            raise
        finally:
            self.store.delete(lock)
        self._record(name, started, ok=True, **facts)

    def _record(self, name: str, started: float, **facts: Any) -> None:
        last = {"at": now(), "started": started, "host": self.host, **facts}
        self.store.set(f"jobs:last:{name}", json.dumps(last))

    def _failed(self, signal: str, task: Any, exc: BaseException | None = None) -> None:
        hour = int(now() // 3600)
        self.store.incr(f"jobs:failures:{hour}", ttl=7200)
        self.store.set("jobs:last-failure", json.dumps({
            "at": now(), "job": getattr(task, "name", "?"), "error": type(exc).__name__ if exc else "?",
            "host": self.host}), ttl=7 * 86400)

    def beat(self, started: float) -> None:
        """The consumer of this process is alive (written every few seconds while it runs)."""
        self.store.set(f"jobs:consumer:{self.host}", json.dumps(
            {"at": now(), "started": started, "host": self.host}), ttl=HEARTBEAT_TTL)

    def gone(self) -> None:
        self.store.delete(f"jobs:consumer:{self.host}")
