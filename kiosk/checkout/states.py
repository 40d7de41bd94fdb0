"""A checkout's states and every transition between them, written once.

`step(state, event, now)` is a pure function: no store, no upstream, no clock of its own. It
takes where a checkout stands (`State`, what the ledger keeps of it), what happened (`Event`:
upstream's answer to a read, the clock, a caller's request, the answer to a cancel) and the
moment, and returns the new state and what is to be done (`Effect`s). The runner carries the
effects out and writes the state (compare and set on the ledger row's version), so two hosts
racing make one transition.

The rules:
- only `isTransferComplete` means paid; a status upstream does not know is an open transaction;
- a checkout's status only moves up (`kiosk.ledger.states.moves`): a result given stays given, and
  only money arriving afterwards changes it, to partial or paid, each noted once as a late one;
- money received is never reported as cancelled (`partial`, never `cancelled`, once coins came);
- the kiosk's deadline cancels upstream; a cancel is asked once at a time, never claimed before
  upstream confirms it, and after a refusal asked again only after a wait that doubles;
- a transaction upstream says it does not know is lost only after `LOST_ANSWERS` such answers over
  `LOST_GRACE` seconds; any answer with the transaction starts the count afresh.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import NamedTuple

from ..cryptom import Status, Transaction
from ..ledger.states import moves
from .outcome import ENDED, Outcome, decide

LOST_GRACE = 60.0  # a transaction upstream says it does not know is lost only after this long
LOST_ANSWERS = 3  # ... and this many "not found" answers: one 404 may be a passing fault
REFUSED_FIRST_WAIT = 2.0  # after upstream refuses a DELETE, wait this long before the next...
REFUSED_MAX_WAIT = 60.0  # ... twice as long after each further refusal, up to this
OPEN_AT_UPSTREAM = (Status.PENDING, Status.TRANSFERRED)  # statuses upstream can still cancel

# The lifecycle event each result is told as (logs, listeners, the ledger), first time round.
EVENTS = {
    Outcome.PAID: "paid",
    Outcome.CANCELLED: "cancelled",
    Outcome.EXPIRED: "expired",
    Outcome.PARTIAL_KEPT: "ended with partial payment",
    Outcome.SEE_CASHIER: "needs a check",
}
# ... and when money arrives after the kiosk had closed it, with the attention item it raises.
LATE = {Outcome.PAID: ("paid late", "paid_late"),
        Outcome.PARTIAL_KEPT: ("partly paid after close", "partial_late")}
FLAGS = {Outcome.PARTIAL_KEPT: "partial", Outcome.SEE_CASHIER: "see_cashier"}


# -- the state ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class State:
    """Where a checkout stands. `status`: the status word (see kiosk.ledger.states); `deadline`:
    when the kiosk cancels it; `cancel_reason`: who asked for the cancel upstream confirmed;
    `cancelling`: the reason of a DELETE on its way (the runner's lease in the store, read as it
    is: no step sets or clears it, and the ledger does not keep it); `refusals`
    and `retry_at`: upstream's refusals of a DELETE and when one may be asked again; `lost_since`
    and `lost_count`: the first "not found" answer since upstream last answered, and how many."""

    deadline: float
    status: str = "waiting"
    cancel_reason: str | None = None
    cancelling: str | None = None
    refusals: int = 0
    retry_at: float | None = None
    lost_since: float | None = None
    lost_count: int = 0
    received: Decimal = Decimal(0)
    flags: frozenset[str] = frozenset()

    @property
    def outcome(self) -> Outcome:
        """What a screen shows for the status alone (the status words are the outcomes')."""
        return Outcome(self.status) if self.status != "pending" else Outcome.WAITING

    @property
    def is_final(self) -> bool:
        return self.outcome.is_final

    @property
    def reason(self) -> str | None:
        """Why it is being or was cancelled: the confirmed reason, else the one on its way."""
        return self.cancel_reason or self.cancelling


# -- what happens --------------------------------------------------------------------------------

@dataclass(frozen=True)
class StartAsked:
    """A customer's form, a till or the console asks for a checkout."""


@dataclass(frozen=True)
class Created:
    """Upstream made the transaction (answered, or found again by the kiosk's reference)."""

    tx: Transaction
    event: str = "created"


@dataclass(frozen=True)
class Answered:
    """A read of the transaction: pending, partly paid, complete, cancelled or a status nobody
    knows. `expire`: the deadline may cancel it (false right after a cancel: wait for it)."""

    tx: Transaction
    expire: bool = True


@dataclass(frozen=True)
class NotFound:
    """Upstream says it does not know the transaction."""


@dataclass(frozen=True)
class Unavailable:
    """Upstream did not answer the read (or refused the kiosk's login)."""


@dataclass(frozen=True)
class Tick:
    """The clock, with nothing read: the watcher's turn, at or past the deadline or not."""


@dataclass(frozen=True)
class CancelAsked:
    """A caller asks for the cancel: customer, till, operator, deadline (or unanswered)."""

    reason: str


@dataclass(frozen=True)
class CancelDone:
    """Upstream confirmed the DELETE."""

    reason: str


@dataclass(frozen=True)
class CancelRefused:
    """Upstream refused the DELETE; `tx`: the transaction read right after (None: no answer);
    `message`: upstream's words, for the log."""

    reason: str
    tx: Transaction | None
    message: str = ""


@dataclass(frozen=True)
class CancelFailed:
    """The DELETE got no answer, or the login was refused: nothing is known to be cancelled."""

    reason: str


Event = (StartAsked | Created | Answered | NotFound | Unavailable | Tick | CancelAsked | CancelDone
         | CancelRefused | CancelFailed)


# -- what is to be done --------------------------------------------------------------------------

@dataclass(frozen=True)
class Create:
    """Send the create upstream."""


@dataclass(frozen=True)
class Read:
    """Read the transaction again; `expire`: as in Answered."""

    expire: bool = True


@dataclass(frozen=True)
class CancelUpstream:
    """Send the DELETE (once: the runner holds a lease while it is on its way)."""

    reason: str


@dataclass(frozen=True)
class Notify:
    """A lifecycle event: logged, told to the listeners (the display and the order, which sends
    the till's webhook) and the followers (the ledger). `facts`: what is logged with it."""

    event: str
    facts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Flag:
    """An attention item for a person at the shop (kiosk.ledger.states.ATTENTION)."""

    kind: str


@dataclass(frozen=True)
class Show:
    """What the screen that asked is shown: the outcome, whether upstream is answering right now,
    and a notice (the customer's cancel did not go through)."""

    outcome: Outcome
    reconnecting: bool = False
    notice: str | None = None


@dataclass(frozen=True)
class Schedule:
    """The watcher looks at the checkout next at `at`."""

    at: float


Effect = Create | Read | CancelUpstream | Notify | Flag | Show | Schedule


class Next(NamedTuple):
    """A step's result: the new state and the effects, in order."""

    state: State
    effects: tuple[Effect, ...] = ()

    @property
    def shown(self) -> Show | None:
        return next((e for e in self.effects if isinstance(e, Show)), None)


# -- the transitions -----------------------------------------------------------------------------

def step(state: State, event: Event, now: float) -> Next:
    """The one place a checkout changes: (state, event, now) -> (new state, effects)."""
    if isinstance(event, StartAsked):
        return Next(replace(state, status="pending"), (Create(),))
    if isinstance(event, Created):
        return _created(state, event)
    if isinstance(event, Answered):
        return _answered(state, event.tx, now, expire=event.expire)
    if isinstance(event, NotFound):
        return _not_found(state, now)
    if isinstance(event, Unavailable):
        return _away(state)
    if isinstance(event, Tick):
        if state.is_final or now < state.deadline:
            return Next(state, (Show(state.outcome),))
        return Next(state, (Read(expire=True),))
    if isinstance(event, CancelAsked):
        return _cancel_asked(state, event.reason, now)
    if isinstance(event, CancelDone):
        return Next(replace(state, cancel_reason=event.reason), (Read(expire=False),))
    if isinstance(event, CancelRefused):
        return _refused(state, event, now)
    if isinstance(event, CancelFailed):
        return _away(state, _notice(event.reason))
    raise TypeError(f"not an event: {event!r}")


def _created(state: State, event: Created) -> Next:
    status = "waiting" if moves(state.status, "waiting") else state.status
    facts = (("coin_amount", str(event.tx.coin_amount)),)
    new = replace(state, status=status)
    return Next(new, (Notify(event.event, facts), Show(new.outcome)))


def _answered(state: State, tx: Transaction, now: float, *, expire: bool) -> Next:
    received = max(state.received, tx.total_transfer_amount)  # only grows
    state = replace(state, lost_since=None, lost_count=0, received=received)
    outcome = decide(tx, state.deadline, now, state.reason)
    if not outcome.is_final and state.is_final:
        # What the kiosk said stays said while upstream shows the transaction open (one given
        # up as lost answers again): never cancelled, never reopened.
        return Next(state, (Show(state.outcome),))
    if outcome is Outcome.DUE and expire:
        return _cancel_asked(state, "deadline", now, tx=tx)
    return _settle(state, outcome, tx)


def _settle(state: State, outcome: Outcome, tx: Transaction) -> Next:
    """The outcome read from `tx`, into the state. DUE here: the deadline passed and a cancel is
    on its way, or upstream will not take one."""
    if outcome is Outcome.DUE:
        if tx.status in OPEN_AT_UPSTREAM:
            # The DELETE was not applied (yet), or another request is applying it: keep waiting.
            return _seen(state, Outcome.PARTLY_PAID if tx.is_partial else Outcome.WAITING, tx)
        # Upstream will not cancel it and it is not paid: a person has to look.
        outcome = Outcome.PARTIAL_KEPT if tx.total_transfer_amount > 0 else Outcome.SEE_CASHIER
    if outcome.is_final:
        return _final(state, outcome, tx)
    return _seen(state, outcome, tx)


def _seen(state: State, outcome: Outcome, tx: Transaction, notice: str | None = None) -> Next:
    """An open transaction as upstream shows it: coins on their way are told once."""
    if outcome is Outcome.PARTLY_PAID and moves(state.status, "partly_paid"):
        facts = (("received", str(tx.total_transfer_amount)), ("coin_amount", str(tx.coin_amount)))
        return Next(replace(state, status="partly_paid"),
                    (Notify("partly paid", facts), Show(outcome, notice=notice)))
    return Next(state, (Show(outcome, notice=notice),))


def _final(state: State, outcome: Outcome, tx: Transaction | None) -> Next:
    """A result. The first one is told (and raises its attention item); after it only money
    arriving moves it on, to partial or paid, each told once as a late one."""
    received = (("received", str(tx.total_transfer_amount)),) if tx is not None else ()
    if not state.is_final:
        # Completed although upstream had ended it: money arrived on a cancelled transaction.
        if outcome is Outcome.PAID and tx is not None and tx.status in ENDED:
            event, kind = LATE[Outcome.PAID]
            flag: str | None = kind
        else:
            event, flag = EVENTS[outcome], FLAGS.get(outcome)
    elif outcome in LATE and moves(state.status, outcome.value):
        event, flag = LATE[outcome]
    else:
        return Next(state, (Show(state.outcome),))
    # The reason of a DELETE still on its way is the result's too (it decided expired or not).
    reason = state.cancel_reason or (state.cancelling if outcome is not Outcome.PAID else None)
    new = replace(state, status=outcome.value, cancel_reason=reason, retry_at=None)
    effects: list[Effect] = [Notify(event, received)]
    if flag is not None:
        effects.append(Flag(flag))
        new = replace(new, flags=new.flags | {flag})
    effects.append(Show(outcome))
    return Next(new, tuple(effects))


def _not_found(state: State, now: float) -> Next:
    """One "not found" may be a passing fault of upstream's: only `LOST_ANSWERS` of them over
    `LOST_GRACE` seconds end it for the cashier. A result already given stays."""
    if state.is_final:
        return Next(state, (Show(state.outcome),))
    first = state.lost_since if state.lost_since is not None else now
    state = replace(state, lost_since=first, lost_count=state.lost_count + 1)
    if state.lost_count >= LOST_ANSWERS and now - first >= LOST_GRACE:
        return _final(state, Outcome.SEE_CASHIER, None)
    return _away(state)


def _away(state: State, notice: str | None = None) -> Next:
    """Upstream is not answering: the screen shows what was last known, reconnecting (a result
    already given is shown as it is)."""
    if state.is_final:
        return Next(state, (Show(state.outcome),))
    return Next(state, (Show(state.outcome, reconnecting=True, notice=notice),))


def _notice(reason: str) -> str | None:
    return "cancel_failed" if reason == "customer" else None


def _cancel_asked(state: State, reason: str, now: float, tx: Transaction | None = None) -> Next:
    """A cancel, by a caller or the deadline. A checkout with its result gets no DELETE (a stale
    tab, a late tap): only its result. One DELETE at a time, and none while waiting after a
    refusal: then the transaction is looked at (`tx`, when just read) and waited on."""
    if state.is_final:
        return Next(state, (Read(expire=False),))
    waiting = state.retry_at is not None and now < state.retry_at
    # Upstream confirmed one already (it may not show it yet), or one is on its way.
    if waiting or state.reason is not None:
        if tx is not None:  # read just now, open and past the deadline
            return _settle(state, Outcome.DUE, tx)
        return Next(state, (Read(expire=False),))
    return Next(state, (CancelUpstream(reason),))


def _refused(state: State, event: CancelRefused, now: float) -> Next:
    """Upstream refused the DELETE: most likely it completed or ended meanwhile. If it is still
    open, wait before the next try, twice as long after each refusal."""
    tx, reason = event.tx, event.reason
    if tx is not None and (tx.is_paid or tx.status in ENDED):
        return Next(replace(state, cancel_reason=reason), (Read(expire=False),))
    refusals = state.refusals + 1
    wait = min(REFUSED_FIRST_WAIT * 2 ** (refusals - 1), REFUSED_MAX_WAIT)
    state = replace(state, refusals=refusals, retry_at=now + wait)
    notice = _notice(reason)
    if tx is None:
        return _away(state, notice)
    if tx.status not in OPEN_AT_UPSTREAM and now >= state.deadline:
        # In a state upstream will not cancel, and past the deadline: a person has to look.
        return _settle(state, Outcome.DUE, tx)
    return _seen(state, Outcome.PARTLY_PAID if tx.is_partial else Outcome.WAITING, tx, notice)


# -- the watcher's timetable ---------------------------------------------------------------------

RETRY = 5.0  # past the deadline and upstream did not answer: try again this soon
LOST_RETRY = 20.0  # a transaction upstream does not know: looked at again at least this often
AFTER_CLOSE = 24 * 3600  # closed checkouts are watched this long after their deadline
AGE_FACTOR = 0.5  # a closed checkout is read again after half its age...
MAX_GAP = 2 * 3600  # ... but at least every two hours


def next_watch(state: State, now: float, interval: float) -> float | None:
    """When the watcher looks at the checkout next (None: never again). Open: every `interval`
    and at the deadline; past it, soon (after a refused DELETE, once the wait is over). Closed:
    for a day after the deadline, less often as it ages, for coins that arrive late; a paid one
    not at all."""
    if not state.is_final:
        if state.lost_count > 0:
            return now + min(interval, LOST_RETRY)
        if now < state.deadline:
            return min(state.deadline, now + interval)
        if state.retry_at is not None and state.retry_at > now:
            return max(state.retry_at, now + 0.5)
        return now + RETRY
    if state.status == "paid":
        return None  # nothing more can happen to a completed payment
    end = state.deadline + AFTER_CLOSE
    if now >= end:
        return None
    gap = min(max((now - state.deadline) * AGE_FACTOR, interval), MAX_GAP)
    return min(now + gap, end)
