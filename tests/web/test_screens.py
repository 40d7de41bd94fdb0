"""Every screen and transition of the checkout, through Flask's test client, against the sandbox."""

from __future__ import annotations

import re
import time
from decimal import Decimal

import pytest
import time_machine

from kiosk.sandbox import DEFAULT_PASSWORD

from ..support import Customer, field


def test_amount_screen_has_keypad_and_no_secrets(customer):
    html = customer.amount_page()
    for key in [*"0123456789", "00", "back", "clear"]:
        assert f'data-testid="key-{key}"' in html
    assert 'data-testid="amount-display"' in html and "₺0,00" in html
    assert DEFAULT_PASSWORD not in html and "Bearer" not in html


@pytest.mark.parametrize("bad", ["abc", "-5", "1e9", "12.345", "", "0", "0.00", "0.5", "100000.01",
                                 " 12 3", "NaN", "Infinity", "1_000", "٣٣"])
def test_bad_amount_gets_a_message_and_no_upstream_call(customer, sandbox, bad):
    response = customer.enter(bad)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'data-testid="error"' in html
    assert sandbox.calls("create") == 0 and sandbox.calls("auth") == 0


def test_limit_messages_name_the_limit(customer):
    html = customer.enter("0.5").get_data(as_text=True)
    assert "En küçük tutar ₺1,00." in html
    html = customer.enter("250000").get_data(as_text=True)
    assert "En büyük tutar ₺100.000,00." in html


def test_amount_then_coin_then_pay_screen(customer, sandbox):
    response = customer.enter("1234.50")
    assert response.status_code == 302 and response.headers["Location"] == "/coin"
    coin_page = customer.web.get("/coin").get_data(as_text=True)
    assert 'data-testid="coin-TRX-TRX"' in coin_page and 'data-testid="coin-USDT-TRX"' in coin_page
    assert "₺1.234,50" in coin_page
    response = customer.choose("USDT-TRX")
    tx_id = response.headers["Location"].rsplit("/", 1)[1]
    [tx] = sandbox.transactions()
    assert tx["_id"] == tx_id and Decimal(tx["currencyAmount"]) == Decimal("1234.5")
    assert (tx["coin"], tx["network"]) == ("USDT", "TRX")
    html = customer.web.get(f"/pay/{tx_id}").get_data(as_text=True)
    assert "₺1.234,50" in html
    assert coin_amount(html) == "29.323041 USDT"
    address = tx["wallet"]["address"]
    shown = re.search(r'data-testid="wallet-address">(.*?)</p>', html).group(1)
    assert re.sub(r"<[^>]+>", "", shown) == address
    assert f'/pay/{tx_id}/qr.png' in html and 'data-testid="countdown">10:00' in html
    assert f'hx-get="/pay/{tx_id}/status"' in html and 'hx-trigger="every 2s"' in html


def test_single_coin_skips_the_coin_screen(make_app, sandbox):
    web = make_app(COINS="TRX:TRX").test_client()
    customer = Customer(web, sandbox)
    response = customer.enter("50")
    assert response.status_code == 303 and response.headers["Location"].startswith("/pay/")
    assert len(sandbox.transactions()) == 1


def test_optional_mobile_and_note_reach_upstream(make_app, sandbox):
    web = make_app(COINS="TRX:TRX", ASK_MOBILE=True, ASK_NOTE=True).test_client()
    customer = Customer(web, sandbox)
    bad = customer.enter("50", mobile="12ab", note="x")
    assert bad.status_code == 422 and sandbox.calls("create") == 0
    assert customer.enter("50", mobile="+90 555 123 45 67", note="Table 4").status_code == 303
    [tx] = sandbox.transactions()
    assert tx["userMobile"] == "+905551234567"
    # The customer's note, then the kiosk's own reference, by which a lost answer is found again.
    assert re.fullmatch(r"Table 4 kiosk:[0-9a-f]{16}", tx["statusNote"])


def test_same_form_sent_twice_creates_one_transaction(customer, sandbox):
    customer.enter("300")
    html = customer.web.get("/coin").get_data(as_text=True)
    data = {"csrf_token": field(html, "csrf_token"), "nonce": field(html, "nonce"), "coin": "TRX-TRX"}
    first = customer.web.post("/coin", data=data)
    second = customer.web.post("/coin", data=data)  # the back button, then the same form again
    assert second.headers["Location"] == "/"
    assert customer.web.get("/").headers["Location"] == first.headers["Location"]
    assert sandbox.calls("create") == 1


def test_missing_csrf_token_changes_nothing(customer, sandbox):
    customer.enter("300")
    html = customer.web.get("/coin").get_data(as_text=True)
    response = customer.web.post("/coin", data={"nonce": field(html, "nonce"), "coin": "TRX-TRX"})
    assert response.status_code == 303 and response.headers["Location"] == "/coin"
    assert sandbox.calls("create") == 0
    again = customer.web.get("/coin").get_data(as_text=True)
    assert "Bu sayfanın süresi doldu, lütfen tekrar deneyin." in again
    assert 'data-testid="coin-TRX-TRX"' in again


def test_unknown_coin_and_bad_nonce_are_refused(customer, sandbox):
    customer.enter("300")
    assert customer.choose("DOGE-TRX").status_code == 422
    assert customer.choose("TRX-TRX", nonce="../x").status_code == 422
    assert sandbox.calls("create") == 0


@pytest.mark.parametrize(("nonce", "taken"), [
    ("A" * 24, True), ("aZ09-_" * 4, True),  # the shape the server issues: 24 URL-safe characters
    ("A" * 23, False), ("A" * 25, False),  # a character short, a character over
    ("order-chk_0123456789abcdef", False),  # the name an order's guard had
    ("A" * 23 + "=", False), ("A" * 23 + ".", False), ("A" * 23 + "é", False), ("A" * 23 + " ", False),
])
def test_the_keypad_takes_only_nonces_of_the_shape_the_server_issues(customer, sandbox, nonce, taken):
    customer.enter("300")
    response = customer.choose(nonce=nonce)
    assert response.status_code == (303 if taken else 422)
    assert sandbox.calls("create") == (1 if taken else 0)


def test_every_nonce_the_server_issues_is_one_it_takes():
    from kiosk.web.screens import new_nonce, valid_nonce

    assert all(valid_nonce(n) == n for n in (new_nonce() for _ in range(2000)))


def test_partial_then_full_payment(customer, sandbox):
    tx_id = customer.start()
    waiting = customer.status(tx_id).get_data(as_text=True)
    assert 'data-outcome="waiting"' in waiting and "hx-get" in waiting
    sandbox.pay(tx_id, share="half")
    partial = customer.status(tx_id)
    html = partial.get_data(as_text=True)
    assert 'data-outcome="partly_paid"' in html and "hx-get" in html
    assert 'data-testid="received">12 TRX<' in html and coin_amount(html) == "12 TRX"
    sandbox.pay(tx_id, share="full")
    paid = customer.status(tx_id)
    assert paid.headers["HX-Redirect"] == f"/result/{tx_id}"
    assert "hx-get" not in paid.get_data(as_text=True)  # polling stops without HTTP 286
    result = customer.web.get(f"/result/{tx_id}").get_data(as_text=True)
    assert 'data-testid="result-paid"' in result and "₺300,00" in result
    assert re.search(r'data-testid="reference">#\d+<', result)
    # the pay URL now lands on the result
    assert customer.web.get(f"/pay/{tx_id}").headers["Location"] == f"/result/{tx_id}"


def test_result_returns_to_amount_screen(customer, sandbox):
    tx_id = customer.start()
    assert customer.web.get("/").headers["Location"] == f"/pay/{tx_id}"  # reload resumes
    sandbox.pay(tx_id, share="full")
    html = customer.web.get(f"/result/{tx_id}").get_data(as_text=True)
    assert 'data-auto-submit data-seconds="10"' in html
    response = customer.web.post("/done", data={"csrf_token": field(html, "csrf_token")})
    assert response.headers["Location"] == "/"
    assert 'data-testid="amount-display"' in customer.amount_page()


def test_cancel_sends_one_delete_however_many_taps(customer, sandbox):
    tx_id = customer.start()
    token = field(customer.web.get(f"/pay/{tx_id}").get_data(as_text=True), "csrf_token")
    first = customer.cancel(tx_id, token)
    second = customer.cancel(tx_id, token)
    assert first.headers["Location"] == second.headers["Location"] == f"/result/{tx_id}"
    assert sandbox.calls("cancel") == 1
    html = customer.web.get(f"/result/{tx_id}").get_data(as_text=True)
    assert 'data-testid="result-cancelled"' in html and "Hiçbir ücret alınmadı." in html


def test_cancel_after_payment_completed_shows_paid(customer, sandbox):
    tx_id = customer.start()
    html = customer.web.get(f"/pay/{tx_id}").get_data(as_text=True)
    sandbox.pay(tx_id, share="full")  # completes between the last poll and the tap
    response = customer.web.post(f"/pay/{tx_id}/cancel", data={"csrf_token": field(html, "csrf_token")})
    assert response.headers["Location"] == f"/result/{tx_id}"
    assert 'data-testid="result-paid"' in customer.web.get(response.headers["Location"]).text


def test_cancel_with_partial_payment_is_never_a_plain_cancellation(customer, sandbox):
    tx_id = customer.start()
    sandbox.pay(tx_id, share="half")
    response = customer.cancel(tx_id)
    html = customer.web.get(response.headers["Location"]).get_data(as_text=True)
    assert 'data-testid="result-partial"' in html and "Lütfen kasaya başvurun." in html
    assert "iptal" not in html.lower().split("<main>")[1]


def test_cancelled_upstream_by_someone_else(customer, sandbox):
    tx_id = customer.start()
    import requests

    requests.post(f"{sandbox.url}/sandbox/transactions/{tx_id}/cancel", timeout=5)
    response = customer.status(tx_id)
    assert response.headers["HX-Redirect"] == f"/result/{tx_id}"
    assert 'data-testid="result-cancelled"' in customer.web.get(f"/result/{tx_id}").get_data(as_text=True)


def later(app, seconds: float) -> None:
    checkout = app.extensions["kiosk"].checkout
    checkout.clock = lambda: time.time() + seconds


def test_deadline_cancels_upstream_and_shows_expired(app, web, sandbox):
    customer = Customer(web, sandbox)
    tx_id = customer.start()
    later(app, 601)
    response = customer.status(tx_id)
    assert response.headers["HX-Redirect"] == f"/result/{tx_id}"
    assert sandbox.calls("cancel") == 1
    assert sandbox.transactions()[0]["status"] == "CANCELLED"
    html = web.get(f"/result/{tx_id}").get_data(as_text=True)
    assert 'data-testid="result-expired"' in html
    customer.status(tx_id)
    assert sandbox.calls("cancel") == 1


def test_deadline_after_partial_payment_keeps_it_for_the_operator(app, web, sandbox):
    customer = Customer(web, sandbox)
    tx_id = customer.start()
    sandbox.pay(tx_id, share="half")
    later(app, 601)
    customer.status(tx_id)
    html = web.get(f"/result/{tx_id}").get_data(as_text=True)
    assert 'data-testid="result-partial"' in html and 'data-testid="due"' in html
    [(item_id, item)] = app.extensions["kiosk"].checkout.attention()
    assert item_id == tx_id and item["kind"] == "partial" and Decimal(item["received"]) > 0


def test_deadline_cancel_failing_is_retried_and_never_shown_as_cancelled(app, web, sandbox):
    customer = Customer(web, sandbox)
    tx_id = customer.start()
    later(app, 601)
    sandbox.faults(fail_next=1, only="cancel")  # the DELETE fails
    html = customer.status(tx_id).get_data(as_text=True)
    assert 'data-outcome="waiting"' in html and 'data-testid="reconnecting"' in html
    assert sandbox.transactions()[0]["status"] == "PENDING"
    response = customer.status(tx_id)
    assert response.headers["HX-Redirect"] == f"/result/{tx_id}"
    assert sandbox.calls("cancel") == 2


def test_upstream_fault_while_waiting_keeps_the_pay_screen(customer, sandbox):
    tx_id = customer.start()
    sandbox.pay(tx_id, share="half")
    customer.status(tx_id)
    sandbox.faults(fail_next=10)
    response = customer.status(tx_id)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-testid="reconnecting"' in html and "hx-get" in html
    assert 'data-outcome="partly_paid"' in html  # the last known amounts stay on screen
    sandbox.clear_faults()
    sandbox.pay(tx_id, share="full")
    assert customer.status(tx_id).headers["HX-Redirect"] == f"/result/{tx_id}"


def test_pay_page_after_restart_while_upstream_is_down_then_recovers(customer, sandbox, make_app):
    tx_id = customer.start()
    customer.web.application = make_app()  # the kiosk server restarts: nothing in memory
    sandbox.faults(fail_next=2)
    html = customer.web.get(f"/pay/{tx_id}").get_data(as_text=True)
    assert 'data-testid="qr-wait"' in html and "bare=1" in html
    sandbox.clear_faults()
    response = customer.web.get(f"/pay/{tx_id}/status?bare=1", headers={"HX-Request": "true"})
    assert response.headers["HX-Refresh"] == "true"


def test_cancel_during_outage_says_so_and_keeps_waiting(customer, sandbox):
    tx_id = customer.start()
    html = customer.web.get(f"/pay/{tx_id}").get_data(as_text=True)
    sandbox.faults(fail_next=1, only="cancel")
    response = customer.web.post(f"/pay/{tx_id}/cancel", data={"csrf_token": field(html, "csrf_token")})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "şu anda iptal edilemedi" in page
    assert sandbox.transactions()[0]["status"] == "PENDING"
    assert customer.cancel(tx_id).headers["Location"] == f"/result/{tx_id}"


def test_vanished_transaction_asks_for_the_cashier(customer, sandbox):
    import requests

    tx_id = customer.start()
    requests.post(f"{sandbox.url}/sandbox/transactions/{tx_id}/vanish", timeout=5)
    start = time.time()
    for moment in (0, 30):  # not found: perhaps a passing fault upstream, so the screen waits
        with time_machine.travel(start + moment, tick=False):
            assert "HX-Redirect" not in customer.status(tx_id).headers
    with time_machine.travel(start + 60, tick=False):  # the third answer, a minute on
        assert customer.status(tx_id).headers["HX-Redirect"] == f"/result/{tx_id}"
    html = customer.web.get(f"/result/{tx_id}").get_data(as_text=True)
    assert 'data-testid="result-attention"' in html and "Lütfen kasaya başvurun" in html


def test_status_url_is_also_a_page(customer):
    tx_id = customer.start()
    assert customer.web.get(f"/pay/{tx_id}/status").headers["Location"] == f"/pay/{tx_id}"


def test_unknown_payment_is_a_clear_404(web, sandbox):
    response = web.get("/pay/6338cb9cd4cb3327e706ddb1")
    assert response.status_code == 404 and 'data-testid="missing"' in response.get_data(as_text=True)
    assert sandbox.calls("detail") == 0


def test_polls_never_write_the_session(customer, app):
    tx_id = customer.start()
    sessions = app.extensions["kiosk"].settings.state_dir / "sessions"
    before = {p.name: p.stat().st_mtime_ns for p in sessions.iterdir()}
    for _ in range(3):
        response = customer.status(tx_id)
        assert "Set-Cookie" not in response.headers
    assert {p.name: p.stat().st_mtime_ns for p in sessions.iterdir()} == before


def test_tokens_never_reach_the_browser(customer, app, sandbox):
    tx_id = customer.start()
    sandbox.pay(tx_id, share="half")
    token = app.extensions["kiosk"].client.tokens.load().access_token
    pages = [customer.web.get(u) for u in ("/", f"/pay/{tx_id}", f"/result/{tx_id}")]
    pages.append(customer.status(tx_id))
    for response in pages:
        assert token not in response.get_data(as_text=True)
        assert token not in str(response.headers)


def test_session_cookie_is_httponly_and_strict(web):
    web.get("/")
    cookie = web.get_cookie("kiosk_session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Strict"


def test_qr_is_served_by_the_kiosk_and_cached(customer, sandbox):
    tx_id = customer.start()
    first = customer.web.get(f"/pay/{tx_id}/qr.png")
    second = customer.web.get(f"/pay/{tx_id}/qr.png")
    assert first.mimetype == "image/png" and first.data.startswith(b"\x89PNG")
    assert first.data == second.data and sandbox.calls("qr") == 1


def test_qr_falls_back_to_our_own_when_upstream_fails(customer, sandbox):
    import io

    import segno

    tx_id = customer.start()
    sandbox.faults(fail_next=2, only="qr")  # the call and its one retry
    response = customer.web.get(f"/pay/{tx_id}/qr.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    address = sandbox.transactions()[0]["wallet"]["address"]
    expected = io.BytesIO()
    segno.make(address, error="m").save(expected, kind="png", scale=8, border=4)
    assert response.data == expected.getvalue()


def test_logs_hold_no_token_or_password(customer, sandbox, app, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    tx_id = customer.start()
    sandbox.faults(revoke_tokens=True)
    sandbox.pay(tx_id, share="half")
    customer.status(tx_id)
    customer.cancel(tx_id)
    token = app.extensions["kiosk"].client.tokens.load().access_token
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "payment created" in text and "logged in" in text
    assert token not in text and DEFAULT_PASSWORD not in text and "Bearer" not in text


def test_two_tabs_and_a_reload_share_one_upstream_answer(make_app, sandbox):
    web = make_app(share=True).test_client()
    customer = Customer(web, sandbox)
    tx_id = customer.start()
    before = sandbox.calls("detail")
    with time_machine.travel(time.time(), tick=False) as clock:
        customer.status(tx_id)
        customer.status(tx_id)  # a second tab within the same interval
        clock.shift(0.999)  # just under half the poll interval (2 s)
        web.get(f"/pay/{tx_id}")  # a reload
        assert sandbox.calls("detail") == before + 1
        clock.shift(0.001)  # half the poll interval later, the next poll asks upstream again
        sandbox.pay(tx_id, share="full")
        assert customer.status(tx_id).headers["HX-Redirect"] == f"/result/{tx_id}"
        assert 'data-testid="result-paid"' in web.get(f"/result/{tx_id}").get_data(as_text=True)
    assert sandbox.calls("detail") == before + 2


def test_coins_arriving_after_a_cancel_become_an_attention_item(customer, sandbox, app):
    tx_id = customer.start()
    customer.cancel(tx_id)
    assert 'data-testid="result-cancelled"' in customer.web.get(f"/result/{tx_id}").get_data(as_text=True)
    sandbox.pay(tx_id, amount="3")  # a customer sends part of it anyway, after the cancel
    html = customer.web.get(f"/result/{tx_id}").get_data(as_text=True)
    assert 'data-testid="result-partial"' in html  # never shown as a plain cancellation
    kinds = {item["kind"] for _, item in app.extensions["kiosk"].checkout.attention()}
    assert kinds == {"partial_late"}


BODY_LIMIT = 64 * 1024


@pytest.mark.parametrize("size", [BODY_LIMIT, BODY_LIMIT + 1, 20_000_000])
def test_a_form_body_past_the_limit_is_refused_unread(customer, sandbox, size):
    """No kiosk form comes near 64 KiB; a bigger body is refused before it is read (it would
    otherwise be held in memory whole, by every worker thread an outsider keeps busy)."""
    html = customer.amount_page()
    form = f"csrf_token={field(html, 'csrf_token')}&nonce={field(html, 'nonce')}&amount=300&pad="
    body = form + "x" * (size - len(form))
    answer = customer.web.post("/", data=body, content_type="application/x-www-form-urlencoded")
    if size <= BODY_LIMIT:
        assert answer.status_code == 302 and answer.headers["Location"] == "/coin"
    else:
        assert answer.status_code == 413
        assert customer.get("/coin").headers["Location"] == "/"  # no amount was taken


def coin_amount(html: str) -> str:
    """The amount to send, as the headline under the QR shows it (number and coin code)."""
    found = re.findall(r'data-testid="coin-amount">([^<]*)<', html)
    assert len(found) == 1, found
    return found[0]


def test_once_coins_arrived_the_amount_to_send_is_what_is_still_due(customer, sandbox):
    tx_id = customer.start()
    [tx] = sandbox.transactions()
    asked = Decimal(tx["coinAmount"])
    assert coin_amount(customer.web.get(f"/pay/{tx_id}").text) == f"{asked.normalize():f} TRX"
    sandbox.pay(tx_id, amount="1.5")
    due = asked - Decimal("1.5")
    # The page drawn again, and the poll of a page drawn before the coins came, alike.
    page = customer.web.get(f"/pay/{tx_id}").text
    assert coin_amount(page) == f"{due.normalize():f} TRX"
    assert "Kalanı gönderin" in page and "Tam olarak gönderin" not in page
    poll = customer.status(tx_id).text
    assert 'hx-swap-oob="true"' in poll and coin_amount(poll) == f"{due.normalize():f} TRX"
    # What arrived and what was asked are the detail, in the status box.
    assert 'data-testid="received">1.5 TRX<' in poll
    assert f'data-testid="expected">{asked.normalize():f} TRX<' in poll


def test_networks_are_named_as_wallets_name_them(customer, sandbox):
    customer.enter("300")
    coins = customer.web.get("/coin").text
    names = re.findall(r'data-testid="coin-(\w+)-TRX".*?data-testid="coin-network-name">([^<]*)<',
                       coins, re.S)
    assert names == [("TRX", "TRON"), ("USDT", "TRON (TRC-20)")]
    assert "TRX ağı" not in coins
    tx_id = customer.choose("USDT-TRX").headers["Location"].rsplit("/", 1)[1]
    page = customer.web.get(f"/pay/{tx_id}").text
    assert 'data-testid="coin-network">Ağ: TRON (TRC-20)<' in page


def test_cancelled_and_expired_do_not_look_alike(app, web, sandbox):
    customer = Customer(web, sandbox)
    cancelled = customer.start()
    customer.cancel(cancelled)
    first = web.get(f"/result/{cancelled}").text
    customer.next_customer()
    expired = customer.start()
    later(app, 601)
    customer.status(expired)
    second = web.get(f"/result/{expired}").text

    def icon(html: str) -> str:
        return re.search(r'<div class="icon" aria-hidden="true">([^<]*)<', html).group(1)

    def advice(html: str) -> str:
        return re.search(r'<p class="advice">([^<]*)<', html).group(1)

    assert 'data-testid="result-cancelled"' in first and 'data-testid="result-expired"' in second
    assert icon(first) == "✕" and '<svg class="clock"' in second  # a clock: the time ran out
    assert advice(first) != advice(second)
    assert "Hiçbir ücret alınmadı." in advice(first) and "Hiçbir ücret alınmadı." in advice(second)


def test_the_customer_s_receipt_has_no_staff_controls(make_app, sandbox):
    web = make_app(COINS="TRX:TRX", RECEIPTS=True).test_client()
    customer = Customer(web, sandbox)
    tx_id = customer.start()
    sandbox.pay(tx_id, share="full")
    customer.status(tx_id)
    receipt = web.get(f"/receipt/{tx_id}").text
    assert 'data-testid="receipt-page"' in receipt and 'data-testid="new-payment"' in receipt
    for staff_only in ("print", "paper-a4", "paper-58mm"):  # a print dialog on the customer's tablet
        assert f'data-testid="{staff_only}"' not in receipt
    assert 'data-testid="receipt-page"' in web.get(f"/receipt/{tx_id}?paper=58mm").text
