"""The back office attacked as an outsider (or a stale or forged form) would: every answer is a
clear one, nothing is made that was not asked for, and no answer is an error page."""

from __future__ import annotations

import secrets

import pytest

from kiosk.reports import z_reports
from kiosk.web.sessions import NEW_SESSIONS

from ..support import STAFF_PIN, Customer, field, unlock_staff


@pytest.fixture
def shop(make_app, sandbox):
    app = make_app(OPERATOR_PIN=STAFF_PIN, DEFAULT_LOCALE="en")
    return app, sandbox


def sell(app, sandbox, amount: str) -> None:
    customer = Customer(app.test_client(), sandbox)
    tx = customer.start(amount)
    sandbox.pay(tx, share="full")
    assert customer.poll(tx)[0] == "paid"


def close_form(web):
    html = web.get("/operator/reports").get_data(as_text=True)
    return {"csrf_token": field(html, "csrf_token"), "after": field(html, "after")}


@pytest.mark.parametrize(("made", "after"), [(0, "1"), (0, "5"), (0, "999999999"), (1, "2"), (1, "7")])
def test_a_close_after_a_report_that_does_not_exist_is_an_expired_form(shop, made, after):
    """A close names the newest report it saw: one newer than any made was never seen, so the
    form is forged or from another kiosk's ledger. It was a bare 409 with none made, and with
    report 1 made it answered "report 1 was made by another close" and showed it."""
    app, sandbox = shop
    sell(app, sandbox, "10.00")
    operator = app.test_client()
    unlock_staff(operator)
    for _ in range(made):
        assert operator.post("/operator/reports/close", data=close_form(operator)).status_code == 303
    response = operator.post("/operator/reports/close", data={**close_form(operator), "after": after})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'data-testid="close-error"' in html, html[:200]
    assert "This form has expired." in html
    assert [z.number for z in z_reports(app.extensions["kiosk"].ledger)] == list(range(made, 0, -1))


# -- a stranger at the new doors ----------------------------------------------------------------

NEW_DOORS = [
    ("GET", "/tip"), ("GET", "/tip?custom=1"), ("POST", "/tip"), ("POST", "/display/tip"),
    ("POST", "/result/{id}/print"), ("GET", "/result/{id}/print"), ("POST", "/till/checkout/{id}/print"),
    ("POST", "/operator/tx/{id}/print"), ("POST", "/operator/prints/{id}/dismiss"),
    ("GET", "/operator/export.csv?from=2000-01-01&to=9998-12-31"), ("GET", "/operator/reports"),
    ("POST", "/operator/reports/close"), ("GET", "/operator/reports/z/1"),
    ("GET", "/operator/reports/z/1/rows.csv"), ("POST", "/operator/reports/print"),
    ("POST", "/operator/reports/z/1/print"),
]


@pytest.mark.parametrize("cashier_pin", [None, "135792"])
def test_a_strangers_burst_at_the_new_doors_writes_nothing_but_bounded_counters(
        make_app, sandbox, redis_url, cashier_pin):
    """Forged session ids and display credentials, forged and real ids, the forms of a till, a
    tip and a close: a stranger reaches no tip, print or report, and the store grows by first-look
    sessions within their per-address limit, and their counters; the ledger not at all."""
    import redis
    from sqlalchemy import func, select

    from kiosk.ledger.schema import checkouts
    from kiosk.ledger.schema import z_reports as z_table

    extra = {"CASHIER_PIN": cashier_pin} if cashier_pin else {}
    sell(make_app(COINS="TRX:TRX", REDIS_URL=redis_url, OPERATOR_PIN=STAFF_PIN), sandbox, "10.00")
    app = make_app(COINS="TRX:TRX", REDIS_URL=redis_url, TIPS="5,10,15", OPERATOR_PIN=STAFF_PIN, **extra)
    services = app.extensions["kiosk"]
    with services.ledger.engine.connect() as conn:
        [sale] = conn.execute(select(checkouts.c.tx_id)).all()
    store = redis.Redis.from_url(redis_url)
    before = set(store.keys())

    def counts():
        with services.ledger.engine.connect() as conn:
            return (conn.execute(select(func.count()).select_from(checkouts)).scalar(),
                    conn.execute(select(func.count()).select_from(z_table)).scalar())

    ledger_before = counts()
    for n in range(3 * len(NEW_DOORS)):
        method, path = NEW_DOORS[n % len(NEW_DOORS)]
        for cookie in (None, ("kiosk_session", secrets.token_urlsafe(32)),
                       ("kiosk_display", secrets.token_urlsafe(32))):
            web = app.test_client()
            if cookie:
                web.set_cookie(*cookie)
            for some_id in (sale[0], secrets.token_hex(8)):
                answer = web.open(path.format(id=some_id), method=method, headers={
                    "X-Forwarded-For": f"10.9.{n}.1"}, data={
                    "csrf_token": "x", "tip": "custom", "custom": "5", "nonce": secrets.token_urlsafe(18),
                    "after": "0", "order": "chk_" + secrets.token_hex(8)})
                assert answer.status_code in (302, 303, 400, 404), (method, path, answer.status_code)
                if path.startswith("/result/"):
                    assert answer.status_code == 404, (method, path)
    grown = {k.decode() for k in set(store.keys()) - before} - {"kiosk:health:write-probe"}
    assert {k.split(":")[1] for k in grown} <= {"session", "rate"}, sorted(grown)
    assert len([k for k in grown if k.startswith("kiosk:session:")]) <= NEW_SESSIONS[0]  # one address
    assert counts() == ledger_before
    assert services.prints.of_tx(sale[0]) is None
