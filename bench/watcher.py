"""The watcher with nobody looking, and the long soak with upstream faults."""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from datetime import datetime

import requests
from common import ROOT, browser_like, field, kiosk, pct, sandbox, start_checkout, stats


def watcher_cost(rows: list, checkouts: int, seconds: float) -> None:
    """The watcher with nobody looking: upstream calls per open checkout per minute (default
    KIOSK_WATCH_INTERVAL), then the delay from each deadline to its DELETE upstream."""
    sys.path.insert(0, str(ROOT))
    from kiosk.checkout import LocalStore

    state = ROOT / "bench" / ".state-watcher"
    with sandbox() as sb, kiosk(sb, state) as (url, _):
        for n in range(checkouts):  # open for ten minutes: only the watcher reads them
            start_checkout(requests.Session(), url, str(10 + n))
        time.sleep(16)  # past each checkout's first look: measure the steady state
        before = stats(sb)
        time.sleep(seconds)
        after = stats(sb)
    upstream = sum(after.get(k, 0) - before.get(k, 0) for k in ("detail", "cancel", "history", "qr"))
    per_minute = upstream / checkouts / (seconds / 60)
    rows.append((f"Watcher: upstream calls per open checkout per minute, no screen ({checkouts} open)",
                 f"{per_minute:.2f} ({upstream} calls in {seconds:.0f} s)", "≤ 6 (interval 15 s)",
                 per_minute <= 6))

    with sandbox() as sb, kiosk(sb, state, PAYMENT_TIMEOUT="10") as (url, _):
        ids = []
        for n in range(checkouts):  # spread over a few seconds, as customers come
            ids.append(start_checkout(requests.Session(), url, str(10 + n)))
            time.sleep(random.uniform(0, 0.2))
        store = LocalStore(state / "kiosk.sqlite3")
        deadlines = {tx: json.loads(store.get(f"tx:{tx}"))["deadline"] for tx in ids}
        stop = time.monotonic() + 60
        while time.monotonic() < stop:
            rows_now = requests.get(sb + "/sandbox/transactions", timeout=10).json()
            if sum(tx["status"] == "CANCELLED" for tx in rows_now) == checkouts:
                break
            time.sleep(0.5)
        deletes = stats(sb).get("cancel", 0)
    delays = [datetime.fromisoformat(tx["updatedAt"].replace("Z", "+00:00")).timestamp()
              - deadlines[tx["_id"]] for tx in rows_now if tx["status"] == "CANCELLED"]
    p50, p95 = pct(delays, 50), pct(delays, 95)
    ok = len(delays) == checkouts and deletes == checkouts and min(delays) >= 0 and p95 <= 3
    rows.append((f"Watcher: deadline to DELETE, no screen ({checkouts} checkouts), p50 / p95",
                 f"{p50 * 1000:.0f} / {p95 * 1000:.0f} ms, {deletes} DELETEs, none early",
                 "p95 ≤ 3 s, one DELETE each", ok))

def soak(rows: list, kiosks: int, minutes: float) -> None:
    """Opt-in: many kiosks for a long time with 1 % upstream faults; nothing lost or doubled."""
    with sandbox() as sb, kiosk(sb, ROOT / "bench" / ".state-soak", THREADS="16") as (url, _):
        stop = time.monotonic() + minutes * 60
        five_xx, outcomes, started, broken = [0], [], [], []
        lock = threading.Lock()

        def shopper(n: int) -> None:
            try:
                shop(n)
            except Exception as exc:  # noqa: BLE001 - counted: a shopper that broke off
                with lock:
                    broken.append(repr(exc))

        def shop(n: int) -> None:
            http = browser_like()
            while time.monotonic() < stop:
                try:
                    tx = start_checkout(http, url, str(10 + n % 50))
                except Exception:  # noqa: BLE001 - a create refused during a fault: the customer retries
                    continue
                with lock:
                    started.append(tx)
                if random.random() < 0.01:
                    requests.post(f"{sb}/sandbox/faults", json={"fail_next": 1}, timeout=5)
                requests.post(f"{sb}/sandbox/transactions/{tx}/pay", json={"share": "full"}, timeout=5)
                while time.monotonic() < stop + 30:
                    r = http.get(f"{url}/pay/{tx}/status", headers={"HX-Request": "true"}, timeout=20)
                    if r.status_code >= 500:
                        five_xx[0] += 1
                    if r.headers.get("HX-Redirect"):
                        with lock:
                            outcomes.append(http.get(url + r.headers["HX-Redirect"], timeout=20).status_code)
                        http.post(url + "/done", data={"csrf_token": field(
                            http.get(url + "/result/" + tx, timeout=20).text, "csrf_token")}, timeout=20)
                        break
                    time.sleep(2)

        threads = [threading.Thread(target=shopper, args=(n,)) for n in range(kiosks)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        total = len(requests.get(sb + "/sandbox/transactions", timeout=30).json())
    ok = five_xx[0] == 0 and total == len(started) == len(outcomes) and not broken
    rows.append((f"Soak: {kiosks} kiosks, {minutes:g} min, 1 % faults",
                 f"{len(started)} checkouts, {total} upstream, {len(outcomes)} results, {five_xx[0]} 5xx, "
                 f"{len(broken)} shoppers broke off", "none lost or doubled, no 5xx", ok))
    for problem in broken[:5]:
        print("  shopper broke off:", problem)
