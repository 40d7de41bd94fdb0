"""A result that sends the customer to the cashier (a partial payment, a payment that needs a
check) stays on the screen until staff end it: with a staff PIN on the screen, from the console
or from the operator's attention list. It leaves by itself only after KIOSK_PARTIAL_HOLD_SECONDS,
never on a tap, and shows what arrived and what is missing."""

from __future__ import annotations

import logging
import re
import time
from decimal import Decimal

import pytest
import time_machine

from ..support import CASHIER_PIN, STAFF_PIN, Customer, field, pair_display, unlock_staff


@pytest.fixture
def app(make_app):
    return make_app(OPERATOR_PIN=STAFF_PIN, CASHIER_PIN=CASHIER_PIN, COINS="TRX:TRX")


def partial_result(app, sandbox) -> tuple[Customer, str]:
    """A customer whose payment ended with half of it received: on the result screen."""
    customer = Customer(app.test_client(), sandbox)
    tx_id = customer.start()
    sandbox.pay(tx_id, share="half")
    assert customer.cancel(tx_id).headers["Location"] == f"/result/{tx_id}"
    return customer, tx_id


def hold(web, tx_id: str):
    """The held result's poll, as htmx sends it."""
    return web.get(f"/result/{tx_id}/hold", headers={"HX-Request": "true"})


def text(html: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}"[^>]*>([^<]*)<', html)
    assert match, testid
    return match.group(1)


def test_the_partial_result_shows_what_arrived_and_what_is_missing(app, sandbox):
    customer, tx_id = partial_result(app, sandbox)
    [tx] = sandbox.transactions()
    asked, got = Decimal(tx["coinAmount"]), Decimal(tx["totalTransferAmount"])
    html = customer.web.get(f"/result/{tx_id}").text
    assert 'data-testid="result-partial"' in html
    assert text(html, "due") == f"{(asked - got).normalize():f} TRX"
    assert text(html, "received") == f"{got.normalize():f} TRX"
    assert text(html, "expected") == f"{asked.normalize():f} TRX"
    # The big figure is what is missing; the order's total is only named, in small print.
    assert re.search(r'<p class="headline[^"]*">(?:(?!</p>).)*data-testid="due"', html, re.S)
    assert not re.search(r'class="headline[^"]*"[^>]*data-testid="fiat-amount"', html)


def test_the_partial_result_never_leaves_on_a_tap_or_a_timer(app, sandbox):
    customer, tx_id = partial_result(app, sandbox)
    html = customer.web.get(f"/result/{tx_id}").text
    assert "data-auto-submit" not in html  # no timer, no tap anywhere sends it away
    assert 'data-testid="new-payment"' not in html
    assert f'hx-get="/result/{tx_id}/hold"' in html
    # Even a "next customer" sent by hand (a stale tab, a script) gets the result again.
    done = customer.post("/done", {"csrf_token": field(html, "csrf_token")})
    assert done.headers["Location"] == f"/result/{tx_id}"
    assert customer.web.get("/").headers["Location"] == f"/result/{tx_id}"
    assert hold(customer.web, tx_id).status_code == 204


def test_the_hold_ends_by_itself_only_after_the_hold_time(app, sandbox):
    customer, tx_id = partial_result(app, sandbox)
    start = time.time()
    with time_machine.travel(start, tick=False):
        customer.web.get(f"/result/{tx_id}")  # first shown now
    with time_machine.travel(start + 599, tick=False):
        assert hold(customer.web, tx_id).status_code == 204
        assert customer.web.get("/").headers["Location"] == f"/result/{tx_id}"
    with time_machine.travel(start + 600, tick=False):
        answer = hold(customer.web, tx_id)
        assert answer.status_code == 200 and answer.headers["HX-Trigger"] == "kiosk:released"
        html = customer.web.get(f"/result/{tx_id}").text
        assert "data-auto-submit" in html  # an ordinary result now: the next customer may come
        done = customer.post("/done", {"csrf_token": field(html, "csrf_token")})
        assert done.headers["Location"] == "/"
        assert 'data-testid="amount-display"' in customer.amount_page()


def test_the_hold_time_is_a_setting(make_app, sandbox):
    app = make_app(OPERATOR_PIN=STAFF_PIN, COINS="TRX:TRX", PARTIAL_HOLD_SECONDS=60)
    customer, tx_id = partial_result(app, sandbox)
    start = time.time()
    with time_machine.travel(start, tick=False):
        customer.web.get(f"/result/{tx_id}")
    with time_machine.travel(start + 59, tick=False):
        assert hold(customer.web, tx_id).status_code == 204
    with time_machine.travel(start + 60, tick=False):
        assert hold(customer.web, tx_id).status_code == 200


def test_a_staff_pin_on_the_screen_ends_it_and_opens_no_staff_area(app, sandbox, caplog):
    caplog.set_level(logging.INFO, logger="kiosk.audit")
    customer, tx_id = partial_result(app, sandbox)
    html = customer.web.get(f"/result/{tx_id}").text
    assert 'data-testid="release-pin"' in html
    token = field(html, "csrf_token")
    wrong = customer.post(f"/result/{tx_id}/release", {"csrf_token": token, "pin": "000000"})
    assert wrong.status_code == 403 and 'data-testid="error"' in wrong.text
    assert 'data-testid="result-partial"' in wrong.text
    assert hold(customer.web, tx_id).status_code == 204
    right = customer.post(f"/result/{tx_id}/release", {"csrf_token": field(html, "csrf_token"),
                                                       "pin": CASHIER_PIN})
    assert right.status_code == 303 and right.headers["Location"] == "/"
    assert 'data-testid="amount-display"' in customer.amount_page()
    # The PIN ended this screen only: neither staff area opened in the customer's browser.
    assert 'data-testid="pin"' in customer.web.get("/till").text
    assert customer.web.get("/operator/today").headers["Location"] == "/operator"
    events = [r.event for r in caplog.records if r.name == "kiosk.audit"]
    assert "screen.pin_wrong" in events and "screen.release" in events
    assert CASHIER_PIN not in caplog.text and "000000" not in caplog.text


def test_wrong_pins_on_the_screen_count_against_the_staff_lockout(app, sandbox):
    customer, tx_id = partial_result(app, sandbox)
    html = customer.web.get(f"/result/{tx_id}").text
    token = field(html, "csrf_token")
    for _ in range(5):
        customer.post(f"/result/{tx_id}/release", {"csrf_token": token, "pin": "000000"})
    locked = customer.post(f"/result/{tx_id}/release", {"csrf_token": token, "pin": CASHIER_PIN})
    assert locked.status_code == 403 and hold(customer.web, tx_id).status_code == 204


def test_the_operator_s_attention_list_ends_it(app, sandbox):
    customer, tx_id = partial_result(app, sandbox)
    customer.web.get(f"/result/{tx_id}")
    staff = app.test_client()
    unlock_staff(staff)
    today = staff.get("/operator/today").text
    assert 'data-testid="attention-partial"' in today
    staff.post(f"/operator/attention/{tx_id}/dismiss", data={"csrf_token": field(today, "csrf_token")})
    assert hold(customer.web, tx_id).headers["HX-Trigger"] == "kiosk:released"


def test_the_console_ends_it_on_the_display(app, sandbox):
    staff = app.test_client()
    unlock_staff(staff)
    display = app.test_client()
    display_id = pair_display(staff, display)
    services = app.extensions["kiosk"]
    order = services.orders.send(services.displays.get(display_id), Decimal("80.00"))
    tx_id = display.get("/display").headers["Location"].rsplit("/", 1)[1]  # one coin: the QR
    sandbox.pay(tx_id, share="half")
    cashier = app.test_client()
    unlock_staff(cashier, CASHIER_PIN, "/till")
    follow = cashier.get(f"/till/checkout/{order.id}").text
    token = field(follow, "csrf_token")
    cashier.post(f"/till/checkout/{order.id}/cancel", data={"csrf_token": token})
    result = display.get(f"/result/{tx_id}").text
    assert 'data-testid="result-partial"' in result and hold(display, tx_id).status_code == 204
    assert display.post("/done", data={"csrf_token": field(result, "csrf_token")}).headers["Location"] \
        == f"/result/{tx_id}"
    follow = cashier.get(f"/till/checkout/{order.id}").text
    assert 'data-testid="till-release"' in follow
    cashier.post(f"/till/checkout/{order.id}/release", data={"csrf_token": token})
    assert hold(display, tx_id).headers["HX-Trigger"] == "kiosk:released"
    assert 'data-testid="till-release"' not in cashier.get(f"/till/checkout/{order.id}").text
    assert display.post("/done", data={"csrf_token": field(result, "csrf_token")}).headers["Location"] \
        == "/display"
    assert 'data-testid="display-idle"' in display.get("/display").text


def test_a_stranger_cannot_end_it(app, sandbox):
    customer, tx_id = partial_result(app, sandbox)
    stranger = app.test_client()
    html = stranger.get("/").text
    answer = stranger.post(f"/result/{tx_id}/release", data={"csrf_token": field(html, "csrf_token"),
                                                             "pin": CASHIER_PIN})
    assert answer.status_code == 404
    assert hold(stranger, tx_id).status_code == 404
    assert hold(customer.web, tx_id).status_code == 204
