"""The till API's checkouts list and the operator's accounting export say the same thing: for a
range of shop days across a midnight in the shop's time zone, on SQLite and a real PostgreSQL,
the list (paged) has exactly the export's rows of tills and the console, with the same amount,
tip and total to the last digit, the same status, coin figures and Z report number. Both over
HTTP from one `kiosk serve`, the export as the operator downloads it behind the PIN."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import requests

from kiosk.ledger import Entry
from kiosk.reports import COLUMNS

from ..api_support import Till
from ..support import STAFF_PIN, field
from .listing_support import keypad_sale, local, sale, start_shop, stop_shop

FIRST, LAST = "2033-07-01", "2033-07-02"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shop(request, tmp_path_factory):
    state = tmp_path_factory.mktemp(f"list-export-{request.param}")
    kiosk = start_shop(request, state, OPERATOR_PIN=STAFF_PIN, DEFAULT_LOCALE="en")
    yield kiosk
    stop_shop(kiosk)


def operator_of(shop) -> requests.Session:
    web = requests.Session()
    html = web.get(shop.url + "/operator", timeout=20).text
    form = {"csrf_token": field(html, "csrf_token"), "pin": STAFF_PIN}
    unlocked = web.post(shop.url + "/operator", data=form, allow_redirects=False, timeout=20)
    assert unlocked.status_code == 303, unlocked.text[:300]
    return web


def exported(web: requests.Session, shop, first: str, last: str) -> list[dict[str, str]]:
    response = web.get(f"{shop.url}/operator/export.csv", params={"from": first, "to": last}, timeout=60)
    assert response.status_code == 200 and response.headers["Content-Type"] == "text/csv; charset=utf-8"
    found = list(csv.reader(io.StringIO(response.content.decode("utf-8"), newline="")))
    assert tuple(found[0]) == COLUMNS
    return [dict(zip(COLUMNS, r, strict=True)) for r in found[1:]]


def listed(shop, first: str, last: str, limit: int) -> list[dict]:
    till, rows, cursor = Till(shop.url, shop.key), [], None
    while True:
        params = {"created_from": first, "created_to": last, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = till.get("/checkouts", params=params)
        assert response.status_code == 200, response.text
        rows += response.json()["data"]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return rows


def moment(text: str) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def test_the_list_and_the_export_give_the_same_rows_and_figures(shop):
    ledger = shop.ledger
    evening, morning = local(f"{FIRST}T23:59:00"), local(f"{LAST}T00:01:00")
    ids = [
        sale(ledger, evening - timedelta(hours=5), tip=Decimal("10.00"), reference='Masa 4, "=1+1"',
             conversion_rate=Decimal("12.3456789"), exchange_fee=Decimal("0.25"), commission=Decimal("1.5")),
        sale(ledger, evening, "cancelled", amount=Decimal("0.01")),
        sale(ledger, morning, "partial", tip=Decimal("3.33"), amount=Decimal("99999.99"), kind="cashier",
             by="Ayşe", received=Decimal("2.5")),
        sale(ledger, morning + timedelta(minutes=1), "waiting", ask_tip=False, sequence_id=10007),
        sale(ledger, local(f"{LAST}T23:59:59"), tip=Decimal("0.05"), amount=Decimal("12.34")),
    ]
    outside = [sale(ledger, local(f"{FIRST}T00:00:00") - timedelta(seconds=1)),
               sale(ledger, local(f"{LAST}T00:00:00") + timedelta(days=1))]
    keypad = keypad_sale(ledger, evening - timedelta(hours=1))
    # A Z report over all of it; then a late payment of the partial one, which no Z counts yet.
    web = operator_of(shop)
    html = web.get(shop.url + "/operator/reports", timeout=30).text
    closed = web.post(shop.url + "/operator/reports/close", timeout=60, allow_redirects=False,
                      data={"csrf_token": field(html, "csrf_token"), "after": field(html, "after")})
    assert closed.status_code == 303, closed.text[:300]
    partial_tx = f"tx-list-{int(ids[2].removeprefix('chk_'), 16)}"
    ledger.record(Entry(at=morning.timestamp() + 900, tx_id=partial_tx, status="paid", received=Decimal("8")))

    rows = exported(web, shop, FIRST, LAST)
    assert keypad in {r["transaction_id"] for r in rows}  # the export has the keypad's sale...
    mine = [r for r in rows if r["source"] in ("till", "console")]
    listed_rows = listed(shop, FIRST, LAST, limit=2)
    assert keypad not in {r["transaction_id"] for r in listed_rows}  # ...the list never
    # Exactly the same rows: the list newest first, the export oldest first.
    assert [r["id"] for r in listed_rows] == [r["checkout_id"] for r in reversed(mine)]
    assert set(ids) <= {r["id"] for r in listed_rows} and not set(outside) & {r["id"] for r in listed_rows}
    for api, csv_row in zip(listed_rows, reversed(mine), strict=True):
        assert (api["amount"], api["tip_amount"], api["total_amount"]) == \
            (csv_row["amount"], csv_row["tip"], csv_row["total"]), api["id"]
        assert Decimal(api["amount"]) + Decimal(api["tip_amount"]) == Decimal(api["total_amount"])
        pairs = [("status", "status"), ("source", "source"), ("display_id", "display"),
                 ("cashier", "cashier"), ("currency", "currency"), ("coin", "coin"), ("network", "network"),
                 ("coin_amount", "coin_amount"), ("received", "received"),
                 ("conversion_rate", "conversion_rate"), ("exchange_fee", "exchange_fee"),
                 ("commission", "commission"), ("transaction_id", "transaction_id"), ("shop_day", "shop_day")]
        for ours, theirs in pairs:
            assert (api[ours] if api[ours] is not None else "") == csv_row[theirs], (api["id"], ours)
        assert str(api["sequence_id"] or "") == csv_row["sequence_id"]
        assert str(api["z_number"] or "") == csv_row["z_number"]
        assert moment(api["created_at"]) == moment(csv_row["created_at"])
        assert moment(api["closed_at"]) == moment(csv_row["closed_at"])
        # The export guards text against spreadsheet formulas; the API gives it as the till sent it.
        assert csv_row["reference"] in (api["reference"] or "", "'" + (api["reference"] or ""))
    # The figures a till adds up are the export's.
    assert sum(Decimal(r["total_amount"]) for r in listed_rows) == sum(Decimal(r["total"]) for r in mine)
    by_id = {r["id"]: r for r in listed_rows}
    assert (by_id[ids[0]]["amount"], by_id[ids[0]]["tip_amount"], by_id[ids[0]]["total_amount"]) == \
        ("100.00", "10.00", "110.00")
    assert (by_id[ids[2]]["total_amount"], by_id[ids[2]]["status"], by_id[ids[2]]["z_number"]) == \
        ("100003.32", "paid", None)  # paid late: the Z counted it as partial, the next one will count it
    assert by_id[ids[0]]["z_number"] == 1 and by_id[ids[3]]["z_number"] is None  # open: not counted
    assert (by_id[ids[0]]["conversion_rate"], by_id[ids[3]]["sequence_id"]) == ("12.3456789", 10007)
