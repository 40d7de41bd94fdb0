"""The operator area and receipts in Chromium, with screenshots of each screen."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import requests
from playwright.sync_api import expect

from ..conftest import PIN
from .conftest import OUTPUT, shot
from .test_journey import sell_then_unlock, start_payment

PHONE = {"width": 390, "height": 844}


def test_long_press_on_the_shop_name_opens_the_pin_screen(page, kiosk_server, sandbox):
    kiosk = kiosk_server()
    page.goto(kiosk.url + "/")
    brand = page.get_by_test_id("brand")
    box = brand.bounding_box()
    page.mouse.move(box["x"] + 10, box["y"] + 10)
    page.mouse.down()
    page.wait_for_url(re.compile(r"/operator$"), timeout=5000)
    page.mouse.up()
    shot(page, "20-operator-pin")
    page.get_by_test_id("language").click()  # staff's other language, still on the locked screen
    expect(page.locator("h1")).to_have_text("Staff only")
    expect(page).to_have_url(re.compile(r"/operator$"))
    shot(page, "20-operator-pin-en")
    page.get_by_test_id("language").click()
    expect(page.locator("h1")).to_have_text("Yalnızca personel")
    page.expected_errors.append(r"/operator: .*status of 403")  # the wrong PIN's answer
    page.get_by_test_id("pin").fill("111111")
    page.get_by_test_id("unlock").click()
    expect(page.get_by_test_id("error")).to_contain_text("4 deneme")
    page.get_by_test_id("pin").fill(PIN)
    page.get_by_test_id("unlock").click()
    expect(page.get_by_test_id("paid-count")).to_be_visible()


def test_operator_screens(page, kiosk_server, sandbox, watcher):
    kiosk = kiosk_server()
    watcher(kiosk.app)
    sell_then_unlock(page, kiosk, sandbox, PIN)
    expect(page.get_by_test_id("paid-total")).to_have_text("₺300,00")
    shot(page, "21-operator-today")
    # At the tablet's 1280 px, in Turkish (the longest staff words), the nav is one row and the
    # shop's name one line.
    tops = page.evaluate("[...document.querySelectorAll('.opnav .button, .opnav button')]"
                         ".map(e => Math.round(e.getBoundingClientRect().top))")
    assert len(tops) == 8 and len(set(tops)) == 1, tops
    brand = page.locator(".brand").bounding_box()
    assert brand["height"] < 40, brand
    page.get_by_test_id("nav-history").click()
    expect(page.get_by_test_id("history-row")).to_have_count(1)
    shot(page, "22-operator-history")
    page.get_by_test_id("history-row").get_by_role("link").click()
    expect(page.get_by_test_id("status")).to_have_text("TRANSFERRED")
    shot(page, "23-operator-detail")
    page.get_by_test_id("nav-settings").click()
    expect(page.get_by_test_id("health")).to_contain_text("çalışıyor")
    expect(page.get_by_test_id("consumers")).to_contain_text("çalışıyor")
    shot(page, "24-operator-settings")
    page.get_by_test_id("lock").click()
    expect(page.get_by_test_id("amount-display")).to_be_visible()


def test_receipt_print_layouts(page, kiosk_server, sandbox):
    kiosk = kiosk_server(RECEIPTS=True, SHOP_NAME="Kadıköy Kahve", RESULT_SECONDS=30)
    tx_id = start_payment(page, kiosk.url, digits="30000")
    sandbox.pay(tx_id, share="full")
    page.get_by_test_id("receipt").click()
    expect(page.get_by_test_id("receipt-page")).to_be_visible()
    expect(page.get_by_test_id("rate")).to_have_text("1 TRX = ₺12,50")
    shot(page, "25-receipt-screen")
    page.emulate_media(media="print")
    shot(page, "26-receipt-print-a4")
    a4 = page.pdf(prefer_css_page_size=True)
    page.emulate_media(media="screen")
    page.goto(f"{kiosk.url}/receipt/{tx_id}?paper=58mm")  # the customer's receipt has no staff buttons
    expect(page.get_by_test_id("receipt-page")).to_be_visible()
    page.emulate_media(media="print")
    page.set_viewport_size({"width": 240, "height": 800})
    shot(page, "27-receipt-print-58mm")
    thermal = page.pdf(prefer_css_page_size=True)
    (OUTPUT / "receipt-58mm.pdf").write_bytes(thermal)

    def media_box(pdf: bytes) -> tuple[float, float]:
        match = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
        return float(match.group(1)), float(match.group(2))

    width, height = media_box(a4)
    assert abs(width - 210 / 25.4 * 72) < 1 and abs(height - 297 / 25.4 * 72) < 1.5  # A4, in points
    width, height = media_box(thermal)
    assert abs(width - 58 / 25.4 * 72) < 2 and abs(height - 200 / 25.4 * 72) < 2  # 58 mm roll


def test_api_keys_listed_and_one_revoked_in_both_languages(page, kiosk_server, sandbox):
    from kiosk.tills.keys import ApiKeys

    from .test_accessibility import in_language

    kiosk = kiosk_server()
    keys = ApiKeys(kiosk.app.extensions["kiosk"].store)
    counter, erp = keys.create("counter-till"), keys.create("erp")
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {counter}"
    assert api.get(kiosk.url + "/api/v1/displays", timeout=5).status_code == 200  # used once
    assert keys.last_used("counter-till") is not None
    # Shown in shop time: 2026-03-06 21:05 UTC is 7 March 00:05 in Istanbul (a one-digit day, written 07).
    used_at = datetime(2026, 3, 6, 21, 5, tzinfo=UTC).timestamp()
    kiosk.app.extensions["kiosk"].store.set("apikey-used:counter-till", repr(used_at))
    page.goto(kiosk.url + "/operator")
    page.get_by_test_id("pin").fill(PIN)
    page.get_by_test_id("unlock").click()
    expect(page.get_by_test_id("paid-count")).to_be_visible()
    page.get_by_test_id("nav-keys").click()
    expect(page.get_by_test_id("nav-keys")).to_have_class(re.compile(r"\bactive\b"))
    rows = page.locator("[data-testid^=key-row-]")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).get_by_test_id("key-name")).to_have_text("counter-till")
    expect(rows.nth(1).get_by_test_id("key-name")).to_have_text("erp")
    mine = page.get_by_test_id("key-row-counter-till")
    expect(mine.get_by_test_id("key-hint")).to_have_text(f"…{counter[-4:]}")
    expect(mine.get_by_test_id("key-used")).to_have_text("07.03.2026 00:05")  # dd.MM.yyyy
    expect(page.get_by_test_id("key-row-erp").get_by_test_id("key-used")).to_have_text("hiç kullanılmadı")
    expect(page.get_by_test_id("keys-howto")).to_contain_text("kiosk keys create AD")
    assert counter not in page.content() and erp not in page.content()
    shot(page, "28-operator-keys-tr")
    page.get_by_test_id("revoke-counter-till").click()
    expect(page.get_by_test_id("revoked")).to_contain_text("counter-till iptal edildi")
    expect(rows).to_have_count(1)
    assert api.get(kiosk.url + "/api/v1/displays", timeout=5).status_code == 401
    shot(page, "29-operator-keys-revoked-tr")
    in_language(page, kiosk.url, "en")
    page.goto(kiosk.url + "/operator/keys")
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    expect(page.get_by_test_id("key-row-erp").get_by_test_id("key-used")).to_have_text("never used")
    expect(page.get_by_test_id("revoke-erp")).to_have_text("Revoke")
    shot(page, "28-operator-keys-en")
    page.set_viewport_size(PHONE)
    shot(page, "28-operator-keys-en-phone")
