"""The operator's back office, every figure from the sales ledger:

    /operator/export.csv?from=&to=        the accounting export of a range of shop days (CSV)
    /operator/reports                     the X report (since the last Z) and the past Z reports
    /operator/reports/close  (POST)       close the day: Z report N
    /operator/reports/z/<n>               one Z report, printable on A4 or 58 mm paper
    /operator/reports/z/<n>/rows.csv      its checkouts as the export's CSV, as they read then
    /operator/reports/print  (POST)       the X report on the receipt printer (KIOSK_PRINTER_URL)
    /operator/reports/z/<n>/print (POST)  Z report N on it: the first print the original, later copies

A print's form carries a one-time token, the print's key: a double tap prints once. Each X print
is a new snapshot; a Z report never changes, so its later prints are copies.
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Iterator
from decimal import Decimal
from itertools import chain
from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _
from sqlalchemy.exc import SQLAlchemyError

from .. import reports
from ..checkout import ledger
from ..printing import report as printed
from ..printing.jobs import NoPrinter, TooMany
from ..services import kiosk
from . import format as fmt
from .screens import locale, message, new_nonce, valid_nonce
from .staff import audit

bp = Blueprint("reports", __name__, url_prefix="/operator")
log = logging.getLogger("kiosk.reports")
HOST = socket.gethostname()
# ASCII digits only: str.isdigit() takes "²" (which int() refuses) and "١" (which it reads as 1).
NUMBER = re.compile(r"[0-9]{1,9}")


@bp.errorhandler(SQLAlchemyError)
def ledger_away(err: SQLAlchemyError) -> Any:
    """Every figure here is the ledger's: without it, a calm page says so (payments go on)."""
    log.warning("the back office could not read the ledger (%s)", type(err).__name__)
    return render_template("operator/ledger_away.html"), 503


def money(value: Any, currency: str | None = None) -> str:
    """A stored figure (a decimal string) on screen, in its own currency (the shop's unless told)."""
    return fmt.fiat(Decimal(str(value)), locale(), currency or kiosk().settings.currency)


def csv_response(pieces: Iterator[str], filename: str) -> Response:
    """The file, streamed. Its first piece is made here, before any header is sent: a ledger
    that does not answer gets the calm error page, never a file cut short."""
    first = next(pieces)
    return Response(stream_with_context(chain([first], pieces)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             "Content-Type": "text/csv; charset=utf-8", "Cache-Control": "no-store",
                             "X-Content-Type-Options": "nosniff"})


@bp.get("/export.csv")
def export_csv() -> Any:
    try:
        first, last = reports.parse_range(request.args.get("from"), request.args.get("to"))
    except reports.RangeError as err:
        # Back on History, with the form as it was sent and why: nothing is read or written.
        return render_template("operator/history.html", query=ledger.HistoryQuery.parse({}), page=None,
                               error=None, statuses=ledger.STATUSES, coins=kiosk().settings.coins,
                               export_error=message(err), export_values=request.args), 422
    audit("operator.export")
    services = kiosk()
    pieces = reports.export(services.ledger, first, last, services.settings.timezone)
    return csv_response(pieces, f"sales-{first.isoformat()}-{last.isoformat()}.csv")


def overview() -> dict[str, Any]:
    services = kiosk()
    x = reports.x_report(services.ledger, services.settings.currency)
    return {"x": x, "closed": reports.z_reports(services.ledger), "money": money, "close_error": None,
            **printing()}


def printing() -> dict[str, Any]:
    """The print button's form (none without the shop's printer) and what the last tap did."""
    prints = kiosk().prints
    if prints.printer is None:
        return {"print_nonce": None, "printed": None, "printer_down": None}
    return {"print_nonce": new_nonce(), "printed": request.args.get("printed"),
            "printer_down": prints.printer_down(prints.printer)}


@bp.get("/reports")
def overview_page() -> Any:
    return render_template("operator/reports.html", **overview())


@bp.post("/reports/close")
def close_day() -> Any:
    raw = str(request.form.get("after", ""))
    if not NUMBER.fullmatch(raw):
        return expired_form()
    services = kiosk()
    closed = reports.close_day(services.ledger, int(raw), currency=services.settings.currency,
                               zone=services.settings.timezone, by=HOST)
    if closed.made:
        audit("operator.close_day")
    elif closed.number < int(raw):
        return expired_form()  # it names a report never made: no page ever showed it
    return redirect(url_for(".z_page", number=closed.number, made="1" if closed.made else "0"), 303)


def expired_form() -> Any:
    page = {**overview(), "close_error": _("This form has expired. Please try again.")}
    return render_template("operator/reports.html", **page), 422


def z_or_404(number: str) -> reports.ZSummary:
    """Report `number`; anything else (not a number, none made) is not found."""
    z = reports.z_report(kiosk().ledger, int(number)) if NUMBER.fullmatch(number) else None
    if z is None:
        abort(404)
    return z


@bp.get("/reports/z/<number>")
def z_page(number: str) -> Any:
    z = z_or_404(number)
    number = str(z.number)
    paper = "58mm" if request.args.get("paper") == "58mm" else "a4"
    links = {"a4": url_for(".z_page", number=number), "58mm": url_for(".z_page", number=number, paper="58mm"),
             "csv": url_for(".z_csv", number=number), "back": url_for(".overview_page")}
    return render_template("operator/z_report.html", z=z, paper=paper, links=links, money=money,
                           made=request.args.get("made"), **printing())


@bp.get("/reports/z/<number>/rows.csv")
def z_csv(number: str) -> Any:
    z = z_or_404(number)
    return csv_response(reports.z_rows(kiosk().ledger, z.number), f"z-report-{z.number}.csv")


def print_report(z: reports.ZSummary, closed: bool) -> str:
    """A tap on a report's Print: sent once for the form's token. The answer, for the page."""
    services = kiosk()
    nonce = valid_nonce(request.form.get("nonce"))
    if nonce is None or services.prints.printer is None:
        return "expired"
    language = locale().split("_")[0]
    title, lines = printed.document(z, closed=closed, shop=services.prints.shop, language=language)
    key = f"z:{z.number}:{nonce}" if closed else f"x:{nonce}"
    try:
        services.prints.document(key, title, lines, language=language, of=f"z:{z.number}" if closed else None)
    except NoPrinter:
        return "expired"
    except TooMany:
        return "too-many"
    audit("operator.print_z" if closed else "operator.print_x")
    return "sent"


@bp.post("/reports/print")
def print_x() -> Any:
    services = kiosk()
    x = reports.x_report(services.ledger, services.settings.currency)
    return redirect(url_for(".overview_page", printed=print_report(x, closed=False)), 303)


@bp.post("/reports/z/<number>/print")
def print_z(number: str) -> Any:
    z = z_or_404(number)
    return redirect(url_for(".z_page", number=z.number, printed=print_report(z, closed=True)), 303)
