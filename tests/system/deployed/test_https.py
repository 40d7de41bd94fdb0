"""The checkout as deployed: Chromium on the tablet, https:// through nginx with the documented
configuration, `kiosk serve` behind it, the sandbox as upstream. Every form the customer and the
staff send here passes the CSRF check over HTTPS (which compares the Referer with the host)."""

from __future__ import annotations

import json
import re
import socket
import ssl

import pytest
import requests
from playwright.sync_api import expect

from ...browser.conftest import shot
from ...browser.test_journey import start_payment
from .conftest import HOST, PIN

EXPIRED = "Bu sayfanın süresi doldu, lütfen tekrar deneyin."


def refused_forms(site) -> list[str]:
    return [line for line in site.kiosk.log_path.read_text().splitlines() if "form refused" in line]


def test_full_payment_over_https(page, site, sandbox):
    response = page.goto(site.url + "/")
    headers = response.headers
    assert headers["referrer-policy"] in ("same-origin", "strict-origin-when-cross-origin")
    assert headers["strict-transport-security"] == "max-age=31536000"
    assert page.evaluate("performance.getEntriesByType('navigation')[0].nextHopProtocol") == "h2"
    shot(page, "https-01-amount")
    tx_id = start_payment(page, site.url)
    shot(page, "https-02-pay")
    [tx] = sandbox.transactions()
    assert tx["_id"] == tx_id
    expect(page.get_by_test_id("wallet-address")).to_have_text(tx["wallet"]["address"])
    sandbox.pay(tx_id, share="full")
    expect(page.get_by_test_id("result-paid")).to_be_visible()
    expect(page.get_by_test_id("fiat-amount")).to_have_text("₺123,45")
    shot(page, "https-03-paid")
    [cookie] = [c for c in page.context.cookies() if c["name"] == "kiosk_session"]
    assert cookie["secure"] is True and cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert cookie["domain"] == HOST
    assert refused_forms(site) == []


def test_partial_then_full_payment(page, site, sandbox):
    tx_id = start_payment(page, site.url)
    sandbox.pay(tx_id, share="half")
    expect(page.get_by_test_id("payment-status")).to_have_attribute("data-outcome", "partly_paid")
    expect(page.get_by_test_id("coin-amount")).to_have_text("4.938 TRX")
    shot(page, "https-04-partly-paid")
    sandbox.pay(tx_id, share="full")
    expect(page.get_by_test_id("result-paid")).to_be_visible()
    assert sandbox.transactions()[0]["isTransferComplete"] is True


def test_customer_cancels(page, site, sandbox):
    start_payment(page, site.url)
    page.get_by_test_id("cancel").click()
    expect(page.get_by_test_id("result-cancelled")).to_be_visible()
    shot(page, "https-05-cancelled")
    assert sandbox.calls("cancel") == 1
    assert sandbox.transactions()[0]["status"] == "CANCELLED"
    # The next customer starts afresh.
    page.get_by_test_id("new-payment").click()
    expect(page.get_by_test_id("amount-display")).to_have_text("₺0,00")


def test_language_toggle(page, site, sandbox):
    page.goto(site.url + "/")
    expect(page.locator("html")).to_have_attribute("lang", "tr")
    page.get_by_test_id("language-en").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_test_id("amount-display")).to_have_text("₺0.00")
    expect(page.get_by_role("heading", name="Amount to pay")).to_be_visible()
    shot(page, "https-06-english")
    page.get_by_test_id("language-tr").click()
    expect(page.locator("html")).to_have_attribute("lang", "tr")
    assert refused_forms(site) == []


def test_operator_pin_and_cancel_from_the_detail_view(tablet, site, sandbox):
    customer = tablet()
    tx_id = start_payment(customer, site.url)
    staff = tablet()
    staff.expected_errors.append(r"/operator: .*status of 403")  # the wrong PIN's answer
    staff.goto(site.url + "/operator")
    staff.get_by_test_id("pin").fill(PIN[:-1] + ("0" if PIN[-1] != "0" else "1"))
    staff.get_by_test_id("unlock").click()
    expect(staff.get_by_test_id("error")).to_contain_text("4 deneme")
    staff.get_by_test_id("pin").fill(PIN)
    staff.get_by_test_id("unlock").click()
    expect(staff.get_by_test_id("paid-count")).to_be_visible()
    shot(staff, "https-07-operator-today")
    staff.goto(f"{site.url}/operator/tx/{tx_id}")
    expect(staff.get_by_test_id("status")).to_have_text("PENDING")
    shot(staff, "https-08-operator-detail")
    staff.get_by_test_id("cancel").click()
    expect(staff.get_by_test_id("status")).to_have_text("CANCELLED")
    assert sandbox.calls("cancel") == 1
    # The customer's screen learns it from its next poll.
    expect(customer.get_by_test_id("result-cancelled")).to_be_visible()
    staff.get_by_test_id("lock").click()
    expect(staff.get_by_test_id("amount-display")).to_be_visible()
    assert refused_forms(site) == []


def test_a_stale_form_changes_nothing_and_says_what_to_do(page, site, sandbox):
    tx_id = start_payment(page, site.url)
    # A form whose token is no longer the session's (a tab left open across an unlock): back on
    # the same screen, which says the page expired; the payment is untouched.
    page.evaluate("document.querySelector('[data-testid=cancel]').form.csrf_token.value = 'stale'")
    page.get_by_test_id("cancel").click()
    expect(page.get_by_test_id("expired")).to_have_text(EXPIRED)
    expect(page.get_by_test_id("qr")).to_be_visible()
    shot(page, "https-09a-expired")
    page.context.clear_cookies()  # the session is gone: the page on screen is stale
    # Without its session the browser is no longer the payment's owner: its pay screen answers
    # as for an unknown id.
    page.expected_errors.append(rf"/pay/{tx_id}(/status\?.*|/cancel)?: .*status of 404")
    page.get_by_test_id("cancel").click()
    # One message, the one to act on: this payment is not this browser's any more ("try again"
    # could not help).
    expect(page.get_by_test_id("missing")).to_be_visible()
    expect(page.get_by_test_id("expired")).to_have_count(0)
    shot(page, "https-09b-not-here")
    assert sandbox.calls("cancel") == 0
    assert sandbox.transactions()[0]["_id"] == tx_id and sandbox.transactions()[0]["status"] == "PENDING"
    # The stale token was refused with a warning; the stranger's form was answered as an unknown
    # id, before its token was looked at.
    [entry] = [json.loads(line) for line in refused_forms(site)]
    assert entry["level"] == "warning"
    assert entry["msg"] == f"form refused: POST /pay/{tx_id}/cancel: The CSRF token is invalid."
    assert re.fullmatch(r"[0-9a-f]{32}", entry["request_id"])  # nginx's $request_id, to trace it


def test_a_forwarded_host_from_the_client_is_not_trusted(page, site, sandbox):
    """nginx sets X-Forwarded-Host itself: a client's own cannot make the kiosk believe it is
    another site (here, it would fail every form's referrer check)."""
    page.context.set_extra_http_headers({"X-Forwarded-Host": "elsewhere.example"})
    page.goto(site.url + "/")
    page.get_by_test_id("language-en").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")


def test_plain_http_redirects_to_https(site):
    response = requests.get(site.http_url + "/operator?x=1", headers={"Host": HOST},
                            allow_redirects=False, timeout=5)
    assert response.status_code == 301
    assert response.headers["Location"] == f"https://{HOST}/operator?x=1"


def test_another_host_name_gets_no_tls_handshake(site):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"https://127.0.0.1:{site.https_port}/healthz", verify=False, timeout=5)


def raw_https(site, host_header: str, path: str = "/healthz", headers: str = "") -> bytes:
    """One HTTP/1.1 request over TLS for the shop's name, with the Host header given."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", site.https_port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname=HOST) as tls:
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {host_header}\r\n{headers}Connection: close\r\n\r\n"
                    .encode())
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
        return answer


def test_a_request_for_another_host_never_reaches_the_kiosk(site):
    assert raw_https(site, HOST).startswith(b"HTTP/1.1 200")
    assert raw_https(site, "elsewhere.example") == b""  # closed without an answer


@pytest.mark.parametrize("path", ["/static/kiosk.css", "/static/kiosk.js",
                                  "/static/vendor/htmx-2.0.11.min.js"])
def test_static_files_travel_compressed(site, path):
    head = raw_https(site, HOST, path, "Accept-Encoding: gzip\r\n").split(b"\r\n\r\n", 1)[0].lower()
    assert head.startswith(b"http/1.1 200")
    assert b"\r\ncontent-encoding: gzip" in head
    assert b"\r\nvary: accept-encoding" in head  # a cache in between keeps both forms apart


def test_an_idle_display_s_poll_is_a_304_behind_nginx(tablet, site, sandbox):
    """The display's page sends the state it shows as If-None-Match itself: its idle poll is an
    empty 304 whatever Chromium's cache does (it keeps none for a certificate it was told to
    accept, as here)."""
    display = tablet()
    display.goto(site.url + "/display")
    code = display.get_by_test_id("pairing-code").text_content()
    staff = tablet()
    staff.goto(site.url + "/operator")
    staff.get_by_test_id("pin").fill(PIN)
    staff.get_by_test_id("unlock").click()
    staff.goto(site.url + "/operator/displays")
    staff.get_by_test_id("pair-code").fill(code)
    staff.get_by_test_id("pair-name").fill("Counter 1")
    staff.get_by_test_id("pair-mode").select_option("till")
    staff.get_by_test_id("pair-submit").click()
    expect(display.get_by_test_id("display-idle")).to_be_visible()
    access = site.nginx_log.parent / "access.log"
    seen = len(access.read_text().splitlines())
    display.wait_for_timeout(3500)  # three polls or so, one a second
    polls = [line for line in access.read_text().splitlines()[seen:] if "/display/poll" in line]
    assert len(polls) >= 2 and all('" 304 ' in line for line in polls), polls
