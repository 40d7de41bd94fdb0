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
    expect(console.get_by_test_id("reference")).to_have_text(re.compile(r"^till-4711 · #\d+$"))
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
    expect(display.get_by_test_id("display-idle")).to_have_attribute("data-display-name", "Front desk")
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


@pytest.mark.parametrize("locale", ["tr", "en"])
def test_a_partial_result_stays_through_a_tap_and_a_minute_until_the_cashier_ends_it(
        pages, kiosk_server, sandbox, locale):
    kiosk, display, display_id, console = counter(pages, kiosk_server, COINS="TRX:TRX",
                                                  DEFAULT_LOCALE=locale, SHOP_NAME="Moda Kahve")
    display.clock.install()
    display.clock.resume()  # time flows as usual, and the test may jump it forward
    charge(console, display_id, "8000")
    expect(display.get_by_test_id("qr")).to_be_visible()
    [tx] = sandbox.transactions()
    sandbox.pay(tx["_id"], share="half")
    expect(display.get_by_test_id("payment-status")).to_have_attribute("data-outcome", "partly_paid")
    console.get_by_test_id("till-cancel").click()
    expect(display.get_by_test_id("result-partial")).to_be_visible()
    expect(display.get_by_test_id("due")).to_have_text(re.compile(r"^\d+(\.\d+)? TRX$"))
    display.mouse.click(20, 400)  # a tap on empty space
    display.clock.fast_forward("01:01")  # a minute: every timer then due fires
    display.wait_for_timeout(1500)  # a second of polls (the hold time is the server's)
    expect(display.get_by_test_id("result-partial")).to_be_visible()
    shot(display, f"53-display-partial-held-{locale}")
    expect(console.get_by_test_id("till-release")).to_be_visible()
    shot(console, f"54-console-partial-held-{locale}")
    console.get_by_test_id("till-release").click()
    expect(display.get_by_test_id("display-idle")).to_be_visible()
    expect(console.get_by_test_id("till-release")).to_have_count(0)


# -- a long cart at three tablet sizes ---------------------------------------------------------
# A display with a long cart keeps the payment in view: the QR, the amount to send, the address,
# the status, the countdown and Cancel stay on screen at a portrait, a landscape and a small
# portrait tablet, in both languages, while the cart scrolls inside its own box (reachable by
# keyboard, its total always visible).

SMALL_PORTRAIT = {"width": 600, "height": 960}
SIZES = {"portrait-800x1280": PORTRAIT, "landscape-1280x800": LANDSCAPE, "small-600x960": SMALL_PORTRAIT}
TWELVE = [
    Line("Türk kahvesi (duble)", 2, Decimal("85.00")), Line("Simit", 3, Decimal("20.00")),
    Line("Mevsim meyveli cheesecake, ekstra frambuaz soslu", 1, Decimal("145.50")),
    Line("Çay", 4, Decimal("15.00")), Line("Su 0,5 L", 2, Decimal("12.50")),
    Line("Börek", 1, Decimal("95.00")), Line("Ayran", 2, Decimal("30.00")),
    Line("Filtre kahve", 1, Decimal("70.00")), Line("Kruvasan", 2, Decimal("55.00")),
    Line("Sütlaç", 1, Decimal("65.00")), Line("Taze sıkma portakal suyu", 1, Decimal("90.00")),
    Line("Kurabiye", 6, Decimal("12.00")),
]
IN_VIEW = ("qr", "fiat-amount", "coin-amount", "wallet-address", "payment-status", "countdown",
           "cancel", "cart-total")
# Where an element is drawn, and whether all of it is inside the viewport.
# Where an element is drawn: all of it inside the viewport, and nothing drawn over it (what is
# hit at its centre and near its corners is the element itself or inside it).
BOX = """el => { if (!el.isConnected) return null; const r = el.getBoundingClientRect();
  const at = (fx, fy) => [r.left + fx * r.width, r.top + fy * r.height];
  const points = [at(.5, .5), at(.2, .2), at(.8, .2), at(.2, .8), at(.8, .8)];
  const hits = points.map(([x, y]) => document.elementFromPoint(x, y));
  const covered = hits.some(hit => !hit || !el.contains(hit));
  return [r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth && !covered,
          Math.round(r.top), Math.round(r.bottom), Math.round(r.right),
          hits.map(h => h && h.tagName + '.' + h.className)]; }"""


def placement(page, testid: str) -> list:
    """BOX of an element; again if a poll swapped it out just as it was measured."""
    for _ in range(5):
        found = page.get_by_test_id(testid).evaluate(BOX)
        if found is not None:
            return found
        page.wait_for_timeout(100)
    raise AssertionError(f"{testid} keeps being replaced")


def axe_rule(page, rule: str) -> list:
    from .test_accessibility import axe_source

    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(axe_source() + "\n;0")  # evaluated by the browser's devtools, past the CSP
    return page.evaluate(f"""async () => (await axe.run(document, {{runOnly: ['{rule}']}}))
        .violations.map(v => v.nodes.map(n => n.target.join(' ')))""")


@pytest.mark.parametrize("locale", ["tr", "en"])
def test_a_twelve_line_cart_keeps_the_payment_in_view(pages, kiosk_server, sandbox, locale):
    kiosk = kiosk_server(**SETTINGS, COINS="TRX:TRX", DEFAULT_LOCALE=locale, SHOP_NAME="Moda Kahve Dükkânı")
    staff = pages(PHONE)
    display, display_id = paired_display(pages, kiosk, staff, viewport=PORTRAIT)
    services = kiosk.app.extensions["kiosk"]
    total = sum((line.total for line in TWELVE), Decimal(0))
    services.orders.send(services.displays.get(display_id), total, lines=TWELVE)
    expect(display.get_by_test_id("qr")).to_be_visible()
    expect(display.get_by_test_id("cart-line")).to_have_count(12)
    [tx] = sandbox.transactions()
    for state in ("waiting", "partly_paid"):
        if state == "partly_paid":
            sandbox.pay(tx["_id"], share="half")
            expect(display.get_by_test_id("payment-status")).to_have_attribute("data-outcome", state)
        for name, size in SIZES.items():
            display.set_viewport_size(size)
            for testid in IN_VIEW:
                inside, *box = placement(display, testid)
                assert inside, (state, name, testid, box, size)
            scroll = display.get_by_test_id("cart-scroll")
            assert scroll.get_attribute("tabindex") == "0"  # the keyboard reaches it
            # Every line can be brought into the box: scrolled to the end, the last line shows.
            scroll.focus()
            display.keyboard.press("End")  # a smooth scroll: waited for
            display.wait_for_function("""() => {
                const el = document.querySelector('[data-testid=cart-scroll]');
                const b = el.getBoundingClientRect();
                const r = el.querySelector('tbody tr:last-child').getBoundingClientRect();
                return r.bottom <= b.bottom + 1 && r.top >= b.top - 1; }""", timeout=3000)
            assert axe_rule(display, "scrollable-region-focusable") == [], (state, name)
            scroll.evaluate("el => { el.scrollTop = 0; }")
            display.evaluate("document.activeElement.blur()")
            shot(display, f"display-{state.replace('_', '-')}-cart-{locale}__{name}")



# -- staff pages on a phone ---------------------------------------------------------------------

# Everything drawn inside the page's width: the right edge of the furthest element, and the width.
WIDEST = """() => { let right = 0;
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width && r.height) right = Math.max(right, r.right);
  }
  return [Math.ceil(right), innerWidth, document.documentElement.scrollWidth]; }"""


@pytest.mark.parametrize("locale", ["tr", "en"])
def test_staff_pages_fit_a_phone(pages, kiosk_server, sandbox, locale):
    kiosk, display, display_id, console = counter(pages, kiosk_server, COINS="TRX:TRX", DEFAULT_LOCALE=locale)
    charge(console, display_id, "8000", reference="Masa 4")
    expect(display.get_by_test_id("qr")).to_be_visible()
    [tx] = sandbox.transactions()
    sandbox.pay(tx["_id"], share="half")
    console.get_by_test_id("till-cancel").click()  # a partial payment: an attention item
    expect(console.get_by_test_id("checkout-status")).to_have_attribute("data-status", "partial")
    checkout = console.url
    operator = pages(PHONE)
    unlock(operator, kiosk.url, "/operator", STAFF_PIN)
    screens = {"console": (console, kiosk.url + "/till"), "console-checkout": (console, checkout)}
    for name in ("today", "history", "displays", "keys", "settings"):
        screens[f"operator-{name}"] = (operator, f"{kiosk.url}/operator/{name}")
    screens["operator-detail"] = (operator, f"{kiosk.url}/operator/tx/{tx['_id']}")
    for name, (page, url) in screens.items():
        page.goto(url)
        right, width, scroll = page.evaluate(WIDEST)
        assert right <= width and scroll <= width, (name, right, scroll)
        bar = page.locator("header.bar").bounding_box()
        assert bar["height"] <= 170, (name, bar)
        shot(page, f"staff-{name}-{locale}__phone-390x844")
    console.goto(kiosk.url + "/till")
    assert console.locator("header.bar").bounding_box()["height"] <= 110
    # The charge form in the order a cashier uses it: display, amount, reference and note, Charge.
    reference = console.get_by_test_id("till-reference").bounding_box()
    assert reference["y"] < console.get_by_test_id("till-charge").bounding_box()["y"]


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


# -- the staff's language switch ------------------------------------------------------------------
# The console's and the operator's language button keeps staff on the page they were on, at every
# tablet and phone size, each page drawn inside its width in both languages.

FOUR = {**SIZES, "phone-390x844": PHONE}


def switch_language(page, to: str) -> None:
    """Press the staff language button; the same page comes back in `to`."""
    before = page.url
    page.get_by_test_id("language").click()
    expect(page.locator("html")).to_have_attribute("lang", to)
    assert page.url == before, (before, page.url)


def test_the_language_switch_stays_on_the_staff_page(pages, kiosk_server, sandbox):
    kiosk, display, display_id, console = counter(pages, kiosk_server, COINS="TRX:TRX")
    switch_language(console, "en")  # the cashier stays on /till, not the customer keypad
    assert console.url == kiosk.url + "/till"
    expect(console.get_by_test_id("till-charge")).to_have_text("Charge")
    charge(console, display_id, "8000", reference="Masa 4")
    expect(console).to_have_url(re.compile(r"/till/checkout/chk_"))
    expect(display.get_by_test_id("qr")).to_be_visible()
    switch_language(console, "tr")
    operator = pages(PHONE)
    unlock(operator, kiosk.url, "/operator", STAFF_PIN)
    [tx] = sandbox.transactions()
    screens = {"console": (console, "/till"), "console-checkout": (console, console.url[len(kiosk.url):])}
    for name in ("today", "history", "reports", "settings"):
        screens[f"operator-{name}"] = (operator, f"/operator/{name}")
    screens["operator-detail"] = (operator, f"/operator/tx/{tx['_id']}")
    for locale in ("tr", "en"):
        for name, (page, path) in screens.items():
            page.set_viewport_size(PHONE)
            page.goto(kiosk.url + path)
            if page.locator("html").get_attribute("lang") != locale:
                switch_language(page, locale)
            for size_name, size in FOUR.items():
                page.set_viewport_size(size)
                right, width, scroll = page.evaluate(WIDEST)
                assert right <= width and scroll <= width, (name, locale, size_name, right, scroll)
                inside, *box = placement(page, "language")
                assert inside, (name, locale, size_name, box)
                shot(page, f"staff-language-{name}-{locale}__{size_name}")
