"""The operator PIN guard: every attempt counted atomically across processes, per kiosk session,
per client address and in a global budget with growing back-off."""

from __future__ import annotations

import multiprocessing
import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from kiosk.checkout import LocalStore, RedisStore
from kiosk.checkout.pin import PinGuard

from ..conftest import PIN

WRONG = "135799"
PROCESSES = 16
TRIES_EACH = 3
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def open_store(where: str):
    if where.startswith("redis://"):
        import redis

        return RedisStore(redis.Redis.from_url(where))
    return LocalStore(where)


def attempt_together(where: str, rotate: bool, number: int, barrier, compared, results) -> None:
    """One process of the burst: three threads, each sending one wrong PIN when all are ready.
    Comparisons are counted by watching the guard's constant-time compare, which still runs."""
    from kiosk.checkout import pin as pin_module

    real = pin_module.hmac.compare_digest

    def counting(a, b):
        with compared.get_lock():
            compared.value += 1
        return real(a, b)

    pin_module.hmac.compare_digest = counting
    guard = PinGuard(open_store(where), PIN)

    def one(n: int) -> None:
        whos = [f"addr:10.0.{number}.{n}", f"session:{number}-{n}"] if rotate else ["addr:10.0.0.1",
                                                                                   "session:one"]
        guard.store.get("warm")  # each thread's own connection, opened before the start
        barrier.wait()
        results.put(guard.check(WRONG, whos).ok)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(TRIES_EACH)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def burst(where: str, rotate: bool = False) -> int:
    # Processes forked from one server that has loaded the kiosk once: a fresh interpreter
    # each, without inheriting this one's threads, and quick to start.
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__])
    barrier = ctx.Barrier(PROCESSES * TRIES_EACH)
    compared = ctx.Value("i", 0)
    results = ctx.Queue()
    procs = [ctx.Process(target=attempt_together, args=(where, rotate, n, barrier, compared, results))
             for n in range(PROCESSES)]
    for proc in procs:
        proc.start()
    answers = [results.get(timeout=60) for _ in range(PROCESSES * TRIES_EACH)]
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    assert answers == [False] * PROCESSES * TRIES_EACH
    return compared.value


@pytest.fixture(params=["sqlite", "redis"])
def shared(request, tmp_path):
    """Where the workers of one kiosk (or a fleet) keep the guard: one SQLite file, or Redis."""
    if request.param == "redis":
        return request.getfixturevalue("redis_url")
    return str(tmp_path / "kiosk.sqlite3")


def test_a_burst_from_one_client_gets_exactly_five_pins_compared(shared):
    assert burst(shared) == 5
    # The lock holds afterwards: no late write erased it, and the right PIN waits too.
    result = PinGuard(open_store(shared), PIN).check(PIN, ["addr:10.0.0.1", "session:one"])
    assert not result.ok and result.locked_for > 0


def test_a_burst_rotating_sessions_and_addresses_meets_the_global_budget(shared):
    assert burst(shared, rotate=True) == 10
    result = PinGuard(open_store(shared), PIN).check(PIN, ["addr:192.0.2.1", "session:fresh"])
    assert not result.ok and result.locked_for > 0


# -- the rules, one process, on the one clock ------------------------------------------------------


@pytest.fixture
def guard(tmp_path):
    return PinGuard(LocalStore(tmp_path / "kiosk.sqlite3"), PIN)


def test_five_wrong_lock_one_client_for_exactly_five_minutes(guard):
    me = ["addr:10.0.0.1", "session:a"]
    with time_machine.travel(START, tick=False) as clock:
        assert [guard.check(WRONG, me).tries_left for _ in range(4)] == [4, 3, 2, 1]
        fifth = guard.check(WRONG, me)
        assert not fifth.ok and fifth.locked_for == 300
        clock.move_to(START + timedelta(seconds=299))
        assert guard.check(PIN, me).locked_for == 1
        assert guard.check(PIN, ["addr:10.0.0.1", "session:b"]).locked_for == 1  # the address
        assert guard.check(PIN, ["addr:10.0.0.2", "session:a"]).locked_for == 1  # the session
        assert guard.check(PIN, ["addr:10.0.0.3", "session:c"]).ok  # anyone else
        clock.move_to(START + timedelta(seconds=300))
        assert guard.check(PIN, me).ok


def test_the_right_pin_resets_the_count_of_wrong_tries(guard):
    me = ["addr:10.0.0.1", "session:a"]
    with time_machine.travel(START, tick=False):
        for _ in range(2):
            assert [guard.check(WRONG, me).tries_left for _ in range(4)] == [4, 3, 2, 1]
            assert guard.check(PIN, me).ok


def test_the_global_budget_locks_with_growing_back_off(guard):
    """Ten wrong PINs from anywhere lock the area for everyone: 5, then 10, then 20 minutes."""
    clients = iter(range(1000))

    def stranger() -> list[str]:
        n = next(clients)
        return [f"addr:198.51.100.{n}", f"session:{n}"]

    with time_machine.travel(START, tick=False) as clock:
        at = START
        for minutes in (5, 10, 20):
            for _ in range(10):
                result = guard.check(WRONG, stranger())
                assert not result.ok
            assert result.locked_for == minutes * 60
            assert guard.check(PIN, stranger()).locked_for == minutes * 60  # even the right PIN
            clock.move_to(at + timedelta(minutes=minutes) - timedelta(seconds=1))
            assert guard.check(PIN, stranger()).locked_for == 1
            at += timedelta(minutes=minutes)
            clock.move_to(at)
        assert guard.check(PIN, stranger()).ok


def test_the_back_off_is_forgotten_after_a_quiet_day(guard):
    def wrong_from(n: int):
        return guard.check(WRONG, [f"addr:198.51.100.{n}", f"session:{n}"])

    with time_machine.travel(START, tick=False) as clock:
        for n in range(10):
            result = wrong_from(n)
        assert result.locked_for == 300
        clock.move_to(START + timedelta(days=1, minutes=5))
        for n in range(10, 20):
            result = wrong_from(n)
        assert result.locked_for == 300


def test_wrong_tries_are_forgotten_ten_minutes_after_the_first(guard):
    me = ["addr:10.0.0.1", "session:a"]
    with time_machine.travel(START, tick=False) as clock:
        assert [guard.check(WRONG, me).tries_left for _ in range(4)] == [4, 3, 2, 1]
        clock.move_to(START + timedelta(seconds=599))
        assert guard.check(WRONG, me).locked_for == 300  # the fifth, still within ten minutes
    with time_machine.travel(START + timedelta(hours=1), tick=False) as clock:
        assert guard.check(PIN, me).ok  # clears the global count of those five
        assert [guard.check(WRONG, me).tries_left for _ in range(4)] == [4, 3, 2, 1]
        clock.move_to(START + timedelta(hours=1, seconds=600))
        assert guard.check(WRONG, me).tries_left == 4  # a new round


def test_the_global_budget_counts_for_a_day(guard):
    def wrong_from(n: int):
        return guard.check(WRONG, [f"addr:198.51.100.{n}", f"session:{n}"])

    with time_machine.travel(START, tick=False) as clock:
        for n in range(9):
            assert wrong_from(n).locked_for == 0
        clock.move_to(START + timedelta(days=1, seconds=-1))
        assert wrong_from(9).locked_for == 300  # the tenth within the day
        clock.move_to(START + timedelta(days=3))
        for n in range(10, 19):
            assert wrong_from(n).locked_for == 0
        clock.move_to(START + timedelta(days=4))
        assert wrong_from(19).locked_for == 0  # the first nine are forgotten


class LockMeanwhile:
    """The store, with another client's wrong PIN landing between this try's look at the locks
    and its count: the interleaving a busy fleet produces now and then, made to happen."""

    def __init__(self, store, other: list[str]) -> None:
        self.store = store
        self.other = other
        self.pending = True

    def __getattr__(self, name):
        return getattr(self.store, name)

    def incr(self, key: str, ttl: float) -> int:
        if self.pending:
            self.pending = False
            assert PinGuard(self.store, PIN).check(WRONG, self.other).locked_for > 0
        return self.store.incr(key, ttl)


@pytest.mark.parametrize("scope", ["address", "global"])
def test_a_try_that_looked_before_a_lock_was_written_is_refused(tmp_path, scope):
    store = LocalStore(tmp_path / "kiosk.sqlite3")
    if scope == "address":  # four wrong from this address; the other session's fifth locks it
        me, other, before = ["addr:10.0.0.1", "session:me"], ["addr:10.0.0.1", "session:other"], 4
    else:  # nine wrong from strangers; a tenth stranger locks everyone
        me, other, before = ["addr:10.0.0.1", "session:me"], ["addr:192.0.2.10", "session:10"], 9
    with time_machine.travel(START, tick=False):
        for n in range(before):
            whos = other if scope == "address" else [f"addr:192.0.2.{n}", f"session:{n}"]
            PinGuard(store, PIN).check(WRONG, whos)
        result = PinGuard(LockMeanwhile(store, other), PIN).check(PIN, me)
    assert not result.ok and not result.compared and result.locked_for == 300


def test_a_lock_leaves_nothing_behind_when_it_ends(guard):
    me = ["addr:10.0.0.1", "session:a"]
    with time_machine.travel(START, tick=False) as clock:
        for _ in range(5):
            guard.check(WRONG, me)
        clock.move_to(START + timedelta(seconds=300))
        guard.store.purge()
        assert [key for key, _ in guard.store.items("pin:")] == ["pin:tries:global"]


def test_no_pin_means_no_way_in(tmp_path):
    guard = PinGuard(LocalStore(tmp_path / "kiosk.sqlite3"), None)
    assert not guard.check("", ["addr:10.0.0.1"]).ok


# -- the store's atomic counter ------------------------------------------------------------------


def test_counters_count_and_reset_in_both_stores(shared):
    store = open_store(shared)
    with time_machine.travel(START, tick=False) as clock:
        assert [store.incr("c", ttl=60) for _ in range(3)] == [1, 2, 3]
        store.delete("c")
        assert store.incr("c", ttl=60) == 1
        clock.move_to(START + timedelta(seconds=59))
        assert store.incr("c", ttl=60) == 2


# -- the owner clears a lockout from the server ----------------------------------------------------


def pin_cli(state_dir, *args: str, **env: str):
    import os
    import subprocess
    import sys

    settings = {"KIOSK_STATE_DIR": str(state_dir), "KIOSK_API_URL": "http://127.0.0.1:9",
                "KIOSK_API_EMAIL": "shop@example.com", "KIOSK_API_PASSWORD": "-",
                "KIOSK_SECRET_KEY": "test-secret-key-0123456789", "KIOSK_OPERATOR_PIN": PIN}
    return subprocess.run([sys.executable, "-m", "kiosk.cli", "pin", *args], capture_output=True,
                          text=True, env={**os.environ, **settings, **env}, timeout=60)


def test_unlock_ends_every_lock_and_count_and_the_back_off(guard):
    """What `kiosk pin unlock` does, in this process: staff and everyone else let in at once,
    their counts of wrong tries back to the full five, the back-off started over."""
    staff = ["addr:10.0.0.9", "session:staff"]
    with time_machine.travel(START, tick=False) as clock:
        assert guard.unlock() == 0  # nothing locked
        for minutes in (5, 10):  # strangers spent the global budget twice: the back-off grows
            for n in range(10):
                guard.check(WRONG, [f"addr:198.51.100.{n}", f"session:{minutes}-{n}"])
            assert guard.locked_for(staff) == minutes * 60
            clock.shift(minutes * 60)
        for _ in range(5):
            guard.check(WRONG, staff)
        guard.check(WRONG, ["addr:198.51.100.99", "session:almost"])  # a count, not a lock
        assert guard.locked_for(staff) == 300
        assert guard.unlock() == 2  # the staff's address and session
        assert guard.locked_for(staff) == 0
        assert guard.check(WRONG, ["addr:198.51.100.99", "session:almost"]).tries_left == 4
        assert [guard.check(WRONG, staff).tries_left for _ in range(4)] == [4, 3, 2, 1]
        assert guard.check(PIN, staff).ok
        for n in range(10):  # the back-off started over: five minutes, not twenty
            result = guard.check(WRONG, [f"addr:203.0.113.{n}", f"session:x{n}"])
        assert result.locked_for == 300
        assert guard.unlock() == 1


@pytest.mark.parametrize("where", ["sqlite", "redis"])
def test_kiosk_pin_unlock_ends_every_lock_and_the_back_off(where, tmp_path, request):
    """Staff locked themselves out, then strangers spent the global budget. `kiosk pin unlock` on
    the server lets staff in at once and starts the back-off over; it never prints the PIN."""
    env = {}
    if where == "redis":
        env["KIOSK_REDIS_URL"] = request.getfixturevalue("redis_url")
        store = open_store(env["KIOSK_REDIS_URL"])
    else:
        store = LocalStore(tmp_path / "kiosk.sqlite3")
    guard = PinGuard(store, PIN)
    staff = ["addr:10.0.0.9", "session:staff"]
    for _ in range(5):
        guard.check(WRONG, staff)
    for n in range(5):
        guard.check(WRONG, [f"addr:198.51.100.{n}", f"session:{n}"])
    assert guard.locked_for(staff) == 300
    assert guard.locked_for(["addr:192.0.2.1", "session:other"]) == 300  # everyone

    done = pin_cli(tmp_path, "unlock", **env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Ended 3 locks."  # the global one, the staff's address and session
    assert PIN not in done.stdout + done.stderr
    assert guard.locked_for(staff) == 0
    assert guard.check(PIN, staff).ok
    # The back-off started over: the next ten wrong tries lock for five minutes, not ten.
    for n in range(10):
        result = guard.check(WRONG, [f"addr:203.0.113.{n}", f"session:x{n}"])
    assert result.locked_for == 300


def test_kiosk_pin_unlock_with_nothing_locked_says_so(tmp_path):
    done = pin_cli(tmp_path, "unlock")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Nothing was locked."
