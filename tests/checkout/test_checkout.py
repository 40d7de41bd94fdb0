"""The checkout rules, without HTTP: what each upstream state means on screen."""

from __future__ import annotations

import pytest
import time_machine

from kiosk.checkout import LocalStore, Outcome, decide
from kiosk.cryptom import Transaction

NOW = 1_000_000.0


def tx(status="PENDING", complete=False, received="0", coin_amount="10"):
    return Transaction.from_json({
        "_id": "6338cb9cd4cb3327e706ddb1", "status": status, "isTransferComplete": complete,
        "totalTransferAmount": received, "coinAmount": coin_amount, "currencyAmount": "100",
    })


@pytest.mark.parametrize(
    ("t", "deadline", "reason", "expected"),
    [
        (tx(), NOW + 10, None, Outcome.WAITING),
        (tx("TRANSFERRED", received="4"), NOW + 10, None, Outcome.PARTLY_PAID),
        (tx("TRANSFERRED", complete=True, received="10"), NOW + 10, None, Outcome.PAID),
        # isTransferComplete alone decides paid, whatever the status says
        (tx("CANCELLED", complete=True, received="10"), NOW - 10, "deadline", Outcome.PAID),
        (tx("SOMETHING_NEW", complete=True), NOW + 10, None, Outcome.PAID),
        (tx("DONE"), NOW + 10, None, Outcome.WAITING),
        (tx("SOMETHING_NEW"), NOW + 10, None, Outcome.WAITING),
        (tx("CANCELLED"), NOW + 10, None, Outcome.CANCELLED),
        (tx("CANCELLED"), NOW + 10, "customer", Outcome.CANCELLED),
        (tx("CANCELLED"), NOW - 10, "deadline", Outcome.EXPIRED),
        (tx("TIMEOUT"), NOW + 10, None, Outcome.EXPIRED),
        # money received is never a plain cancellation
        (tx("CANCELLED", received="4"), NOW + 10, "customer", Outcome.PARTIAL_KEPT),
        (tx("CANCELLED", received="4"), NOW - 10, "deadline", Outcome.PARTIAL_KEPT),
        (tx("TIMEOUT", received="0.000001"), NOW + 10, None, Outcome.PARTIAL_KEPT),
        (tx(), NOW, None, Outcome.DUE),
        (tx("TRANSFERRED", received="4"), NOW - 1, None, Outcome.DUE),
    ],
)
def test_decide(t, deadline, reason, expected):
    assert decide(t, deadline, NOW, reason) is expected


def test_final_outcomes():
    assert {o for o in Outcome if not o.is_final} == {Outcome.WAITING, Outcome.PARTLY_PAID, Outcome.DUE}


def test_store_add_is_a_guard_across_processes(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "store.sqlite3"
    LocalStore(path)
    script = (f"from kiosk.checkout import LocalStore; s = LocalStore({str(path)!r});"
              "print(sum(s.add(f'k{i}', 'x') for i in range(200)))")
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
             for _ in range(4)]
    wins = [int(p.communicate(timeout=60)[0]) for p in procs]
    assert sum(wins) == 200  # each key won exactly once


def test_store_expiry(tmp_path):
    store = LocalStore(tmp_path / "s.sqlite3")
    with time_machine.travel(1_800_000_000, tick=False) as clock:
        assert store.add("a", "1", ttl=60) and not store.add("a", "2", ttl=60)
        clock.shift(59.999)
        assert store.get("a") == "1" and not store.add("a", "2", ttl=60)
        clock.shift(0.001)  # at the TTL it is gone
        assert store.get("a") is None and store.add("a", "3")
    store.set("attention:x", "1")
    store.set("attention:y", "2")
    store.set("other", "3")
    assert [k for k, _ in store.items("attention:")] == ["attention:x", "attention:y"]


def test_store_purges_expired_rows(tmp_path):
    import sqlite3

    store = LocalStore(tmp_path / "s.sqlite3")
    with time_machine.travel(1_800_000_000, tick=False) as clock:
        for i in range(50):
            store.incr(f"rate:addr:{i}", ttl=60)
        store.set("tx:kept", "1", ttl=3600)
        clock.shift(59)
        assert store.purge() == 0
        clock.shift(1)
        assert store.purge() == 50
    rows = sqlite3.connect(tmp_path / "s.sqlite3").execute("SELECT key FROM kv").fetchall()
    assert rows == [("tx:kept",)]


def _open_when_all_ready(path: str, barrier) -> None:
    barrier.wait(30)
    store = LocalStore(path)
    store.add("opened", "1")


def test_many_processes_opening_a_new_store_at_once_all_start(tmp_path):
    """Workers of a fresh install start together: none may fail setting up the file."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    for attempt in range(6):
        path = str(tmp_path / f"new-{attempt}.sqlite3")
        barrier = ctx.Barrier(32)
        procs = [ctx.Process(target=_open_when_all_ready, args=(path, barrier)) for _ in range(32)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        assert [p.exitcode for p in procs] == [0] * 32


def test_the_in_process_memory_keeps_the_most_recently_used_items_only():
    from kiosk.checkout.record import Recent

    memory = Recent(size=3)
    for key in "abc":
        memory.put(key, key.upper())
    assert memory.get_item("a") == "A"  # a is now the most recently used
    memory.put("d", "D")  # one past the size: the least recently used (b) goes
    assert [memory.get_item(k) for k in "abcd"] == ["A", None, "C", "D"]
    assert len(memory) == 3
    memory.drop("a")
    memory.drop("zz")  # dropping what is not there is fine
    assert memory.get_item("a") is None and len(memory) == 2
