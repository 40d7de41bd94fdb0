"""The payment's screens of the customer's journey (see screens.py for the whole map), on the
same blueprint: pay with its status fragment, QR and cancel; the result, held for staff when it
sends the customer to the cashier; the receipt; done."""

from __future__ import annotations

import io
from typing import Any

import segno
from flask import Response, abort, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from .. import clock
from ..checkout import Outcome, View
from ..services import kiosk
from . import callers, staff
from . import format as fmt
from .access import owned_record
from .receipts import print_state, screen_printing
from .screens import bp, is_htmx, valid_nonce
from .security import CSP


def pay_screen(view: View, code: int = 302) -> Any:
    """The pay screen while the payment is open; its result once it has one."""
    if view.outcome.is_final:
        return redirect(url_for(".result", tx_id=view.record.tx_id), code)
    # What the till sent, beside the QR: the customer checks the lines before paying.
    order = kiosk().orders.get(view.record.order) if view.record.order else None
    return render_template("kiosk/pay.html", **screen(view), order=order)


@bp.get("/pay/<tx_id>")
def pay(tx_id: str) -> Any:
    return pay_screen(kiosk().checkout.view(owned_record()))


@bp.get("/pay/<tx_id>/status")
def status(tx_id: str) -> Any:
    record = owned_record()
    if not is_htmx():  # every URL is a page too: a reload lands on the right screen
        return redirect(url_for(".pay", tx_id=tx_id))
    # While upstream or the sales ledger is away the view says it is reconnecting (the runner
    # writes the checkout's row; a result upstream shows is given all the same).
    view = kiosk().checkout.view(record)
    html = render_template("kiosk/_status.html", **screen(view))
    if view.tx is not None and view.outcome is Outcome.PARTLY_PAID:
        # Once coins arrive the amount to send is what is still due: swapped in beside the status.
        html += render_template("kiosk/_send.html", **screen(view), oob=True)
    response = make_response(html)
    if view.outcome.is_final:
        # The fragment above has no polling attributes, so polling stops even if this is lost.
        response.headers["HX-Redirect"] = url_for(".result", tx_id=tx_id)
    elif request.args.get("bare") and view.tx is not None:
        # The page was drawn while upstream was away, without QR and address: draw it again.
        response.headers["HX-Refresh"] = "true"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/pay/<tx_id>/cancel")
def cancel(tx_id: str) -> Any:
    return pay_screen(kiosk().checkout.cancel(owned_record()), 303)


@bp.get("/pay/<tx_id>/qr.png")
def qr(tx_id: str) -> Response:
    png = kiosk().checkout.qr_png(owned_record())
    if png is None:
        abort(503)
    response = Response(png, mimetype="image/png")
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


# -- result -------------------------------------------------------------------------------


@bp.get("/result/<tx_id>")
def result(tx_id: str) -> Any:
    record = owned_record()
    view = kiosk().checkout.view(record)
    if not view.outcome.is_final:
        return redirect(url_for(".pay", tx_id=tx_id))
    return result_screen(view)


def result_screen(view: View, error: str | None = None, status: int = 200) -> Any:
    record = view.record
    extra = {}
    if view.outcome is Outcome.PAID:
        extra = {**print_state(record.tx_id, record.display), **screen_printing(record.tx_id)}
    held = kiosk().holds.held(record.tx_id, view.outcome)
    display = callers.display()
    return render_template("kiosk/result.html", **screen(view), **extra, held=held, release_error=error,
                           staff_pin=staff.enabled(staff.CASHIER),
                           till_display=display is not None and display.mode == "till"), status


@bp.get("/result/<tx_id>/hold")
def result_hold(tx_id: str) -> Any:
    """Polled by a result held for staff: nothing while it holds; once staff ended it elsewhere
    (or its time is up) the screen is told, and goes on to the next customer."""
    if not is_htmx():  # every URL is a page too
        return redirect(url_for(".result", tx_id=tx_id))
    if held(tx_id):
        return "", 204
    response = make_response("", 200)
    response.headers["HX-Trigger"] = "kiosk:released"
    return response


@bp.post("/result/<tx_id>/release")
def release(tx_id: str) -> Any:
    """Staff end a held result on the customer's screen with the cashier or operator PIN. A shop
    with no staff PIN ends it with the button alone (a deliberate press, never a stray tap)."""
    if staff.enabled(staff.CASHIER):
        result = staff.verify(str(request.form.get("pin", "")), tx_id)
        if not result.ok:
            view = kiosk().checkout.view(owned_record())
            return result_screen(view, staff.pin_error(result) if result.compared or result.locked_for
                                 else _("Enter the PIN."), 403)
    else:
        staff.audit("screen.release", tx_id)
    kiosk().holds.release(tx_id, "screen")
    return done()


@bp.get("/receipt/<tx_id>")
def receipt(tx_id: str) -> Any:
    """A printable receipt of a completed payment: 58 mm thermal paper or A4."""
    settings = kiosk().settings
    record = owned_record()
    browser = settings.auto_print == "browser"
    if not (settings.receipts or browser):
        abort(404)
    view = kiosk().checkout.view(record)
    if view.outcome is not Outcome.PAID or view.tx is None:
        return redirect(url_for(".pay", tx_id=tx_id))
    tx = view.tx
    paper = "58mm" if request.args.get("paper") == "58mm" else "a4"
    rate = fmt.price_per_coin(tx)
    links = {"a4": url_for(".receipt", tx_id=tx_id), "58mm": url_for(".receipt", tx_id=tx_id, paper="58mm"),
             "qr": url_for(".receipt_qr", tx_id=tx_id)}
    # Under KIOSK_AUTO_PRINT=browser the page prints itself, once per request for a print: the
    # paid screen's own (in its frame) and each tap of Print receipt (its form's token).
    auto = request.args.get("auto", "")
    auto = auto if auto == "paid" or valid_nonce(auto) else ""
    printing = kiosk().prints.browser_print(record.tx_id, auto) if browser and auto else None
    response = make_response(render_template(
        "kiosk/receipt.html", **screen(view), paper=paper, rate=rate, paid_at=tx.updated_at or tx.created_at,
        links=links, auto_print=bool(printing and printing.first), copy=bool(printing and printing.copy),
        framed=auto == "paid"))
    if auto == "paid":  # the paid screen holds it in a frame of its own origin
        response.headers["Content-Security-Policy"] = CSP.replace("frame-ancestors 'none'",
                                                                  "frame-ancestors 'self'")
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.get("/receipt/<tx_id>/qr.svg")
def receipt_qr(tx_id: str) -> Response:
    return qr_svg(owned_record().tx_id)


def qr_svg(tx_id: str) -> Response:
    """The QR printed on a receipt: the transaction's id, for staff to look it up."""
    out = io.BytesIO()
    segno.make(tx_id, error="m").save(out, kind="svg", scale=4, border=4, xmldecl=False)
    response = Response(out.getvalue(), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


@bp.post("/done")
def done() -> Any:
    """The next customer: the language goes back to the shop's default too. A display in till
    mode is free for the next order once it has shown this one's result."""
    display = callers.display()
    order = kiosk().orders.current(display) if display is not None and display.mode == "till" else None
    shown = kiosk().orders.tx_of(order) if order is not None else session.get("tx")
    if isinstance(shown, str) and held(shown):
        return redirect(url_for(".result", tx_id=shown), 303)  # staff have not ended it yet
    session.pop("tx", None)
    session.pop("locale", None)
    if display is not None and display.mode == "till":
        if order is not None:
            kiosk().orders.acknowledge(display, order)
        return redirect(url_for("display.show"), 303)
    return redirect(url_for(".amount"), 303)


# -- shared -------------------------------------------------------------------------------


def held(tx_id: str) -> bool:
    """The result of this checkout stays on screen for staff (from the store alone)."""
    return kiosk().holds.held(tx_id, kiosk().checkout.last_outcome(tx_id))


def screen(view: View) -> dict[str, Any]:
    tx = view.tx
    order = kiosk().orders.get(view.record.order) if view.record.order else None
    return {
        "view": view,
        "record": view.record,
        "tx": tx,
        "outcome": view.outcome.value,
        "Outcome": Outcome,
        "remaining": view.remaining(clock.now()),
        # A transaction upstream has lost has no number: its own id, by which staff find it.
        "reference": (fmt.sale_reference(order.reference if order else None, tx.sequence_id if tx else None)
                      or view.record.tx_id[-8:]),
    }
