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
from sqlalchemy.exc import OperationalError

from kiosk.checkout import Checkout
from kiosk.checkout.booking import Booking, follow, store_checkouts, store_items
from kiosk.displays import Displays, Line, Orders
from kiosk.jobs import Jobs, make_queue
from kiosk.ledger import Ledger, make_engine
from kiosk.ledger.migrate import head

from .. import old_store
from ..desk import T0

HEAD = head()  # the newest migration


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@pytest.fixture
def book(desk, ledger_url):
    """A desk (tests/desk.py) whose checkouts' rows are in a ledger on `ledger_url`."""

    def build(**settings):
        ledger = Ledger(make_engine(ledger_url))
        ledger.upgrade()
        return desk(ledger=ledger, **settings)

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
    ledger = Ledger(make_engine(ledger_url))
    ledger.upgrade()
    checkout = Checkout(client, store, ledger=ledger, payment_timeout=600)
    displays = Displays(store)
    orders = Orders(store, checkout, displays, min_amount=Decimal("1"), max_amount=Decimal("100000"))
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
    ledger = Ledger(make_engine(ledger_url))
    checkout = Checkout(client, store, ledger=ledger, payment_timeout=600)
    displays = Displays(store)
    orders = Orders(store, checkout, displays, min_amount=Decimal("1"), max_amount=Decimal("100000"))
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


class Away(Ledger):
    """A ledger whose database does not answer while `away`."""

    away = False

    def ensure(self) -> None:
        if self.away:
            raise OperationalError("SELECT 1", {}, Exception("connection refused"))
        super().ensure()


def test_while_the_ledger_is_away_screens_say_reconnecting_and_nothing_is_lost(desk, tmp_path, caplog):
    """The ledger holds each checkout's state: while its database does not answer, a payment
    can start (its row is made at its next look), the screens say "reconnecting", nothing is
    decided or cancelled; once it answers, the sale goes on where upstream is, and every sale
    is in the ledger."""
    ledger = Away(make_engine(f"sqlite:///{tmp_path / 'away.sqlite3'}"))
    d = desk(ledger=ledger, payment_timeout=60)
    with time_machine.travel(T0, tick=False) as clock:
        ledger.away = True
        tx = d.start("42.10")
        assert d.events(tx) == ["created"]  # told all the same: the display and the till follow it
        d.sandbox.pay(tx, share="half")
        view = d.view(tx)
        assert view.reconnecting and view.outcome == "partly_paid"  # as upstream shows it; nothing decided
        clock.shift(60)  # the deadline passes while the ledger is away
        assert d.view(tx).reconnecting and d.calls("cancel") == 0
        assert d.watch_now(tx) == T0 + 60 + 15  # the watcher comes back
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
        ledger.away = False
        d.sandbox.pay(tx, share="full")
        assert d.view(tx).outcome == "paid" and d.calls("cancel") == 0
        row = ledger.get(tx_id=tx)
        assert (row.status, row.amount, row.paid_at) == ("paid", Decimal("42.10"), at(T0 + 60))
        assert row.version == 2  # made at its first look, then paid
        assert row.coin_amount == Decimal(d.upstream(tx)["coinAmount"])
        assert d.events(tx) == ["created", "paid"]


def test_while_the_ledger_is_away_a_screen_shows_the_coins_it_saw_on_their_way(desk, tmp_path):
    ledger = Away(make_engine(f"sqlite:///{tmp_path / 'away.sqlite3'}"))
    d = desk(ledger=ledger)
    with time_machine.travel(T0, tick=False):
        tx = d.start()
        d.sandbox.pay(tx, share="half")
        assert d.view(tx).outcome == "partly_paid"
        ledger.away = True
        view = d.view(tx)
        assert view.reconnecting and view.outcome == "partly_paid" and view.tx.is_partial
        other = d.another_worker().view(d.checkout.record(tx))  # it reads upstream all the same
        assert other.reconnecting and other.outcome == "partly_paid"


def test_a_ledger_away_is_said_until_its_entries_are_written(desk, tmp_path):
    """An order's entries (a checkout's own row is its runner's): after a failed write the
    booking keeps them for 30 s (no wait on the ledger for each event) and says the ledger is
    away; the pause ends at 30 s, or as soon as another process (the watcher's heartbeat) has
    written what waited."""
    from kiosk.checkout.booking import PAUSE
    from kiosk.jobs import Runner
    from kiosk.ledger import Entry

    d = desk()
    folder = tmp_path / "later"
    ledger = Ledger(make_engine(f"sqlite:///{folder / 'ledger.sqlite3'}"))
    booking = Booking(ledger, d.store)

    def order(name: str, status: str, at: float) -> Entry:
        return Entry(at=at, order_id=name, status=status, started_by_kind="till", started_by="till",
                     amount=Decimal("42.10"), currency="TRY", created=T0)

    with time_machine.travel(T0, tick=False) as clock:
        assert not booking.away()
        booking.write(order("o1", "pending", T0))  # its write fails: paused until T0 + 30
        assert booking.away() and booking.waiting() == 1
        clock.shift(PAUSE - 0.001)
        assert booking.away()
        clock.shift(0.001)
        assert not booking.away()  # the pause is over: the next write tries the ledger again
        booking.write(order("o1", "cancelled", T0 + PAUSE))  # fails again, kept
        assert booking.away() and booking.waiting() == 2
        folder.mkdir()
        clock.shift(1)
        # The watcher's process, with its own booking.
        watcher = Jobs(make_queue(tmp_path, None), d.checkout, d.store, booking=Booking(ledger, d.store))
        Runner(watcher)._ledger()  # its heartbeat: entries wait, so it writes them
        assert booking.waiting() == 0 and ledger.get(order_id="o1").status == "cancelled"
        assert not booking.away()  # before its own pause ended
        booking.write(order("o2", "pending", T0 + PAUSE + 1))
        assert ledger.get(order_id="o2").status == "pending" and booking.waiting() == 0


def test_the_status_screen_says_reconnecting_while_the_ledger_is_away(customer, tmp_path):
    """The runner writes each checkout's row: while it cannot, a waiting screen says it is
    reconnecting, a result upstream shows is given (never reconnecting) unwritten, and the next
    look writes it."""
    services = customer.web.application.extensions["kiosk"]
    runner = services.checkout.runner
    kept = runner.ledger
    kept.ensure()  # made before: its first upgrade would import the store's open checkouts
    runner.ledger = Ledger(make_engine(f"sqlite:///{tmp_path / 'missing' / 'l.sqlite3'}"))
    tx = customer.start("300")  # its row cannot be written
    assert customer.poll(tx) == ("waiting+reconnecting", None)
    customer.sandbox.pay(tx, share="half")
    assert customer.poll(tx) == ("partly_paid+reconnecting", None)
    paid = customer.sandbox.pay(tx, share="full")
    assert customer.poll(tx) == ("paid", f"/result/{tx}")  # a result never says it
    assert customer.result(tx) == "paid"
    assert kept.get(tx_id=tx) is None  # shown, not written
    runner.ledger = kept  # the ledger answers again
    assert customer.result(tx) == "paid"  # the next look writes it
    row = kept.get(tx_id=tx)
    assert (row.status, row.amount) == ("paid", Decimal("300.00"))
    assert row.received == Decimal(str(paid["totalTransferAmount"])) and row.paid_at is not None
    again = customer.start("300")
    assert customer.poll(again) == ("waiting", None)


def test_the_first_upgrade_imports_what_the_store_holds(desk, ledger_url):
    """An install from before the ledger: its checkouts and attention items live in the
    key-value store only (tests/old_store.py writes them as it did)."""
    d = desk(payment_timeout=60)
    displays = Displays(d.store)
    orders = Orders(d.store, d.checkout, displays, min_amount=Decimal("1"), max_amount=Decimal("100000"))
    item = {"kind": "partial", "at": T0 + 2, "amount": "500", "coin": "TRX", "network": "TRX",
            "received": "6.5", "expected": "40"}
    with time_machine.travel(T0, tick=False) as clock:
        open_one = old_store.checkout(d.store, d.sandbox, "100", "kiosk:a", at=T0, timeout=60)
        partly = old_store.checkout(d.store, d.sandbox, "200", "kiosk:a", at=T0, partly=True)
        paid = old_store.checkout(d.store, d.sandbox, "300", "kiosk:a", at=T0, final="paid")
        cancelled = old_store.checkout(d.store, d.sandbox, "400", "kiosk:a", at=T0, final="cancelled",
                                       cancel="customer")
        kept = old_store.checkout(d.store, d.sandbox, "500", "display:d7", at=T0, display="d7",
                                  final="partial", cancel="deadline", attention=item)
        display = displays.pair(displays.issue("127.0.0.1")[1].code, "Counter 1", "till")
        waiting_order = orders.send(display, Decimal("50.00"), reference="till-1",
                                    lines=(Line("Çay", 1, Decimal("50.00")),), source="api")
        clock.shift(5)
        ledger = Ledger(make_engine(ledger_url), seed=lambda: store_checkouts(d.store, "TRY"),
                        items=lambda: store_items(d.store))
        done = ledger.upgrade()
        assert (done.before, done.after, done.imported) == (None, HEAD, 6)
        rows = {row.tx_id or row.order_id: row for row in ledger.all()}
        assert {k: rows[k].status for k in rows} == {
            open_one: "waiting", partly: "partly_paid", paid: "paid", cancelled: "cancelled", kept: "partial",
            waiting_order.id: "pending"}
        assert rows[cancelled].cancel_reason == "customer" and rows[paid].amount == Decimal("300")
        assert (rows[kept].cancel_reason, rows[kept].attention, rows[kept].received) == (
            "deadline", ["partial"], Decimal("6.5"))
        assert (rows[kept].started_by_kind, rows[kept].started_by, rows[kept].display_id) == (
            "display", "d7", "d7")
        assert (rows[open_one].started_by_kind, rows[open_one].created_at) == ("kiosk", at(T0))
        assert rows[waiting_order.id].started_by_kind == "till"
        assert rows[waiting_order.id].lines == [{"name": "Çay", "quantity": 1, "unit_amount": "50.00"}]
        assert rows[open_one].coin_amount is None  # upstream's quote is not in the store...
        again = ledger.upgrade()
        assert (again.before, again.imported) == (HEAD, 0) and len(ledger.all()) == 6
        d.checkout.ledger = d.ledger = ledger
        assert d.attention() == {kept: item}  # the operator's "Today" keeps its item
        # ... the open checkout's next look fills it in, and the watcher ends it, in one write.
        clock.shift(60)
        d.watch_now(open_one)
        row = ledger.get(tx_id=open_one)
        assert (row.status, row.version, row.cancel_reason) == ("expired", 2, "deadline")
        assert row.coin_amount == Decimal(d.upstream(open_one)["coinAmount"])
        assert d.checkout.last_outcome(paid) == "paid" and d.checkout.cancel_reason(cancelled) == "customer"


def test_the_first_upgrade_imports_a_fleets_store_in_redis(sandbox, redis_url, ledger_url):
    import redis

    from kiosk.checkout import RedisStore

    store = RedisStore(redis.Redis.from_url(redis_url))
    with time_machine.travel(T0, tick=False):
        open_one = old_store.checkout(store, sandbox, "12.34", "display:d7", at=T0, display="d7")
        paid = old_store.checkout(store, sandbox, "56.78", "kiosk:k2", at=T0, final="paid")
        ledger = Ledger(make_engine(ledger_url), seed=lambda: store_checkouts(store, "TRY"),
                        items=lambda: store_items(store))
        assert ledger.upgrade().imported == 2
    rows = {row.tx_id: row for row in ledger.all()}
    assert (rows[open_one].status, rows[open_one].started_by_kind, rows[open_one].started_by,
            rows[open_one].display_id, rows[open_one].amount) == ("waiting", "display", "d7", "d7",
                                                                  Decimal("12.34"))
    assert (rows[paid].status, rows[paid].started_by, rows[paid].amount) == ("paid", "k2", Decimal("56.78"))
