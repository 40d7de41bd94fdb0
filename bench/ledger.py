"""The sales ledger's cost, on SQLite (the default) and on PostgreSQL (a fleet's): the status
poll's overhead over a direct upstream read, no database write while nothing changes, no upstream
call while an answer is shared, and the ledger's writes per checkout. PostgreSQL is a cluster of
the run's own (tests/pg.py: Debian's initdb and pg_ctl in a temporary folder)."""

from __future__ import annotations

import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests
from common import ROOT, free_port, kiosk, sandbox, start_checkout, stats

HTMX = {"HX-Request": "true"}


@contextmanager
def postgres():
    sys.path.insert(0, str(ROOT))
    from tests.pg import Postgres

    server = Postgres(free_port())
    try:
        yield server
    finally:
        server.stop()


def databases(server):
    """(name, a new database's KIOSK_DATABASE_URL for each measure): SQLite in the state folder
    (made new with it), then a new PostgreSQL database."""
    return [("SQLite", lambda: None), ("PostgreSQL", lambda: server.database().replace("+psycopg", ""))]


def engine_of(url: str | None, state: Path):
    from kiosk.ledger import make_engine, sqlite_url

    return make_engine(url.replace("postgresql://", "postgresql+psycopg://") if url else sqlite_url(state))


def row_writes(engine) -> tuple[int, int]:
    """(rows, writes): each write of a row moves its version by one, its insert makes it 1."""
    from sqlalchemy import text

    with engine.connect() as conn:
        query = text("SELECT count(*), coalesce(sum(version), 0) FROM checkouts")
        count, versions = conn.execute(query).one()
    return int(count), int(versions)


def database_writes(engine) -> int:
    """A mark that any write moves. PostgreSQL: the next transaction id (every transaction that
    writes takes one, a read-only one none; autovacuum is off for the table while measuring).
    SQLite: the main file's and its WAL's modification times."""
    from sqlalchemy import text

    if engine.url.get_backend_name() == "sqlite":
        path = Path(engine.url.database)
        wal = path.with_name(path.name + "-wal")
        return hash((path.stat().st_mtime_ns, wal.stat().st_mtime_ns if wal.exists() else 0))
    with engine.connect() as conn:
        mark = conn.execute(text("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint"))
        return int(mark.scalar_one())


def quiet(engine) -> None:
    """No autovacuum or autoanalyze of the ledger's table while the writes are counted."""
    from sqlalchemy import text

    if engine.url.get_backend_name() == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE checkouts SET (autovacuum_enabled = false)"))


def poll_overhead(rows: list, n: int, name: str, url: str | None) -> None:
    """The status fragment's latency against the client's direct detail call, interleaved; each
    fragment is the first poll of its own checkout, so it really asks upstream."""
    from kiosk.cryptom import CryptomClient

    settings = {"DATABASE_URL": url} if url else {}
    state = ROOT / "bench" / f".state-ledger-overhead-{name.lower()}"
    with sandbox() as sb, kiosk(sb, state, workers=1, WATCHER="off", **settings) as (kurl, _):
        tx_ids = [start_checkout(requests.Session(), kurl, str(10 + i)) for i in range(n)]
        http = requests.Session()
        client = CryptomClient(sb, "merchant@sandbox.test", "sandbox-password")
        direct, fragment = [], []
        for tx_id in tx_ids:
            t = time.perf_counter()
            client.transaction(tx_id)
            direct.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            http.get(f"{kurl}/pay/{tx_id}/status", headers=HTMX, timeout=10)
            fragment.append((time.perf_counter() - t) * 1000)
    mid_fragment, mid_direct = statistics.median(fragment), statistics.median(direct)
    overhead = mid_fragment - mid_direct
    rows.append((f"Poll on {name}: fragment vs direct detail, p50",
                 f"{mid_fragment:.2f} vs {mid_direct:.2f} ms ({overhead:+.2f} ms)", "overhead ≤ 1 ms",
                 overhead <= 1))


def ledger_cost(rows: list, checkouts: int, rounds: int) -> None:
    with postgres() as server:
        for name, fresh in databases(server):
            poll_overhead(rows, 100 if checkouts < 20 else 300, name, fresh())
            _writes(rows, checkouts, rounds, name, fresh())
            _shared(rows, name, fresh())


def _writes(rows: list, checkouts: int, rounds: int, name: str, url: str | None) -> None:
    """Checkouts through their life (created, partly paid, paid), the screens polling: the
    ledger's writes per checkout. Then open checkouts polled with nothing changing: none."""
    settings = {"DATABASE_URL": url} if url else {}
    state = ROOT / "bench" / f".state-ledger-writes-{name.lower()}"
    # A 1 s poll shares an answer for 0.5 s: the screens wait 0.6 s to see each change.
    settings.update(WATCHER="off", POLL_INTERVAL="1")
    with sandbox() as sb, kiosk(sb, state, workers=2, **settings) as (kurl, _):
        engine = engine_of(url, state)
        sessions = []
        for n in range(checkouts):
            http = requests.Session()
            sessions.append((http, start_checkout(http, kurl, f"{20 + n}.50")))
        for share in ("half", "full"):
            for _http, tx in sessions:
                requests.post(f"{sb}/sandbox/transactions/{tx}/pay", json={"share": share}, timeout=5)
            time.sleep(0.6)
            for http, tx in sessions:
                http.get(f"{kurl}/pay/{tx}/status", headers=HTMX, timeout=10)
        count, writes = row_writes(engine)
        statuses = {row.status for row in _rows(engine)}
        # Open checkouts, polled round after round past the shared answer's life: nothing changes.
        open_ones = []
        for n in range(checkouts):
            http = requests.Session()
            open_ones.append((http, start_checkout(http, kurl, f"{500 + n}.50")))
        time.sleep(0.6)
        quiet(engine)
        before, stamp, detail = row_writes(engine), database_writes(engine), stats(sb).get("detail", 0)
        for _ in range(rounds):
            for http, tx in open_ones:
                http.get(f"{kurl}/pay/{tx}/status", headers=HTMX, timeout=10)
            time.sleep(0.6)
        polls = rounds * checkouts
        reads = stats(sb).get("detail", 0) - detail
        after, stamp_after = row_writes(engine), database_writes(engine)
        start_checkout(requests.Session(), kurl, "999.50")  # the control: a write moves the mark
        moved = database_writes(engine) != stamp_after
    per = writes / count
    rows.append((f"Ledger writes per checkout on {name} (created, partly paid, paid: {count} checkouts, "
                 f"all {'/'.join(sorted(statuses))})", f"{per:.2f} ({writes} for {count})",
                 "≤ 3 (one per change)", per <= 3 and statuses == {"paid"}))
    unchanged = after == before and stamp_after == stamp and moved
    rows.append((f"Database writes on {name} while nothing changes ({polls} polls, {reads} upstream reads)",
                 "0" if unchanged else f"{after[1] - before[1]} row writes; the database changed: "
                 f"{stamp_after != stamp}; a write seen: {moved}",
                 "0", unchanged))


def _shared(rows: list, name: str, url: str | None, polls: int = 20) -> None:
    """Screens asking again while the last answer is shared (a 10 s poll shares it for 5 s), over
    two connections (the same customer's two tabs, served by either worker): upstream is not
    asked."""
    settings = {"DATABASE_URL": url} if url else {}
    state = ROOT / "bench" / f".state-ledger-shared-{name.lower()}"
    settings.update(WATCHER="off", POLL_INTERVAL="10")
    with sandbox() as sb, kiosk(sb, state, workers=2, **settings) as (kurl, _):
        http = requests.Session()
        tx = start_checkout(http, kurl)
        http.get(f"{kurl}/pay/{tx}/status", headers=HTMX, timeout=10)  # this one asks upstream
        other = requests.Session()
        other.cookies.update(http.cookies)
        before = stats(sb).get("detail", 0)
        started = time.monotonic()
        for n in range(polls):
            (http, other)[n % 2].get(f"{kurl}/pay/{tx}/status", headers=HTMX, timeout=10)
        took = time.monotonic() - started
        calls = stats(sb).get("detail", 0) - before
    rows.append((f"Upstream calls on {name} while an answer is shared ({polls} polls in {took:.1f} s, "
                 "two connections)", str(calls), "0", calls == 0 and took < 5))


def _rows(engine):
    from kiosk.ledger import Ledger

    return Ledger(engine).all()
