"""Printing a receipt from the screens: one `print-receipt` button on the customer's result, the
console's checkout and the operator's detail, all through the same print job (kiosk.printing).
Each form carries a one-time token: a double tap, or the same form sent from two hosts, makes
one printout; the first print of a sale is the original, every later one a copy.

    /result/<id>/print            (POST)  the customer's receipt (its own paid checkout)
    /result/<id>/print                    the print's state, polled while it waits
    /till/checkout/<id>/print     (POST)  the cashier: to the display's printer
    /operator/tx/<id>/print       (POST)  the operator: a paid transaction started on this kiosk
    /operator/prints/<id>/dismiss (POST)  a print that gave up, seen to
"""

from __future__ import annotations

from typing import Any

from flask import abort, make_response, redirect, render_template, request, url_for

from ..checkout import Outcome
from ..services import kiosk
from . import console, operator, screens
from .access import owned_record
from .receipts import print_state, request_print
from .screens import valid_nonce
from .staff import audit

# -- the customer --------------------------------------------------------------------------


@screens.bp.post("/result/<tx_id>/print")
def print_receipt(tx_id: str) -> Any:
    record = owned_record()
    view = kiosk().checkout.view(record)
    if view.outcome is not Outcome.PAID:
        return redirect(url_for("kiosk.result", tx_id=tx_id), 303)
    if kiosk().prints.printer_for(record.display) is None and kiosk().settings.auto_print == "browser":
        # The tablet's own printer: the receipt page prints itself, once for this form.
        nonce = valid_nonce(request.form.get("nonce"))
        return redirect(url_for("kiosk.receipt", tx_id=tx_id, paper="58mm", auto=nonce), 303)
    request_print(record.tx_id, record.display)
    return redirect(url_for("kiosk.result", tx_id=tx_id), 303)


@screens.bp.get("/result/<tx_id>/print")
def print_status(tx_id: str) -> Any:
    record = owned_record()
    if not screens.is_htmx():
        return redirect(url_for("kiosk.result", tx_id=tx_id))
    response = make_response(render_template(
        "kiosk/_print.html", record=record, poll_url=url_for("kiosk.print_status", tx_id=tx_id),
        print_action=url_for("kiosk.print_receipt", tx_id=tx_id), print_nonce=screens.new_nonce(),
        **print_state(record.tx_id, record.display)))
    response.headers["Cache-Control"] = "no-store"
    return response


# -- the cashier ---------------------------------------------------------------------------


@console.bp.post("/checkout/<order_id>/print", endpoint="print_receipt")
def print_receipt_till(order_id: str) -> Any:
    order = console.order_or_404(order_id)
    state = kiosk().orders.state(order)
    tx_id = kiosk().orders.tx_of(order)
    if state.status == "paid" and tx_id is not None and request_print(tx_id, order.display):
        audit("till.print")
    return redirect(url_for("till.checkout", order_id=order_id), 303)


# -- the operator --------------------------------------------------------------------------


@operator.bp.post("/tx/<tx_id>/print", endpoint="print_receipt")
def print_receipt_operator(tx_id: str) -> Any:
    record = kiosk().checkout.record(tx_id)
    if record is None:
        abort(404)
    sale = kiosk().ledger.get(tx_id=tx_id)
    if sale is not None and sale.status == "paid" and request_print(tx_id, record.display):
        audit("operator.print", tx_id)
    return redirect(url_for("operator.detail", tx_id=tx_id), 303)


@operator.bp.post("/prints/<print_id>/dismiss")
def dismiss_print(print_id: str) -> Any:
    kiosk().prints.dismiss(print_id[:32])
    audit("operator.print_dismiss")
    return redirect(url_for("operator.today"), 303)
