"""The watcher, for real: `kiosk serve` (gunicorn and the job consumer its master starts) against
the sandbox over HTTP, with nobody looking at the screen. Short settings (a 5 s deadline, a 2 s
watch interval) and bounded waits on conditions, never fixed sleeps."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import requests

from kiosk.checkout import LocalStore

from .conftest import free_port
from .support import Gunicorn, field

FAST = {"PAYMENT_TIMEOUT": "5", "WATCH_INTERVAL": "2", "COINS": "TRX:TRX", "CREATE_LIMIT": "100/60"}


def wait_for(what: str, check: Callable[[], object], seconds: float = 30.0) -> object:
    """Poll `check` until it returns something true; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def start_checkout(url: str, amount: str = "300", http: requests.Session | None = None) -> str:
    http = http or requests.Session()
    html = http.get(url + "/", timeout=10).text
    response = http.post(url + "/", data={"csrf_token": field(html, "csrf_token"),
                                          "nonce": field(html, "nonce"), "amount": amount},
                         allow_redirects=False, timeout=20)
    assert response.status_code == 303, response.text[:300]
    return response.headers["Location"].rsplit("/", 1)[1]


def status_of(sandbox, tx_id: str) -> str:
    return next(tx["status"] for tx in sandbox.transactions() if tx["_id"] == tx_id)


def record_of(state, tx_id: str) -> dict:
    return json.loads(LocalStore(state / "kiosk.sqlite3").get(f"tx:{tx_id}"))


def test_abandoned_checkout_is_cancelled_after_its_deadline(sandbox, tmp_path):
    """Nobody polls: the screen was closed right after the QR appeared."""
    state = tmp_path / "state"
    state.mkdir()
    server = Gunicorn(sandbox.url, state, free_port(), **FAST)
    try:
        tx_id = start_checkout(server.url)
        deadline = record_of(state, tx_id)["deadline"]
        assert sandbox.calls("cancel") == 0
        wait_for("the DELETE", lambda: sandbox.calls("cancel") == 1, seconds=20)
        cancelled_at = time.time()
        assert deadline <= cancelled_at < deadline + 5  # shortly after the deadline, never before
        assert status_of(sandbox, tx_id) == "CANCELLED"
        final = lambda: LocalStore(state / "kiosk.sqlite3").get(f"final:{tx_id}")  # noqa: E731
        assert wait_for("the kiosk's result", final, seconds=10) == "expired"
    finally:
        server.stop()
    assert sandbox.calls("cancel") == 1


def test_server_stopped_mid_payment_cancels_on_start_after_the_deadline(sandbox, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    port = free_port()
    server = Gunicorn(sandbox.url, state, port, **FAST)
    tx_id = start_checkout(server.url)
    deadline = record_of(state, tx_id)["deadline"]
    server.stop()
    wait_for("the deadline to pass", lambda: time.time() > deadline + 1, seconds=15)
    assert sandbox.calls("cancel") == 0 and status_of(sandbox, tx_id) == "PENDING"
    server = Gunicorn(sandbox.url, state, port, **FAST)
    try:
        wait_for("the DELETE after the start", lambda: sandbox.calls("cancel") == 1, seconds=15)
        assert status_of(sandbox, tx_id) == "CANCELLED"
    finally:
        server.stop()
    assert sandbox.calls("cancel") == 1
