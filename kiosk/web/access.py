"""Who may call what: every route and every job of the kiosk, in one table, checked in one place.

Each endpoint names one caller. Before any view runs, `check` proves the caller or answers as
the kiosk answers an unknown id: a 404 page for the customer's and the displays' routes (so a
stranger cannot learn that a checkout or a display exists), the PIN screen for the staff's areas
(whatever the id: the same answer for one that exists and one that does not), a 401 in the till
API's own JSON for the API. An endpoint missing from the table is refused to everyone, and a test
walks the URL map so a new route cannot forget its line.

Whether a route opens the session is a property of its line too: probes, static files, the till
API and the displays' poll never read or write one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypedDict

from flask import Flask, Request, abort, g, make_response, redirect, request, url_for
from werkzeug.exceptions import HTTPException, Unauthorized

from . import staff


class Who(StrEnum):
    ANYONE = "anyone"  # probes, static files, the API's contract, a display's pairing code and poll
    CUSTOMER = "customer"  # a keypad kiosk browser or a paired display (with KIOSK_REQUIRE_PAIRING: displays)
    OWNER = "owner"  # the customer (kiosk browser or display) that started checkout <tx_id>
    DISPLAY = "display"  # a paired display, with the credential the server issued it
    STAFF_DOOR = "staff door"  # a staff area's PIN screen and its Lock: anyone, while the area is on
    CASHIER = "cashier"  # the cashier PIN or the operator PIN, unlocked in this browser
    OPERATOR = "operator"  # the operator PIN, unlocked in this browser
    TILL = "till"  # a till's API key, as a bearer token
    NOBODY = "nobody"  # no caller from outside: the job consumer only


@dataclass(frozen=True)
class Rule:
    who: Who
    session: bool = True  # False: the route neither reads nor writes a session
    poll: bool = False  # a poll never keeps a staff area open and never writes its session
    keypad: bool = False  # the keypad's own screens: a display in till mode is sent to /display
    area: staff.Area | None = None  # the staff area of a STAFF_DOOR, CASHIER or OPERATOR line


class _Options(TypedDict, total=False):
    """A few options that many lines share, unpacked into Rule(...)."""

    session: bool
    area: staff.Area


_NO_SESSION: _Options = {"session": False}
_CASHIER: _Options = {"area": staff.CASHIER}
_OPERATOR: _Options = {"area": staff.OPERATOR}

# endpoint -> who may call it. Grouped as the README's table shows it.
ROUTES: dict[str, Rule] = {
    # Anyone: nothing here reveals or changes a sale.
    "static": Rule(Who.ANYONE, **_NO_SESSION),
    "health.healthz": Rule(Who.ANYONE, **_NO_SESSION),
    "health.readyz": Rule(Who.ANYONE, **_NO_SESSION),
    "api.openapi": Rule(Who.ANYONE, **_NO_SESSION),
    "display.show": Rule(Who.ANYONE),  # the pairing code, or the paired display's own screen
    "display.poll": Rule(Who.ANYONE, poll=True, **_NO_SESSION),
    "display.logo": Rule(Who.ANYONE, **_NO_SESSION),
    # The customer at a keypad kiosk or a display.
    "kiosk.amount": Rule(Who.CUSTOMER, keypad=True),
    "kiosk.amount_submit": Rule(Who.CUSTOMER, keypad=True),
    "kiosk.tip": Rule(Who.CUSTOMER, keypad=True),
    "kiosk.tip_submit": Rule(Who.CUSTOMER, keypad=True),
    "kiosk.coin": Rule(Who.CUSTOMER, keypad=True),
    "kiosk.coin_submit": Rule(Who.CUSTOMER, keypad=True),
    "kiosk.reset": Rule(Who.CUSTOMER),
    "kiosk.language": Rule(Who.CUSTOMER),
    "kiosk.done": Rule(Who.CUSTOMER),
    "kiosk.pay": Rule(Who.OWNER),
    "kiosk.status": Rule(Who.OWNER, poll=True),
    "kiosk.cancel": Rule(Who.OWNER),
    "kiosk.qr": Rule(Who.OWNER),
    "kiosk.result": Rule(Who.OWNER),
    "kiosk.result_hold": Rule(Who.OWNER, poll=True),
    "kiosk.release": Rule(Who.OWNER),  # with a staff PIN, checked there (it opens no staff area)
    "kiosk.receipt": Rule(Who.OWNER),
    "kiosk.receipt_qr": Rule(Who.OWNER),
    "display.tip": Rule(Who.DISPLAY),
    "kiosk.print_receipt": Rule(Who.OWNER),
    "kiosk.print_status": Rule(Who.OWNER, poll=True),
    "display.coin": Rule(Who.DISPLAY),
    "display.cancel": Rule(Who.DISPLAY),
    # The cashier's console.
    "till.console": Rule(Who.STAFF_DOOR, **_CASHIER),
    "till.pin_submit": Rule(Who.STAFF_DOOR, **_CASHIER),
    "till.lock": Rule(Who.STAFF_DOOR, **_CASHIER),
    "till.charge": Rule(Who.CASHIER, **_CASHIER),
    "till.checkout": Rule(Who.CASHIER, **_CASHIER),
    "till.status": Rule(Who.CASHIER, poll=True, **_CASHIER),
    "till.cancel": Rule(Who.CASHIER, **_CASHIER),
    "till.release": Rule(Who.CASHIER, **_CASHIER),
    "till.receipt": Rule(Who.CASHIER, **_CASHIER),
    "till.receipt_qr": Rule(Who.CASHIER, poll=True, **_CASHIER),
    "till.print_receipt": Rule(Who.CASHIER, **_CASHIER),
    # The operator's area.
    "operator.pin": Rule(Who.STAFF_DOOR, **_OPERATOR),
    "operator.pin_submit": Rule(Who.STAFF_DOOR, **_OPERATOR),
    "operator.lock": Rule(Who.STAFF_DOOR, **_OPERATOR),
    "operator.today": Rule(Who.OPERATOR, **_OPERATOR),
    "operator.language": Rule(Who.OPERATOR, **_OPERATOR),
    "operator.dismiss": Rule(Who.OPERATOR, **_OPERATOR),
    "operator.history": Rule(Who.OPERATOR, **_OPERATOR),
    "operator.detail": Rule(Who.OPERATOR, **_OPERATOR),
    "operator.cancel": Rule(Who.OPERATOR, **_OPERATOR),
    "operator.print_receipt": Rule(Who.OPERATOR, **_OPERATOR),
    "operator.dismiss_print": Rule(Who.OPERATOR, **_OPERATOR),
    "operator.settings": Rule(Who.OPERATOR, **_OPERATOR),
    "operator.displays": Rule(Who.OPERATOR, **_OPERATOR),
    "operator.pair": Rule(Who.OPERATOR, **_OPERATOR),
    "operator.change_display": Rule(Who.OPERATOR, **_OPERATOR),
    "operator.end_order": Rule(Who.OPERATOR, **_OPERATOR),
    "operator.unpair": Rule(Who.OPERATOR, **_OPERATOR),
    "operator.api_keys": Rule(Who.OPERATOR, **_OPERATOR),
    "operator.revoke_key": Rule(Who.OPERATOR, **_OPERATOR),
    "reports.export_csv": Rule(Who.OPERATOR, **_OPERATOR),
    "reports.overview_page": Rule(Who.OPERATOR, **_OPERATOR),
    "reports.close_day": Rule(Who.OPERATOR, **_OPERATOR),
    "reports.z_page": Rule(Who.OPERATOR, **_OPERATOR),
    "reports.z_csv": Rule(Who.OPERATOR, **_OPERATOR),
    "reports.print_x": Rule(Who.OPERATOR, **_OPERATOR),
    "reports.print_z": Rule(Who.OPERATOR, **_OPERATOR),
    # A till, with its API key.
    "api.list_displays": Rule(Who.TILL, **_NO_SESSION),
    "api.pair_display": Rule(Who.TILL, **_NO_SESSION),
    "api.unpair_display": Rule(Who.TILL, **_NO_SESSION),
    "api.create_checkout": Rule(Who.TILL, **_NO_SESSION),
    "api.list_checkouts": Rule(Who.TILL, **_NO_SESSION),
    "api.get_checkout": Rule(Who.TILL, **_NO_SESSION),
    "api.cancel_checkout": Rule(Who.TILL, **_NO_SESSION),
    "api.unknown": Rule(Who.TILL, **_NO_SESSION),  # a till learns which routes exist; nobody else
}

# The job queue's tasks: nobody from outside calls them; the consumer runs them (see kiosk/jobs).
JOBS: dict[str, Who] = {
    "watch": Who.NOBODY,
    "resolve_create": Who.NOBODY,
    "catch_up": Who.NOBODY,
    "sweep": Who.NOBODY,
    "reconcile": Who.NOBODY,
    "webhook": Who.NOBODY,
    "print": Who.NOBODY,
}

REFUSED = Rule(Who.NOBODY, session=False)


def rule_for(endpoint: str | None) -> Rule:
    """The line of an endpoint; one without a line is nobody's."""
    return ROUTES.get(endpoint or "", REFUSED)


def needs_session(app: Flask, req: Request) -> bool:
    """Asked by the session interface before the URL is matched: an unknown path opens none."""
    adapter = app.create_url_adapter(req)
    if adapter is None:
        return False
    try:
        endpoint, _args = adapter.match()
    except HTTPException:  # not found, a method not allowed, a redirect to the slash form
        return False
    return rule_for(str(endpoint)).session


def rule() -> Rule:
    """The current request's line."""
    return rule_for(request.endpoint)


# -- the one check ------------------------------------------------------------------------------


def check() -> Any:
    """Before every view (after the session opened, before the CSRF check): the caller proves
    to be who the route's line names, or gets the unknown id's answer."""
    if request.endpoint is None:
        return None  # no route: the 404 handler answers
    line = rule()
    who = line.who
    if who is Who.ANYONE:
        return None
    if who in (Who.CUSTOMER, Who.OWNER):
        return _customer(line)
    if who is Who.DISPLAY:
        if _display() is None:
            abort(404)
        return None
    if who is Who.STAFF_DOOR:
        assert line.area is not None
        if not staff.enabled(line.area) and request.endpoint != "operator.pin":
            abort(404)  # the operator's PIN screen explains to the shop how to turn the area on
        return None
    if who in (Who.CASHIER, Who.OPERATOR):
        assert line.area is not None
        return staff.require(line.area, poll=line.poll)
    if who is Who.TILL:
        return _till()
    abort(404)


def _display() -> Any:
    from . import callers

    return callers.display()


def _customer(line: Rule) -> Any:
    """With KIOSK_REQUIRE_PAIRING only paired displays reach the customer's screens: anyone else
    is sent to /display (pages) or told nothing exists (everything else)."""
    from ..services import kiosk

    display = _display()
    if display is None:
        if kiosk().settings.require_pairing:
            if request.method == "GET" and request.headers.get("HX-Request") != "true":
                return redirect(url_for("display.show"))
            abort(404)
    else:
        kiosk().displays.seen(display)
        # A display in till mode takes its amounts from the console or a till, never from the customer.
        if display.mode == "till" and line.keypad:
            return redirect(url_for("display.show"), 303)
    if line.who is Who.OWNER:
        g.record = _owned((request.view_args or {}).get("tx_id", ""))
    return None


def _owned(tx_id: str) -> Any:
    """This browser's own checkout; anyone else's answers exactly as an unknown id does."""
    from ..services import kiosk
    from .screens import owner

    record = kiosk().checkout.record_for(tx_id, owner()) if 0 < len(tx_id) <= 64 else None
    if record is None:
        abort(404)
    return record


def owned_record() -> Any:
    """The checkout the access check found this request's caller to own."""
    return g.record


def _till() -> None:
    """A till's bearer key: a refused key writes nothing. Its rate limit is counted next, by
    Flask-Limiter (kiosk.app); the till API's blueprint answers the 401 and 429 in its own JSON."""
    from ..services import kiosk
    from ..tills import ApiKeys

    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    name = ApiKeys(kiosk().store).verify(key.strip()) if scheme.lower() == "bearer" else None
    if name is None:
        raise Unauthorized()
    g.api_key = name


def poll_redirect(endpoint: str) -> Any:
    """A poll of a locked area: no body, and htmx takes the browser to the PIN screen."""
    response = make_response("", 204)
    response.headers["HX-Redirect"] = url_for(endpoint)
    return response




def table(app: Flask) -> str:
    """The table as the README shows it: one line per route, grouped by caller."""
    lines = ["| who may call | proves it with | routes |", "|---|---|---|"]
    proofs = {
        Who.ANYONE: "nothing", Who.CUSTOMER: "the kiosk session (or a display's credential)",
        Who.OWNER: "the session or display that started the checkout",
        Who.DISPLAY: "the credential the server issued at pairing",
        Who.STAFF_DOOR: "nothing (404 while the area has no PIN)",
        Who.CASHIER: "the cashier or operator PIN, unlocked in this browser",
        Who.OPERATOR: "the operator PIN, unlocked in this browser", Who.TILL: "an API key (bearer)",
    }
    by_who: dict[Who, list[str]] = {}
    for url_rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        methods = sorted((url_rule.methods or set()) - {"HEAD", "OPTIONS"})
        line = rule_for(url_rule.endpoint)
        by_who.setdefault(line.who, []).append(f"`{' '.join(methods)} {url_rule.rule}`")
    by_who[Who.NOBODY] = [f"job `{name}`" for name, who in JOBS.items() if who is Who.NOBODY]
    proofs[Who.NOBODY] = "runs in the job consumer only; no route reaches it"
    for who in Who:
        if who in by_who:
            lines.append(f"| {who.value} | {proofs.get(who, '-')} | {', '.join(by_who[who])} |")
    return "\n".join(lines)
