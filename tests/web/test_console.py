"""The cashier's console through Flask's test client: its PIN, charging a display, following the
checkout, cancelling it, today's list and the receipt."""

from __future__ import annotations

import logging
import re
import time

import pytest
import time_machine

from kiosk import create_app
from kiosk.config import ConfigError
from kiosk.web.console import IDLE_SECONDS

from ..conftest import kiosk_config
from ..support import CASHIER_PIN, STAFF_PIN, field, pair_display, unlock_staff


@pytest.fixture
def app(make_app):
    return make_app(OPERATOR_PIN=STAFF_PIN, CASHIER_PIN=CASHIER_PIN)


@pytest.fixture
def staff(app):
    web = app.test_client()
    unlock_staff(web)
    return web


@pytest.fixture
def cashier(app):
    web = app.test_client()
    assert unlock_staff(web, CASHIER_PIN, "/till").headers["Location"] == "/till"
    return web


@pytest.fixture
def display(app, staff):
    web = app.test_client()
    web.display_id = pair_display(staff, web, "Counter 1", "till")
    web.get("/display")
    return web


def charge(cashier, display_id: str, amount: str = "125.00", **extra):
    html = cashier.get("/till").get_data(as_text=True)
    data = {"csrf_token": field(html, "csrf_token"), "nonce": field(html, "nonce"), "display": display_id,
            "amount": amount, **extra}
    return cashier.post("/till/charge", data=data)


def fragment(cashier, order_id: str) -> str:
    response = cashier.get(f"/till/checkout/{order_id}/status", headers={"HX-Request": "true"})
    return response.get_data(as_text=True)


def status_of(cashier, order_id: str) -> str:
    html = fragment(cashier, order_id)
    return re.search(r'data-testid="checkout-status" data-status="(\w+)"', html).group(1)


def test_the_console_needs_the_cashier_or_the_operator_pin(app):
    web = app.test_client()
    page = web.get("/till").get_data(as_text=True)
    assert 'data-testid="pin"' in page and 'data-testid="till-charge"' not in page
    for url in ("/till/checkout/chk_0011223344556677", "/till/checkout/chk_0011223344556677/receipt"):
        assert web.get(url).headers["Location"] == "/till"
    polled = web.get("/till/checkout/chk_0011223344556677/status", headers={"HX-Request": "true"})
    assert polled.headers["HX-Redirect"] == "/till"
    assert unlock_staff(web, "000000", "/till").status_code == 403
    assert unlock_staff(web, STAFF_PIN, "/till").headers["Location"] == "/till"  # the operator's opens it
    assert 'data-testid="till-charge"' in web.get("/till").get_data(as_text=True)
    # The cashier PIN opens the console, not the operator area.
    other = app.test_client()
    unlock_staff(other, CASHIER_PIN, "/till")
    assert other.get("/operator/today").headers["Location"] == "/operator"
    assert unlock_staff(other, CASHIER_PIN).status_code == 403


def test_wrong_pins_at_the_console_and_the_operator_area_count_against_one_lockout(app):
    web = app.test_client()
    for _ in range(3):
        assert unlock_staff(web, "000000", "/till").status_code == 403
    assert "1 deneme" in unlock_staff(web, "000000").get_data(as_text=True)
    locked = unlock_staff(web, "000000", "/till")
    assert "5 dakika" in locked.get_data(as_text=True)
    assert unlock_staff(web, CASHIER_PIN, "/till").status_code == 403
    assert unlock_staff(web, STAFF_PIN, "/till").status_code == 403


def test_the_console_locks_itself_after_fifteen_idle_minutes(app):
    web = app.test_client()
    with time_machine.travel(time.time(), tick=False) as clock:
        unlock_staff(web, CASHIER_PIN, "/till")
        clock.shift(899)
        assert 'data-testid="till-charge"' in web.get("/till").get_data(as_text=True)  # a tap: 15 more
        clock.shift(899)
        assert web.get("/till/checkout/chk_0011223344556677").status_code == 404
        clock.shift(900)
        assert web.get("/till/checkout/chk_0011223344556677").headers["Location"] == "/till"
        assert 'data-testid="pin"' in web.get("/till").get_data(as_text=True)


@pytest.mark.parametrize(("pin", "message"), [("12345", "6 to 12 digits"), ("abcdef", "6 to 12 digits"),
                                              (STAFF_PIN, "must differ")])
def test_a_bad_cashier_pin_stops_the_start(sandbox, tmp_path, pin, message):
    with pytest.raises(ConfigError, match=message):
        create_app(kiosk_config(sandbox, tmp_path, OPERATOR_PIN=STAFF_PIN, CASHIER_PIN=pin))
    assert create_app(kiosk_config(sandbox, tmp_path, OPERATOR_PIN=STAFF_PIN, CASHIER_PIN="123456"))


def test_charge_follow_and_pay(app, cashier, display, sandbox):
    response = charge(cashier, display.display_id, "125.00", reference="till-4711", note="Table 4")
    order_id = response.headers["Location"].rsplit("/", 1)[1]
    assert response.headers["Location"] == f"/till/checkout/{order_id}"
    page = cashier.get(f"/till/checkout/{order_id}").get_data(as_text=True)
    assert "₺125,00" in page and "till-4711" in page and "Counter 1" in page
    assert 'data-status="pending"' in page and 'data-testid="till-cancel"' in page
    html = display.get("/display").get_data(as_text=True)
    assert "₺125,00" in html
    tx_id = display.post("/display/coin", data={"csrf_token": field(html, "csrf_token"), "order": order_id,
                                                "coin": "TRX-TRX"}).headers["Location"].rsplit("/", 1)[1]
    assert status_of(cashier, order_id) == "waiting"
    sandbox.pay(tx_id, share="half")
    polled = cashier.get(f"/till/checkout/{order_id}/status", headers={"HX-Request": "true"})
    html = polled.get_data(as_text=True)
    assert 'data-status="partly_paid"' in html and 'data-testid="received">5' in html
    assert 'data-testid="due">5' in html  # what the customer still has to send
    assert polled.headers["Cache-Control"] == "no-store" and "hx-get" in html
    sandbox.pay(tx_id, share="full")
    html = fragment(cashier, order_id)
    assert 'data-status="paid"' in html and "hx-get" not in html and "till-cancel" not in html
    assert 'data-testid="due"' not in html and "Kalan" not in html  # paid: nothing is due
    assert 'data-testid="sound-paid"' in html and 'data-testid="till-receipt"' in html
    receipt = cashier.get(f"/till/checkout/{order_id}/receipt").get_data(as_text=True)
    assert 'data-testid="receipt-page"' in receipt and "₺125,00" in receipt and "till-4711" in receipt
    assert f"/till/checkout/{order_id}/receipt-qr.svg" in receipt and "/done" not in receipt
    assert 'data-testid="print"' in receipt and 'data-testid="paper-58mm"' in receipt  # staff print
    assert cashier.get(f"/till/checkout/{order_id}/receipt-qr.svg").mimetype == "image/svg+xml"
    today = cashier.get("/till").get_data(as_text=True)
    assert re.search(r'data-testid="till-row" data-status="paid"', today) and "till-4711" in today
    record = app.extensions["kiosk"].checkout.record(tx_id)
    assert record.display == display.display_id and record.order == order_id


def test_the_status_poll_never_writes_the_session(app, cashier, display):
    order_id = charge(cashier, display.display_id).headers["Location"].rsplit("/", 1)[1]
    inner = app.session_interface.inner
    writes = []
    real = inner._upsert_session
    inner._upsert_session = lambda *args: (writes.append(1), real(*args))
    cashier.get(f"/till/checkout/{order_id}")
    assert writes == [1]  # a page counts as a tap: it keeps the console open
    for _ in range(5):
        assert status_of(cashier, order_id) == "pending"
    assert writes == [1]


def test_a_busy_display_is_refused_and_keeps_its_payment(app, cashier, display, sandbox):
    first = charge(cashier, display.display_id, "125.00").headers["Location"].rsplit("/", 1)[1]
    second = charge(cashier, display.display_id, "80.00")
    assert second.status_code == 409
    html = second.get_data(as_text=True)
    assert "Counter 1" in html and "meşgul" in html and 'data-testid="error"' in html
    assert "₺125,00" in display.get("/display").get_data(as_text=True)
    kiosk = app.extensions["kiosk"]
    assert kiosk.orders.current(kiosk.displays.get(display.display_id)).id == first
    assert sandbox.calls("create") == 0


def test_the_same_charge_form_sent_twice_sends_one_order(app, cashier, display):
    html = cashier.get("/till").get_data(as_text=True)
    data = {"csrf_token": field(html, "csrf_token"), "nonce": field(html, "nonce"),
            "display": display.display_id, "amount": "125.00"}
    first, second = cashier.post("/till/charge", data=data), cashier.post("/till/charge", data=data)
    assert first.headers["Location"] == second.headers["Location"]
    assert len(app.extensions["kiosk"].orders.recent()) == 1


@pytest.mark.parametrize(("changes", "code"), [({"amount": "0.50"}, 422), ({"amount": "abc"}, 422),
                                               ({"display": "nope"}, 422), ({"nonce": "../x"}, 422),
                                               ({"reference": "x" * 65}, 422), ({"note": "x" * 121}, 422)])
def test_bad_charges_send_nothing(app, cashier, display, changes, code):
    html = cashier.get("/till").get_data(as_text=True)
    data = {"csrf_token": field(html, "csrf_token"), "nonce": field(html, "nonce"),
            "display": display.display_id, "amount": "125.00", **changes}
    response = cashier.post("/till/charge", data=data)
    assert response.status_code == code and 'data-testid="error"' in response.get_data(as_text=True)
    assert app.extensions["kiosk"].orders.recent() == []


def test_a_keypad_or_offline_display_takes_no_charge(app, cashier, staff, display):
    keypad = app.test_client()
    keypad_id = pair_display(staff, keypad, "Keypad", "keypad")
    assert 'data-testid="display-' + keypad_id not in cashier.get("/till").get_data(as_text=True)
    assert charge(cashier, keypad_id).status_code == 409
    with time_machine.travel(time.time() + 31, tick=False):
        response = charge(cashier, display.display_id)
        assert response.status_code == 409 and "çevrimdışı" in response.get_data(as_text=True)
    assert app.extensions["kiosk"].orders.recent() == []


def test_cancel_from_the_console_before_and_after_the_coin(app, cashier, display, sandbox):
    order_id = charge(cashier, display.display_id).headers["Location"].rsplit("/", 1)[1]
    page = cashier.get(f"/till/checkout/{order_id}").get_data(as_text=True)
    cashier.post(f"/till/checkout/{order_id}/cancel", data={"csrf_token": field(page, "csrf_token")})
    assert status_of(cashier, order_id) == "cancelled"
    shown = display.get("/display").get_data(as_text=True)
    assert 'data-testid="result-cancelled"' in shown
    display.post("/done", data={"csrf_token": field(shown, "csrf_token")})
    assert sandbox.calls("cancel") == 0
    # The next one: the customer picks a coin, then the cashier cancels it.
    order_id = charge(cashier, display.display_id).headers["Location"].rsplit("/", 1)[1]
    html = display.get("/display").get_data(as_text=True)
    tx_id = display.post("/display/coin", data={"csrf_token": field(html, "csrf_token"), "order": order_id,
                                                "coin": "TRX-TRX"}).headers["Location"].rsplit("/", 1)[1]
    cashier.post(f"/till/checkout/{order_id}/cancel", data={"csrf_token": field(page, "csrf_token")})
    assert status_of(cashier, order_id) == "cancelled" and sandbox.calls("cancel") == 1
    status = display.get(f"/pay/{tx_id}/status", headers={"HX-Request": "true"})
    assert status.headers["HX-Redirect"] == f"/result/{tx_id}"


def test_the_console_sees_a_cancel_on_the_display(app, cashier, display, sandbox):
    order_id = charge(cashier, display.display_id).headers["Location"].rsplit("/", 1)[1]
    html = display.get("/display").get_data(as_text=True)
    tx_id = display.post("/display/coin", data={"csrf_token": field(html, "csrf_token"), "order": order_id,
                                                "coin": "TRX-TRX"}).headers["Location"].rsplit("/", 1)[1]
    pay = display.get(f"/pay/{tx_id}").get_data(as_text=True)
    display.post(f"/pay/{tx_id}/cancel", data={"csrf_token": field(pay, "csrf_token")})
    assert status_of(cashier, order_id) == "cancelled"
    assert app.extensions["kiosk"].orders.state(app.extensions["kiosk"].orders.get(order_id)).cancel_reason \
        == "customer"


def test_unknown_checkouts_are_404(cashier):
    assert cashier.get("/till/checkout/chk_0011223344556677").status_code == 404
    assert cashier.get("/till/checkout/" + "x" * 200).status_code == 404


def test_the_console_rotates_the_session_and_audits_every_action_never_the_pin(app, display, caplog):
    caplog.set_level(logging.INFO, logger="kiosk")
    web = app.test_client()
    web.get("/till")
    before = web.get_cookie("kiosk_session").value
    thief = app.test_client()  # someone who learnt the cookie before the cashier unlocked
    thief.set_cookie("kiosk_session", before)
    assert unlock_staff(web, "000000", "/till").status_code == 403
    unlock_staff(web, CASHIER_PIN, "/till")
    unlocked = web.get_cookie("kiosk_session").value
    assert unlocked != before
    assert 'data-testid="pin"' in thief.get("/till").get_data(as_text=True)
    order_id = charge(web, display.display_id).headers["Location"].rsplit("/", 1)[1]
    page = web.get(f"/till/checkout/{order_id}").get_data(as_text=True)
    web.post(f"/till/checkout/{order_id}/cancel", data={"csrf_token": field(page, "csrf_token")})
    web.post("/till/lock", data={"csrf_token": field(page, "csrf_token")})
    assert web.get_cookie("kiosk_session").value not in (before, unlocked)
    events = [r.event for r in caplog.records if r.name == "kiosk.audit"]
    assert events == ["till.pin_wrong", "till.unlock", "till.charge", "till.cancel", "till.lock"]
    assert all(r.client == "127.0.0.1" for r in caplog.records if r.name == "kiosk.audit")
    for record in caplog.records:
        assert CASHIER_PIN not in f"{record.getMessage()} {record.__dict__}"


def test_the_idle_lock_of_the_console_rotates_the_session(app):
    web = app.test_client()
    with time_machine.travel(time.time(), tick=False) as clock:
        unlock_staff(web, CASHIER_PIN, "/till")
        unlocked = web.get_cookie("kiosk_session").value
        clock.shift(IDLE_SECONDS)
        assert 'data-testid="pin"' in web.get("/till").get_data(as_text=True)
        assert web.get_cookie("kiosk_session").value != unlocked
