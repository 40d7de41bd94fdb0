"""Who may call what: the access table covers every route and job, anyone it does not name gets
the unknown id's answer, and Lock ends every unlock of a browser, whichever area it was pressed in.
"""

from __future__ import annotations

import re

import pytest
import requests

from kiosk.web import access
from kiosk.web.access import ROUTES, Who

from ..conftest import free_port
from ..support import CASHIER_PIN, STAFF_PIN, Gunicorn, field, pair_display, unlock_staff


@pytest.fixture
def staff_app(make_app):
    return make_app(OPERATOR_PIN=STAFF_PIN, CASHIER_PIN=CASHIER_PIN, DEFAULT_LOCALE="en",
                    CREATE_LIMIT="1000/60", RECEIPTS=True)


def test_every_route_declares_who_may_call_it(staff_app):
    endpoints = {rule.endpoint for rule in staff_app.url_map.iter_rules()}
    assert endpoints - set(ROUTES) == set(), "routes without a line in kiosk/web/access.py"
    assert set(ROUTES) - endpoints == set(), "lines for routes that no longer exist"


def test_every_job_declares_who_may_call_it(staff_app):
    huey = staff_app.extensions["kiosk"].jobs.huey
    names = {name.rsplit(".", 1)[-1] for name in huey._registry._registry}
    assert names == set(access.JOBS)
    assert set(access.JOBS.values()) == {Who.NOBODY}


def test_a_route_without_a_line_is_refused_to_everyone(staff_app):
    assert access.rule_for("kiosk.no_such_view").who is Who.NOBODY
    assert access.rule_for(None).who is Who.NOBODY
    assert not access.rule_for("kiosk.no_such_view").session


def test_only_the_lines_that_say_so_open_a_session(staff_app):
    from flask import Request
    from werkzeug.test import EnvironBuilder

    def opens(path: str, method: str = "GET") -> bool:
        environ = EnvironBuilder(path=path, method=method).get_environ()
        return access.needs_session(staff_app, Request(environ))

    assert not opens("/healthz") and not opens("/readyz") and not opens("/static/kiosk.css")
    assert not opens("/display/poll") and not opens("/api/v1/checkouts") and not opens("/nowhere")
    assert opens("/") and opens("/display") and opens("/operator") and opens("/till")
    assert opens("/pay/abc") and opens("/pay/abc/status")


def _ids(rule: str, value: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", value, rule)


def test_a_stranger_gets_the_unknown_ids_answer_on_every_route(staff_app, sandbox):
    """A stranger (no session, no display, no key) asks every route with ids that exist and with
    ids that do not: the two answers are the same, so nothing's existence is revealed."""
    from decimal import Decimal

    from kiosk.tills.keys import ApiKeys

    services = staff_app.extensions["kiosk"]
    display = services.displays.pair(services.displays.issue("127.0.0.1")[1].code, "Counter 1", "till")
    order = services.orders.send(display, Decimal("50.00"))
    ApiKeys(services.store).create("till-1")
    owner = staff_app.test_client()
    owner.get("/")
    html = owner.get("/").get_data(as_text=True)
    owner.post("/", data={"csrf_token": field(html, "csrf_token"), "amount": "300",
                          "nonce": "n" * 24})
    tx_id = owner.get("/").headers.get("Location", "").rsplit("/", 1)[-1] or "none"
    from kiosk.reports import close_day

    close_day(services.ledger, 0, currency="TRY", zone=services.settings.timezone, by="test")
    real = {"tx_id": tx_id, "order_id": order.id, "display_id": display.id, "name": "till-1",
            "change": "rename", "anything": "checkouts", "number": "1", "print_id": "0123456789abcdef"}
    checked = 0
    for rule in staff_app.url_map.iter_rules():
        line = ROUTES[rule.endpoint]
        if line.who is Who.ANYONE or not rule.arguments:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            answers = []
            for ids in (real, dict.fromkeys(real, "zz0000000000")):
                url = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m, ids=ids: ids[m.group(1)], rule.rule)
                stranger = staff_app.test_client()
                response = stranger.open(url, method=method)
                answers.append((response.status_code, response.headers.get("Location"),
                                response.get_data(as_text=True).replace(url, "<url>")))
            assert answers[0] == answers[1], f"{method} {rule.rule} tells a stranger what exists"
            assert answers[0][0] in (204, 302, 401, 404), f"{method} {rule.rule}: {answers[0][0]}"
            checked += 1
    assert checked >= 20


# -- Lock ends every unlock ---------------------------------------------------------------------


def _locked(http: requests.Session, url: str) -> tuple[bool, bool]:
    """(console locked, operator area locked) as this browser sees them."""
    till = http.get(url + "/till", allow_redirects=False, timeout=20)
    today = http.get(url + "/operator/today", allow_redirects=False, timeout=20)
    return ('name="pin"' in till.text, today.status_code == 302 and today.headers["Location"].endswith(
        "/operator"))


def _unlock(http: requests.Session, url: str, path: str, pin: str) -> None:
    html = http.get(url + path, timeout=20).text
    answer = http.post(url + path, data={"csrf_token": field(html, "csrf_token"), "pin": pin},
                       allow_redirects=False, timeout=20)
    assert answer.status_code == 303, answer.text


def _lock(http: requests.Session, url: str, path: str) -> None:
    page = "/till" if path == "/till/lock" else "/operator/today"
    html = http.get(url + page, timeout=20).text
    answer = http.post(url + path, data={"csrf_token": field(html, "csrf_token")}, allow_redirects=False,
                       timeout=20)
    assert answer.status_code == 303


@pytest.fixture(scope="module")
def served(sandbox_server, tmp_path_factory):
    server = Gunicorn(sandbox_server.url, tmp_path_factory.mktemp("served"), free_port(),
                      OPERATOR_PIN=STAFF_PIN, CASHIER_PIN=CASHIER_PIN, DEFAULT_LOCALE="en",
                      WATCHER="off")
    yield server
    server.stop()


@pytest.mark.parametrize("lock_in", ["/till/lock", "/operator/lock"])
def test_lock_in_either_area_ends_every_unlock_of_the_browser(served, sandbox, lock_in):
    """The README's walkthrough: staff open the operator area and the console with the operator
    PIN on the tablet. Lock, pressed in either, leaves nothing open for the next person there."""
    http = requests.Session()
    _unlock(http, served.url, "/operator", STAFF_PIN)
    _unlock(http, served.url, "/till", STAFF_PIN)
    assert _locked(http, served.url) == (False, False)
    _lock(http, served.url, lock_in)
    assert _locked(http, served.url) == (True, True)


def test_the_operators_lock_locks_a_console_opened_by_the_operator_unlock(served, sandbox):
    http = requests.Session()
    _unlock(http, served.url, "/operator", STAFF_PIN)
    charge = http.get(served.url + "/till", timeout=20)
    assert 'name="amount"' in charge.text  # the operator's unlock opens the console too
    _lock(http, served.url, "/operator/lock")
    assert _locked(http, served.url) == (True, True)


def test_the_cashiers_lock_ends_the_cashiers_unlock(served, sandbox):
    http = requests.Session()
    _unlock(http, served.url, "/till", CASHIER_PIN)
    assert _locked(http, served.url) == (False, True)  # the cashier PIN opens the console only
    _lock(http, served.url, "/till/lock")
    assert _locked(http, served.url) == (True, True)


def test_a_paired_display_reaches_its_routes_and_a_stranger_does_not(staff_app, sandbox):
    from decimal import Decimal

    staff, display, stranger = staff_app.test_client(), staff_app.test_client(), staff_app.test_client()
    unlock_staff(staff)
    services = staff_app.extensions["kiosk"]
    order = services.orders.send(services.displays.get(pair_display(staff, display)), Decimal("12.00"))
    stranger.get("/")
    for client in (stranger, display):
        html = client.get("/display" if client is display else "/").get_data(as_text=True)
        response = client.post("/display/cancel", data={"csrf_token": field(html, "csrf_token"),
                                                        "order": order.id})
        assert response.status_code == (303 if client is display else 404)
        assert services.orders.state(order).final is (client is display)


@pytest.mark.parametrize("path", ["/operator", "/till"])
def test_a_locked_pin_screen_names_the_way_to_end_the_lock(staff_app, sandbox, path):
    web = staff_app.test_client()
    for attempt in range(5):
        html = web.get(path).get_data(as_text=True)
        assert 'data-testid="unlock-hint"' not in html, attempt  # not while tries are left
        web.post(path, data={"csrf_token": field(html, "csrf_token"), "pin": "000000"})
    html = web.get(path).get_data(as_text=True)
    assert "disabled" in html and "kiosk pin unlock" in html


def test_the_readme_shows_the_table_as_the_code_has_it(staff_app):
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    shown = readme.split("<!-- access table", 1)[1].split("-->", 1)[1].split("<!-- /access table -->")[0]
    assert shown.strip() == access.table(staff_app)
