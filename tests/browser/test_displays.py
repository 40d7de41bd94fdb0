"""Paired displays and the cashier's console in Chromium: two browsers, a tablet facing the
customer and the cashier's phone, against the kiosk and the sandbox."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
import requests
from playwright.sync_api import expect

from kiosk.displays import Line

from ..support import CASHIER_PIN, STAFF_PIN, fill_redis
from .conftest import LANDSCAPE, PORTRAIT, shot, watch_errors

PHONE = {"width": 390, "height": 844}
SETTINGS = {"OPERATOR_PIN": STAFF_PIN, "CASHIER_PIN": CASHIER_PIN}


@pytest.fixture
def pages(browser, kiosk_server):
    """Open browsers, each its own context (cookies): tablets and phones. The test fails on any
    console or uncaught page error in any of them, unless it matches a pattern the test put in
    `pages.expected_errors`. (Closed before the kiosk servers stop, so no poll meets a closed port.)"""
    opened, errors = [], []

    def open_(viewport=LANDSCAPE, storage_state=None):
        context = browser.new_context(viewport=viewport, has_touch=True, storage_state=storage_state)
        context.on("page", lambda other: watch_errors(other, errors))
        page = context.new_page()
        page.set_default_timeout(15000)
        opened.append(context)
        return page

    open_.expected_errors = []
    yield open_
    for context in opened:
        context.close()
    unexpected = [e for e in errors if not any(re.search(p, e) for p in open_.expected_errors)]
    assert unexpected == [], "errors in the browser:\n" + "\n".join(unexpected)


def unlock(page, url: str, path: str, pin: str) -> None:
    page.goto(url + path)
    if page.get_by_test_id("pin").count() == 0:
        return  # open already: the operator area opens the console too
    page.get_by_test_id("pin").fill(pin)
    page.get_by_test_id("unlock").click()
    expect(page.get_by_test_id("pin")).to_have_count(0)


def pair(staff, url: str, code: str, name: str = "Counter 1", mode: str = "till") -> str:
    """Pair from the operator area on the staff's page; returns the display's id."""
    if "/operator/" not in staff.url:
        unlock(staff, url, "/operator", STAFF_PIN)
    staff.goto(url + "/operator/displays")
    staff.get_by_test_id("pair-code").fill(code.lower())  # staff may type it in lower case
    staff.get_by_test_id("pair-name").fill(name)
    staff.get_by_test_id("pair-mode").select_option(mode)
    staff.get_by_test_id("pair-submit").click()
    staff.wait_for_url(re.compile(r"paired="))
    return staff.url.rsplit("paired=", 1)[1]


def paired_display(pages, kiosk, staff, name: str = "Counter 1", viewport=LANDSCAPE):
    display = pages(viewport)
    display.goto(kiosk.url + "/display")
    code = display.get_by_test_id("pairing-code").text_content()
    display_id = pair(staff, kiosk.url, code, name)
    expect(display.get_by_test_id("display-idle")).to_be_visible()
    return display, display_id


def open_console(page, url: str) -> None:
    unlock(page, url, "/till", CASHIER_PIN)
    expect(page.get_by_test_id("till-charge")).to_be_visible()


def counter(pages, kiosk_server, **settings):
    """A kiosk, a paired display in till mode and the cashier's console open on a phone."""
    kiosk = kiosk_server(**SETTINGS, **settings)
    console = pages(PHONE)
    display, display_id = paired_display(pages, kiosk, console)
    open_console(console, kiosk.url)
    return kiosk, display, display_id, console


def charge(console, display_id: str, digits: str, reference: str = "") -> None:
    console.get_by_test_id(f"display-{display_id}").click()
    for key in digits:
        console.get_by_test_id(f"till-key-{key}").click()
    if reference:
        console.get_by_test_id("till-reference").fill(reference)
    console.get_by_test_id("till-charge").click()


def test_pair_charge_pay_both_show_paid_then_the_display_is_idle(pages, kiosk_server, sandbox):
    kiosk = kiosk_server(**SETTINGS, SHOP_NAME="Kadıköy Kahve")
    display = pages()
    display.goto(kiosk.url + "/display")
    code = display.get_by_test_id("pairing-code")
    expect(code).to_have_text(re.compile(r"^[A-HJKMNP-Z2-9]{6}$"))
    shot(display, "40-display-pairing-code")
    console = pages(PHONE)
    display_id = pair(console, kiosk.url, code.text_content(), "Counter 1")
    shot(console, "41-operator-displays")
    expect(display.get_by_test_id("display-idle")).to_be_visible()  # within one poll, no reload
    expect(display.get_by_test_id("display-idle")).to_contain_text("Kadıköy Kahve")
    shot(display, "42-display-idle")
    open_console(console, kiosk.url)
    expect(console.get_by_test_id(f"display-{display_id}")).to_contain_text("Counter 1")
    charge(console, display_id, "12500", reference="till-4711")
    expect(console.get_by_test_id("checkout-status")).to_have_attribute("data-status", "pending")
    shot(console, "43-console-pending")
    expect(display.get_by_test_id("fiat-amount")).to_have_text("₺125,00")
    shot(display, "44-display-order-coins")
    display.get_by_test_id("coin-TRX-TRX").click()
    expect(display.get_by_test_id("qr")).to_be_visible()
    expect(console.get_by_test_id("checkout-status")).to_have_attribute("data-status", "waiting")
    [tx] = sandbox.transactions()
    expect(display.get_by_test_id("wallet-address")).to_have_text(tx["wallet"]["address"])
    sandbox.pay(tx["_id"], share="half")
    expect(console.get_by_test_id("checkout-status")).to_have_attribute("data-status", "partly_paid")
    expect(display.get_by_test_id("payment-status")).to_have_attribute("data-outcome", "partly_paid")
    shot(console, "45-console-partly-paid")
    sandbox.pay(tx["_id"], share="full")
    expect(display.get_by_test_id("result-paid")).to_be_visible()
    sound = display.get_by_test_id("sound-paid")
    expect(sound).to_have_attribute("src", re.compile(r"/static/sounds/paid\.wav"))
    shot(display, "46-display-paid")
    expect(console.get_by_test_id("checkout-status")).to_have_attribute("data-status", "paid")
    expect(console.get_by_test_id("sound-paid")).to_have_count(1)
    shot(console, "47-console-paid")
    expect(display.get_by_test_id("display-idle")).to_be_visible(timeout=10000)  # by itself
    console.get_by_test_id("till-receipt").click()
    expect(console.get_by_test_id("receipt-page")).to_contain_text("₺125,00")
    expect(console.get_by_test_id("reference")).to_have_text("till-4711")
    shot(console, "48-console-receipt")
    console.get_by_test_id("back").click()
    console.get_by_test_id("till-new").click()
    expect(console.get_by_test_id("till-row")).to_have_attribute("data-status", "paid")
    shot(console, "49-console-today")
    assert sandbox.calls("create") == 1


def test_charge_then_cancel_from_the_console(pages, kiosk_server, sandbox):
    kiosk, display, display_id, console = counter(pages, kiosk_server)
    charge(console, display_id, "5000")
    expect(display.get_by_test_id("coin-TRX-TRX")).to_be_visible()
    console.get_by_test_id("till-cancel").click()
    expect(console.get_by_test_id("checkout-status")).to_have_attribute("data-status", "cancelled")
    expect(display.get_by_test_id("result-cancelled")).to_be_visible()
    expect(display.get_by_test_id("sound-failed")).to_have_count(1)
    expect(display.get_by_test_id("display-idle")).to_be_visible(timeout=10000)
    # Again, after the customer chose a coin: upstream is cancelled once.
    console.get_by_test_id("till-new").click()
    charge(console, display_id, "5000")
    display.get_by_test_id("coin-TRX-TRX").click()
    expect(display.get_by_test_id("qr")).to_be_visible()
    console.get_by_test_id("till-cancel").click()
    expect(console.get_by_test_id("checkout-status")).to_have_attribute("data-status", "cancelled")
    expect(display.get_by_test_id("result-cancelled")).to_be_visible()
    assert sandbox.calls("cancel") == 1 and sandbox.transactions()[0]["status"] == "CANCELLED"


def test_cancel_on_the_display_shows_on_the_console(pages, kiosk_server, sandbox):
    kiosk, display, display_id, console = counter(pages, kiosk_server, COINS="TRX:TRX")
    charge(console, display_id, "5000")
    expect(display.get_by_test_id("qr")).to_be_visible()  # one coin: straight to the QR
    display.get_by_test_id("cancel").click()
    expect(display.get_by_test_id("result-cancelled")).to_be_visible()
    expect(console.get_by_test_id("checkout-status")).to_have_attribute("data-status", "cancelled")


def test_a_busy_display_is_refused(pages, kiosk_server, sandbox):
    kiosk, display, display_id, console = counter(pages, kiosk_server)
    second = pages(PHONE)  # another cashier, with the console open at the same time
    open_console(second, kiosk.url)
    charge(console, display_id, "12500")
    expect(display.get_by_test_id("fiat-amount")).to_have_text("₺125,00")
    pages.expected_errors.append(r"/till/charge: .* 409")  # the refusal is the page's own status
    charge(second, display_id, "999")
    expect(second.get_by_test_id("error")).to_contain_text("Counter 1")
    shot(second, "50-console-display-busy")
    expect(display.get_by_test_id("fiat-amount")).to_have_text("₺125,00")
    expect(console.get_by_test_id("checkout-status")).to_have_attribute("data-status", "pending")
    assert sandbox.calls("create") == 0


def test_unpair_returns_the_display_to_its_code(pages, kiosk_server, sandbox):
    kiosk = kiosk_server(**SETTINGS)
    staff = pages(PHONE)
    display, display_id = paired_display(pages, kiosk, staff)
    staff.goto(kiosk.url + "/operator/displays")
    staff.get_by_test_id(f"rename-{display_id}").fill("Front desk")
    staff.get_by_test_id(f"rename-submit-{display_id}").click()
    expect(display.get_by_test_id("display-name")).to_have_text("Front desk")
    staff.get_by_test_id(f"mode-{display_id}").select_option("keypad")
    staff.get_by_test_id(f"mode-submit-{display_id}").click()
    expect(display.get_by_test_id("amount-display")).to_be_visible()
    staff.get_by_test_id(f"unpair-{display_id}").click()
    expect(display.get_by_test_id("pairing-code")).to_be_visible()
    expect(staff.get_by_test_id("displays-empty")).to_be_visible()



def test_a_busy_displays_mode_stays_until_staff_end_its_payment(pages, kiosk_server, sandbox):
    kiosk = kiosk_server(**SETTINGS, DEFAULT_LOCALE="en")
    staff = pages()
    display, display_id = paired_display(pages, kiosk, staff)
    services = kiosk.app.extensions["kiosk"]
    services.orders.send(services.displays.get(display_id), Decimal("500.00"))
    expect(display.get_by_test_id("fiat-amount")).to_have_text("₺500.00")
    staff.goto(kiosk.url + "/operator/displays")
    pages.expected_errors.append(r"/mode: .* 409")  # the refusal is the page's own status
    staff.get_by_test_id(f"mode-{display_id}").select_option("keypad")
    staff.get_by_test_id(f"mode-submit-{display_id}").click()
    expect(staff.get_by_test_id("error")).to_contain_text("Counter 1 is showing a payment")
    expect(staff.get_by_test_id(f"end-order-{display_id}")).to_be_visible()
    shot(staff, "51-operator-display-busy")
    expect(display.get_by_test_id("fiat-amount")).to_have_text("₺500.00")  # still the till's order
    staff.get_by_test_id(f"end-order-{display_id}").click()
    expect(display.get_by_test_id("result-cancelled")).to_be_visible()
    expect(staff.get_by_test_id(f"end-order-{display_id}")).to_have_count(0)
    staff.get_by_test_id(f"mode-{display_id}").select_option("keypad")
    staff.get_by_test_id(f"mode-submit-{display_id}").click()
    expect(staff.get_by_test_id("error")).to_have_count(0)
    assert services.displays.get(display_id).mode == "keypad"
    assert sandbox.calls("create") == 0


def test_a_browser_restart_of_the_display_resumes_the_same_payment(pages, kiosk_server, sandbox):
    kiosk, display, display_id, console = counter(pages, kiosk_server, COINS="TRX:TRX")
    charge(console, display_id, "5000")
    address = display.get_by_test_id("wallet-address")
    expect(address).to_be_visible()
    shown = address.text_content()
    saved = display.context.storage_state()  # what the tablet browser's profile keeps on disk
    display.context.close()  # the browser crashes (closing twice at the end is harmless)
    again = pages(storage_state=saved)
    again.goto(kiosk.url + "/display")
    expect(again.get_by_test_id("wallet-address")).to_have_text(shown)
    sandbox.pay(sandbox.transactions()[0]["_id"], share="full")
    expect(again.get_by_test_id("result-paid")).to_be_visible()
    expect(console.get_by_test_id("checkout-status")).to_have_attribute("data-status", "paid")
    assert sandbox.calls("create") == 1


def test_the_lines_stay_beside_the_qr(pages, kiosk_server, sandbox):
    kiosk = kiosk_server(**SETTINGS, COINS="TRX:TRX")
    staff = pages(PHONE)
    display, display_id = paired_display(pages, kiosk, staff)
    services = kiosk.app.extensions["kiosk"]
    lines = [Line("Çay", 2, Decimal("15.00")), Line("Simit", 3, Decimal("20.00")),
             Line("Türk kahvesi", 1, Decimal("60.00")), Line("Su", 4, Decimal("5.00"))]
    services.orders.send(services.displays.get(display_id), Decimal("170.00"), lines=lines)
    expect(display.get_by_test_id("qr")).to_be_visible()
    cart = display.get_by_test_id("cart")
    expect(cart.get_by_test_id("cart-line")).to_have_count(4)
    expect(display.get_by_test_id("cart-total")).to_have_text("₺170,00")
    for name, size in (("landscape", LANDSCAPE), ("portrait", PORTRAIT)):
        display.set_viewport_size(size)
        for testid in ("qr", "cart", "fiat-amount", "cancel"):
            box = display.get_by_test_id(testid).bounding_box()
            assert box["y"] + box["height"] <= size["height"] and box["x"] + box["width"] <= size["width"], \
                (name, testid, box)
        shot(display, f"51-display-cart-{name}")


def test_the_sounds_are_real_audio(pages, kiosk_server, sandbox):
    kiosk = kiosk_server(**SETTINGS)
    page = pages()
    page.goto(kiosk.url + "/display")
    for name in ("paid", "failed"):
        seconds = page.evaluate("""async (src) => {
            const audio = new Audio(src);
            await new Promise((ok, fail) => { audio.onloadedmetadata = ok; audio.onerror = fail; });
            return audio.duration; }""", f"/static/sounds/{name}.wav")
        assert 0.3 < seconds < 1.5, (name, seconds)
        size = len(requests.get(f"{kiosk.url}/static/sounds/{name}.wav", timeout=5).content)
        assert size < 40_000


@pytest.mark.parametrize("path", ["/", "/coin", "/pay/{tx}", "/pay/{tx}/qr.png", "/result/{tx}",
                                  "/receipt/{tx}"])
def test_with_required_pairing_an_unpaired_browser_reaches_no_payment(pages, kiosk_server, sandbox, path):
    kiosk = kiosk_server(**SETTINGS, REQUIRE_PAIRING=True, RECEIPTS=True, COINS="TRX:TRX")
    staff = pages(PHONE)
    display, display_id = paired_display(pages, kiosk, staff)
    services = kiosk.app.extensions["kiosk"]
    services.orders.send(services.displays.get(display_id), Decimal("50.00"))
    expect(display.get_by_test_id("qr")).to_be_visible()
    tx_id = display.url.rsplit("/", 1)[1]
    stranger = pages()
    response = stranger.goto(kiosk.url + path.format(tx=tx_id))
    assert stranger.url == kiosk.url + "/display" and response.status == 200
    expect(stranger.get_by_test_id("pairing-code")).to_be_visible()
    assert tx_id not in stranger.content()
    pages.expected_errors.append(r"/display: .* 404")  # the status fetch below, refused
    fetched = stranger.evaluate("async (u) => (await fetch(u, {headers: {'HX-Request': 'true'}})).status",
                                f"/pay/{tx_id}/status")
    assert fetched == 404


def test_a_full_redis_puts_the_amount_screen_and_the_display_out_of_order(pages, kiosk_server, small_redis):
    """A store that refuses writes, as the customer sees it: the amount screen and a paired display
    say "out of order, please see the cashier", calmly, in the shop's language."""
    url_of_redis, client = small_redis
    kiosk = kiosk_server(**SETTINGS, REDIS_URL=url_of_redis)
    display, _ = paired_display(pages, kiosk, pages(PHONE))
    tablet = pages()
    tablet.goto(kiosk.url + "/")
    expect(tablet.get_by_test_id("amount-display")).to_be_visible()
    fill_redis(client)
    pages.expected_errors.append(r"status of 503")  # the screens' own answers, which Chromium logs
    tablet.goto(kiosk.url + "/")
    expect(tablet.get_by_test_id("out-of-order")).to_have_text("Hizmet dışı")
    expect(tablet.get_by_text("Lütfen kasaya başvurun.")).to_be_visible()
    shot(tablet, "60-out-of-order")
    # The display finds out by its own poll, and says so too.
    expect(display.get_by_test_id("out-of-order")).to_be_visible()
    display.set_viewport_size(PORTRAIT)
    shot(display, "61-display-out-of-order-portrait")


def test_a_till_mode_display_asks_for_a_tip(pages, kiosk_server, sandbox):
    kiosk, display, display_id, console = counter(pages, kiosk_server, TIPS="5,10,15")
    expect(console.get_by_test_id("till-ask-tip")).to_be_checked()
    charge(console, display_id, "20000", reference="till-88")
    expect(display.get_by_test_id("tip-10")).to_contain_text("₺20,00")
    shot(display, "79-display-tip-screen")
    display.get_by_test_id("tip-15").click()
    expect(display.get_by_test_id("fiat-amount")).to_have_text("₺230,00")
    expect(display.get_by_test_id("tip-line")).to_contain_text("₺30,00")
    display.get_by_test_id("coin-TRX-TRX").click()
    expect(display.get_by_test_id("qr")).to_be_visible()
    expect(console.get_by_test_id("till-total")).to_have_text("₺230,00")
    shot(console, "80-console-with-tip")
    tx_id = display.url.rsplit("/", 1)[1]
    assert Decimal(sandbox.state.transactions[tx_id]["currencyAmount"]) == Decimal("230.00")
