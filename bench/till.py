"""The till API as a shop uses it: a till creates a checkout for a paired display in Chromium.
Measured: from the till's create to the QR loaded on the display, and from the sandbox marking
the payment paid to the `paid` webhook at the till's receiver, with the display showing the
payment (its polls notice) and with nobody looking (the watcher notices)."""

from __future__ import annotations

import json
import random
import re
import subprocess
import threading
import time
import uuid
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from common import PY, ROOT, free_port, kiosk, kiosk_env, pct, sandbox

CENT = Decimal("0.01")
SECRET = "whsec_" + "YmVuY2gtd2ViaG9vay1zZWNyZXQtMDEyMzQ1Njc4OQ=="
POLL = 2  # the default KIOSK_POLL_INTERVAL
WATCH = 15  # the default KIOSK_WATCH_INTERVAL
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


class Receiver:
    """The till's webhook endpoint: when each checkout's `paid` event arrived, by this clock."""

    def __init__(self) -> None:
        self.paid_at: dict[str, float] = {}
        self.events = 0
        self.changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver.changed:
                    receiver.events += 1
                    if body["data"]["status"] == "paid":
                        receiver.paid_at.setdefault(body["data"]["id"], time.time())
                    receiver.changed.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_paid(self, checkout_id: str, seconds: float) -> float:
        with self.changed:
            if not self.changed.wait_for(lambda: checkout_id in self.paid_at, seconds):
                raise TimeoutError(f"no paid webhook for {checkout_id} in {seconds} s")
            return self.paid_at[checkout_id]


class TillClient:
    def __init__(self, url: str, key: str) -> None:
        self.url = url + "/api/v1"
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {key}"

    def pair(self, code: str, name: str) -> str:
        r = self.http.post(self.url + "/displays", json={"pairing_code": code, "name": name, "mode": "till"},
                           timeout=10)
        r.raise_for_status()
        return r.json()["id"]

    def create(self, display_id: str, amount: Decimal) -> str:
        """A sale of two teas and a simit that add up to `amount`."""
        tea = (amount / 4).quantize(CENT)
        lines = [{"name": "Çay", "quantity": 2, "unit_amount": str(tea)},
                 {"name": "Simit", "quantity": 1, "unit_amount": str(amount - 2 * tea)}]
        body = {"display_id": display_id, "amount": str(amount), "lines": lines,
                "reference": f"till-{uuid.uuid4().hex[:6]}"}
        r = self.http.post(self.url + "/checkouts", json=body, headers={"Idempotency-Key": uuid.uuid4().hex},
                           timeout=10)
        r.raise_for_status()
        return r.json()["id"]

    def transaction_of(self, checkout_id: str) -> str | None:
        r = self.http.get(f"{self.url}/checkouts/{checkout_id}", timeout=10)
        r.raise_for_status()
        return r.json()["transaction_id"]


def make_key(sandbox_url: str, state) -> str:
    done = subprocess.run([PY, "-m", "kiosk.cli", "keys", "create", "bench-till"], capture_output=True,
                          text=True, env=kiosk_env(sandbox_url, state), check=True)
    return done.stdout.strip()


def pay(sandbox_url: str, tx_id: str) -> float:
    paid_at = time.time()
    requests.post(f"{sandbox_url}/sandbox/transactions/{tx_id}/pay", json={"share": "full"},
                  timeout=5).raise_for_status()
    return paid_at


# When the QR image finished loading, by the browser's own clock (the same machine's).
QR_LOADED = """() => {
  const img = document.querySelector('[data-testid=qr]');
  const entry = performance.getEntriesByName(img.currentSrc)[0];
  return performance.timeOrigin + entry.responseEnd;
}"""


def qr_loaded_at(page, seconds: float = 15) -> float:
    """Waits for the QR to be drawn (the page's CSP allows no string waits: ask every 20 ms)."""
    deadline = time.monotonic() + seconds
    while not page.evaluate("document.querySelector('[data-testid=qr]').naturalWidth > 0"):
        if time.monotonic() > deadline:
            raise TimeoutError("the QR did not load")
        time.sleep(0.02)
    return page.evaluate(QR_LOADED)


def till_api(rows: list, runs: int, unwatched: int) -> None:
    from playwright.sync_api import sync_playwright

    receiver = Receiver()
    state = ROOT / "bench" / ".state-till"
    with sandbox() as sb, kiosk(sb, state, WEBHOOK_URL=receiver.url, WEBHOOK_SECRET=SECRET,
                                POLL_INTERVAL=str(POLL), RESULT_SECONDS="1") as (url, _):
        till = TillClient(url, make_key(sb, state))
        to_qr, webhook = [], []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                        args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(url + "/display")
            display_id = till.pair(page.get_by_test_id("pairing-code").inner_text(), "Counter 1")
            page.get_by_test_id("display-idle").wait_for(timeout=15000)
            for n in range(runs):
                time.sleep(random.uniform(0, POLL))  # a sale comes at any moment of the poll
                sent_at = time.time() * 1000
                checkout_id = till.create(display_id, Decimal(40 + 3 * n) + Decimal("0.75"))
                page.get_by_test_id("qr").wait_for(timeout=15000)
                to_qr.append(qr_loaded_at(page) - sent_at)
                tx_id = till.transaction_of(checkout_id)  # (a read that refreshes the shared answer)
                time.sleep(random.uniform(POLL / 2, POLL * 1.5))
                paid_at = pay(sb, tx_id)
                webhook.append((receiver.wait_paid(checkout_id, 30) - paid_at) * 1000)
                page.get_by_test_id("result-paid").wait_for(timeout=15000)
                page.get_by_test_id("display-idle").wait_for(timeout=15000)
            browser.close()
        late = unwatched_webhooks(url, sb, till, receiver, unwatched)
    p50, p95 = pct(to_qr, 50), pct(to_qr, 95)
    rows.append((f"Till API: create to QR on the display in Chromium ({runs} sales), p50 / p95",
                 f"{p50:.0f} / {p95:.0f} ms", f"p95 ≤ {POLL * 1000 + 1000} ms (poll {POLL} s + 1 s)",
                 p95 <= POLL * 1000 + 1000))
    p50, p95 = pct(webhook, 50), pct(webhook, 95)
    rows.append(("Till API: paid at the sandbox to the paid webhook, display showing it, p50 / p95",
                 f"{p50:.0f} / {p95:.0f} ms", f"p95 ≤ {POLL * 1000 + 1000} ms (poll {POLL} s + 1 s)",
                 p95 <= POLL * 1000 + 1000))
    p50, p95 = pct(late, 50), pct(late, 95)
    rows.append((f"Till API: paid to the paid webhook, nobody looking ({unwatched} checkouts), p50 / p95",
                 f"{p50:.0f} / {p95:.0f} ms", f"p95 ≤ {(WATCH + 2) * 1000} ms (watch {WATCH} s + 2 s)",
                 p95 <= (WATCH + 2) * 1000))


def unwatched_webhooks(url: str, sb: str, till: TillClient, receiver: Receiver, count: int) -> list[float]:
    """Displays that showed the QR once and then went dark: only the watcher sees the payment."""
    started = []
    for n in range(count):
        display = requests.Session()  # a display's cookie jar: it looks once, then never again
        page = display.get(url + "/display", timeout=10).text
        display_id = till.pair(re.search(r'data-testid="pairing-code">(\w+)<', page).group(1), f"Dark {n}")
        checkout_id = till.create(display_id, Decimal(40 + 3 * n) + Decimal("0.75"))
        display.get(url + "/display", timeout=10)  # with one coin, showing it makes the transaction
        started.append((checkout_id, till.transaction_of(checkout_id)))
    delays = []
    paid = []
    for checkout_id, tx_id in started:  # paid at random moments of the watcher's interval
        time.sleep(random.uniform(0, WATCH / count * 2))
        paid.append((checkout_id, pay(sb, tx_id)))
    for checkout_id, paid_at in paid:
        delays.append((receiver.wait_paid(checkout_id, WATCH * 3) - paid_at) * 1000)
    return delays
