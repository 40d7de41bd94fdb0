"""The watcher, for real: `kiosk serve` (gunicorn and the job consumer its master starts) against
the sandbox over HTTP, with nobody looking at the screen. Short settings (a 5 s deadline, a 2 s
watch interval) and bounded waits on conditions, never fixed sleeps."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from decimal import Decimal

import requests

from kiosk.checkout import LocalStore
from kiosk.ledger import Ledger, make_engine, sqlite_url

from ..conftest import free_port
from ..support import Gunicorn, field

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


def ledger_of(state) -> Ledger:
    """The kiosk's ledger (SQLite in its state folder)."""
    return Ledger(make_engine(sqlite_url(state)))


def status_in_ledger(state, tx_id: str) -> str | None:
    row = ledger_of(state).get(tx_id=tx_id)
    return row.status if row is not None else None


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
        final = lambda: status_in_ledger(state, tx_id) == "expired"  # noqa: E731
        assert wait_for("the kiosk's result", final, seconds=10)
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


def operator_today(url: str, pin: str) -> str:
    http = requests.Session()
    html = http.get(url + "/operator", timeout=10).text
    http.post(url + "/operator", data={"csrf_token": field(html, "csrf_token"), "pin": pin}, timeout=10)
    return http.get(url + "/operator/today", timeout=20).text


def test_coins_after_the_kiosk_expired_a_payment_become_attention_items(sandbox, tmp_path):
    """Nobody looks at any screen: the watcher reads closed checkouts and notices."""
    state = tmp_path / "state"
    state.mkdir()
    server = Gunicorn(sandbox.url, state, free_port(), OPERATOR_PIN="246810", **FAST)
    ledger = ledger_of(state)
    try:
        partly, fully = start_checkout(server.url, "300"), start_checkout(server.url, "200")
        expired = lambda: all(status_in_ledger(state, t) == "expired" for t in (partly, fully))  # noqa: E731
        wait_for("both expired", expired)
        expired_at = time.time()
        assert ledger.attention() == []
        wait_for("30 s after the kiosk expired them", lambda: time.time() > expired_at + 30, seconds=35)
        sandbox.pay(partly, share="half")
        sandbox.pay(fully, share="full")
        item = ledger.item
        wait_for("the attention items", lambda: item(partly) and item(fully), seconds=40)
        assert item(partly).kind == "partial_late" and item(fully).kind == "paid_late"
        assert item(partly).received == Decimal("12")  # half of 24 TRX
        today = operator_today(server.url, "246810")
        assert 'data-testid="attention-partial_late"' in today
        assert 'data-testid="attention-paid_late"' in today
    finally:
        server.stop()
    assert sandbox.calls("cancel") == 2


def test_two_instances_on_one_redis_cancel_each_abandoned_checkout_once(sandbox, tmp_path, redis_url):
    """Two hosts of a fleet, each with its consumer; screens of the other host poll some of the
    checkouts around their deadline too. Ten abandoned checkouts: ten DELETEs, no more."""
    import threading

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    hosts = [Gunicorn(sandbox.url, tmp_path / "a", free_port(), REDIS_URL=redis_url, **FAST),
             Gunicorn(sandbox.url, tmp_path / "b", free_port(), REDIS_URL=redis_url, **FAST)]
    try:
        sessions = [requests.Session() for _ in range(10)]
        ids = [start_checkout(hosts[n % 2].url, str(100 + n), sessions[n]) for n in range(10)]
        stop = time.monotonic() + 12

        def poll(n: int) -> None:  # the customer's screen, served by the other host
            while time.monotonic() < stop:
                r = sessions[n].get(f"{hosts[(n + 1) % 2].url}/pay/{ids[n]}/status",
                                    headers={"HX-Request": "true"}, timeout=20)
                if r.headers.get("HX-Redirect"):
                    return
                time.sleep(0.5)

        screens = [threading.Thread(target=poll, args=(n,)) for n in range(0, 10, 2)]
        for t in screens:
            t.start()
        cancelled = lambda: sum(tx["status"] == "CANCELLED" for tx in sandbox.transactions())  # noqa: E731
        wait_for("ten cancelled", lambda: cancelled() == 10, seconds=30)
        for t in screens:
            t.join()
        reads = sandbox.calls("detail")
        # The watchers go on looking at the closed checkouts: give them the chance to cancel again.
        wait_for("the watchers' next looks", lambda: sandbox.calls("detail") >= reads + 10, seconds=30)
        assert sandbox.calls("cancel") == 10
        import redis

        consumers = redis.Redis.from_url(redis_url).keys("kiosk:jobs:consumer:*")
        assert len(consumers) == 2  # both hosts' consumers are alive and share the work
    finally:
        for host in hosts:
            host.stop()


def consumer_pids(master: int) -> list[int]:
    import subprocess

    out = subprocess.run(["pgrep", "-P", str(master), "-f", "kiosk.cli worker"], capture_output=True,
                         text=True).stdout
    return [int(p) for p in out.split()]


def test_serve_keeps_one_consumer_alive_and_stops_it_with_the_server(sandbox, tmp_path):
    import os
    import signal

    state = tmp_path / "state"
    state.mkdir()
    server = Gunicorn(sandbox.url, state, free_port(), **FAST)
    store = LocalStore(state / "kiosk.sqlite3")
    try:
        [first] = wait_for("the consumer", lambda: consumer_pids(server.proc.pid))
        wait_for("its heartbeat", lambda: store.items("jobs:consumer:"))
        os.kill(first, signal.SIGKILL)  # the watcher crashes
        [second] = wait_for("a new consumer", lambda: [p for p in consumer_pids(server.proc.pid)
                                                     if p != first], seconds=15)
        wait_for("its heartbeat", lambda: any(key.endswith(f":{second}")
                                              for key, _ in store.items("jobs:consumer:")))
        tx_id = start_checkout(server.url)  # and it watches
        wait_for("the DELETE", lambda: sandbox.calls("cancel") == 1, seconds=20)
        assert status_of(sandbox, tx_id) == "CANCELLED"
    finally:
        server.stop()
    from pathlib import Path

    def ended() -> bool:
        try:
            return Path(f"/proc/{second}/stat").read_text().split()[2] == "Z"
        except FileNotFoundError:
            return True

    wait_for("the consumer to stop with the server", ended, seconds=10)
