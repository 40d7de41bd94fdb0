"""X and Z reports on the receipt printer: the operator's Print buttons, the real job consumer and
a TCP listener on loopback where the shop's printer would be. A double tap prints once; a Z
report's later prints say copy; what is printed is the page's figures; the buttons are there only
with a printer, and only for the operator."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from kiosk.printing import commands
from kiosk.printing.receipt import Shop
from kiosk.printing.report import document
from kiosk.reports import ZSummary
from kiosk.reports.figures import figures

from ..support import STAFF_PIN, Customer, field, unlock_staff
from .printer import PrinterListener, read


@pytest.fixture
def printer():
    listener = PrinterListener()
    yield listener
    listener.down()


def sell(app, sandbox, amount: str) -> str:
    customer = Customer(app.test_client(), sandbox)
    tx = customer.start(amount)
    sandbox.pay(tx, share="full")
    assert customer.poll(tx)[0] == "paid"
    return tx


def form(html: str, action: str) -> dict[str, str]:
    """The fields of the print form posting to `action`."""
    start = html.index(f'action="{action}"')
    part = html[start:html.index("</form>", start)]
    return {"csrf_token": field(part, "csrf_token"), "nonce": field(part, "nonce")}


def amount(text: str) -> Decimal:
    """A Turkish amount as the page or the paper writes it ("₺1.125,50", "1.125,50 TL")."""
    return Decimal(re.sub(r"[^0-9,]", "", text).replace(",", "."))


def page_total(html: str) -> str:
    return re.search(r'data-testid="z-total">([^<]+)<', html).group(1)


def test_a_z_report_prints_once_per_tap_its_reprint_says_copy_and_its_total_is_the_pages(
        make_app, watcher, sandbox, printer):
    app = make_app(COINS="TRX:TRX", PRINTER_URL=printer.url, PRINTER_COLUMNS="32", OPERATOR_PIN=STAFF_PIN,
                   SHOP_NAME="Güneş Kafe")
    watcher(app)
    sell(app, sandbox, "1000.00")
    sell(app, sandbox, "125.50")
    operator = app.test_client()
    unlock_staff(operator)
    html = operator.get("/operator/reports").get_data(as_text=True)
    made = operator.post("/operator/reports/close", data={"csrf_token": field(html, "csrf_token"),
                                                          "after": field(html, "after")})
    assert made.headers["Location"] == "/operator/reports/z/1?made=1"
    page = operator.get("/operator/reports/z/1").get_data(as_text=True)
    assert 'data-testid="print-report"' in page
    tap = form(page, "/operator/reports/z/1/print")
    # A double tap: the same form twice, one printout.
    for _ in range(2):
        sent = operator.post("/operator/reports/z/1/print", data=tap)
        assert sent.status_code == 303 and sent.headers["Location"] == "/operator/reports/z/1?printed=sent"
    first = printer.wait_for(1)[0]
    after = operator.get("/operator/reports/z/1?printed=sent").get_data(as_text=True)
    assert 'data-testid="print-report-sent"' in after
    assert first.lines[0].strip() == "Z raporu 1" and "KOPYA" not in first.text
    assert "Güneş Kafe" in first.lines and first.cut_last
    assert max(len(line) for line in first.lines) <= 32
    assert amount(first.value("Ödendi")) == amount(page_total(page)) == Decimal("1125.50")
    assert first.value("Ödenen satışlar") == "2"
    # A later print of the same report, from the list's button: a copy, the same figures.
    listed = operator.get("/operator/reports").get_data(as_text=True)
    operator.post("/operator/reports/z/1/print", data=form(listed, "/operator/reports/z/1/print"))
    outs = printer.wait_for(2)
    copy = outs[1]
    assert "KOPYA" in [line.strip() for line in copy.bold]
    assert copy.lines[1:] == first.lines  # the report never changes: only the mark is new
    assert len(printer.printouts()) == 2


def test_each_x_print_is_a_new_snapshot_a_double_tap_prints_once(make_app, watcher, sandbox, printer):
    app = make_app(COINS="TRX:TRX", PRINTER_URL=printer.url, OPERATOR_PIN=STAFF_PIN, DEFAULT_LOCALE="en")
    watcher(app)
    sell(app, sandbox, "40.00")
    operator = app.test_client()
    unlock_staff(operator)
    html = operator.get("/operator/reports").get_data(as_text=True)
    tap = form(html, "/operator/reports/print")
    operator.post("/operator/reports/print", data=tap)
    again = operator.post("/operator/reports/print", data=tap)
    assert again.headers["Location"] == "/operator/reports?printed=sent"
    first = printer.wait_for(1)[0]
    assert first.lines[0].strip() == "X report" and first.value("Next Z report") == "1"
    assert first.value("Paid sales") == "1" and amount(first.value("Paid").replace(".", ",")) == Decimal("40")
    assert max(len(line) for line in first.lines) <= 48 and "COPY" not in first.text
    sell(app, sandbox, "2.50")
    html = operator.get("/operator/reports").get_data(as_text=True)
    operator.post("/operator/reports/print", data=form(html, "/operator/reports/print"))
    second = printer.wait_for(2)[1]
    assert second.value("Paid sales") == "2" and "COPY" not in second.text  # a snapshot, never a copy
    assert len(printer.printouts()) == 2


def test_without_a_printer_there_is_no_button(make_app, sandbox):
    app = make_app(COINS="TRX:TRX", OPERATOR_PIN=STAFF_PIN)
    sell(app, sandbox, "10.00")
    operator = app.test_client()
    unlock_staff(operator)
    html = operator.get("/operator/reports").get_data(as_text=True)
    operator.post("/operator/reports/close", data={"csrf_token": field(html, "csrf_token"),
                                                   "after": field(html, "after")})
    for path in ("/operator/reports", "/operator/reports/z/1"):
        assert 'data-testid="print-report' not in operator.get(path).get_data(as_text=True)
    sent = operator.post("/operator/reports/print", data={"csrf_token": field(html, "csrf_token"),
                                                           "nonce": "A" * 24})
    assert sent.headers["Location"] == "/operator/reports?printed=expired"


def test_a_report_prints_only_for_the_operator_and_an_unknown_one_is_not_found(
        make_app, watcher, sandbox, printer):
    app = make_app(COINS="TRX:TRX", PRINTER_URL=printer.url, OPERATOR_PIN=STAFF_PIN)
    watcher(app)
    sell(app, sandbox, "10.00")
    operator = app.test_client()
    unlock_staff(operator)
    html = operator.get("/operator/reports").get_data(as_text=True)
    operator.post("/operator/reports/close", data={"csrf_token": field(html, "csrf_token"),
                                                   "after": field(html, "after")})
    tap = form(operator.get("/operator/reports/z/1").get_data(as_text=True), "/operator/reports/z/1/print")
    # Without the PIN: report 1 answers as report 999 does (the PIN screen), and nothing prints.
    stranger = app.test_client()
    answers = [stranger.post(path, data={"csrf_token": "x", "nonce": tap["nonce"]})
               for path in ("/operator/reports/z/1/print", "/operator/reports/z/999/print",
                            "/operator/reports/print")]
    assert {(a.status_code, a.headers.get("Location")) for a in answers} == {(302, "/operator")}
    # The operator: a report never made, or not a number, is not found.
    for number in ("2", "0", "x", "١"):
        assert operator.post(f"/operator/reports/z/{number}/print", data=tap).status_code == 404
    # A kiosk without an operator PIN has no operator area: not found.
    closed = make_app(COINS="TRX:TRX", PRINTER_URL=printer.url, OPERATOR_PIN="")
    assert closed.test_client().post("/operator/reports/z/1/print", data=tap).status_code == 404
    assert closed.test_client().post("/operator/reports/print", data=tap).status_code == 404
    assert printer.printouts() == [] and app.extensions["kiosk"].prints.attention()[0] == []


# -- the printed layout ---------------------------------------------------------------------------

SHOP = Shop("Güneş Kafe", zone=ZoneInfo("Europe/Istanbul"))


def busy_report() -> ZSummary:
    """A day with every kind of figure: two currencies, tips, cashiers, displays, a partial
    payment, an open sale and a late adjustment."""
    def row(tx, status, amount, **more):
        return {"id": len(tx), "tx_id": tx, "status": status, "amount": Decimal(amount),
                "tip": Decimal(more.pop("tip", "0")), "received": Decimal(more.pop("received", "10")),
                "coin": "USDT", "network": "TRC20", "display_id": more.pop("display", None),
                "started_by_kind": more.pop("kind", "kiosk"), "started_by": more.pop("by", None),
                "reference": more.pop("reference", None), "currency": more.pop("currency", "TRY"),
                "kiosk_ref": None, "order_id": None, **more}
    lines = [row("t1", "paid", "1234567.89", tip="12.50", kind="cashier", by="Ayşe Yılmaz Öztürk-Çelik",
                 display="Tezgâh 1 — pencere tarafı"),
             row("t2", "cancelled", "20.00"), row("t3", "partial", "50.00", received="3"),
             row("t4", "paid", "20.00", currency="EUR", tip="2.00"),
             row("t5", "paid", "99.99", late=True, was_status="expired", was_received="0",
                 reference="masa-12")]
    made = figures(lines, [{"status": "waiting", "amount": Decimal("5"), "tip": Decimal(0),
                            "currency": "TRY"}], "TRY")
    return ZSummary(7, datetime(2026, 12, 6, 18, 0, tzinfo=UTC), datetime(2026, 12, 7, 18, 0, tzinfo=UTC),
                    "kasa-01", made)


@pytest.mark.parametrize("columns", [32, 48])
@pytest.mark.parametrize("language", ["tr", "en"])
def test_a_busy_report_fits_the_paper_and_prints_every_figure(columns, language):
    title, lines = document(busy_report(), closed=True, shop=SHOP, language=language)
    out = read(commands.lines_bytes(title, lines, columns, language))
    assert max(len(line) for line in out.lines) <= columns and out.cut_last
    text = out.text
    if language == "tr":
        assert out.lines[0].strip() == "Z raporu 7" and "EUR cinsinden rakamlar" in text
        # The paid total: 1,234,567.89 and its tip 12.50, and 99.99 (a late payment, now paid).
        assert out.value("Ödendi") == "1.234.680,38 TL" and "12,50 TL" in text and "Ayşe Yılmaz" in text
        assert "22,00 EUR" in text  # the code page has no euro sign: the currency's code
        assert "06.12.2026 21:00" in text and "07.12.2026 21:00" in text  # in the shop's time zone
    else:
        assert out.lines[0].strip() == "Z report 7" and "Figures in EUR" in text
        assert out.value("Paid") == "1,234,680.38 TRY" and "22.00 EUR" in text
        assert "Ayşe Yılmaz" in text  # Turkish letters, in a code page that holds them
    source = {"tr": "Kasiyer konsolu / Tezgâh 1", "en": "Cashier console / Tezgâh 1"}[language]
    for word in ("USDT (TRC20)", source, "masa-12", "kasa-01"):
        assert word in text, word
    assert "console /" not in text.replace("Cashier console /", "")  # never the export's word
