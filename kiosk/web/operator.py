"""The shop staff's corner, behind the operator PIN:

    /operator                 PIN keypad (or straight on to today when unlocked)
    /operator/today           today's completed payments and what needs attention
    /operator/history         upstream history with filters and upstream's own pages
    /operator/tx/<id>         one transaction; cancel it while it is still pending
    /operator/settings        read-only settings, upstream health and the watcher's queue
    /operator/displays        pair a display with its code; rename, change mode (not while it
                              holds an open order), end its order, unpair
    /operator/keys            the till API's keys: hint, made, last used; revoke one
    /operator/language (POST) Turkish or English, back to the page the switch was on
    /operator/lock  (POST)    back to the customer screen
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from .. import __version__
from ..checkout import ledger
from ..checkout.inputs import InputError
from ..cryptom import CryptomError, NotFound, Rejected, Status, Transaction
from ..displays import MODES, Display, DisplayBusy, PairingError
from ..i18n import STAFF_LANGUAGES
from ..jobs import queue_health
from ..ledger import state as ledger_state
from ..printing.printers import of_display, set_for_display
from ..services import kiosk
from ..tills import ApiKeys
from ..tills.keys import NAME as KEY_NAME
from . import format as fmt
from . import staff
from .receipts import print_state
from .screens import message, new_nonce, screen_of
from .staff import audit

bp = Blueprint("operator", __name__, url_prefix="/operator")
AREA = staff.OPERATOR
IDLE_SECONDS = AREA.idle_seconds


@bp.get("")
def pin() -> Any:
    if not staff.enabled(AREA):
        return render_template("operator/off.html"), 404
    if staff.unlocked(AREA):
        return redirect(url_for(".today"))
    staff.lock_when_idle()
    return render_template("operator/pin.html", locked_for=staff.locked_for(), error=None)


@bp.post("")
def pin_submit() -> Any:
    result = staff.unlock(AREA, str(request.form.get("pin", "")))
    if result.ok:
        return redirect(url_for(".today"), 303)
    return render_template("operator/pin.html", locked_for=result.locked_for,
                           error=staff.pin_error(result)), 403


@bp.post("/lock")
def lock() -> Any:
    staff.lock(AREA)
    return redirect(url_for("kiosk.amount"), 303)


# The operator's pages a language switch returns to: pages to read, not downloads or actions.
PAGES = frozenset({"operator.today", "operator.history", "operator.detail", "operator.settings",
                   "operator.displays", "operator.api_keys", "reports.overview_page", "reports.z_page"})


@bp.post("/language")
def language() -> Any:
    """Staff's Turkish or English (the languages only customers read are refused), then back to
    the operator's page the switch was on, its filters kept; Today for anything else."""
    chosen = request.form.get("locale")
    if chosen in STAFF_LANGUAGES:
        session["locale"] = chosen
    return redirect(screen_of(request.form.get("next"), PAGES, ".today"), 303)


@bp.get("/today")
def today() -> Any:
    settings = kiosk().settings
    summary = error = None
    try:
        summary, rows = ledger.today(kiosk().client, settings.timezone)
        kiosk().checkout.observe(rows)
    except CryptomError:
        error = _("Cryptom Pay is not answering right now.")
    waiting, down, failed = kiosk().prints.attention()
    return render_template("operator/today.html", summary=summary, error=error,
                           attention=kiosk().checkout.attention(),
                           queue=queue_health(kiosk().jobs, with_queue=False),
                           prints_waiting=waiting, printers_down=down, prints_failed=failed)


@bp.post("/attention/<tx_id>/dismiss")
def dismiss(tx_id: str) -> Any:
    kiosk().checkout.dismiss(tx_id)
    kiosk().holds.release(tx_id, "operator")  # dealt with: a customer's screen need not wait
    audit("operator.dismiss", tx_id)
    return redirect(url_for(".today"), 303)


@bp.get("/history")
def history() -> Any:
    query = ledger.HistoryQuery.parse(request.args)
    page = error = None
    if not query.errors:
        try:
            page = ledger.history(kiosk().client, query, kiosk().settings.timezone)
            kiosk().checkout.observe(page.results)
        except Rejected as exc:
            error = _("Cryptom Pay refused the search: %(reason)s", reason=exc.message)
        except CryptomError:
            error = _("Cryptom Pay is not answering right now.")
    references = {tx.id: sale_reference(tx) for tx in page.results} if page else {}
    return render_template("operator/history.html", query=query, page=page, error=error,
                           statuses=ledger.STATUSES, coins=kiosk().settings.coins, references=references)


def sale_reference(tx: Transaction) -> str:
    """The sale's one reference: the shop's own, where a till or the console gave one, beside
    upstream's sequence number (from the store: this kiosk's record and its order)."""
    record = kiosk().checkout.record(tx.id)
    order = kiosk().orders.get(record.order) if record is not None and record.order else None
    return fmt.sale_reference(order.reference if order else None, tx.sequence_id) or tx.id[-8:]


@bp.get("/tx/<tx_id>")
def detail(tx_id: str) -> Any:
    try:
        tx = kiosk().checkout.lookup(tx_id)
    except NotFound:
        abort(404)
    except CryptomError:
        return render_template("operator/detail.html", tx=None,
                               error=_("Cryptom Pay is not answering right now.")), 503
    record = kiosk().checkout.record(tx_id)
    printing: dict[str, Any] = {"printer": None}
    if record is not None and tx.is_paid:
        printing = {**print_state(tx_id, record.display), "print_nonce": new_nonce()}
    return render_template("operator/detail.html", tx=tx, error=None, reference=sale_reference(tx),
                           cancellable=not tx.is_paid and tx.status in (Status.PENDING, Status.TRANSFERRED),
                           record=record, display=kiosk().displays.get(record.display if record else None),
                           **printing)


@bp.post("/tx/<tx_id>/cancel")
def cancel(tx_id: str) -> Any:
    try:
        kiosk().checkout.cancel_by_operator(tx_id)
    except NotFound:
        abort(404)
    audit("operator.cancel", tx_id)
    return redirect(url_for(".detail", tx_id=tx_id), 303)


@bp.get("/settings")
def settings() -> Any:
    return render_template("operator/settings.html", health=ledger.health(kiosk().client),
                           queue=queue_health(kiosk().jobs), version=__version__,
                           book=ledger_state(kiosk().ledger.engine), book_waiting=kiosk().booking.waiting())


# -- displays ---------------------------------------------------------------------------------


def render_displays(error: str | None = None, status: int = 200, values: Any = None) -> Any:
    services = kiosk()
    rows = [(d, services.displays.online(d), services.orders.busy(d), services.displays.last_seen(d))
            for d in services.displays.all()]
    printers = {d.id: of_display(services.store, d.id) for d in services.displays.all()}
    return render_template("operator/displays.html", rows=rows, error=error, values=values or {},
                           modes=MODES, paired=request.args.get("paired"), printers=printers,
                           shop_printer=services.settings.printer), status


def display_or_404(display_id: str) -> Display:
    display = kiosk().displays.get(display_id)
    if display is None:
        abort(404)
    return display


@bp.get("/displays")
def displays() -> Any:
    return render_displays()


@bp.post("/displays")
def pair() -> Any:
    form = request.form
    try:
        display = kiosk().displays.pair(form.get("code"), form.get("name"), form.get("mode"))
    except PairingError as err:
        return render_displays(message(err), 422, values=form)
    audit("operator.display_pair")
    return redirect(url_for(".displays", paired=display.id), 303)


@bp.post("/displays/<display_id>/<change>")
def change_display(display_id: str, change: str) -> Any:
    """Rename a display, change its mode, or set its own receipt printer."""
    field = {"rename": "name", "mode": "mode", "printer": "printer"}.get(change)
    if field is None:
        abort(404)
    display = display_or_404(display_id)
    services = kiosk().displays
    if change == "printer":
        try:
            set_for_display(kiosk().store, display.id, request.form.get("printer"),
                            request.form.get("columns"))
        except InputError as err:
            return render_displays(message(err), 422)
        audit("operator.display_printer")
        return redirect(url_for(".displays"), 303)
    try:
        # A mode is the orders' to change: never while the display holds an open one.
        change_it = services.rename if change == "rename" else kiosk().orders.set_mode
        change_it(display, request.form.get(field))
    except PairingError as err:
        return render_displays(message(err), 422)
    except DisplayBusy:
        return render_displays(_("%(name)s is showing a payment: its mode can change once that payment "
                                 "has ended. End it with “End payment”, or wait for it to end.",
                                 name=display.name), 409)
    audit(f"operator.display_{change}")
    return redirect(url_for(".displays"), 303)


@bp.post("/displays/<display_id>/end-order")
def end_order(display_id: str) -> Any:
    """End the display's open order, as the console's cancel does (by the operator): a payment
    that completed meanwhile stays paid."""
    orders = kiosk().orders
    order = orders.current(display_or_404(display_id))
    if order is not None and not orders.state(order).final:
        orders.cancel(order, "operator")
        audit("operator.display_end_order")
    return redirect(url_for(".displays"), 303)


@bp.post("/displays/<display_id>/unpair")
def unpair(display_id: str) -> Any:
    kiosk().orders.unpair(display_or_404(display_id))
    audit("operator.display_unpair")
    return redirect(url_for(".displays"), 303)


# -- the till API's keys ---------------------------------------------------------------------


@bp.get("/keys")
def api_keys() -> Any:
    """None is made here: a new key is shown once, on the server (`kiosk keys create NAME`),
    so a key never reaches a browser."""
    keys = ApiKeys(kiosk().store)
    rows = [(key, keys.last_used(key.name)) for key in keys.all()]
    revoked = request.args.get("revoked", "")
    gone = revoked if KEY_NAME.fullmatch(revoked) and keys.get(revoked) is None else None
    return render_template("operator/keys.html", rows=rows, revoked=gone)


@bp.post("/keys/<name>/revoke")
def revoke_key(name: str) -> Any:
    if not ApiKeys(kiosk().store).revoke(name):
        abort(404)
    audit("operator.key_revoke", key=name)
    return redirect(url_for(".api_keys", revoked=name), 303)
