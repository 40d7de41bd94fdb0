"""Benchmarks of the kiosk: `make bench`. Prints a table and writes bench/RESULTS.md.

Everything runs for real on loopback: the sandbox and `kiosk serve` (gunicorn) as processes,
load from this process, Chromium for the detection latency and the till API's display. Figures
compared with each other are measured side by side in one run, so the machine's noise cancels.
Never part of CI. The measures live in screens.py, till.py and watcher.py; common.py starts the
processes; ledger.py the sales ledger's cost on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

import exports
import ledger
import screens
import till
import watcher
from common import ROOT

RESULTS = ROOT / "bench" / "RESULTS.md"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer runs, for a smoke test")
    parser.add_argument("--soak", action="store_true", help="also run the long soak")
    parser.add_argument("--soak-minutes", type=float, default=30)
    parser.add_argument("--soak-kiosks", type=int, default=200)
    parser.add_argument("--only", help="run only this measure (e.g. soak); results go to stdout")
    args = parser.parse_args()
    q = args.quick
    rows: list[tuple[str, str, str, bool]] = []
    steps = [
        ("detection latency", lambda: screens.detection_latency(rows, 5 if q else 20)),
        ("poll overhead", lambda: screens.poll_overhead(rows, 50 if q else 300)),
        ("capacity", lambda: screens.capacity(rows, 20 if q else 50, 3 if q else 10)),
        # 30: what one address may pair in ten minutes (the pairing codes' own limit)
        ("idle displays", lambda: screens.idle_displays(rows, 20 if q else 30, 3 if q else 10)),
        ("logins", lambda: screens.logins(rows, 20 if q else 100)),
        ("page weight", lambda: screens.page_weight(rows)),
        ("memory", lambda: screens.memory(rows, 2000 if q else 10000)),
        ("till api", lambda: till.till_api(rows, 5 if q else 20, 5 if q else 10)),
        ("watcher", lambda: watcher.watcher_cost(rows, 10 if q else 30, 30 if q else 120)),
        ("ledger", lambda: ledger.ledger_cost(rows, 10 if q else 30, 5 if q else 10)),
        ("export", lambda: exports.export(rows, 10_000 if q else 100_000)),
    ]
    if args.soak or args.only == "soak":
        steps.append(("soak", lambda: watcher.soak(rows, args.soak_kiosks, args.soak_minutes)))
    if args.only:
        steps = [step for step in steps if step[0] == args.only]
    for name, step in steps:
        print(f"… {name}", flush=True)
        step()
    width = max(len(r[0]) for r in rows)
    lines = [f"{'measure'.ljust(width)} | result | target | met"]
    lines += [f"{r[0].ljust(width)} | {r[1]} | {r[2]} | {'yes' if r[3] else 'NO'}" for r in rows]
    print("\n".join(lines))
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    md = [
        "# Benchmark results", "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `make bench{' ARGS=--quick' if q else ''}` on "
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.system()} "
        f"{platform.release()}.", "",
        "| measure | result | target | met |", "|---|---|---|---|",
        *[f"| {r[0]} | {r[1]} | {r[2]} | {'yes' if r[3] else '**no**'} |" for r in rows], "",
    ]
    if args.only:
        return 0  # a partial run does not replace the results file
    RESULTS.write_text("\n".join(md))
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
