"""The accounting export under `kiosk serve`: 100,000 ledger rows streamed as CSV to an operator.
First byte, the whole file, and how much a worker's memory grows while it streams."""

from __future__ import annotations

import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import requests
from common import BENCH_PIN, ROOT, field, kiosk, rss_mb, sandbox, workers_of

sys.path.insert(0, str(ROOT))
from kiosk.ledger import Ledger, make_engine, sqlite_url  # noqa: E402
from kiosk.ledger.schema import checkouts  # noqa: E402

START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def fill(state, count: int) -> None:
    """`count` closed sales over a year, written straight into the kiosk's ledger."""
    ledger = Ledger(make_engine(sqlite_url(state)))
    ledger.upgrade()
    step = timedelta(days=364) / count
    batch = []
    with ledger.engine.begin() as conn:
        for n in range(count):
            at = START + step * n
            batch.append({
                "tx_id": f"{n:024x}", "kiosk_ref": f"r{n}", "started_by_kind": "kiosk", "started_by": "k",
                "reference": f"till-{n}, \"table\" {n % 40}", "lines": [], "amount": Decimal("123.45"),
                "tip": Decimal("12.35"), "currency": "TRY", "coin": "TRX", "network": "TRX",
                "coin_amount": Decimal("10.864"), "conversion_rate": Decimal("12.50"),
                "exchange_fee": Decimal("0"), "commission": Decimal("0"), "sequence_id": 10000 + n,
                "status": "paid", "version": 3, "received": Decimal("10.864"), "attention": [],
                "created_at": at, "paid_at": at + timedelta(seconds=40),
                "closed_at": at + timedelta(seconds=40), "seen_at": at, "updated_at": at,
            })
            if len(batch) == 5000:
                conn.execute(checkouts.insert(), batch)
                batch = []
        if batch:
            conn.execute(checkouts.insert(), batch)


def export(rows: list, count: int) -> None:
    state = ROOT / "bench" / ".state-export"
    with sandbox() as sb, kiosk(sb, state, workers=1, OPERATOR_PIN=BENCH_PIN) as (url, proc):
        fill(state, count)
        staff = requests.Session()
        html = staff.get(url + "/operator", timeout=10).text
        staff.post(url + "/operator", data={"csrf_token": field(html, "csrf_token"), "pin": BENCH_PIN},
                   timeout=10)
        [worker] = workers_of(proc.pid)
        before, peak, done = rss_mb(worker), [0.0], threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], rss_mb(worker))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        started = time.monotonic()
        first = None
        size = lines = 0
        with staff.get(url + "/operator/export.csv?from=2026-01-01&to=2026-12-31", stream=True,
                       timeout=300) as response:
            for chunk in response.iter_content(chunk_size=65536):
                if first is None:
                    first = time.monotonic() - started
                size += len(chunk)
                lines += chunk.count(b"\r\n")
        whole = time.monotonic() - started
        done.set()
        sampler.join()
    growth = peak[0] - before
    assert lines >= count + 1, f"the file has {lines} lines"
    rows.append((f"Export of {count:,} rows: first byte", f"{first * 1000:.0f} ms", "< 1 s", first < 1))
    rows.append((f"Export of {count:,} rows: whole file", f"{whole:.1f} s ({size / 1e6:.1f} MB)", "—", True))
    rows.append(("Export: worker memory growth", f"{growth:+.1f} MB", "< 20 MB", growth < 20))
