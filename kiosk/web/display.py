"""The display's own screens. An unpaired browser shows its pairing code; a paired display in
till mode waits on its welcome screen for the console or a till, then shows the order, the coin
choice and the very same pay, status and result screens as a keypad kiosk:

    /display                 pairing code, welcome screen, or the order the display holds now
    /display/poll            every poll interval: has anything changed? (no session, no upstream,
                             and for a browser the kiosk does not know, no write at all)
    /display/tip    (POST)   the customer's tip, when the order asks for one (KIOSK_TIPS)
    /display/coin   (POST)   the customer picks a coin: the order's one upstream transaction
    /display/cancel (POST)   the customer gives up before picking a coin
    /display/logo            the shop's logo (KIOSK_LOGO)
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    g,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _

from .. import clock
from ..checkout import StartLimited, StartRejected, StartUnavailable
from ..checkout.inputs import InputError
from ..displays import Display, Order, OrderEnded, OrderState, pairing
from ..services import kiosk
from . import callers, health
from .extensions import current_locale

bp = Blueprint("display", __name__, url_prefix="/display")


def state_token(display: Display | None, credential: str | None) -> str:
    """What the display's screen depends on, as a short hash: the poll answers 304 while it is
    the same, and sends the screen to /display when it changes. Reads only, for a browser the
    kiosk does not know; a paired display's also asks whether the store takes writes (one fixed
    key, at most every few seconds per process)."""
    if display is None:
        # An unpaired browser's code, and whether it is due for a new one: /display renews it.
        code = kiosk().displays.shown_code(credential)
        renew = code is not None and code.expires - clock.now() <= pairing.RENEW_BEFORE
        what = f"code:{code.code}:{renew}" if code else "none"
    elif health.store_refuses_writes():
        what = f"{display.id}:out-of-order"
    else:
        order = kiosk().orders.current(display)
        status = kiosk().orders.state(order).status if order else "-"
        what = f"{display.id}:{display.mode}:{display.name}:{order.id if order else '-'}:{status}"
    return hashlib.sha256(what.encode()).hexdigest()[:16]


@bp.get("")
def show() -> Any:
    display, credential = callers.display(), callers.credential()
    # The credential that showed the pairing code is swapped for the display's own on its first
    # look after pairing (see Displays.hand_over for why).
    handed = kiosk().displays.hand_over(credential)
    if handed is not None:
        display, credential = handed
        g.display = display
    if display is None or credential is None:
        return pairing_screen()
    if health.store_refuses_writes():
        response = make_response(health.out_of_order(state_token=state_token(display, credential)))
    else:
        kiosk().displays.seen(display)
        response = make_response(display_screen(display))
    # Every visit renews the cookie (browsers keep one at most 400 days), whatever it shows.
    return callers.remember(response, credential)


def display_screen(display: Display) -> Any:
    if display.mode == "keypad":
        return redirect(url_for("kiosk.amount"))
    order = kiosk().orders.current(display)
    if order is None:
        return screen("display/idle.html", display)
    state = kiosk().orders.state(order)
    tx_id = kiosk().orders.tx_of(order)
    if tx_id is not None:
        return redirect(url_for("kiosk.pay", tx_id=tx_id))  # the pay screen, or its result
    if state.status == "pending":
        if asks_tip(order):
            return tip_screen(display, order, custom=request.args.get("tip") == "custom")
        coins = kiosk().settings.coins
        if len(coins) == 1:
            # Nothing for the customer to choose: the order's transaction is made as it is shown
            # (once, however often the screen is loaded).
            return begin(display, order, coins[0].key)
        return order_screen(display, state)
    return ended_screen(state)


def screen(template: str, display: Display | None, status: int = 200, **values: Any) -> Any:
    token = state_token(display, callers.credential())
    return render_template(template, display=display, state_token=token, **values), status


def pairing_screen() -> Any:
    """An unpaired browser's code. A cookie the kiosk did not issue (or retired) counts as none:
    the browser gets a credential of the kiosk's making, and every new code, a new browser's or a
    renewal, counts against the client's address."""
    address = request.remote_addr or "-"
    credential = callers.credential()
    code = kiosk().displays.code_for(credential, address)
    if code is None:
        issued = kiosk().displays.issue(address)
        if issued is None:
            return render_template("display/pairing.html", code=None, state_token=None), 429
        credential, code = issued
    response = make_response(render_template("display/pairing.html", code=code, now=clock.now(),
                                             state_token=state_token(None, credential)))
    return callers.remember(response, str(credential))


def order_screen(display: Display, state: OrderState, error: str | None = None, status: int = 200) -> Any:
    return screen("display/order.html", display, status, order=state.order,
                  coins=kiosk().settings.coins, error=error, tip=kiosk().orders.tip_of(state.order) or 0)


def asks_tip(order: Order) -> bool:
    """The order asks for a tip (the kiosk offers tips, the till or the console did not turn
    it off) and the customer has not answered yet."""
    return bool(kiosk().settings.tips) and order.ask_tip and kiosk().orders.tip_of(order) is None


def tip_screen(display: Display, order: Order, custom: bool = False, error: str | None = None,
               status: int = 200) -> Any:
    from .tipping import custom_value, tip_page

    html = tip_page(order.amount, action=url_for(".tip"), hidden={"order": order.id},
                    custom_url=url_for(".show", tip="custom"), presets_url=url_for(".show"), custom=custom,
                    error=error, value=custom_value() if custom and error else "", order=order,
                    state_token=state_token(display, callers.credential()),
                    cancel={"action": url_for(".cancel"), "hidden": {"order": order.id}, "testid": "cancel",
                            "label": _("Cancel payment")})
    return html, status


def ended_screen(state: OrderState) -> Any:
    """An order that ended before the customer picked a coin: the result screen, no transaction."""
    order = state.order
    return render_template("kiosk/result.html", view=None, record=order, tx=None, outcome=state.status,
                           reference=order.reference, order=order, till_display=True)


def begin(display: Display, order: Order, coin_key: str) -> Any:
    pair = kiosk().settings.coin(coin_key)
    state = kiosk().orders.state(order)
    if pair is None:
        return order_screen(display, state, _("Choose one of the coins shown."), 422)
    try:
        tx_id = kiosk().orders.begin(order, pair.coin, pair.network)
    except OrderEnded:
        return redirect(url_for(".show"), 303)
    except (StartUnavailable, StartLimited):
        return order_screen(display, state, _("Cryptom Pay is not answering right now. "
                                              "Please try again in a moment."), 503)
    except StartRejected as err:
        return order_screen(display, state, _("The payment could not be started: %(reason)s",
                                              reason=str(err)), 422)
    kiosk().prints.note_language(tx_id, current_locale())  # its receipt speaks the customer's language
    return redirect(url_for("kiosk.pay", tx_id=tx_id), 303)


def current_order() -> tuple[Display, Order]:
    display = callers.display()
    order = kiosk().orders.current(display) if display is not None else None
    if display is None or order is None:
        abort(404)
    return display, order


@bp.post("/coin")
def coin() -> Any:
    display, order = current_order()
    if request.form.get("order") != order.id or asks_tip(order):
        # A stale screen (or a coin before the tip's answer): show what is there now.
        return redirect(url_for(".show"), 303)
    return begin(display, order, request.form.get("coin", ""))


@bp.post("/tip")
def tip() -> Any:
    display, order = current_order()
    if request.form.get("order") != order.id or not asks_tip(order):
        return redirect(url_for(".show"), 303)  # a stale screen, or answered already
    from .screens import message
    from .tipping import answer

    try:
        chosen = answer(order.amount)
    except InputError as err:
        return tip_screen(display, order, custom=request.form.get("tip") == "custom", error=message(err),
                          status=422)
    kiosk().orders.choose_tip(order, chosen)
    return redirect(url_for(".show"), 303)


@bp.post("/cancel")
def cancel() -> Any:
    _display, order = current_order()
    if request.form.get("order") == order.id:
        kiosk().orders.cancel(order, "customer")
    return redirect(url_for(".show"), 303)


@bp.get("/poll")
def poll() -> Response:
    """Asked every poll interval by a waiting display, all day long: store reads only, no session
    (the session interface skips this path), no upstream call, and 304 while nothing changed.
    A browser the kiosk does not know gets "go to /display" and nothing is written for it."""
    credential = callers.credential()
    display = kiosk().displays.by_credential(credential)
    token = state_token(display, credential)
    if display is not None and not health.store_refuses_writes():
        kiosk().displays.seen(display)
    if request.args.get("s") != token:
        response = Response(status=200)
        response.headers["HX-Redirect"] = url_for(".show")
        response.headers["Cache-Control"] = "no-store"
        return response
    response = Response(status=304 if request.if_none_match.contains(token) else 200)
    response.set_etag(token)
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.get("/logo")
def logo() -> Any:
    path = kiosk().settings.logo
    if path is None:
        abort(404)
    response = send_file(path, max_age=3600)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
