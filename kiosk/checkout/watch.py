"""What the watcher does for the kiosk's checkouts when no screen is looking, through the same
look, decide and cancel as the screens:

- an open checkout is read every `watch_interval` and at its deadline, where it is cancelled;
- a closed one is read for a day after its deadline, less often as it ages, so coins that arrive
  late become an attention item;
- a create that got no answer is looked for by its reference: cancelled if upstream made it and
  nobody adopted it (an order's is adopted for its order, unless the order ended meanwhile),
  forgotten once it is known not to exist;
- once an hour the last day of upstream's history is compared with the kiosk's own records.

Every step can be repeated: a host that dies half way leaves guards that expire, and the entry
in the store's watch list stays due until a run finishes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..cryptom import CryptomError, Transaction
from .base import CREATES, WATCHED, log
from .outcome import ENDED, Outcome
from .record import GUARD_TTL, RECORD_TTL, Record
from .start import CREATE_TTL, REF_MARK, Attempt, Starting, order_guard

CLAIM_TTL = 120  # one run of one checkout; a host that dies frees it after this
AFTER_CLOSE = 24 * 3600  # closed checkouts are watched this long after their deadline
AGE_FACTOR = 0.5  # a closed checkout is read again after half its age...
MAX_GAP = 2 * 3600  # ... but at least every two hours
RETRY = 5.0  # past the deadline and upstream did not answer: try again this soon
CREATE_RETRY = 60.0  # an unanswered create not found yet: look again this much later
CREATE_GIVE_UP = 15 * 60  # an unanswered create not found by then was never made
RECONCILE_WINDOW = 24 * 3600
RECENT = 120  # transactions younger than this may be creates still on their way
MAX_PAGES = 100  # history pages of 100 for one reconciliation


@dataclass
class Findings:
    pages: int = 0
    read: int = 0
    unknown: int = 0
    ended_upstream: int = 0


class Watching(Starting):
    def watch(self, tx_id: str, due_at: float | None = None) -> float | None:
        """One run of the watcher for one checkout, if it is due and no other run has it.
        `due_at`: the time the job was queued for; a job for a time the checkout has moved on
        from is a stale duplicate and does nothing. Returns when it is due next (None: no longer
        watched, or not this run's to do)."""
        claim = f"watching:{tx_id}"
        if not self.store.add(claim, "1", ttl=CLAIM_TTL):
            return None  # another run has it, and queues the next one itself
        following: float | None = None
        try:
            due = self.store.when(WATCHED, tx_id)
            now = self.clock()
            if due is None or (due_at is not None and abs(due - due_at) > 1e-6):
                return None  # finished, or moved on by another run
            if due > now:
                following = due  # a queue whose clock runs a little ahead: not yet
                return None
            record = self.record(tx_id)
            following = self._watch_once(record, now) if record is not None else None
            if following is None:
                self.store.unschedule(WATCHED, tx_id)
            else:
                self.store.schedule(WATCHED, tx_id, following)
            return following
        finally:
            self.store.delete(claim)
            # Queued only once the claim is free, so the next run never finds it taken.
            if following is not None:
                self.wake(tx_id, following)

    def _watch_once(self, record: Record, now: float) -> float | None:
        tx_id = record.tx_id
        closed = self.store.get(f"final:{tx_id}")
        if closed is None:
            # A screen that is looking polls every poll interval (two share windows): an older
            # answer means nobody looks, and reusing it would leave two watch intervals unread.
            view = self._look(record, expire=True, max_age=min(self.watch_interval, 2 * self.share_seconds))
            now = self.clock()
            if not view.outcome.is_final:
                if self.store.get(f"gone:{tx_id}") is not None:
                    return now + min(self.watch_interval, 20.0)
                if now < record.deadline:
                    return min(record.deadline, now + self.watch_interval)
                wait = self.store.get(f"cancel-wait:{tx_id}")
                return max(float(wait), now + 0.5) if wait else now + RETRY
            closed = view.outcome.value
        else:
            self._look(record, expire=False)
            closed = self.store.get(f"final:{tx_id}") or closed
        if closed == Outcome.PAID.value:
            return None  # nothing more can happen to a completed payment
        end = record.deadline + AFTER_CLOSE
        if now >= end:
            return None
        gap = min(max((now - record.deadline) * AGE_FACTOR, self.watch_interval), MAX_GAP)
        return min(now + gap, end)

    def watched(self) -> int:
        return self.store.size(WATCHED)

    def overdue(self, lag: float, limit: int = 500) -> list[tuple[str, float]]:
        """Checkouts (and the time they were due) overdue by `lag` seconds: their job was lost."""
        return self.store.scheduled(WATCHED, self.clock() - lag, limit=limit)

    # -- creates that got no answer ------------------------------------------------------------

    def unanswered(self, until: float | None = None, limit: int = 100) -> list[str]:
        """Unanswered creates due for a look (by `until`, default now)."""
        moment = self.clock() if until is None else until
        return [m for m, _ in self.store.scheduled(CREATES, moment, limit=limit)]

    def resolve_create(self, ref: str) -> None:
        """Nobody is in front of an unanswered create any more: cancel what upstream made of it,
        or forget it once upstream has had ample time to show it. A create made for an order (its
        process died waiting for the answer) is adopted for that order instead, as its start
        would have: the display shows it on its next look. Unless the order ended meanwhile (or
        has another transaction): then it is cancelled like any other."""
        claim = f"resolving:{ref}"
        if not self.store.add(claim, "1", ttl=CLAIM_TTL):
            return
        try:
            text = self.store.get(f"create:{ref}")
            attempt = Attempt.read(ref, text) if text is not None else None
            if attempt is None:  # resolved meanwhile, or unreadable: never a job failing for ever
                self.store.unschedule(CREATES, ref)
                return
            now = self.clock()
            try:
                tx = self._search(attempt)
            except CryptomError:
                self.store.schedule(CREATES, ref, now + CREATE_RETRY)
                return
            if tx is None:
                if now - attempt.at >= CREATE_GIVE_UP:
                    log.info("a create that got no answer was never made upstream (ref %s)", ref)
                    self._settled(ref)
                else:
                    self.store.schedule(CREATES, ref, now + CREATE_RETRY)
                return
            if self.store.get(f"tx:{tx.id}") is not None or not self.store.add(
                f"claimed:{ref}", "watcher", ttl=CREATE_TTL
            ):
                self._settled(ref)  # its kiosk adopted it
                return
            if attempt.order is not None:
                self._adopt_for_order(attempt, tx)
                return
            record = Record(tx.id, attempt.amount, attempt.coin, attempt.network, attempt.at, now,
                            owner=attempt.owner, ref=ref, display=attempt.display, tip=attempt.tip)
            self.store.set(f"tx:{tx.id}", record.dumps(), ttl=RECORD_TTL)
            self.store.schedule("records", tx.id, attempt.at)
            self._settled(ref)
            self._event("created without an answer", record, tx, coin_amount=str(tx.coin_amount))
            self._cancel(record, "unanswered")
            self.watch_at(tx.id, self.clock() + self.watch_interval)
        finally:
            self.store.delete(claim)

    def _adopt_for_order(self, attempt: Attempt, tx: Transaction) -> None:
        """The transaction upstream made for an order whose start died: the order's checkout,
        with the deadline its start would have given it (unless the order ended meanwhile:
        `_link` cancels it then)."""
        order = str(attempt.order)
        record = Record(tx.id, attempt.amount, attempt.coin, attempt.network, attempt.at,
                        attempt.at + self.payment_timeout, owner=attempt.owner, ref=attempt.ref,
                        display=attempt.display, order=order, tip=attempt.tip)
        self.store.set(f"tx:{tx.id}", record.dumps(), ttl=RECORD_TTL)
        self.store.schedule("records", tx.id, attempt.at)
        self._settled(attempt.ref)
        event, coin_amount = "created without an answer", str(tx.coin_amount)
        if not self._link(order, record, event, coin_amount, tx):
            return
        # A start of the order still waiting for its guard returns this transaction.
        self.store.set(order_guard(order), tx.id, ttl=GUARD_TTL)
        self._last_seen.put(tx.id, tx)
        log.info("adopted the transaction of order %s, whose start got no answer: tx=%s", order, tx.id)
        self._event(event, record, tx, coin_amount=coin_amount)
        self.watch_at(tx.id, min(record.deadline, self.clock() + self.watch_interval))

    # -- reconciliation --------------------------------------------------------------------------

    def reconcile(self, window: float = RECONCILE_WINDOW) -> Findings:
        """The kiosk's records of the last `window` seconds against upstream's history (newest
        first, no time filter upstream: read pages until one is older than the window).
        A transaction the kiosk does not know, or one it thinks open that upstream has ended,
        becomes an attention item, once."""
        now = self.clock()
        since = now - window
        for old, _ in self.store.scheduled("records", since - window):
            self.store.unschedule("records", old)
        found = Findings()
        number = 1
        while number <= MAX_PAGES:
            page = self.client.history({}, page=number, limit=100)
            found.pages += 1
            for tx in page.results:
                created = tx.created_at.timestamp() if tx.created_at else None
                if created is None or created < since or created > now - RECENT:
                    continue
                found.read += 1
                self._reconcile_one(tx, found)
            oldest = min((t.created_at.timestamp() for t in page.results if t.created_at), default=0.0)
            if not page.has_next_page or oldest < since:
                break
            number += 1
        return found

    def _reconcile_one(self, tx: Transaction, found: Findings) -> None:
        record = self.record(tx.id)
        if record is None:
            if any(self.store.get(f"create:{word.removeprefix(REF_MARK)}") is not None
                   for word in (tx.status_note or "").split() if word.startswith(REF_MARK)):
                return  # an unanswered create: being resolved
            if self.store.add(f"reconciled:{tx.id}", "unknown", ttl=RECORD_TTL):
                found.unknown += 1
                log.warning("upstream holds transaction %s that this kiosk does not know", tx.id)
                self.note(tx.id, "unknown", str(tx.currency_amount), tx.coin, tx.network, tx)
            return
        if self.store.get(f"final:{tx.id}") is None and (tx.is_paid or tx.status in ENDED):
            self._look(record, expire=False)
            if self.store.add(f"reconciled:{tx.id}", "ended", ttl=RECORD_TTL):
                found.ended_upstream += 1
                if self.store.get(f"attention:{tx.id}") is None:
                    self.note(tx.id, "ended_upstream", str(record.amount), record.coin, record.network, tx)
