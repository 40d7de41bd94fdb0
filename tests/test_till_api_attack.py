"""The till API as an outsider meets it: forged keys and headers, ids of other shapes, hostile
JSON, idempotency keys at their edges, races between tills, displays and customers. Over real
HTTP against `kiosk serve` (gunicorn, two workers) and the sandbox. Whatever is refused is refused
with the API's own error, changes nothing, and leaves no traceback in the log."""

from __future__ import annotations

import uuid

import pytest
import requests

from .api_support import DisplayBrowser, Till, make_key, store_of
from .conftest import free_port
from .support import Gunicorn


@pytest.fixture(scope="module")
def server(sandbox_server, tmp_path_factory):
    state = tmp_path_factory.mktemp("attack-state")
    kiosk = Gunicorn(sandbox_server.url, state, free_port(), MIN_AMOUNT="10", MAX_AMOUNT="5000",
                     CREATE_LIMIT="1000/60", API_RATE_LIMIT="100000/60", POLL_INTERVAL="2")
    kiosk.state = state
    kiosk.key = make_key(state, "till-1")
    yield kiosk
    kiosk.stop()


@pytest.fixture
def till(server, sandbox) -> Till:
    store = store_of(server.state)
    for key, _value in store.items("rate:pairing:"):
        store.delete(key)
    return Till(server.url, server.key)


@pytest.fixture
def display(server, till) -> DisplayBrowser:
    browser = DisplayBrowser(server.url)
    till.pair(browser, f"Counter {uuid.uuid4().hex[:4]}")
    return browser


def error(response: requests.Response) -> tuple[int, str]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return response.status_code, body["error"]["code"]


def tracebacks(server) -> int:
    return server.log_path.read_text().count("Traceback")


# -- query parameters ------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["²", "١٢", "𝟓", "9" * 10, "1e2", "-1", "+5", " 5"])
def test_a_limit_that_is_not_ascii_digits_is_a_400_never_a_5xx(server, till, limit):
    before = tracebacks(server)
    assert error(till.get("/checkouts", params={"limit": limit})) == (400, "invalid_request")
    assert tracebacks(server) == before


@pytest.mark.parametrize(("limit", "status"), [("1", 200), ("100", 200), ("101", 400), ("0", 400)])
def test_the_limit_at_its_edges(till, limit, status):
    assert till.get("/checkouts", params={"limit": limit}).status_code == status


# -- the routes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1", "/api/v1/"])
def test_the_api_root_answers_as_the_api_does(server, path):
    with_key = requests.get(server.url + path, headers={"Authorization": f"Bearer {server.key}"}, timeout=5)
    assert error(with_key) == (404, "not_found")
    assert error(requests.get(server.url + path, timeout=5)) == (401, "unauthorized")


# -- bodies ----------------------------------------------------------------------------------------


def line(**fields):
    return [{"name": "Çay", "quantity": 1, "unit_amount": "30.00", **fields}]


@pytest.mark.parametrize("lines", [
    line(unit_amount="٣٠.٠٠"),  # Arabic-Indic digits: Decimal reads them, the contract does not
    line(unit_amount="3_0.00"),
    line(unit_amount="3.0E+1"),
    line(unit_amount=" 30.00"),
    line(unit_amount="30.00\n"),
    line(unit_amount="+30.00"),
    line(unit_amount="30."),
    [{"name": "Çay", "quantity": 1, "unit_amount": "-0.00"}, *line()],
    line(name=5),
    line(name=["Çay"]),
    line(name={"Çay": 1}),
    line(name=True),
], ids=["arabic-indic", "underscore", "exponent", "space", "newline", "plus", "dot", "minus-zero",
        "name-number", "name-list", "name-object", "name-true"])
def test_a_line_is_written_as_the_contract_says_or_refused(till, display, sandbox, lines):
    assert error(till.create(display.id, "30.00", lines=lines)) == (400, "invalid_request")
    assert till.get("/checkouts", params={"display_id": display.id}).json()["data"] == []


@pytest.mark.parametrize("unit", ["30", "30.0", "30.00", "30.000"])
def test_unit_amounts_the_contract_allows(till, display, unit):
    made = till.create(display.id, "30.00", lines=line(unit_amount=unit))
    assert made.status_code == 201, made.text
    assert made.json()["lines"][0]["unit_amount"] == "30.00"
