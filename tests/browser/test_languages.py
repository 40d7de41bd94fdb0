"""German, Russian and Arabic on every customer screen, in Chromium at tablet sizes: axe finds
nothing, and Arabic reads right to left while what a wallet takes stays left to right."""

from __future__ import annotations

import subprocess
from decimal import Decimal

import pytest
import requests
from playwright.sync_api import expect

from .conftest import OUTPUT, shot
from .test_accessibility import SIZES, audit, axe_source

FIVE = "tr,en,de,ru,ar"
KEYPAD = {"de": "1.234,50\u00a0€", "ru": "1\u00a0234,50\u00a0€", "ar": "\u200f1,234.50\u00a0€"}
HEADINGS = {"tr": "Ödenecek tutar", "en": "Amount to pay", "de": "Zu zahlender Betrag",
            "ru": "Сумма к оплате", "ar": "المبلغ المطلوب دفعه"}


def pay_screen(page, url: str) -> str:
    """A new payment of 1.234,50 € from this browser: its transaction id, on its pay screen."""
    page.goto(url + "/")
    for key in "123450":
        page.get_by_test_id(f"key-{key}").click()
    page.get_by_test_id("amount-submit").click()
    page.get_by_test_id("coin-TRX-TRX").click()
    expect(page.get_by_test_id("qr")).to_be_visible()
    return page.url.rsplit("/", 1)[1]


@pytest.mark.parametrize("language", ["de", "ru", "ar"])
def test_every_customer_screen_in_the_language_has_no_accessibility_violations(
        browser, kiosk_server, sandbox, language):
    """A shop in euros offering five languages: each screen a customer of this language sees,
    audited and photographed at a landscape and a portrait tablet size."""
    source = axe_source()
    kiosk = kiosk_server(LANGUAGES=FIVE, CURRENCY="EUR", RECEIPTS=True, RESULT_SECONDS=600,
                         IDLE_SECONDS=3600, CREATE_LIMIT="100/60")
    context = browser.new_context(viewport=SIZES["landscape"], bypass_csp=True, has_touch=True)
    page = context.new_page()
    problems: list[str] = []

    def look(name: str) -> None:
        expect(page.locator("html")).to_have_attribute("lang", language)
        expect(page.locator("html")).to_have_attribute("dir", "rtl" if language == "ar" else "ltr")
        for size_name, size in SIZES.items():
            page.set_viewport_size(size)
            problems.extend(audit(page, f"{language}/{size_name}/{name}", source))
            shot(page, f"40-{language}-{size_name}-{name}")
        page.set_viewport_size(SIZES["landscape"])

    try:
        page.goto(kiosk.url + "/")
        page.get_by_test_id(f"language-{language}").click()
        expect(page.locator("h1")).to_have_text(HEADINGS[language])
        for key in "123450":
            page.get_by_test_id(f"key-{key}").click()
        # The keypad writes the amount as the server does in this language (kiosk.money).
        expect(page.get_by_test_id("amount-display")).to_have_text(KEYPAD[language])
        look("amount")
        page.get_by_test_id("amount-submit").click()
        page.wait_for_url("**/coin")
        look("coin")
        page.get_by_test_id("coin-TRX-TRX").click()
        expect(page.get_by_test_id("qr")).to_be_visible()
        look("pay")
        [tx] = sandbox.transactions()
        sandbox.pay(tx["_id"], share="half")
        expect(page.get_by_test_id("payment-status")).to_have_attribute("data-outcome", "partly_paid")
        look("partly-paid")
        sandbox.pay(tx["_id"], share="full")
        expect(page.get_by_test_id("result-paid")).to_be_visible()
        look("paid")
        page.get_by_test_id("receipt").click()
        expect(page.get_by_test_id("receipt-page")).to_be_visible()
        look("receipt")
        page.get_by_test_id("new-payment").click()  # the next customer: the shop's language again
        expect(page.locator("html")).to_have_attribute("lang", "tr")
        page.get_by_test_id(f"language-{language}").click()
        pay_screen(page, kiosk.url)
        page.get_by_test_id("cancel").click()
        expect(page.get_by_test_id("result-cancelled")).to_be_visible()
        look("cancelled")
        page.get_by_test_id("new-payment").click()
        page.get_by_test_id(f"language-{language}").click()
        tx_id = pay_screen(page, kiosk.url)
        sandbox.pay(tx_id, share="half")
        requests.post(f"{sandbox.url}/sandbox/transactions/{tx_id}/cancel", timeout=5)
        expect(page.get_by_test_id("result-partial")).to_be_visible()
        look("partial")
    finally:
        context.close()
    assert problems == [], "\n".join(problems)


def test_arabic_end_to_end_partly_then_fully_paid(page, kiosk_server, sandbox, zbarimg):
    """An Arabic customer in a shop in euros: the page mirrors, the keypad keeps phone order, the
    amount to send is Latin digits and a dot, left to right, and the QR still decodes to the
    address shown."""
    kiosk = kiosk_server(LANGUAGES="tr,ar", CURRENCY="EUR")
    page.goto(kiosk.url + "/")
    page.get_by_test_id("language-ar").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    # Phone order: 1 to the left of 2 to the left of 3, though the page runs right to left.
    xs = [page.get_by_test_id(f"key-{k}").bounding_box()["x"] for k in "123"]
    assert xs == sorted(xs)
    # The shop name (the start of the bar) is on the right in Arabic.
    brand, bar = page.get_by_test_id("brand").bounding_box(), page.locator(".bar").bounding_box()
    assert brand["x"] + brand["width"] > bar["x"] + bar["width"] / 2
    for key in "123450":
        page.get_by_test_id(f"key-{key}").click()
    expect(page.get_by_test_id("amount-display")).to_have_text("\u200f1,234.50\u00a0€")
    shot(page, "41-ar-amount")
    page.get_by_test_id("amount-submit").click()
    page.get_by_test_id("coin-TRX-TRX").click()
    expect(page.get_by_test_id("qr")).to_be_visible()
    [tx] = sandbox.transactions()
    address = tx["wallet"]["address"]
    expect(page.get_by_test_id("wallet-address")).to_have_text(address)
    expect(page.get_by_test_id("coin-amount")).to_have_text("4572.222223 TRX")  # 1234.50 / 0.27, up
    # Left to right where it matters, and the address's groups in their own order on screen.
    assert page.get_by_test_id("wallet-address").evaluate("e => getComputedStyle(e).direction") == "ltr"
    groups = page.locator("[data-testid=wallet-address] span")
    lefts = [groups.nth(i).bounding_box()["x"] for i in range(groups.count())]
    assert lefts == sorted(lefts)
    # "4572.222223 TRX", not "TRX 4572.222223": the amount and its code run left to right.
    assert page.get_by_test_id("coin-amount").evaluate("e => getComputedStyle(e).direction") == "ltr"
    shot(page, "41-ar-pay")
    qr = OUTPUT / "qr-ar.png"
    page.get_by_test_id("qr").screenshot(path=str(qr))
    decoded = subprocess.run([zbarimg, "--raw", "-q", str(qr)], capture_output=True, text=True, check=True)
    assert decoded.stdout.strip() == address
    sandbox.pay(tx["_id"], share="half")
    expect(page.get_by_test_id("payment-status")).to_have_attribute("data-outcome", "partly_paid")
    expect(page.get_by_test_id("coin-amount")).to_have_text("2286.111111 TRX")  # what is still due
    shot(page, "41-ar-partly-paid")
    sandbox.pay(tx["_id"], share="full")
    expect(page.get_by_test_id("result-paid")).to_be_visible()
    expect(page.get_by_test_id("fiat-amount")).to_have_text("\u200f1,234.50\u00a0€")
    expect(page.get_by_test_id("reference")).to_have_text(f"#{tx['sequenceID']}")
    shot(page, "41-ar-paid")
    # After the result, the next customer gets the shop's language again.
    page.get_by_test_id("new-payment").click()
    expect(page.locator("html")).to_have_attribute("lang", "tr")
    expect(page.locator("html")).to_have_attribute("dir", "ltr")


def test_a_till_display_in_arabic_has_no_accessibility_violations(browser, kiosk_server, sandbox):
    """A display paired in till mode: its welcome and order screens (with the till's lines) in
    Arabic, audited at both tablet sizes; the amount and the lines read right to left, the
    prices as Babel writes them for Arabic."""
    from kiosk.displays import Line

    from ..support import STAFF_PIN
    from .test_displays import pair

    source = axe_source()
    kiosk = kiosk_server(LANGUAGES=FIVE, CURRENCY="EUR", OPERATOR_PIN=STAFF_PIN, IDLE_SECONDS=3600)
    contexts = [browser.new_context(viewport=SIZES["landscape"], bypass_csp=True, has_touch=True)
                for _ in range(2)]
    display, staff = (context.new_page() for context in contexts)
    problems: list[str] = []
    try:
        display.goto(kiosk.url + "/display")
        display_id = pair(staff, kiosk.url, display.get_by_test_id("pairing-code").text_content())
        expect(display.get_by_test_id("display-idle")).to_be_visible()
        display.get_by_test_id("language-ar").click()
        expect(display.locator("html")).to_have_attribute("dir", "rtl")
        expect(display.get_by_test_id("display-idle")).to_be_visible()
        for size_name, size in SIZES.items():
            display.set_viewport_size(size)
            problems += audit(display, f"ar/{size_name}/display-idle", source)
            shot(display, f"42-ar-{size_name}-display-idle")
        services = kiosk.app.extensions["kiosk"]
        lines = (Line("شاي", 2, Decimal("2.50")), Line("Simit", 1, Decimal("1.50")))
        services.orders.send(services.displays.get(display_id), Decimal("6.50"), lines=lines)
        expect(display.get_by_test_id("cart")).to_be_visible()
        expect(display.get_by_test_id("cart-total")).to_have_text("\u200f6.50\u00a0€")
        for size_name, size in SIZES.items():
            display.set_viewport_size(size)
            problems += audit(display, f"ar/{size_name}/display-order", source)
            shot(display, f"42-ar-{size_name}-display-order")
    finally:
        for context in contexts:
            context.close()
    assert problems == [], "\n".join(problems)
