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

from collections.abc import Callable
from dataclasses import dataclass

from ..cryptom import CryptomClient, CryptomError, Transaction
from .attention import Attention
from .base import CREATES, RECORDS, WATCHED, Memory, Records, Timetable, log
from .cancel import Cancel
from .outcome import ENDED
from .record import GUARD_TTL, RECORD_TTL, Record
from .runner import LedgerAway, Runner
from .start import CREATE_TTL, REF_MARK, Attempt, Start, order_guard
from .states import next_watch
from .store import Store

CLAIM_TTL = 120  # one run of one checkout; a host that dies frees it after this
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


class Watch:
    def __init__(self, client: CryptomClient, store: Store, records: Records, runner: Runner, starts: Start,
                 cancels: Cancel, attention: Attention, timetable: Timetable, memory: Memory, *,
                 payment_timeout: int, watch_interval: float, share_seconds: float,
                 clock: Callable[[], float]) -> None:
        self.client = client
        self.store = store
        self.records = records
        self.runner = runner
        self.starts = starts
        self.cancels = cancels
        self.attention = attention
        self.timetable = timetable
        self.memory = memory
        self.payment_timeout = payment_timeout
        self.watch_interval = watch_interval
        self.share_seconds = share_seconds
        self.clock = clock

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
            record = self.records.get(tx_id)
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
                self.timetable.wake(tx_id, following)

    def _watch_once(self, record: Record, now: float) -> float | None:
        """Look (and cancel at the deadline), then the next time by the state's timetable. A
        screen that is looking polls every poll interval (two share windows): an older answer
        means nobody looks, and reusing it would leave two watch intervals unread."""
        try:
            closed = self.runner.state(record).is_final
        except LedgerAway:
            return self.clock() + self.watch_interval  # the ledger is away: look again later
        if closed:
            self.runner.look(record, expire=False)
        else:
            self.runner.look(record, expire=True, max_age=min(self.watch_interval, 2 * self.share_seconds))
        try:
            state = self.runner.state(record)
        except LedgerAway:
            return self.clock() + self.watch_interval
        return next_watch(state, now if closed else self.clock(), self.watch_interval)

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
                tx = self.starts._search(attempt)
            except CryptomError:
                self.store.schedule(CREATES, ref, now + CREATE_RETRY)
                return
            if tx is None:
                if now - attempt.at >= CREATE_GIVE_UP:
                    log.info("a create that got no answer was never made upstream (ref %s)", ref)
                    self.starts._settled(ref)
                else:
                    self.store.schedule(CREATES, ref, now + CREATE_RETRY)
                return
            if self.records.get(tx.id) is not None or not self.store.add(
                f"claimed:{ref}", "watcher", ttl=CREATE_TTL
            ):
                self.starts._settled(ref)  # its kiosk adopted it
                return
            if attempt.order is not None:
                self._adopt_for_order(attempt, tx)
                return
            record = Record(tx.id, attempt.amount, attempt.coin, attempt.network, attempt.at, now,
                            owner=attempt.owner, ref=ref, display=attempt.display, tip=attempt.tip)
            self.records.save(record, attempt.at)
            self.starts._settled(ref)
            self.runner.created(record, tx, "created without an answer")
            self.cancels.cancel(record, "unanswered")
            self.timetable.watch_at(tx.id, self.clock() + self.watch_interval)
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
        self.records.save(record, attempt.at)
        self.starts._settled(attempt.ref)
        event = "created without an answer"
        if not self.starts._link(order, record, tx, event):
            return
        # A start of the order still waiting for its guard returns this transaction.
        self.store.set(order_guard(order), tx.id, ttl=GUARD_TTL)
        log.info("adopted the transaction of order %s, whose start got no answer: tx=%s", order, tx.id)
        self.runner.created(record, tx, event)
        self.timetable.watch_at(tx.id, min(record.deadline, self.clock() + self.watch_interval))

    # -- reconciliation --------------------------------------------------------------------------

    def reconcile(self, window: float = RECONCILE_WINDOW) -> Findings:
        """The kiosk's records of the last `window` seconds against upstream's history (newest
        first, no time filter upstream: read pages until one is older than the window).
        A transaction the kiosk does not know, or one it thinks open that upstream has ended,
        becomes an attention item, once."""
        now = self.clock()
        since = now - window
        for old, _ in self.store.scheduled(RECORDS, since - window):
            self.store.unschedule(RECORDS, old)
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
        record = self.records.get(tx.id)
        if record is None:
            if any(self.store.get(f"create:{word.removeprefix(REF_MARK)}") is not None
                   for word in (tx.status_note or "").split() if word.startswith(REF_MARK)):
                return  # an unanswered create: being resolved
            if self.store.add(f"reconciled:{tx.id}", "unknown", ttl=RECORD_TTL):
                found.unknown += 1
                log.warning("upstream holds transaction %s that this kiosk does not know", tx.id)
                self.attention.note(tx.id, "unknown", str(tx.currency_amount), tx.coin, tx.network, tx)
            return
        if not (tx.is_paid or tx.status in ENDED):
            return
        try:
            closed = self.runner.state(record).is_final
        except LedgerAway:
            return  # the next reconciliation
        if not closed:
            self.runner.look(record, expire=False)
            if self.store.add(f"reconciled:{tx.id}", "ended", ttl=RECORD_TTL):
                found.ended_upstream += 1
                if not self.attention.has_item(tx.id):
                    self.attention.note(tx.id, "ended_upstream", str(record.amount), record.coin,
                                        record.network, tx)
