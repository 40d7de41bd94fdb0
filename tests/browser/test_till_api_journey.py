"""The till API end to end: `kiosk serve` (gunicorn and its watcher, real processes), the sandbox,
a display open in Chromium, a till speaking the API over HTTP and its webhook receiver. The till
pairs the display with the code the page shows, sends a checkout with lines, and learns the
outcome by polling and by signed webhooks."""

from __future__ import annotations

import json
import re
import time
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from standardwebhooks import Webhook, WebhookVerificationError

from ..api_support import SECRET, Till, kiosk_with_webhooks
from .conftest import shot

LINES = [{"name": "Çay", "quantity": 2, "unit_amount": "15.00"},
         {"name": "Simit", "quantity": 1, "unit_amount": "95.00"}]
QR_LOADED = """() => { const img = document.querySelector('[data-testid=qr]');
                       return img !== null && img.complete && img.naturalWidth > 0; }"""


@pytest.fixture(scope="module")
def server(sandbox_server, tmp_path_factory, receiver):
    kiosk = kiosk_with_webhooks(sandbox_server.url, tmp_path_factory.mktemp("till-journey"), receiver,
                                "till-1", POLL_INTERVAL="1", RESULT_SECONDS="60")
    yield kiosk
    kiosk.stop()


def paired(page, server, till: Till) -> str:
    """Open /display in Chromium, read the pairing code from the page and pair it by API."""
    page.goto(server.url + "/display")
    code = page.get_by_test_id("pairing-code")
    expect(code).to_have_text(re.compile(r"^[A-HJKMNP-Z2-9]{6}$"))
    made = till.post("/displays", {"pairing_code": code.text_content(), "name": "Counter 1", "mode": "till"})
    assert made.status_code == 201, made.text
    expect(page.get_by_test_id("display-idle")).to_be_visible()  # the display learns it by its poll
    return made.json()["id"]


def checkout_when(till: Till, checkout_id: str, status: str, timeout: float = 15) -> dict:
    """GET the checkout until it says `status` (the API shares one upstream answer for a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        body = till.get(f"/checkouts/{checkout_id}").json()
        if body["status"] == status or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def showing_the_qr(page) -> str:
    """Wait until the display shows the QR image, loaded; the transaction id from its address."""
    expect(page.get_by_test_id("qr")).to_be_visible()
    page.wait_for_function(QR_LOADED)
    return page.url.rsplit("/", 1)[1]


def test_pair_send_pay_with_the_display_in_chromium(page, server, till, receiver, sandbox):
    display_id = paired(page, server, till)
    made = till.create(display_id, "125.00", key="till-1-sale-4711", reference="till-4711", lines=LINES)
    assert made.status_code == 201, made.text
    checkout = made.json()
    assert (checkout["status"], checkout["reference"], checkout["lines"]) == ("pending", "till-4711", LINES)
    # One coin: the display goes straight from idle to the QR, with the lines beside it.
    tx_id = showing_the_qr(page)
    cart = page.get_by_test_id("cart")
    expect(cart.get_by_test_id("cart-line")).to_have_count(2)
    expect(cart.get_by_test_id("cart-line").nth(0)).to_contain_text("Çay")
    expect(cart.get_by_test_id("cart-line").nth(0)).to_contain_text("₺30,00")
    expect(cart.get_by_test_id("cart-line").nth(1)).to_contain_text("Simit")
    expect(page.get_by_test_id("cart-total")).to_have_text("₺125,00")
    expect(page.get_by_test_id("fiat-amount")).to_have_text("₺125,00")
    waiting = checkout_when(till, checkout["id"], "waiting")
    assert waiting["status"] == "waiting" and waiting["transaction_id"] == tx_id
    shown, coin = page.get_by_test_id("coin-amount").text_content().split()
    assert coin == "TRX"
    assert Decimal(shown) == Decimal(waiting["coin_amount"]) > 0, (shown, waiting["coin_amount"])
    shot(page, "52-display-till-api-cart-qr")

    sandbox.pay(tx_id)
    expect(page.get_by_test_id("result-paid")).to_be_visible()
    paid = checkout_when(till, checkout["id"], "paid")
    assert paid["status"] == "paid" and paid["received"] == paid["coin_amount"]
    # The till's reference beside upstream's number, as on every screen of the sale.
    expect(page.get_by_test_id("reference")).to_have_text(f"till-4711 · #{paid['sequence_id']}")
    shot(page, "53-display-till-api-paid")

    assert receiver.wait_for(checkout["id"], "paid") == ["pending", "waiting", "paid"]
    deliveries = [(body, headers) for body, headers in receiver.deliveries
                  if json.loads(body)["data"]["id"] == checkout["id"]]
    hook = Webhook(SECRET)
    for body, headers in deliveries:
        assert hook.verify(body, headers) == json.loads(body)  # Standard Webhooks, by the package
        with pytest.raises(WebhookVerificationError):
            hook.verify(body.replace(b'"status"', b'"Status"'), headers)  # one byte changed: refused
    events = [json.loads(body) for body, _headers in deliveries]
    assert [e["type"] for e in events] == ["checkout.updated"] * 3
    assert events[-1]["data"]["transaction_id"] == tx_id and events[-1]["data"]["lines"] == LINES
    assert len({headers["Webhook-Id"] for _body, headers in deliveries}) == 3


def test_cancel_by_the_till_while_the_customer_looks_at_the_qr(page, server, till, sandbox):
    display_id = paired(page, server, till)
    checkout = till.create(display_id, "125.00", reference="till-4712", lines=LINES).json()
    tx_id = showing_the_qr(page)
    cancelled = till.post(f"/checkouts/{checkout['id']}/cancel")
    assert cancelled.status_code == 200
    assert (cancelled.json()["status"], cancelled.json()["cancel_reason"]) == ("cancelled", "till")
    expect(page.get_by_test_id("result-cancelled")).to_be_visible()
    looked = till.get(f"/checkouts/{checkout['id']}").json()
    assert (looked["status"], looked["cancel_reason"], looked["transaction_id"]) == \
        ("cancelled", "till", tx_id)
    [tx] = sandbox.transactions()
    assert tx["status"] == "CANCELLED" and sandbox.calls("cancel") == 1
    shot(page, "54-display-till-api-cancelled")


def test_a_second_checkout_for_the_busy_display_is_refused(page, server, till, sandbox):
    display_id = paired(page, server, till)
    first = till.create(display_id, "125.00", lines=LINES).json()
    showing_the_qr(page)
    second = till.create(display_id, "40.00")
    assert second.status_code == 409 and second.json()["error"]["code"] == "display_busy"
    expect(page.get_by_test_id("fiat-amount")).to_have_text("₺125,00")  # the first stays on it
    mine = till.get("/checkouts", params={"display_id": display_id}).json()["data"]
    assert [c["id"] for c in mine] == [first["id"]] and len(sandbox.transactions()) == 1
    till.post(f"/checkouts/{first['id']}/cancel")
