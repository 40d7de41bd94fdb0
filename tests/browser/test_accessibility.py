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
    kiosk = kiosk_server(RECEIPTS=True, RESULT_SECONDS=600, IDLE_SECONDS=3600)
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
                "detail": f"/operator/tx/{partly}", "settings": "/operator/settings"}
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
            page.get_by_test_id("language").click()
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
            page.wait_for_url("**/coin")
            problems += audit(page, f"{locale}/{size_name}/coin", source)
            page.get_by_test_id("back").click()
            # A form from a stale page: the screen again, with the page-expired notice.
            page.eval_on_selector("form.language [name=csrf_token]", "el => { el.value = 'stale'; }")
            page.get_by_test_id("language").click()
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

