"""The runner: carries out a checkout's steps (kiosk.checkout.states) against upstream, the
ledger and the store.

For each event it reads the checkout's row in the ledger (its state and version), takes the step,
and writes the new state only if the row is still at the version it read (compare and set); when
another host, screen or consumer changed it first, it reads again and takes the step anew. So
racing writers make one transition, and its effects (the lifecycle event told, the attention
item) happen once. A DELETE is sent under a lease in the store (`cancel:<id>`, a minute at most,
so a process that dies sending it blocks nobody): one DELETE however many race for it.

The row is the sale's history and never expires. The store keeps only what is short-lived: the
answer of a read shared between screens (`detail:<id>`) and the DELETE's lease. While the ledger
does not answer, screens say "reconnecting" and nothing moves: nothing is lost.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from ..cryptom import CryptomClient, CryptomError, NotFound, Rejected, Transaction
from ..ledger import Entry, Ledger
from .base import Memory, Teller, log
from .booking import customer_note, started_by
from .outcome import Outcome, decide
from .record import Record, View
from .states import (
    Answered,
    CancelAsked,
    CancelDone,
    CancelFailed,
    CancelRefused,
    CancelUpstream,
    Created,
    Event,
    Flag,
    Next,
    Notify,
    Read,
    Show,
    State,
    step,
)
from .states import NotFound as NotFoundEvent
from .states import Unavailable as UnavailableEvent
from .store import Store

IN_FLIGHT_TTL = 60  # the DELETE's lease: longer than a DELETE with a fresh login can take
TRIES = 5  # steps taken anew after losing a race, at most
HOPS = 8  # events one run follows (read, cancel, read again...), at most


class LedgerAway(Exception):
    """The ledger did not answer, or other writers kept changing the row."""

    @classmethod
    def of(cls, exc: Exception) -> LedgerAway:
        """The database's error in one line: its first (SQLAlchemy's go on with the statement and
        a link, which a log line does without)."""
        first = (str(exc).splitlines() or [""])[0]
        return cls(f"{type(exc).__name__}: {first}")


def lease_key(tx_id: str) -> str:
    return f"cancel:{tx_id}"


def state_of(row: Mapping[Any, Any], record: Record, lease: str | None) -> State:
    """The state a ledger row holds, with the DELETE on its way (the store's lease)."""
    return State(
        deadline=record.deadline, status=row["status"], cancel_reason=row["cancel_reason"], cancelling=lease,
        refusals=row["cancel_refusals"], retry_at=row["cancel_retry_at"],
        lost_since=row["lost_since"], lost_count=row["lost_count"],
        received=row["received"], flags=frozenset(row["attention"] or ()),
    )


def columns(state: State) -> dict[str, Any]:
    """The state's own columns (status, received, the reason and the flags go in the Entry,
    whose rules keep them moving one way only)."""
    return {"cancel_refusals": state.refusals, "cancel_retry_at": state.retry_at,
            "lost_since": state.lost_since, "lost_count": state.lost_count}


def kept(state: State) -> State:
    """What of a state the ledger keeps (the lease is the store's)."""
    return replace(state, cancelling=None)


def sale_entry(record: Record, at: float, currency: str, tx: Transaction | None = None,
               state: State | None = None) -> Entry:
    """What the ledger is told of a checkout: the record, the state, and upstream's quote when
    a transaction was seen."""
    kind, who = started_by(record)
    entry = Entry(
        at=at, tx_id=record.tx_id, order_id=record.order, started_by_kind=kind, started_by=who,
        display_id=record.display, kiosk_ref=record.ref or None, amount=record.amount, tip=record.tip,
        currency=currency,
        coin=record.coin, network=record.network, created=record.created, deadline=record.deadline,
    )
    if state is not None:
        entry = replace(entry, status=state.status if state.status != "pending" else None,
                        cancel_reason=state.cancel_reason, received=state.received, attention=state.flags)
    if tx is not None:
        entry = replace(
            entry, coin_amount=tx.coin_amount, conversion_rate=tx.conversion_rate,
            exchange_fee=tx.exchange_fee, commission=tx.commission, address=tx.address or None,
            sequence_id=tx.sequence_id, upstream_status=tx.status_raw or None,
            note=customer_note(tx.status_note), currency=tx.currency or currency,
        )
    return entry


class Runner:
    def __init__(self, client: CryptomClient, store: Store, ledger: Ledger, teller: Teller, memory: Memory,
                 *, currency: str, share_seconds: float, watch_interval: float,
                 clock: Callable[[], float]) -> None:
        self.client = client
        self.store = store
        self.ledger = ledger
        self.teller = teller
        self.memory = memory
        self.currency = currency
        self.share_seconds = share_seconds
        self.watch_interval = watch_interval
        self.clock = clock

    # -- reading the state ---------------------------------------------------------------------

    def row(self, record: Record, tx: Transaction | None = None) -> Mapping[Any, Any]:
        """The checkout's row; made from the record (and the transaction) when the ledger has
        none yet: its start was written while the ledger was away, or before the ledger was."""
        try:
            row = self.ledger.row(record.tx_id)
            if row is None:
                self.ledger.record(sale_entry(record, self.clock(), self.currency, tx))
                row = self.ledger.row(record.tx_id)
        except Exception as exc:
            raise LedgerAway.of(exc) from exc
        if row is None:
            raise LedgerAway("the ledger keeps no row of this checkout")
        return row

    def state(self, record: Record) -> State:
        """Where the checkout stands now, as the ledger keeps it (raises LedgerAway)."""
        return state_of(self.row(record), record, None)

    # -- running -------------------------------------------------------------------------------

    def look(self, record: Record, *, expire: bool, max_age: float = 0.0) -> View:
        """Read the transaction (an answer someone else got less than `max_age` seconds ago will
        do) and take the step. `expire`: the deadline may cancel it."""
        return self.run(record, self.read(record, expire, max_age))

    def run(self, record: Record, event: Event) -> View:
        """Take the step of `event`, carry out its effects, and follow the events they bring
        (a read, the answer to a DELETE) until the screen's answer. A step whose only effect is
        to follow on (read, cancel) is written with the next one: one write per transition."""
        lease: str | None = None
        carried: tuple[int, State] | None = None
        asked = event.reason if isinstance(event, CancelAsked) else None
        try:
            for _ in range(HOPS):
                seen = _tx_of(event)
                taken, carried = self._advance(record, event, seen, carried)
                if lease is not None and carried is None:  # the DELETE's answer is written: free it
                    self._release(lease, record)
                    lease = None
                waits = not any(isinstance(e, Read) for e in taken.effects)
                if isinstance(event, CancelRefused) and waits and taken.state.retry_at is not None:
                    log.warning("upstream refused to cancel %s (%s); trying again in %.0f s", record.tx_id,
                                event.message, taken.state.retry_at - self.clock())
                follow: Event | None = None
                for effect in taken.effects:
                    if isinstance(effect, Notify):
                        self.teller.tell(effect.event, record, seen, **dict(effect.facts))
                    elif isinstance(effect, Flag):
                        self._flag(record, effect.kind, seen)
                    elif isinstance(effect, Show):
                        return self._view(record, effect, seen)
                    elif isinstance(effect, Read):
                        follow = self.read(record, effect.expire, 0.0)
                    elif isinstance(effect, CancelUpstream):
                        follow, lease = self._delete(record, effect.reason)
                if follow is None:
                    # Every step but a start's shows something or follows on; a start is the
                    # starter's (Runner.created), never run here.
                    raise TypeError(f"{type(event).__name__} is not run: its step shows nothing")
                event = follow
        except LedgerAway as exc:
            log.warning("the ledger is not answering (%s): %s waits", exc, record.tx_id)
            # A lease held here is a DELETE's upstream confirmed (the only one a run keeps past its
            # step): it stays for its minute, its reason the result's.
            shown = self._unwritten(record, _tx_of(event))
            if shown is not None:
                return shown
        last = self.memory.last(record.tx_id)
        notice = "cancel_failed" if asked == "customer" else None
        return View(record, _open_outcome(last), last, reconnecting=True, notice=notice)

    def _unwritten(self, record: Record, tx: Transaction | None) -> View | None:
        """While the ledger is away: a result upstream shows (paid, or ended) is the screen's at
        once, unwritten (the next look writes it, with its event and attention item); an open
        one is shown as upstream has it, reconnecting. Nothing is decided or cancelled."""
        if tx is None:
            return None
        self.memory.seen.put(record.tx_id, tx)
        try:
            reason = self.store.get(lease_key(record.tx_id))  # a DELETE on its way: its reason
        except Exception:  # the store is away too: the transaction's status tells it apart
            reason = None
        outcome = decide(tx, record.deadline, self.clock(), reason)
        if outcome.is_final:
            return View(record, outcome, tx)
        return None

    def _advance(self, record: Record, event: Event, seen: Transaction | None,
                 carried: tuple[int, State] | None = None) -> tuple[Next, tuple[int, State] | None]:
        """One step, written by compare and set; taken anew from the row as it is now when
        another writer changed it first. `carried`: the state a step before left unwritten (with
        the row version it was taken from); it is the start when the row is still at that
        version. Returns the step, and the state to carry when this one is not written either."""
        for _ in range(TRIES):
            row = self.row(record, seen)
            lease = self.store.get(lease_key(record.tx_id))
            state = state_of(row, record, lease)
            start = state
            if carried is not None and carried[0] == row["version"]:
                start = replace(carried[1], cancelling=lease)
            now = self.clock()
            taken = step(start, event, now)
            if taken.effects and all(isinstance(e, (Read, CancelUpstream)) for e in taken.effects):
                return taken, (row["version"], taken.state)  # written with the step that follows
            if kept(taken.state) == kept(state) and not isinstance(event, Created):
                return taken, None  # nothing changed: nothing written (a created one gets the quote)
            entry = sale_entry(record, now, self.currency, seen, taken.state)
            try:
                if self.ledger.advance(row, entry, columns(taken.state)):
                    return taken, None
            except Exception as exc:
                raise LedgerAway.of(exc) from exc
        raise LedgerAway("other writers kept changing the row")

    def _view(self, record: Record, shown: Show, seen: Transaction | None) -> View:
        if shown.outcome.is_final:
            self.memory.seen.drop(record.tx_id)
        elif seen is not None:
            self.memory.seen.put(record.tx_id, seen)
        if shown.reconnecting:
            seen = self.memory.last(record.tx_id)
        return View(record, shown.outcome, seen, reconnecting=shown.reconnecting, notice=shown.notice)

    def _flag(self, record: Record, kind: str, tx: Transaction | None) -> None:
        try:
            self.ledger.note(record.tx_id, kind, self.clock(), record.amount, record.coin, record.network,
                             tx.total_transfer_amount if tx else None, tx.coin_amount if tx else None)
        except Exception:  # the row has the flag already: the item is for the operator's list
            log.exception("the attention item of %s could not be written", record.tx_id)
        self.teller.flagged(record.tx_id, kind)

    # -- talking to upstream -------------------------------------------------------------------

    def read(self, record: Record, expire: bool, max_age: float) -> Event:
        try:
            tx = self.detail(record.tx_id, max_age)
        except NotFound:
            return NotFoundEvent()
        except CryptomError:
            return UnavailableEvent()
        return Answered(tx, expire)

    def detail(self, tx_id: str, max_age: float) -> Transaction:
        """The transaction, or an answer someone else got less than `max_age` seconds ago."""
        key = f"detail:{tx_id}"
        if max_age > 0:
            cached = self.store.get(key)
            if cached is not None:
                data = json.loads(cached, parse_float=Decimal)
                if self.clock() - float(data["at"]) < max_age:
                    return Transaction.from_json(data["tx"])
        tx = self.client.transaction(tx_id)
        if self.share_seconds > 0:
            self.store.set(key, json.dumps({"at": self.clock(), "tx": tx.raw}, default=str),
                           ttl=max(self.share_seconds, self.watch_interval))
        return tx

    def _delete(self, record: Record, reason: str) -> tuple[Event, str | None]:
        """One DELETE, under the lease; what upstream answered, and the lease when it is to be
        freed once that answer is written."""
        key = lease_key(record.tx_id)
        try:
            taken = self.store.add(key, reason, ttl=IN_FLIGHT_TTL)
        except Exception:  # the store is away: nothing is sent without the lease
            log.exception("cancelling %s failed", record.tx_id)
            return CancelFailed(reason), None
        if not taken:
            return self.read(record, False, 0.0), None  # another tap, tab or host is cancelling
        # The row as it is now the lease is ours: a host that held it before may have cancelled
        # (or been refused) and written so since this run read the row. Then no second DELETE.
        try:
            now_state = state_of(self.row(record), record, None)
        except LedgerAway:
            self._release(key, record)
            raise
        asked = step(now_state, CancelAsked(reason), self.clock())
        if not any(isinstance(e, CancelUpstream) for e in asked.effects):
            self._release(key, record)
            return self.read(record, False, 0.0), None
        try:
            self.client.cancel(record.tx_id)
        except NotFound:
            self._release(key, record)
            return NotFoundEvent(), None
        except Rejected as exc:
            # Most likely it completed or ended meanwhile: read it.
            try:
                tx: Transaction | None = self.client.transaction(record.tx_id)
            except CryptomError:
                tx = None
            return CancelRefused(reason, tx, exc.message), key
        except CryptomError:
            # Not confirmed upstream (no answer, or the login refused): never claim it is
            # cancelled. Tried again on the next poll.
            self._release(key, record)
            return CancelFailed(reason), None
        except Exception:
            log.exception("cancelling %s failed", record.tx_id)
            self._release(key, record)
            return CancelFailed(reason), None
        return CancelDone(reason), key

    def _release(self, key: str, record: Record) -> None:
        try:
            self.store.delete(key)
        except Exception:  # the store itself is away: the lease expires by itself
            log.warning("could not clear the cancel marker of %s", record.tx_id)

    def created(self, record: Record, tx: Transaction, event: str = "created") -> None:
        """A transaction made for this checkout: its row, and the event told (also while the
        ledger is away: the row is made from the record at the next look)."""
        self.memory.seen.put(record.tx_id, tx)
        try:
            taken, _ = self._advance(record, Created(tx, event), tx)
        except LedgerAway as exc:
            log.warning("the ledger is not answering (%s): %s is written at its next look", exc, record.tx_id)
            self.teller.tell(event, record, tx, coin_amount=str(tx.coin_amount))
            return
        for effect in taken.effects:
            if isinstance(effect, Notify):
                self.teller.tell(effect.event, record, tx, **dict(effect.facts))


def _tx_of(event: Event) -> Transaction | None:
    if isinstance(event, (Answered, Created)):
        return event.tx
    if isinstance(event, CancelRefused):
        return event.tx
    return None


def _open_outcome(tx: Transaction | None) -> Outcome:
    return Outcome.PARTLY_PAID if tx is not None and tx.is_partial else Outcome.WAITING
