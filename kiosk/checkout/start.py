"""Starting a checkout: one upstream transaction per checkout, however the create goes.

Each create carries the kiosk's own reference in `statusNote`. When upstream does not answer a
create, the transaction is looked for by that reference (never by amount and time: two kiosks may
ask for the same amount at the same moment): the same kiosk's next try adopts it, and the watcher
cancels whatever nobody adopted.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from decimal import Decimal

from ..cryptom import CryptomError, Rejected, Transaction, Unavailable
from .base import CREATES, Base, log
from .record import GUARD_TTL, RECORD_TTL, Record, StartLimited, StartRejected, StartUnavailable

REF_MARK = "kiosk:"
CREATE_TTL = 24 * 3600  # how long an unanswered create is remembered at most
ADOPT_WINDOW = 600  # how long the same kiosk's next try may adopt its unanswered create
CREATE_GRACE = 120  # the watcher leaves an unanswered create to its customer this long
SEARCH_PAGES = 5  # history pages of 100 read when looking for one reference


def with_reference(ref: str, note: str | None) -> str:
    """The customer's note, if any, then the kiosk's reference as its last word."""
    return f"{note} {REF_MARK}{ref}" if note else f"{REF_MARK}{ref}"


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

    def dumps(self) -> str:
        return json.dumps({"ref": self.ref, "owner": self.owner, "amount": str(self.amount),
                           "coin": self.coin, "network": self.network, "at": self.at})

    @classmethod
    def loads(cls, text: str) -> Attempt:
        d = json.loads(text)
        return cls(d["ref"], d.get("owner"), Decimal(d["amount"]), d["coin"], d["network"], float(d["at"]))


class Starting(Base):
    create_limit: tuple[int, int]

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
        create that got no answer, this owner's next try for the same amount first looks
        upstream for that transaction, so it is adopted, not made twice. `display` and `order` are
        kept with the record too: which display showed it, and which order of a till or the
        console it pays."""
        tags = {"display": display, "order": order}
        key = f"nonce:{nonce}"
        if not self.store.add(key, "pending", ttl=GUARD_TTL):
            return self._await_start(key)
        try:
            adopted = self._adopt_unanswered(owner, amount, coin, network)
        except Exception:
            self.store.delete(key)
            raise
        if adopted is not None:
            tx, ref = adopted
            return self._begin(key, tx, amount, coin, network, self.clock(), ref, owner, **tags)
        started = self.clock()
        count, window = self.create_limit
        slot = int(started // window)
        over = [k for k in limit_keys if self.store.incr(f"rate:{k}:{slot}", ttl=window) > count]
        if over:
            self.store.delete(key)
            log.warning("payment refused: more than %d new payments in %d s", count, window)
            raise StartLimited("too many new payments")
        attempt = Attempt(secrets.token_hex(8), owner, amount, coin, network, started)
        # Written before the create is sent: if this process dies waiting for the answer, the
        # watcher still knows to look for the transaction.
        self.store.set(f"create:{attempt.ref}", attempt.dumps(), ttl=CREATE_TTL)
        self.store.schedule(CREATES, attempt.ref, started + CREATE_GRACE)
        try:
            tx = self.client.create_transaction(
                self.currency, amount, coin, network, user_mobile, with_reference(attempt.ref, status_note)
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
            self._settled(attempt.ref)
            self.store.delete(key)
            raise StartRejected(exc.message) from None
        except CryptomError:  # the login was refused: nothing was created
            self._settled(attempt.ref)
            self.store.delete(key)
            raise StartUnavailable("Cryptom Pay refused the kiosk's login") from None
        self._settled(attempt.ref)
        return self._begin(key, tx, amount, coin, network, started, attempt.ref, owner, **tags)

    def _settled(self, ref: str) -> None:
        """The create's fate is known: nothing left for the watcher to look for."""
        self.store.unschedule(CREATES, ref)
        self.store.delete(f"create:{ref}")

    def _begin(self, key: str, tx: Transaction, amount: Decimal, coin: str, network: str,
               started: float, ref: str, owner: str | None, **tags: str | None) -> str:
        record = Record(tx.id, amount, coin, network, started, started + self.payment_timeout,
                        owner=owner, ref=ref, **tags)
        self.store.set(f"tx:{tx.id}", record.dumps(), ttl=RECORD_TTL)
        self.store.schedule("records", tx.id, started)
        self.store.set(key, tx.id, ttl=GUARD_TTL)
        self._last_seen.put(tx.id, tx)
        self._event("created", record, coin_amount=str(tx.coin_amount))
        self.watch_at(tx.id, min(record.deadline, started + self.watch_interval))
        return tx.id

    def _adopt_unanswered(self, owner: str | None, amount: Decimal, coin: str,
                          network: str) -> tuple[Transaction, str] | None:
        if not owner:
            return None
        ref = self.store.get(f"unanswered:{owner}")
        if ref is None:
            return None
        self.store.delete(f"unanswered:{owner}")
        text = self.store.get(f"create:{ref}")
        if text is None:
            return None
        attempt = Attempt.loads(text)
        if (attempt.amount, attempt.coin, attempt.network) != (amount, coin, network):
            return None  # another sale: the watcher resolves the earlier create
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
            if value != "pending":
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
        filters = {"currencyAmount": attempt.amount, "coin": attempt.coin, "network": attempt.network}
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
        same = (tx.currency.upper() == self.currency and tx.currency_amount == attempt.amount
                and tx.coin.upper() == attempt.coin and tx.network.upper() == attempt.network)
        if not same:
            log.warning("transaction %s carries this kiosk's reference but not what was asked for", tx.id)
        return same
