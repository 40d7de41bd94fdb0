"""The operator area: PIN, lock-out, idle end, history, today's totals, attention items, receipts."""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import requests
import time_machine

from kiosk import logs
from kiosk.sandbox import DEFAULT_PASSWORD

from ..conftest import PIN
from ..support import Customer, field

WRONG = "135799"


def unlock(web, pin: str = PIN):
    html = web.get("/operator").get_data(as_text=True)
    return web.post("/operator", data={"csrf_token": field(html, "csrf_token"), "pin": pin})


@pytest.fixture
def staff(web):
    assert unlock(web).headers["Location"] == "/operator/today"
    return web


def test_operator_pages_need_the_pin(web):
    for url in ("/operator/today", "/operator/history", "/operator/settings",
                "/operator/tx/6338cb9cd4cb3327e706ddb1"):
        assert web.get(url).headers["Location"] == "/operator"


def test_five_wrong_pins_lock_for_five_minutes(web, app):
    with time_machine.travel(time.time(), tick=False) as clock:
        start = time.time()
        for left in (4, 3, 2, 1):
            response = unlock(web, WRONG)
            assert response.status_code == 403
            assert f"{left} deneme hakkı kaldı" in response.get_data(as_text=True)
        response = unlock(web, WRONG)
        assert "5 dakika sonra" in response.get_data(as_text=True)
        assert unlock(web, PIN).status_code == 403  # even the right PIN, while locked
        # Another session from the same address is locked too.
        other = app.test_client()
        assert unlock(other, PIN).status_code == 403
        clock.move_to(start + 299)
        assert unlock(web, PIN).status_code == 403
        clock.move_to(start + 300)
        assert unlock(web, PIN).headers["Location"] == "/operator/today"


def test_the_right_pin_resets_the_count_of_wrong_tries(web):
    for _ in range(2):
        for left in (4, 3, 2, 1):
            assert f"{left} deneme hakkı kaldı" in unlock(web, WRONG).get_data(as_text=True)
        assert unlock(web, PIN).headers["Location"] == "/operator/today"
        html = web.get("/operator/today").get_data(as_text=True)
        assert web.post("/operator/lock", data={"csrf_token": field(html, "csrf_token")}).status_code == 303


def test_the_operator_area_locks_after_exactly_five_idle_minutes(web):
    staff = web
    with time_machine.travel(time.time(), tick=False) as clock:
        start = time.time()
        assert unlock(staff).headers["Location"] == "/operator/today"
        clock.move_to(start + 299)  # 4:59 idle: still open, and the visit starts the five minutes anew
        assert staff.get("/operator/settings").status_code == 200
        clock.move_to(start + 299 + 299)
        assert staff.get("/operator/settings").status_code == 200
        clock.move_to(start + 299 + 299 + 300)  # 5:00 idle: locked
        assert staff.get("/operator/settings").headers["Location"] == "/operator"
        assert staff.get("/operator/today").headers["Location"] == "/operator"


def test_lock_ends_the_operator_session(staff):
    html = staff.get("/operator/settings").get_data(as_text=True)
    response = staff.post("/operator/lock", data={"csrf_token": field(html, "csrf_token")})
    assert response.headers["Location"] == "/"
    assert staff.get("/operator/today").headers["Location"] == "/operator"


def session_id(web) -> str:
    return web.get_cookie("kiosk_session").value


@pytest.mark.parametrize("sessions", ["files", "redis"])
def test_the_session_id_changes_on_unlock_and_lock_and_the_checkout_stays(make_app, sandbox, sessions,
                                                                          request):
    app = make_app(REDIS_URL=request.getfixturevalue("redis_url") if sessions == "redis" else None)
    web = app.test_client()
    tx_id = Customer(web, sandbox).start()  # a customer's open payment on this tablet
    before = session_id(web)
    thief = app.test_client()  # someone who learnt the cookie before the staff unlocked
    thief.set_cookie("kiosk_session", before)
    assert unlock(web).headers["Location"] == "/operator/today"
    unlocked = session_id(web)
    assert unlocked != before
    assert thief.get("/operator/today").headers["Location"] == "/operator"
    assert web.get("/operator/today").status_code == 200
    html = web.get("/operator/today").get_data(as_text=True)
    assert web.post("/operator/lock", data={"csrf_token": field(html, "csrf_token")}).status_code == 303
    assert session_id(web) not in (before, unlocked)
    assert web.get("/").headers["Location"] == f"/pay/{tx_id}"  # the customer's checkout survived
    assert "/pay/" not in thief.get("/").headers.get("Location", "")


def test_the_idle_end_changes_the_session_id_too(web):
    staff = web
    with time_machine.travel(time.time(), tick=False) as clock:
        start = time.time()
        assert unlock(staff).headers["Location"] == "/operator/today"
        unlocked = session_id(staff)
        clock.move_to(start + 300)
        assert staff.get("/operator/today").headers["Location"] == "/operator"
        assert session_id(staff) != unlocked


def audit_events(caplog) -> list[tuple[str, str, str | None]]:
    return [(r.event, r.client, getattr(r, "tx", None)) for r in caplog.records
            if r.name == "kiosk.audit"]


def test_every_operator_action_is_audited_with_the_address_never_the_pin(app, sandbox, caplog):
    caplog.set_level(logging.INFO, logger="kiosk")
    [tx] = make_transactions(sandbox, 1)
    intruder = app.test_client()
    intruder.environ_base["REMOTE_ADDR"] = "127.0.0.7"
    for _ in range(5):
        unlock(intruder, WRONG)
    unlock(intruder, PIN)  # refused while locked
    staff = app.test_client()
    unlock(staff)
    html = staff.get(f"/operator/tx/{tx['_id']}").get_data(as_text=True)
    token = {"csrf_token": field(html, "csrf_token")}
    staff.post(f"/operator/tx/{tx['_id']}/cancel", data=token)
    staff.post(f"/operator/attention/{tx['_id']}/dismiss", data=token)
    staff.post("/operator/lock", data=token)
    here, there = "127.0.0.1", "127.0.0.7"
    assert audit_events(caplog) == [
        *[("operator.pin_wrong", there, None)] * 4,
        ("operator.lockout", there, None),
        ("operator.pin_refused", there, None),
        ("operator.unlock", here, None),
        ("operator.cancel", here, tx["_id"]),
        ("operator.dismiss", here, tx["_id"]),
        ("operator.lock", here, None),
    ]
    for record in caplog.records:
        text = f"{record.getMessage()} {record.__dict__}"
        assert PIN not in text and WRONG not in text
    line = json.loads(logs.JsonLines().format(next(r for r in caplog.records if r.name == "kiosk.audit")))
    assert line["event"] == "operator.pin_wrong" and line["client"] == there


def test_settings_show_health_and_no_secret(staff, app, sandbox):
    html = staff.get("/operator/settings").get_data(as_text=True)
    assert sandbox.url in html and "çalışıyor" in html and "0.1.0" in html
    token = app.extensions["kiosk"].client.tokens.load().access_token
    for secret in (DEFAULT_PASSWORD, token, app.config["SECRET_KEY"]):
        assert secret not in html


def test_settings_when_upstream_refuses_the_login(make_app, sandbox):
    web = make_app(API_PASSWORD="wrong").test_client()
    unlock(web)
    html = web.get("/operator/settings").get_data(as_text=True)
    assert "hatalı" in html and "AuthError" in html and "wrong" not in html


def make_transactions(sandbox, count: int, coin: str = "TRX") -> list[dict]:
    from kiosk.cryptom import CryptomClient
    from kiosk.sandbox import DEFAULT_EMAIL

    client = CryptomClient(sandbox.url, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    return [client.create_transaction("TRY", Decimal(10 + i), coin, "TRX").raw for i in range(count)]


def rows(html: str) -> int:
    return html.count('data-testid="history-row"')


def test_history_pages_follow_upstream(staff, sandbox):
    made = make_transactions(sandbox, 23)
    first = staff.get("/operator/history").get_data(as_text=True)
    assert rows(first) == 20 and "Sayfa 1 / 2" in first and "toplam 23" in first
    assert f"#{made[-1]['sequenceID']}" in first.split('data-testid="history-row"')[1]  # newest first
    assert 'data-testid="next"' in first and 'data-testid="prev"' not in first
    last = staff.get("/operator/history?page=2").get_data(as_text=True)
    assert rows(last) == 3 and "Sayfa 2 / 2" in last and 'data-testid="next"' not in last
    beyond = staff.get("/operator/history?page=9").get_data(as_text=True)
    assert rows(beyond) == 0 and "Eşleşen işlem yok." in beyond


@time_machine.travel(datetime(2026, 6, 15, 12, 0, tzinfo=ZoneInfo("Europe/Istanbul")))
def test_history_filters(staff, sandbox):
    trx = make_transactions(sandbox, 3)
    usdt = make_transactions(sandbox, 2, coin="USDT")
    requests.post(f"{sandbox.url}/sandbox/transactions/{trx[0]['_id']}/cancel", timeout=5)
    assert rows(staff.get("/operator/history?coin=USDT").get_data(as_text=True)) == 2
    assert rows(staff.get("/operator/history?status=CANCELLED").get_data(as_text=True)) == 1
    assert rows(staff.get(f"/operator/history?ref={trx[1]['sequenceID']}").get_data(as_text=True)) == 1
    assert rows(staff.get(f"/operator/history?ref={usdt[0]['_id']}").get_data(as_text=True)) == 1
    wallet = usdt[1]["wallet"]["address"]
    assert rows(staff.get(f"/operator/history?wallet={wallet}").get_data(as_text=True)) == 1
    today = "2026-06-15"  # the shop's day, whatever the host's zone and hour
    assert rows(staff.get(f"/operator/history?from={today}&to={today}").get_data(as_text=True)) == 5
    assert rows(staff.get("/operator/history?from=2020-01-01&to=2020-01-31").get_data(as_text=True)) == 0
    # Day first, as staff write it: 15.06.2026 in Turkish, 15/06/2026 in English.
    turkish = staff.get("/operator/history?from=15.06.2026&to=15/06/2026").get_data(as_text=True)
    assert rows(turkish) == 5
    assert 'placeholder="gg.aa.yyyy" value="15.06.2026" data-testid="filter-from"' in turkish
    assert rows(staff.get("/operator/history?from=16.06.2026").get_data(as_text=True)) == 0
    empty = staff.get("/operator/history?status=DONE").get_data(as_text=True)
    assert "Eşleşen işlem yok." in empty and "Sayfa 1 / 1" in empty


@pytest.mark.parametrize("query", ["from=2026-13-01", "from=31.02.2026", "from=12-31-2026", "to=1.1.26",
                                   "status=NOPE", "ref=abc", "page=0",
                                   "from=2026-02-02&to=2026-01-01", "wallet=%3Cscript%3E"])
def test_bad_history_filters_get_a_message_and_no_upstream_call(staff, sandbox, query):
    before = sandbox.calls("history")
    response = staff.get(f"/operator/history?{query}")
    assert response.status_code == 200 and 'data-testid="error"' in response.get_data(as_text=True)
    assert sandbox.calls("history") == before


def test_today_totals_and_attention_items(app, web, sandbox):
    customer = Customer(web, sandbox)
    paid = customer.start("300")
    sandbox.pay(paid, share="full")
    customer.status(paid)
    customer.next_customer()
    partial = customer.start("50")
    sandbox.pay(partial, share="half")
    checkout = app.extensions["kiosk"].checkout
    checkout.clock = lambda: time.time() + 601
    customer.status(partial)  # the deadline passes after a partial payment
    checkout.clock = time.time
    customer.staff_end(partial, PIN)  # its result waits for staff
    late = customer.start("20")
    checkout.clock = lambda: time.time() + 601
    customer.status(late)  # expires unpaid...
    checkout.clock = time.time
    sandbox.pay(late, share="full")  # ...and the money arrives afterwards
    unlock(web)
    html = web.get("/operator/today").get_data(as_text=True)
    assert 'data-testid="paid-count">2<' in html  # the late one completed too
    assert 'data-testid="paid-total">₺320,00<' in html
    assert 'data-testid="attention-partial"' in html and 'data-testid="attention-paid_late"' in html
    # Attention items survive a restart of the kiosk server.
    from kiosk import create_app

    again = create_app({**app.config, "STATE_DIR": str(app.extensions["kiosk"].settings.state_dir)})
    kinds = {item["kind"] for _, item in again.extensions["kiosk"].checkout.attention()}
    assert kinds == {"partial", "paid_late"}
    # Dealt with: gone from the list.
    token = field(html, "csrf_token")
    response = web.post(f"/operator/attention/{partial}/dismiss", data={"csrf_token": token})
    assert response.headers["Location"] == "/operator/today"
    assert 'data-testid="attention-partial"' not in web.get("/operator/today").get_data(as_text=True)


def test_detail_and_cancel_a_pending_payment(staff, sandbox):
    [tx] = make_transactions(sandbox, 1)
    html = staff.get(f"/operator/tx/{tx['_id']}").get_data(as_text=True)
    assert tx["wallet"]["address"] in html and 'data-testid="cancel"' in html
    response = staff.post(f"/operator/tx/{tx['_id']}/cancel", data={"csrf_token": field(html, "csrf_token")})
    assert response.headers["Location"] == f"/operator/tx/{tx['_id']}"
    html = staff.get(f"/operator/tx/{tx['_id']}").get_data(as_text=True)
    assert ">CANCELLED<" in html and 'data-testid="cancel"' not in html
    assert staff.get("/operator/tx/6338cb9cd4cb3327e706ddb1").status_code == 404


def test_operator_area_is_off_without_a_pin_against_real_upstream(make_app):
    web = make_app(API_URL="https://pay.example.invalid", OPERATOR_PIN=None).test_client()
    response = web.get("/operator")
    assert response.status_code == 404 and 'data-testid="operator-off"' in response.get_data(as_text=True)


def test_customer_screens_never_link_to_the_operator(web):
    html = web.get("/").get_data(as_text=True)
    assert 'href="/operator' not in html


# -- receipts -------------------------------------------------------------------------------


def test_receipt_of_a_paid_payment(make_app, sandbox):
    web = make_app(RECEIPTS=True, SHOP_NAME="Kadıköy Kahve").test_client()
    customer = Customer(web, sandbox)
    tx_id = customer.start("300")
    assert web.get(f"/receipt/{tx_id}").headers["Location"] == f"/pay/{tx_id}"  # not paid yet
    sandbox.pay(tx_id, share="full")
    result = web.get(f"/result/{tx_id}").get_data(as_text=True)
    assert f'href="/receipt/{tx_id}"' in result
    html = web.get(f"/receipt/{tx_id}").get_data(as_text=True)
    assert "Kadıköy Kahve" in html and "₺300,00" in html and "24 TRX" in html
    assert "1 TRX = ₺12,50" in html and f"/receipt/{tx_id}/qr.svg" in html
    svg = web.get(f"/receipt/{tx_id}/qr.svg")
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data


@pytest.mark.parametrize("currency_amount, coin_amount, rate", [
    ("3" + "0" * 30, "24", None),  # more digits than a rate to the cent can hold
    ("300", "-24", None),
    ("300", "0", None),
    ("300", "24", "1 TRX = ₺12,50"),
])
def test_a_receipt_whose_rate_makes_no_sense_leaves_the_rate_out(make_app, sandbox, currency_amount,
                                                                coin_amount, rate):
    """Upstream's amounts are its own: a rate that cannot be written to the cent, or that would
    be negative, is left out of the receipt, never a 503."""
    web = make_app(RECEIPTS=True).test_client()
    tx_id = Customer(web, sandbox).start("300")
    sandbox.pay(tx_id, share="full")
    sandbox.state.transactions[tx_id].update(currencyAmount=currency_amount, coinAmount=coin_amount)
    response = web.get(f"/receipt/{tx_id}")
    assert response.status_code == 200
    shown = re.search(r'data-testid="rate">([^<]*)<', response.get_data(as_text=True))
    assert (shown.group(1) if shown else None) == rate


def test_receipts_off_by_default(customer, sandbox):
    tx_id = customer.start()
    sandbox.pay(tx_id, share="full")
    assert "/receipt/" not in customer.web.get(f"/result/{tx_id}").get_data(as_text=True)
    assert customer.web.get(f"/receipt/{tx_id}").status_code == 404


def test_settings_and_today_show_the_watcher(make_app, sandbox, watcher):
    # Minute 20 of this hour: a consumer that starts at minute 7 runs the hour's reconciliation
    # at once, and the screen would rightly show it run and a job waiting.
    with time_machine.travel(time.time() // 3600 * 3600 + 20 * 60, tick=True):
        app = make_app()
        web = app.test_client()
        unlock(web)
        html = web.get("/operator/settings").get_data(as_text=True)
        assert "hiçbiri çalışmıyor" in html and "gözcü henüz çalışmadı" in html  # no consumer yet
        watcher(app)
        html = web.get("/operator/settings").get_data(as_text=True)
        consumers = html.split('data-testid="consumers">', 1)[1].split("</dd>", 1)[0]
        assert "çalışıyor" in consumers and app.extensions["kiosk"].jobs.host in consumers
        assert "son çalışma" in html.split('data-testid="last-sweep">', 1)[1].split("</dd>", 1)[0]
        assert "henüz çalışmadı" in html.split('data-testid="last-reconcile">', 1)[1].split("</dd>", 1)[0]
        assert 'data-testid="waiting">0<' in html and 'data-testid="failures">0<' in html
        customer = Customer(web, sandbox)
        customer.start("300")
        html = web.get("/operator/settings").get_data(as_text=True)
        assert 'data-testid="watched">1<' in html
        today = web.get("/operator/today").get_data(as_text=True)
        assert "1 ödemeyi izliyor" in today.split('data-testid="watcher-summary">', 1)[1]
