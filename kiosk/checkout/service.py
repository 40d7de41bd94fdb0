"""One checkout from start to result: plain Python over the Cryptom client and the local store."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import segno

from ..clock import now as clock_now
from ..cryptom import CryptomClient, CryptomError, NotFound, Rejected, Status, Transaction, Unavailable
from . import ownership
from .outcome import ENDED, Outcome, decide
from .store import Store

log = logging.getLogger(__name__)

RECORD_TTL = 15 * 24 * 3600  # upstream reserves the wallet for two weeks
GUARD_TTL = 24 * 3600
UNANSWERED_TTL = 600  # how long a create that got no answer is looked for before a new one
EVENTS = {
    Outcome.PAID: "paid",
    Outcome.CANCELLED: "cancelled",
    Outcome.EXPIRED: "expired",
    Outcome.PARTIAL_KEPT: "ended with partial payment",
    Outcome.SEE_CASHIER: "needs a check",
}
MEMORY_ITEMS = 512  # per process: last-seen transactions and QR images


class _Recent(OrderedDict[str, Any]):
    """A small least-recently-used map, safe between threads."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()

    def get_item(self, key: str) -> Any:
        with self.lock:
            if key in self:
                self.move_to_end(key)
                return self[key]
            return None

    def put(self, key: str, value: Any) -> None:
        with self.lock:
            self[key] = value
            self.move_to_end(key)
            while len(self) > MEMORY_ITEMS:
                self.popitem(last=False)

    def drop(self, key: str) -> None:
        with self.lock:
            self.pop(key, None)


class CheckoutError(Exception):
    """A checkout could not start; the message is safe to show."""


class StartUnavailable(CheckoutError):
    """Upstream did not answer; nothing was created, or nothing we could find."""


class StartRejected(CheckoutError):
    """Upstream refused the payment request."""


class StartLimited(CheckoutError):
    """Too many new payments from this kiosk or address: each one reserves a wallet address
    upstream for two weeks, so a playful customer must not drain the merchant's pool."""


@dataclass(frozen=True)
class Record:
    """What the kiosk itself knows of a checkout it started."""

    tx_id: str
    amount: Decimal
    coin: str
    network: str
    created: float
    deadline: float
    owner: str | None = None  # who started it (see ownership); None: recorded before owners were
    display: str | None = None  # the paired display that showed it
    order: str | None = None  # the order a till or the console sent, when it came from one

    def dumps(self) -> str:
        data = {
            "tx_id": self.tx_id, "amount": str(self.amount), "coin": self.coin,
            "network": self.network, "created": self.created, "deadline": self.deadline,
        }
        data.update({k: v for k, v in (("owner", self.owner), ("display", self.display),
                                       ("order", self.order)) if v is not None})
        return json.dumps(data)

    @classmethod
    def loads(cls, text: str) -> Record:
        data = json.loads(text)
        return cls(data["tx_id"], Decimal(data["amount"]), data["coin"], data["network"],
                   float(data["created"]), float(data["deadline"]), data.get("owner"),
                   data.get("display"), data.get("order"))


@dataclass(frozen=True)
class View:
    """What a screen needs: the outcome, the transaction (None while upstream is unreachable
    and nothing was seen yet) and whether upstream is answering right now."""

    record: Record
    outcome: Outcome
    tx: Transaction | None
    reconnecting: bool = False
    notice: str | None = None

    def remaining(self, now: float) -> int:
        return max(0, int(self.record.deadline - now + 0.999))


class Checkout:
    def __init__(
        self,
        client: CryptomClient,
        store: Store,
        *,
        payment_timeout: int,
        currency: str = "TRY",
        create_limit: tuple[int, int] = (10, 60),
        share_seconds: float = 0.0,
        clock: Callable[[], float] = clock_now,
    ) -> None:
        self.client = client
        self.store = store
        self.payment_timeout = payment_timeout
        self.currency = currency
        self.create_limit = create_limit
        self.share_seconds = share_seconds
        self.clock = clock
        self._last_seen = _Recent()  # transactions, for display while upstream is away
        self._qr = _Recent()  # QR images: the same for the whole life of a transaction
        # Told of every lifecycle event (the orders of tills and the console follow their checkout).
        self.listeners: list[Callable[[Record, dict[str, str]], None]] = []

    # -- start ------------------------------------------------------------------------------

    def start(
        self,
        nonce: str,
        amount: Decimal,
        coin: str,
        network: str,
        user_mobile: str | None = None,
        status_note: str | None = None,
        limit_keys: tuple[str, ...] = (),
        owner: str | None = None,
        display: str | None = None,
        order: str | None = None,
    ) -> str:
        """Create the one upstream transaction of this checkout; a repeat of the same nonce
        (double tap, resubmitted form, back button) returns the same transaction.
        `limit_keys` (the kiosk session, the client address) each get `create_limit`.
        `owner` (see ownership) is kept with the record: only it may act on the checkout. After a
        create that got no answer, this owner's next try first looks upstream for that
        transaction, so it is adopted, not made twice. `display` and `order` are kept with the
        record too: which display showed it, and which order of a till or the console it pays."""
        key = f"nonce:{nonce}"
        if not self.store.add(key, "pending", ttl=GUARD_TTL):
            return self._await_start(key)
        adopted = self._adopt_unanswered(owner, amount, coin, network)
        if adopted is not None:
            return self._begin(key, adopted, amount, coin, network, self.clock(),
                               owner=owner, display=display, order=order)
        started = self.clock()
        count, window = self.create_limit
        slot = int(started // window)
        over = [k for k in limit_keys if self.store.incr(f"rate:{k}:{slot}", ttl=window) > count]
        if over:
            self.store.delete(key)
            log.warning("payment refused: more than %d new payments in %d s", count, window)
            raise StartLimited("too many new payments")
        try:
            tx = self.client.create_transaction(
                self.currency, amount, coin, network, user_mobile, status_note
            )
        except Unavailable:
            tx = self._recover(amount, coin, network, started)
            if tx is None:
                # Upstream may still make it: remember, so the next try looks before creating.
                if owner:
                    self.store.set(f"unanswered:{owner}", json.dumps(
                        {"amount": str(amount), "coin": coin, "network": network, "at": started}),
                        ttl=UNANSWERED_TTL)
                self.store.delete(key)
                raise StartUnavailable("Cryptom Pay is not answering") from None
        except Rejected as exc:
            self.store.delete(key)
            raise StartRejected(exc.message) from None
        return self._begin(key, tx, amount, coin, network, started, owner=owner, display=display,
                           order=order)

    def _begin(self, key: str, tx: Transaction, amount: Decimal, coin: str, network: str,
               started: float, **tags: str | None) -> str:
        record = Record(tx.id, amount, coin, network, started, started + self.payment_timeout, **tags)
        self.store.set(f"tx:{tx.id}", record.dumps(), ttl=RECORD_TTL)
        self.store.set(key, tx.id, ttl=GUARD_TTL)
        self._last_seen.put(tx.id, tx)
        self._event("created", record, coin_amount=str(tx.coin_amount))
        return tx.id

    def _adopt_unanswered(self, owner: str | None, amount: Decimal, coin: str,
                          network: str) -> Transaction | None:
        if not owner:
            return None
        text = self.store.get(f"unanswered:{owner}")
        if text is None:
            return None
        self.store.delete(f"unanswered:{owner}")
        earlier = json.loads(text)
        if (Decimal(earlier["amount"]), earlier["coin"], earlier["network"]) != (amount, coin, network):
            log.warning("an unanswered create for another amount may stay pending upstream")
            return None
        return self._recover(amount, coin, network, float(earlier["at"]))

    def _await_start(self, key: str) -> str:
        for _ in range(150):  # the first request is creating it: wait for its answer
            value = self.store.get(key)
            if value is None:
                raise StartUnavailable("the payment could not be started")
            if value != "pending":
                return value
            time.sleep(0.1)
        raise StartUnavailable("the payment is still being started")

    def _recover(self, amount: Decimal, coin: str, network: str, since: float) -> Transaction | None:
        """After a create that got no answer, find the transaction if upstream made it, so a
        retry never reserves a second one. Adopt only an unambiguous match."""
        try:
            page = self.client.history(
                {"currencyAmount": amount, "coin": coin, "network": network, "status": "PENDING"},
                page=1, limit=20,
            )
        except CryptomError:  # still unreachable: report the create as failed
            return None
        floor = datetime.fromtimestamp(since, UTC) - timedelta(seconds=5)
        fresh = [
            tx for tx in page.results
            if tx.created_at and tx.created_at >= floor and self.store.get(f"tx:{tx.id}") is None
        ]
        return fresh[0] if len(fresh) == 1 else None

    # -- look -------------------------------------------------------------------------------

    def record(self, tx_id: str) -> Record | None:
        """Any checkout this kiosk recorded, whoever started it: for the operator area only."""
        text = self.store.get(f"tx:{tx_id}")
        return Record.loads(text) if text else None

    def record_for(self, tx_id: str, owner: str | None) -> Record | None:
        """The checkout if `owner` started it; None, as for an unknown id, to anyone else."""
        record = self.record(tx_id) if owner else None
        return record if record is not None and ownership.owns(record, owner) else None

    def view(self, record: Record) -> View:
        """The state of a checkout now; cancels upstream once the kiosk's deadline has passed.
        Two tabs, a reload or the result screen right after a poll share one upstream answer."""
        return self._look(record, expire=True, shared=True)

    def _detail(self, tx_id: str, shared: bool) -> Transaction:
        key = f"detail:{tx_id}"
        if shared and self.share_seconds > 0:
            cached = self.store.get(key)
            if cached is not None:
                return Transaction.from_json(json.loads(cached, parse_float=Decimal))
        tx = self.client.transaction(tx_id)
        if self.share_seconds > 0:
            self.store.set(key, json.dumps(tx.raw, default=str), ttl=self.share_seconds)
        return tx

    def _seen(self, record: Record, outcome: Outcome, tx: Transaction) -> View:
        self._last_seen.put(record.tx_id, tx)
        key = f"partly:{record.tx_id}"
        # A read first: polls would otherwise take the store's write lock every time.
        if outcome is Outcome.PARTLY_PAID and self.store.get(key) is None and self.store.add(
            key, "1", ttl=RECORD_TTL
        ):
            self._event("partly paid", record, received=str(tx.total_transfer_amount),
                        coin_amount=str(tx.coin_amount))
        return View(record, outcome, tx)

    def _event(self, event: str, record: Record, **facts: str | None) -> None:
        """One log line per lifecycle event, for people and for machines (JSON fields)."""
        extra = {"event": event, "tx": record.tx_id, "amount": str(record.amount),
                 "currency": self.currency, "coin": f"{record.coin}/{record.network}",
                 **{k: v for k, v in facts.items() if v is not None}}
        details = " ".join(f"{k}={v}" for k, v in facts.items() if v is not None)
        log.info("payment %s tx=%s amount=%s %s %s %s", event, record.tx_id, record.amount,
                 self.currency, extra["coin"], details, extra=extra)
        for listener in self.listeners:
            try:
                listener(record, {k: v for k, v in facts.items() if v is not None})
            except Exception:  # a listener never breaks a payment
                log.exception("a checkout listener failed")

    def _away(self, record: Record, notice: str | None = None) -> View:
        last = self._last_seen.get_item(record.tx_id)
        outcome = Outcome.PARTLY_PAID if last and last.is_partial else Outcome.WAITING
        return View(record, outcome, last, reconnecting=True, notice=notice)

    def _reason(self, tx_id: str) -> str | None:
        return self.store.get(f"cancel:{tx_id}")

    def _final(self, record: Record, outcome: Outcome, tx: Transaction | None) -> View:
        self._last_seen.drop(record.tx_id)
        key = f"final:{record.tx_id}"
        known = self.store.get(key)
        if known is None and self.store.add(key, outcome.value, ttl=RECORD_TTL):
            # Completed although upstream had ended it: money arrived on a cancelled transaction.
            late = outcome is Outcome.PAID and tx is not None and tx.status in ENDED
            self._note_final(record, outcome, tx, late=late)
        elif outcome in (Outcome.PAID, Outcome.PARTIAL_KEPT) and (
            known or self.store.get(key)  # another request may have closed it just now
        ) != outcome.value:
            # The kiosk had closed it without that money; coins arrived afterwards.
            self.store.set(key, outcome.value, ttl=RECORD_TTL)
            self._note_final(record, outcome, tx, late=outcome is Outcome.PAID)
        return View(record, outcome, tx)

    def _note_final(
        self, record: Record, outcome: Outcome, tx: Transaction | None, *, late: bool = False
    ) -> None:
        event = "paid late" if late else EVENTS[outcome]
        self._event(event, record, received=str(tx.total_transfer_amount) if tx else None)
        if outcome in (Outcome.PARTIAL_KEPT, Outcome.SEE_CASHIER) or late:
            item = {"kind": "paid_late" if late else outcome.value, "at": self.clock(),
                    "amount": str(record.amount), "coin": record.coin, "network": record.network}
            if tx is not None:
                item.update(received=str(tx.total_transfer_amount), expected=str(tx.coin_amount))
            self.store.set(f"attention:{record.tx_id}", json.dumps(item), ttl=RECORD_TTL)

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

    def cancel_by_operator(self, tx_id: str) -> None:
        """Staff cancel a pending transaction: this kiosk's with its guard, another's directly."""
        record = self.record(tx_id)
        if record is not None:
            self._cancel(record, "operator")
            return
        try:
            self.client.cancel(tx_id)
        except NotFound:
            raise
        except (Unavailable, Rejected):
            pass  # not cancelled: the detail screen shows what upstream says now

    def dismiss(self, tx_id: str) -> None:
        """The operator has dealt with an attention item."""
        self.store.delete(f"attention:{tx_id}")

    def qr_png(self, record: Record) -> bytes | None:
        """Upstream's QR image; when upstream cannot give it, our own QR of the wallet address,
        so the customer is never stuck. None only when the address is unknown too."""
        png = self._qr.get_item(record.tx_id)
        if png is not None:
            return png
        try:
            png = self.client.qr_png(record.tx_id)
        except CryptomError:
            tx = self._last_seen.get_item(record.tx_id)
            if tx is None:
                try:
                    tx = self.client.transaction(record.tx_id)
                except CryptomError:
                    return None
            out = io.BytesIO()
            segno.make(tx.address, error="m").save(out, kind="png", scale=8, border=4)
            return out.getvalue()  # not cached: upstream's own image next time
        self._qr.put(record.tx_id, png)
        return png

    def is_closed(self, tx_id: str) -> bool:
        """Known to have reached a result already (no upstream call)."""
        return self.store.get(f"final:{tx_id}") is not None

    def last_outcome(self, tx_id: str) -> Outcome:
        """What the kiosk last decided for a transaction, from the store alone (no upstream call):
        for lists that must not ask upstream about every row."""
        final = self.store.get(f"final:{tx_id}")
        if final is not None:
            return Outcome(final)
        return Outcome.PARTLY_PAID if self.store.get(f"partly:{tx_id}") else Outcome.WAITING

    def cancel_reason(self, tx_id: str) -> str | None:
        """Who cancelled it: customer, till, operator or deadline (None: nobody asked to)."""
        return self._reason(tx_id)

    # -- end --------------------------------------------------------------------------------

    def cancel(self, record: Record, reason: str = "customer") -> View:
        """A cancel by the customer (or `reason`: till, operator): one DELETE however many taps,
        then a fresh look upstream."""
        return self._cancel(record, reason)

    def _cancel(self, record: Record, reason: str) -> View:
        key = f"cancel:{record.tx_id}"
        if not self.store.add(key, reason, ttl=RECORD_TTL):
            return self._look(record, expire=False)  # another tap or tab is cancelling already
        try:
            self.client.cancel(record.tx_id)
        except Unavailable:
            # Not confirmed upstream: never claim it is cancelled. Try again on the next poll.
            self.store.delete(key)
            return self._away(record, notice="cancel_failed" if reason == "customer" else None)
        except NotFound:
            return self._final(record, Outcome.SEE_CASHIER, None)
        except Rejected:
            pass  # most likely it completed meanwhile: the next read tells
        return self._look(record, expire=False)

    def _look(self, record: Record, *, expire: bool, shared: bool = False) -> View:
        """Read the transaction and decide. `expire`: cancel it if the deadline has passed;
        without it (right after a cancel) a transaction past its deadline is waited on.
        `shared`: an answer another request got a moment ago will do."""
        try:
            tx = self._detail(record.tx_id, shared)
        except NotFound:
            return self._final(record, Outcome.SEE_CASHIER, None)
        except Unavailable:
            return self._away(record)
        outcome = decide(tx, record.deadline, self.clock(), self._reason(record.tx_id))
        if outcome is Outcome.DUE and expire:
            return self._cancel(record, "deadline")
        if outcome is Outcome.DUE:
            if tx.status in (Status.PENDING, Status.TRANSFERRED):
                # Our DELETE was not applied (yet), or another request is applying it.
                return self._seen(record, Outcome.PARTLY_PAID if tx.is_partial else Outcome.WAITING, tx)
            # Upstream will not cancel it and it is not paid: a person has to look.
            outcome = Outcome.PARTIAL_KEPT if tx.total_transfer_amount > 0 else Outcome.SEE_CASHIER
        if outcome.is_final:
            return self._final(record, outcome, tx)
        return self._seen(record, outcome, tx)

    def attention(self) -> list[tuple[str, dict[str, Any]]]:
        return [(k.split(":", 1)[1], json.loads(v)) for k, v in self.store.items("attention:")]
