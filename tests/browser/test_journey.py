"""The checkout as a customer lives it, in a real Chromium against the kiosk and the sandbox."""

from __future__ import annotations

import re
import subprocess

import requests
from playwright.sync_api import expect

from ..support import LiveServer
from .conftest import OUTPUT, PORTRAIT, shot

SMALL = {"width": 1024, "height": 600}


# The page itself never scrolls (the body clips), so fitting means: every element drawn inside
# the viewport. Returns the furthest bottom and right edges, and the viewport's size.
EXTENT = """() => {
  let bottom = 0, right = 0;
  for (const el of document.querySelectorAll('main *, header *')) {
    const r = el.getBoundingClientRect();
    if (r.width && r.height) { bottom = Math.max(bottom, r.bottom); right = Math.max(right, r.right); }
  }
  return [Math.ceil(bottom), innerHeight, Math.ceil(right), innerWidth];
}"""


def enter_amount(page, digits: str) -> None:
    for d in digits:
        page.get_by_test_id(f"key-{d}").click()


def start_payment(page, url: str, digits: str = "12345", coin: str = "TRX-TRX") -> str:
    page.goto(url + "/")
    enter_amount(page, digits)
    page.get_by_test_id("amount-submit").click()
    page.get_by_test_id(f"coin-{coin}").click()
    expect(page.get_by_test_id("qr")).to_be_visible()
    return page.url.rsplit("/", 1)[1]


def sell_then_unlock(page, kiosk, sandbox, pin: str) -> str:
    """A 300,00 sale paid in full on the kiosk's screen, then the operator area unlocked with
    `pin` in the same tab: the sale's transaction id."""
    tx_id = start_payment(page, kiosk.url, digits="30000")
    sandbox.pay(tx_id, share="full")
    expect(page.get_by_test_id("result-paid")).to_be_visible()
    page.goto(kiosk.url + "/operator")
    page.get_by_test_id("pin").fill(pin)
    page.get_by_test_id("unlock").click()
    return tx_id


def test_pay_in_full(page, kiosk_server, sandbox, zbarimg):
    kiosk = kiosk_server()
    page.goto(kiosk.url + "/")
    for d in "123":
        page.get_by_test_id(f"key-{d}").click()
    expect(page.get_by_test_id("amount-display")).to_have_text("₺1,23")
    page.get_by_test_id("key-00").click()
    expect(page.get_by_test_id("amount-display")).to_have_text("₺123,00")
    page.get_by_test_id("key-back").click()
    expect(page.get_by_test_id("amount-display")).to_have_text("₺12,30")
    page.get_by_test_id("key-clear").click()
    expect(page.get_by_test_id("amount-display")).to_have_text("₺0,00")
    expect(page.get_by_test_id("amount-submit")).to_be_disabled()
    enter_amount(page, "1234550")
    expect(page.get_by_test_id("amount-display")).to_have_text("₺12.345,50")
    shot(page, "01-amount")
    page.get_by_test_id("amount-submit").click()
    expect(page.get_by_test_id("coin-TRX-TRX")).to_be_visible()
    shot(page, "02-coin")
    page.get_by_test_id("coin-TRX-TRX").click()
    expect(page.get_by_test_id("payment-status")).to_have_attribute("data-outcome", "waiting")
    [tx] = sandbox.transactions()
    address = tx["wallet"]["address"]
    expect(page.get_by_test_id("wallet-address")).to_have_text(address)
    expect(page.get_by_test_id("fiat-amount")).to_have_text("₺12.345,50")
    expect(page.get_by_test_id("coin-amount")).to_have_text("987.64 TRX")
    expect(page.get_by_test_id("countdown")).to_have_text(re.compile(r"^(10:00|9:5\d)$"))
    shot(page, "03-pay")
    # The QR on screen decodes to the wallet address.
    qr = OUTPUT / "qr.png"
    page.get_by_test_id("qr").screenshot(path=str(qr))
    decoded = subprocess.run([zbarimg, "--raw", "-q", str(qr)], capture_output=True, text=True, check=True)
    assert decoded.stdout.strip() == address
    sandbox.pay(tx["_id"], share="full")
    expect(page.get_by_test_id("result-paid")).to_be_visible()
    expect(page.get_by_test_id("fiat-amount")).to_have_text("₺12.345,50")
    expect(page.get_by_test_id("reference")).to_have_text(f"#{tx['sequenceID']}")
    shot(page, "04-paid")
    # Back to a fresh amount screen by itself.
    expect(page.get_by_test_id("amount-display")).to_have_text("₺0,00", timeout=8000)
    assert page.url == kiosk.url + "/"
    assert page.errors == []


def test_keyboard_entry(page, kiosk_server, sandbox):
    kiosk = kiosk_server()
    page.goto(kiosk.url + "/")
    page.keyboard.type("4550")
    expect(page.get_by_test_id("amount-display")).to_have_text("₺45,50")
    page.keyboard.press("Backspace")
    expect(page.get_by_test_id("amount-display")).to_have_text("₺4,55")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("coin-USDT-TRX")).to_be_visible()


def test_half_then_the_rest(page, kiosk_server, sandbox):
    kiosk = kiosk_server()
    tx_id = start_payment(page, kiosk.url)
    sandbox.pay(tx_id, share="half")
    expect(page.get_by_test_id("payment-status")).to_have_attribute("data-outcome", "partly_paid")
    expect(page.get_by_test_id("received")).to_have_text("4.938 TRX")
    expect(page.get_by_test_id("coin-amount")).to_have_text("4.938 TRX")
    expect(page.get_by_test_id("qr")).to_be_visible()
    shot(page, "05-partly-paid")
    sandbox.pay(tx_id, share="full")
    expect(page.get_by_test_id("result-paid")).to_be_visible()


def test_cancel(page, kiosk_server, sandbox):
    kiosk = kiosk_server()
    start_payment(page, kiosk.url)
    page.get_by_test_id("cancel").dblclick()
    expect(page.get_by_test_id("result-cancelled")).to_be_visible()
    shot(page, "06-cancelled")
    assert sandbox.calls("cancel") == 1
    assert sandbox.transactions()[0]["status"] == "CANCELLED"


def test_deadline_passes(page, kiosk_server, sandbox):
    kiosk = kiosk_server(PAYMENT_TIMEOUT=5)
    start_payment(page, kiosk.url)
    expect(page.get_by_test_id("result-expired")).to_be_visible(timeout=12000)
    shot(page, "07-expired")
    assert sandbox.transactions()[0]["status"] == "CANCELLED"


def test_deadline_after_partial_payment(page, kiosk_server, sandbox):
    kiosk = kiosk_server(PAYMENT_TIMEOUT=6)
    tx_id = start_payment(page, kiosk.url)
    sandbox.pay(tx_id, share="half")
    expect(page.get_by_test_id("result-partial")).to_be_visible(timeout=12000)
    expect(page.get_by_test_id("due")).to_have_text("4.938 TRX")
    shot(page, "08-expired-partial")


def test_upstream_outage_then_recovery_then_paid(page, kiosk_server, sandbox):
    kiosk = kiosk_server()
    tx_id = start_payment(page, kiosk.url)
    sandbox.faults(fail_next=1000)
    expect(page.get_by_test_id("reconnecting")).to_be_visible()
    expect(page.get_by_test_id("qr")).to_be_visible()
    shot(page, "09-reconnecting")
    sandbox.clear_faults()
    expect(page.get_by_test_id("reconnecting")).to_be_hidden()
    sandbox.pay(tx_id, share="full")
    expect(page.get_by_test_id("result-paid")).to_be_visible()


def test_ledger_away_then_back_while_waiting_then_paid(page, kiosk_server, sandbox, tmp_path):
    """The sales ledger's database does not answer: the waiting screen keeps polling and says it
    is reconnecting; the payment goes on to its paid screen (given unwritten, never saying it);
    once the ledger answers, the next look writes the sale and the next customer's screen says
    nothing of it."""
    from kiosk.ledger import Ledger, make_engine

    kiosk = kiosk_server()
    services = kiosk.app.extensions["kiosk"]
    runner = services.checkout.runner
    kept = runner.ledger
    kept.ensure()  # made before: its first upgrade would import the store's open checkouts
    runner.ledger = Ledger(make_engine(f"sqlite:///{tmp_path / 'away' / 'ledger.sqlite3'}"))
    tx = start_payment(page, kiosk.url)
    expect(page.get_by_test_id("reconnecting")).to_be_visible()
    expect(page.get_by_test_id("qr")).to_be_visible()
    shot(page, "09b-ledger-away")
    sandbox.pay(tx, share="full")
    expect(page.get_by_test_id("result-paid")).to_be_visible(timeout=10000)
    expect(page.get_by_test_id("reconnecting")).to_be_hidden()
    assert kept.get(tx_id=tx) is None  # shown, not written
    runner.ledger = kept  # the ledger answers again
    page.reload()  # the next look writes it
    expect(page.get_by_test_id("result-paid")).to_be_visible()
    assert kept.get(tx_id=tx).status == "paid"
    start_payment(page, kiosk.url, "500")
    with page.expect_response(lambda r: r.url.endswith("/status")):  # the screen's next poll
        pass
    expect(page.get_by_test_id("payment-status")).to_be_visible()
    expect(page.get_by_test_id("reconnecting")).to_be_hidden()


def test_reload_resumes_the_same_transaction(page, kiosk_server, sandbox):
    kiosk = kiosk_server()
    tx_id = start_payment(page, kiosk.url)
    address = page.get_by_test_id("wallet-address").text_content()
    page.reload()
    expect(page.get_by_test_id("wallet-address")).to_have_text(address)
    page.goto(kiosk.url + "/")  # the amount screen sends an open payment back to it
    assert page.url.endswith(f"/pay/{tx_id}")
    page.go_back()
    assert len(sandbox.transactions()) == 1


# What a screen logs while the kiosk is out of reach on purpose: its polls fail.
UNREACHABLE = [r"htmx:(afterRequest|sendError)", r"net::ERR_(CONNECTION_REFUSED|INTERNET_DISCONNECTED)"]


def test_kiosk_server_restart_while_waiting(page, kiosk_server, sandbox, make_app):
    kiosk = kiosk_server()
    page.expected_errors += UNREACHABLE
    tx_id = start_payment(page, kiosk.url)
    port = kiosk.port
    kiosk.stop()
    expect(page.get_by_test_id("offline")).to_be_visible()
    shot(page, "10-offline")
    again = LiveServer(make_app(POLL_INTERVAL=1), port=port)
    try:
        expect(page.get_by_test_id("offline")).to_be_hidden()
        sandbox.pay(tx_id, share="full")
        expect(page.get_by_test_id("result-paid")).to_be_visible()
    finally:
        again.stop()
    assert len(sandbox.transactions()) == 1


def test_double_tap_on_pay_creates_one_transaction(page, kiosk_server, sandbox):
    kiosk = kiosk_server()
    page.goto(kiosk.url + "/")
    enter_amount(page, "5000")
    page.get_by_test_id("amount-submit").click()
    page.get_by_test_id("coin-TRX-TRX").dblclick()
    expect(page.get_by_test_id("qr")).to_be_visible()
    page.go_back()
    page.go_back()
    page.goto(kiosk.url + "/coin")
    assert sandbox.calls("create") == 1


def test_pay_screen_fits_portrait_and_landscape(page, kiosk_server, sandbox):
    kiosk = kiosk_server()
    tx_id = start_payment(page, kiosk.url, digits="1234567")
    sandbox.pay(tx_id, amount="1.5")  # the partly-paid state is the tallest
    expect(page.get_by_test_id("payment-status")).to_have_attribute("data-outcome", "partly_paid")
    for name, size in (("landscape", None), ("portrait", PORTRAIT), ("small-landscape", SMALL),
                       ("small-portrait", {"width": 600, "height": 1024})):
        if size:
            page.set_viewport_size(size)
        sizes = page.evaluate(EXTENT)
        assert sizes[0] <= sizes[1] and sizes[2] <= sizes[3], (name, sizes)
        shot(page, f"11-pay-{name}")
    for target in ("cancel",):
        box = page.get_by_test_id(target).bounding_box()
        assert box["height"] >= 48 and box["width"] >= 48


def test_sandbox_page_pays_a_demo_payment(page, kiosk_server, sandbox):
    kiosk = kiosk_server()
    start_payment(page, kiosk.url)
    other = page.context.new_page()
    other.goto(sandbox.url + "/sandbox")
    shot(other, "12-sandbox")
    other.get_by_role("button", name="Pay in full").click()
    expect(page.get_by_test_id("result-paid")).to_be_visible()
    assert requests.get(sandbox.url + "/sandbox/transactions", timeout=5).json()[0]["isTransferComplete"]


def test_idle_coin_screen_returns_to_a_clear_amount_screen(page, kiosk_server, sandbox):
    kiosk = kiosk_server(IDLE_SECONDS=5)
    page.goto(kiosk.url + "/")
    enter_amount(page, "999")
    page.get_by_test_id("amount-submit").click()
    expect(page.get_by_test_id("coin-TRX-TRX")).to_be_visible()
    expect(page.get_by_test_id("amount-display")).to_have_text("₺0,00", timeout=9000)
    enter_amount(page, "42")
    expect(page.get_by_test_id("amount-display")).to_have_text("₺0,42")
    expect(page.get_by_test_id("amount-display")).to_have_text("₺0,00", timeout=9000)
    assert sandbox.calls("create") == 0


def test_an_unattended_amount_screen_loads_itself_again_after_six_hours(page, kiosk_server, sandbox):
    """Each showing keeps the tablet's session another day (test_session_store), so the first
    customer after a quiet night is never told the page expired; a customer typing is never
    interrupted."""
    kiosk = kiosk_server(IDLE_SECONDS=90)
    page.clock.install()
    shown: list[str] = []
    page.on("request", lambda r: r.resource_type == "document" and shown.append(r.url))
    page.goto(kiosk.url + "/")
    page.clock.fast_forward("05:59:30")
    enter_amount(page, "42")  # a customer, thirty seconds before the six hours are up,
    page.get_by_test_id("key-clear").click()  # starts over
    page.clock.fast_forward("00:00:45")  # six hours have passed, but someone is there
    enter_amount(page, "425")
    expect(page.get_by_test_id("amount-display")).to_have_text("₺4,25")  # the same page
    # Had the screen loaded itself again while typing, its six hours would start over and
    # nothing would load it in the next three minutes.
    with page.expect_navigation():
        page.clock.run_for("03:00")  # the idle reset clears the amount, and a minute later it loads
    expect(page.get_by_test_id("amount-display")).to_have_text("₺0,00")
    assert shown == [kiosk.url + "/", kiosk.url + "/"]
    assert sandbox.calls("create") == 0


def test_touch_targets_are_large_enough(page, kiosk_server, sandbox):
    kiosk = kiosk_server()
    for size in ({"width": 1280, "height": 800}, PORTRAIT, SMALL):
        page.set_viewport_size(size)
        page.goto(kiosk.url + "/")
        for test_id in [f"key-{k}" for k in [*"0123456789", "00", "back", "clear"]] + ["amount-submit"]:
            box = page.get_by_test_id(test_id).bounding_box()
            assert box["width"] >= 48 and box["height"] >= 48, (size, test_id, box)
        sizes = page.evaluate(EXTENT)
        assert sizes[0] <= sizes[1] and sizes[2] <= sizes[3], (size, sizes)
    shot(page, "13-amount-small-landscape")


def test_qr_drawn_by_the_kiosk_when_upstream_qr_fails(page, kiosk_server, sandbox, zbarimg):
    kiosk = kiosk_server()
    sandbox.faults(fail_next=2, only="qr")
    tx_id = start_payment(page, kiosk.url)
    qr = OUTPUT / "qr-fallback.png"
    page.get_by_test_id("qr").screenshot(path=str(qr))
    decoded = subprocess.run([zbarimg, "--raw", "-q", str(qr)], capture_output=True, text=True, check=True)
    assert decoded.stdout.strip() == sandbox.transactions()[0]["wallet"]["address"]
    assert sandbox.transactions()[0]["_id"] == tx_id


def test_switch_language_on_the_amount_screen(page, kiosk_server, sandbox):
    kiosk = kiosk_server()
    page.goto(kiosk.url + "/")
    expect(page.locator("h1")).to_have_text("Ödenecek tutar")
    page.get_by_test_id("language-en").click()
    expect(page.locator("h1")).to_have_text("Amount to pay")
    assert page.evaluate("document.documentElement.lang") == "en"
    enter_amount(page, "123456")
    expect(page.get_by_test_id("amount-display")).to_have_text("₺1,234.56")
    shot(page, "14-amount-english")
    page.get_by_test_id("language-tr").click()
    expect(page.locator("h1")).to_have_text("Ödenecek tutar")
    enter_amount(page, "123456")
    expect(page.get_by_test_id("amount-display")).to_have_text("₺1.234,56")


def test_browser_offline_for_twenty_seconds_then_back(page, kiosk_server, sandbox):
    kiosk = kiosk_server()
    page.clock.install()  # the page's timers, moved on below instead of waited for
    page.expected_errors += UNREACHABLE
    tx_id = start_payment(page, kiosk.url)
    page.context.set_offline(True)
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.clock.fast_forward("00:05")
    expect(page.get_by_test_id("offline")).to_be_visible(timeout=10000)
    for _ in range(4):  # twenty seconds of polls that cannot reach the kiosk
        page.clock.fast_forward("00:05")
    expect(page.get_by_test_id("countdown")).to_be_visible()
    assert any(url.endswith(f"/pay/{tx_id}/status") for url in failed)
    sandbox.pay(tx_id, share="full")  # the payment lands while the screen is offline
    page.context.set_offline(False)
    expect(page.get_by_test_id("result-paid")).to_be_visible(timeout=15000)
    assert len(sandbox.transactions()) == 1


def test_two_tabs_on_the_same_checkout(page, kiosk_server, sandbox):
    kiosk = kiosk_server()
    tx_id = start_payment(page, kiosk.url)
    other = page.context.new_page()
    other.goto(f"{kiosk.url}/pay/{tx_id}")
    sandbox.pay(tx_id, share="half")
    for tab in (page, other):
        expect(tab.get_by_test_id("payment-status")).to_have_attribute("data-outcome", "partly_paid")
    sandbox.pay(tx_id, share="full")
    for tab in (page, other):
        expect(tab.get_by_test_id("result-paid")).to_be_visible()
    assert sandbox.calls("create") == 1


def test_browser_restart_comes_back_to_the_same_payment(browser, kiosk_server, sandbox):
    kiosk = kiosk_server()
    context = browser.new_context()
    page = context.new_page()
    tx_id = start_payment(page, kiosk.url)
    saved = context.storage_state()  # what the kiosk browser's profile keeps on disk
    context.close()  # the browser crashes
    again = browser.new_context(storage_state=saved)
    page = again.new_page()
    page.goto(kiosk.url + "/")
    expect(page.get_by_test_id("qr")).to_be_visible()
    assert page.url.endswith(f"/pay/{tx_id}")
    again.close()


def test_a_partial_result_ends_with_a_staff_pin_on_the_screen(page, kiosk_server, sandbox):
    kiosk = kiosk_server(OPERATOR_PIN="135790", CASHIER_PIN="246810", DEFAULT_LOCALE="en")
    tx_id = start_payment(page, kiosk.url)
    sandbox.pay(tx_id, share="half")
    expect(page.get_by_test_id("coin-amount")).to_have_text("4.938 TRX")
    page.get_by_test_id("cancel").click()
    expect(page.get_by_test_id("result-partial")).to_be_visible()
    expect(page.get_by_test_id("due")).to_have_text("4.938 TRX")
    expect(page.get_by_test_id("received")).to_have_text("4.938 TRX")
    shot(page, "08b-partial-held-en")
    page.expected_errors.append(r"/release: .*status of 403")  # the wrong PIN's answer
    page.get_by_test_id("release-pin").fill("000000")
    page.get_by_test_id("release").click()
    expect(page.get_by_test_id("error")).to_be_visible()
    expect(page.get_by_test_id("result-partial")).to_be_visible()
    page.get_by_test_id("release-pin").fill("246810")
    page.get_by_test_id("release").click()
    expect(page.get_by_test_id("amount-display")).to_be_visible()


def test_the_keypad_stops_at_the_largest_amount_and_says_so_at_once(page, kiosk_server, sandbox):
    kiosk = kiosk_server(MAX_AMOUNT="100000")
    page.goto(kiosk.url + "/")
    limit = page.get_by_test_id("limit-reached")
    enter_amount(page, "10000000")  # ₺100.000,00: the limit itself is taken
    expect(page.get_by_test_id("amount-display")).to_have_text("₺100.000,00")
    expect(limit).to_be_hidden()
    enter_amount(page, "0")  # one digit more would be ₺1.000.000,00
    expect(page.get_by_test_id("amount-display")).to_have_text("₺100.000,00")
    expect(limit).to_be_visible()
    expect(limit).to_have_text("En büyük tutar ₺100.000,00.")
    shot(page, "01b-amount-at-the-limit")
    page.get_by_test_id("key-back").click()
    expect(limit).to_be_hidden()
    enter_amount(page, "1")  # ₺100.000,01 is past the limit too, by a kuruş
    expect(page.get_by_test_id("amount-display")).to_have_text("₺10.000,00")
    expect(limit).to_be_visible()
    page.get_by_test_id("key-clear").click()
    page.keyboard.type("9999999")
    page.get_by_test_id("key-00").click()  # ₺9.999.999,00 would be far past it
    expect(page.get_by_test_id("amount-display")).to_have_text("₺99.999,99")
    expect(limit).to_be_visible()
    assert sandbox.calls("create") == 0
