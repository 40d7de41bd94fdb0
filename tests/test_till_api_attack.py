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
