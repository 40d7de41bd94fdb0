"""Fifty customers at once, each with their own session, through a real gunicorn with two
workers: exactly fifty transactions, fifty right outcomes, one upstream login."""

from __future__ import annotations

import threading
import time

import requests

from ..conftest import free_port
from ..support import Customer, Gunicorn, field

CUSTOMERS = 50


def test_fifty_simultaneous_checkouts(sandbox, tmp_path):
    server = Gunicorn(sandbox.url, tmp_path, free_port(), CREATE_LIMIT="1000/60", THREADS="16")
    outcomes: dict[int, str] = {}
    started: dict[int, str] = {}
    errors: list[str] = []
    go = threading.Barrier(CUSTOMERS)

    def customer(n: int) -> None:
        try:
            shopper = Customer.over_http(server.url)
            html = shopper.amount_page()
            go.wait(30)  # all press Pay together
            response = shopper.post("/", {"csrf_token": field(html, "csrf_token"),
                                          "nonce": field(html, "nonce"), "amount": f"{100 + n}.50"})
            tx_id = response.headers["Location"].rsplit("/", 1)[1]
            started[n] = tx_id
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                outcome, redirect = shopper.poll(tx_id)
                if redirect:
                    outcomes[n] = shopper.result(tx_id)
                    return
                time.sleep(0.5)  # the screens' poll interval: this is fifty screens' real load
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(f"{n}: {exc!r}")

    threads = [threading.Thread(target=customer, args=(n,)) for n in range(CUSTOMERS)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while len(started) < CUSTOMERS and time.monotonic() < deadline and not errors:
            time.sleep(0.1)
        for n, tx_id in list(started.items()):  # even customers pay in full, odd ones cancel
            if n % 2 == 0:
                sandbox.pay(tx_id, share="full")
            else:
                requests.post(f"{sandbox.url}/sandbox/transactions/{tx_id}/cancel", timeout=5)
        for t in threads:
            t.join(90)
    finally:
        log = server.stop()
    assert errors == []
    assert len(set(started.values())) == CUSTOMERS and len(sandbox.transactions()) == CUSTOMERS
    assert all(outcomes[n] == ("paid" if n % 2 == 0 else "cancelled") for n in range(CUSTOMERS))
    assert sandbox.calls("create") == CUSTOMERS and sandbox.calls("auth") == 1
    assert "Traceback" not in log
