"""The back office's pages: the export, the X report and closing the day, as the operator uses
them (sales made through the kiosk's screens against the sandbox), and as anyone else finds them."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from kiosk.ledger import Entry
from kiosk.reports import COLUMNS

from ..support import CASHIER_PIN, STAFF_PIN, Customer, field, pair_display, unlock_staff

SHOP = ZoneInfo("Europe/Istanbul")
EVENING = datetime(2026, 3, 14, 23, 59, tzinfo=SHOP)


@pytest.fixture
def shop(make_app, sandbox):
    app = make_app(OPERATOR_PIN=STAFF_PIN, CASHIER_PIN=CASHIER_PIN, DEFAULT_LOCALE="en")
    return app, sandbox


def sell(app, sandbox, amount: str, share: str = "full") -> str:
    customer = Customer(app.test_client(), sandbox)
    tx = customer.start(amount)
    sandbox.pay(tx, share=share)
    assert customer.poll(tx)[0] == "paid"
    return tx


def rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    found = list(csv.reader(io.StringIO(response.get_data().decode("utf-8"), newline="")))
    assert tuple(found[0]) == COLUMNS
    return [dict(zip(COLUMNS, r, strict=True)) for r in found[1:]]


def close_form(web):
    html = web.get("/operator/reports").get_data(as_text=True)
    return {"csrf_token": field(html, "csrf_token"), "after": field(html, "after")}


def test_the_operator_exports_closes_the_day_and_downloads_the_report(shop):
    app, sandbox = shop
    with time_machine.travel(EVENING, tick=False) as clock:
        paid = sell(app, sandbox, "100.00")
        clock.shift(timedelta(minutes=2))
        later = sell(app, sandbox, "25.50")
        operator = app.test_client()
        assert unlock_staff(operator).status_code == 303

        exported = rows(operator.get("/operator/export.csv?from=2026-03-14&to=2026-03-15"))
        assert [(r["transaction_id"], r["amount"], r["total"], r["status"], r["z_number"])
                for r in exported] == [(paid, "100.00", "100.00", "paid", ""), (later, "25.50", "25.50",
                                                                                  "paid", "")]
        html = operator.get("/operator/reports").get_data(as_text=True)
        assert 'data-testid="x-report"' in html and 'data-testid="z-total">₺125.50<' in html
        assert 'data-testid="z-empty"' in html

        form = close_form(operator)
        assert form["after"] == "0"
        made = operator.post("/operator/reports/close", data=form)
        assert made.status_code == 303 and made.headers["Location"] == "/operator/reports/z/1?made=1"
        page = operator.get("/operator/reports/z/1").get_data(as_text=True)
        assert 'data-testid="z-number">1<' in page and 'data-testid="z-total">₺125.50<' in page
        assert 'data-testid="z-count">2<' in page
        # The same form sent again (a second tap, another screen): the same report, no second one.
        again = operator.post("/operator/reports/close", data=form)
        assert again.headers["Location"] == "/operator/reports/z/1?made=0"
        assert 'data-testid="z-already"' in operator.get(again.headers["Location"]).get_data(as_text=True)
        assert operator.get("/operator/reports/z/2").status_code == 404

        counted = rows(operator.get("/operator/reports/z/1/rows.csv"))
        assert sum(Decimal(r["total"]) for r in counted if r["status"] == "paid") == Decimal("125.50")
        exported = rows(operator.get("/operator/export.csv?from=2026-03-14&to=2026-03-14"))
        assert {r["z_number"] for r in exported} == {"1"}
        slip = operator.get("/operator/reports/z/1?paper=58mm").get_data(as_text=True)
        assert "paper-58mm" in slip and 'data-testid="z-number">1<' in slip


def test_a_shop_that_changed_its_currency_sees_a_block_per_currency(shop):
    """A sale booked while the shop counted in euro, then one in lira: the X and Z reports show
    the lira (the shop's currency now) first and the euro apart, each in its own sign."""
    app, sandbox = shop
    with time_machine.travel(EVENING, tick=False):
        at = EVENING.timestamp()
        app.extensions["kiosk"].ledger.record(Entry(
            at=at, tx_id="tx-eur", status="waiting", started_by_kind="kiosk", started_by="k1",
            amount=Decimal("20.00"), tip=Decimal("2.00"), currency="EUR", coin="TRX", network="TRX",
            coin_amount=Decimal("80"), created=at, deadline=at + 600))
        app.extensions["kiosk"].ledger.record(Entry(at=at + 60, tx_id="tx-eur", status="paid",
                                                    received=Decimal("80")))
        sell(app, sandbox, "100.00")
        operator = app.test_client()
        unlock_staff(operator)
        html = operator.get("/operator/reports").get_data(as_text=True)
        assert html.index('data-testid="z-currency-TRY"') < html.index('data-testid="z-currency-EUR"')
        lira, euro = html.split('data-testid="z-currency-EUR"')
        assert 'data-testid="z-total">₺100.00<' in lira and "€" not in lira.split("z-currency-TRY")[1]
        assert 'data-testid="z-total">€22.00<' in euro and 'data-testid="z-tips">€2.00<' in euro
        operator.post("/operator/reports/close", data=close_form(operator))
        page = operator.get("/operator/reports/z/1").get_data(as_text=True)
        assert 'data-testid="z-total">₺100.00<' in page and 'data-testid="z-total">€22.00<' in page
        listed = operator.get("/operator/reports").get_data(as_text=True)
        assert "₺100.00 · €22.00" in listed


@pytest.mark.parametrize(("query", "message"), [
    ("from=2026-03-15&to=2026-03-14", "The first date must not be after the second."),
    ("from=14.03.2026&to=2026-03-14", "Dates are written YYYY-MM-DD."),
    ("from=2026-03-14", "Choose the first and the last day."),
    ("", "Choose the first and the last day."),
])
def test_a_bad_range_gets_a_clear_message_and_no_file(shop, query, message):
    app, _sandbox = shop
    operator = app.test_client()
    unlock_staff(operator)
    response = operator.get(f"/operator/export.csv?{query}")
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and response.mimetype == "text/html"
    assert f'data-testid="export-error">{message}<' in html
    assert 'data-testid="export-csv"' in html  # the form again, as it was sent


@pytest.mark.parametrize("after", ["", "-1", "one", "1" * 12, "²", "٠", " 0"])
def test_a_close_that_names_no_report_makes_none(shop, after):
    app, _sandbox = shop
    operator = app.test_client()
    unlock_staff(operator)
    form = {**close_form(operator), "after": after}
    response = operator.post("/operator/reports/close", data=form)
    assert response.status_code == 422 and 'data-testid="close-error"' in response.get_data(as_text=True)
    assert 'data-testid="z-empty"' in operator.get("/operator/reports").get_data(as_text=True)


@pytest.mark.parametrize("who", ["stranger", "cashier"])
def test_only_the_operator_reaches_the_back_office(shop, who):
    app, sandbox = shop
    sell(app, sandbox, "10.00")
    web = app.test_client()
    if who == "cashier":
        assert unlock_staff(web, CASHIER_PIN, "/till").status_code == 303
    token = field(web.get("/operator").get_data(as_text=True), "csrf_token")
    for method, path in [("GET", "/operator/export.csv?from=2026-01-01&to=2030-12-31"),
                         ("GET", "/operator/reports"), ("GET", "/operator/reports/z/1"),
                         ("GET", "/operator/reports/z/1/rows.csv"),
                         ("POST", "/operator/reports/close")]:
        response = web.open(path, method=method, data={"csrf_token": token, "after": "0"})
        assert response.status_code == 302 and response.headers["Location"] == "/operator", (method, path)
    services = app.extensions["kiosk"]
    from kiosk.reports import z_reports

    assert z_reports(services.ledger) == []


@pytest.mark.parametrize(("pin", "who"), [(CASHIER_PIN, "cashier"), (STAFF_PIN, "operator")])
def test_a_console_sale_says_which_pin_rang_it_up(shop, pin, who):
    app, sandbox = shop
    operator = app.test_client()
    unlock_staff(operator)
    display = app.test_client()
    display_id = pair_display(operator, display, "Counter 1", "till")
    display.get("/display")
    console = app.test_client()
    assert unlock_staff(console, pin, "/till").status_code == 303
    html = console.get("/till").get_data(as_text=True)
    sent = console.post("/till/charge", data={"csrf_token": field(html, "csrf_token"), "display": display_id,
                                              "nonce": field(html, "nonce"), "amount": "42.00",
                                              "reference": "=1+1"})
    order_id = sent.headers["Location"].rsplit("/", 1)[1]
    page = display.get("/display").get_data(as_text=True)
    tx = display.post("/display/coin", data={"csrf_token": field(page, "csrf_token"), "order": order_id,
                                             "coin": "TRX-TRX"}).headers["Location"].rsplit("/", 1)[1]
    sandbox.pay(tx, share="full")
    console.get(f"/till/checkout/{order_id}/status", headers={"HX-Request": "true"})
    today = app.extensions["kiosk"].settings.timezone
    day = datetime.now(today).date().isoformat()
    [row] = rows(operator.get(f"/operator/export.csv?from={day}&to={day}"))
    assert (row["checkout_id"], row["source"], row["display"], row["cashier"], row["reference"],
            row["status"], row["total"]) == (order_id, "console", display_id, who, "'=1+1", "paid", "42.00")
    html = operator.get("/operator/reports").get_data(as_text=True)
    assert f"<td>{who}</td>" in html.split('data-testid="z-cashiers"')[1].split("</table>")[0]
    assert f"<td>Cashier console</td><td>{display_id}</td>" in table(html, "z-sources")


def table(html: str, testid: str) -> str:
    return html.split(f'data-testid="{testid}"')[1].split("</table>")[0]


@pytest.mark.parametrize(("locale", "keypad"), [("en", "Keypad"), ("tr", "Tuş takımı")])
def test_the_report_names_where_a_sale_came_from_in_the_staffs_language(make_app, sandbox, locale, keypad):
    app = make_app(OPERATOR_PIN=STAFF_PIN, DEFAULT_LOCALE=locale)
    sell(app, sandbox, "10.00")
    operator = app.test_client()
    unlock_staff(operator)
    sources = table(operator.get("/operator/reports").get_data(as_text=True), "z-sources")
    assert f"<td>{keypad}</td><td>–</td>" in sources
    assert "<td>kiosk</td>" not in sources


@pytest.mark.parametrize("number", ["0", "2", "-1", "1.0", "01x", "9" * 10, "%C2%B2", "%D9%A1", "1%00"])
def test_a_report_number_of_any_other_shape_is_not_found(shop, number):
    app, sandbox = shop
    sell(app, sandbox, "10.00")
    operator = app.test_client()
    unlock_staff(operator)
    assert operator.post("/operator/reports/close", data=close_form(operator)).status_code == 303
    for path in (f"/operator/reports/z/{number}", f"/operator/reports/z/{number}/rows.csv"):
        assert operator.get(path).status_code == 404, path
    assert operator.get("/operator/reports/z/1/rows.csv").status_code == 200


def test_a_ledger_that_does_not_answer_gets_a_calm_page(make_app):
    app = make_app(OPERATOR_PIN=STAFF_PIN, DEFAULT_LOCALE="en",
                   DATABASE_URL="postgresql://kiosk@127.0.0.1:9/ledger")  # nothing listens there
    operator = app.test_client()
    unlock_staff(operator)
    for path in ("/operator/reports", "/operator/export.csv?from=2026-03-14&to=2026-03-14",
                 "/operator/reports/z/1"):
        response = operator.get(path)
        assert response.status_code == 503 and 'data-testid="ledger-away"' in response.get_data(as_text=True)
