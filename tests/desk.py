"""A checkout service in this process, as `kiosk.services` builds it but without Flask or the
job queue, against the sandbox over real HTTP: for the rule tests of looking, cancelling and
watching, which move the one clock with time-machine and count what reached upstream."""

from __future__ import annotations

import secrets
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kiosk import clock
from kiosk.checkout import Checkout, LocalStore
from kiosk.checkout.base import WATCHED, watch_due
from kiosk.cryptom import CryptomClient
from kiosk.ledger import Ledger, make_engine
from kiosk.sandbox import DEFAULT_EMAIL, DEFAULT_PASSWORD

from .support import Sandbox

T0 = 1_800_000_000.0  # any moment: every rule reads the one clock


class Desk:
    """One kiosk's checkout service: `woken` holds what it asked the job queue to wake (id,
    time), `events()` the lifecycle events it logged."""

    def __init__(self, sandbox: Sandbox, path: Path, caplog: pytest.LogCaptureFixture,
                 read_timeout: float = 5.0, **settings: Any) -> None:
        self.sandbox = sandbox
        self.caplog = caplog
        self.store = LocalStore(path)
        self.client = CryptomClient(sandbox.url, DEFAULT_EMAIL, DEFAULT_PASSWORD, read_timeout=read_timeout)
        settings.setdefault("payment_timeout", 600)
        # The ledger: a SQLite file beside the store, unless one is given (on PostgreSQL too).
        self.ledger = settings.pop("ledger", None) or Ledger(make_engine(f"sqlite:///{path}.ledger"))
        self.woken: list[tuple[str, float]] = []
        self.checkout = Checkout(self.client, self.store, ledger=self.ledger, **settings)
        watch_due.connect(self._wake, sender=self.checkout)

    def another_worker(self, **settings: Any) -> Checkout:
        """Another process of the same kiosk: the same store and ledger, nothing in memory."""
        settings.setdefault("payment_timeout", 600)
        return Checkout(self.client, self.store, ledger=self.ledger, **settings)

    def _wake(self, sender: Checkout, *, tx_id: str, at: float) -> None:
        self.woken.append((tx_id, at))

    def start(self, amount: str = "300", owner: str = "kiosk:a") -> str:
        return self.checkout.start(secrets.token_hex(8), Decimal(amount), "TRX", "TRX", owner=owner)

    def view(self, tx_id: str):
        """What a screen polling the checkout is shown now."""
        return self.checkout.view(self.checkout.record(tx_id))

    def due(self, tx_id: str) -> float | None:
        """When the watcher is next to look at the checkout (None: no longer watched)."""
        return self.store.when(WATCHED, tx_id)

    def watch_now(self, tx_id: str) -> float | None:
        """The watcher's run for a checkout whose entry is due now (as a sweep finds it)."""
        self.store.schedule(WATCHED, tx_id, clock.now())
        return self.checkout.watch(tx_id, clock.now())

    def upstream(self, tx_id: str) -> dict:
        return dict(self.sandbox.state.transactions[tx_id])

    def calls(self, name: str) -> int:
        return self.sandbox.calls(name)

    def vanish(self, tx_id: str) -> dict:
        """Upstream forgets the transaction (its answers become 404); returns it for `reappear`."""
        with self.sandbox.state.lock:
            return self.sandbox.state.transactions.pop(tx_id)

    def reappear(self, tx: dict) -> None:
        with self.sandbox.state.lock:
            self.sandbox.state.transactions[tx["_id"]] = tx

    def set_status(self, tx_id: str, status: str) -> None:
        """Upstream moves the transaction on by itself (a status the kiosk cannot cause)."""
        with self.sandbox.state.lock:
            self.sandbox.state.transactions[tx_id]["status"] = status

    def events(self, tx_id: str | None = None) -> list[str]:
        """The lifecycle events logged so far (of one checkout, or all), in order."""
        return [r.event for r in self.caplog.records
                if hasattr(r, "event") and (tx_id is None or getattr(r, "tx", None) == tx_id)]

    def attention(self) -> dict[str, dict]:
        return dict(self.checkout.attention())

    def probe_claim_while_hanging(self, clock: Any, claim: str) -> list[bool]:
        """While the checkout notes its first result, another host tries to take `claim` three
        times: at once, 119.999 s later and at two minutes. What each try got, filled in as the
        run goes on (a hang of the first run)."""
        seen: list[bool] = []

        def hang(record: Any, facts: Any) -> None:
            if not seen:
                seen.append(self.store.add(claim, "other", ttl=1))
                clock.shift(119.999)
                seen.append(self.store.add(claim, "other", ttl=1))
                clock.shift(0.001)
                seen.append(self.store.add(claim, "other", ttl=1))

        self.checkout.listeners.append(hang)
        return seen
