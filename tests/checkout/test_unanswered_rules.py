"""Creates that got no answer, resolved by the watcher in this process, at the edges of each
rule: left to the customer for two minutes, cancelled upstream when nobody adopted what upstream
made, looked for again a minute later while upstream has none or is away, forgotten after a
quarter of an hour. The checkout service talks to the sandbox over real HTTP (its client waits
0.3 s for an answer, the sandbox takes 0.6 s for the create); the clock is moved with
time-machine."""

from __future__ import annotations

import contextlib
import logging
from decimal import Decimal

import pytest
import time_machine

from kiosk.checkout import Outcome, StartUnavailable
from kiosk.checkout.base import CREATES
from kiosk.checkout.start import CREATE_GRACE
from kiosk.displays import Displays, OrderEnded, Orders
from kiosk.displays.orders import ORDER_START_GRACE, START_STALE

from ..desk import T0
from ..system.test_watcher import wait_for


def unanswered(d, made: bool = True) -> str:
    """A customer's create at the current moment that gets no answer; upstream makes the
    transaction (`made`) or not. Returns the kiosk's reference of the create."""
    if made:
        d.sandbox.faults(latency_ms=600, latency_next=1, only="create")
    else:
        d.sandbox.faults(fail_next=1, fail_status=503, only="create")
    with pytest.raises(StartUnavailable):
        d.start()
    if made:
        wait_for("upstream to make it", lambda: len(d.sandbox.transactions()) == 1, seconds=10)
    (ref,) = [m for m, _ in d.store.scheduled(CREATES, float("inf"))]
    return ref


def made(d) -> dict:
    (tx,) = d.sandbox.transactions()
    return tx


def test_an_unanswered_create_nobody_adopted_is_cancelled_after_two_minutes(desk):
    d = desk(read_timeout=0.3, watch_interval=15)
    told = []
    d.checkout.listeners.append(lambda record, facts: told.append(facts))
    with time_machine.travel(T0, tick=False) as clock:
        ref = unanswered(d)
        tx = made(d)["_id"]
        assert made(d)["statusNote"] == f"kiosk:{ref}"
        clock.move_to(T0 + 119.999)
        assert d.checkout.unanswered() == []  # the customer may still try again
        assert d.checkout.unanswered(until=T0 + 120) == [ref]
        clock.move_to(T0 + 120)
        assert d.checkout.unanswered() == [ref]
        d.checkout.resolve_create(ref)
        assert d.upstream(tx)["status"] == "CANCELLED" and d.calls("cancel") == 1
        record = d.checkout.record(tx)
        assert (record.created, record.deadline, record.owner, record.ref) == (T0, T0 + 120, "kiosk:a", ref)
        assert (str(record.amount), record.coin, record.network) == ("300", "TRX", "TRX")
        assert d.checkout.cancel_reason(tx) == "unanswered"
        assert d.checkout.last_outcome(tx) is Outcome.CANCELLED
        assert d.due(tx) == T0 + 135 and d.woken[-1] == (tx, T0 + 135)
        assert d.checkout.unanswered(until=T0 + 10**6) == [] and d.store.get(f"create:{ref}") is None
        assert d.events(tx) == ["created without an answer", "cancelled"]
        assert told[0] == {"coin_amount": made(d)["coinAmount"]}
        assert d.store.when("records", tx) == T0  # reconciled like any checkout of the kiosk
        d.checkout.resolve_create(ref)  # a duplicate job: nothing more
        assert d.calls("cancel") == 1 and d.calls("history") == 2


def test_a_resolution_holds_its_claim_for_two_minutes_at_most(desk):
    """A host that hangs while resolving a create keeps it for two minutes; then another may."""
    d = desk(read_timeout=0.3)
    with time_machine.travel(T0, tick=False) as clock:
        ref = unanswered(d)
        seen = d.probe_claim_while_hanging(clock, f"resolving:{ref}")
        clock.move_to(T0 + 120)
        d.checkout.resolve_create(ref)
    assert seen == [False, False, True]


def test_a_hundred_creates_are_looked_for_at_a_time(desk):
    d = desk()
    with time_machine.travel(T0, tick=False):
        for n in range(101):
            d.store.schedule(CREATES, f"{n:016x}", T0 - 101 + n)
        assert len(d.checkout.unanswered()) == 100 and d.checkout.unanswered(limit=2) == [
            f"{0:016x}", f"{1:016x}"]


def test_an_entry_without_its_create_is_dropped_quietly(desk, caplog):
    d = desk()
    with time_machine.travel(T0, tick=False):
        d.store.schedule(CREATES, "0123456789abcdef", T0)  # its create expired meanwhile
        d.store.set("create:fedcba9876543210", "{}")
        d.store.schedule(CREATES, "fedcba9876543210", T0)
        d.checkout.resolve_create("0123456789abcdef")
        d.checkout.resolve_create("fedcba9876543210")
        assert d.checkout.unanswered() == [] and d.calls("history") == 0
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        "the unanswered create fedcba9876543210 cannot be read: set aside"]


def test_nothing_of_a_resolved_create_but_its_record_outlives_a_day(desk):
    d = desk(read_timeout=0.3)
    with time_machine.travel(T0, tick=False) as clock:
        ref = unanswered(d)
        clock.move_to(T0 + 120)
        d.checkout.resolve_create(ref)
        clock.move_to(T0 + 120 + 24 * 3600)
        left = {key.split(":", 1)[0] for key, _ in d.store.items("")}
        assert left <= {"tx", "final", "cancel", "attention"}, left
        assert d.checkout.record(made(d)["_id"]) is not None
        clock.move_to(T0 + 120 + 15 * 24 * 3600)  # and the record lives as long as any other
        assert d.store.items("") == []


def test_the_same_customers_retry_adopts_it_and_the_watcher_leaves_it(desk):
    d = desk(read_timeout=0.3)
    with time_machine.travel(T0, tick=False) as clock:
        ref = unanswered(d)
        clock.shift(30)
        tx = d.start()
        assert tx == made(d)["_id"] and d.calls("create") == 1
        clock.move_to(T0 + 120)
        assert d.checkout.unanswered() == []
        d.checkout.resolve_create(ref)
        assert d.calls("cancel") == 0 and d.checkout.last_outcome(tx) is Outcome.WAITING


def test_a_create_being_adopted_right_now_is_left_to_its_kiosk(desk):
    d = desk(read_timeout=0.3)
    with time_machine.travel(T0 + 120, tick=False):
        ref = unanswered(d)
        assert d.store.add(f"claimed:{ref}", "start")  # the customer's retry, at this moment
        d.checkout.resolve_create(ref)
        assert d.calls("cancel") == 0 and d.checkout.record(made(d)["_id"]) is None
        assert d.checkout.unanswered(until=T0 + 10**6) == []


def test_a_create_another_run_is_resolving_is_left_to_it(desk):
    d = desk(read_timeout=0.3)
    with time_machine.travel(T0, tick=False) as clock:
        ref = unanswered(d)
        clock.move_to(T0 + 120)
        assert d.store.add(f"resolving:{ref}", "1", ttl=120)
        looks = d.calls("history")
        d.checkout.resolve_create(ref)
        assert d.calls("history") == looks and d.checkout.unanswered() == [ref]


def test_a_create_upstream_never_made_is_looked_for_a_quarter_of_an_hour_then_forgotten(desk, caplog):
    d = desk()
    with time_machine.travel(T0, tick=False) as clock:
        ref = unanswered(d, made=False)
        for moment in (120, 899.999):  # not found yet: again a minute later
            clock.move_to(T0 + moment)
            looks = d.calls("history")
            d.checkout.resolve_create(ref)
            assert d.calls("history") == looks + 1
            assert d.checkout.unanswered(until=T0 + moment + 59.999) == []
            assert d.checkout.unanswered(until=T0 + moment + 60) == [ref]
        clock.move_to(T0 + 900)
        d.checkout.resolve_create(ref)
        assert d.checkout.unanswered(until=T0 + 10**6) == [] and d.store.get(f"create:{ref}") is None
        assert d.sandbox.transactions() == [] and d.calls("cancel") == 0
    assert f"a create that got no answer was never made upstream (ref {ref})" in [
        r.getMessage() for r in caplog.records if r.levelno == logging.INFO]


def test_while_upstream_is_away_the_create_is_looked_for_again_a_minute_later(desk):
    d = desk(read_timeout=0.3)
    with time_machine.travel(T0, tick=False) as clock:
        ref = unanswered(d)
        clock.move_to(T0 + 900)  # even past the quarter of an hour: nothing is known
        d.sandbox.faults(fail_next=2, fail_status=503, only="history")
        d.checkout.resolve_create(ref)
        assert d.checkout.unanswered(until=T0 + 959.999) == []
        assert d.checkout.unanswered(until=T0 + 960) == [ref]
        clock.move_to(T0 + 960)
        d.checkout.resolve_create(ref)
        assert d.upstream(made(d)["_id"])["status"] == "CANCELLED"


# -- an order whose start died midway ------------------------------------------------------------


class Killed(BaseException):
    """The process dies here: nothing of the kiosk's after this point runs (no `except` of its
    catches it), as when a worker is killed or its host goes away."""


@contextlib.contextmanager
def dying(d, after_sending: bool):
    """The next create kills its process: after upstream got it (and makes the transaction) or
    just before it is sent."""
    real = d.client.create_transaction

    def create(*args, **kwargs):
        if after_sending:
            real(*args, **kwargs)  # upstream makes it; the answer is never read
        raise Killed

    d.client.create_transaction = create
    try:
        with pytest.raises(Killed):
            yield
    finally:
        d.client.create_transaction = real


def ordering(d, amount: str = "300"):
    """A display in till mode with an order of `amount` on it, over the desk's store."""
    displays = Displays(d.store)
    orders = Orders(d.store, d.checkout, displays, min_amount=Decimal(1), max_amount=Decimal(100000))
    issued = displays.issue("127.0.0.1")
    assert issued is not None
    display = displays.pair(issued[1].code, "Counter 1", "till")
    return orders, display, orders.send(display, Decimal(amount))


def test_an_order_whose_create_died_after_sending_is_adopted_by_the_watcher(desk):
    d = desk(watch_interval=15)
    with time_machine.travel(T0, tick=False) as clock:
        orders, display, order = ordering(d)
        with dying(d, after_sending=True):
            orders.begin(order, "TRX", "TRX")
        (made_tx,) = d.sandbox.transactions()
        tx = made_tx["_id"]
        assert orders.state(order).status == "pending" and orders.busy(display)
        clock.move_to(T0 + CREATE_GRACE - 0.001)
        assert d.checkout.unanswered() == []  # a live start may still be reading its answer
        clock.move_to(T0 + CREATE_GRACE)
        (ref,) = d.checkout.unanswered()
        d.checkout.resolve_create(ref)
        # Adopted for the order, not cancelled: the display shows it on its next look.
        assert d.calls("cancel") == 0 and d.upstream(tx)["status"] == "PENDING"
        assert orders.tx_of(order) == tx
        record = d.checkout.record(tx)
        assert (record.order, record.display, record.owner, record.amount, record.ref) == (
            order.id, display.id, display.owner, Decimal("300"), ref)
        assert (record.created, record.deadline) == (T0, T0 + 600)
        assert d.events(tx) == ["created without an answer"]
        assert d.due(tx) == T0 + CREATE_GRACE + 15
        assert orders.state(order, look=True).status == "waiting"
        assert orders.begin(order, "TRX", "TRX") == tx  # the display's next look
        d.checkout.resolve_create(ref)  # a duplicate job: nothing more
        d.sandbox.pay(tx, share="full")
        assert orders.state(order, look=True).status == "paid" and not orders.busy(display)
        assert d.calls("create") == 1 and d.calls("cancel") == 0


def test_an_order_whose_start_died_before_sending_ends_after_its_deadline(desk):
    d = desk()
    with time_machine.travel(T0, tick=False) as clock:
        orders, display, order = ordering(d)
        with dying(d, after_sending=False):
            orders.begin(order, "TRX", "TRX")
        (ref,) = d.checkout.unanswered(until=T0 + 10**6)
        for moment in (CREATE_GRACE, CREATE_GRACE + 60, 600, 600 + ORDER_START_GRACE - 0.001):
            clock.move_to(T0 + moment)
            for due in d.checkout.unanswered():
                d.checkout.resolve_create(due)
            orders.sweep()
            assert orders.state(order).status == "pending" and orders.busy(display), moment
        clock.move_to(T0 + 600 + ORDER_START_GRACE)
        orders.sweep()
        state = orders.state(order)
        assert (state.status, state.cancel_reason) == ("expired", "deadline") and not orders.busy(display)
        with pytest.raises(OrderEnded):
            orders.begin(order, "TRX", "TRX")
        assert d.calls("create") == 0 and d.sandbox.transactions() == []
        clock.move_to(T0 + 900)
        d.checkout.resolve_create(ref)  # never made: forgotten
        assert d.checkout.unanswered(until=T0 + 10**6) == [] and orders.state(order).status == "expired"


def test_a_create_found_only_after_its_order_ended_is_cancelled_never_adopted(desk):
    """Upstream made it, but was away for every look until the order's time was up: the order
    ends, and what upstream made is cancelled. Still one transaction, and nobody pays it."""
    d = desk()
    with time_machine.travel(T0, tick=False) as clock:
        orders, display, order = ordering(d)
        with dying(d, after_sending=True):
            orders.begin(order, "TRX", "TRX")
        (ref,) = d.checkout.unanswered(until=T0 + 10**6)
        d.sandbox.faults(fail_next=100, fail_status=503, only="history")
        clock.move_to(T0 + CREATE_GRACE)
        d.checkout.resolve_create(ref)
        clock.move_to(T0 + 600 + ORDER_START_GRACE)
        orders.sweep()
        assert orders.state(order).status == "expired"
        d.sandbox.clear_faults()
        clock.move_to(T0 + 600 + ORDER_START_GRACE + 60)
        d.checkout.resolve_create(ref)
        (tx,) = d.sandbox.transactions()
        assert tx["status"] == "CANCELLED" and d.calls("cancel") == 1
        assert orders.tx_of(order) is None and orders.state(order).status == "expired"
        assert d.checkout.record(tx["_id"]).order is None


@pytest.mark.parametrize("reason", ["till", "operator"])
def test_a_stuck_order_can_be_ended_by_the_till_or_staff(desk, reason):
    """Nobody need wait for the watcher: once the start is a minute old with no answer, a cancel
    ends the order at once, and what upstream made is cancelled, never adopted."""
    d = desk()
    with time_machine.travel(T0, tick=False) as clock:
        orders, display, order = ordering(d)
        with dying(d, after_sending=True):
            orders.begin(order, "TRX", "TRX")
        (ref,) = d.checkout.unanswered(until=T0 + 10**6)
        clock.move_to(T0 + START_STALE)
        state = orders.cancel(order, reason)
        assert (state.status, state.cancel_reason) == ("cancelled", reason) and not orders.busy(display)
        clock.move_to(T0 + CREATE_GRACE)
        d.checkout.resolve_create(ref)
        (tx,) = d.sandbox.transactions()
        assert tx["status"] == "CANCELLED" and d.calls("create") == 1
        assert orders.state(order).status == "cancelled"


def unanswered_order(d, orders, order) -> str:
    """The order's create gets no answer (its process lives on); upstream makes it a moment later."""
    d.sandbox.faults(latency_ms=600, latency_next=1, only="create")
    with pytest.raises(StartUnavailable):
        orders.begin(order, "TRX", "TRX")
    wait_for("upstream to make it", lambda: len(d.sandbox.transactions()) == 1, seconds=10)
    (ref,) = [m for m, _ in d.store.scheduled(CREATES, float("inf"))]
    return ref


def test_an_orders_unanswered_create_nobody_retried_is_adopted_for_the_order(desk):
    d = desk(read_timeout=0.3)
    with time_machine.travel(T0, tick=False) as clock:
        orders, display, order = ordering(d)
        ref = unanswered_order(d, orders, order)
        assert orders.state(order).status == "pending"  # the customer may pick a coin again
        clock.move_to(T0 + CREATE_GRACE)
        d.checkout.resolve_create(ref)
        tx = made(d)["_id"]
        assert orders.tx_of(order) == tx and orders.state(order, look=True).status == "waiting"
        assert d.calls("cancel") == 0 and d.calls("create") == 1


def test_the_same_orders_retry_adopts_its_unanswered_create(desk):
    d = desk(read_timeout=0.3)
    with time_machine.travel(T0, tick=False) as clock:
        orders, display, order = ordering(d)
        ref = unanswered_order(d, orders, order)
        clock.shift(30)
        tx = orders.begin(order, "TRX", "TRX")
        assert tx == made(d)["_id"] and orders.tx_of(order) == tx and d.calls("create") == 1
        clock.move_to(T0 + CREATE_GRACE)
        assert d.checkout.unanswered() == []
        d.checkout.resolve_create(ref)
        assert d.calls("cancel") == 0


def test_a_keypad_start_on_the_display_never_adopts_its_orders_unanswered_create(desk):
    """Same display, same amount, same coin: a form's start is not the order's, so it makes its
    own transaction, and the order's create goes to the watcher (which adopts it for the order)."""
    d = desk(read_timeout=0.3)
    with time_machine.travel(T0, tick=False) as clock:
        orders, display, order = ordering(d)
        ref = unanswered_order(d, orders, order)
        orders_tx = made(d)["_id"]
        clock.shift(30)
        keypad = d.checkout.start("k" * 24, Decimal("300"), "TRX", "TRX", owner=display.owner,
                                  display=display.id)
        assert keypad != orders_tx and d.calls("create") == 2
        assert d.checkout.record(keypad).order is None and orders.tx_of(order) is None
        clock.move_to(T0 + CREATE_GRACE)
        d.checkout.resolve_create(ref)
        assert orders.tx_of(order) == orders_tx


def test_an_orders_create_found_after_the_till_cancelled_the_order_is_cancelled(desk):
    d = desk(read_timeout=0.3)
    with time_machine.travel(T0, tick=False) as clock:
        orders, display, order = ordering(d)
        ref = unanswered_order(d, orders, order)
        state = orders.cancel(order, "till")
        assert (state.status, state.cancel_reason) == ("cancelled", "till")
        clock.move_to(T0 + CREATE_GRACE)
        d.checkout.resolve_create(ref)
        tx = made(d)["_id"]
        assert d.upstream(tx)["status"] == "CANCELLED" and d.checkout.cancel_reason(tx) == "till"
        assert orders.tx_of(order) is None and orders.state(order).status == "cancelled"
        assert d.checkout.record(tx).order is None


def test_after_a_process_died_creating_the_same_owner_s_next_try_adopts_the_transaction(desk):
    d = desk()
    with time_machine.travel(T0, tick=False):
        with dying(d, after_sending=True):
            d.start()
        (tx,) = d.sandbox.transactions()
        assert d.start() == tx["_id"]
        assert d.calls("create") == 1 and len(d.sandbox.transactions()) == 1
        assert d.store.scheduled(CREATES, float("inf")) == []  # nothing left for the watcher


@pytest.mark.parametrize("owner, amount", [("kiosk:b", "300"), ("kiosk:a", "301")])
def test_another_owner_or_amount_never_adopts_what_a_dead_process_created(desk, owner, amount):
    d = desk()
    with time_machine.travel(T0, tick=False):
        with dying(d, after_sending=True):
            d.start()
        (first,) = d.sandbox.transactions()
        assert d.start(amount, owner=owner) != first["_id"]
        assert d.calls("create") == 2


def test_a_create_that_was_answered_is_never_adopted_by_the_next_customer(desk):
    """The same kiosk's next customer, for the same amount, gets a transaction of their own."""
    d = desk()
    with time_machine.travel(T0, tick=False):
        first = d.start()
        assert d.start() != first and d.calls("create") == 2
