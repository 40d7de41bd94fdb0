"""axe-core on every customer and operator screen, in both languages, at a landscape and a
portrait tablet size: zero violations, and every touch target at least 48 x 48 px."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from ..conftest import PIN
from .conftest import PORTRAIT, shot

ROOT = Path(__file__).resolve().parents[2]
SIZES = {"landscape": {"width": 1280, "height": 800}, "portrait": PORTRAIT}


def axe_source() -> str:
    found = sorted(ROOT.glob(".venv/axe-core-*/axe.min.js"))
    if not found:
        message = "axe-core is missing: `make test` fetches it with npm"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found[-1].read_text()


TARGETS = """() => [...document.querySelectorAll('button, a[href], input:not([type=hidden]), select')]
  .filter(el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; })
  .map(el => { const r = el.getBoundingClientRect();
               return {name: (el.dataset.testid || el.name || el.textContent || '').trim().slice(0, 30),
                       w: Math.round(r.width), h: Math.round(r.height)}; })
  .filter(t => t.w < 48 || t.h < 48)"""


@pytest.fixture
def screens(kiosk_server, sandbox):
    """Every screen's URL, with the states behind them made through the kiosk and the sandbox."""
    kiosk = kiosk_server(RECEIPTS=True, RESULT_SECONDS=600, IDLE_SECONDS=3600, TIPS="5,10,15")
    checkout = kiosk.app.extensions["kiosk"].checkout
    with kiosk.app.app_context():
        def new(nonce: str) -> str:
            return checkout.start(nonce * 20, Decimal("300"), "TRX", "TRX")

        waiting, partly, paid, cancelled, expired, partial, lost = (new(c) for c in "abcdefg")
    sandbox.pay(partly, share="half")
    sandbox.pay(paid, share="full")
    sandbox.pay(partial, share="half")
    for tx in (cancelled, partial):
        requests.post(f"{sandbox.url}/sandbox/transactions/{tx}/cancel", timeout=5)
    requests.post(f"{sandbox.url}/sandbox/transactions/{expired}/expire", timeout=5)
    requests.post(f"{sandbox.url}/sandbox/transactions/{lost}/vanish", timeout=5)
    customer = {
        "amount": "/", "pay": f"/pay/{waiting}", "partly-paid": f"/pay/{partly}",
        "paid": f"/result/{paid}", "cancelled": f"/result/{cancelled}", "expired": f"/result/{expired}",
        "partial": f"/result/{partial}", "see-cashier": f"/result/{lost}", "receipt": f"/receipt/{paid}",
        "missing": "/pay/0123456789abcdef01234567",
    }
    operator = {"pin": "/operator", "today": "/operator/today", "history": "/operator/history",
                "detail": f"/operator/tx/{partly}", "settings": "/operator/settings",
                "keys": "/operator/keys", "reports": "/operator/reports"}
    from kiosk.tills.keys import ApiKeys

    ApiKeys(kiosk.app.extensions["kiosk"].store).create("till-1")  # a row with its revoke button
    return kiosk, customer, operator


def audit(page, name: str, source: str) -> list[str]:
    page.add_script_tag(content=source)
    violations = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"
    )
    problems = [f"{name}: {v['id']} ({v['impact']}) {v['help']} at {v['nodes']}" for v in violations]
    small = page.evaluate(TARGETS)
    problems += [f"{name}: touch target {t['name']!r} is {t['w']}x{t['h']} px" for t in small]
    return problems


@pytest.mark.parametrize("locale", ["tr", "en"])
def test_no_accessibility_violations(browser, screens, sandbox, locale):
    source = axe_source()
    kiosk, customer, operator = screens
    context = browser.new_context(viewport=SIZES["landscape"], bypass_csp=True, has_touch=True)
    page = context.new_page()
    problems: list[str] = []
    try:
        page.goto(kiosk.url + "/")
        if locale == "en":
            page.get_by_test_id("language-en").click()
            page.wait_for_selector("html[lang=en]")
        pages = list(customer.items())
        for size_name, size in SIZES.items():
            page.set_viewport_size(size)
            for name, url in pages:
                page.goto(kiosk.url + url)
                problems += audit(page, f"{locale}/{size_name}/{name}", source)
            page.goto(kiosk.url + "/")
            for key in "1500":
                page.get_by_test_id(f"key-{key}").click()
            page.get_by_test_id("amount-submit").click()
            page.wait_for_url("**/tip")
            problems += audit(page, f"{locale}/{size_name}/tip", source)
            page.get_by_test_id("tip-custom").click()
            page.wait_for_url("**/tip?custom=1")
            problems += audit(page, f"{locale}/{size_name}/tip-custom", source)
            page.get_by_test_id("tip-presets").click()
            page.get_by_test_id("tip-none").click()
            page.wait_for_url("**/coin")
            problems += audit(page, f"{locale}/{size_name}/coin", source)
            page.get_by_test_id("back").click()
            # A form from a stale page: the screen again, with the page-expired notice.
            page.eval_on_selector("form.languages [name=csrf_token]", "el => { el.value = 'stale'; }")
            page.get_by_test_id("language-tr").click()
            page.get_by_test_id("expired").wait_for()
            problems += audit(page, f"{locale}/{size_name}/expired", source)
            page.goto(kiosk.url + "/operator")
            page.get_by_test_id("pin").fill(PIN)
            page.get_by_test_id("unlock").click()
            page.wait_for_url("**/operator/today")
            for name, url in operator.items():
                if name == "pin":
                    continue
                page.goto(kiosk.url + url)
                problems += audit(page, f"{locale}/{size_name}/operator-{name}", source)
            page.get_by_test_id("lock").click()
            page.goto(kiosk.url + "/operator")
            problems += audit(page, f"{locale}/{size_name}/operator-pin", source)
            shot(page, f"30-a11y-{locale}-{size_name}-pin")
    finally:
        context.close()
    assert problems == [], json.dumps(problems, indent=1, ensure_ascii=False)



def audit_sizes(page, name: str, source: str) -> list[str]:
    problems = []
    for size_name, size in SIZES.items():
        page.set_viewport_size(size)
        problems += audit(page, f"{name}/{size_name}", source)
        shot(page, f"31-a11y-{name.replace('/', '-')}-{size_name}")
    page.set_viewport_size(SIZES["landscape"])
    return problems


def in_language(page, url: str, locale: str) -> None:
    """The customer's language button lives on the amount screen; the choice stays with the session."""
    if locale == "en":
        page.goto(url + "/")
        page.get_by_test_id("language-en").click()
        page.wait_for_selector("html[lang=en]")


@pytest.mark.parametrize("locale", ["tr", "en"])
def test_display_and_console_screens(browser, kiosk_server, sandbox, tmp_path, locale):
    from kiosk.displays import Line

    from ..support import CASHIER_PIN, STAFF_PIN

    source = axe_source()
    logo = tmp_path / "logo.svg"
    logo.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="200" height="60">'
                    '<rect width="200" height="60" fill="#0b5fff"/></svg>')
    kiosk = kiosk_server(OPERATOR_PIN=STAFF_PIN, CASHIER_PIN=CASHIER_PIN, RECEIPTS=True,
                         RESULT_SECONDS=600, IDLE_SECONDS=3600, LOGO=str(logo))
    url = kiosk.url
    contexts = [browser.new_context(viewport=SIZES["landscape"], bypass_csp=True, has_touch=True)
                for _ in range(3)]
    display, staff, stranger = (c.new_page() for c in contexts)
    problems: list[str] = []
    try:
        in_language(display, url, locale)
        display.goto(url + "/display")
        code = display.get_by_test_id("pairing-code").text_content()
        problems += audit_sizes(display, f"{locale}/display-pairing", source)
        in_language(staff, url, locale)
        staff.goto(url + "/operator")
        staff.get_by_test_id("pin").fill(STAFF_PIN)
        staff.get_by_test_id("unlock").click()
        staff.goto(url + "/operator/displays")
        staff.get_by_test_id("pair-code").fill(code)
        staff.get_by_test_id("pair-name").fill("Counter 1")
        staff.get_by_test_id("pair-submit").click()
        staff.wait_for_url("**paired=*")
        display_id = staff.url.rsplit("=", 1)[1]
        problems += audit_sizes(staff, f"{locale}/operator-displays", source)
        display.get_by_test_id("display-idle").wait_for()
        problems += audit_sizes(display, f"{locale}/display-idle", source)
        services = kiosk.app.extensions["kiosk"]
        lines = [Line("Çay", 2, Decimal("15.00")), Line("Simit", 1, Decimal("20.00"))]
        order = services.orders.send(services.displays.get(display_id), Decimal("50.00"), reference="till-1",
                                     lines=lines)
        display.get_by_test_id("coin-TRX-TRX").wait_for()
        problems += audit_sizes(display, f"{locale}/display-order", source)
        staff.goto(url + "/operator/displays")  # busy: its mode is refused, End payment offered
        staff.get_by_test_id(f"mode-{display_id}").select_option("keypad")
        staff.get_by_test_id(f"mode-submit-{display_id}").click()
        staff.get_by_test_id("error").wait_for()
        problems += audit_sizes(staff, f"{locale}/operator-displays-busy", source)
        staff.goto(url + "/till")
        problems += audit_sizes(staff, f"{locale}/console", source)
        display.get_by_test_id("coin-TRX-TRX").click()
        display.get_by_test_id("qr").wait_for()
        problems += audit_sizes(display, f"{locale}/display-pay-cart", source)
        staff.goto(f"{url}/till/checkout/{order.id}")
        staff.wait_for_selector("[data-testid=checkout-status][data-status=waiting]")
        problems += audit_sizes(staff, f"{locale}/console-follow", source)
        sandbox.pay(display.url.rsplit("/", 1)[1], share="full")
        display.get_by_test_id("result-paid").wait_for()
        problems += audit_sizes(display, f"{locale}/display-paid", source)
        staff.wait_for_selector("[data-testid=checkout-status][data-status=paid]")
        problems += audit_sizes(staff, f"{locale}/console-paid", source)
        staff.get_by_test_id("till-receipt").click()
        staff.get_by_test_id("receipt-page").wait_for()
        problems += audit_sizes(staff, f"{locale}/console-receipt", source)
        staff.goto(url + "/till")
        problems += audit_sizes(staff, f"{locale}/console-today", source)
        in_language(stranger, url, locale)
        stranger.goto(url + "/till")
        stranger.get_by_test_id("pin").wait_for()
        problems += audit_sizes(stranger, f"{locale}/console-pin", source)
    finally:
        for context in contexts:
            context.close()
    assert problems == [], json.dumps(problems, indent=1, ensure_ascii=False)
