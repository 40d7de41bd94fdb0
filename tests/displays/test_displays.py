"""Displays and the orders sent to them, without Flask: pairing codes, credentials, modes, busy,
pending orders, and their one upstream transaction. On the SQLite store and on a real Redis."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from decimal import Decimal

import pytest
import time_machine

from kiosk.checkout import Checkout, LocalStore, RedisStore
from kiosk.checkout.inputs import InputError
from kiosk.displays import (
    DisplayBusy,
    DisplayNotInTillMode,
    DisplayOffline,
    Displays,
    Line,
    OrderEnded,
    Orders,
    PairingError,
    pairing,
    parse_lines,
)
from kiosk.displays.registry import (
    HANDOVER_SECONDS,
    NEW_CODES,
    SEEN_EVERY,
    Display,
    credential_hash,
    new_credential,
)
from kiosk.ledger import Ledger, make_engine


@pytest.fixture(params=["sqlite", "redis"])
def store(request, tmp_path):
    if request.param == "sqlite":
        return LocalStore(tmp_path / "kiosk.sqlite3")
    import redis

    return RedisStore(redis.Redis.from_url(request.getfixturevalue("redis_url")))


@pytest.fixture
def displays(store) -> Displays:
    return Displays(store)


@pytest.fixture
def orders(store, client, displays, tmp_path) -> Orders:
    ledger = Ledger(make_engine(f"sqlite:///{tmp_path / 'ledger.sqlite3'}"))
    checkout = Checkout(client, store, ledger=ledger, payment_timeout=600)
    return Orders(store, checkout, displays, min_amount=Decimal("1"), max_amount=Decimal("100000"))


ADDRESS = "192.0.2.7"


def issued(displays: Displays) -> tuple[str, str]:
    """A browser the kiosk issued a credential to: the credential and the code it shows."""
    credential, code = displays.issue(ADDRESS)
    return credential, code.code


def paired(displays: Displays, name: str = "Counter 1", mode: str = "till"):
    """A paired display whose browser has collected its own credential: (display, credential)."""
    shown, code = issued(displays)
    display = displays.pair(code, name, mode)
    handed, credential = displays.hand_over(shown)
    assert handed == display
    return display, credential


# -- pairing codes ------------------------------------------------------------------------------


def test_codes_use_six_characters_without_look_alikes():
    codes = {pairing.new_code() for _ in range(2000)}
    assert len(codes) > 1990
    seen = set("".join(codes))
    assert seen <= set(pairing.ALPHABET) and not seen & set("0O1IL")
    assert all(len(c) == 6 for c in codes)
    assert len(set(pairing.ALPHABET)) == 31


@pytest.mark.parametrize(("typed", "code"), [("abc-def", "ABCDEF"), (" ab cd ef ", "ABCDEF"),
                                              ("ABCDE", None), ("ABCDEFG", None), ("ABCDE0", None),
                                              ("ABCDEI", None), ("", None), (None, None)])
def test_typed_codes_are_normalized(typed, code):
    assert pairing.normalize(typed) == code


def test_a_browser_keeps_its_code_until_shortly_before_it_expires(displays):
    with time_machine.travel(1_800_000_000, tick=False) as clock:
        credential, _ = issued(displays)
        first = displays.code_for(credential, ADDRESS)
        assert first.expires == 1_800_000_000 + 600
        clock.shift(600 - 61)  # 61 s left: still the same code
        assert displays.code_for(credential, ADDRESS) == first
        clock.shift(1)  # 60 s left: a new one, and the old one still pairs until its end
        second = displays.code_for(credential, ADDRESS)
        assert second.code != first.code and second.expires == 1_800_000_000 + 540 + 600
        assert displays.pair(first.code, "Counter 1", "till").credential_hash == credential_hash(credential)


def test_an_expired_code_pairs_nothing(displays):
    with time_machine.travel(1_800_000_000, tick=False) as clock:
        _, code = issued(displays)
        clock.shift(600)
        with pytest.raises(PairingError, match="not valid or has expired"):
            displays.pair(code, "Counter 1", "till")
    assert displays.all() == []


def test_pairing_binds_the_browser_credential_to_a_record(displays):
    display, credential = paired(displays, "Counter 1", "till")
    assert displays.by_credential(credential) == display
    assert displays.by_credential(new_credential()) is None
    assert displays.by_credential("short") is None and displays.by_credential(None) is None
    assert [d.id for d in displays.all()] == [display.id]
    assert credential not in display.dumps()  # only its hash is kept
    # A code pairs once; the same code again is refused.
    _, code = issued(displays)
    displays.pair(code, "Counter 2", "till")
    with pytest.raises(PairingError, match="not valid"):
        displays.pair(code, "Counter 3", "till")
    assert len(displays.all()) == 2


def test_a_code_pairs_once_even_when_two_staff_send_it_at_once(displays):
    _, code = issued(displays)
    results: list[object] = []

    def pair(name: str) -> None:
        try:
            results.append(displays.pair(code, name, "till"))
        except PairingError as exc:
            results.append(exc)

    threads = [threading.Thread(target=pair, args=(f"Counter {n}",)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(displays.all()) == 1
    assert sum(not isinstance(r, PairingError) for r in results) == 1


@pytest.mark.parametrize(("name", "mode", "message"), [
    ("", "till", "Give the display a name"),
    ("x" * 41, "till", "at most %(max)d"),
    ("Counter 1", "kiosk", "till or keypad"),
    ("Counter\x001", "till", "at most %(max)d"),
])
def test_bad_pairing_input_changes_nothing(displays, name, mode, message):
    _, code = issued(displays)
    with pytest.raises(PairingError, match=re.escape(message)):
        displays.pair(code, name, mode)
    assert displays.all() == []
    assert displays.pair(code, "x" * 40, "keypad").name == "x" * 40  # the code still works


def test_rename_mode_and_unpair(displays):
    display, credential = paired(displays)
    display = displays.rename(display, "  Front   desk ")
    display = displays.set_mode(display, "keypad")
    assert displays.by_credential(credential) == display
    assert (display.name, display.mode) == ("Front desk", "keypad")
    with pytest.raises(PairingError):
        displays.set_mode(display, "other")
    displays.unpair(display)
    assert displays.by_credential(credential) is None and displays.all() == []
    # The same browser is a new one again: its old credential gets nothing, it is issued a new one.
    assert displays.code_for(credential, ADDRESS) is None and displays.hand_over(credential) is None
    assert displays.issue(ADDRESS) is not None


# -- credentials: only the kiosk's own, handed over at pairing --------------------------------------


def test_a_credential_the_kiosk_did_not_issue_gets_nothing_and_writes_nothing(displays, store):
    made_up = new_credential()  # the right shape, never issued
    before = store.items("")
    assert displays.code_for(made_up, ADDRESS) is None and displays.shown_code(made_up) is None
    assert displays.by_credential(made_up) is None and displays.hand_over(made_up) is None
    assert displays.hand_over("short") is None and displays.hand_over(None) is None
    assert store.items("") == before


def test_new_codes_per_address_stop_at_the_limit(displays, store):
    limit, _window = NEW_CODES
    for _ in range(limit):
        assert displays.issue(ADDRESS) is not None
    assert displays.issue(ADDRESS) is None  # one past the limit: its counter is all it wrote
    assert len(store.items("pairing:")) == limit == len(store.items("display-new:"))
    assert displays.issue("192.0.2.8") is not None


def test_pairing_hands_the_display_a_fresh_credential_and_retires_the_one_it_showed(displays, store):
    shown, code = issued(displays)
    display = displays.pair(code, "Counter 1", "till")
    # Paired, but the credential that showed the code is nobody's display: it can only collect.
    assert displays.by_credential(shown) is None and displays.shown_code(shown) is None
    handed, fresh = displays.hand_over(shown)
    assert handed == display and fresh != shown
    assert displays.by_credential(fresh) == display
    assert displays.by_credential(shown) is None and displays.hand_over(shown) is None
    assert displays.hand_over(fresh) is None  # a display holding its own: nothing to hand over
    text = repr(store.items(""))
    assert shown not in text and fresh not in text and credential_hash(fresh) in text  # hashes only
    with pytest.raises(PairingError, match="not valid"):
        displays.pair(code, "Counter 2", "till")


def test_a_browser_pairs_once_whichever_of_its_codes_staff_type(displays):
    with time_machine.travel(1_800_000_000, tick=False) as clock:
        shown, first = issued(displays)
        clock.shift(pairing.VALID_SECONDS - pairing.RENEW_BEFORE)
        second = displays.code_for(shown, ADDRESS).code  # renewed; the first pairs until its end
        assert second != first
        displays.pair(second, "Counter 1", "till")
        with pytest.raises(PairingError, match="not valid"):
            displays.pair(first, "Counter 2", "till")
    assert len(displays.all()) == 1


def test_of_requests_presenting_the_paired_credential_at_once_exactly_one_collects_it(displays):
    shown, code = issued(displays)
    displays.pair(code, "Counter 1", "till")
    start = threading.Barrier(8)
    results: list[object] = []

    def collect() -> None:
        start.wait(10)
        results.append(displays.hand_over(shown))

    threads = [threading.Thread(target=collect) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [r for r in results if r is not None]
    assert len(results) == 8 and len(won) == 1
    assert displays.by_credential(won[0][1]) is not None and displays.by_credential(shown) is None


def test_a_paired_display_collects_its_credential_within_ten_minutes(tmp_path):
    displays = Displays(LocalStore(tmp_path / "kiosk.sqlite3"))  # the kiosk's clock decides here
    with time_machine.travel(1_800_000_000, tick=False) as clock:
        late, code = issued(displays)
        displays.pair(code, "Late", "till")
        on_time, code = issued(displays)
        displays.pair(code, "On time", "till")
        clock.shift(HANDOVER_SECONDS - 0.001)
        assert displays.hand_over(on_time) is not None
        clock.shift(0.001)
        assert displays.hand_over(late) is None  # staff pair it again
    assert HANDOVER_SECONDS == pairing.VALID_SECONDS


def test_a_store_that_refuses_writes_leaves_the_handover_for_the_next_look(tmp_path):
    import sqlite3

    store = LocalStore(tmp_path / "kiosk.sqlite3")
    displays = Displays(store)
    shown, code = issued(displays)
    display = displays.pair(code, "Counter 1", "till")
    store._db().execute("PRAGMA query_only=ON")  # read-only, for this thread's connection
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        displays.hand_over(shown)
    store._db().execute("PRAGMA query_only=OFF")
    handed, fresh = displays.hand_over(shown)
    assert handed == display and displays.by_credential(fresh) == display


def test_a_display_paired_by_an_earlier_version_is_rotated_once(displays, store):
    """Earlier versions bound whatever credential the browser sent; such a display keeps working
    and gets a credential of the kiosk's own at its next look, which retires the old one."""
    old = new_credential()
    display = Display("a1b2c3d4e5f6", "Counter 1", "till", credential_hash(old), 1_800_000_000.0)
    store.set(f"display:{display.id}", display.dumps())
    store.set(f"display-cred:{credential_hash(old)}", display.id)
    assert displays.by_credential(old) == display
    handed, fresh = displays.hand_over(old)
    assert handed == display and displays.by_credential(fresh) == display
    assert displays.by_credential(old) is None and displays.hand_over(old) is None
    assert displays.hand_over(fresh) is None
    displays.unpair(display)
    assert displays.by_credential(fresh) is None and store.items("display") == []


def test_unpairing_before_the_handover_leaves_nothing_to_collect(displays, store):
    shown, code = issued(displays)
    display = displays.pair(code, "Counter 1", "till")
    displays.unpair(display)
    assert displays.hand_over(shown) is None and store.items("display") == []


def test_online_means_seen_within_thirty_seconds_and_seen_is_written_sparingly(displays, store):
    with time_machine.travel(1_800_000_000, tick=False) as clock:
        display, _ = paired(displays)
        assert displays.online(display)
        clock.shift(30)
        assert displays.online(display)
        clock.shift(1)
        assert not displays.online(display)
        displays.seen(display)
        assert displays.last_seen(display) == 1_800_000_031
        clock.shift(SEEN_EVERY - 1)
        displays.seen(display)  # within SEEN_EVERY: no write
        assert displays.last_seen(display) == 1_800_000_031
        clock.shift(1)
        displays.seen(display)
        assert displays.last_seen(display) == 1_800_000_031 + SEEN_EVERY


# -- orders ------------------------------------------------------------------------------------


def test_an_order_waits_on_the_display_then_pays(orders, displays, sandbox):
    display, _ = paired(displays)
    lines = (Line("Çay", 2, Decimal("15.00")), Line("Simit", 1, Decimal("20.00")))
    order = orders.send(display, Decimal("50.00"), reference="till-4711", note="Table 4", lines=lines)
    assert orders.current(display) == order and orders.busy(display)
    assert orders.state(order).status == "pending"
    assert sandbox.calls("create") == 0  # nothing upstream until the customer picks a coin
    tx_id = orders.begin(order, "TRX", "TRX")
    assert orders.begin(order, "TRX", "TRX") == tx_id  # a double tap
    assert sandbox.calls("create") == 1
    [tx] = sandbox.transactions()
    # The note goes upstream with the kiosk's own reference after it (by which a lost create is found).
    assert tx["statusNote"].startswith("Table 4 kiosk:") and Decimal(tx["currencyAmount"]) == Decimal("50")
    record = orders.checkout.record(tx_id)
    assert (record.owner, record.display, record.order) == (f"display:{display.id}", display.id, order.id)
    assert orders.state(order, look=True).status == "waiting"
    sandbox.pay(tx_id, share="half")
    assert orders.state(order, look=True).status == "partly_paid"
    sandbox.pay(tx_id, share="full")
    state = orders.state(order, look=True)
    assert state.status == "paid" and state.final and state.cancel_reason is None
    assert not orders.busy(display)
    again = orders.get(order.id)
    assert again.lines == lines and again.tx == tx_id and again.reference == "till-4711"


def test_a_busy_display_refuses_a_second_order_and_keeps_the_first(orders, displays, sandbox):
    display, _ = paired(displays)
    first = orders.send(display, Decimal("10"))
    with pytest.raises(DisplayBusy):
        orders.send(display, Decimal("20"))
    assert orders.current(display) == first
    tx_id = orders.begin(first, "TRX", "TRX")
    with pytest.raises(DisplayBusy):
        orders.send(display, Decimal("20"))
    sandbox.pay(tx_id, share="full")
    # Paid (seen by the send itself, no screen needed): the display takes the next one.
    second = orders.send(display, Decimal("20"))
    assert orders.current(display) == second
    assert len(orders.recent()) == 2


def test_two_sends_at_once_to_an_idle_display_put_exactly_one_on_it(orders, displays):
    display, _ = paired(displays)
    won: list[str] = []

    def send(n: int) -> None:
        with contextlib.suppress(DisplayBusy):
            won.append(orders.send(display, Decimal(10 + n)).id)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and orders.current(display).id == won[0]
    assert [s.order.id for s in orders.recent()] == won  # the refused ones left nothing behind


def test_keypad_and_offline_displays_take_no_orders(orders, displays):
    keypad, _ = paired(displays, "Keypad", "keypad")
    with pytest.raises(DisplayNotInTillMode):
        orders.send(keypad, Decimal("10"))
    with time_machine.travel(time.time(), tick=False) as clock:
        till, _ = paired(displays, "Till", "till")
        clock.shift(31)
        with pytest.raises(DisplayOffline):
            orders.send(till, Decimal("10"))
    assert orders.recent() == []


@pytest.mark.parametrize(("amount", "message"), [
    (Decimal("0"), "more than zero"), (Decimal("0.99"), "smallest"), (Decimal("100000.01"), "largest"),
    (Decimal("12.345"), "at most"), (Decimal("NaN"), "at most"), (Decimal("1E+40"), "largest"),
])
def test_bad_amounts_send_nothing(orders, displays, amount, message):
    display, _ = paired(displays)
    with pytest.raises(InputError, match=message):
        orders.send(display, amount)
    assert orders.current(display) is None
    assert orders.send(display, Decimal("1")).amount == Decimal("1.00")  # the limit itself is fine


def test_lines_must_add_up_to_the_amount():
    raw = [{"name": "Çay", "quantity": 2, "unit_amount": "15.00"}]
    assert parse_lines(raw, Decimal("30.00"), "TRY") == (Line("Çay", 2, Decimal("15.00")),)
    with pytest.raises(InputError, match="add up"):
        parse_lines(raw, Decimal("30.01"), "TRY")
    for bad in ([{"name": "", "quantity": 1, "unit_amount": "1.00"}],
                [{"name": "x", "quantity": 0, "unit_amount": "1.00"}],
                [{"name": "x", "quantity": True, "unit_amount": "1.00"}],
                [{"name": "x", "quantity": 1, "unit_amount": 1.0}],
                [{"name": "x", "quantity": 1, "unit_amount": "1.001"}],
                [{"name": "x", "quantity": 1, "unit_amount": "abc"}], "lines", [1]):
        with pytest.raises(InputError):
            parse_lines(bad, Decimal("1.00"), "TRY")


def test_cancel_before_a_coin_is_picked_ends_it_with_nothing_upstream(orders, displays, sandbox):
    display, _ = paired(displays)
    order = orders.send(display, Decimal("10"))
    state = orders.cancel(order, "till")
    assert (state.status, state.cancel_reason) == ("cancelled", "till")
    with pytest.raises(OrderEnded):
        orders.begin(order, "TRX", "TRX")
    assert sandbox.calls("create") == 0 and sandbox.calls("cancel") == 0
    assert not orders.busy(display)
    # The display shows the result, then it is free; another send takes its place.
    orders.acknowledge(display, order)
    assert orders.current(display) is None


def test_cancel_after_the_coin_goes_upstream_once(orders, displays, sandbox):
    display, _ = paired(displays)
    order = orders.send(display, Decimal("10"))
    orders.begin(order, "TRX", "TRX")
    first, second = orders.cancel(order, "till"), orders.cancel(order, "customer")
    assert first.status == second.status == "cancelled" and first.cancel_reason == "till"
    assert sandbox.calls("cancel") == 1


def test_cancel_of_an_order_paid_meanwhile_says_paid(orders, displays, sandbox):
    display, _ = paired(displays)
    order = orders.send(display, Decimal("10"))
    sandbox.pay(orders.begin(order, "TRX", "TRX"), share="full")
    assert orders.cancel(order, "till").status == "paid"


def test_an_order_nobody_picks_up_expires_at_its_deadline(orders, displays, sandbox):
    with time_machine.travel(time.time(), tick=False) as clock:
        display, _ = paired(displays)
        order = orders.send(display, Decimal("10"))
        clock.shift(599)
        assert orders.state(order).status == "pending"
        clock.shift(1)
        assert orders.sweep() == 1
        state = orders.state(order)
        assert (state.status, state.cancel_reason) == ("expired", "deadline")
        with pytest.raises(OrderEnded):
            orders.begin(order, "TRX", "TRX")
        assert orders.cancel(order, "till").status == "expired"
    assert sandbox.calls("create") == 0


def test_unpair_cancels_the_open_order(orders, displays, sandbox):
    display, credential = paired(displays)
    order = orders.send(display, Decimal("10"))
    orders.begin(order, "TRX", "TRX")
    orders.unpair(display)
    assert sandbox.transactions()[0]["status"] == "CANCELLED"
    assert orders.state(order, look=True).cancel_reason == "operator"
    assert displays.by_credential(credential) is None


# -- an order follows only its own checkout ---------------------------------------------------


def test_a_form_of_the_display_never_becomes_the_orders_payment(orders, displays, sandbox):
    """The display holds a 500.00 order and is in keypad mode (as staff could make it before a
    mode was held while an order is open): its browser sends a form for 1.00 whose nonce is the
    order guard's name. That is a payment of the display's own, never the order's."""
    display, _ = paired(displays)
    order = orders.send(display, Decimal("500.00"))
    keypad = displays.set_mode(display, "keypad")  # the registry alone: past every rule of orders
    forged = orders.checkout.start(f"order-{order.id}", Decimal("1.00"), "TRX", "TRX",
                                   owner=keypad.owner, display=keypad.id)
    sandbox.pay(forged, share="full")
    assert orders.tx_of(order) is None
    state = orders.state(order, look=True)
    assert (state.status, state.view) == ("pending", None)
    # The order's own transaction is its own create, for its own amount.
    displays.set_mode(keypad, "till")
    tx_id = orders.begin(order, "TRX", "TRX")
    assert tx_id != forged and sandbox.calls("create") == 2
    assert orders.checkout.record(tx_id).amount == Decimal("500.00")
    assert orders.state(order, look=True).status == "waiting"


def test_form_guards_and_order_guards_never_share_a_key(orders, displays, sandbox):
    """Whatever nonce a form sends, its guard is not an order's: the order's create comes first
    here, and the form with the order guard's name still makes a payment of its own."""
    display, _ = paired(displays)
    order = orders.send(display, Decimal("500.00"))
    order_tx = orders.begin(order, "TRX", "TRX")
    for nonce in (f"order-{order.id}", order.id, f"order:{order.id}"):
        form_tx = orders.checkout.start(nonce, Decimal("1.00"), "TRX", "TRX", owner=display.owner,
                                        display=display.id)
        assert form_tx != order_tx and orders.checkout.record(form_tx).order is None
    assert orders.tx_of(order) == order_tx and sandbox.calls("create") == 4


def planted(orders, the_order, tx_id: str, changes: dict) -> None:
    """Rewrite what the store holds: the checkout's record, or the order's own key."""
    from dataclasses import replace

    store = orders.store
    record_changes = {k: v for k, v in changes.items() if k in ("order", "amount", "display")}
    if record_changes:
        record = orders.checkout.record(tx_id)
        store.set(f"tx:{tx_id}", replace(record, **record_changes).dumps())
    link = {k.removeprefix("link_"): v for k, v in changes.items() if k.startswith("link_")}
    if link:
        import json

        text = store.get(f"order-tx:{the_order.id}")
        store.set(f"order-tx:{the_order.id}", json.dumps({**json.loads(text), **link}))


@pytest.mark.parametrize("changes", [
    {"order": "chk_0000000000000000"},  # the record names another order
    {"order": None},  # ... or none: a keypad payment of the same display
    {"amount": Decimal("499.99")},  # the record's amount is a cent under the order's
    {"amount": Decimal("500.01")},  # ... or over
    {"display": "ffffffffffff"},  # another display's checkout
    {"link_amount": "1.00"},  # the order's own key names another amount
    {"link_order": "chk_0000000000000000"},  # ... or another order
], ids=["other-order", "no-order", "cent-under", "cent-over", "other-display", "key-amount", "key-order"])
def test_only_a_checkout_naming_this_order_and_its_amount_is_the_orders(orders, displays, sandbox, changes):
    display, _ = paired(displays)
    order = orders.send(display, Decimal("500.00"))
    tx_id = orders.begin(order, "TRX", "TRX")
    assert orders.tx_of(order) == tx_id  # the control: as made, it is the order's
    planted(orders, order, tx_id, changes)
    sandbox.pay(tx_id, share="full")
    assert orders.tx_of(order) is None
    assert orders.state(order, look=True).status != "paid"


def test_an_orders_transaction_field_alone_makes_nothing_its_payment(orders, displays, sandbox):
    """The order's own `tx` field (kept for orders begun before the order's own key existed) is
    believed only when the checkout's record names the order and its amount."""
    from dataclasses import replace

    display, _ = paired(displays)
    order = orders.send(display, Decimal("500.00"))
    other = orders.checkout.start("f" * 24, Decimal("1.00"), "TRX", "TRX", owner=display.owner,
                                  display=display.id)
    orders.store.set(f"order:{order.id}", replace(order, tx=other).dumps())
    sandbox.pay(other, share="full")
    assert orders.tx_of(orders.get(order.id)) is None
    assert orders.state(orders.get(order.id), look=True).status == "pending"


# -- a display keeps its mode while it holds an open order ------------------------------------


def test_a_display_keeps_its_mode_while_its_order_is_open(orders, displays, sandbox):
    display, _ = paired(displays)
    order = orders.send(display, Decimal("10"))
    with pytest.raises(DisplayBusy):  # sent, no coin picked yet
        orders.set_mode(display, "keypad")
    assert displays.get(display.id).mode == "till"
    assert orders.set_mode(display, "till").mode == "till"  # the same mode is no change
    assert displays.rename(display, "Counter 2").name == "Counter 2"  # a name may change
    tx_id = orders.begin(order, "TRX", "TRX")
    with pytest.raises(DisplayBusy):  # waiting
        orders.set_mode(display, "keypad")
    sandbox.pay(tx_id, share="half")
    with pytest.raises(DisplayBusy):  # partly paid
        orders.set_mode(display, "keypad")
    assert displays.get(display.id).mode == "till"
    sandbox.pay(tx_id, share="full")  # paid (seen by the change itself, no screen needed): free
    assert orders.set_mode(display, "keypad").mode == "keypad"
    assert displays.get(display.id).mode == "keypad"
    with pytest.raises(PairingError):
        orders.set_mode(display, "other")


@pytest.mark.parametrize("end", ["cancelled", "expired", "unpaired-order-acknowledged"])
def test_an_ended_order_frees_the_mode(orders, displays, sandbox, end):
    with time_machine.travel(time.time(), tick=False) as clock:
        display, _ = paired(displays)
        order = orders.send(display, Decimal("10"))
        if end == "cancelled":
            orders.cancel(order, "till")
        elif end == "expired":
            clock.shift(599.999)
            with pytest.raises(DisplayBusy):  # a millisecond before its deadline: open
                orders.set_mode(display, "keypad")
            clock.shift(0.001)
        else:
            orders.cancel(order, "customer")
            orders.acknowledge(display, order)
        assert orders.set_mode(display, "keypad").mode == "keypad"


def test_a_mode_change_and_a_send_at_once_never_leave_an_order_on_a_keypad_display(orders, displays):
    for _ in range(10):
        display, _ = paired(displays)
        outcome: dict[str, object] = {}

        def change(display=display, outcome=outcome) -> None:
            with contextlib.suppress(DisplayBusy):
                outcome["mode"] = orders.set_mode(display, "keypad").mode

        def send(display=display, outcome=outcome) -> None:
            with contextlib.suppress(DisplayBusy, DisplayNotInTillMode):
                outcome["order"] = orders.send(display, Decimal("10"))

        threads = [threading.Thread(target=change), threading.Thread(target=send)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        now = displays.get(display.id)
        assert not (now.mode == "keypad" and orders.busy(now)), outcome
        assert ("order" in outcome) == orders.busy(now)


def test_a_note_from_a_till_or_the_console_cannot_carry_the_kiosks_reference(orders, displays, sandbox):
    display, _ = paired(displays)
    order = orders.send(display, Decimal("10"), note="Table kiosk:0123456789abcdef 4 KIOSK:x")
    orders.begin(order, "TRX", "TRX")
    [tx] = sandbox.transactions()
    words = tx["statusNote"].split()
    assert words[:-1] == ["Table", "4"] and words[-1].startswith("kiosk:")
    assert words[-1] != "kiosk:0123456789abcdef"
    assert orders.get(order.id).note == "Table kiosk:0123456789abcdef 4 KIOSK:x"  # the till's own, as sent
