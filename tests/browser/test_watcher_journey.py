"""The customer walks away: Chromium shows the pay screen, then the browser closes. `kiosk serve`
alone (gunicorn and the watcher its master starts) cancels the payment after its deadline."""

from __future__ import annotations

import json
import time

from kiosk.checkout import LocalStore

from ..conftest import free_port
from ..support import Gunicorn
from ..system.test_watcher import FAST, wait_for
from .test_journey import start_payment


def test_browser_closes_mid_payment_and_the_watcher_cancels(browser, sandbox, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    server = Gunicorn(sandbox.url, state, free_port(), **{**FAST, "COINS": "TRX:TRX,USDT:TRX"})
    try:
        context = browser.new_context()
        page = context.new_page()
        tx_id = start_payment(page, server.url, digits="30000")
        page.get_by_test_id("qr").wait_for()
        context.close()  # the tablet's browser is gone
        record = json.loads(LocalStore(state / "kiosk.sqlite3").get(f"tx:{tx_id}"))
        wait_for("the watcher's DELETE", lambda: sandbox.calls("cancel") == 1, seconds=20)
        assert record["deadline"] <= time.time() < record["deadline"] + 5
        assert sandbox.transactions()[0]["status"] == "CANCELLED"
    finally:
        server.stop()
    assert sandbox.calls("cancel") == 1
