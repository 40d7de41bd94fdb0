"""The state machine of one checkout, as a table: every transition and every edge of each rule
(the deadline at the limit and one past it, partial amounts, statuses upstream does not know, the
lost-transaction rule's grace and count, the waits after a refused cancel). Pure: no store, no
upstream, no clock."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from kiosk.checkout.outcome import ENDED, Outcome
from kiosk.checkout.states import (
    AFTER_CLOSE,
    MAX_GAP,
    Answered,
    CancelAsked,
    CancelDone,
    CancelFailed,
    CancelRefused,
    CancelUpstream,
    Create,
    Created,
    Flag,
    Next,
    NotFound,
    Notify,
    Read,
    Schedule,
    Show,
    StartAsked,
    State,
    Tick,
    Unavailable,
    next_watch,
    step,
)
from kiosk.cryptom import Transaction
from kiosk.ledger.states import RANK, STATUSES, moves

D = 1000.0  # the deadline of every checkout here
OPEN = State(deadline=D)


def tx(
    status: str = "PENDING", received: str = "0", complete: bool = False, coins: str = "12"
) -> Transaction:
    return Transaction.from_json(
        {
            "_id": "6b06a0000000000000000001",
            "status": status,
            "totalTransferAmount": received,
            "isTransferComplete": complete,
            "coinAmount": coins,
            "currency": "TRY",
            "currencyAmount": "300",
            "coin": "TRX",
            "network": "TRX",
        }
    )


WAITING_TX = tx()
HALF = tx("TRANSFERRED", "6")
TINY = tx("TRANSFERRED", "0.000001")  # the smallest amount a wallet sends
PAID_TX = tx("DONE", "12", complete=True)
PAID_ODD = tx("SOMETHING_NEW", "12", complete=True)  # complete under a status nobody knows
STRING_TRUE = Transaction.from_json(
    {
        "_id": "x",
        "status": "DONE",
        "isTransferComplete": "true",
        "totalTransferAmount": "12",
        "coinAmount": "12",
    }
)
CANCELLED_TX = tx("CANCELLED")
CANCELLED_HALF = tx("CANCELLED", "6")
CANCELLED_PAID = tx("CANCELLED", "12", complete=True)
TIMEOUT_TX = tx("TIMEOUT")
TIMEOUT_HALF = tx("TIMEOUT", "6")
MANUAL = tx("MANUAL_CHECK")
MANUAL_HALF = tx("MANUAL_CHECK", "0.000001")
UNKNOWN_TX = tx("SOMETHING_NEW")
UNKNOWN_HALF = tx("SOMETHING_NEW", "6")

NOTE_HALF = Notify("partly paid", (("received", "6"), ("coin_amount", "12")))


def told(event: str, received: str | None = None) -> Notify:
    return Notify(event, (("received", received),) if received is not None else ())


def at(status: str, **values) -> State:
    return replace(OPEN, status=status, **values)


# (name, state before, event, now, state after, effects)
TABLE = [
    # -- starting ------------------------------------------------------------------------------
    (
        "a start asks upstream for a create",
        State(deadline=D),  # a new checkout's state, before anything happened
        StartAsked(),
        0,
        at("pending"),
        (Create(),),
    ),
    (
        "a create answered makes it waiting",
        at("pending"),
        Created(WAITING_TX),
        0,
        at("waiting"),
        (Notify("created", (("coin_amount", "12"),)), Show(Outcome.WAITING)),
    ),
    (
        "a create found again is told as such",
        at("pending"),
        Created(WAITING_TX, "created without an answer"),
        0,
        at("waiting"),
        (Notify("created without an answer", (("coin_amount", "12"),)), Show(Outcome.WAITING)),
    ),
    (
        "a create told twice changes nothing",
        at("partly_paid"),
        Created(HALF),
        0,
        at("partly_paid"),
        (Notify("created", (("coin_amount", "12"),)), Show(Outcome.PARTLY_PAID)),
    ),
    # -- reads of an open checkout, before the deadline ---------------------------------------
    ("nothing received", OPEN, Answered(WAITING_TX), D - 0.001, OPEN, (Show(Outcome.WAITING),)),
    (
        "coins on their way are told once",
        OPEN,
        Answered(HALF),
        0,
        at("partly_paid", received=Decimal(6)),
        (NOTE_HALF, Show(Outcome.PARTLY_PAID)),
    ),
    (
        "coins on their way, told already",
        at("partly_paid", received=Decimal(6)),
        Answered(HALF),
        0,
        at("partly_paid", received=Decimal(6)),
        (Show(Outcome.PARTLY_PAID),),
    ),
    (
        "the smallest amount is partly paid",
        OPEN,
        Answered(TINY),
        0,
        at("partly_paid", received=Decimal("0.000001")),
        (Notify("partly paid", (("received", "0.000001"), ("coin_amount", "12"))), Show(Outcome.PARTLY_PAID)),
    ),
    (
        "complete is paid",
        OPEN,
        Answered(PAID_TX),
        0,
        at("paid", received=Decimal(12)),
        (told("paid", "12"), Show(Outcome.PAID)),
    ),
    (
        "complete under an unknown status is paid",
        OPEN,
        Answered(PAID_ODD),
        0,
        at("paid", received=Decimal(12)),
        (told("paid", "12"), Show(Outcome.PAID)),
    ),
    (
        "a string 'true' is not complete",
        OPEN,
        Answered(STRING_TRUE),
        0,
        at("partly_paid", received=Decimal(12)),
        (Notify("partly paid", (("received", "12"), ("coin_amount", "12"))), Show(Outcome.PARTLY_PAID)),
    ),
    ("an unknown status is open", OPEN, Answered(UNKNOWN_TX), D - 0.001, OPEN, (Show(Outcome.WAITING),)),
    (
        "an unknown status with coins is partly paid",
        OPEN,
        Answered(UNKNOWN_HALF),
        0,
        at("partly_paid", received=Decimal(6)),
        (NOTE_HALF, Show(Outcome.PARTLY_PAID)),
    ),
    (
        "cancelled upstream by someone else",
        OPEN,
        Answered(CANCELLED_TX),
        0,
        at("cancelled"),
        (told("cancelled", "0"), Show(Outcome.CANCELLED)),
    ),
    (
        "cancelled upstream with coins is partial, never cancelled",
        OPEN,
        Answered(CANCELLED_HALF),
        0,
        at("partial", received=Decimal(6), flags=frozenset({"partial"})),
        (told("ended with partial payment", "6"), Flag("partial"), Show(Outcome.PARTIAL_KEPT)),
    ),
    (
        "timed out upstream is expired",
        OPEN,
        Answered(TIMEOUT_TX),
        0,
        at("expired"),
        (told("expired", "0"), Show(Outcome.EXPIRED)),
    ),
    (
        "timed out with coins is partial",
        OPEN,
        Answered(TIMEOUT_HALF),
        0,
        at("partial", received=Decimal(6), flags=frozenset({"partial"})),
        (told("ended with partial payment", "6"), Flag("partial"), Show(Outcome.PARTIAL_KEPT)),
    ),
    (
        "cancelled at the deadline's request is expired",
        at("waiting", cancel_reason="deadline"),
        Answered(CANCELLED_TX, expire=False),
        D,
        at("expired", cancel_reason="deadline"),
        (told("expired", "0"), Show(Outcome.EXPIRED)),
    ),
    (
        "cancelled at the customer's request is cancelled",
        at("waiting", cancel_reason="customer"),
        Answered(CANCELLED_TX, expire=False),
        0,
        at("cancelled", cancel_reason="customer"),
        (told("cancelled", "0"), Show(Outcome.CANCELLED)),
    ),
    (
        "a deadline DELETE on its way counts as its reason",
        at("waiting", cancelling="deadline"),
        Answered(CANCELLED_TX, expire=False),
        D,
        at("expired", cancel_reason="deadline", cancelling="deadline"),
        (told("expired", "0"), Show(Outcome.EXPIRED)),
    ),
    (
        "money on a transaction upstream had ended is paid late",
        OPEN,
        Answered(CANCELLED_PAID),
        0,
        at("paid", received=Decimal(12), flags=frozenset({"paid_late"})),
        (told("paid late", "12"), Flag("paid_late"), Show(Outcome.PAID)),
    ),
    (
        "a read clears the lost count",
        at("waiting", lost_since=10.0, lost_count=2),
        Answered(WAITING_TX),
        20,
        OPEN,
        (Show(Outcome.WAITING),),
    ),
    (
        "paid while a DELETE is on its way: no cancel reason",
        at("waiting", cancelling="customer"),
        Answered(PAID_TX, expire=False),
        5,
        at("paid", cancelling="customer", received=Decimal(12)),
        (told("paid", "12"), Show(Outcome.PAID)),
    ),
    # -- the deadline ---------------------------------------------------------------------------
    (
        "one moment before the deadline: no cancel",
        OPEN,
        Answered(WAITING_TX),
        D - 0.001,
        OPEN,
        (Show(Outcome.WAITING),),
    ),
    ("at the deadline: cancel upstream", OPEN, Answered(WAITING_TX), D, OPEN, (CancelUpstream("deadline"),)),
    (
        "past the deadline: cancel upstream",
        OPEN,
        Answered(HALF),
        D + 0.001,
        at("waiting", received=Decimal(6)),
        (CancelUpstream("deadline"),),
    ),
    (
        "past the deadline, looking after a cancel: keep waiting",
        at("partly_paid"),
        Answered(HALF, expire=False),
        D + 1,
        at("partly_paid", received=Decimal(6)),
        (Show(Outcome.PARTLY_PAID),),
    ),
    (
        "past the deadline while another DELETE is on its way",
        at("waiting", cancelling="deadline"),
        Answered(HALF),
        D,
        at("partly_paid", cancelling="deadline", received=Decimal(6)),
        (NOTE_HALF, Show(Outcome.PARTLY_PAID)),
    ),
    (
        "past the deadline in the wait after a refusal",
        at("waiting", retry_at=D + 2, refusals=1),
        Answered(WAITING_TX),
        D + 1.999,
        at("waiting", retry_at=D + 2, refusals=1),
        (Show(Outcome.WAITING),),
    ),
    (
        "the wait after a refusal is over: cancel again",
        at("waiting", retry_at=D + 2, refusals=1),
        Answered(WAITING_TX),
        D + 2,
        at("waiting", retry_at=D + 2, refusals=1),
        (CancelUpstream("deadline"),),
    ),
    (
        "a status upstream will not cancel, another host cancelling",
        at("waiting", cancelling="deadline"),
        Answered(MANUAL),
        D,
        at("see_cashier", cancel_reason="deadline", cancelling="deadline", flags=frozenset({"see_cashier"})),
        (told("needs a check", "0"), Flag("see_cashier"), Show(Outcome.SEE_CASHIER)),
    ),
    (
        "the same with coins, another host cancelling: partial",
        at("waiting", cancelling="deadline"),
        Answered(MANUAL_HALF),
        D,
        at(
            "partial",
            cancel_reason="deadline",
            cancelling="deadline",
            received=Decimal("0.000001"),
            flags=frozenset({"partial"}),
        ),
        (told("ended with partial payment", "0.000001"), Flag("partial"), Show(Outcome.PARTIAL_KEPT)),
    ),
    (
        "a status upstream will not cancel, looked at after the cancel",
        OPEN,
        Answered(UNKNOWN_TX, expire=False),
        D,
        at("see_cashier", flags=frozenset({"see_cashier"})),
        (told("needs a check", "0"), Flag("see_cashier"), Show(Outcome.SEE_CASHIER)),
    ),
    ("the clock before the deadline: nothing to do", OPEN, Tick(), D - 0.001, OPEN, (Show(Outcome.WAITING),)),
    ("the clock at the deadline: read, to cancel", OPEN, Tick(), D, OPEN, (Read(expire=True),)),
    (
        "the clock on a closed one: nothing to do",
        at("expired"),
        Tick(),
        D + 5,
        at("expired"),
        (Show(Outcome.EXPIRED),),
    ),
    # -- a result given stays given; money arriving later moves it up -----------------------------
    (
        "paid stays paid when upstream shows it open",
        at("paid"),
        Answered(WAITING_TX),
        D + 5,
        at("paid"),
        (Show(Outcome.PAID),),
    ),
    (
        "lost stays lost when it answers again, open, past the deadline",
        at("see_cashier"),
        Answered(WAITING_TX),
        D + 5,
        at("see_cashier"),
        (Show(Outcome.SEE_CASHIER),),
    ),
    (
        "expired, read again cancelled: nothing new",
        at("expired", cancel_reason="deadline"),
        Answered(CANCELLED_TX),
        D + 5,
        at("expired", cancel_reason="deadline"),
        (Show(Outcome.EXPIRED),),
    ),
    (
        "expired, then coins: partial late",
        at("expired", cancel_reason="deadline"),
        Answered(CANCELLED_HALF),
        D + 5,
        at("partial", cancel_reason="deadline", received=Decimal(6), flags=frozenset({"partial_late"})),
        (told("partly paid after close", "6"), Flag("partial_late"), Show(Outcome.PARTIAL_KEPT)),
    ),
    (
        "cancelled, then all the coins: paid late",
        at("cancelled", cancel_reason="customer"),
        Answered(CANCELLED_PAID),
        5,
        at("paid", cancel_reason="customer", received=Decimal(12), flags=frozenset({"paid_late"})),
        (told("paid late", "12"), Flag("paid_late"), Show(Outcome.PAID)),
    ),
    (
        "partial late, then the rest: paid late",
        at("partial", flags=frozenset({"partial_late"})),
        Answered(CANCELLED_PAID),
        5,
        at("paid", received=Decimal(12), flags=frozenset({"partial_late", "paid_late"})),
        (told("paid late", "12"), Flag("paid_late"), Show(Outcome.PAID)),
    ),
    (
        "partial, coins again: told once",
        at("partial"),
        Answered(CANCELLED_HALF),
        5,
        at("partial", received=Decimal(6)),
        (Show(Outcome.PARTIAL_KEPT),),
    ),
    (
        "lost, then coins on an ended one: partial late",
        at("see_cashier"),
        Answered(TIMEOUT_HALF),
        5,
        at("partial", received=Decimal(6), flags=frozenset({"partial_late"})),
        (told("partly paid after close", "6"), Flag("partial_late"), Show(Outcome.PARTIAL_KEPT)),
    ),
    (
        "paid, shown ended with coins: stays paid",
        at("paid"),
        Answered(CANCELLED_HALF),
        5,
        at("paid", received=Decimal(6)),
        (Show(Outcome.PAID),),
    ),
    (
        "received only grows",
        at("partly_paid", received=Decimal(6)),
        Answered(WAITING_TX),
        5,
        at("partly_paid", received=Decimal(6)),
        (Show(Outcome.WAITING),),
    ),
    # -- upstream away, or not knowing the transaction -----------------------------------------
    (
        "away: what was last known, reconnecting",
        at("partly_paid"),
        Unavailable(),
        5,
        at("partly_paid"),
        (Show(Outcome.PARTLY_PAID, reconnecting=True),),
    ),
    (
        "away with nothing known: waiting",
        OPEN,
        Unavailable(),
        5,
        OPEN,
        (Show(Outcome.WAITING, reconnecting=True),),
    ),
    ("away after a result: the result", at("paid"), Unavailable(), 5, at("paid"), (Show(Outcome.PAID),)),
    (
        "the first 'not found'",
        OPEN,
        NotFound(),
        10,
        at("waiting", lost_since=10.0, lost_count=1),
        (Show(Outcome.WAITING, reconnecting=True),),
    ),
    (
        "three answers, one moment short of the grace",
        at("waiting", lost_since=10.0, lost_count=2),
        NotFound(),
        69.999,
        at("waiting", lost_since=10.0, lost_count=3),
        (Show(Outcome.WAITING, reconnecting=True),),
    ),
    (
        "three answers over the grace: lost",
        at("waiting", lost_since=10.0, lost_count=2),
        NotFound(),
        70,
        at("see_cashier", lost_since=10.0, lost_count=3, flags=frozenset({"see_cashier"})),
        (told("needs a check"), Flag("see_cashier"), Show(Outcome.SEE_CASHIER)),
    ),
    (
        "two answers over the grace are not enough",
        at("waiting", lost_since=10.0, lost_count=1),
        NotFound(),
        100,
        at("waiting", lost_since=10.0, lost_count=2),
        (Show(Outcome.WAITING, reconnecting=True),),
    ),
    (
        "many answers, short of the grace",
        at("waiting", lost_since=10.0, lost_count=9),
        NotFound(),
        69.999,
        at("waiting", lost_since=10.0, lost_count=10),
        (Show(Outcome.WAITING, reconnecting=True),),
    ),
    (
        "a result given stays when upstream forgets it",
        at("paid"),
        NotFound(),
        500,
        at("paid"),
        (Show(Outcome.PAID),),
    ),
    (
        "lost while partly paid: a person looks",
        at("partly_paid", lost_since=0.0, lost_count=2),
        NotFound(),
        60,
        at("see_cashier", lost_since=0.0, lost_count=3, flags=frozenset({"see_cashier"})),
        (told("needs a check"), Flag("see_cashier"), Show(Outcome.SEE_CASHIER)),
    ),
    # -- a caller's cancel ----------------------------------------------------------------------
    ("the customer cancels", OPEN, CancelAsked("customer"), 5, OPEN, (CancelUpstream("customer"),)),
    ("the till cancels", OPEN, CancelAsked("till"), 5, OPEN, (CancelUpstream("till"),)),
    ("the operator cancels", OPEN, CancelAsked("operator"), 5, OPEN, (CancelUpstream("operator"),)),
    ("the deadline cancels", OPEN, CancelAsked("deadline"), D, OPEN, (CancelUpstream("deadline"),)),
    (
        "a cancel of a closed one sends no DELETE",
        at("see_cashier"),
        CancelAsked("customer"),
        5,
        at("see_cashier"),
        (Read(expire=False),),
    ),
    (
        "a cancel while another is on its way",
        at("waiting", cancelling="till"),
        CancelAsked("customer"),
        5,
        at("waiting", cancelling="till"),
        (Read(expire=False),),
    ),
    (
        "a cancel in the wait after a refusal",
        at("waiting", retry_at=7.0, refusals=1),
        CancelAsked("customer"),
        6.999,
        at("waiting", retry_at=7.0, refusals=1),
        (Read(expire=False),),
    ),
    (
        "a cancel once the wait is over",
        at("waiting", retry_at=7.0, refusals=1),
        CancelAsked("customer"),
        7,
        at("waiting", retry_at=7.0, refusals=1),
        (CancelUpstream("customer"),),
    ),
    (
        "a cancel after upstream confirmed one: no second DELETE",
        at("waiting", cancel_reason="customer"),
        CancelAsked("till"),
        5,
        at("waiting", cancel_reason="customer"),
        (Read(expire=False),),
    ),
    (
        "the deadline after upstream confirmed a cancel it shows open yet: keep waiting",
        at("waiting", cancel_reason="customer"),
        Answered(WAITING_TX),
        D,
        at("waiting", cancel_reason="customer"),
        (Show(Outcome.WAITING),),
    ),
    # -- the cancel's answer ---------------------------------------------------------------------
    (
        "upstream confirms: the reason stays, look again",
        at("waiting", cancelling="customer"),
        CancelDone("customer"),
        5,
        at("waiting", cancel_reason="customer", cancelling="customer"),
        (Read(expire=False),),
    ),
    (
        "no answer to the DELETE: never claimed cancelled",
        at("waiting", cancelling="customer"),
        CancelFailed("customer"),
        5,
        at("waiting", cancelling="customer"),
        (Show(Outcome.WAITING, reconnecting=True, notice="cancel_failed"),),
    ),
    (
        "no answer to the deadline's DELETE: no notice",
        at("partly_paid", cancelling="deadline"),
        CancelFailed("deadline"),
        D,
        at("partly_paid", cancelling="deadline"),
        (Show(Outcome.PARTLY_PAID, reconnecting=True),),
    ),
    (
        "refused, it completed meanwhile: look again",
        OPEN,
        CancelRefused("customer", PAID_TX),
        5,
        at("waiting", cancel_reason="customer"),
        (Read(expire=False),),
    ),
    (
        "refused, it ended meanwhile: look again",
        OPEN,
        CancelRefused("till", TIMEOUT_TX),
        5,
        at("waiting", cancel_reason="till"),
        (Read(expire=False),),
    ),
    (
        "refused, still open: wait 2 s",
        OPEN,
        CancelRefused("customer", WAITING_TX),
        5,
        at("waiting", refusals=1, retry_at=7.0),
        (Show(Outcome.WAITING, notice="cancel_failed"),),
    ),
    (
        "refused a second time: wait 4 s",
        at("waiting", refusals=1),
        CancelRefused("till", WAITING_TX),
        5,
        at("waiting", refusals=2, retry_at=9.0),
        (Show(Outcome.WAITING),),
    ),
    (
        "refused a sixth time: wait 60 s, the most",
        at("waiting", refusals=5),
        CancelRefused("till", WAITING_TX),
        5,
        at("waiting", refusals=6, retry_at=65.0),
        (Show(Outcome.WAITING),),
    ),
    (
        "refused a fifth time: 32 s",
        at("waiting", refusals=4),
        CancelRefused("till", WAITING_TX),
        5,
        at("waiting", refusals=5, retry_at=37.0),
        (Show(Outcome.WAITING),),
    ),
    (
        "refused, coins on their way: told",
        OPEN,
        CancelRefused("customer", HALF),
        5,
        at("partly_paid", refusals=1, retry_at=7.0),
        (NOTE_HALF, Show(Outcome.PARTLY_PAID, notice="cancel_failed")),
    ),
    (
        "refused, and no answer to the read",
        OPEN,
        CancelRefused("customer", None),
        5,
        at("waiting", refusals=1, retry_at=7.0),
        (Show(Outcome.WAITING, reconnecting=True, notice="cancel_failed"),),
    ),
    (
        "refused in a status upstream will not cancel, before the deadline",
        OPEN,
        CancelRefused("customer", MANUAL),
        D - 0.001,
        at("waiting", refusals=1, retry_at=D + 1.999),
        (Show(Outcome.WAITING, notice="cancel_failed"),),
    ),
    (
        "refused in a status upstream will not cancel, at the deadline",
        OPEN,
        CancelRefused("deadline", MANUAL),
        D,
        at("see_cashier", refusals=1, flags=frozenset({"see_cashier"})),
        (told("needs a check", "0"), Flag("see_cashier"), Show(Outcome.SEE_CASHIER)),
    ),
    (
        "the same with coins: partial",
        OPEN,
        CancelRefused("deadline", MANUAL_HALF),
        D,
        at("partial", refusals=1, flags=frozenset({"partial"})),
        (told("ended with partial payment", "0.000001"), Flag("partial"), Show(Outcome.PARTIAL_KEPT)),
    ),
]


@pytest.mark.parametrize(
    ("state", "event", "now", "after", "effects"), [row[1:] for row in TABLE], ids=[row[0] for row in TABLE]
)
def test_every_transition(state, event, now, after, effects):
    new, done = step(state, event, now)
    assert (new, done) == (after, effects)


def test_the_table_names_each_row_once():
    names = [row[0] for row in TABLE]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("state", [at(s) for s in STATUSES], ids=STATUSES)
@pytest.mark.parametrize(
    "seen",
    [
        WAITING_TX,
        HALF,
        PAID_TX,
        CANCELLED_TX,
        CANCELLED_HALF,
        CANCELLED_PAID,
        TIMEOUT_TX,
        MANUAL,
        MANUAL_HALF,
        UNKNOWN_TX,
    ],
    ids=[
        "pending",
        "half",
        "paid",
        "cancelled",
        "cancelled-half",
        "cancelled-paid",
        "timeout",
        "manual",
        "manual-half",
        "unknown",
    ],
)
@pytest.mark.parametrize("now", [D - 1, D, D + 1])
@pytest.mark.parametrize("expire", [True, False])
def test_status_only_moves_up_and_money_is_never_cancelled(state, seen, now, expire):
    new, effects = step(state, Answered(seen, expire=expire), now)
    assert new.status == state.status or moves(state.status, new.status)
    if seen.total_transfer_amount > 0 and (seen.status in ENDED or not state.is_final):
        # (a result already given stays while upstream shows the transaction open)
        assert new.status != "cancelled" and new.status != "expired"
        assert all(
            e.outcome not in (Outcome.CANCELLED, Outcome.EXPIRED) for e in effects if isinstance(e, Show)
        )
    if seen.is_paid:
        assert new.status == "paid"
    # one told event at most, and every change of status is told
    notes = [e for e in effects if isinstance(e, Notify)]
    assert len(notes) == (new.status != state.status)
    shown = [e for e in effects if isinstance(e, Show)]
    assert len(shown) + sum(isinstance(e, (CancelUpstream, Read)) for e in effects) == 1


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("a status this kiosk never wrote", "pending", True),  # an unknown one ranks below every status
    ("pending", "a status nobody knows", False),
    ("waiting", "waiting", False),
    ("cancelled", "expired", False),  # never sideways between ends: the first noted stays
    ("cancelled", "partial", True),  # coins after the end still move it up
    ("paid", "partial", False),
])
def test_a_status_moves_only_up(old, new, expected):
    assert moves(old, new) is expected


def test_an_event_that_is_not_one_is_refused():
    with pytest.raises(TypeError, match="not an event: 'paid'"):
        step(OPEN, "paid", 0)  # type: ignore[arg-type]


def test_the_status_words_are_the_outcomes():
    assert {State(deadline=D, status=s).outcome for s in STATUSES} == set(Outcome) - {Outcome.DUE}
    assert State(deadline=D, status="pending").outcome is Outcome.WAITING
    assert all(s in RANK for s in STATUSES)


def test_the_reason_is_the_confirmed_one_else_the_one_on_its_way():
    assert at("waiting", cancelling="till").reason == "till"
    assert at("waiting", cancelling="till", cancel_reason="customer").reason == "customer"
    assert OPEN.reason is None


def test_a_step_shows_what_it_shows():
    assert step(OPEN, Unavailable(), 0).shown == Show(Outcome.WAITING, reconnecting=True)
    assert step(OPEN, CancelAsked("customer"), 0).shown is None
    assert isinstance(step(OPEN, CancelAsked("customer"), 0), Next)


# -- the watcher's timetable --------------------------------------------------------------------

WATCH = [
    ("open: every interval", OPEN, 100, 15, 115),
    ("open: at the deadline at the latest", OPEN, D - 10, 15, D),
    ("open: one interval before the deadline", OPEN, D - 15, 15, D),
    ("open, lost: soon", at("waiting", lost_count=1), 100, 60, 120),
    ("open, lost, short interval", at("waiting", lost_count=1), 100, 15, 115),
    ("past the deadline: retry soon", OPEN, D, 15, D + 5),
    ("past the deadline, in a refusal's wait", at("waiting", retry_at=D + 30), D, 15, D + 30),
    ("a refusal's wait almost over", at("waiting", retry_at=D + 0.1), D, 15, D + 0.5),
    ("a refusal's wait over", at("waiting", retry_at=D), D, 15, D + 5),
    ("paid: never again", at("paid"), D, 15, None),
    ("closed just now: after an interval", at("expired"), D, 15, D + 15),
    ("closed an hour ago: after half an hour", at("expired"), D + 3600, 15, D + 5400),
    ("closed long ago: every two hours at most", at("partial"), D + 6 * 3600, 15, D + 6 * 3600 + MAX_GAP),
    ("a day after the deadline: no more", at("cancelled"), D + AFTER_CLOSE, 15, None),
    ("just before a day: up to the day", at("see_cashier"), D + AFTER_CLOSE - 10, 15, D + AFTER_CLOSE),
]


@pytest.mark.parametrize(
    ("state", "now", "interval", "due"), [row[1:] for row in WATCH], ids=[row[0] for row in WATCH]
)
def test_the_watchers_timetable(state, now, interval, due):
    assert next_watch(state, now, interval) == due


def test_schedule_is_an_effect_of_its_own():
    assert Schedule(5.0) != Schedule(6.0) and Schedule(5.0).at == 5.0
