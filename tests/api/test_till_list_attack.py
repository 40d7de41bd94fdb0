"""GET /api/v1/checkouts as an outsider meets it, over HTTP against `kiosk serve` on SQLite and a
real PostgreSQL: cursors forged, changed, cut short, blown up, or given for another key or other
filters; keys of another kiosk and revoked ones; days that are not days, reversed or ten thousand
years long; status words that do not exist; limits at and past their edges; parameters unknown or
given twice; a flood, which the key's rate limit counts. Whatever is refused gets the API's own
error, changes nothing in the ledger, and leaves no traceback; a keypad's sale never shows."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from itsdangerous import URLSafeSerializer
from sqlalchemy import select

from kiosk.ledger.schema import checkouts

from ..api_support import Till, keys_cli, make_key, store_of
from ..conftest import free_port
from ..support import Customer, Gunicorn
from .listing_support import (
    DISPLAY,
    SECRET_KEY,
    keypad_sale,
    local,
    refused,
    sale,
    start_shop,
    stop_shop,
)

DAY = "2032-02-10"  # this module's sales: a day of their own
CURSOR_SALT = "kiosk.api.checkouts.cursor"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shop(request, tmp_path_factory):
    kiosk = start_shop(request, tmp_path_factory.mktemp(f"list-attack-{request.param}"))
    start = local(f"{DAY}T09:00:00")
    kiosk.made = [sale(kiosk.ledger, start + timedelta(minutes=n)) for n in range(101)]
    kiosk.made += [sale(kiosk.ledger, start + timedelta(hours=3), "cancelled", kind="cashier", by="Ayşe")]
    yield kiosk
    stop_shop(kiosk)


@pytest.fixture
def till(shop) -> Till:
    return Till(shop.url, shop.key)


def page(till: Till, **params) -> dict:
    response = till.get("/checkouts", params={"created_from": DAY, "created_to": DAY, **params})
    assert response.status_code == 200, response.text
    return response.json()


def ledger_rows(shop) -> list[tuple]:
    with shop.ledger.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(select(checkouts).order_by(checkouts.c.id))]


def tracebacks(shop) -> int:
    return shop.log_path.read_text().count("Traceback")


# -- cursors -----------------------------------------------------------------------------------------


def test_a_cursor_serves_only_the_key_and_the_filters_it_was_given_for(shop, till):
    first = page(till, limit=10)
    cursor = first["next_cursor"]
    assert len(page(till, limit=10, cursor=cursor)["data"]) == 10  # as given: the next page
    assert len(page(till, limit=50, cursor=cursor)["data"]) == 50  # another page size is the same list
    other_filters = [
        {"created_from": DAY, "created_to": DAY, "status": "paid"},
        {"created_from": DAY, "created_to": "2032-02-11"},
        {"created_from": "2032-02-09", "created_to": DAY},
        {"created_from": DAY},
        {},
        {"created_from": DAY, "created_to": DAY, "display_id": DISPLAY},
    ]
    for params in other_filters:
        message = refused(till.get("/checkouts", params={**params, "cursor": cursor}))
        assert "cursor" in message and "filters" in message, params
    # Another till of the shop lists the same rows, but not from this till's cursor.
    other = Till(shop.url, make_key(shop.state, f"till-other-{shop.pg is None}"))
    assert [r["id"] for r in page(other, limit=10)["data"]] == [r["id"] for r in first["data"]]
    message = refused(other.get("/checkouts", params={"created_from": DAY, "created_to": DAY,
                                                      "cursor": cursor}))
    assert "key" in message


def test_cursors_cut_short_blown_up_or_not_base64_are_refused_and_change_nothing(shop, till):
    good = page(till, limit=5)["next_cursor"]
    before, errors = ledger_rows(shop), tracebacks(shop)
    payload, signature = good.rsplit(".", 1)
    bad = [
        good[:-1], good[: len(good) // 2], payload, "." + signature, good + good, good.upper(),
        good + "=", "x" * 200, "x" * 201, "A" * 3000, "!!!!", "%", "\x00", "é" * 10, "😀", "a.b.c",
        "null", "[]", " " + good, good.replace(".", ":"),
    ]
    for cursor in bad:
        response = till.get("/checkouts", params={"created_from": DAY, "created_to": DAY, "cursor": cursor})
        assert "cursor" in refused(response), cursor
    # Longer than a request line may be: refused by the server before the kiosk reads it, never a 5xx.
    huge = till.get("/checkouts", params={"cursor": "A" * 20000})
    assert 400 <= huge.status_code < 500
    assert ledger_rows(shop) == before and tracebacks(shop) == errors


def test_a_cursor_signed_with_the_kiosks_key_but_not_of_its_shape_is_refused(shop, till):
    """Defence in depth: even a cursor signed with the kiosk's secret is read only if it has the
    shape the kiosk gives (a moment with its zone, a row id a database can hold)."""
    good = page(till, limit=5)["next_cursor"]
    signer = URLSafeSerializer(SECRET_KEY, salt=CURSOR_SALT)
    moment, row_id, *rest = signer.loads(good)
    forged = [
        [moment, 10**30, *rest], [moment, -1, *rest], [moment, True, *rest], [moment, "7", *rest],
        [moment, 1.5, *rest], [moment.replace("+00:00", ""), row_id, *rest], ["yesterday", row_id, *rest],
        [moment, row_id, *rest, "more"], [moment], {"at": moment}, "text", None,
    ]
    errors = tracebacks(shop)
    for payload in forged:
        params = {"created_from": DAY, "created_to": DAY, "cursor": signer.dumps(payload)}
        assert "cursor" in refused(till.get("/checkouts", params=params)), payload
    assert tracebacks(shop) == errors
    # The kiosk's own, signed again unchanged, still reads: the checks above are of the shape only.
    assert page(till, limit=5, cursor=signer.dumps([moment, row_id, *rest]))["data"]


# -- keys --------------------------------------------------------------------------------------------


def test_keys_of_another_kiosk_and_revoked_keys_see_nothing(shop, till, tmp_path):
    foreign = make_key(tmp_path, "till-list")  # another kiosk's key, of the same name
    name = f"till-revoked-{shop.pg is None}"
    revoked = Till(shop.url, make_key(shop.state, name))
    cursor = page(revoked, limit=5)["next_cursor"]
    assert keys_cli(shop.state, "revoke", name).returncode == 0
    params = {"created_from": DAY, "created_to": DAY}
    for key in (None, foreign, revoked.http.headers["Authorization"].removeprefix("Bearer ")):
        stranger = Till(shop.url, key)
        for query in (params, {**params, "cursor": cursor}, {"status": "nonsense"}):
            response = stranger.get("/checkouts", params=query)
            refused(response, 401, "unauthorized")
            assert "chk_" not in response.text
    # The shop's own key, given the revoked key's cursor: refused, the cursor is not its own.
    assert "key" in refused(till.get("/checkouts", params={**params, "cursor": cursor}))


# -- filters -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("params", [
    {"created_from": "2032-13-01"}, {"created_from": "2032-02-30"}, {"created_to": "2031-02-29"},
    {"created_from": "tomorrow"}, {"created_from": "2032-2-10"}, {"created_to": "20320210"},
    {"created_from": "2032-02-10T00:00:00+03:00"}, {"created_from": "２０３２-02-10"},
    {"created_from": "2032-02-10\x00"}, {"created_to": "1999-12-31"}, {"created_to": "9999-01-01"},
    {"created_from": "-2032-02-10"}, {"created_from": "2032-02-11", "created_to": DAY},
    {"created_from": "9998-12-31", "created_to": "2000-01-01"},
    {"status": "done"}, {"status": "PAID"}, {"status": "paid "}, {"status": "paid,cancelled"},
    {"status": "\x00"}, {"status": "pending\x00"},
    {"limit": "0"}, {"limit": "101"}, {"limit": "-1"}, {"limit": "x"}, {"limit": ""}, {"limit": "1.0"},
    {"limit": "99999999999999999999"},
    {"display_id": "d" * 65}, {"display_id": "a1b2c3\x00d4e5f6"}, {"display_id": "a1b2\nc3"},
])
def test_bad_filters_get_a_clear_400_and_read_nothing(shop, till, params):
    before, errors = ledger_rows(shop), tracebacks(shop)
    message = refused(till.get("/checkouts", params=params))
    assert any(name in message for name in params), message
    assert ledger_rows(shop) == before and tracebacks(shop) == errors


@pytest.mark.parametrize("query", [
    "from=2032-02-10", "created_at=2032-02-10", "stauts=paid", "page=2", "offset=20",
    "created_from=2032-02-10&created_from=2031-01-01", "status=paid&status=cancelled", "limit=5&limit=50",
    "cursor=a&cursor=b",
])
def test_a_parameter_unknown_or_given_twice_is_refused_not_ignored(shop, till, query):
    """A till that misspells a filter would otherwise get every checkout and take them for the
    ones it asked for."""
    response = till.http.get(f"{till.url}/checkouts?{query}", timeout=30)
    message = refused(response)
    assert query.split("=", 1)[0] in message, message


def test_days_and_limits_at_their_edges(shop, till):
    assert len(page(till, limit=1)["data"]) == 1 and page(till, limit=1)["next_cursor"]
    full = page(till, limit=100)
    assert len(full["data"]) == 100 and full["next_cursor"]
    assert len(page(till, limit=100, cursor=full["next_cursor"])["data"]) == 2
    assert len(page(till)["data"]) == 20  # the default
    # Ten thousand years of shop days: allowed, and still a page at a time.
    everything = till.get("/checkouts", params={"created_from": "2000-01-01", "created_to": "9998-12-31",
                                                 "limit": 100})
    assert everything.status_code == 200 and len(everything.json()["data"]) == 100
    # An empty value is a filter left out.
    blank = till.get("/checkouts", params={"created_from": "", "status": "", "limit": 1})
    assert blank.status_code == 200 and len(blank.json()["data"]) == 1


def test_an_unknown_display_lists_nothing(shop, till):
    assert page(till, display_id="ffffffffffff")["data"] == []
    assert page(till, display_id="x" * 64)["data"] == []
    assert len(page(till, display_id=DISPLAY, limit=100)["data"]) == 100


# -- reach -------------------------------------------------------------------------------------------


def test_a_keypad_sale_never_shows_whatever_the_filters(shop, till):
    at = local(f"{DAY}T11:30:00")
    hidden = {keypad_sale(shop.ledger, at), keypad_sale(shop.ledger, at, kind="display")}
    # One a customer makes on the kiosk's own keypad, against the sandbox.
    hidden.add(Customer.over_http(shop.url).start("300"))
    with shop.ledger.engine.connect() as conn:  # they are in the ledger...
        assert set(conn.execute(select(checkouts.c.tx_id).where(checkouts.c.tx_id.in_(hidden)))
                   .scalars()) == hidden
    queries = [{}, {"created_from": DAY, "created_to": DAY}, {"status": "paid"}, {"status": "waiting"},
               {"display_id": DISPLAY}, {"created_from": "2000-01-01", "created_to": "9998-12-31"}]
    for query in queries:  # ...and in no page of any list
        seen, cursor = [], None
        while True:
            paged = {**query, "limit": 100, **({"cursor": cursor} if cursor else {})}
            response = till.get("/checkouts", params=paged)
            assert response.status_code == 200, response.text
            body = response.json()
            seen += body["data"]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert not hidden & {row["transaction_id"] for row in seen}, query
        assert {row["source"] for row in seen} <= {"till", "console"}, query
        assert all(row["id"].startswith("chk_") for row in seen), query


# -- a flood -----------------------------------------------------------------------------------------


def test_a_flood_is_counted_by_the_keys_rate_limit_and_a_strangers_writes_nothing(sandbox_server, tmp_path):
    kiosk = Gunicorn(sandbox_server.url, tmp_path, free_port(), API_RATE_LIMIT="10/60")
    try:
        flooding, other = Till(kiosk.url, make_key(tmp_path, "a")), Till(kiosk.url, make_key(tmp_path, "b"))
        bad = [{"cursor": "forged"}, {"status": "nope"}, {"limit": "0"}, {"created_from": "x"}, {"from": "x"}]
        assert [flooding.get("/checkouts", params=bad[n % 5]).status_code for n in range(10)] == [400] * 10
        limited = flooding.get("/checkouts")  # a good one now: the bad ones counted
        assert refused(limited, 429, "rate_limited") and int(limited.headers["Retry-After"]) >= 1
        assert other.get("/checkouts").status_code == 200  # another key has its own count
        store = store_of(tmp_path)

        def counted() -> dict[str, str]:  # the keys' counts and last uses (the sweep writes its own)
            return {k: v for k, v in store.items("") if k.startswith(("rate:", "apikey"))}

        before = counted()
        assert any(k.startswith("rate:") for k in before)  # the flooding key's count is there
        stranger = Till(kiosk.url, "kiosk_" + "C" * 43)
        for n in range(60):
            refused(stranger.get("/checkouts", params=bad[n % 5]), 401, "unauthorized")
        nobody = requests.get(kiosk.url + "/api/v1/checkouts?cursor=x", timeout=10)
        refused(nobody, 401, "unauthorized")
        assert counted() == before  # no counter, no trace of the stranger
    finally:
        log = kiosk.stop()
    assert "Traceback" not in log
