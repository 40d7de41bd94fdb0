"""The ledger written by real checkouts: the checkout service (tests/desk.py) and the orders
against the sandbox over real HTTP, the clock moved with time-machine, each checkout's row read
back from SQLite and from a real PostgreSQL: created, partly paid, paid, cancelled, expired,
partial, paid late; an order from a till; the ledger away during a payment and caught up by the
watcher's sweep; the first upgrade importing what the key-value store holds."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine

from kiosk.checkout import Checkout
from kiosk.checkout.booking import Booking, follow, store_checkouts
from kiosk.displays import Displays, Line, Orders
from kiosk.jobs import Jobs, make_queue
from kiosk.ledger import Ledger, make_engine
from kiosk.ledger.migrate import head

from ..desk import T0

HEAD = head()  # the newest migration


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@pytest.fixture
def book(desk, ledger_url):
    """A desk (tests/desk.py) whose checkouts are written to a ledger on `ledger_url`."""

    def build(**settings):
        d = desk(**settings)
        d.ledger = Ledger(make_engine(ledger_url))
        d.ledger.upgrade()
        d.booking = Booking(d.ledger, d.store)
        follow(d.checkout, None, d.booking)
        return d

    return build


def test_a_checkout_paid_in_two_parts_is_one_row_through_its_life(book):
    d = book()
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start("300")
        quote = d.upstream(tx)
        row = d.ledger.get(tx_id=tx)
        assert (row.status, row.version, row.amount, row.currency) == ("waiting", 1, Decimal("300"), "TRY")
        assert (row.coin, row.network, row.coin_amount) == ("TRX", "TRX", Decimal(quote["coinAmount"]))
        assert row.conversion_rate == Decimal(quote["conversionRate"]) == Decimal("12.50")
        assert (row.exchange_fee, row.commission) == (Decimal("0"), Decimal("0"))
        assert row.sequence_id == quote["sequenceID"] and row.address == quote["wallet"]["address"]
        assert (row.started_by_kind, row.started_by) == ("kiosk", "a")
        assert row.kiosk_ref == d.checkout.record(tx).ref and row.order_id is None
        assert (row.created_at, row.deadline) == (at(T0), at(T0 + 600))
        assert (row.received, row.upstream_status, row.paid_at, row.closed_at) == (Decimal(0), "PENDING",
                                                                                   None, None)
        for _ in range(3):  # polls that see nothing new write nothing
            d.view(tx)
        assert d.ledger.get(tx_id=tx).version == 1

        clock.shift(30)
        with d.sandbox.state.lock:  # upstream's quote as it states it now: its fee and commission
            d.sandbox.state.transactions[tx].update(exchangeFee="1.474", commission="4")
        half = d.sandbox.pay(tx, share="half")
        assert d.view(tx).outcome == "partly_paid"
        row = d.ledger.get(tx_id=tx)
        assert (row.status, row.version) == ("partly_paid", 2)
        assert row.received == Decimal(half["totalTransferAmount"]) > 0
        assert (row.exchange_fee, row.commission, row.upstream_status) == (Decimal("1.474"), Decimal("4"),
                                                                           "TRANSFERRED")
        d.view(tx)
        assert d.ledger.get(tx_id=tx).version == 2

        clock.shift(30)
        d.sandbox.pay(tx, share="full")
        assert d.view(tx).outcome == "paid"
        row = d.ledger.get(tx_id=tx)
        assert (row.status, row.version, row.received) == ("paid", 3, Decimal(quote["coinAmount"]))
        assert row.paid_at == row.closed_at == at(T0 + 60) and row.cancel_reason is None
        d.view(tx)
        d.watch_now(tx)
        assert d.ledger.get(tx_id=tx).version == 3
    assert len(d.ledger.all()) == 1


def test_a_checkout_the_customer_cancels(book):
    d = book()
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start("125.50")
        clock.shift(20)
        assert d.checkout.cancel(d.checkout.record(tx)).outcome == "cancelled"
        row = d.ledger.get(tx_id=tx)
        assert (row.status, row.cancel_reason, row.closed_at, row.version) == ("cancelled", "customer",
                                                                               at(T0 + 20), 2)
        assert row.amount == Decimal("125.50") and row.upstream_status == "CANCELLED"


def test_a_checkout_nobody_pays_expires_at_its_deadline(book):
    d = book(payment_timeout=60)
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        clock.shift(60)
        d.watch_now(tx)  # the watcher, with no screen open
        row = d.ledger.get(tx_id=tx)
        assert (row.status, row.cancel_reason, row.closed_at, row.received) == ("expired", "deadline",
                                                                                at(T0 + 60), Decimal(0))
        assert row.attention == [] and row.version == 2


def test_a_part_paid_checkout_that_expires_is_partial_and_flagged_then_paid_late(book):
    d = book(payment_timeout=60)
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        half = d.sandbox.pay(tx, share="half")
        clock.shift(60)
        d.watch_now(tx)
        row = d.ledger.get(tx_id=tx)
        assert (row.status, row.cancel_reason, row.attention) == ("partial", "deadline", ["partial"])
        assert row.received == Decimal(half["totalTransferAmount"]) and row.closed_at == at(T0 + 60)
        # The customer sends the rest after the kiosk closed it: paid late, for the operator.
        clock.shift(300)
        d.sandbox.pay(tx, share="full")
        d.watch_now(tx)
        row = d.ledger.get(tx_id=tx)
        assert (row.status, row.attention) == ("paid", ["paid_late", "partial"])
        assert row.paid_at == at(T0 + 360) and row.closed_at == at(T0 + 60)
        assert row.received == Decimal(d.upstream(tx)["coinAmount"])


def test_an_order_from_a_till_is_one_row_from_its_display_to_paid(sandbox, client, tmp_path, ledger_url):
    from kiosk.checkout import LocalStore

    store = LocalStore(tmp_path / "kiosk.sqlite3")
    checkout = Checkout(client, store, payment_timeout=600)
    displays = Displays(store)
    orders = Orders(store, checkout, displays, min_amount=Decimal("1"), max_amount=Decimal("100000"))
    ledger = Ledger(make_engine(ledger_url))
    ledger.upgrade()
    booking = Booking(ledger, store)
    follow(checkout, orders, booking)
    with time_machine.travel(T0, tick=False):
        display = displays.pair(displays.issue("127.0.0.1")[1].code, "Counter 1", "till")
        lines = (Line("Çay", 2, Decimal("15.00")), Line("Simit", 1, Decimal("20.00")))
        order = orders.send(display, Decimal("50.00"), reference="till-4711", note="Table 4", lines=lines,
                            source="api")
        booking.sent_by(order.id, "till", "till-1")  # as the till API does, with the key's name
        row = ledger.get(order_id=order.id)
        assert (row.status, row.tx_id, row.started_by_kind, row.started_by) == ("pending", None, "till",
                                                                               "till-1")
        assert (row.reference, row.note, row.display_id, row.amount) == ("till-4711", "Table 4", display.id,
                                                                         Decimal("50.00"))
        assert row.lines == [{"name": "Çay", "quantity": 2, "unit_amount": "15.00"},
                             {"name": "Simit", "quantity": 1, "unit_amount": "20.00"}]
    with time_machine.travel(T0 + 30, tick=False):
        tx = orders.begin(order, "TRX", "TRX")
        row = ledger.get(tx_id=tx)
        assert row.order_id == order.id and row.status == "waiting"
        assert row.coin_amount == Decimal(sandbox.state.transactions[tx]["coinAmount"])
        assert row.deadline == at(T0 + 630) and row.created_at == at(T0)  # its start: the order's
        assert (row.started_by_kind, row.started_by) == ("till", "till-1")
        assert row.note == "Table 4"  # upstream's note, without the kiosk's reference
        sandbox.pay(tx, share="full")
        assert orders.state(order, look=True).status == "paid"
        row = ledger.get(order_id=order.id)
        assert row.status == "paid" and row.paid_at == at(T0 + 30)
    assert len(ledger.all()) == 1


def test_an_order_nobody_picks_up_expires_in_the_ledger(sandbox, client, tmp_path, ledger_url):
    from kiosk.checkout import LocalStore

    store = LocalStore(tmp_path / "kiosk.sqlite3")
    checkout = Checkout(client, store, payment_timeout=600)
    displays = Displays(store)
    orders = Orders(store, checkout, displays, min_amount=Decimal("1"), max_amount=Decimal("100000"))
    ledger = Ledger(make_engine(ledger_url))
    follow(checkout, orders, Booking(ledger, store))
    with time_machine.travel(T0, tick=False) as clock:
        display = displays.pair(displays.issue("127.0.0.1")[1].code, "Counter 1", "till")
        order = orders.send(display, Decimal("20"))
        assert ledger.get(order_id=order.id).started_by_kind == "cashier"
        clock.shift(600)
        assert orders.sweep() == 1  # the watcher's sweep
        row = ledger.get(order_id=order.id)
        assert (row.status, row.cancel_reason, row.tx_id, row.closed_at) == ("expired", "deadline", None,
                                                                             at(T0 + 600))
    assert sandbox.calls("create") == 0


def test_a_ledger_away_never_breaks_a_payment_and_the_sweep_catches_it_up(desk, tmp_path, caplog):
    """The ledger's SQLite file in a folder that is not there yet: every write fails, as with a
    database that does not answer. Payments go on; the folder appears; the sweep writes it all."""
    d = desk()
    folder = tmp_path / "later"
    ledger = Ledger(make_engine(f"sqlite:///{folder / 'ledger.sqlite3'}"))
    booking = Booking(ledger, d.store)
    follow(d.checkout, None, booking)
    jobs = Jobs(make_queue(tmp_path, None), d.checkout, d.store, booking=booking)
    caplog.set_level(logging.WARNING, logger="kiosk.ledger")
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start("42.10")
        clock.shift(10)
        d.sandbox.pay(tx, share="full")
        assert d.view(tx).outcome == "paid"  # the payment is untouched by the ledger's absence
        assert booking.waiting() == 2  # created, paid
        assert any("could not be written" in r.getMessage() for r in caplog.records)
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
        assert jobs._sweep(lag=0.0)["ledger"] == 0 and booking.waiting() == 2  # still away
        folder.mkdir()
        clock.shift(60)
        assert jobs._sweep(lag=0.0)["ledger"] == 2
        assert booking.waiting() == 0
        row = ledger.get(tx_id=tx)
        assert (row.status, row.amount, row.paid_at) == ("paid", Decimal("42.10"), at(T0 + 10))
        assert row.coin_amount == Decimal(d.upstream(tx)["coinAmount"]) and row.version == 2
        assert jobs._sweep(lag=0.0)["ledger"] == 0
        # Writes go straight to the ledger again.
        again = d.start("10")
        assert ledger.get(tx_id=again).status == "waiting" and booking.waiting() == 0


def test_a_ledger_away_is_said_until_its_entries_are_written(desk, tmp_path):
    """After a failed write this process keeps its entries for 30 s (no wait on the ledger for
    each event) and says the ledger is away; the pause ends at 30 s, or as soon as another
    process (the watcher's heartbeat) has written what waited."""
    from kiosk.checkout.booking import PAUSE
    from kiosk.jobs import Runner

    d = desk()
    folder = tmp_path / "later"
    ledger = Ledger(make_engine(f"sqlite:///{folder / 'ledger.sqlite3'}"))
    booking = Booking(ledger, d.store)
    follow(d.checkout, None, booking)
    with time_machine.travel(T0, tick=False) as clock:
        assert not booking.away()
        tx = d.start("42.10")  # its write fails: paused until T0 + 30
        assert booking.away() and booking.waiting() == 1
        clock.shift(PAUSE - 0.001)
        assert booking.away()
        clock.shift(0.001)
        assert not booking.away()  # the pause is over: the next write tries the ledger again
        d.sandbox.pay(tx, share="full")
        assert d.view(tx).outcome == "paid"  # written at T0 + 30: fails again, kept
        assert booking.away() and booking.waiting() == 2
        folder.mkdir()
        clock.shift(1)
        # The watcher's process, with its own booking.
        watcher = Jobs(make_queue(tmp_path, None), d.checkout, d.store, booking=Booking(ledger, d.store))
        Runner(watcher)._ledger()  # its heartbeat: entries wait, so it writes them
        assert booking.waiting() == 0 and ledger.get(tx_id=tx).status == "paid"
        assert not booking.away()  # before its own pause ended
        again = d.start("10")
        assert ledger.get(tx_id=again).status == "waiting" and booking.waiting() == 0


def test_the_status_screen_says_reconnecting_while_the_ledger_is_away(customer, tmp_path):
    services = customer.web.application.extensions["kiosk"]
    services.booking.ledger = Ledger(make_engine(f"sqlite:///{tmp_path / 'missing' / 'l.sqlite3'}"))
    tx = customer.start("300")  # its row cannot be written
    assert customer.poll(tx) == ("waiting+reconnecting", None)
    customer.sandbox.pay(tx, share="half")
    assert customer.poll(tx) == ("partly_paid+reconnecting", None)
    customer.sandbox.pay(tx, share="full")
    assert customer.poll(tx) == ("paid", f"/result/{tx}")  # a result never says it
    assert customer.result(tx) == "paid"
    (tmp_path / "missing").mkdir()
    assert services.booking.catch_up() == 3  # created, partly paid, paid
    again = customer.start("300")
    assert customer.poll(again) == ("waiting", None)


def test_the_first_upgrade_imports_what_the_store_holds(desk, sandbox, client, ledger_url, tmp_path):
    """An install from before the ledger: its checkouts live in the key-value store only."""
    d = desk(payment_timeout=60)
    displays = Displays(d.store)
    orders = Orders(d.store, d.checkout, displays, min_amount=Decimal("1"), max_amount=Decimal("100000"))
    with time_machine.travel(T0, tick=False) as clock:
        open_one = d.start("100")
        partly = d.start("200")
        d.sandbox.pay(partly, share="half")
        d.view(partly)
        paid = d.start("300")
        d.sandbox.pay(paid, share="full")
        d.view(paid)
        cancelled = d.start("400")
        d.checkout.cancel(d.checkout.record(cancelled))
        display = displays.pair(displays.issue("127.0.0.1")[1].code, "Counter 1", "till")
        waiting_order = orders.send(display, Decimal("50.00"), reference="till-1",
                                    lines=(Line("Çay", 1, Decimal("50.00")),), source="api")
        clock.shift(5)
        ledger = Ledger(make_engine(ledger_url), seed=lambda: store_checkouts(d.store, "TRY"))
        done = ledger.upgrade()
        assert (done.before, done.after, done.imported) == (None, HEAD, 5)
        rows = {row.tx_id or row.order_id: row for row in ledger.all()}
        assert {k: rows[k].status for k in rows} == {
            open_one: "waiting", partly: "partly_paid", paid: "paid", cancelled: "cancelled",
            waiting_order.id: "pending"}
        assert rows[cancelled].cancel_reason == "customer" and rows[paid].amount == Decimal("300")
        assert (rows[open_one].started_by_kind, rows[open_one].created_at) == ("kiosk", at(T0))
        assert rows[waiting_order.id].started_by_kind == "till"
        assert rows[waiting_order.id].lines == [{"name": "Çay", "quantity": 1, "unit_amount": "50.00"}]
        assert rows[open_one].coin_amount is None  # upstream's quote is not in the store...
        again = ledger.upgrade()
        assert (again.before, again.imported) == (HEAD, 0) and len(ledger.all()) == 5
        # ... the open checkout's next event fills it in, and the watcher ends it.
        follow(d.checkout, orders, Booking(ledger, d.store))
        clock.shift(60)
        d.watch_now(open_one)
        row = ledger.get(tx_id=open_one)
        assert (row.status, row.version) == ("expired", 2)
        assert row.coin_amount == Decimal(d.upstream(open_one)["coinAmount"])


def test_the_first_upgrade_imports_a_fleets_store_in_redis(sandbox, client, redis_url, ledger_url):
    import secrets

    import redis

    from kiosk.checkout import RedisStore

    store = RedisStore(redis.Redis.from_url(redis_url))
    checkout = Checkout(client, store, payment_timeout=600)
    with time_machine.travel(T0, tick=False):
        open_one = checkout.start(secrets.token_hex(8), Decimal("12.34"), "TRX", "TRX", owner="display:d7",
                                  display="d7")
        paid = checkout.start(secrets.token_hex(8), Decimal("56.78"), "TRX", "TRX", owner="kiosk:k2")
        sandbox.pay(paid, share="full")
        checkout.view(checkout.record(paid))
        ledger = Ledger(make_engine(ledger_url), seed=lambda: store_checkouts(store, "TRY"))
        assert ledger.upgrade().imported == 2
    rows = {row.tx_id: row for row in ledger.all()}
    assert (rows[open_one].status, rows[open_one].started_by_kind, rows[open_one].started_by,
            rows[open_one].display_id, rows[open_one].amount) == ("waiting", "display", "d7", "d7",
                                                                  Decimal("12.34"))
    assert (rows[paid].status, rows[paid].started_by, rows[paid].amount) == ("paid", "k2", Decimal("56.78"))
