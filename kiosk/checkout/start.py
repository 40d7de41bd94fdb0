"""Starting a checkout: one upstream transaction per checkout, however the create goes.

Each create carries the kiosk's own reference in `statusNote`, as the note's last word; no note
from a customer, the console or a till can carry the reference's marker (see `with_reference`).
When upstream does not answer a create, the transaction is looked for by that reference (never by
amount and time: two kiosks may ask for the same amount at the same moment): the same kiosk's next
try adopts it, and the watcher cancels whatever nobody adopted (an order's it adopts for the order).

Guards, one per checkout, in two namespaces that never meet:
    form:<owner>:<nonce>     a customer's form (a nonce the server issued)
    order-start:<order id>   an order of a till or the console
Each holds "pending" (an order's: "pending <when its create was sent>"), then the transaction id.

An order is tied to its checkout by its own key, written once:
    order-tx:<order id>      {"order", "tx", "amount"} once its transaction is made, or
                             {"order", "ended"} when the order ended without one
and the checkout's record names the order too. Only a checkout both name, for the order's amount,
is the order's (see `order_checkout`).
"""

from __future__ import annotations

import json
import secrets
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from ..cryptom import CryptomClient, CryptomError, Rejected, Transaction, Unavailable
from .base import CREATES, Records, Timetable, log
from .cancel import Cancel
from .rates import Window
from .record import (
    GUARD_TTL,
    RECORD_TTL,
    UNREADABLE,
    OrderTaken,
    Record,
    StartLimited,
    StartRejected,
    StartUnavailable,
)
from .runner import Runner
from .store import Store

REF_MARK = "kiosk:"
CREATE_TTL = 24 * 3600  # how long an unanswered create is remembered at most
ADOPT_WINDOW = 600  # how long the same kiosk's next try may adopt its unanswered create
CREATE_GRACE = 120  # the watcher leaves an unanswered create to its customer this long
SEARCH_PAGES = 5  # history pages of 100 read when looking for one reference


def has_mark(word: str) -> bool:
    """The word holds the kiosk's reference marker, in any case or width (`ＫＩＯＳＫ：` too)."""
    return REF_MARK in unicodedata.normalize("NFKC", word).casefold()


def clean_note(note: str | None) -> str | None:
    """A note from a customer, the console or a till, fit to go upstream: every word that holds
    the kiosk's marker is left out, so no note can pass for the kiosk's own reference (and make
    the kiosk adopt, or recognise, a transaction that is not the one it made)."""
    words = [word for word in (note or "").split() if not has_mark(word)]
    return " ".join(words) or None


def with_reference(ref: str, note: str | None) -> str:
    """The note (cleaned of the marker), if any, then the kiosk's reference as its last word."""
    note = clean_note(note)
    return f"{note} {REF_MARK}{ref}" if note else f"{REF_MARK}{ref}"


def form_guard(nonce: str, owner: str | None) -> str:
    """The one-transaction guard of a customer's form: the owner's own, so another browser
    replaying a form's nonce learns nothing."""
    return f"form:{owner or '-'}:{nonce}"


def order_guard(order: str) -> str:
    """The one-transaction guard of an order: by the order's id alone, never by anything a form
    sends."""
    return f"order-start:{order}"


def order_key(order: str) -> str:
    return f"order-tx:{order}"


@dataclass(frozen=True)
class OrderLink:
    """What an order's own key says: the transaction made for it and the amount, or that the
    order ended without one (`ended`: why)."""

    order: str
    tx: str | None = None
    amount: Decimal | None = None
    ended: str | None = None

    def dumps(self) -> str:
        if self.ended:
            return json.dumps({"order": self.order, "ended": self.ended})
        return json.dumps({"order": self.order, "tx": self.tx, "amount": str(self.amount)})

    @classmethod
    def loads(cls, text: str) -> OrderLink:
        d = json.loads(text)
        if d.get("ended"):
            return cls(str(d["order"]), ended=str(d["ended"]))
        return cls(str(d["order"]), str(d["tx"]), Decimal(d["amount"]))


def carries(tx: Transaction, ref: str) -> bool:
    return bool(ref) and f"{REF_MARK}{ref}" in (tx.status_note or "").split()


@dataclass(frozen=True)
class Attempt:
    """A create sent upstream that has not been answered (yet)."""

    ref: str
    owner: str | None
    amount: Decimal
    coin: str
    network: str
    at: float
    display: str | None = None
    order: str | None = None  # the order it was made for: the watcher adopts it for that order
    tip: Decimal = Decimal(0)  # asked for beside `amount`: upstream's transaction is for `total`

    @property
    def total(self) -> Decimal:
        return self.amount + self.tip

    def dumps(self) -> str:
        data = {"ref": self.ref, "owner": self.owner, "amount": str(self.amount), "coin": self.coin,
                "network": self.network, "at": self.at}
        data.update({k: v for k, v in (("display", self.display), ("order", self.order)) if v})
        if self.tip:
            data["tip"] = str(self.tip)
        return json.dumps(data)

    @classmethod
    def loads(cls, text: str) -> Attempt:
        d = json.loads(text)
        return cls(d["ref"], d.get("owner"), Decimal(d["amount"]), d["coin"], d["network"], float(d["at"]),
                   d.get("display"), d.get("order"), Decimal(d.get("tip") or 0))

    @classmethod
    def read(cls, ref: str, text: str) -> Attempt | None:
        """The attempt, or None (with a warning) when the entry is not one this kiosk wrote."""
        try:
            return cls.loads(text)
        except UNREADABLE:
            log.warning("the unanswered create %s cannot be read: set aside", ref)
            return None


class Start:
    def __init__(self, client: CryptomClient, store: Store, records: Records, runner: Runner, cancels: Cancel,
                 timetable: Timetable, *, currency: str, payment_timeout: int, create_limit: Window,
                 watch_interval: float, clock: Callable[[], float]) -> None:
        self.client = client
        self.store = store
        self.records = records
        self.runner = runner
        self.cancels = cancels
        self.timetable = timetable
        self.currency = currency
        self.payment_timeout = payment_timeout
        self.create_limit = create_limit
        self.watch_interval = watch_interval
        self.clock = clock

    def start(
        self,
        nonce: str | None,
        amount: Decimal,
        coin: str,
        network: str,
        user_mobile: str | None = None,
        status_note: str | None = None,
        limit_keys: tuple[str, ...] = (),
        owner: str | None = None,
        display: str | None = None,
        order: str | None = None,
        tip: Decimal = Decimal(0),
    ) -> str:
        """Create the one upstream transaction of this checkout, for `amount` plus `tip` (the
        record keeps them apart); a repeat of the same nonce
        (double tap, resubmitted form, back button) returns the same transaction.
        `limit_keys` (the kiosk session, the client address) each get `create_limit`.
        `owner` (see ownership) is kept with the record: only it may act on the checkout. After a
        create that got no answer, this owner's next try for the same amount first looks
        upstream for that transaction, so it is adopted, not made twice. `display` and `order`
        are kept with the record too: which display showed it, and which order of a till or the
        console it pays. An order's guard is the order's own (`nonce` is not used): no form's
        nonce reaches it. Raises OrderTaken when the order ended (or has another transaction)
        before this one was made: this one is then cancelled upstream."""
        if order is not None:
            key = order_guard(order)
        elif nonce:
            key = form_guard(nonce, owner)
        else:
            raise ValueError("a checkout is started by a form's nonce or for an order")
        if not self.store.add(key, "pending", ttl=GUARD_TTL):
            return self._await_start(key)
        try:
            adopted = self._adopt_unanswered(owner, amount, coin, network, order, tip)
        except Exception:
            self.store.delete(key)
            raise
        if adopted is not None:
            tx, ref = adopted
            return self._begin(key, tx, amount, coin, network, self.clock(), ref, owner,
                               display=display, order=order, tip=tip)
        started = self.clock()
        over = [k for k in limit_keys if not self.create_limit.hit(k)]
        if over:
            self.store.delete(key)
            log.warning("payment refused: more than %d new payments in %d s", self.create_limit.count,
                        self.create_limit.seconds)
            raise StartLimited("too many new payments")
        attempt = Attempt(secrets.token_hex(8), owner, amount, coin, network, started, display, order, tip)
        # Written before the create is sent: if this process dies waiting for the answer, the
        # watcher still knows to look for the transaction.
        self.store.set(f"create:{attempt.ref}", attempt.dumps(), ttl=CREATE_TTL)
        self.store.schedule(CREATES, attempt.ref, started + CREATE_GRACE)
        # And for this owner's next try: a process killed waiting for the answer runs none of
        # the handlers below, and the customer's next Pay must adopt what upstream made.
        if owner:
            self.store.set(f"unanswered:{owner}", attempt.ref, ttl=ADOPT_WINDOW)
        if order is not None:  # when it was sent: a start long without an answer has died
            self.store.set(key, f"pending {started!r}", ttl=GUARD_TTL)
        try:
            tx = self.client.create_transaction(
                self.currency, attempt.total, coin, network, user_mobile,
                with_reference(attempt.ref, status_note),
            )
        except Unavailable:
            found = self.find_created(attempt)
            if found is None or not self.store.add(f"claimed:{attempt.ref}", "start", ttl=CREATE_TTL):
                # Upstream may still make it: this owner's next try looks for it before creating.
                if owner:
                    self.store.set(f"unanswered:{owner}", attempt.ref, ttl=ADOPT_WINDOW)
                self.store.delete(key)
                raise StartUnavailable("Cryptom Pay is not answering") from None
            tx = found
        except Rejected as exc:
            self._settled(attempt.ref, owner)
            self.store.delete(key)
            raise StartRejected(exc.message) from None
        except CryptomError:  # the login was refused: nothing was created
            self._settled(attempt.ref, owner)
            self.store.delete(key)
            raise StartUnavailable("Cryptom Pay refused the kiosk's login") from None
        self._settled(attempt.ref, owner)
        if not self._as_asked(tx, attempt):
            # Another amount, currency or coin than the customer's: never shown for payment.
            self._discard(tx)
            self.store.delete(key)
            raise StartUnavailable("Cryptom Pay answered with another payment than was asked for")
        return self._begin(key, tx, amount, coin, network, started, attempt.ref, owner,
                           display=display, order=order, tip=tip)

    def _discard(self, tx: Transaction) -> None:
        """Cancel upstream a transaction nobody will pay; if that fails, the hourly
        reconciliation finds it (no record of the kiosk's own carries it)."""
        try:
            self.client.cancel(tx.id)
        except CryptomError:
            log.warning("could not cancel transaction %s, made unlike the request", tx.id)

    def _settled(self, ref: str, owner: str | None = None) -> None:
        """The create's fate is known: nothing left for the watcher, or the owner's next try, to
        look for."""
        self.store.unschedule(CREATES, ref)
        self.store.delete(f"create:{ref}")
        if owner and self.store.get(f"unanswered:{owner}") == ref:
            self.store.delete(f"unanswered:{owner}")

    def _begin(self, key: str, tx: Transaction, amount: Decimal, coin: str, network: str,
               started: float, ref: str, owner: str | None, display: str | None = None,
               order: str | None = None, tip: Decimal = Decimal(0)) -> str:
        record = Record(tx.id, amount, coin, network, started, started + self.payment_timeout,
                        owner=owner, ref=ref, display=display, order=order, tip=tip)
        self.records.save(record, started)
        if order is not None and not self._link(order, record, tx):
            self.store.delete(key)
            raise OrderTaken("the order has ended")
        self.store.set(key, tx.id, ttl=GUARD_TTL)
        self.runner.created(record, tx)
        self.timetable.watch_at(tx.id, min(record.deadline, started + self.watch_interval))
        return tx.id

    # -- orders ----------------------------------------------------------------------------------

    def _link(self, order: str, record: Record, tx: Transaction, event: str = "created") -> bool:
        """Write the order's own key for the checkout of `record` (written once: the first
        checkout, or the order's end, keeps it). When the order has ended or has another
        transaction, this one is not the order's: its record forgets the order and it is
        cancelled upstream (nobody will be shown it). False then."""
        link = OrderLink(order, record.tx_id, record.amount)
        if self.store.add(order_key(order), link.dumps(), ttl=RECORD_TTL):
            return True
        held = self.order_link(order)
        if held is not None and held.tx == record.tx_id:
            return True  # written for this very checkout before
        reason = held.ended if held is not None and held.ended else "unanswered"
        alone = Record(record.tx_id, record.amount, record.coin, record.network, record.created,
                       record.created, owner=record.owner, ref=record.ref, display=record.display,
                       tip=record.tip)
        self.records.save(alone)
        log.warning("transaction %s was made for order %s, which has %s: cancelled", record.tx_id,
                    order, "ended" if held is not None and held.ended else "another transaction")
        self.runner.created(alone, tx, event)
        self.cancels.cancel(alone, reason)
        self.timetable.watch_at(record.tx_id, self.clock() + self.watch_interval)
        return False

    def order_link(self, order: str) -> OrderLink | None:
        text = self.store.get(order_key(order))
        if text is None:
            return None
        try:
            return OrderLink.loads(text)
        except UNREADABLE:
            log.warning("the transaction key of order %s cannot be read: set aside", order)
            return None

    def order_checkout(self, order: str, amount: Decimal, display: str | None,
                       tx_hint: str | None = None) -> Record | None:
        """The checkout that pays this order, or None. Only a checkout the order's own key names
        for this order and amount, whose record names this order, amount and display, is the
        order's: nothing a form or a note sends can make another one its payment. `tx_hint`:
        the order's own field, for an order begun before its key existed (still checked
        against the record)."""
        link = self.order_link(order)
        if link is not None:
            if link.ended or link.order != order or link.amount != amount:
                return None
            tx_id = link.tx
        else:
            tx_id = tx_hint
        record = self.records.get(tx_id) if tx_id else None
        if record is None or (record.order, record.amount, record.display) != (order, amount, display):
            return None
        return record

    def end_order(self, order: str, reason: str) -> bool:
        """The order ends without a transaction (by `reason`), unless one was made for it first:
        a transaction upstream makes for it later is cancelled, never adopted. True when the
        order has ended so (now or before)."""
        if self.store.add(order_key(order), OrderLink(order, ended=reason).dumps(), ttl=RECORD_TTL):
            return True
        held = self.order_link(order)
        return held is None or held.ended is not None or held.order != order

    def start_sent_at(self, order: str) -> float | None:
        """When the create of the order's transaction was sent, while nothing is known of its
        answer (None: not sent yet, or answered)."""
        value = self.store.get(order_guard(order)) or ""
        word, _, at = value.partition(" ")
        try:
            return float(at) if word == "pending" and at else None
        except ValueError:
            return None

    def _adopt_unanswered(self, owner: str | None, amount: Decimal, coin: str, network: str,
                          order: str | None = None,
                          tip: Decimal = Decimal(0)) -> tuple[Transaction, str] | None:
        if not owner:
            return None
        ref = self.store.get(f"unanswered:{owner}")
        if ref is None:
            return None
        self.store.delete(f"unanswered:{owner}")
        text = self.store.get(f"create:{ref}")
        attempt = Attempt.read(ref, text) if text is not None else None
        if attempt is None:
            return None
        if (attempt.amount, attempt.tip, attempt.coin, attempt.network, attempt.order) != (
                amount, tip, coin, network, order):
            return None  # another sale (or another order's): the watcher resolves the earlier create
        tx = self.find_created(attempt)
        if tx is None or not self.store.add(f"claimed:{ref}", "start", ttl=CREATE_TTL):
            return None
        self._settled(ref)
        log.info("adopted the transaction of a create that got no answer: tx=%s", tx.id)
        return tx, ref

    def _await_start(self, key: str) -> str:
        for _ in range(150):  # the first request is creating it: wait for its answer
            value = self.store.get(key)
            if value is None:
                raise StartUnavailable("the payment could not be started")
            if not value.startswith("pending"):
                return value
            time.sleep(0.1)
        raise StartUnavailable("the payment is still being started")

    def find_created(self, attempt: Attempt) -> Transaction | None:
        """The transaction upstream made for this attempt, or None (also while upstream is away)."""
        try:
            return self._search(attempt)
        except CryptomError:
            return None

    def _search(self, attempt: Attempt) -> Transaction | None:
        """The transaction upstream made for this attempt, found by its reference, and only if
        it is what was asked for. None when upstream has none."""
        filters = {"currencyAmount": attempt.total, "coin": attempt.coin, "network": attempt.network}
        for number in range(1, SEARCH_PAGES + 1):
            page = self.client.history(filters, page=number, limit=100)
            for tx in page.results:
                if carries(tx, attempt.ref):
                    return tx if self._as_asked(tx, attempt) else None
            oldest = min((t.created_at.timestamp() for t in page.results if t.created_at), default=0.0)
            if not page.has_next_page or oldest < attempt.at - 60:
                return None
        return None

    def _as_asked(self, tx: Transaction, attempt: Attempt) -> bool:
        same = (tx.currency.upper() == self.currency and tx.currency_amount == attempt.total
                and tx.coin.upper() == attempt.coin and tx.network.upper() == attempt.network)
        if not same:
            log.warning("transaction %s carries this kiosk's reference but not what was asked for", tx.id)
        return same
