"""A checkout belongs to the browser that started it: a second browser, with its own session and its
own valid CSRF token, gets what an unknown id gets on every route, and its cancel changes nothing."""

from __future__ import annotations

from playwright.sync_api import expect

from .conftest import LANDSCAPE, shot
from .test_journey import start_payment

GETS = ("/pay/{}", "/pay/{}/status", "/pay/{}/qr.png", "/result/{}", "/receipt/{}", "/receipt/{}/qr.svg")


def post_from(page, url: str):
    """Send one of the page's own forms (with this browser's CSRF token) to `url`, as a tampered
    page would, and return the response the browser got."""
    with page.expect_navigation() as navigation:
        page.evaluate("""(url) => {
            const form = document.querySelector('form.language, form.languages');
            form.action = url;
            form.submit();
        }""", url)
    return navigation.value


def test_a_second_browser_cannot_see_or_cancel_the_first_one_s_payment(page, browser, kiosk_server,
                                                                       sandbox):
    kiosk = kiosk_server(RECEIPTS=True)
    tx_id = start_payment(page, kiosk.url)
    unknown = tx_id[:-4] + ("0000" if tx_id[-4:] != "0000" else "1111")
    other = browser.new_context(viewport=LANDSCAPE, has_touch=True)
    try:
        second = other.new_page()
        second.goto(kiosk.url + "/")  # its own session, and its own CSRF token
        for path in GETS:
            theirs = second.goto(kiosk.url + path.format(tx_id))
            body = theirs.body()
            nobody = second.goto(kiosk.url + path.format(unknown))
            assert theirs.status == nobody.status == 404, path
            assert body == nobody.body(), path
            expect(second.get_by_test_id("missing")).to_be_visible()
        shot(second, "ownership-404")
        second.goto(kiosk.url + "/")
        cancelled = post_from(second, kiosk.url + f"/pay/{tx_id}/cancel")
        assert cancelled.status == 404
        expect(second.get_by_test_id("missing")).to_be_visible()
        assert sandbox.calls("cancel") == 0
        assert sandbox.transactions()[0]["status"] == "PENDING"
        # The first browser's payment carries on untouched, to its end.
        expect(page.get_by_test_id("payment-status")).to_have_attribute("data-outcome", "waiting")
        sandbox.pay(tx_id, share="full")
        expect(page.get_by_test_id("result-paid")).to_be_visible()
        assert second.goto(kiosk.url + f"/receipt/{tx_id}").status == 404
        assert page.errors == []
    finally:
        other.close()
