"""The customer's screens. Read top to bottom, the routes are the journey:

    /                  amount        enter the amount (and, if asked, mobile and note)
    /language  (POST)                the customer's language, until the next customer
    /tip               tip           a tip, when KIOSK_TIPS offers one (kiosk.web.tipping)
    /coin              coin          pick the coin when more than one is offered
    /reset     (POST)                back to a fresh amount screen (Back, or the idle timer)
    /pay/<id>          pay           QR, address, countdown; includes the status fragment
    /pay/<id>/status   _status       polled by htmx; the server decides the next screen
    /pay/<id>/qr.png                 the QR image, served by the kiosk itself
    /pay/<id>/cancel   (POST)        the customer gives up
    /result/<id>       result        paid, cancelled, expired, partial: then back to amount
    /result/<id>/hold                polled by a result that waits for staff (see checkout/hold.py)
    /result/<id>/release (POST)      staff end it with their PIN
    /receipt/<id>      receipt       a printable receipt of a paid payment (KIOSK_RECEIPTS)
    /done      (POST)                the next customer
"""

from __future__ import annotations

import re
import secrets
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode

from flask import (
    Blueprint,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from redis.exceptions import RedisError
from werkzeug.exceptions import HTTPException

from ..checkout import StartLimited, StartRejected, StartUnavailable, ownership
from ..checkout.inputs import InputError, parse_amount, parse_mobile, parse_note
from ..i18n import STAFF_LANGUAGES
from ..services import kiosk
from . import callers, health
from . import format as fmt
from .display import state_token
from .extensions import current_locale
from .sessions import SHOW_AGAIN

bp = Blueprint("kiosk", __name__)

NONCE_BYTES = 18
# Exactly what new_nonce issues: 18 random bytes in URL-safe base64, 24 characters.
_NONCE = re.compile(r"[A-Za-z0-9_-]{24}")


def locale() -> str:
    return current_locale()


def new_nonce() -> str:
    return secrets.token_urlsafe(NONCE_BYTES)


def valid_nonce(value: str | None) -> str | None:
    """A form's nonce, only of the shape the server issues (a form guard's own namespace keeps
    it apart from everything else too)."""
    if value and _NONCE.fullmatch(value):
        return value
    return None


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def message(err: InputError) -> str:
    params = dict(err.params)
    if err.amount is not None:
        params["amount"] = fmt.fiat(err.amount, locale(), kiosk().settings.currency)
    count = params.pop("num", None)
    if err.plural is not None and isinstance(count, int):
        return ngettext(err.message, err.plural, count, **params)
    return _(err.message, **params)


# -- amount -------------------------------------------------------------------------------


@bp.get("/")
def amount() -> Any:
    open_tx = session.get("tx")
    if open_tx and kiosk().checkout.record_for(open_tx, owner()):
        if not kiosk().checkout.is_closed(open_tx):
            return redirect(url_for(".pay", tx_id=open_tx))
        if paying.held(open_tx):  # a result that waits for staff
            return redirect(url_for(".result", tx_id=open_tx))
    if health.store_refuses_writes():  # no payment can start: say so before anyone types
        return health.out_of_order()
    # Saved again at each showing: an unattended tablet loads this screen every few hours
    # (kiosk.js), so its session, and the form's token, never run out overnight.
    session.modified = True
    return render_amount()


def render_amount(error: str | None = None, status: int = 200, **values: Any) -> Any:
    s = kiosk().settings
    owner(create=True)  # before the form exists: a double tap's requests share one owner
    display = callers.display()
    html = render_template(
        "kiosk/amount.html", error=error, nonce=new_nonce(), values=values,
        min_amount=s.min_amount, max_amount=s.max_amount,
        freshen_seconds=int(SHOW_AGAIN.total_seconds()),
        # A paired display in keypad mode notices on its own when staff change or unpair it.
        state_token=state_token(display, callers.credential()) if display else None,
    )
    return html, status


@bp.post("/")
def amount_submit() -> Any:
    s = kiosk().settings
    form = request.form
    try:
        value = parse_amount(form.get("amount"), s.min_amount, s.max_amount, s.currency)
        mobile = parse_mobile(form.get("mobile")) if s.ask_mobile else None
        note = parse_note(form.get("note")) if s.ask_note else None
    except InputError as err:
        return render_amount(message(err), 422, mobile=form.get("mobile", ""),
                             note=form.get("note", ""))
    session["amount"] = str(value)
    session["mobile"] = mobile
    session["note"] = note
    session.pop("tip", None)
    if s.tips:
        return redirect(url_for(".tip"))
    if len(s.coins) > 1:
        return redirect(url_for(".coin"))
    return start(form.get("nonce"), s.coins[0].key, retry=".amount")


# -- coin ---------------------------------------------------------------------------------


def tip_due() -> bool:
    """The tip screen comes first and has not been answered."""
    return bool(kiosk().settings.tips) and session.get("tip") is None


@bp.get("/coin")
def coin() -> Any:
    if not session.get("amount"):
        return redirect(url_for(".amount"))
    if tip_due():
        return redirect(url_for(".tip"))
    return render_coin()


def render_coin(error: str | None = None, status: int = 200) -> Any:
    return render_template(
        "kiosk/coin.html", coins=kiosk().settings.coins, amount=Decimal(session["amount"]),
        tip=Decimal(session.get("tip") or 0), nonce=new_nonce(), error=error,
    ), status


@bp.post("/coin")
def coin_submit() -> Any:
    if not session.get("amount"):
        return redirect(url_for(".amount"))
    if tip_due():
        return redirect(url_for(".tip"), 303)
    return start(request.form.get("nonce"), request.form.get("coin", ""), retry=".coin")


@bp.post("/reset")
def reset() -> Any:
    """Back to a fresh amount screen: the Back button, or the idle timer (which also gives the
    next customer the shop's language again)."""
    for key in ("amount", "mobile", "note", "tip"):
        session.pop(key, None)
    if request.form.get("idle"):
        session.pop("locale", None)
    return redirect(url_for(".amount"))


# Where a language button may send the browser back to: the screens that show one.
LANGUAGE_SCREENS = frozenset({"kiosk.amount", "kiosk.tip", "kiosk.coin", "kiosk.pay", "display.show",
                              "till.console", "till.checkout", "operator.pin"})


@bp.post("/language")
def language() -> Any:
    """A customer's language (one the shop offers), or staff's Turkish or English; then back to
    the screen the button was on."""
    chosen = request.form.get("locale")
    if chosen in kiosk().settings.languages or chosen in STAFF_LANGUAGES:
        session["locale"] = chosen
    return redirect(screen_of(request.form.get("next")), 303)


def screen_of(path: str | None, screens: frozenset[str] = LANGUAGE_SCREENS, fallback: str = ".amount") -> str:
    """The screen `path` names (one of `screens`), rebuilt from the route map with its query (a
    history's filters) encoded afresh; `fallback` for anything else."""
    if path and path.startswith("/") and not path.startswith("//"):
        path, _, query = path.partition("?")
        try:
            endpoint, args = current_app.url_map.bind("localhost").match(path, method="GET")
        except HTTPException:
            endpoint, args = None, {}
        if endpoint in screens:
            pairs = parse_qsl(query, keep_blank_values=True)
            return url_for(endpoint, **args) + (f"?{urlencode(pairs)}" if pairs else "")
    return url_for(fallback)


def client_keys() -> tuple[str, ...]:
    """Who a limit counts against: this kiosk session and the client's address."""
    keys = [f"addr:{request.remote_addr or '-'}"]
    sid = getattr(session, "sid", None)  # flask-session's id of the server-side session
    if sid:
        keys.append(f"session:{sid}")
    return tuple(keys)


def start(nonce: str | None, coin_key: str, retry: str) -> Any:
    settings = kiosk().settings
    pair = settings.coin(coin_key)
    nonce = valid_nonce(nonce)
    render = render_coin if retry == ".coin" else render_amount
    if retry == ".tip":
        from .tipping import render_tip as render
    if pair is None:
        return render(_("Choose one of the coins shown."), 422)
    if nonce is None:
        return render(_("This form has expired. Please try again."), 422)
    display = callers.display()
    try:
        tx_id = kiosk().checkout.start(
            nonce, Decimal(session["amount"]), pair.coin, pair.network,
            session.get("mobile"), session.get("note"), limit_keys=client_keys(),
            owner=owner(create=True), display=display.id if display else None,
            tip=Decimal(session.get("tip") or 0),
        )
    except StartLimited:
        return render(_("Too many new payments from this kiosk. Please wait a minute and try again."), 429)
    except StartUnavailable:
        return render(_("Cryptom Pay is not answering right now. Please try again in a moment."), 503)
    except StartRejected as err:
        return render(_("The payment could not be started: %(reason)s", reason=str(err)), 422)
    for key in ("amount", "mobile", "note", "tip"):
        session.pop(key, None)
    session["tx"] = tx_id
    kiosk().prints.note_language(tx_id, locale())  # its receipt speaks the customer's language
    return redirect(url_for(".pay", tx_id=tx_id), 303)


# -- whose checkout -------------------------------------------------------------------------


def owner(create: bool = False) -> str | None:
    """This browser as the owner of its checkouts. A paired display is `display:<id>`, whatever
    its session. Any other is a kiosk browser: a random id kept in its session, made on first
    need. Not the session id, which is rotated when staff unlock the operator area."""
    display = callers.display()
    if display is not None:
        return display.owner
    kiosk_id = session.get("kiosk_id")
    if not isinstance(kiosk_id, str) and create:
        kiosk_id = session["kiosk_id"] = secrets.token_urlsafe(18)
    return ownership.kiosk(kiosk_id) if isinstance(kiosk_id, str) else None


@bp.app_errorhandler(404)
def not_found(err: Exception) -> Any:
    response = make_response(render_template("kiosk/missing.html"), 404)
    if is_htmx() and callers.credential():
        # A display polling a payment it no longer may see (it was unpaired): back to its code.
        response.headers["HX-Redirect"] = url_for("display.show")
    return response


@bp.app_errorhandler(500)
@bp.app_errorhandler(RedisError)
def server_error(err: Exception) -> Any:
    # Flask has logged the exception; the customer gets a calm screen, never a stack trace.
    # A poll that gets this keeps its pay screen: htmx swaps nothing on an error answer.
    if health.note_refusal(getattr(err, "original_exception", None) or err):
        return health.out_of_order()
    return render_template("kiosk/error.html"), 503


# The payment's own screens (pay, status, cancel, result, receipt, done) on this blueprint.
from . import paying, tipping  # noqa: E402, F401
