"""A shop in another currency, in Chromium: the keypad follows its digits, the limits are in it,
and upstream is asked for it to its digits."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

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
