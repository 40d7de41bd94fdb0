"""Coin amounts as a wallet accepts them: dot decimal, no grouping, whatever the language; at most
the coin's decimals; what is still due rounded up (sending what is shown pays), what was
received rounded down."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from kiosk.checkout import coins
from kiosk.web import format as fmt

from ..support import Customer, field


@pytest.mark.parametrize(("coin", "network", "places"), [
    ("TRX", "TRX", 6), ("USDT", "TRX", 6), ("trx", "trx", 6), ("BTC", "BTC", 8), ("USDT", "ETH", 8),
    ("", "", 8),
])
def test_decimals_per_coin(coin, network, places):
    assert coins.decimals(coin, network) == places


@pytest.mark.parametrize(("amount", "due", "received"), [
    ("148.874", "148.874", "148.874"),  # at the precision or under it: unchanged
    ("1.000001", "1.000001", "1.000001"),  # exactly at the last place
    ("1.0000001", "1.000001", "1"),  # one place past it: up for due, down for received
    ("1.0000019", "1.000002", "1.000001"),
    ("1.0000010000001", "1.000002", "1.000001"),
    ("31.012666666666666666666666667", "31.012667", "31.012666"),
    ("0.0000009", "0.000001", "0"),
    ("0", "0", "0"),
    ("0E-12", "0", "0"),
    ("8000", "8000", "8000"),
    ("8000.000000", "8000", "8000"),
    ("1E+3", "1000", "1000"),
    ("1234567.5", "1234567.5", "1234567.5"),
    ("123456789012345678901234.1234567", "123456789012345678901234.123457",
     "123456789012345678901234.123456"),
])
def test_trx_rounding_and_notation(amount, due, received):
    assert fmt.coin_due(Decimal(amount), "TRX", "TRX") == due
    assert fmt.coin_received(Decimal(amount), "TRX", "TRX") == received


def test_an_unknown_coin_gets_eight_decimals():
    assert fmt.coin_due(Decimal("0.123456789"), "ABC", "XYZ") == "0.12345679"
    assert fmt.coin_received(Decimal("0.123456789"), "ABC", "XYZ") == "0.12345678"
    assert fmt.coin_due(Decimal("0.12345678"), "ABC", "XYZ") == "0.12345678"
    assert fmt.coin_due(Decimal("0.000000001"), "ABC", "XYZ") == "0.00000001"  # never 1E-8
    assert fmt.coin_received(Decimal("0.000000019"), "ABC", "XYZ") == "0.00000001"


def test_amounts_from_the_store_are_text():
    assert fmt.coin_due("2.0000001", "USDT", "TRX") == "2.000001"
    assert fmt.coin_received("2.0000019", "USDT", "TRX") == "2.000001"


def test_what_is_shown_always_pays_what_is_due():
    """Received (down) plus still due (up) is never less than the amount asked."""
    asked = Decimal("98.76")
    for received in ("31.012666666666666666666666667", "0.0000001", "98.7599999", "50"):
        shown_due = Decimal(fmt.coin_due(asked - Decimal(received), "TRX", "TRX"))
        shown_received = Decimal(fmt.coin_received(Decimal(received), "TRX", "TRX"))
        assert shown_received <= Decimal(received)
        assert Decimal(received) + shown_due >= asked


def dd(html: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}">([^<]*)<', html)
    assert match, testid
    return match.group(1).strip()


@pytest.mark.parametrize("language", ["tr", "en"])
def test_screens_show_wallet_notation_in_every_language(make_app, sandbox, language):
    app = make_app(COINS="TRX:TRX", DEFAULT_LOCALE=language, OPERATOR_PIN="246810", RECEIPTS=True)
    web = app.test_client()
    customer = Customer(web, sandbox)
    customer.enter("100000")  # the largest amount: 8000 TRX, never "8.000" or "8,000"
    [tx] = sandbox.transactions()
    html = web.get(f"/pay/{tx['_id']}").get_data(as_text=True)
    assert dd(html, "coin-amount") == "8000 TRX"
    assert dd(html, "fiat-amount") == {"tr": "₺100.000,00", "en": "₺100,000.00"}[language]
    web.post(f"/pay/{tx['_id']}/cancel", data={"csrf_token": field(html, "csrf_token")})
    customer.next_customer()
    tx_id = (customer.enter("1234.50").headers["Location"]).rsplit("/", 1)[1]  # 98.76 TRX
    sandbox.pay(tx_id, amount="31.012666666666666666666666667")
    status = customer.status(tx_id).get_data(as_text=True)
    assert 'data-outcome="partly_paid"' in status
    assert dd(status, "received") == "31.012666 TRX"
    assert dd(status, "coin-amount") == "67.747334 TRX"  # the amount to send: what is due
    assert "98.76 TRX" in status
    # The operator's detail: the same notation.
    page = web.get("/operator").get_data(as_text=True)
    web.post("/operator", data={"csrf_token": field(page, "csrf_token"), "pin": "246810"})
    detail = web.get(f"/operator/tx/{tx_id}").get_data(as_text=True)
    assert dd(detail, "received") == "31.012666 TRX"
    assert "67.747334 TRX" in detail and "98.76 TRX" in detail
    assert dd(detail, "due") == "67.747334 TRX"
    sandbox.pay(tx_id, share="full")
    assert customer.status(tx_id).headers["HX-Redirect"] == f"/result/{tx_id}"
    receipt = web.get(f"/receipt/{tx_id}").get_data(as_text=True)
    assert dd(receipt, "coin-amount") == "98.76 TRX (TRON)"
    paid = web.get(f"/operator/tx/{tx_id}").get_data(as_text=True)
    assert 'data-testid="due"' not in paid  # a paid sale shows nothing due


def test_the_operator_s_attention_items_use_the_coin_s_decimals(make_app, sandbox):
    app = make_app(COINS="TRX:TRX", OPERATOR_PIN="246810")
    web = app.test_client()
    customer = Customer(web, sandbox)
    tx_id = customer.enter("1234.50").headers["Location"].rsplit("/", 1)[1]  # 98.76 TRX
    sandbox.pay(tx_id, amount="31.0126669")
    customer.cancel(tx_id)  # money received: kept for the operator
    page = web.get("/operator").get_data(as_text=True)
    web.post("/operator", data={"csrf_token": field(page, "csrf_token"), "pin": "246810"})
    today = web.get("/operator/today").get_data(as_text=True)
    row = re.search(r'data-testid="attention-partial">(.*?)</tr>', today, re.S).group(1)
    cells = [re.sub(r"\s+", " ", re.sub(r"<span[^>]*>|</span>", "", c)).strip()
             for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    assert "31.012666 TRX" in cells and "98.76 TRX" in cells
