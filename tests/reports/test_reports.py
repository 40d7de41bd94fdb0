"""The back office's figures from the ledger, on SQLite and on a real PostgreSQL: the accounting
export (its columns, RFC 4180, shop days split at the shop's midnight under any host zone, ranges
refused with a clear message) and the day's closings (X and Z reports: numbered without gaps,
never changed once made, a late payment counted by the next one, one report from two closes at once)."""

from __future__ import annotations

import csv
import io
import threading
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from kiosk.ledger import Entry, Ledger, make_engine
from kiosk.reports import (
    COLUMNS,
    Closed,
    RangeError,
    close_day,
    export,
    parse_range,
    x_report,
    z_report,
    z_reports,
    z_rows,
)

SHOP = ZoneInfo("Europe/Istanbul")
EVENING = datetime(2026, 3, 14, 23, 59, tzinfo=SHOP).timestamp()  # 20:59 UTC
MORNING = datetime(2026, 3, 15, 0, 1, tzinfo=SHOP).timestamp()  # 21:01 UTC, the same UTC day
NOW = MORNING + 3600


@pytest.fixture
def ledger(ledger_url) -> Ledger:
    book = Ledger(make_engine(ledger_url), clock=lambda: NOW)
    book.upgrade()
    return book


def sale(book: Ledger, tx_id: str, amount: str, *, at: float = EVENING, status: str = "paid",
         **facts) -> None:
    """A checkout from start to `status`, as the booking writes it."""
    base = dict(at=at, tx_id=tx_id, status="waiting", started_by_kind="kiosk", started_by="k1",
                amount=Decimal(amount), currency="TRY", coin="TRX", network="TRX",
                coin_amount=Decimal(amount) / Decimal("12.5"), conversion_rate=Decimal("12.50"),
                exchange_fee=Decimal("0"), commission=Decimal("0"), created=at, deadline=at + 600,
                sequence_id=abs(hash(tx_id)) % 100000)
    base.update(facts)
    book.record(Entry(**base))
    if status != "waiting":
        received = Decimal(amount) / Decimal("12.5") if status == "paid" else Decimal(0)
        book.record(Entry(at=at + 60, tx_id=tx_id, status=status, received=received))


def read(pieces) -> list[dict[str, str]]:
    text = "".join(pieces)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert tuple(rows[0]) == COLUMNS
    return [dict(zip(COLUMNS, r, strict=True)) for r in rows[1:]]


def day(text: str) -> date:
    return date.fromisoformat(text)


# -- the export ---------------------------------------------------------------------------------


def test_the_columns_are_the_promised_ones_in_their_order():
    assert COLUMNS == (
        "checkout_id", "created_at", "closed_at", "shop_day", "status", "source", "display", "cashier",
        "reference", "currency", "amount", "tip", "total", "coin", "network", "coin_amount",
        "conversion_rate", "exchange_fee", "commission", "received", "transaction_id", "sequence_id",
        "z_number")


@pytest.mark.parametrize("host_tz", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_shop_days_split_at_the_shops_midnight_under_any_host_zone(ledger, host_tz, monkeypatch):
    monkeypatch.setenv("TZ", host_tz)
    time.tzset()
    try:
        sale(ledger, "tx-evening", "111.00", at=EVENING)
        sale(ledger, "tx-morning", "222.00", at=MORNING)
        first = read(export(ledger, day("2026-03-14"), day("2026-03-14"), SHOP))
        second = read(export(ledger, day("2026-03-15"), day("2026-03-15"), SHOP))
        both = read(export(ledger, day("2026-03-14"), day("2026-03-15"), SHOP))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert [r["transaction_id"] for r in first] == ["tx-evening"]
    assert [r["transaction_id"] for r in second] == ["tx-morning"]
    assert [r["transaction_id"] for r in both] == ["tx-evening", "tx-morning"]
    evening = first[0]
    assert evening["created_at"] == "2026-03-14T23:59:00+03:00"
    assert evening["closed_at"] == "2026-03-15T00:00:00+03:00"  # closed a minute later, next day
    assert evening["shop_day"] == "2026-03-14" and second[0]["shop_day"] == "2026-03-15"


def test_a_row_says_every_figure_in_dot_decimals(ledger):
    sale(ledger, "tx1", "1234.50", conversion_rate=Decimal("12.345678"), exchange_fee=Decimal("1.474"),
         commission=Decimal("4"), coin_amount=Decimal("100.0000001"))
    [row] = read(export(ledger, day("2026-03-14"), day("2026-03-14"), SHOP))
    assert {k: row[k] for k in ("status", "source", "currency", "amount", "tip", "total", "coin",
                                "network", "conversion_rate", "exchange_fee", "commission")} == {
        "status": "paid", "source": "kiosk", "currency": "TRY", "amount": "1234.50", "tip": "0.00",
        "total": "1234.50", "coin": "TRX", "network": "TRX", "conversion_rate": "12.345678",
        "exchange_fee": "1.474", "commission": "4"}
    assert row["coin_amount"] == "100.000001"  # due: rounded up to what a wallet sends
    assert row["received"] == "98.76"  # 1234.50 / 12.5, in wallet notation
    assert row["z_number"] == "" and row["checkout_id"] == "tx1"


def test_sources_display_and_cashier_say_who_started_it(ledger):
    sale(ledger, "tx-k", "1", started_by_kind="kiosk", started_by="browser")
    sale(ledger, "tx-d", "2", started_by_kind="display", started_by="d1", display_id="d1")
    sale(ledger, "tx-c", "3", order_id="chk_c", started_by_kind="cashier", started_by="operator",
         display_id="d2")
    sale(ledger, "tx-t", "4", order_id="chk_t", started_by_kind="till", started_by="front-till",
         display_id="d2")
    rows = {r["transaction_id"]: r for r in read(export(ledger, day("2026-03-14"), day("2026-03-14"), SHOP))}
    assert [(rows[t]["source"], rows[t]["display"], rows[t]["cashier"], rows[t]["checkout_id"])
            for t in ("tx-k", "tx-d", "tx-c", "tx-t")] == [
        ("kiosk", "", "", "tx-k"), ("display", "d1", "", "tx-d"), ("console", "d2", "operator", "chk_c"),
        ("till", "d2", "front-till", "chk_t")]


def test_quotes_commas_line_breaks_and_formulas_stay_text(ledger):
    tricky = {"tx1": 'say "hi", then\r\nleave', "tx2": "=HYPERLINK(\"http://x\")", "tx3": "+90 555",
              "tx4": "-1+1", "tx5": "@SUM(A1)", "tx6": "Çay & şeker, ğüış"}
    for tx_id, reference in tricky.items():
        sale(ledger, tx_id, "10", order_id=f"chk_{tx_id}", reference=reference, started_by_kind="till",
             started_by="till")
    text = "".join(export(ledger, day("2026-03-14"), day("2026-03-14"), SHOP))
    assert text.count("\r\n") == 1 + 6 + 1  # header, six rows, the reference's own line break
    assert text.encode("utf-8").decode("utf-8") == text
    rows = {r["transaction_id"]: r["reference"] for r in read([text])}
    assert rows["tx1"] == 'say "hi", then\r\nleave'
    assert '"say ""hi"", then\r\nleave"' in text  # quoted, its quotes doubled
    assert rows["tx2"] == "'=HYPERLINK(\"http://x\")" and rows["tx3"] == "'+90 555"
    assert rows["tx4"] == "'-1+1" and rows["tx5"] == "'@SUM(A1)" and rows["tx6"] == "Çay & şeker, ğüış"


@pytest.mark.parametrize("sign", ["=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20"])
def test_every_formula_sign_of_owasps_list_stays_text(ledger, sign):
    """Each sign OWASP lists for CSV injection, fullwidth ＝ ＋ － ＠ too, at the start of a
    reference and of a till's order id: an apostrophe first. The same sign later on is left alone."""
    sale(ledger, "tx1", "10", order_id=f"{sign}chk", reference=f"{sign}SUM(A1)", started_by_kind="till",
         started_by=f"{sign}front")
    sale(ledger, "tx2", "10", reference=f"A{sign}1", started_by_kind="till", started_by="front")
    rows = {r["transaction_id"]: r for r in read(export(ledger, day("2026-03-14"), day("2026-03-14"), SHOP))}
    assert rows["tx1"]["reference"] == f"'{sign}SUM(A1)"
    assert rows["tx1"]["checkout_id"] == f"'{sign}chk" and rows["tx1"]["cashier"] == f"'{sign}front"
    assert rows["tx2"]["reference"] == f"A{sign}1"


def test_an_empty_range_is_the_header_alone(ledger):
    sale(ledger, "tx1", "10")
    text = "".join(export(ledger, day("2026-03-16"), day("2026-03-20"), SHOP))
    assert text == ",".join(COLUMNS) + "\r\n"


def test_the_export_streams_in_pieces(ledger):
    for n in range(1201):
        ledger.record(Entry(at=EVENING, tx_id=f"tx{n:05}", status="waiting", started_by_kind="kiosk",
                            amount=Decimal("1"), currency="TRY", created=EVENING - n))
    pieces = list(export(ledger, day("2026-03-14"), day("2026-03-14"), SHOP))
    assert len(pieces) == 1 + 3  # the header, then batches of 500
    assert len(read(pieces)) == 1201


@pytest.mark.parametrize(("first", "last", "message"), [
    ("2026-03-15", "2026-03-14", "The first date must not be after the second."),
    ("2026-03-14", "2026-03-14x", "Dates are written YYYY-MM-DD."),
    ("20260314", "2026-03-14", "Dates are written YYYY-MM-DD."),
    ("2026-02-30", "2026-03-14", "Dates are written YYYY-MM-DD."),
    ("2026-3-14", "2026-03-14", "Dates are written YYYY-MM-DD."),
    ("1999-12-31", "2026-03-14", "Dates are written YYYY-MM-DD."),
    ("2026-03-14", "9999-12-31", "Dates are written YYYY-MM-DD."),
    ("", "2026-03-14", "Choose the first and the last day."),
    ("2026-03-14", None, "Choose the first and the last day."),
])
def test_a_range_that_is_not_one_is_refused_clearly(first, last, message):
    with pytest.raises(RangeError) as caught:
        parse_range(first, last)
    assert caught.value.message == message


def test_a_range_at_its_edges():
    assert parse_range("2026-03-14", "2026-03-14") == (day("2026-03-14"), day("2026-03-14"))
    assert parse_range(" 2000-01-01 ", "9998-12-31") == (day("2000-01-01"), day("9998-12-31"))


# -- X and Z reports ----------------------------------------------------------------------------


def close(book: Ledger, after: int, at: float = NOW) -> Closed:
    return close_day(book, after, currency="TRY", zone=SHOP, by="host-a", clock=lambda: at)


def status_counts(figures) -> dict[str, tuple[int, str]]:
    return {s["status"]: (s["count"], s["total"]) for s in figures["statuses"] if s["count"]}


def test_figures_are_per_currency_the_shops_first(ledger):
    """A shop that changed KIOSK_CURRENCY between closings: lira and euro rows are never added
    up; the shop's currency is the report's first block, each other one a block of its own."""
    sale(ledger, "tx-try", "100.00", tip=Decimal("10.00"), started_by_kind="till", started_by="front")
    sale(ledger, "tx-try2", "50.00", status="cancelled")
    sale(ledger, "tx-eur", "20.00", currency="EUR", tip=Decimal("2.00"), started_by_kind="till",
         started_by="front")
    sale(ledger, "tx-eur2", "7.00", currency="EUR", status="waiting")
    sale(ledger, "tx-jpy", "1500", currency="JPY", coin="USDT")
    x = x_report(ledger, "EUR", clock=lambda: NOW).figures
    assert (x["paid"]["count"], x["paid"]["total"], x["tips"]) == (1, "22.00", "2.00")
    assert [b["currency"] for b in (x, *x["others"])] == ["EUR", "JPY", "TRY"]
    assert x["cashiers"] == [{"cashier": "front", "count": 1, "amount": "20.00", "tip": "2.00",
                              "total": "22.00", "received": "0"}]
    assert (x["open"]["count"], x["open"]["total"]) == (1, "7.00")
    jpy, lira = x["others"]
    assert (jpy["paid"]["total"], [c["coin"] for c in jpy["coins"]]) == ("1500", ["USDT"])
    assert (lira["paid"]["count"], lira["paid"]["total"], lira["tips"]) == (1, "110.00", "10.00")
    assert status_counts(lira) == {"paid": (1, "110.00"), "cancelled": (1, "50.00")}
    assert lira["open"]["count"] == 0
    # Closed, the blocks are stored as they read.
    assert close_day(ledger, 0, currency="EUR", zone=SHOP, by="host-a", clock=lambda: NOW) == Closed(1, True)
    assert z_report(ledger, 1).figures == x
    # A shop in one currency has one block, as before.
    assert x_report(ledger, "EUR", clock=lambda: NOW).figures["others"] == []


def test_a_z_report_counts_what_ended_since_the_last_and_the_next_only_what_came_after(ledger):
    sale(ledger, "tx1", "100.00")
    sale(ledger, "tx2", "50.00", status="cancelled")
    sale(ledger, "tx3", "70.00", status="waiting")  # still open: not counted yet
    x = x_report(ledger, "TRY", clock=lambda: NOW)
    assert x.number == 1 and x.opened_at is None
    assert (x.figures["paid"]["count"], x.figures["paid"]["total"]) == (1, "100.00")
    assert status_counts(x.figures) == {"paid": (1, "100.00"), "cancelled": (1, "50.00")}
    assert (x.figures["open"]["count"], x.figures["open"]["total"]) == (1, "70.00")

    assert close(ledger, 0) == Closed(1, True)
    first = z_report(ledger, 1)
    assert first.figures == x.figures and first.made_at == datetime.fromtimestamp(NOW, UTC)
    assert first.made_by == "host-a"
    # At once again: report 2, counting nothing, its period starting where 1 ended.
    assert close(ledger, 1, at=NOW + 1) == Closed(2, True)
    second = z_report(ledger, 2)
    assert second.opened_at == first.made_at and second.figures["paid"]["count"] == 0
    assert status_counts(second.figures) == {}
    # The open one ends, with a tip: report 3 counts it alone.
    ledger.record(Entry(at=NOW + 10, tx_id="tx3", status="paid", received=Decimal("5.6")))
    assert close(ledger, 2, at=NOW + 20) == Closed(3, True)
    third = z_report(ledger, 3).figures
    assert status_counts(third) == {"paid": (1, "70.00")} and third["open"]["count"] == 0
    assert [z.number for z in z_reports(ledger)] == [3, 2, 1]


def test_a_close_following_an_old_report_makes_none(ledger):
    sale(ledger, "tx1", "100.00")
    assert close(ledger, 0) == Closed(1, True)
    sale(ledger, "tx2", "5.00", at=MORNING)
    assert close(ledger, 0) == Closed(1, False)  # a page that still showed "no report yet"
    assert [z.number for z in z_reports(ledger)] == [1]
    assert x_report(ledger, "TRY").figures["paid"]["count"] == 1  # tx2 waits for report 2


def test_two_closes_at_once_make_one_report(ledger_url):
    books = [Ledger(make_engine(ledger_url), clock=lambda: NOW) for _ in range(2)]
    books[0].upgrade()
    for n in range(30):
        sale(books[0], f"tx{n}", "10.00")
    barrier = threading.Barrier(2)
    results: list[Closed] = []
    errors: list[BaseException] = []

    def run(book: Ledger) -> None:
        try:
            barrier.wait()
            results.append(close(book, 0))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(b,)) for b in books]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(results, key=lambda r: r.made) == [Closed(1, False), Closed(1, True)]
    assert [z.number for z in z_reports(books[0])] == [1]
    assert z_report(books[0], 1).figures["paid"]["count"] == 30


def test_a_closed_report_never_changes_and_a_late_payment_lands_in_the_next(ledger):
    sale(ledger, "tx-paid", "100.00")
    sale(ledger, "tx-late", "40.00", status="expired")
    assert close(ledger, 0) == Closed(1, True)
    before = z_report(ledger, 1)
    csv_before = "".join(z_rows(ledger, 1))

    # The customer's coins arrive after the close: the sale is paid, late.
    ledger.record(Entry(at=NOW + 100, tx_id="tx-late", status="paid", received=Decimal("3.2"),
                        attention=frozenset({"paid_late"})))
    assert z_report(ledger, 1) == before
    assert "".join(z_rows(ledger, 1)) == csv_before
    assert {r["transaction_id"]: r["status"] for r in read([csv_before])} == {"tx-paid": "paid",
                                                                             "tx-late": "expired"}
    exported = {r["transaction_id"]: r for r in read(export(ledger, day("2026-03-14"), day("2026-03-14"),
                                                            SHOP))}
    assert exported["tx-late"]["z_number"] == "" and exported["tx-paid"]["z_number"] == "1"

    x = x_report(ledger, "TRY", clock=lambda: NOW + 200)
    assert x.number == 2
    assert (x.figures["paid"]["count"], x.figures["paid"]["total"]) == (1, "40.00")
    assert x.figures["late"] == [{"checkout_id": "tx-late", "reference": "", "was": "expired",
                                  "status": "paid", "total": "40.00", "received": "3.2", "coin": "TRX",
                                  "currency": "TRY"}]
    assert close(ledger, 1, at=NOW + 300) == Closed(2, True)
    assert z_report(ledger, 2).figures == x.figures
    assert z_report(ledger, 1) == before
    exported = {r["transaction_id"]: r for r in read(export(ledger, day("2026-03-14"), day("2026-03-14"),
                                                            SHOP))}
    assert exported["tx-late"]["z_number"] == "2"


def test_more_money_for_a_partial_sale_after_its_report_counts_only_the_new_money(ledger):
    sale(ledger, "tx1", "100.00", status="waiting")
    ledger.record(Entry(at=EVENING + 60, tx_id="tx1", status="partial", received=Decimal("2")))
    close(ledger, 0)
    assert z_report(ledger, 1).figures["partial"][0]["received"] == "2"
    ledger.record(Entry(at=NOW + 60, tx_id="tx1", status="partial", received=Decimal("3.5")))
    close(ledger, 1, at=NOW + 120)
    late = z_report(ledger, 2).figures
    assert late["partial"][0]["received"] == "1.5" and late["late"][0]["was"] == "partial"
    assert late["paid"]["count"] == 0


def test_the_paid_total_of_a_z_report_is_the_sum_of_total_over_its_rows_in_the_export(ledger):
    for n, (amount, status) in enumerate([("10.05", "paid"), ("20.10", "paid"), ("7.00", "expired"),
                                           ("3.33", "paid"), ("8.00", "cancelled")]):
        sale(ledger, f"tx{n}", amount, status=status, at=EVENING + n)
    close(ledger, 0)
    ledger.record(Entry(at=NOW + 1, tx_id="tx2", status="paid", received=Decimal("0.56")))
    sale(ledger, "tx9", "1.01", at=NOW + 2)
    close(ledger, 1, at=NOW + 10)
    rows = read(export(ledger, day("2026-03-14"), day("2026-03-16"), SHOP))
    for number in (1, 2):
        paid = z_report(ledger, number).figures["paid"]
        mine = [r for r in rows if r["z_number"] == str(number) and r["status"] == "paid"]
        assert Decimal(paid["total"]) == sum((Decimal(r["total"]) for r in mine), Decimal(0))
        assert paid["count"] == len(mine)
    assert z_report(ledger, 1).figures["paid"]["total"] == "33.48"
    assert z_report(ledger, 2).figures["paid"]["total"] == "8.01"  # the late 7.00 and 1.01


def test_totals_per_coin_source_display_and_cashier(ledger):
    sale(ledger, "tx1", "10.00", started_by_kind="display", started_by="d1", display_id="d1")
    sale(ledger, "tx2", "20.00", order_id="chk_2", started_by_kind="cashier", started_by="cashier",
         display_id="d1", coin="USDT")
    sale(ledger, "tx3", "30.00", order_id="chk_3", started_by_kind="till", started_by="front",
         display_id="d2")
    f = x_report(ledger, "TRY").figures
    assert [(c["coin"], c["count"], c["total"]) for c in f["coins"]] == [("TRX", 2, "40.00"),
                                                                         ("USDT", 1, "20.00")]
    assert [(s["source"], s["display"], s["total"]) for s in f["sources"]] == [
        ("console", "d1", "20.00"), ("display", "d1", "10.00"), ("till", "d2", "30.00")]
    assert [(c["cashier"], c["total"]) for c in f["cashiers"]] == [("cashier", "20.00"), ("front", "30.00")]
