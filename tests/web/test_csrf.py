"""A form sent with a missing, forged or another session's CSRF token, or over HTTPS from another
origin, is refused the same calm way on every route that changes something: back to the screen it
came from with "This page expired, please try again", a warning in the log (never the token), and
nothing changed (no upstream call, no store write, the session as it was).

The routes come from the app's URL map, so a route added later is covered without a new test.
"""

from __future__ import annotations

import logging
import re

import pytest

from ..support import Customer, field

PIN = "246810"
EXPIRED = "This page expired, please try again."
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
# Every field any form of the kiosk sends, with values that would change something if accepted.
FORM = {"amount": "301", "coin": "TRX-TRX", "locale": "tr", "idle": "1", "pin": "135790"}
KINDS = ["missing", "forged", "other-session", "https-no-referrer", "https-other-origin"]


def form_routes(app) -> list[tuple[str, str]]:
    """(method, rule) for every state-changing route a browser form reaches. JSON APIs under /api/
    authenticate with a bearer key instead and are not form routes."""
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            continue
        for method in (rule.methods or set()) & STATE_CHANGING:
            found.add((method, rule.rule))
    return sorted(found)


def url_for_rule(rule: str, tx_id: str, ids: dict[str, str] | None = None) -> str:
    """The rule with real ids: `ids` by parameter name (a display, an order), else the checkout."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: (ids or {}).get(m.group(1), tx_id), rule)


def display_with_an_order(app) -> dict[str, str]:
    """A paired display holding an order from the console, and a till's API key: the ids the
    staff's forms take."""
    from decimal import Decimal

    from kiosk.tills.keys import ApiKeys

    services = app.extensions["kiosk"]
    screen = app.test_client()
    code = field_code(screen.get("/display").get_data(as_text=True))
    display = services.displays.pair(code, "Counter 1", "till")
    order = services.orders.send(display, Decimal("50.00"))
    ApiKeys(services.store).create("till-1")
    # Z report 1, for the forms on a Z report's page.
    from zoneinfo import ZoneInfo

    from kiosk import reports
    number = reports.close_day(services.ledger, 0, currency=services.settings.currency,
                               zone=ZoneInfo("UTC"), by="operator").number
    return {"display_id": display.id, "order_id": order.id, "change": "rename", "name": "till-1",
            "number": str(number), "screen": screen}


def field_code(html: str) -> str:
    return re.search(r'data-testid="pairing-code">([A-Z0-9]{6})<', html).group(1)


def caller_of(rule: str, app, sandbox, ids) -> tuple[Customer, str]:
    """Who the access table lets call the route: the display's own routes are its screen's."""
    if rule.startswith("/display/"):
        screen = Customer(ids["screen"], sandbox)
        screen.get("/display")
        return screen, ""
    return customer_with_a_checkout(app, sandbox)


@pytest.fixture
def kiosk_app(make_app):
    return make_app(OPERATOR_PIN=PIN, DEFAULT_LOCALE="en", CREATE_LIMIT="1000/60", RECEIPTS=True)


def customer_with_a_checkout(app, sandbox) -> tuple[Customer, str]:
    """A tablet where everything a form can change is in play: a started checkout, staff unlocked,
    an amount on its way to the coin screen and a chosen language."""
    till = Customer(app.test_client(), sandbox)
    tx_id = till.start()
    html = till.web.get("/operator").get_data(as_text=True)
    unlocked = till.web.post("/operator", data={"csrf_token": field(html, "csrf_token"), "pin": PIN})
    assert unlocked.headers["Location"] == "/operator/today"
    with till.web.session_transaction() as s:
        s["amount"] = "300"
        s["locale"] = "en"
    return till, tx_id


def token_for(kind: str, till: Customer, app) -> dict:
    """The request's token and headers for one kind of bad form (and the session's own token)."""
    own = till.token()
    if kind == "missing":
        return {"data": {}, "own": own}
    if kind == "forged":
        return {"data": {"csrf_token": own[:-4] + ("AAAA" if not own.endswith("AAAA") else "BBBB")},
                "own": own}
    if kind == "other-session":
        other = app.test_client()
        return {"data": {"csrf_token": field(other.get("/").get_data(as_text=True), "csrf_token")},
                "own": own}
    # The session's own token over HTTPS, as a browser sends it when the referrer is withheld
    # (Referrer-Policy: no-referrer) or the form is on another site.
    https = {"base_url": "https://localhost", "data": {"csrf_token": own}, "own": own}
    if kind == "https-other-origin":
        https["headers"] = {"Referer": "https://elsewhere.example/"}
    return https


def session_of(web) -> dict:
    with web.session_transaction() as s:
        return {k: v for k, v in s.items() if k != "_flashes"}


def everything(app, sandbox, web) -> tuple:
    """What a form could change: upstream's call counts, the kiosk's store, this session."""
    store = app.extensions["kiosk"].store
    return sandbox.all_calls(), store.items(""), session_of(web)


def test_the_walk_finds_every_form_route(kiosk_app):
    routes = form_routes(kiosk_app)
    for known in [("POST", "/"), ("POST", "/coin"), ("POST", "/reset"), ("POST", "/language"),
                  ("POST", "/done"), ("POST", "/pay/<tx_id>/cancel"), ("POST", "/operator"),
                  ("POST", "/operator/lock"), ("POST", "/operator/tx/<tx_id>/cancel"),
                  ("POST", "/operator/attention/<tx_id>/dismiss"), ("POST", "/operator/displays"),
                  ("POST", "/display/coin"), ("POST", "/display/cancel"), ("POST", "/till"),
                  ("POST", "/till/charge"), ("POST", "/till/checkout/<order_id>/cancel"),
                  ("POST", "/operator/keys/<name>/revoke")]:
        assert known in routes


@pytest.mark.parametrize("kind", KINDS)
def test_every_form_route_refuses_a_bad_token_calmly(kind, kiosk_app, sandbox, caplog):
    caplog.set_level(logging.WARNING)
    wrong = []
    ids = display_with_an_order(kiosk_app)
    for method, rule in form_routes(kiosk_app):
        till, tx_id = caller_of(rule, kiosk_app, sandbox, ids)
        url = url_for_rule(rule, tx_id, ids)
        request = token_for(kind, till, kiosk_app)
        sent = request["data"].get("csrf_token")
        nonce = field(kiosk_app.test_client().get("/").get_data(as_text=True), "nonce")
        before = everything(kiosk_app, sandbox, till.web)
        caplog.clear()
        response = till.web.open(url, method=method, data={**FORM, "nonce": nonce, **request["data"]},
                                 base_url=request.get("base_url", "http://localhost"),
                                 headers=request.get("headers", {}))
        after = everything(kiosk_app, sandbox, till.web)
        problems = []
        if response.status_code != 303:
            problems.append(f"answered {response.status_code}")
        if after != before:
            problems.append("changed " + ", ".join(
                name for name, a, b in zip(("upstream", "store", "session"), before, after, strict=True)
                if a != b))
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING
                    and ("CSRF" in r.getMessage() or "referrer" in r.getMessage())]
        if not warnings:
            problems.append("no warning with the reason in the log")
        if sent and sent in caplog.text or request["own"] in caplog.text:
            problems.append("the token reached the log")
        if response.status_code == 303:
            screen = till.web.get(response.headers["Location"], follow_redirects=True)
            text = screen.get_data(as_text=True)
            if screen.status_code != 200 or EXPIRED not in text:
                problems.append(f"the screen after it ({screen.status_code}) does not say the page expired")
            elif 'role="alert"' not in text.split(EXPIRED)[0].rsplit("<", 1)[-1]:
                problems.append("the message is not announced (role=alert)")
        if problems:
            wrong.append(f"{method} {rule}: " + "; ".join(problems))
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(("method", "url", "screen"), [
    ("POST", "/", "/"),
    ("POST", "/coin", "/coin"),
    ("POST", "/language", "/"),
    ("POST", "/reset", "/"),
    ("POST", "/done", "/"),
    ("POST", "/pay/{tx}/cancel", "/pay/{tx}"),
    ("POST", "/operator", "/operator"),
    ("POST", "/operator/lock", "/operator"),
    ("POST", "/operator/tx/{tx}/cancel", "/operator/tx/{tx}"),
    ("POST", "/operator/attention/{tx}/dismiss", "/operator"),
    ("POST", "/operator/displays", "/operator/displays"),
    ("POST", "/operator/displays/{tx}/rename", "/operator/displays"),
    ("POST", "/operator/keys/{tx}/revoke", "/operator/keys"),
    ("POST", "/display/coin", "/display"),
    ("POST", "/till/charge", "/till"),
    ("POST", "/till/checkout/{tx}/cancel", "/till/checkout/{tx}"),
])
def test_a_refused_form_goes_back_to_the_screen_it_came_from(method, url, screen, kiosk_app, sandbox):
    till, tx_id = caller_of(url, kiosk_app, sandbox, display_with_an_order(kiosk_app))
    response = till.web.open(url.format(tx=tx_id), method=method, data=FORM)
    assert response.status_code == 303
    assert response.headers["Location"] == screen.format(tx=tx_id)


@pytest.mark.parametrize("kind", ["missing", "other-session"])
def test_the_expired_message_speaks_the_customers_language(kind, kiosk_app, sandbox):
    till, tx_id = customer_with_a_checkout(kiosk_app, sandbox)
    with till.web.session_transaction() as s:
        s["locale"] = "tr"
    request = token_for(kind, till, kiosk_app)
    response = till.web.post(f"/pay/{tx_id}/cancel", data=request["data"], follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'data-testid="qr"' in html
    assert "Bu sayfanın süresi doldu, lütfen tekrar deneyin." in html
    assert sandbox.calls("cancel") == 0


def test_the_message_is_shown_once(kiosk_app, sandbox):
    till, tx_id = customer_with_a_checkout(kiosk_app, sandbox)
    assert EXPIRED in till.web.post("/language", follow_redirects=True).get_data(as_text=True)
    assert EXPIRED not in till.web.get("/").get_data(as_text=True)


@pytest.mark.parametrize(("method", "rule"), [("POST", "/pay/<tx_id>/cancel"), ("POST", "/language")])
def test_a_same_origin_https_form_with_its_token_is_accepted(method, rule, kiosk_app, sandbox):
    """The control for the HTTPS kinds above: with the referrer a same-origin page sends, the form
    goes through."""
    till, tx_id = customer_with_a_checkout(kiosk_app, sandbox)
    response = till.web.open(url_for_rule(rule, tx_id), method=method, base_url="https://localhost",
                             headers={"Referer": f"https://localhost/pay/{tx_id}"},
                             data={**FORM, "csrf_token": till.token()})
    assert response.status_code == 303
    assert EXPIRED not in till.web.get(response.headers["Location"], follow_redirects=True,
                                       base_url="https://localhost").get_data(as_text=True)


def test_every_form_route_accepts_its_own_token(kiosk_app, sandbox, caplog):
    """The control for the table: the same requests with the session's own token are not refused,
    so it is the token alone that the refusals above answer."""
    caplog.set_level(logging.WARNING)
    for method, rule in form_routes(kiosk_app):
        till, tx_id = customer_with_a_checkout(kiosk_app, sandbox)
        nonce = field(till.web.get("/coin").get_data(as_text=True), "nonce")
        caplog.clear()
        response = till.web.open(url_for_rule(rule, tx_id), method=method,
                                 data={**FORM, "nonce": nonce, "csrf_token": till.token()})
        assert response.status_code < 500, (method, rule)
        assert not [r for r in caplog.records if "CSRF" in r.getMessage()], (method, rule)
        if response.status_code in (302, 303):
            after = till.web.get(response.headers["Location"], follow_redirects=True)
            assert EXPIRED not in after.get_data(as_text=True), (method, rule)


def test_a_stale_form_for_a_payment_this_browser_no_longer_owns_says_one_thing(kiosk_app, sandbox):
    """The session is gone (cookies cleared), so the payment is no longer this browser's: the
    screen it came from says the payment is not known here, without a "try again" that cannot
    help, and the notice does not turn up on the next screen either."""
    till, tx_id = customer_with_a_checkout(kiosk_app, sandbox)
    stranger = kiosk_app.test_client()
    response = stranger.post(f"/pay/{tx_id}/cancel", data=FORM, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 404 and 'data-testid="missing"' in html
    assert EXPIRED not in html and 'data-testid="expired"' not in html
    assert EXPIRED not in stranger.get("/").get_data(as_text=True)
    assert sandbox.calls("cancel") == 0
