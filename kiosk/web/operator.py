"""The shop staff's corner, behind the operator PIN:

    /operator                 PIN keypad (or straight on to today when unlocked)
    /operator/today           today's completed payments and what needs attention
    /operator/history         upstream history with filters and upstream's own pages
    /operator/tx/<id>         one transaction; cancel it while it is still pending
    /operator/settings        read-only settings, upstream health and the watcher's queue
    /operator/displays        pair a display with its code; rename, change mode, unpair
    /operator/keys            the till API's keys: hint, made, last used; revoke one
    /operator/lock  (POST)    back to the customer screen
"""

from __future__ import annotations

import logging
from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from .. import __version__, clock
from ..api.keys import NAME as KEY_NAME
from ..api.keys import ApiKeys
from ..checkout import ledger
from ..checkout.pin import PinGuard, PinResult
from ..cryptom import CryptomError, NotFound, Rejected, Status
from ..displays import MODES, Display, PairingError
from ..jobs import queue_health
from .extensions import kiosk
from .screens import client_keys, message

bp = Blueprint("operator", __name__, url_prefix="/operator")
audit_log = logging.getLogger("kiosk.audit")

IDLE_SECONDS = 300


def guard() -> PinGuard:
    return PinGuard(kiosk().store, kiosk().settings.operator_pin)


def who() -> list[str]:
    """Wrong PINs count against this kiosk session and against the client's address."""
    return list(client_keys())


def audit(event: str, tx_id: str | None = None, key: str | None = None) -> None:
    """One line per operator action, with the client's address (never a PIN, never a key: a
    key's name only)."""
    extra: dict[str, Any] = {"event": event, "client": request.remote_addr or "-"}
    on = ""
    if tx_id is not None:
        extra["tx"], on = tx_id, f" on {tx_id}"
    if key is not None:
        extra["key"], on = key, f" on key {key}"
    audit_log.info("%s from %s%s", event, extra["client"], on, extra=extra)


def rotate_session() -> None:
    """A new session id whenever the operator's rights change, with the same contents (so a
    customer's checkout on this tablet carries on): an id learnt before is worth nothing after."""
    current_app.session_interface.regenerate(session)  # type: ignore[attr-defined]


def unlocked() -> bool:
    until = session.get("operator_until")
    return isinstance(until, int | float) and until > clock.now()


def end_operator_session() -> None:
    if session.pop("operator_until", None) is not None:
        rotate_session()


def operator_only(view: Any) -> Any:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if kiosk().settings.operator_pin is None:
            abort(404)
        if not unlocked():
            if "operator_until" in session:
                audit("operator.idle_lock")
            end_operator_session()
            return redirect(url_for(".pin"))
        session["operator_until"] = clock.now() + IDLE_SECONDS  # five idle minutes end it
        return view(*args, **kwargs)

    return wrapped


@bp.get("")
def pin() -> Any:
    if kiosk().settings.operator_pin is None:
        return render_template("operator/off.html"), 404
    if unlocked():
        return redirect(url_for(".today"))
    return render_template("operator/pin.html", locked_for=guard().locked_for(who()), error=None)


@bp.post("")
def pin_submit() -> Any:
    if kiosk().settings.operator_pin is None:
        abort(404)
    result = guard().check(str(request.form.get("pin", ""))[:32], who())
    if result.ok:
        session["operator_until"] = clock.now() + IDLE_SECONDS
        rotate_session()
        audit("operator.unlock")
        return redirect(url_for(".today"), 303)
    audit_refused(result, "operator")
    return render_template("operator/pin.html", locked_for=result.locked_for, error=pin_error(result)), 403


def audit_refused(result: PinResult, area: str) -> None:
    audit(f"{area}.pin_refused" if not result.compared else
          f"{area}.lockout" if result.locked_for else f"{area}.pin_wrong")


def pin_error(result: PinResult) -> str:
    if result.locked_for:
        return _("Too many wrong PINs. Try again in %(minutes)d minutes.",
                 minutes=max(1, (result.locked_for + 59) // 60))
    return _("Wrong PIN. %(left)d tries left.", left=result.tries_left)


@bp.post("/lock")
def lock() -> Any:
    if unlocked():
        audit("operator.lock")
    end_operator_session()
    return redirect(url_for("kiosk.amount"), 303)


@bp.get("/today")
@operator_only
def today() -> Any:
    settings = kiosk().settings
    summary = error = None
    try:
        summary, rows = ledger.today(kiosk().client, settings.timezone)
        kiosk().checkout.observe(rows)
    except CryptomError:
        error = _("Cryptom Pay is not answering right now.")
    return render_template("operator/today.html", summary=summary, error=error,
                           attention=kiosk().checkout.attention(),
                           queue=queue_health(kiosk().jobs, with_queue=False))


@bp.post("/attention/<tx_id>/dismiss")
@operator_only
def dismiss(tx_id: str) -> Any:
    kiosk().checkout.dismiss(tx_id)
    audit("operator.dismiss", tx_id)
    return redirect(url_for(".today"), 303)


@bp.get("/history")
@operator_only
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
    return render_template("operator/history.html", query=query, page=page, error=error,
                           statuses=ledger.STATUSES, coins=kiosk().settings.coins)


@bp.get("/tx/<tx_id>")
@operator_only
def detail(tx_id: str) -> Any:
    try:
        tx = kiosk().checkout.lookup(tx_id)
    except NotFound:
        abort(404)
    except CryptomError:
        return render_template("operator/detail.html", tx=None,
                               error=_("Cryptom Pay is not answering right now.")), 503
    record = kiosk().checkout.record(tx_id)
    return render_template("operator/detail.html", tx=tx, error=None,
                           cancellable=not tx.is_paid and tx.status in (Status.PENDING, Status.TRANSFERRED),
                           record=record, display=kiosk().displays.get(record.display if record else None))


@bp.post("/tx/<tx_id>/cancel")
@operator_only
def cancel(tx_id: str) -> Any:
    try:
        kiosk().checkout.cancel_by_operator(tx_id)
    except NotFound:
        abort(404)
    audit("operator.cancel", tx_id)
    return redirect(url_for(".detail", tx_id=tx_id), 303)


@bp.get("/settings")
@operator_only
def settings() -> Any:
    return render_template("operator/settings.html", health=ledger.health(kiosk().client),
                           queue=queue_health(kiosk().jobs), version=__version__)


# -- displays ---------------------------------------------------------------------------------


def render_displays(error: str | None = None, status: int = 200, values: Any = None) -> Any:
    services = kiosk()
    rows = [(d, services.displays.online(d), services.orders.busy(d), services.displays.last_seen(d))
            for d in services.displays.all()]
    return render_template("operator/displays.html", rows=rows, error=error, values=values or {},
                           modes=MODES, paired=request.args.get("paired")), status


def display_or_404(display_id: str) -> Display:
    display = kiosk().displays.get(display_id)
    if display is None:
        abort(404)
    return display


@bp.get("/displays")
@operator_only
def displays() -> Any:
    return render_displays()


@bp.post("/displays")
@operator_only
def pair() -> Any:
    form = request.form
    try:
        display = kiosk().displays.pair(form.get("code"), form.get("name"), form.get("mode"))
    except PairingError as err:
        return render_displays(message(err), 422, values=form)
    audit("operator.display_pair")
    return redirect(url_for(".displays", paired=display.id), 303)


@bp.post("/displays/<display_id>/<change>")
@operator_only
def change_display(display_id: str, change: str) -> Any:
    """Rename a display, or change its mode."""
    field = {"rename": "name", "mode": "mode"}.get(change)
    if field is None:
        abort(404)
    display = display_or_404(display_id)
    services = kiosk().displays
    try:
        (services.rename if change == "rename" else services.set_mode)(display, request.form.get(field))
    except PairingError as err:
        return render_displays(message(err), 422)
    audit(f"operator.display_{change}")
    return redirect(url_for(".displays"), 303)


@bp.post("/displays/<display_id>/unpair")
@operator_only
def unpair(display_id: str) -> Any:
    kiosk().orders.unpair(display_or_404(display_id))
    audit("operator.display_unpair")
    return redirect(url_for(".displays"), 303)


# -- the till API's keys ---------------------------------------------------------------------


@bp.get("/keys")
@operator_only
def api_keys() -> Any:
    """None is made here: a new key is shown once, on the server (`kiosk keys create NAME`),
    so a key never reaches a browser."""
    keys = ApiKeys(kiosk().store)
    rows = [(key, keys.last_used(key.name)) for key in keys.all()]
    revoked = request.args.get("revoked", "")
    gone = revoked if KEY_NAME.fullmatch(revoked) and keys.get(revoked) is None else None
    return render_template("operator/keys.html", rows=rows, revoked=gone)


@bp.post("/keys/<name>/revoke")
@operator_only
def revoke_key(name: str) -> Any:
    if not ApiKeys(kiosk().store).revoke(name):
        abort(404)
    audit("operator.key_revoke", key=name)
    return redirect(url_for(".api_keys", revoked=name), 303)
