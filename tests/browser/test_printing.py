"""Printing in Chromium. With KIOSK_AUTO_PRINT=browser, the paid screen's receipt prints itself
once, under Chromium's --kiosk-printing (no dialog: the screen goes on); a copy prints once per
tap. With a network printer that is off, the customer, the console and the operator see it;
screenshots of each screen that prints."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from ..conftest import PIN
from ..printing.printer import PrinterListener
from .conftest import ARGS, CHROMIUM, LANDSCAPE, PORTRAIT, _need, shot
from .test_accessibility import audit, axe_source
from .test_journey import start_payment

# Counts the print calls of every frame, and still lets Chromium print.
COUNT_PRINTS = """(() => {
  window.__prints = 0;
  const print = window.print.bind(window);
  window.print = () => { window.__prints += 1; print(); };
})();"""


@pytest.fixture(scope="module")
def kiosk_printing(playwright_driver):
    """Chromium as docs/deploy/kiosk-browser.sh starts it with KIOSK_PRINTING=1: it prints
    without a dialog, to the tablet's default printer."""
    _need("chromium", CHROMIUM)
    browser = playwright_driver.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                args=[*ARGS, "--kiosk-printing"])
    yield browser
    browser.close()


def receipt_frame(page):
    """The screen's receipt frame, once it has its receipt (it starts as an empty frame)."""
    frame = page.get_by_test_id("print-frame").element_handle().content_frame()
    assert frame is not None
    frame.wait_for_url(re.compile(r"/receipt/"))
    return frame


def test_the_paid_screen_prints_its_receipt_once_in_the_browser(kiosk_printing, kiosk_server, sandbox):
    kiosk = kiosk_server(AUTO_PRINT="browser", SHOP_ADDRESS="İstiklal Cad. 12|Beyoğlu / İstanbul",
                         SHOP_TAX_NUMBER="1234567890", RESULT_SECONDS=30)
    context = kiosk_printing.new_context(viewport=LANDSCAPE, has_touch=True)
    errors: list[str] = []
    context.on("page", lambda p: p.on("pageerror", lambda exc: errors.append(str(exc))))
    context.add_init_script(COUNT_PRINTS)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(15000)
    try:
        tx_id = start_payment(page, kiosk.url, digits="30000")
        sandbox.pay(tx_id, share="full")
        expect(page.get_by_test_id("result-paid")).to_be_visible()
        frame = receipt_frame(page)
        frame.wait_for_function("window.__prints === 1")
        assert page.evaluate("window.__prints") == 0  # the receipt's frame printed, not the screen
        assert frame.locator("[data-testid=receipt-copy]").count() == 0
        shot(page, "print-01-browser-paid")
        # No dialog holds the screen: the customer's next tap works at once.
        expect(page.get_by_test_id("new-payment")).to_be_enabled()
        # The screen drawn again (a reload) does not print again.
        page.reload()
        expect(page.get_by_test_id("result-paid")).to_be_visible()
        frame = receipt_frame(page)
        frame.wait_for_load_state("load")
        assert frame.evaluate("window.__prints") == 0
        # Print a copy: the receipt page prints itself once, marked as a copy.
        page.get_by_test_id("print-receipt").click()
        expect(page.get_by_test_id("receipt-copy")).to_have_text("KOPYA")
        page.wait_for_function("window.__prints === 1")
        expect(page.get_by_test_id("receipt-page")).to_contain_text("İstiklal Cad. 12")
        shot(page, "print-02-browser-copy")
        page.reload()
        page.wait_for_load_state("load")
        assert page.evaluate("window.__prints") == 0
        page.get_by_test_id("new-payment").click()
        expect(page.get_by_test_id("amount-display")).to_be_visible()
    finally:
        context.close()
    assert errors == []


def test_a_printer_that_is_off_on_every_screen_that_prints(browser, kiosk_server, sandbox, watcher):
    """Each screen that prints, with axe-core and the touch-target check on it."""
    source = axe_source()
    printer = PrinterListener()
    printer.down()
    context = browser.new_context(viewport=LANDSCAPE, bypass_csp=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    problems: list[str] = []
    try:
        kiosk = kiosk_server(AUTO_PRINT="printer", PRINTER_URL=printer.url, PRINT_RETRY="1/2/300")
        services = kiosk.app.extensions["kiosk"]
        watcher(kiosk.app)
        tx_id = start_payment(page, kiosk.url, digits="30000")
        sandbox.pay(tx_id, share="full")
        expect(page.get_by_test_id("result-paid")).to_be_visible()
        expect(page.get_by_test_id("print-waiting")).to_be_visible()
        shot(page, "print-03-result-printer-off")
        problems += audit(page, "print-03-result-printer-off", source)
        # The operator: the printer and the waiting receipt on Today, a display's own printer.
        display = services.displays.pair(services.displays.issue("127.0.0.1")[1].code, "Counter 1", "till")
        page.goto(kiosk.url + "/operator")
        page.get_by_test_id("pin").fill(PIN)
        page.get_by_test_id("unlock").click()
        expect(page.get_by_test_id("printer-down")).to_contain_text(printer.url)
        expect(page.get_by_test_id("prints-waiting")).to_contain_text("1 makbuz")
        shot(page, "print-04-operator-today")
        problems += audit(page, "print-04-operator-today", source)
        page.goto(kiosk.url + "/operator/settings")
        expect(page.get_by_test_id("printer")).to_have_text(f"{printer.url} (80 mm)")
        expect(page.get_by_test_id("auto-print")).to_have_text("makbuz yazıcısında")
        shot(page, "print-08-operator-settings")
        problems += audit(page, "print-08-operator-settings", source)
        page.goto(kiosk.url + "/operator/displays")
        page.get_by_test_id(f"printer-{display.id}").fill(printer.url)
        page.get_by_test_id(f"columns-{display.id}").select_option("32")
        page.get_by_test_id(f"printer-submit-{display.id}").click()
        expect(page.get_by_test_id(f"printer-{display.id}")).to_have_value(printer.url)
        shot(page, "print-05-operator-displays")
        problems += audit(page, "print-05-operator-displays", source)
        # The printer is back: the receipt comes out, once.
        printer.up()
        assert len(printer.wait_for(1, seconds=15)) == 1
        page.goto(kiosk.url + f"/operator/tx/{tx_id}")
        expect(page.get_by_test_id("print-done")).to_be_visible()
        expect(page.get_by_test_id("print-receipt")).to_have_text("Kopya yazdır")
        shot(page, "print-06-operator-detail")
        problems += audit(page, "print-06-operator-detail", source)
        # The console: a paid order of the display, with its print button.
        services.displays.seen(display)
        order = services.orders.send(display, Decimal("125.00"), reference="till-4711")
        paid_tx = services.orders.begin(order, "TRX", "TRX")
        sandbox.pay(paid_tx, share="full")
        page.set_viewport_size(PORTRAIT)
        page.goto(kiosk.url + f"/till/checkout/{order.id}")
        expect(page.get_by_test_id("checkout-status")).to_have_attribute("data-status", "paid")
        auto = printer.wait_for(2, seconds=10)[1]  # printed on paid, on the display's printer
        assert "KOPYA" not in auto.text and max(len(line) for line in auto.lines) == 32
        page.reload()
        expect(page.get_by_test_id("print-done")).to_have_text("Makbuz yazdırıldı.")
        page.get_by_test_id("print-receipt").click()
        assert "KOPYA" in printer.wait_for(3, seconds=10)[2].text
        page.reload()
        expect(page.get_by_test_id("print-done")).to_have_text("Makbuzun kopyası yazdırıldı.")
        shot(page, "print-07-console-paid")
        problems += audit(page, "print-07-console-paid", source)
    finally:
        context.close()
        printer.down()
    assert problems == [], "\n".join(problems)
    assert errors == []
