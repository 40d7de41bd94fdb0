"""The till API, /api/v1: a till (a POS, an ERP) sends checkouts to the shop's displays and
learns their outcome. JSON in and out, a bearer key per till, errors as
{"error": {"code", "message"}}. The routes are thin: the orders of kiosk/displays hold the rules,
the same ones the cashier's console uses.

    GET    /api/v1/displays                  the shop's displays
    POST   /api/v1/displays                  pair one with the code it shows
    DELETE /api/v1/displays/<id>             unpair it
    POST   /api/v1/checkouts                 send a checkout to a display (Idempotency-Key)
    GET    /api/v1/checkouts                 the latest, newest first (display_id, status, limit)
    GET    /api/v1/checkouts/<id>            one, as upstream says now (shared with the display)
    POST   /api/v1/checkouts/<id>/cancel     cancel it; paid meanwhile stays paid
    GET    /api/v1/openapi.json              the contract (no key needed)
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request, send_file
from flask_limiter import RateLimitExceeded
from redis.exceptions import RedisError
from werkzeug.exceptions import HTTPException

from .. import clock
from ..checkout.inputs import NOTE_MAX, REFERENCE_MAX, InputError
from ..displays import (
    STATUSES,
    DisplayBusy,
    DisplayNotInTillMode,
    DisplayOffline,
    IdempotencyConflict,
    Order,
    PairingError,
    parse_lines,
)
from ..displays.models import check_total
from ..services import kiosk
from ..tills import ApiKeys, present
from .errors import ApiError, answer
from .reading import BODY_MAX, body, clean, input_message, parse_api_amount, text

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api/v1")

IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,64}")  # printable ASCII, no spaces
_ORDER_ID = re.compile(r"chk_[0-9a-f]{16}")
_DISPLAY_ID = re.compile(r"[0-9a-f]{12}")
LIST_MAX = 100
OPENAPI = __file__.rsplit("/", 1)[0] + "/openapi.json"


def keys() -> ApiKeys:
    return ApiKeys(kiosk().store)


# -- every request ---------------------------------------------------------------------------


@bp.after_request
def no_store(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.errorhandler(ApiError)
def api_error(err: ApiError) -> Any:
    return answer(err)


@bp.errorhandler(HTTPException)
def http_error(err: HTTPException) -> Any:
    if err.code == 401:  # the access check found no valid key (kiosk.web.access)
        return answer(ApiError("unauthorized", "A valid API key is needed: Authorization: Bearer <key>."))
    if isinstance(err, RateLimitExceeded):  # the key's rate limit (Flask-Limiter: kiosk.app)
        return answer(rate_limited(err))
    if err.code == 413:
        return answer(ApiError("invalid_request", f"The body can be at most {BODY_MAX} bytes.", status=413))
    if err.code == 405:
        return answer(ApiError("not_found", "No such route."))
    if err.code == 400:
        return answer(ApiError("invalid_request", "The request could not be read."))
    return answer(ApiError("not_found", "No such route.")) if err.code == 404 else answer(
        ApiError("unavailable", "The kiosk could not answer; try again."))


def rate_limited(err: RateLimitExceeded) -> ApiError:
    """The limit and when its window ends, from the count Flask-Limiter just refused."""
    item = err.limit.limit
    retry = 1
    for limiter in current_app.extensions.get("limiter", ()):
        breached = limiter.current_limit
        if breached is not None and breached.breached:
            retry = max(1, math.ceil(breached.window.reset_time - clock.now()))
    message = f"More than {item.amount} requests in {item.get_expiry()} s with this key."
    return ApiError("rate_limited", message, {"Retry-After": str(retry)})


@bp.errorhandler(RedisError)
def store_away(err: RedisError) -> Any:
    return answer(ApiError("unavailable", "The kiosk's store is not answering; try again."))


@bp.errorhandler(Exception)
def unexpected(err: Exception) -> Any:
    log.exception("till API request failed")
    return answer(ApiError("unavailable", "The kiosk could not answer; try again."))


# -- displays ---------------------------------------------------------------------------------


@bp.get("/displays")
def list_displays() -> Any:
    services = kiosk()
    return jsonify({"data": [present.display(d, services.displays, services.orders)
                             for d in services.displays.all()]})


@bp.post("/displays")
def pair_display() -> Any:
    data = body()
    code = text(data, "pairing_code", required=True, most=32)
    name = text(data, "name", required=True, most=200)
    mode = text(data, "mode", most=20) or "till"
    services = kiosk()
    try:
        item = services.displays.pair(code, name, mode)
    except PairingError as err:
        code_problem = "code" in err.message or "paired already" in err.message
        raise ApiError("not_found" if code_problem else "invalid_request", input_message(err)) from None
    log.info("display paired by the till API key=%s display=%s", g.api_key, item.id)
    return jsonify(present.display(item, services.displays, services.orders)), 201


@bp.delete("/displays/<display_id>")
def unpair_display(display_id: str) -> Any:
    services = kiosk()
    item = services.displays.get(display_id) if _DISPLAY_ID.fullmatch(display_id) else None
    if item is None:
        raise ApiError("not_found", "No display with this id.")
    services.orders.unpair(item, by="till")
    log.info("display unpaired by the till API key=%s display=%s", g.api_key, item.id)
    return Response(status=204)


# -- checkouts --------------------------------------------------------------------------------


@bp.post("/checkouts")
def create_checkout() -> Any:
    key = request.headers.get("Idempotency-Key")
    if key is None or not IDEMPOTENCY_KEY.fullmatch(key):
        raise ApiError("invalid_request", "The Idempotency-Key header is required: 1-64 printable "
                                          "characters, the same for every retry of this checkout.")
    data = body()
    services = kiosk()
    settings = services.settings
    display_id = text(data, "display_id", required=True, most=64)
    raw_amount = data.get("amount")
    if raw_amount is None:
        raise ApiError("invalid_request", "amount is required.")
    # Before the amount: its digits are the shop's currency's.
    currency = text(data, "currency", most=8)
    if currency is not None and currency != settings.currency:
        raise ApiError("invalid_currency", f"This kiosk prices in {settings.currency} only, not in "
                                           f"{currency}.")
    amount = parse_api_amount(raw_amount, settings.min_amount, settings.max_amount, settings.currency)
    reference = clean(text(data, "reference", most=REFERENCE_MAX), "reference")
    if "tip_amount" in data or "total_amount" in data:
        # The customer chooses the tip on the display; a till's own would be dropped unseen.
        raise ApiError("invalid_request", "A till does not send tip_amount or total_amount: the customer "
                                          "chooses the tip on the display (ask_tip).")
    ask_tip = data.get("ask_tip", True)
    if not isinstance(ask_tip, bool):
        raise ApiError("invalid_request", "ask_tip is true or false.")
    note = clean(text(data, "note", most=NOTE_MAX), "note")
    try:
        lines = parse_lines(data.get("lines"), amount, settings.currency, add_up=False)
    except InputError as err:
        raise ApiError("invalid_request", input_message(err)) from None
    try:
        check_total(lines, amount)
    except InputError as err:
        raise ApiError("invalid_amount", input_message(err)) from None
    display = services.displays.get(display_id) if _DISPLAY_ID.fullmatch(display_id or "") else None
    if display is None:
        raise ApiError("not_found", "No display with this id.")
    # What was asked, so a retry with the same key is told apart from another checkout.
    fingerprint = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:32]
    try:
        order, new = services.orders.send_once(
            display, amount, reference=reference, note=note, lines=lines, source="api",
            key=f"api:{g.api_key}:{key}", fingerprint=fingerprint, ask_tip=ask_tip)
    except IdempotencyConflict:
        raise ApiError("idempotency_conflict", "This Idempotency-Key was used for another checkout "
                                               "in the last 24 hours.") from None
    except DisplayOffline:
        raise ApiError("display_offline", f"{display.name} has not been seen for 30 seconds: check "
                                          "that its screen is on and connected.") from None
    except DisplayNotInTillMode:
        raise ApiError("display_busy", f"{display.name} is in keypad mode: the customer types the "
                                       "amount there. Switch it to till mode first.") from None
    except DisplayBusy:
        raise ApiError("display_busy", f"{display.name} is showing another checkout: wait for it to "
                                       "end, or cancel it.") from None
    except InputError as err:
        raise ApiError("invalid_amount", input_message(err)) from None
    if new:
        log.info("checkout sent by the till API key=%s id=%s display=%s", g.api_key, order.id, display.id)
        services.booking.sent_by(order.id, "till", g.api_key)  # the ledger: which till sent it
    state = services.orders.state(order)
    return jsonify(present.checkout(state, services.orders)), 201 if new else 200


def order_or_404(order_id: str) -> Order:
    order = kiosk().orders.get(order_id) if _ORDER_ID.fullmatch(order_id) else None
    if order is None:
        raise ApiError("not_found", "No checkout with this id.")
    return order


@bp.get("/checkouts")
def list_checkouts() -> Any:
    args = request.args
    display_id = args.get("display_id") or None
    status = args.get("status") or None
    if status is not None and status not in STATUSES:
        raise ApiError("invalid_request", f"status is one of {', '.join(STATUSES)}.")
    raw_limit = args.get("limit", "20")
    # ASCII digits only: str.isdigit() takes "²" (which int() refuses) and "١٢" (which it reads).
    if not re.fullmatch(r"[0-9]{1,9}", raw_limit) or not 1 <= int(raw_limit) <= LIST_MAX:
        raise ApiError("invalid_request", f"limit is a whole number from 1 to {LIST_MAX}.")
    orders = kiosk().orders
    states = orders.recent(display_id=display_id, limit=10**6)
    chosen = [s for s in states if status in (None, s.status)][: int(raw_limit)]
    return jsonify({"data": [present.checkout(s, orders) for s in chosen]})


@bp.get("/checkouts/<order_id>")
def get_checkout(order_id: str) -> Any:
    orders = kiosk().orders
    # Upstream is read at most once per half poll interval, shared with the display's own poll.
    state = orders.state(order_or_404(order_id), look=True)
    return jsonify(present.checkout(state, orders))


@bp.post("/checkouts/<order_id>/cancel")
def cancel_checkout(order_id: str) -> Any:
    orders = kiosk().orders
    order = order_or_404(order_id)
    state = orders.cancel(order, "till")
    if state.view is not None and state.view.reconnecting and not state.final:
        raise ApiError("unavailable", "Cryptom Pay did not answer the cancel; the checkout is still "
                                      "open. Try again in a moment.")
    log.info("checkout cancel by the till API key=%s id=%s status=%s", g.api_key, order.id, state.status)
    return jsonify(present.checkout(state, orders))


@bp.get("/openapi.json")
def openapi() -> Any:
    response = send_file(OPENAPI, mimetype="application/json", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


# The root too, with and without its slash: every path under /api/v1 answers the API's JSON.
@bp.route("", defaults={"anything": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
          strict_slashes=False)
@bp.route("/<path:anything>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(anything: str) -> Any:
    raise ApiError("not_found", "No such route.")
