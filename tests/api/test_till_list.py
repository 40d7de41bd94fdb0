"""GET /api/v1/checkouts over HTTP, from a real `kiosk serve` whose sales ledger is SQLite and
then a real PostgreSQL: the export's rows, filtered by shop days at their edges (in the shop's
time zone, never the host's), by status, and paged with a cursor that checkouts made meanwhile
never shift; a cursor the kiosk did not give is refused."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from decimal import Decimal
from itertools import count
from pathlib import Path

import pytest
from itsdangerous import URLSafeSerializer

from kiosk.ledger import Entry

from ..api_support import Till
from .listing_support import local, refused, sale, start_shop, stop_shop

DOCUMENT = json.loads((Path(__file__).parent.parent.parent / "kiosk/api/openapi.json").read_text())
LISTED_FIELDS = DOCUMENT["components"]["schemas"]["ListedCheckout"]["required"]
_serial = count(10_000)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shop(request, tmp_path_factory):
    """A kiosk on its own ledger database, and that ledger, to write sales with chosen times."""
    kiosk = start_shop(request, tmp_path_factory.mktemp(f"list-{request.param}"))
    yield kiosk
    stop_shop(kiosk)


@pytest.fixture
def till(shop) -> Till:
    return Till(shop.url, shop.key)


def listed(till: Till, **params) -> list[dict]:
    response = till.get("/checkouts", params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    return response.json()["data"]


# -- the shop days, at their edges ---------------------------------------------------------------


def test_shop_days_include_both_ends_and_start_at_midnight_shop_time(shop, till):
    # Far from the other tests' days, so each test reads its own rows.
    late = sale(shop.ledger, local("2031-03-14T23:59:00"))  # 20:59 UTC on the 14th
    early = sale(shop.ledger, local("2031-03-15T00:01:00"))  # 21:01 UTC, still the 14th in UTC
    last = sale(shop.ledger, local("2031-03-15T23:59:59"))
    next_day = sale(shop.ledger, local("2031-03-16T00:00:00"))

    def ids(**days) -> list[str]:
        return [row["id"] for row in listed(till, **days)]

    assert ids(created_from="2031-03-15", created_to="2031-03-15") == [last, early]
    assert ids(created_from="2031-03-14", created_to="2031-03-14") == [late]
    assert ids(created_from="2031-03-14", created_to="2031-03-16") == [next_day, last, early, late]
    assert ids(created_from="2031-03-16", created_to="2031-03-16") == [next_day]
    # Either end alone.
    assert ids(created_from="2031-03-16")[-1] == next_day
    assert late in ids(created_to="2031-03-14") and early not in ids(created_to="2031-03-14")
    rows = {row["id"]: row for row in listed(till, created_from="2031-03-14", created_to="2031-03-16")}
    # The export's shop day is the shop's; the API's times are UTC.
    assert (rows[late]["shop_day"], rows[late]["created_at"]) == ("2031-03-14", "2031-03-14T20:59:00Z")
    assert (rows[early]["shop_day"], rows[early]["created_at"]) == ("2031-03-15", "2031-03-14T21:01:00Z")


def test_status_filter_and_the_rows_fields(shop, till):
    day = "2031-04-02"
    paid = sale(shop.ledger, local(f"{day}T10:00:00"), "paid")
    cancelled = sale(shop.ledger, local(f"{day}T11:00:00"), "cancelled")
    open_one = sale(shop.ledger, local(f"{day}T12:00:00"), "waiting")
    for status, tx_id in (("paid", paid), ("cancelled", cancelled), ("waiting", open_one)):
        assert [r["id"] for r in listed(till, created_from=day, created_to=day, status=status)] == [tx_id]
    assert listed(till, created_from=day, created_to=day, status="expired") == []
    row = listed(till, created_from=day, created_to=day, status="paid")[0]
    assert sorted(row) == sorted(LISTED_FIELDS)
    assert (row["source"], row["display_id"], row["ask_tip"], row["cashier"]) == \
        ("till", "a1b2c3d4e5f6", True, "till-list")
    # A keypad's sale stays out of a till's reach, as its GET and cancel do.
    keypad = f"tx-keypad-{next(_serial)}"
    at = local(f"{day}T13:00:00").timestamp()
    shop.ledger.record(Entry(at=at, tx_id=keypad, status="waiting", started_by_kind="kiosk", started_by="k1",
                             amount=Decimal("50.00"), currency="TRY", created=at, deadline=at + 600))
    assert [r["id"] for r in listed(till, created_from=day, created_to=day)] == [open_one, cancelled, paid]
    assert (row["amount"], row["tip_amount"], row["total_amount"]) == ("100.00", "0.00", "100.00")
    assert (row["received"], row["coin_amount"], row["z_number"]) == ("8", "8", None)
    assert row["closed_at"] == "2031-04-02T07:00:30Z"


@pytest.mark.parametrize("params", [
    {"created_from": "2031-3-15"}, {"created_from": "2031-02-30"}, {"created_to": "15.03.2031"},
    {"created_from": "2031-03-15T00:00:00Z"}, {"created_to": "1999-12-31"},
    {"created_from": "2031-03-16", "created_to": "2031-03-15"},
    {"status": "done"}, {"status": "PAID"}, {"limit": "0"}, {"limit": "101"}, {"limit": "²"},
])
def test_bad_filters_are_refused_with_a_message(till, params):
    message = refused(till.get("/checkouts", params=params))
    assert next(iter(params)) in message or "created_from" in message, message


# -- paging -------------------------------------------------------------------------------------


def test_paging_through_120_rows_with_sales_made_between_pages(shop, till):
    day = "2031-05-20"
    start = local(f"{day}T09:00:00")
    made = [sale(shop.ledger, start + timedelta(minutes=n // 3)) for n in range(120)]  # ties by threes
    seen: list[str] = []
    cursor = None
    pages = 0
    later = start + timedelta(hours=5)
    while True:
        params = {"created_from": day, "created_to": day, "limit": 25}
        if cursor:
            params["cursor"] = cursor
        response = till.get("/checkouts", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [row["id"] for row in body["data"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        # Between pages: a newer sale, one in the same second as rows already read, one older.
        sale(shop.ledger, later + timedelta(minutes=pages))
        sale(shop.ledger, start + timedelta(minutes=10))
        sale(shop.ledger, start - timedelta(minutes=pages))
    assert len(seen) == len(set(seen))  # no row twice
    assert set(made) <= set(seen)  # none lost
    assert pages >= 5
    # Newest first: the made ones keep their order (ties broken by the ledger's id, newest first).
    assert [x for x in seen if x in set(made)] == list(reversed(made))
    # The default page and the last page.
    assert len(listed(till, created_from=day, created_to=day, limit=None)) == 20
    last = till.get("/checkouts", params={"created_from": day, "created_to": day, "limit": 100}).json()
    assert last["next_cursor"] is not None
    assert till.get("/checkouts", params={"created_from": day, "created_to": day, "limit": 100,
                                          "cursor": last["next_cursor"]}).json()["next_cursor"] is None


def test_a_cursor_the_kiosk_did_not_give_is_refused(shop, till):
    day = "2031-06-01"
    for n in range(3):
        sale(shop.ledger, local(f"{day}T10:0{n}:00"))
    body = till.get("/checkouts", params={"created_from": day, "created_to": day, "limit": 1}).json()
    good = body["next_cursor"]
    same = {"created_from": day, "created_to": day, "limit": 1}
    assert good and len(till.get("/checkouts", params={**same, "cursor": good}).json()["data"]) == 1
    unsigned = base64.urlsafe_b64encode(json.dumps(["2031-06-01T07:01:00+00:00", 1]).encode()).decode()
    other_key = URLSafeSerializer("another-kiosks-key-0123", salt="kiosk.api.checkouts.cursor")
    forged = [
        "garbage", good[:-1] + ("A" if good[-1] != "A" else "B"), good + "x", unsigned,
        other_key.dumps(["2031-06-01T07:01:00+00:00", 1]), "x" * 201, "%00", good.rsplit(".", 1)[0],
    ]
    for cursor in forged:
        message = refused(till.get("/checkouts", params={**same, "cursor": cursor}))
        assert "cursor" in message, cursor
