"""The customer's screens and the displays under load: detection latency, the poll's overhead,
capacity, idle displays, logins, page weight and memory."""

from __future__ import annotations

import gzip
import random
import re
import statistics
import threading
import time

import requests
from common import (
    BENCH_PIN,
    ROOT,
    field,
    flat_out,
    kiosk,
    pct,
    rss_mb,
    sandbox,
    start_checkout,
    static_path,
    stats,
    workers_of,
)


def detection_latency(rows: list, runs: int) -> None:
    """Time from the sandbox completing a payment to the paid screen in Chromium."""
    from playwright.sync_api import sync_playwright

    interval = 2
    state = ROOT / "bench" / ".state-latency"
    with sandbox() as sb, kiosk(sb, state, POLL_INTERVAL=str(interval)) as (url, _):
        latencies = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run"])
            page = browser.new_page()
            for _ in range(runs):
                page.goto(url + "/")
                for key in "10000":
                    page.get_by_test_id(f"key-{key}").click()
                page.get_by_test_id("amount-submit").click()
                page.get_by_test_id("qr").wait_for()
                tx_id = page.url.rsplit("/", 1)[1]
                time.sleep(random.uniform(0, interval * 1.5))
                paid_at = time.time() * 1000
                requests.post(f"{sb}/sandbox/transactions/{tx_id}/pay", json={"share": "full"}, timeout=5)
                page.get_by_test_id("result-paid").wait_for(timeout=15000)
                # When the paid screen was ready in the browser, by its own clock (the same machine's),
                # not when the test harness noticed it.
                shown = page.evaluate("performance.timing.domContentLoadedEventEnd")
                latencies.append(shown - paid_at)
            browser.close()
    p50, p95 = pct(latencies, 50), pct(latencies, 95)
    target = interval * 1000 + 250
    rows.append(("Detection latency p50 / p95", f"{p50:.0f} / {p95:.0f} ms",
                 f"p95 ≤ {target} ms (interval {interval} s + 250 ms)", p95 <= target))

def poll_overhead(rows: list, n: int) -> None:
    """The status fragment's latency against the client's direct detail call, interleaved.
    Each fragment is the first poll of its own checkout, so it really asks upstream."""
    from kiosk.cryptom import CryptomClient

    with sandbox() as sb, kiosk(sb, ROOT / "bench" / ".state-overhead", workers=1) as (url, _):
        tx_ids = [start_checkout(requests.Session(), url, str(10 + i)) for i in range(n)]
        http = requests.Session()  # one kept-alive connection for the polls, as htmx has
        client = CryptomClient(sb, "merchant@sandbox.test", "sandbox-password")
        direct, fragment = [], []
        for tx_id in tx_ids:
            t = time.perf_counter()
            client.transaction(tx_id)
            direct.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            http.get(f"{url}/pay/{tx_id}/status", headers={"HX-Request": "true"}, timeout=10)
            fragment.append((time.perf_counter() - t) * 1000)
    overhead = statistics.median(fragment) - statistics.median(direct)
    result = (f"{statistics.median(fragment):.1f} vs {statistics.median(direct):.1f} ms "
              f"({overhead:+.1f} ms)")
    rows.append(("Poll: fragment vs direct detail, p50", result, "overhead ≤ 1 ms", overhead <= 1))

def capacity(rows: list, kiosks: int, seconds: float) -> None:
    """Many waiting kiosks polling over keep-alive, against a static file from the same gunicorn."""
    with sandbox() as sb, kiosk(sb, ROOT / "bench" / ".state-capacity", THREADS="16") as (url, _):
        sessions = []
        for n in range(kiosks):
            http = requests.Session()
            sessions.append((http, start_checkout(http, url, str(100 + n))))
        static = static_path(sessions[0][0], url)
        htmx = {"HX-Request": "true"}
        before = stats(sb).get("detail", 0)
        status_rps, status_p99, status_n = flat_out(url, sessions, seconds,
                                                    lambda c: (f"/pay/{c[1]}/status", htmx))
        upstream = stats(sb).get("detail", 0) - before
        static_rps, static_p99, _ = flat_out(url, sessions, seconds, lambda c: (static, htmx))
    ratio = status_rps / static_rps
    result = (f"{status_rps:.0f} status/s (p99 {status_p99:.0f} ms) vs {static_rps:.0f} static/s "
              f"(p99 {static_p99:.0f} ms): ratio {ratio:.2f}")
    rows.append((f"Capacity, {kiosks} kiosks polling flat out", result, "ratio ≥ 0.5", ratio >= 0.5))
    per_poll = upstream / status_n
    rows.append(("Upstream calls per status request", f"{per_poll:.2f} ({upstream} for {status_n})",
                 "≤ 1", per_poll <= 1))

def idle_displays(rows: list, displays: int, seconds: float) -> None:
    """Paired displays waiting for the next sale, each polling flat out with If-None-Match as
    its browser does, against the static file: the idle poll's cost on one host."""
    with sandbox() as sb, kiosk(sb, ROOT / "bench" / ".state-displays", THREADS="16",
                                OPERATOR_PIN=BENCH_PIN) as (url, _):
        staff = requests.Session()
        html = staff.get(url + "/operator", timeout=10).text
        staff.post(url + "/operator", data={"csrf_token": field(html, "csrf_token"), "pin": BENCH_PIN},
                   timeout=10)
        clients = []
        for n in range(displays):
            http = requests.Session()
            page = http.get(url + "/display", timeout=10).text
            code = re.search(r'data-testid="pairing-code">(\w+)<', page)
            form = staff.get(url + "/operator/displays", timeout=10).text
            staff.post(url + "/operator/displays", timeout=10, data={
                "csrf_token": field(form, "csrf_token"), "code": code.group(1), "name": f"Counter {n}",
                "mode": "till"})
            poll = re.search(r'hx-get="(/display/poll\?s=\w+)"', http.get(url + "/display", timeout=10).text)
            etag = http.get(url + poll.group(1), timeout=10).headers["ETag"]
            clients.append((http, poll.group(1), etag))
        static = static_path(clients[0][0], url)
        before = sum(stats(sb).values())
        poll_rps, poll_p99, poll_n = flat_out(url, clients, seconds, lambda c: (
            c[1], {"HX-Request": "true", "If-None-Match": c[2]}))
        upstream = sum(stats(sb).values()) - before
        static_rps, static_p99, _ = flat_out(url, clients, seconds, lambda c: (static, {}))
    ratio = poll_rps / static_rps
    result = (f"{poll_rps:.0f} polls/s (p99 {poll_p99:.0f} ms) vs {static_rps:.0f} static/s "
              f"(p99 {static_p99:.0f} ms): ratio {ratio:.2f}")
    rows.append((f"Idle displays, {displays} polling flat out", result, "ratio ≥ 0.5", ratio >= 0.5))
    rows.append(("Upstream calls during idle polls", f"{upstream} for {poll_n} polls", "0", upstream == 0))

def logins(rows: list, checkouts: int) -> None:
    with sandbox() as sb, kiosk(sb, ROOT / "bench" / ".state-logins", workers=4) as (url, _):
        def one(n: int) -> None:
            http = requests.Session()
            tx = start_checkout(http, url, str(10 + n))
            http.get(f"{url}/pay/{tx}/status", headers={"HX-Request": "true"}, timeout=20)

        threads = [threading.Thread(target=one, args=(n,)) for n in range(checkouts)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        auths = stats(sb).get("auth", 0)
    rows.append((f"Logins, 4 workers, {checkouts} checkouts", f"{auths} POST /auth", "1", auths == 1))

def page_weight(rows: list) -> None:
    with sandbox() as sb, kiosk(sb, ROOT / "bench" / ".state-weight") as (url, _):
        http = requests.Session()

        def weigh(path: str) -> tuple[int, int, list[str]]:
            r = http.get(url + path, timeout=10)
            html = r.content
            assets = re.findall(r'(?:href|src)="(/(?:static|pay)/[^"]+)"', r.text)
            raw, zipped, cached = len(html), len(gzip.compress(html, 9)), []
            for asset in assets:
                a = http.get(url + asset, timeout=10)
                raw += len(a.content)
                zipped += len(gzip.compress(a.content, 9)) if not asset.endswith(".png") else len(a.content)
                cached.append(a.headers.get("Cache-Control", ""))
            return raw, zipped, cached

        amount_raw, amount_gz, cached = weigh("/")
        tx = start_checkout(requests.Session(), url)
        pay_raw, pay_gz, _ = weigh(f"/pay/{tx}")
    far_future = all("max-age=31536000" in c for c in cached if c)
    result = f"{amount_raw / 1024:.1f} KB raw, {amount_gz / 1024:.1f} KB gzip"
    rows.append(("Amount screen, first load", result, "≤ 20 KB gzip", amount_gz <= 20 * 1024))
    rows.append(("Pay screen, first load (QR included)", f"{pay_raw / 1024:.1f} KB raw, "
                 f"{pay_gz / 1024:.1f} KB gzip", "—", True))
    rows.append(("Static assets: versioned URLs, far-future cache", "yes" if far_future else "no",
                 "yes", far_future))

def memory(rows: list, polls: int) -> None:
    with sandbox() as sb, kiosk(sb, ROOT / "bench" / ".state-memory") as (url, proc):
        sessions = []
        for n in range(20):
            http = requests.Session()
            sessions.append((http, start_checkout(http, url, str(100 + n))))
        half = {}

        def poll_many(count: int) -> None:
            per = count // len(sessions)
            def run(http, tx):
                for _ in range(per):
                    http.get(f"{url}/pay/{tx}/status", headers={"HX-Request": "true"}, timeout=20)
            threads = [threading.Thread(target=run, args=s) for s in sessions]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

        poll_many(polls // 2)
        for pid in workers_of(proc.pid):
            half[pid] = rss_mb(pid)
        poll_many(polls // 2)
        full = {pid: rss_mb(pid) for pid in workers_of(proc.pid)}
    peak = max(full.values())
    growth = max((full[p] - half[p]) / half[p] * 100 for p in full if p in half)
    rows.append((f"Worker RSS after {polls} polls", ", ".join(f"{v:.1f} MB" for v in full.values()),
                 "≤ 80 MB", peak <= 80))
    rows.append((f"RSS growth {polls // 2} → {polls} polls", f"{growth:+.1f} %", "< 5 %", growth < 5))
