"""A process that dies while it sends a checkout (killed, or its host gone) leaves the
Idempotency-Key it held: a retry of that sale with the same key is not refused for a day."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal

import time_machine

from kiosk.sandbox import DEFAULT_EMAIL, DEFAULT_PASSWORD

from ..conftest import SECRET

SEND = """
import sys
from decimal import Decimal
from kiosk import create_app
services = create_app().extensions["kiosk"]
display = services.displays.get(sys.argv[1])
services.orders.send_once(display, Decimal("20.00"), key="api:till-1:sale-9", fingerprint="fp-9")
"""


def test_a_send_killed_midway_frees_its_idempotency_key_within_a_minute(make_app, sandbox, tmp_path):
    app = make_app()
    services = app.extensions["kiosk"]
    displays, orders, store = services.displays, services.orders, services.store
    display = displays.pair(displays.issue("127.0.0.1")[1].code, "Counter 1", "till")
    first = orders.send(display, Decimal("10.00"))
    orders.begin(first, "TRX", "TRX")  # open on the display: a new send looks at it upstream
    sandbox.faults(latency_ms=8000, only="detail")  # ... and that look hangs
    env = {**os.environ, "KIOSK_API_URL": sandbox.url, "KIOSK_API_EMAIL": DEFAULT_EMAIL,
           "KIOSK_API_PASSWORD": DEFAULT_PASSWORD, "KIOSK_SECRET_KEY": SECRET,
           "KIOSK_STATE_DIR": str(tmp_path / "state"), "KIOSK_POLL_INTERVAL": "1"}
    sender = subprocess.Popen([sys.executable, "-c", SEND, display.id], env=env)
    deadline = time.monotonic() + 20
    while store.get("order-key:api:till-1:sale-9") is None:
        assert time.monotonic() < deadline and sender.poll() is None, "the send never started"
        time.sleep(0.05)
    seen_at = time.time()  # the key was taken at most this long ago
    sender.send_signal(signal.SIGKILL)  # mid-send: it holds the key and will never let go
    sender.wait(10)
    sandbox.clear_faults()
    assert store.get("order-key:api:till-1:sale-9") == "pending fp-9"
    orders.cancel(first, "till")  # the display is free: only the key could stand in the way
    with time_machine.travel(seen_at + 59, tick=False):  # a send may still be under way: held
        assert store.get("order-key:api:till-1:sale-9") == "pending fp-9"
    with time_machine.travel(seen_at + 61, tick=False):
        displays.seen(display)
        started = time.monotonic()
        order, new = orders.send_once(display, Decimal("20.00"), key="api:till-1:sale-9", fingerprint="fp-9")
        assert time.monotonic() - started < 2
    assert new and orders.current(display) == order and order.amount == Decimal("20.00")
