"""The cashier's console, on the staff's own phone or PC, behind KIOSK_CASHIER_PIN (the operator
PIN opens it too). The cashier sends the amount to a display; the customer only scans and pays.

    /till                             PIN keypad, or the console: display, amount, reference, note
    /till             (POST)          the PIN
    /till/charge      (POST)          send the amount to the chosen display
    /till/checkout/<id>               follow one checkout live, with Cancel
    /till/checkout/<id>/status        polled by htmx; data-status holds the till API's status word
    /till/checkout/<id>/cancel (POST) cancel it, before or after the customer picked a coin
    /till/checkout/<id>/release (POST) end its result on the display, where it waits for staff
    /till/checkout/<id>/receipt       the receipt of a paid one (A4 or 58 mm)
    /till/lock        (POST)          lock the console
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, abort, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from .. import clock
from ..checkout.inputs import InputError, parse_amount, parse_note, parse_reference
from ..displays import DisplayBusy, DisplayNotInTillMode, DisplayOffline, Order, OrderState
from ..services import kiosk
from . import format as fmt
from . import staff
from .paying import qr_svg
from .receipts import print_state
from .screens import is_htmx, message, new_nonce, valid_nonce
from .staff import audit

bp = Blueprint("till", __name__, url_prefix="/till")
AREA = staff.CASHIER
IDLE_SECONDS = AREA.idle_seconds  # the console locks itself after fifteen minutes without a tap


def pin_screen(error: str | None = None, locked_for: int = 0, status: int = 200) -> Any:
    return render_template("operator/pin.html", action=url_for(".pin_submit"), label=_("Cashier PIN"),
                           error=error, locked_for=locked_for), status


@bp.get("")
def console() -> Any:
    if not staff.unlocked(AREA):
        staff.lock_when_idle()
        return pin_screen(locked_for=staff.locked_for())
    staff.touch(AREA)
    return render_console()


@bp.post("")
def pin_submit() -> Any:
    result = staff.unlock(AREA, str(request.form.get("pin", "")))
    if result.ok:
        return redirect(url_for(".console"), 303)
    return pin_screen(staff.pin_error(result), result.locked_for, 403)


@bp.post("/lock")
def lock() -> Any:
    staff.lock(AREA)
    return redirect(url_for(".console"), 303)


def start_of_day() -> float:
    zone = kiosk().settings.timezone
    today = datetime.fromtimestamp(clock.now(), zone).date()
    return datetime.combine(today, datetime.min.time(), zone).timestamp()


def render_console(error: str | None = None, status: int = 200, values: Any = None) -> Any:
    services = kiosk()
    displays = [(d, services.displays.online(d), services.orders.busy(d))
                for d in services.displays.all() if d.mode == "till"]
    names = {d.id: d.name for d in services.displays.all()}
    chosen = (values or {}).get("display") or session.get("till_display")
    if chosen not in {d.id for d, _online, _busy in displays}:
        chosen = displays[0][0].id if len(displays) == 1 else None
    s = services.settings
    return render_template(
        "till/console.html", displays=displays, chosen=chosen, error=error, values=values or {},
        recent=services.orders.recent(since=start_of_day()), names=names, nonce=new_nonce(),
        min_amount=s.min_amount, max_amount=s.max_amount,
    ), status


@bp.post("/charge")
def charge() -> Any:
    form = request.form
    services = kiosk()
    display = services.displays.get(form.get("display"))
    nonce = valid_nonce(form.get("nonce"))
    if display is None:
        return render_console(_("Choose a display."), 422, form)
    if nonce is None:
        return render_console(_("This form has expired. Please try again."), 422, form)
    session["till_display"] = display.id
    try:
        settings = services.settings
        amount = parse_amount(form.get("amount"), settings.min_amount, settings.max_amount,
                              settings.currency)
        order = services.orders.send(display, amount, reference=parse_reference(form.get("reference")),
                                     note=parse_note(form.get("note")), key=f"till-{nonce}",
                                     ask_tip=form.get("ask_tip") == "1")
    except InputError as err:
        return render_console(message(err), 422, form)
    except DisplayBusy:
        return render_console(_("%(name)s is busy with another payment. Wait for it to end, or cancel "
                                "it.", name=display.name), 409, form)
    except DisplayOffline:
        return render_console(_("%(name)s is offline: check that its screen is on and connected.",
                                name=display.name), 409, form)
    except DisplayNotInTillMode:
        return render_console(_("%(name)s is in keypad mode.", name=display.name), 409, form)
    # The ledger's cashier: which PIN opened the console (there are no named cashiers).
    services.booking.sent_by(order.id, "cashier", staff.unlocked_by())
    audit("till.charge")
    return redirect(url_for(".checkout", order_id=order.id), 303)


def order_or_404(order_id: str) -> Order:
    order = kiosk().orders.get(order_id)
    if order is None:
        abort(404)
    return order


def follow(state: OrderState) -> dict[str, Any]:
    view = state.view
    display = kiosk().displays.get(state.order.display)
    tx_id = view.record.tx_id if view else None
    printing: dict[str, Any] = {"printer": None}
    if state.status == "paid":
        printing = {**print_state(kiosk().orders.tx_of(state.order), state.order.display),
                    "print_nonce": new_nonce()}
    return {"state": state, "order": state.order, "tx": view.tx if view else None, "view": view,
            "display_name": display.name if display else "–",
            "reconnecting": bool(view and view.reconnecting),
            "reference": fmt.sale_reference(state.order.reference,
                                            view.tx.sequence_id if view and view.tx else None),
            # The display still shows its result and waits for staff: the cashier may end it.
            "held": bool(tx_id and view and kiosk().holds.held(tx_id, view.outcome)), **printing}


@bp.get("/checkout/<order_id>")
def checkout(order_id: str) -> Any:
    state = kiosk().orders.state(order_or_404(order_id), look=True)
    return render_template("till/checkout.html", **follow(state))


@bp.get("/checkout/<order_id>/status")
def status(order_id: str) -> Any:
    order = order_or_404(order_id)
    if not is_htmx():
        return redirect(url_for(".checkout", order_id=order_id))
    # Reads upstream at most once per half poll interval, shared with the display's own poll.
    state = kiosk().orders.state(order, look=True)
    response = make_response(render_template("till/_status.html", **follow(state)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/checkout/<order_id>/cancel")
def cancel(order_id: str) -> Any:
    kiosk().orders.cancel(order_or_404(order_id), "till")
    audit("till.cancel")
    return redirect(url_for(".checkout", order_id=order_id), 303)


@bp.post("/checkout/<order_id>/release")
def release(order_id: str) -> Any:
    tx_id = kiosk().orders.tx_of(order_or_404(order_id))
    if tx_id is not None and kiosk().holds.release(tx_id, "till"):
        audit("till.release", tx_id)
    return redirect(url_for(".checkout", order_id=order_id), 303)


@bp.get("/checkout/<order_id>/receipt")
def receipt(order_id: str) -> Any:
    state = kiosk().orders.state(order_or_404(order_id), look=True)
    view = state.view
    if state.status != "paid" or view is None or view.tx is None:
        return redirect(url_for(".checkout", order_id=order_id))
    tx = view.tx
    paper = "58mm" if request.args.get("paper") == "58mm" else "a4"
    rate = fmt.price_per_coin(tx)
    links = {"a4": url_for(".receipt", order_id=order_id),
             "58mm": url_for(".receipt", order_id=order_id, paper="58mm"),
             "qr": url_for(".receipt_qr", order_id=order_id),
             "back": url_for(".checkout", order_id=order_id)}
    return render_template("kiosk/receipt.html", record=view.record, tx=tx, view=view, paper=paper,
                           rate=rate, paid_at=tx.updated_at or tx.created_at, links=links,
                           reference=fmt.sale_reference(state.order.reference, tx.sequence_id))


@bp.get("/checkout/<order_id>/receipt-qr.svg")
def receipt_qr(order_id: str) -> Any:
    tx_id = kiosk().orders.tx_of(order_or_404(order_id))
    if tx_id is None:
        abort(404)
    return qr_svg(tx_id)
