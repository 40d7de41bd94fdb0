"""The display's screens through Flask's test client, against the sandbox: pairing, the cheap
idle poll, till mode with the keypad screens' own pay/status/result, who may see what, and
KIOSK_REQUIRE_PAIRING."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from kiosk.displays import Line

from ..support import STAFF_PIN, Customer, field, pair_display, pairing_code, unlock_staff


@pytest.fixture
def shop(make_app):
    """An app with a known operator PIN, and a function for a new browser."""
    def build(**settings):
        return make_app(OPERATOR_PIN=STAFF_PIN, **settings)
    return build


@pytest.fixture
def app(shop):
    return shop()


@pytest.fixture
def staff(app):
    web = app.test_client()
    assert unlock_staff(web).headers["Location"] == "/operator/today"
    return web


def services(app):
    return app.extensions["kiosk"]


def poll_url(html: str) -> str:
    match = re.search(r'hx-get="(/display/poll\?s=[0-9a-f]+)"', html)
    assert match, "the screen does not poll"
    return match.group(1)


def test_an_unpaired_browser_gets_a_code_and_a_lasting_httponly_credential(app):
    web = app.test_client()
    response = web.get("/display")
    html = response.get_data(as_text=True)
    code = pairing_code(html)
    assert not set(code) & set("0O1IL")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("kiosk_display=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Max-Age=34560000" in cookie  # 400 days, renewed on each visit
    credential = cookie.split(";")[0].split("=", 1)[1]
    assert credential not in html
    assert pairing_code(web.get("/display").get_data(as_text=True)) == code  # the same, while fresh
    assert pairing_code(app.test_client().get("/display").get_data(as_text=True)) != code


def test_pairing_turns_the_code_screen_into_the_display_within_one_poll(app, staff):
    display = app.test_client()
    poll = poll_url(display.get("/display").get_data(as_text=True))
    first = display.get(poll)
    assert first.status_code == 200 and "HX-Redirect" not in first.headers
    display_id = pair_display(staff, display, "Counter 1", "till")
    changed = display.get(poll)
    assert changed.headers["HX-Redirect"] == "/display" and changed.headers["Cache-Control"] == "no-store"
    assert "ETag" not in changed.headers  # never cached: a revalidation must not redirect again
    html = display.get("/display").get_data(as_text=True)
    assert 'data-testid="display-idle"' in html and "Counter 1" in html
    assert services(app).displays.get(display_id).mode == "till"
    page = staff.get("/operator/displays").get_data(as_text=True)
    assert f'data-testid="display-row-{display_id}"' in page and "Counter 1" in page


def test_the_idle_poll_costs_no_upstream_call_no_session_and_answers_304(app, staff, sandbox):
    display = app.test_client()
    pair_display(staff, display)
    poll = poll_url(display.get("/display").get_data(as_text=True))
    inner = app.session_interface.inner
    counted = {"open": 0, "save": 0}
    real_open, real_save = inner.open_session, inner.save_session

    def open_session(*args):
        counted["open"] += 1
        return real_open(*args)

    def save_session(*args):
        counted["save"] += 1
        return real_save(*args)

    inner.open_session, inner.save_session = open_session, save_session
    calls = {name: sandbox.calls(name) for name in ("auth", "detail", "create", "history")}
    first = display.get(poll)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and first.headers["Cache-Control"] == "private, no-cache"
    answers = [display.get(poll, headers={"If-None-Match": etag}) for _ in range(50)]
    assert {r.status_code for r in answers} == {304} and all(r.data == b"" for r in answers)
    assert counted == {"open": 0, "save": 0}
    assert all("Set-Cookie" not in r.headers for r in [first, *answers])
    assert {name: sandbox.calls(name) for name in calls} == calls


def test_rename_mode_and_unpair_reach_the_display_within_one_poll(app, staff):
    display = app.test_client()
    display_id = pair_display(staff, display, "Counter 1", "till")
    html = display.get("/display").get_data(as_text=True)
    poll = poll_url(html)
    token = field(staff.get("/operator/displays").get_data(as_text=True), "csrf_token")
    staff.post(f"/operator/displays/{display_id}/rename", data={"csrf_token": token, "name": "Counter 9"})
    assert display.get(poll).headers["HX-Redirect"] == "/display"
    assert "Counter 9" in display.get("/display").get_data(as_text=True)
    staff.post(f"/operator/displays/{display_id}/mode", data={"csrf_token": token, "mode": "keypad"})
    assert display.get("/display").headers["Location"] == "/"
    amount = display.get("/").get_data(as_text=True)
    assert 'data-testid="amount-display"' in amount
    poll = poll_url(amount)  # a keypad display polls too
    staff.post(f"/operator/displays/{display_id}/unpair", data={"csrf_token": token})
    assert display.get(poll).headers["HX-Redirect"] == "/display"
    assert pairing_code(display.get("/display").get_data(as_text=True))
    assert services(app).displays.all() == []


def test_a_displays_printer_goes_with_it_on_unpair(app, staff):
    """A display's own printer is the display's: unpaired, it is gone from the store, so a
    display paired later under any id never inherits it."""
    display_id = pair_display(staff, app.test_client(), "Counter 1", "till")
    token = field(staff.get("/operator/displays").get_data(as_text=True), "csrf_token")
    set_it = staff.post(f"/operator/displays/{display_id}/printer",
                        data={"csrf_token": token, "printer": "tcp://192.168.1.60:9100", "columns": "32"})
    assert set_it.status_code == 303
    store = services(app).store
    assert store.get(f"printer:display:{display_id}") is not None
    staff.post(f"/operator/displays/{display_id}/unpair", data={"csrf_token": token})
    assert store.get(f"printer:display:{display_id}") is None


def test_a_displays_printer_at_a_link_local_address_is_refused_with_a_message(app, staff):
    display_id = pair_display(staff, app.test_client(), "Counter 1", "till")
    token = field(staff.get("/operator/displays").get_data(as_text=True), "csrf_token")
    for url in ("tcp://169.254.169.254:9100", "tcp://[fe80::1]:9100", "tcp://0.0.0.0", "tcp://224.0.0.1"):
        refused = staff.post(f"/operator/displays/{display_id}/printer",
                             data={"csrf_token": token, "printer": url, "columns": "48"})
        assert refused.status_code == 422
        assert "(169.254.x.x, fe80::)" in refused.get_data(as_text=True)  # the reason, in any language
        assert services(app).store.get(f"printer:display:{display_id}") is None
    kept = staff.post(f"/operator/displays/{display_id}/printer",
                      data={"csrf_token": token, "printer": "tcp://127.0.0.1:9100", "columns": "48"})
    assert kept.status_code == 303  # a print server on the tablet's own host


def test_bad_pairing_input_shows_a_message_and_changes_nothing(app, staff):
    html = staff.get("/operator/displays").get_data(as_text=True)
    for code, name, mode in (("ZZZZZZ", "Counter 1", "till"), ("abc", "Counter 1", "till"),
                             (pairing_code(app.test_client().get("/display").get_data(as_text=True)),
                              "", "till")):
        response = staff.post("/operator/displays", data={
            "csrf_token": field(html, "csrf_token"), "code": code, "name": name, "mode": mode})
        assert response.status_code == 422 and 'data-testid="error"' in response.get_data(as_text=True)
    assert services(app).displays.all() == []


def test_display_pages_of_the_operator_need_the_pin(app):
    web = app.test_client()
    assert web.get("/operator/displays").headers["Location"] == "/operator"
    code = pairing_code(web.get("/display").get_data(as_text=True))
    token = field(web.get("/operator").get_data(as_text=True), "csrf_token")
    response = web.post("/operator/displays", data={"csrf_token": token, "code": code, "name": "x",
                                                    "mode": "till"})
    assert response.headers["Location"] == "/operator" and services(app).displays.all() == []


def send(app, display_id: str, amount: str = "50.00", **extra):
    kiosk = services(app)
    return kiosk.orders.send(kiosk.displays.get(display_id), Decimal(amount), **extra)


def test_till_mode_shows_the_order_then_the_same_pay_and_result_screens(app, staff, sandbox):
    display = app.test_client()
    display_id = pair_display(staff, display)
    assert display.get("/").headers["Location"] == "/display"  # no keypad on a till display
    idle = display.get("/display").get_data(as_text=True)
    poll = poll_url(idle)
    lines = (Line("Çay", 2, Decimal("15.00")), Line("Simit", 1, Decimal("20.00")))
    order = send(app, display_id, lines=lines, reference="till-4711")
    assert display.get(poll).headers["HX-Redirect"] == "/display"
    html = display.get("/display").get_data(as_text=True)
    assert 'data-testid="cart"' in html and "Çay" in html and "₺30,00" in html and "₺50,00" in html
    assert 'data-testid="coin-TRX-TRX"' in html and 'data-testid="coin-USDT-TRX"' in html
    assert sandbox.calls("create") == 0
    response = display.post("/display/coin", data={"csrf_token": field(html, "csrf_token"),
                                                   "order": order.id, "coin": "TRX-TRX"})
    tx_id = response.headers["Location"].rsplit("/", 1)[1]
    assert response.headers["Location"] == f"/pay/{tx_id}"
    assert display.get("/display").headers["Location"] == f"/pay/{tx_id}"  # a reload comes back
    pay = display.get(f"/pay/{tx_id}").get_data(as_text=True)
    for testid in ("qr", "wallet-address", "coin-amount", "fiat-amount", "countdown", "payment-status",
                   "cart", "cancel"):
        assert f'data-testid="{testid}"' in pay
    sandbox.pay(tx_id, share="full")
    status = display.get(f"/pay/{tx_id}/status", headers={"HX-Request": "true"})
    assert status.headers["HX-Redirect"] == f"/result/{tx_id}"
    result = display.get(f"/result/{tx_id}").get_data(as_text=True)
    assert 'data-testid="result-paid"' in result and 'data-testid="sound-paid"' in result
    sound = r'<audio data-testid="sound-paid" src="/static/sounds/paid\.wav\?v=\w+" autoplay>'
    assert re.search(sound, result)
    done = display.post("/done", data={"csrf_token": field(result, "csrf_token")})
    assert done.headers["Location"] == "/display"
    assert 'data-testid="display-idle"' in display.get("/display").get_data(as_text=True)
    assert services(app).orders.current(services(app).displays.get(display_id)) is None
    assert sandbox.calls("create") == 1
    # Staff see which display showed it.
    assert 'data-testid="display">Counter 1<' in staff.get(f"/operator/tx/{tx_id}").get_data(as_text=True)


def test_with_one_coin_the_display_goes_straight_to_the_qr(shop, sandbox):
    app = shop(COINS="TRX:TRX")
    staff = app.test_client()
    unlock_staff(staff)
    display = app.test_client()
    display_id = pair_display(staff, display)
    send(app, display_id)
    tx_id = display.get("/display").headers["Location"].rsplit("/", 1)[1]
    assert display.get("/display").headers["Location"] == f"/pay/{tx_id}"
    assert sandbox.calls("create") == 1


def test_the_customer_cancels_before_picking_a_coin(app, staff, sandbox):
    display = app.test_client()
    display_id = pair_display(staff, display)
    order = send(app, display_id)
    html = display.get("/display").get_data(as_text=True)
    response = display.post("/display/cancel", data={"csrf_token": field(html, "csrf_token"),
                                                     "order": order.id})
    assert response.headers["Location"] == "/display"
    result = display.get("/display").get_data(as_text=True)
    assert 'data-testid="result-cancelled"' in result and 'data-testid="sound-failed"' in result
    state = services(app).orders.state(order)
    assert (state.status, state.cancel_reason) == ("cancelled", "customer")
    display.post("/done", data={"csrf_token": field(result, "csrf_token")})
    assert 'data-testid="display-idle"' in display.get("/display").get_data(as_text=True)
    assert sandbox.calls("create") == 0 and sandbox.calls("cancel") == 0


def test_a_display_sees_only_its_own_checkouts(app, staff, sandbox):
    first, second, stranger = app.test_client(), app.test_client(), app.test_client()
    first_id = pair_display(staff, first, "Counter 1")
    pair_display(staff, second, "Counter 2")
    send(app, first_id)
    html = first.get("/display").get_data(as_text=True)
    tx_id = first.post("/display/coin", data={"csrf_token": field(html, "csrf_token"),
                                              "order": services(app).orders.current(
                                                  services(app).displays.get(first_id)).id,
                                              "coin": "TRX-TRX"}).headers["Location"].rsplit("/", 1)[1]
    for other in (second, stranger):
        for url in (f"/pay/{tx_id}", f"/pay/{tx_id}/qr.png", f"/result/{tx_id}", f"/receipt/{tx_id}",
                    f"/receipt/{tx_id}/qr.svg"):
            assert other.get(url).status_code == 404, url
        token = field(other.get("/operator").get_data(as_text=True), "csrf_token")
        assert other.post(f"/pay/{tx_id}/cancel", data={"csrf_token": token}).status_code == 404
    assert second.post("/display/coin", data={"csrf_token": field(
        second.get("/display").get_data(as_text=True), "csrf_token"), "coin": "TRX-TRX"}).status_code == 404
    assert sandbox.calls("cancel") == 0 and sandbox.calls("create") == 1
    # The keypad kiosk's own checkouts stay out of a display's reach too.
    till = Customer(stranger, sandbox)
    keypad_tx = till.start()
    assert first.get(f"/pay/{keypad_tx}").status_code == 404


def test_an_unpaired_display_polling_its_payment_goes_back_to_its_code(app, staff, sandbox):
    display = app.test_client()
    display_id = pair_display(staff, display)
    send(app, display_id)
    html = display.get("/display").get_data(as_text=True)
    order = services(app).orders.current(services(app).displays.get(display_id))
    tx_id = display.post("/display/coin", data={"csrf_token": field(html, "csrf_token"), "order": order.id,
                                                "coin": "TRX-TRX"}).headers["Location"].rsplit("/", 1)[1]
    token = field(staff.get("/operator/displays").get_data(as_text=True), "csrf_token")
    staff.post(f"/operator/displays/{display_id}/unpair", data={"csrf_token": token})
    status = display.get(f"/pay/{tx_id}/status", headers={"HX-Request": "true"})
    assert status.status_code == 404 and status.headers["HX-Redirect"] == "/display"
    assert pairing_code(display.get("/display").get_data(as_text=True))
    assert sandbox.transactions()[0]["status"] == "CANCELLED"  # the open payment was not left behind


def test_a_keypad_display_records_itself_on_its_checkouts(app, staff, sandbox):
    display = app.test_client()
    display_id = pair_display(staff, display, "Keypad", "keypad")
    tx_id = Customer(display, sandbox).start()
    record = services(app).checkout.record(tx_id)
    assert (record.owner, record.display) == (f"display:{display_id}", display_id)
    assert display.get(f"/pay/{tx_id}").status_code == 200
    assert app.test_client().get(f"/pay/{tx_id}").status_code == 404


@pytest.mark.parametrize("path", ["/", "/coin", "/pay/{tx}", "/pay/{tx}/status", "/pay/{tx}/qr.png",
                                  "/result/{tx}", "/receipt/{tx}", "/receipt/{tx}/qr.svg"])
def test_required_pairing_keeps_unpaired_browsers_out(shop, sandbox, path):
    app = shop(REQUIRE_PAIRING=True, RECEIPTS=True)
    staff = app.test_client()
    unlock_staff(staff)
    display = app.test_client()
    pair_display(staff, display, "Keypad", "keypad")
    tx_id = Customer(display, sandbox).start()
    sandbox.pay(tx_id, share="full")
    assert display.get(path.format(tx=tx_id)).status_code in (200, 302)
    stranger = app.test_client()
    response = stranger.get(path.format(tx=tx_id))
    assert response.status_code == 302 and response.headers["Location"] == "/display"
    polled = stranger.get(path.format(tx=tx_id), headers={"HX-Request": "true"})
    assert polled.status_code == 404
    assert tx_id not in response.get_data(as_text=True)


def test_required_pairing_refuses_every_customer_post_from_an_unpaired_browser(shop, sandbox):
    app = shop(REQUIRE_PAIRING=True)
    stranger = app.test_client()
    pairing_code(stranger.get("/display").get_data(as_text=True))
    token = field(stranger.get("/operator").get_data(as_text=True), "csrf_token")  # a valid token
    for path in ("/", "/coin", "/language", "/reset", "/done", "/pay/0123456789abcdef01234567/cancel"):
        response = stranger.post(path, data={"csrf_token": token, "amount": "50", "coin": "TRX-TRX"})
        assert response.status_code == 404, path
    assert sandbox.calls("create") == 0


def test_the_idle_display_gives_the_next_customer_the_shops_language(app, staff):
    display = app.test_client()
    pair_display(staff, display)
    html = display.get("/display").get_data(as_text=True)
    assert "data-idle-reset" not in html  # nothing to reset yet
    response = display.post("/language", data={"csrf_token": field(html, "csrf_token"), "locale": "en"})
    assert response.headers["Location"] == "/"
    html = display.get("/", follow_redirects=True).get_data(as_text=True)
    assert '<html lang="en" dir="ltr">' in html and 'data-testid="display-idle"' in html
    assert "data-idle-reset" in html
    display.post("/reset", data={"csrf_token": field(html, "csrf_token"), "idle": "1"})
    assert '<html lang="tr" dir="ltr">' in display.get("/display").get_data(as_text=True)


def test_a_fleet_on_one_redis_serves_displays_and_the_console_from_any_instance(make_app, sandbox, redis_url):
    """Two instances, one Redis: the display, the staff and the console each hop between them."""
    import requests

    from ..support import CASHIER_PIN, LiveServer

    settings = {"REDIS_URL": redis_url, "OPERATOR_PIN": STAFF_PIN, "CASHIER_PIN": CASHIER_PIN,
                "COINS": "TRX:TRX"}
    one, two = LiveServer(make_app(**settings)), LiveServer(make_app(**settings))
    try:
        display, staff = requests.Session(), requests.Session()

        def get(http, server, path, **kw):
            return http.get(server.url + path, allow_redirects=False, timeout=10, **kw)

        def post(http, server, path, data):
            return http.post(server.url + path, data=data, allow_redirects=False, timeout=10)

        code = pairing_code(get(display, one, "/display").text)
        html = get(staff, two, "/operator").text
        post(staff, two, "/operator", {"csrf_token": field(html, "csrf_token"), "pin": STAFF_PIN})
        html = get(staff, one, "/operator/displays").text
        paired = post(staff, one, "/operator/displays", {"csrf_token": field(html, "csrf_token"),
                                                         "code": code, "name": "Counter 1", "mode": "till"})
        display_id = paired.headers["Location"].rsplit("=", 1)[1]
        assert 'data-testid="display-idle"' in get(display, two, "/display").text
        html = get(staff, two, "/till").text
        charged = post(staff, two, "/till/charge", {"csrf_token": field(html, "csrf_token"),
                                                    "nonce": field(html, "nonce"), "display": display_id,
                                                    "amount": "75.00"})
        order_id = charged.headers["Location"].rsplit("/", 1)[1]
        assert post(staff, one, "/till/charge", {"csrf_token": field(html, "csrf_token"),
                                                 "nonce": field(get(staff, one, "/till").text, "nonce"),
                                                 "display": display_id, "amount": "5.00"}).status_code == 409
        tx_id = get(display, one, "/display").headers["Location"].rsplit("/", 1)[1]
        assert get(display, two, "/display").headers["Location"] == f"/pay/{tx_id}"
        sandbox.pay(tx_id, share="full")
        status = get(display, one, f"/pay/{tx_id}/status", headers={"HX-Request": "true"})
        assert status.headers["HX-Redirect"] == f"/result/{tx_id}"
        follow = get(staff, one, f"/till/checkout/{order_id}/status", headers={"HX-Request": "true"}).text
        assert 'data-status="paid"' in follow
        assert sandbox.calls("create") == 1
    finally:
        one.stop()
        two.stop()


def test_the_watchers_sweep_expires_an_order_nobody_picked_up(app, staff, sandbox):
    import time

    import time_machine

    display = app.test_client()
    display_id = pair_display(staff, display)
    jobs = services(app).jobs
    with time_machine.travel(time.time(), tick=False) as clock:
        order = send(app, display_id)  # and the display is switched off
        clock.shift(599)
        assert jobs._sweep(lag=0.0)["orders_expired"] == 0
        clock.shift(1)
        assert jobs._sweep(lag=0.0)["orders_expired"] == 1
        assert jobs._sweep(lag=0.0)["orders_expired"] == 0
    state = services(app).orders.state(order)
    assert (state.status, state.cancel_reason) == ("expired", "deadline")
    assert sandbox.calls("create") == 0
    # Switched on again, the display shows that it expired, then waits for the next one.
    assert 'data-testid="result-expired"' in display.get("/display").get_data(as_text=True)


# -- a busy display keeps its mode --------------------------------------------------------------


def test_the_displays_page_keeps_a_busy_displays_mode_and_says_why(shop, sandbox, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="kiosk.audit")
    app = shop(DEFAULT_LOCALE="en")
    staff = app.test_client()
    unlock_staff(staff)
    display = app.test_client()
    display_id = pair_display(staff, display, "Counter 1", "till")
    page = staff.get("/operator/displays").get_data(as_text=True)
    assert f'data-testid="end-order-{display_id}"' not in page  # idle: nothing to end
    order = send(app, display_id, "500.00")
    page = staff.get("/operator/displays").get_data(as_text=True)
    assert f'data-testid="end-order-{display_id}"' in page
    token = field(page, "csrf_token")
    mode = f"/operator/displays/{display_id}/mode"
    refused = staff.post(mode, data={"csrf_token": token, "mode": "keypad"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 409 and 'data-testid="error"' in html
    assert "Counter 1 is showing a payment: its mode can change once that payment has ended." in html
    assert f'data-testid="end-order-{display_id}"' in html  # and the way out is right there
    assert services(app).displays.get(display_id).mode == "till"
    assert not [r for r in caplog.records if getattr(r, "event", "") == "operator.display_mode"]
    # Choosing the mode it has is no change; renaming is.
    same = staff.post(mode, data={"csrf_token": token, "mode": "till"})
    assert same.status_code == 303
    renamed = staff.post(f"/operator/displays/{display_id}/rename",
                         data={"csrf_token": token, "name": "Counter 2"})
    assert renamed.status_code == 303 and services(app).displays.get(display_id).name == "Counter 2"
    # Staff end the order (as the console's cancel does, by the operator), then the mode changes.
    ended = staff.post(f"/operator/displays/{display_id}/end-order", data={"csrf_token": token})
    assert (ended.status_code, ended.headers["Location"]) == (303, "/operator/displays")
    state = services(app).orders.state(order)
    assert (state.status, state.cancel_reason) == ("cancelled", "operator")
    assert [r.event for r in caplog.records if getattr(r, "event", "").startswith("operator.display")] == [
        "operator.display_pair", "operator.display_mode", "operator.display_rename",
        "operator.display_end_order"]
    page = staff.get("/operator/displays").get_data(as_text=True)
    assert f'data-testid="end-order-{display_id}"' not in page
    changed = staff.post(mode, data={"csrf_token": token, "mode": "keypad"})
    assert changed.status_code == 303 and services(app).displays.get(display_id).mode == "keypad"
    assert sandbox.calls("create") == 0 and sandbox.calls("cancel") == 0


def test_the_refusal_is_in_the_shops_language(app, staff, sandbox):
    display_id = pair_display(staff, app.test_client(), "Kasa 1", "till")
    send(app, display_id)
    token = field(staff.get("/operator/displays").get_data(as_text=True), "csrf_token")
    html = staff.post(f"/operator/displays/{display_id}/mode",
                      data={"csrf_token": token, "mode": "keypad"}).get_data(as_text=True)
    assert "Kasa 1 bir ödeme gösteriyor" in html and "showing a payment" not in html


def test_ending_the_order_of_a_display_after_its_coin_was_picked_cancels_upstream_once(app, staff, sandbox):
    display = app.test_client()
    display_id = pair_display(staff, display)
    order = send(app, display_id)
    tx_id = services(app).orders.begin(order, "TRX", "TRX")
    token = field(staff.get("/operator/displays").get_data(as_text=True), "csrf_token")
    for _ in range(2):  # a double tap
        staff.post(f"/operator/displays/{display_id}/end-order", data={"csrf_token": token})
    assert sandbox.calls("cancel") == 1 and sandbox.transactions()[0]["status"] == "CANCELLED"
    assert services(app).orders.state(order).cancel_reason == "operator"
    assert services(app).checkout.cancel_reason(tx_id) == "operator"


def test_ending_the_order_of_an_idle_or_unknown_display(app, staff, sandbox):
    display_id = pair_display(staff, app.test_client())
    token = field(staff.get("/operator/displays").get_data(as_text=True), "csrf_token")
    idle = staff.post(f"/operator/displays/{display_id}/end-order", data={"csrf_token": token})
    assert idle.status_code == 303
    unknown = staff.post("/operator/displays/0123456789ab/end-order", data={"csrf_token": token})
    assert unknown.status_code == 404
    anyone = app.test_client()
    token = field(anyone.get("/operator").get_data(as_text=True), "csrf_token")
    order = send(app, display_id)
    locked = anyone.post(f"/operator/displays/{display_id}/end-order", data={"csrf_token": token})
    assert locked.headers["Location"] == "/operator" and services(app).orders.state(order).status == "pending"


def visible_text(html: str) -> str:
    """What a page shows: its text without tags (and so without attributes) or the head."""
    body = html.split("<body", 1)[1]
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())


def test_customers_see_the_shop_never_the_display_s_own_name(shop, sandbox):
    app = shop(SHOP_NAME="Moda Kahve")
    staff = app.test_client()
    unlock_staff(staff)
    display = app.test_client()
    pair_display(staff, display, "Counter 7 by the back door", "till")
    idle = display.get("/display").get_data(as_text=True)
    assert "Moda Kahve" in visible_text(idle)
    assert "Counter 7" not in visible_text(idle)


def test_the_pairing_screen_names_only_ways_that_pair(app):
    html = visible_text(app.test_client().get("/display").get_data(as_text=True))
    assert "Ekranlar" in html and "Kasa API" in html
    assert "kasadan gönderin" not in html  # the console cannot pair: it never said so truly


def test_a_till_mode_display_offers_no_new_payment(shop, sandbox):
    app = shop(COINS="TRX:TRX")
    staff = app.test_client()
    unlock_staff(staff)
    display = app.test_client()
    display_id = pair_display(staff, display, "Counter 1", "till")
    send(app, display_id)
    tx_id = display.get("/display").headers["Location"].rsplit("/", 1)[1]
    sandbox.pay(tx_id, share="full")
    result = display.get(f"/result/{tx_id}").get_data(as_text=True)
    assert 'data-testid="result-paid"' in result
    assert 'data-testid="new-payment"' not in result  # the till starts payments, not the customer
    assert "data-auto-submit" in result  # it still goes back to the welcome screen by itself


def test_one_reference_per_sale_on_every_screen(shop, sandbox):
    app = shop(COINS="TRX:TRX", RECEIPTS=True, CASHIER_PIN="246810")
    staff = app.test_client()
    unlock_staff(staff)
    display = app.test_client()
    display_id = pair_display(staff, display, "Counter 1", "till")
    order = send(app, display_id, reference="Masa 4", note="2 çay")
    tx_id = display.get("/display").headers["Location"].rsplit("/", 1)[1]
    sandbox.pay(tx_id, share="full")
    [tx] = sandbox.transactions()
    both = f"Masa 4 · #{tx['sequenceID']}"
    result = display.get(f"/result/{tx_id}").get_data(as_text=True)
    assert re.search(r'data-testid="reference">([^<]*)<', result).group(1) == both
    follow = staff.get(f"/till/checkout/{order.id}").get_data(as_text=True)
    assert re.search(r'data-testid="till-reference">([^<]*)<', follow).group(1) == both
    receipt = staff.get(f"/till/checkout/{order.id}/receipt").get_data(as_text=True)
    assert re.search(r'data-testid="reference">([^<]*)<', receipt).group(1) == both
    detail = staff.get(f"/operator/tx/{tx_id}").get_data(as_text=True)
    assert "kiosk:" not in detail and "2 çay" in detail  # the note, never the kiosk's own marker


def test_an_order_ended_before_its_coin_shows_no_internal_id(shop, sandbox):
    app = shop()
    staff = app.test_client()
    unlock_staff(staff)
    display = app.test_client()
    display_id = pair_display(staff, display, "Counter 1", "till")
    for reference, shown in (("Masa 4", "Masa 4"), (None, None)):
        order = send(app, display_id, reference=reference)
        services(app).orders.cancel(order, "till")
        result = display.get("/display").get_data(as_text=True)
        assert 'data-testid="result-cancelled"' in result
        found = re.search(r'data-testid="reference">([^<]*)<', result)
        assert (found.group(1) if found else None) == shown
        assert order.id[-8:] not in result
        display.post("/done", data={"csrf_token": field(result, "csrf_token")})


def test_the_operator_s_history_and_detail_show_the_sale_s_one_reference(shop, sandbox):
    app = shop(COINS="TRX:TRX")
    staff = app.test_client()
    unlock_staff(staff)
    display = app.test_client()
    display_id = pair_display(staff, display, "Counter 1", "till")
    send(app, display_id, reference="Masa 4")
    tx_id = display.get("/display").headers["Location"].rsplit("/", 1)[1]
    sandbox.pay(tx_id, share="full")
    [tx] = sandbox.transactions()
    both = f"Masa 4 · #{tx['sequenceID']}"
    history = staff.get("/operator/history").get_data(as_text=True)
    row = history.split('data-testid="history-row"', 1)[1].split("</tr>", 1)[0]
    assert f">{both}</a>" in row
    detail = staff.get(f"/operator/tx/{tx_id}").get_data(as_text=True)
    assert both in detail


def test_a_display_customer_picks_a_language_and_stays_on_the_display(shop, sandbox):
    """A till display in a shop offering five languages: the welcome and the order screens offer
    them; a choice comes back to /display in that language, Arabic right to left."""
    app = shop(LANGUAGES="tr,en,de,ru,ar", CURRENCY="EUR")
    staff = app.test_client()
    assert unlock_staff(staff).headers["Location"] == "/operator/today"
    display = app.test_client()
    display_id = pair_display(staff, display)
    idle = display.get("/display").get_data(as_text=True)
    assert all(f'data-testid="language-{code}"' in idle for code in ("tr", "en", "de", "ru", "ar"))
    answer = display.post("/language", data={"csrf_token": field(idle, "csrf_token"), "locale": "de",
                                             "next": "/display"})
    assert answer.headers["Location"] == "/display"
    assert "Willkommen bei" in display.get("/display").get_data(as_text=True)
    send(app, display_id, "1234.5")
    html = display.get("/display").get_data(as_text=True)
    assert "Wählen Sie, womit Sie zahlen" in html and "1.234,50\u00a0€" in html
    display.post("/language", data={"csrf_token": field(html, "csrf_token"), "locale": "ar",
                                    "next": "/display"})
    html = display.get("/display").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in html and "اختر طريقة الدفع" in html
    assert "\u200f1,234.50\u00a0€" in html


def test_the_lifecycle_log_lines_name_the_sale_s_one_reference(shop, sandbox, caplog):
    """The log lines of a till's sales name them as the screens do: the shop's own reference
    beside upstream's sequence number (paid, and cancelled by the till), in the text and in the
    JSON field; never the kiosk's internal marker."""
    import json
    import logging

    from kiosk.logs import JsonLines

    caplog.set_level(logging.INFO, logger="kiosk")
    app = shop(COINS="TRX:TRX")
    staff = app.test_client()
    unlock_staff(staff)
    display = app.test_client()
    display_id = pair_display(staff, display, "Counter 1", "till")
    send(app, display_id, reference="Masa 4", note="2 çay")
    tx_id = display.get("/display").headers["Location"].rsplit("/", 1)[1]
    sandbox.pay(tx_id, share="full")
    display.get(f"/pay/{tx_id}/status", headers={"HX-Request": "true"})
    display.post("/done", data={"csrf_token": field(display.get(f"/result/{tx_id}").text, "csrf_token")})
    order = send(app, display_id, "20.00", reference="POS-4712")
    other = display.get("/display").headers["Location"].rsplit("/", 1)[1]
    services(app).orders.cancel(order, "till")
    sequence = {tx["_id"]: tx["sequenceID"] for tx in sandbox.transactions()}
    named = {tx_id: f"Masa 4 · #{sequence[tx_id]}", other: f"POS-4712 · #{sequence[other]}"}
    events = [r for r in caplog.records if r.name.startswith("kiosk.checkout") and getattr(r, "event", None)]
    assert [(r.tx, r.event) for r in events] == [(tx_id, "created"), (tx_id, "paid"), (other, "created"),
                                                  (other, "cancelled")]
    for record in events:
        assert f"ref='{named[record.tx]}' tx=" in record.getMessage(), record.getMessage()
        assert json.loads(JsonLines().format(record))["reference"] == named[record.tx]
    sent = [r.getMessage() for r in caplog.records if getattr(r, "event", None) == "order sent"]
    assert [m.split(" id=")[0] for m in sent] == ["order sent ref='Masa 4'", "order sent ref='POS-4712'"]
    assert not any("kiosk:" in r.getMessage() or "kiosk:" in JsonLines().format(r) for r in caplog.records)
