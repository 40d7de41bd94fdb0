"""Printing attacked as an outsider would: the customer's own paid checkout tapped far past the
sale's limit, each tap with a fresh token of the shape the server issues (it only checks the
shape), on a network printer and in the tablet's own browser. The limit bounds the printouts,
and it must bound what the taps write too: past it, a tap writes nothing."""

from __future__ import annotations

import secrets

import pytest

from kiosk.printing.jobs import MAX_PER_SALE

from ..support import Customer, field
from .printer import PrinterListener


@pytest.fixture
def printer():
    listener = PrinterListener()
    yield listener
    listener.down()


def paid(customer: Customer, sandbox) -> str:
    tx_id = customer.start("300")
    sandbox.pay(tx_id, share="full")
    assert customer.poll(tx_id)[0] == "paid"
    return tx_id


def forged_nonce() -> str:
    return secrets.token_urlsafe(18)  # the shape of the server's own: 24 URL-safe characters


def keys(store, prefix: str) -> int:
    return len(store.items(prefix))


def test_taps_past_the_limit_write_nothing(make_app, sandbox, printer):
    app = make_app(COINS="TRX:TRX", AUTO_PRINT="off", PRINTER_URL=printer.url)
    store = app.extensions["kiosk"].store
    customer = Customer(app.test_client(), sandbox)
    tx_id = paid(customer, sandbox)
    token = field(customer.web.get(f"/result/{tx_id}").get_data(as_text=True), "csrf_token")
    for _ in range(MAX_PER_SALE):
        response = customer.post(f"/result/{tx_id}/print", {"csrf_token": token, "nonce": forged_nonce()})
        assert response.status_code == 303
    assert keys(store, "print-key:") == MAX_PER_SALE and keys(store, "print:") == MAX_PER_SALE
    for _ in range(50):
        response = customer.post(f"/result/{tx_id}/print", {"csrf_token": token, "nonce": forged_nonce()})
        assert response.status_code == 303 and response.headers["Location"] == f"/result/{tx_id}"
    assert keys(store, "print-key:") == MAX_PER_SALE and keys(store, "print:") == MAX_PER_SALE


def test_browser_prints_past_the_limit_write_nothing(make_app, sandbox):
    app = make_app(COINS="TRX:TRX", AUTO_PRINT="browser")
    store = app.extensions["kiosk"].store
    customer = Customer(app.test_client(), sandbox)
    tx_id = paid(customer, sandbox)
    for n in range(MAX_PER_SALE + 50):
        response = customer.web.get(f"/receipt/{tx_id}?paper=58mm&auto={forged_nonce()}")
        assert response.status_code == 200
        if n == MAX_PER_SALE - 1:
            assert keys(store, "print-key:browser:") == MAX_PER_SALE
    assert keys(store, "print-key:browser:") == MAX_PER_SALE
