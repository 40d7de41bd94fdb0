"""The back office attacked as an outsider (or a stale or forged form) would: every answer is a
clear one, nothing is made that was not asked for, and no answer is an error page."""

from __future__ import annotations

import pytest

from kiosk.reports import z_reports

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
