"""A shop in another currency, in Chromium: the keypad follows its digits, the limits are in it,
and upstream is asked for it to its digits; a sale with a tip, from the keypad to the receipt and
the accountant's export row, in EUR, JPY and KWD."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from ..conftest import PIN
from .conftest import shot

# currency, language, keys, what the keypad shows, the amount upstream gets, the limits' text
CASES = [
    ("JPY", "en", "123", "¥123", Decimal("123"), "From ¥100 to ¥100,000"),
    ("KWD", "en", "1250", "KWD\u00a01.250", Decimal("1.250"), "From KWD\u00a01.000 to KWD\u00a0100,000.000"),
    ("EUR", "tr", "1250", "€12,50", Decimal("12.50"), "€1,00 ile €100.000,00 arası"),
]


@pytest.mark.parametrize(("currency", "language", "keys", "shown", "asked", "limits"), CASES)
def test_the_keypad_takes_the_currencys_digits_and_upstream_gets_them(
        page, kiosk_server, sandbox, currency, language, keys, shown, asked, limits):
    minimum = {"JPY": "100", "KWD": "1", "EUR": "1"}[currency]
    kiosk = kiosk_server(CURRENCY=currency, DEFAULT_LOCALE=language, MIN_AMOUNT=minimum)
    page.goto(kiosk.url + "/")
    expect(page.get_by_test_id("amount-display")).to_have_text(
        {"JPY": "¥0", "KWD": "KWD\u00a00.000", "EUR": "€0,00"}[currency])
    expect(page.locator(".limits")).to_have_text(limits)
    for key in keys:
        page.get_by_test_id(f"key-{key}").click()
    expect(page.get_by_test_id("amount-display")).to_have_text(shown)
    shot(page, f"currency-{currency}-amount")
    page.get_by_test_id("amount-submit").click()
    page.get_by_test_id("coin-TRX-TRX").click()
    expect(page.get_by_test_id("qr")).to_be_visible()
    expect(page.get_by_test_id("fiat-amount")).to_have_text(shown)
    [tx] = [t for t in sandbox.transactions() if t["currency"] == currency]
    assert Decimal(tx["currencyAmount"]) == asked
    shot(page, f"currency-{currency}-pay")
    sandbox.pay(tx["_id"], share="full")
    expect(page.get_by_test_id("result-paid")).to_be_visible()
    expect(page.get_by_test_id("fiat-amount")).to_have_text(shown)


def test_a_yen_amount_under_the_smallest_is_refused_in_yen(page, kiosk_server, sandbox):
    kiosk = kiosk_server(CURRENCY="JPY", DEFAULT_LOCALE="en", MIN_AMOUNT="100")
    page.expected_errors.append(r"422")  # the refused form's answer, logged by Chromium
    page.goto(kiosk.url + "/")
    for key in "99":
        page.get_by_test_id(f"key-{key}").click()
    expect(page.get_by_test_id("amount-display")).to_have_text("¥99")
    page.get_by_test_id("amount-submit").click()
    expect(page.get_by_test_id("error")).to_have_text("The smallest amount is ¥100.")


# currency, language, keys, the amount, the 10 % tip (half up: Babel would round each of these
# halves down, to even) and the total as the customer reads them, then as the export writes them
JOURNEYS = [
    ("EUR", "de", "1225", ("12,25\u00a0€", "1,23\u00a0€", "13,48\u00a0€"), ("12.25", "1.23", "13.48")),
    ("JPY", "en", "1225", ("¥1,225", "¥123", "¥1,348"), ("1225", "123", "1348")),
    ("KWD", "en", "12345", ("KWD\u00a012.345", "KWD\u00a01.235", "KWD\u00a013.580"),
     ("12.345", "1.235", "13.580")),
]


@pytest.mark.parametrize(("currency", "language", "keys", "shown", "exported"), JOURNEYS)
def test_a_sale_with_a_tip_from_the_keypad_to_the_receipt_and_the_export(
        page, kiosk_server, sandbox, currency, language, keys, shown, exported):
    amount, tip, total = shown
    kiosk = kiosk_server(CURRENCY=currency, LANGUAGES=f"{language},tr", MIN_AMOUNT="1", TIPS="5,10,15",
                         RECEIPTS=True, RESULT_SECONDS=60)
    page.goto(kiosk.url + "/")
    for key in keys:
        page.get_by_test_id(f"key-{key}").click()
    expect(page.get_by_test_id("amount-display")).to_have_text(amount)
    page.get_by_test_id("amount-submit").click()
    expect(page.get_by_test_id("tip-10")).to_contain_text(tip)
    shot(page, f"currency-{currency}-tip")
    page.get_by_test_id("tip-10").click()
    page.get_by_test_id("coin-TRX-TRX").click()
    expect(page.get_by_test_id("qr")).to_be_visible()
    expect(page.get_by_test_id("fiat-amount")).to_have_text(total)
    expect(page.get_by_test_id("tip-line")).to_contain_text(tip)
    tx_id = page.url.rsplit("/", 1)[1]
    assert Decimal(sandbox.state.transactions[tx_id]["currencyAmount"]) == Decimal(exported[2])
    # Paid as a demo is: the sandbox's own page, its button in the transaction's row.
    controls = page.context.new_page()
    controls.goto(sandbox.url + "/sandbox")
    row = controls.locator("tr", has_text=tx_id)
    expect(row).to_contain_text(currency)
    # The form's answer lands before the tab closes: a tab closed with its post in flight can hang Chromium.
    with controls.expect_navigation():
        row.get_by_role("button", name="Pay in full").click()
    controls.close()
    expect(page.get_by_test_id("result-paid")).to_be_visible()
    expect(page.get_by_test_id("fiat-amount")).to_have_text(total)
    page.get_by_test_id("receipt").click()
    expect(page.get_by_test_id("receipt-page")).to_be_visible()
    expect(page.get_by_test_id("receipt-amount")).to_have_text(amount)
    expect(page.get_by_test_id("receipt-tip")).to_have_text(tip)
    expect(page.get_by_test_id("fiat-amount")).to_have_text(total)
    shot(page, f"currency-{currency}-receipt")
    # The accountant's row, from the operator's export.
    page.goto(kiosk.url + "/operator")
    page.get_by_test_id("pin").fill(PIN)
    page.get_by_test_id("unlock").click()
    page.get_by_test_id("nav-history").click()
    day = page.evaluate("new Date().toLocaleDateString('sv-SE', {timeZone: 'Europe/Istanbul'})")
    answer = page.request.get(f"{kiosk.url}/operator/export.csv?from={day}&to={day}")
    assert answer.status == 200
    rows = list(csv.DictReader(io.StringIO(answer.text(), newline="")))
    [sale] = [r for r in rows if r["transaction_id"] == tx_id]
    assert (sale["currency"], sale["amount"], sale["tip"], sale["total"], sale["status"]) == (
        currency, *exported, "paid")
