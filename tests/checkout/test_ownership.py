"""A checkout belongs to the kiosk that started it: every customer route for a transaction answers
another kiosk exactly as it answers an unknown id. The routes are found in the app's URL map, so a
route added later is covered without anyone remembering to add it here."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import requests

from kiosk.checkout import Record

from ..support import Customer, LiveServer, field


def customer_routes(app) -> list[tuple[str, str]]:
    """(method, url pattern) of every route outside the operator area that acts on one
    transaction: none of them may answer a browser that did not start it."""
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.arguments == {"tx_id"} and not rule.endpoint.startswith("operator."):
            method = "POST" if "POST" in rule.methods else "GET"
            routes.append((method, rule.rule.replace("<tx_id>", "{}")))
    return sorted(routes)


def unknown_id(tx_id: str) -> str:
    """An id of the same shape that no kiosk has created."""
    return tx_id[:-4] + ("0000" if tx_id[-4:] != "0000" else "1111")


def ask(web, method: str, url: str, token: str):
    return web.open(url, method=method, data={"csrf_token": token}, headers={"HX-Request": "true"})


@pytest.fixture
def app(make_app):
    return make_app(RECEIPTS=True, OPERATOR_PIN="246810")


def test_the_route_table_finds_every_customer_route(app):
    assert set(customer_routes(app)) >= {
        ("GET", "/pay/{}"), ("GET", "/pay/{}/status"), ("GET", "/pay/{}/qr.png"),
        ("POST", "/pay/{}/cancel"), ("GET", "/result/{}"), ("GET", "/receipt/{}"),
        ("GET", "/receipt/{}/qr.svg"),
    }


def test_another_kiosk_gets_what_an_unknown_id_gets(app, sandbox):
    owner = Customer(app.test_client(), sandbox)
    tx_id = owner.start()
    intruder = Customer(app.test_client(), sandbox)
    token = intruder.token()  # its own, valid CSRF token
    before = {name: sandbox.calls(name) for name in ("detail", "cancel", "qr")}
    for method, url in customer_routes(app):
        theirs = ask(intruder.web, method, url.format(tx_id), token)
        nobody = ask(intruder.web, method, url.format(unknown_id(tx_id)), token)
        assert theirs.status_code == nobody.status_code == 404, (method, url)
        assert theirs.get_data() == nobody.get_data(), (method, url)
        assert 'data-testid="missing"' in theirs.get_data(as_text=True)
    # Nothing reached upstream for the intruder: no read, no QR, above all no DELETE.
    assert {name: sandbox.calls(name) for name in before} == before
    assert sandbox.transactions()[0]["status"] == "PENDING"
    # The owner still has the whole journey.
    for method, url in customer_routes(app):
        if method == "GET" and app.url_map.bind("").match(url.format(tx_id))[0].startswith("kiosk."):
            assert owner.web.get(url.format(tx_id), headers={"HX-Request": "true"}).status_code != 404


def test_another_kiosk_cannot_reach_a_paid_receipt(app, sandbox):
    owner = Customer(app.test_client(), sandbox)
    tx_id = owner.start()
    sandbox.pay(tx_id, share="full")
    assert 'data-testid="result-paid"' in owner.web.get(f"/result/{tx_id}").get_data(as_text=True)
    assert owner.web.get(f"/receipt/{tx_id}").status_code == 200
    intruder = app.test_client()
    for url in (f"/result/{tx_id}", f"/receipt/{tx_id}", f"/receipt/{tx_id}/qr.svg"):
        response = intruder.get(url)
        assert response.status_code == 404 and tx_id not in response.get_data(as_text=True)


def test_another_kiosk_sending_the_first_one_s_form_token_gets_its_own_payment(app, sandbox):
    """The one-payment-per-form guard is the kiosk's own: another browser replaying the first
    one's form token (its nonce) never learns the first one's transaction id."""
    owner = Customer(app.test_client(), sandbox)
    html = owner.amount_page()
    nonce = field(html, "nonce")
    owner.enter("300")  # two coins: the amount, then the coin with the amount screen's nonce
    tx_id = owner.choose(nonce=nonce).headers["Location"].rsplit("/", 1)[1]
    intruder = Customer(app.test_client(), sandbox)
    intruder.enter("300")
    answer = intruder.choose(nonce=nonce)
    assert tx_id not in answer.headers.get("Location", "") + answer.get_data(as_text=True)
    theirs = answer.headers["Location"].rsplit("/", 1)[1]
    assert intruder.web.get(f"/pay/{theirs}").status_code == 200
    assert sorted(tx["_id"] for tx in sandbox.transactions()) == sorted([tx_id, theirs])


def test_a_browser_without_a_session_is_nobody(app, sandbox):
    tx_id = Customer(app.test_client(), sandbox).start()
    stranger = app.test_client(use_cookies=False)
    assert stranger.get(f"/pay/{tx_id}").status_code == 404
    assert stranger.get(f"/pay/{tx_id}/qr.png").status_code == 404


def test_the_owner_is_a_stable_kiosk_id_not_the_session_id(app, sandbox):
    web = app.test_client()
    tx_id = Customer(web, sandbox).start()
    with web.session_transaction() as s:
        kiosk_id, sid = s["kiosk_id"], s.sid
    record = app.extensions["kiosk"].checkout.record(tx_id)
    assert record.owner == f"kiosk:{kiosk_id}" and sid not in record.owner
    assert len(kiosk_id) >= 20
    # The same kiosk keeps its id for the next customer's payment.
    customer = Customer(web, sandbox)
    customer.next_customer()
    second = customer.start()
    assert app.extensions["kiosk"].checkout.record(second).owner == record.owner
    # Another kiosk gets an id of its own.
    other = Customer(app.test_client(), sandbox).start()
    assert app.extensions["kiosk"].checkout.record(other).owner != record.owner


def test_staff_unlocking_the_operator_area_keeps_the_customer_s_payment(app, sandbox):
    web = app.test_client()
    tx_id = Customer(web, sandbox).start()
    html = web.get("/operator").get_data(as_text=True)
    assert web.post("/operator", data={"csrf_token": field(html, "csrf_token"),
                                       "pin": "246810"}).headers["Location"] == "/operator/today"
    html = web.get("/operator/settings").get_data(as_text=True)
    web.post("/operator/lock", data={"csrf_token": field(html, "csrf_token")})
    assert web.get(f"/pay/{tx_id}").status_code == 200
    assert web.get("/").headers["Location"] == f"/pay/{tx_id}"


def test_the_operator_reaches_every_transaction(app, sandbox):
    tx_id = Customer(app.test_client(), sandbox).start()
    staff = app.test_client()
    html = staff.get("/operator").get_data(as_text=True)
    staff.post("/operator", data={"csrf_token": field(html, "csrf_token"), "pin": "246810"})
    page = staff.get(f"/operator/tx/{tx_id}").get_data(as_text=True)
    assert tx_id in page
    response = staff.post(f"/operator/tx/{tx_id}/cancel", data={"csrf_token": field(page, "csrf_token")})
    assert response.headers["Location"] == f"/operator/tx/{tx_id}"
    assert sandbox.calls("cancel") == 1 and sandbox.transactions()[0]["status"] == "CANCELLED"


def test_a_record_from_before_owners_is_the_operator_s_alone(app, sandbox):
    """A checkout recorded before owners were kept: nobody can claim it, staff still reach it."""
    web = app.test_client()
    customer = Customer(web, sandbox)
    tx_id = customer.start()
    store = app.extensions["kiosk"].store
    data = json.loads(store.get(f"tx:{tx_id}"))
    del data["owner"]
    store.set(f"tx:{tx_id}", json.dumps(data))
    assert app.extensions["kiosk"].checkout.record(tx_id).owner is None
    for method, url in customer_routes(app):
        assert ask(web, method, url.format(tx_id), customer.token()).status_code == 404, url
    assert web.get("/").status_code == 200  # the amount screen, not a redirect to a 404
    assert sandbox.calls("cancel") == 0
    html = web.get("/operator").get_data(as_text=True)
    web.post("/operator", data={"csrf_token": field(html, "csrf_token"), "pin": "246810"})
    page = web.get(f"/operator/tx/{tx_id}").get_data(as_text=True)
    web.post(f"/operator/tx/{tx_id}/cancel", data={"csrf_token": field(page, "csrf_token")})
    assert sandbox.calls("cancel") == 1


def test_the_ownership_rule(tmp_path):
    from kiosk.checkout import LocalStore, ownership
    from kiosk.checkout.service import Checkout
    from kiosk.ledger import Ledger, make_engine

    ledger = Ledger(make_engine(f"sqlite:///{tmp_path / 'ledger.sqlite3'}"))
    checkout = Checkout(None, LocalStore(tmp_path / "s.sqlite3"), ledger=ledger,  # type: ignore[arg-type]
                        payment_timeout=600)
    mine = Record("a" * 24, Decimal(1), "TRX", "TRX", 0.0, 600.0, owner="kiosk:abc")
    legacy = Record("b" * 24, Decimal(1), "TRX", "TRX", 0.0, 600.0)
    for record in (mine, legacy):
        checkout.store.set(f"tx:{record.tx_id}", record.dumps())
    assert checkout.record_for(mine.tx_id, "kiosk:abc") == mine
    for owner in ("kiosk:abd", "kiosk:ab", "kiosk:abcd", "display:abc", "", None):
        assert checkout.record_for(mine.tx_id, owner) is None, owner
    for owner in ("", None, "kiosk:"):
        assert checkout.record_for(legacy.tx_id, owner) is None
    assert checkout.record_for("c" * 24, "kiosk:abc") is None
    assert ownership.display("7") == "display:7" and ownership.kiosk("abc") == "kiosk:abc"
    assert Record.loads(mine.dumps()) == mine and Record.loads(legacy.dumps()) == legacy


def test_a_fleet_keeps_the_owner(make_app, sandbox, redis_url):
    """Two instances, one Redis: the owner travels with the record, so the owner reaches it
    through either instance and another kiosk through neither."""
    one = LiveServer(make_app(REDIS_URL=redis_url, COINS="TRX:TRX"))
    two = LiveServer(make_app(REDIS_URL=redis_url, COINS="TRX:TRX"))
    try:
        owner, intruder = requests.Session(), requests.Session()

        def get(browser, server, path, **kw):
            return browser.get(server.url + path, allow_redirects=False, timeout=10, **kw)

        html = get(owner, one, "/").text
        response = owner.post(one.url + "/", allow_redirects=False, timeout=10, data={
            "csrf_token": field(html, "csrf_token"), "nonce": field(html, "nonce"), "amount": "300"})
        tx_id = response.headers["Location"].rsplit("/", 1)[1]
        assert get(owner, two, f"/pay/{tx_id}").status_code == 200
        token = field(get(intruder, two, "/").text, "csrf_token")
        for server in (one, two):
            for method, url in customer_routes(server.app):
                answer = intruder.request(method, server.url + url.format(tx_id), data={"csrf_token": token},
                                          headers={"HX-Request": "true"}, allow_redirects=False, timeout=10)
                assert answer.status_code == 404, (server.url, url)
        assert sandbox.calls("cancel") == 0
        status = get(owner, one, f"/pay/{tx_id}/status", headers={"HX-Request": "true"})
        assert 'data-outcome="waiting"' in status.text
    finally:
        one.stop()
        two.stop()
