"""Rules pinned at their edges: each test here fails when its rule is broken on purpose (a `<`
turned into `<=`, a header dropped, a shared answer used where a fresh one is needed, a branch of
the deadline decision changed). Time is moved with time-machine, never waited for."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
import time_machine

from kiosk.checkout import Outcome, decide
from kiosk.cryptom import Transaction

from ..support import Customer, field

# -- the amount limits ------------------------------------------------------------------------

LIMITS = [("1", "100000", "₺1,00", "₺100.000,00"), ("10.50", "20.25", "₺10,50", "₺20,25")]


@pytest.mark.parametrize(("low", "high", "low_text", "high_text"), LIMITS)
def test_an_amount_exactly_at_either_limit_is_accepted(make_app, sandbox, low, high, low_text, high_text):
    customer = Customer(make_app(MIN_AMOUNT=low, MAX_AMOUNT=high).test_client(), sandbox)
    for amount in (low, high, low.replace(".", ",")):
        response = customer.enter(amount)
        assert response.status_code == 302 and response.headers["Location"] == "/coin", amount


@pytest.mark.parametrize(("low", "high", "low_text", "high_text"), LIMITS)
def test_one_cent_outside_either_limit_is_refused_with_the_message(make_app, sandbox, low, high,
                                                                  low_text, high_text):
    customer = Customer(make_app(MIN_AMOUNT=low, MAX_AMOUNT=high).test_client(), sandbox)
    cent = Decimal("0.01")
    for amount, message in ((Decimal(low) - cent, f"En küçük tutar {low_text}."),
                            (Decimal(high) + cent, f"En büyük tutar {high_text}.")):
        response = customer.enter(str(amount))
        assert response.status_code == 422, amount
        html = response.get_data(as_text=True)
        assert 'data-testid="error"' in html and message in html, amount
    assert customer.web.get("/coin").headers["Location"] == "/"  # nothing was kept
    assert sandbox.calls("create") == 0


# -- the status fragment is never cached ------------------------------------------------------


def test_the_status_fragment_is_no_store_in_every_state(customer, sandbox):
    tx_id = customer.start()
    answers = [customer.status(tx_id)]
    sandbox.pay(tx_id, share="half")
    answers.append(customer.status(tx_id))
    sandbox.pay(tx_id, share="full")
    answers.append(customer.status(tx_id))
    outcomes = ['data-outcome="waiting"', 'data-outcome="partly_paid"', 'data-outcome="paid"']
    for response, outcome in zip(answers, outcomes, strict=True):
        assert outcome in response.get_data(as_text=True)
        assert response.headers["Cache-Control"] == "no-store", outcome


# -- a cancel reads upstream afresh -----------------------------------------------------------


@pytest.fixture
def frozen():
    """The one clock, stopped: an answer shared between polls stays shared until moved."""
    with time_machine.travel(time.time(), tick=False) as traveller:
        yield traveller


@pytest.fixture
def shared(make_app, sandbox, frozen):
    app = make_app(share=True)
    assert app.extensions["kiosk"].checkout.share_seconds > 0
    return Customer(app.test_client(), sandbox)


def test_a_cancel_after_an_unseen_partial_payment_ends_partial_not_cancelled(shared, sandbox):
    tx_id = shared.start()
    token = field(shared.web.get(f"/pay/{tx_id}").get_data(as_text=True), "csrf_token")
    assert 'data-outcome="waiting"' in shared.status(tx_id).get_data(as_text=True)
    sandbox.pay(tx_id, share="half")  # after the poll whose answer is shared
    reads = sandbox.calls("detail")
    response = shared.cancel(tx_id, token)
    assert sandbox.calls("detail") == reads + 1  # the cancel read upstream itself
    assert response.headers["Location"] == f"/result/{tx_id}"
    html = shared.web.get(f"/result/{tx_id}").get_data(as_text=True)
    assert 'data-testid="result-partial"' in html


def test_a_cancel_after_an_unseen_full_payment_ends_paid(shared, sandbox):
    tx_id = shared.start()
    token = field(shared.web.get(f"/pay/{tx_id}").get_data(as_text=True), "csrf_token")
    shared.status(tx_id)
    sandbox.pay(tx_id, share="full")
    response = shared.cancel(tx_id, token)  # upstream refuses to cancel a paid transaction
    assert response.headers["Location"] == f"/result/{tx_id}"
    assert 'data-testid="result-paid"' in shared.web.get(f"/result/{tx_id}").get_data(as_text=True)


# -- every branch of the deadline decision ----------------------------------------------------

NOW = 1_000_000.0


def tx(status="PENDING", complete=False, received="0"):
    return Transaction.from_json({"_id": "6338cb9cd4cb3327e706ddb1", "status": status,
                                  "isTransferComplete": complete, "totalTransferAmount": received,
                                  "coinAmount": "10", "currencyAmount": "100"})


@pytest.mark.parametrize(("t", "deadline", "expected"), [
    (tx(), NOW + 0.001, Outcome.WAITING),  # a moment before the deadline: still waiting
    (tx(), NOW, Outcome.DUE),  # exactly at it: the kiosk cancels
    (tx("TRANSFERRED", received="4"), NOW + 0.001, Outcome.PARTLY_PAID),
    (tx("TRANSFERRED", received="4"), NOW, Outcome.DUE),
    (tx("TRANSFERRED", complete=True, received="10"), NOW - 60, Outcome.PAID),  # paid beats late
    (tx("SOMETHING_NEW", received="4"), NOW, Outcome.DUE),
    (tx("SOMETHING_NEW", received="4"), NOW + 1, Outcome.PARTLY_PAID),
])
def test_decide_at_the_deadline(t, deadline, expected):
    assert decide(t, deadline, NOW, None) is expected


@pytest.fixture
def deadline(make_app, sandbox):
    """A kiosk, its checkout service and a way past the payment's deadline."""
    app = make_app(COINS="TRX:TRX")
    checkout = app.extensions["kiosk"].checkout
    with time_machine.travel(time.time(), tick=False) as traveller:

        def start() -> str:
            return checkout.start("n" * 20 + str(len(sandbox.transactions())), Decimal("300"), "TRX",
                                  "TRX", owner="kiosk:test")

        def passed(tx_id: str):
            traveller.shift(checkout.payment_timeout)
            return checkout.view(checkout.record(tx_id))

        yield start, passed


def upstream_status(sandbox, tx_id: str) -> str:
    return [t for t in sandbox.transactions() if t["_id"] == tx_id][0]["status"]


def set_upstream_status(sandbox, tx_id: str, status: str) -> None:
    """A status the kiosk does not know, as upstream may add one any day."""
    with sandbox.state.lock:
        sandbox.state.transactions[tx_id]["status"] = status


def test_deadline_nothing_received_expires(deadline, sandbox):
    start, passed = deadline
    tx_id = start()
    assert passed(tx_id).outcome is Outcome.EXPIRED
    assert sandbox.calls("cancel") == 1 and upstream_status(sandbox, tx_id) == "CANCELLED"


def test_deadline_partial_ends_partial(deadline, sandbox):
    start, passed = deadline
    tx_id = start()
    sandbox.pay(tx_id, share="half")
    view = passed(tx_id)
    assert view.outcome is Outcome.PARTIAL_KEPT and view.tx.total_transfer_amount > 0
    assert sandbox.calls("cancel") == 1


def test_deadline_paid_is_paid_and_not_cancelled(deadline, sandbox):
    start, passed = deadline
    tx_id = start()
    sandbox.pay(tx_id, share="full")
    assert passed(tx_id).outcome is Outcome.PAID
    assert sandbox.calls("cancel") == 0


def test_deadline_cancel_refused_keeps_waiting(deadline, sandbox):
    """Upstream refuses the DELETE: never "expired" or "cancelled" before upstream confirms."""
    start, passed = deadline
    tx_id = start()
    sandbox.faults(fail_next=1, fail_status=400, only="cancel")
    view = passed(tx_id)
    assert view.outcome is Outcome.WAITING and not view.outcome.is_final
    assert sandbox.calls("cancel") == 1 and upstream_status(sandbox, tx_id) == "PENDING"


def test_deadline_unknown_status_with_coins_received_ends_partial(deadline, sandbox):
    start, passed = deadline
    tx_id = start()
    sandbox.pay(tx_id, share="half")
    set_upstream_status(sandbox, tx_id, "SOMETHING_NEW")  # and it will not cancel
    view = passed(tx_id)
    assert view.outcome is Outcome.PARTIAL_KEPT  # money received: never cancelled, never lost
    assert sandbox.calls("cancel") == 1


def test_deadline_unknown_status_nothing_received_needs_the_cashier(deadline, sandbox):
    start, passed = deadline
    tx_id = start()
    set_upstream_status(sandbox, tx_id, "SOMETHING_NEW")
    assert passed(tx_id).outcome is Outcome.SEE_CASHIER


@pytest.mark.parametrize("ending", ["paid", "cancelled"])
def test_a_result_reloaded_while_upstream_is_away_stays_the_result(customer, sandbox, ending):
    """The kiosk has told the customer the result; a reload of the result screen (or a stale
    tab's Cancel) while upstream does not answer shows it again, never the pay screen."""
    tx_id = customer.start()
    if ending == "paid":
        sandbox.pay(tx_id, share="full")
    else:
        customer.cancel(tx_id)
    assert customer.result(tx_id) == ending
    token = customer.token(f"/result/{tx_id}")
    sandbox.faults(fail_next=100, fail_status=503, only="detail")
    assert customer.get(f"/result/{tx_id}").status_code == 200
    assert customer.result(tx_id) == ending
    assert customer.get(f"/pay/{tx_id}").headers["Location"] == f"/result/{tx_id}"
    assert customer.cancel(tx_id, token).headers["Location"] == f"/result/{tx_id}"
    assert customer.poll(tx_id) == (ending, f"/result/{tx_id}")
