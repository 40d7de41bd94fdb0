"""The tip screen in Chromium on a keypad kiosk: a preset, then a custom tip refused and
accepted, with screenshots (a till-mode display's tip screen: test_displays.py)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

from playwright.sync_api import expect

from ..conftest import PIN
from .conftest import shot
from .test_journey import enter_amount


def test_a_ten_percent_tip_on_a_keypad_kiosk(page, kiosk_server, sandbox):
    kiosk = kiosk_server(TIPS="5,10,15", SHOP_NAME="Kadıköy Kahve")
    page.goto(kiosk.url + "/")
    enter_amount(page, "10000")
    page.get_by_test_id("amount-submit").click()
    expect(page.get_by_test_id("tip-10")).to_contain_text("₺10,00")
    expect(page.get_by_test_id("tip-5")).to_contain_text("₺5,00")
    expect(page.get_by_test_id("tip-15")).to_contain_text("₺15,00")
    shot(page, "75-tip-screen")
    page.get_by_test_id("tip-10").click()
    expect(page.get_by_test_id("fiat-amount")).to_have_text("₺110,00")
    shot(page, "76-tip-coin-with-tip")
    page.get_by_test_id("coin-TRX-TRX").click()
    expect(page.get_by_test_id("qr")).to_be_visible()
    expect(page.get_by_test_id("tip-line")).to_contain_text("₺10,00")
    shot(page, "77-tip-pay-screen")
    tx_id = page.url.rsplit("/", 1)[1]
    assert Decimal(sandbox.state.transactions[tx_id]["currencyAmount"]) == Decimal("110.00")
    sandbox.pay(tx_id, share="full")
    expect(page.get_by_test_id("result-paid")).to_be_visible()
    expect(page.get_by_test_id("fiat-amount")).to_have_text("₺110,00")
    # The accountant's row: the tip apart from the amount.
    page.goto(kiosk.url + "/operator")
    page.get_by_test_id("pin").fill(PIN)
    page.get_by_test_id("unlock").click()
    page.get_by_test_id("nav-history").click()
    day = page.evaluate("new Date().toLocaleDateString('sv-SE', {timeZone: 'Europe/Istanbul'})")
    page.get_by_test_id("export-from").fill(day)
    page.get_by_test_id("export-to").fill(day)
    with page.expect_download() as caught:
        page.get_by_test_id("export-csv").click()
    text = Path(caught.value.path()).read_bytes().decode("utf-8")
    [row] = list(csv.DictReader(io.StringIO(text, newline="")))
    assert (row["transaction_id"], row["amount"], row["tip"], row["total"], row["status"]) == (
        tx_id, "100.00", "10.00", "110.00", "paid")


def test_a_custom_tip_too_large_then_right(page, kiosk_server, sandbox):
    kiosk = kiosk_server(TIPS="5,10,15", COINS="TRX:TRX")
    page.goto(kiosk.url + "/")
    enter_amount(page, "1000")
    page.get_by_test_id("amount-submit").click()
    page.get_by_test_id("tip-custom").click()
    for key in "1001":
        page.get_by_test_id(f"tip-key-{key}").click()
    expect(page.get_by_test_id("tip-display")).to_have_text("₺10,01")
    page.expected_errors.append(r"/tip: .*status of 422")
    page.get_by_test_id("tip-submit").click()
    expect(page.get_by_test_id("error")).to_contain_text("₺10,00")
    shot(page, "78-tip-custom-too-large")
    for _ in range(4):
        page.get_by_test_id("tip-key-back").click()
    for key in "150":
        page.get_by_test_id(f"tip-key-{key}").click()
    page.get_by_test_id("tip-submit").click()
    expect(page.get_by_test_id("qr")).to_be_visible()
    expect(page.get_by_test_id("fiat-amount")).to_have_text("₺11,50")
    tx_id = page.url.rsplit("/", 1)[1]
    assert Decimal(sandbox.state.transactions[tx_id]["currencyAmount"]) == Decimal("11.50")



def test_near_the_largest_amount_only_the_tips_that_fit_are_offered(page, kiosk_server, sandbox):
    kiosk = kiosk_server(TIPS="5,10,15", COINS="TRX:TRX", MAX_AMOUNT="110.00")
    page.goto(kiosk.url + "/")
    enter_amount(page, "10000")
    page.get_by_test_id("amount-submit").click()
    expect(page.get_by_test_id("tip-10")).to_contain_text("₺10,00")
    expect(page.get_by_test_id("tip-15")).to_have_count(0)
    expect(page.get_by_test_id("tip-limit")).to_contain_text("₺110,00")
    shot(page, "79-tip-within-the-limit")
    page.get_by_test_id("tip-custom").click()
    for key in "1001":
        page.get_by_test_id(f"tip-key-{key}").click()
    page.expected_errors.append(r"/tip: .*status of 422")
    page.get_by_test_id("tip-submit").click()
    expect(page.get_by_test_id("error")).to_contain_text("₺10,00")
    shot(page, "79-tip-custom-past-the-limit")
    page.get_by_test_id("tip-key-back").click()
    page.get_by_test_id("tip-key-0").click()
    page.get_by_test_id("tip-submit").click()
    expect(page.get_by_test_id("qr")).to_be_visible()
    tx_id = page.url.rsplit("/", 1)[1]
    assert Decimal(sandbox.state.transactions[tx_id]["currencyAmount"]) == Decimal("110.00")
