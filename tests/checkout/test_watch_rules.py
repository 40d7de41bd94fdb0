"""The watcher's decisions for one checkout, in this process, at their edges: when an open
checkout is read and cancelled, how a closed one is watched as it ages, what a run does when
another has the checkout or the job is stale. The checkout service talks to the sandbox over
real HTTP; the clock is moved with time-machine."""

from __future__ import annotations

from decimal import Decimal

import time_machine

from kiosk.checkout.base import WATCHED

from ..desk import T0


def test_an_open_checkout_is_read_every_interval_and_at_its_deadline(desk):
    d = desk(watch_interval=15)
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        deadline = T0 + 600
        assert d.due(tx) == T0 + 15 and d.woken == [(tx, T0 + 15)]
        reads = d.calls("detail")
        clock.shift(14.999)  # the queue's clock a moment ahead: not yet, and no upstream read
        assert d.checkout.watch(tx, T0 + 15) is None
        assert d.calls("detail") == reads and d.due(tx) == T0 + 15
        assert d.woken == [(tx, T0 + 15)] * 2  # queued again for when it is due
        clock.shift(0.001)  # due now
        assert d.checkout.watch(tx, T0 + 15) == T0 + 30
        assert d.calls("detail") == reads + 1 and d.due(tx) == T0 + 30 and d.woken[-1] == (tx, T0 + 30)
        clock.move_to(deadline - 15.001)  # a late job: read, and next one interval on
        assert d.checkout.watch(tx) == deadline - 0.001
        clock.move_to(deadline - 0.001)  # less than an interval left: next at the deadline
        assert d.checkout.watch(tx) == deadline
        assert d.calls("cancel") == 0 and d.upstream(tx)["status"] == "PENDING"
        clock.move_to(deadline)  # at the deadline: cancelled, closed, watched as closed
        assert d.checkout.watch(tx) == deadline + 15
        assert d.calls("cancel") == 1 and d.upstream(tx)["status"] == "CANCELLED"
        assert d.checkout.last_outcome(tx) == "expired" and d.checkout.cancel_reason(tx) == "deadline"
        assert d.woken[-1] == (tx, deadline + 15)


def test_a_job_for_a_time_the_checkout_has_moved_on_from_does_nothing(desk):
    d = desk(watch_interval=15)
    with time_machine.travel(T0 + 100, tick=False):
        tx = d.start()
        due = d.due(tx)
        reads = d.calls("detail")
        woken = list(d.woken)
        assert d.checkout.watch(tx, due - 15) is None  # a duplicate of an earlier job
        assert d.checkout.watch(tx, due + 1e-5) is None
        assert d.calls("detail") == reads and d.due(tx) == due and d.woken == woken
    with time_machine.travel(due + 1, tick=False):
        # Stored times come back from the store as floats: a hair's difference is the same job.
        assert d.checkout.watch(tx, due + 1e-7) == due + 1 + 15
        assert d.calls("detail") == reads + 1


def test_a_checkout_no_longer_watched_is_left_alone(desk):
    d = desk(watch_interval=15)
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        d.store.unschedule(WATCHED, tx)  # finished by another run
        clock.shift(20)
        reads, woken = d.calls("detail"), list(d.woken)
        assert d.checkout.watch(tx) is None and d.checkout.watch(tx, T0 + 15) is None
        assert d.calls("detail") == reads and d.woken == woken and d.due(tx) is None


def test_a_checkout_whose_record_is_gone_is_dropped_from_the_list(desk):
    d = desk(watch_interval=15)
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        d.store.delete(f"tx:{tx}")
        clock.shift(15)
        assert d.checkout.watch(tx) is None
        assert d.due(tx) is None and d.checkout.watched() == 0


def test_a_checkout_another_run_has_is_left_to_it_until_its_claim_expires(desk):
    d = desk(watch_interval=15)
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        clock.shift(15)
        assert d.store.add(f"watching:{tx}", "1", ttl=120)  # another host's run, which then died
        reads, woken = d.calls("detail"), list(d.woken)
        assert d.checkout.watch(tx) is None
        assert d.calls("detail") == reads and d.woken == woken and d.due(tx) == T0 + 15
        clock.shift(120)
        assert d.checkout.watch(tx) == T0 + 135 + 15 and d.calls("detail") == reads + 1
        # A finished run frees its claim at once: the next job runs.
        clock.shift(15)
        assert d.checkout.watch(tx) == T0 + 150 + 15 and d.calls("detail") == reads + 2


def test_a_run_holds_its_claim_for_two_minutes_at_most(desk):
    """A host that hangs mid-run (here: while it notes the result) keeps the checkout for two
    minutes; then another may take it."""
    d = desk(watch_interval=15, payment_timeout=30)
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        seen = d.probe_claim_while_hanging(clock, f"watching:{tx}")
        clock.shift(30)
        d.checkout.watch(tx)
    assert seen == [False, False, True]


def test_a_closed_checkout_is_read_less_often_as_it_ages_for_a_day(desk):
    d = desk(watch_interval=15, payment_timeout=60)
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        deadline = T0 + 60
        clock.move_to(deadline)
        assert d.checkout.watch(tx) == deadline + 15  # closed just now: the interval
        expected = [
            (29.999, 15), (30, 15), (40, 20),  # half its age, at least the interval
            (14_399.999, 7199.9995), (14_400, 7200), (20_000, 7200),  # at most two hours
            (86_400 - 7200, 7200), (86_400 - 7199, 7199), (86_399.999, 0.001),  # never past the day
        ]
        for age, gap in expected:
            clock.move_to(deadline + age)
            following = d.watch_now(tx)
            assert following is not None and round(following - deadline - age, 4) == gap, (age, gap)
            assert d.due(tx) == following
        reads = d.calls("detail")
        clock.move_to(deadline + 86_400)  # a day after its deadline: read once more, then let go
        assert d.watch_now(tx) is None and d.due(tx) is None
        assert d.calls("detail") == reads + 1 and d.calls("cancel") == 1


def test_a_closed_checkout_that_is_paid_late_is_no_longer_watched(desk):
    d = desk(watch_interval=15, payment_timeout=60)
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        clock.move_to(T0 + 60)
        d.checkout.watch(tx)
        assert d.checkout.last_outcome(tx) == "expired"
        d.sandbox.pay(tx, share="half")  # coins after the close: still watched
        clock.move_to(T0 + 60 + 15)
        assert d.checkout.watch(tx) == T0 + 75 + 15
        assert d.checkout.last_outcome(tx) == "partial" and d.attention()[tx]["kind"] == "partial_late"
        d.sandbox.pay(tx, share="full")
        clock.move_to(T0 + 60 + 30)
        assert d.checkout.watch(tx) is None and d.due(tx) is None
        assert d.checkout.last_outcome(tx) == "paid" and d.attention()[tx]["kind"] == "paid_late"
    assert d.events(tx) == ["created", "expired", "partly paid after close", "paid late"]


def test_a_closed_checkout_is_read_afresh_not_from_a_screens_answer(desk):
    """The result screen shares its answers; the watcher's look at a closed checkout does not
    take one, so coins that arrived since are noticed."""
    d = desk(watch_interval=15, payment_timeout=60, share_seconds=1.5)
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        clock.move_to(T0 + 60)
        assert d.checkout.watch(tx) == T0 + 75
        clock.move_to(T0 + 74)
        d.view(tx)  # a screen still showing the result
        d.sandbox.pay(tx, share="half")
        clock.move_to(T0 + 75)
        d.checkout.watch(tx)
        assert d.checkout.last_outcome(tx) == "partial" and d.attention()[tx]["kind"] == "partial_late"


def test_a_checkout_closed_as_lost_that_reappears_is_only_read(desk):
    """What the kiosk said stays said: a transaction it gave up as lost that answers again,
    still open past the deadline, is read but not cancelled by the watcher."""
    d = desk(watch_interval=15, payment_timeout=60)
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        gone = d.vanish(tx)
        for moment in (10, 40, 70):
            clock.move_to(T0 + moment)
            d.watch_now(tx)
        assert d.checkout.last_outcome(tx) == "see_cashier"
        d.reappear(gone)
        clock.move_to(T0 + 100)
        assert d.watch_now(tx) == T0 + 100 + 20
        assert d.calls("cancel") == 0 and d.upstream(tx)["status"] == "PENDING"
        assert d.checkout.last_outcome(tx) == "see_cashier"


def test_a_checkout_paid_in_time_is_let_go_at_once(desk):
    d = desk(watch_interval=15)
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        d.sandbox.pay(tx, share="full")
        clock.shift(15)
        assert d.checkout.watch(tx) is None and d.due(tx) is None and d.checkout.watched() == 0
        assert d.checkout.last_outcome(tx) == "paid" and d.calls("cancel") == 0


def test_a_deadline_upstream_does_not_answer_is_tried_again_soon(desk):
    d = desk(watch_interval=15, payment_timeout=60)
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        clock.move_to(T0 + 60)  # at the deadline: the DELETE fails
        d.sandbox.faults(fail_next=1, fail_status=503, only="cancel")
        assert d.checkout.watch(tx) == T0 + 60 + 5
        assert d.checkout.last_outcome(tx) == "waiting" and d.upstream(tx)["status"] == "PENDING"
        clock.move_to(T0 + 65)
        assert d.checkout.watch(tx) == T0 + 65 + 15
        assert d.checkout.last_outcome(tx) == "expired" and d.calls("cancel") == 2


def test_a_refused_cancel_at_the_deadline_is_tried_again_when_its_wait_ends(desk):
    d = desk(watch_interval=15, payment_timeout=60)
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        clock.move_to(T0 + 60)
        d.sandbox.faults(fail_next=1, fail_status=400, only="cancel")
        assert d.checkout.watch(tx) == T0 + 62  # the first refusal's wait: 2 s
        clock.move_to(T0 + 61)  # a run within the wait (a sweep): no DELETE, at the wait's end
        assert d.watch_now(tx) == T0 + 62 and d.calls("cancel") == 1
        clock.move_to(T0 + 61.8)  # less than half a second left: half a second on
        assert d.watch_now(tx) == T0 + 62.3 and d.calls("cancel") == 1
        clock.move_to(T0 + 62)
        assert d.watch_now(tx) == T0 + 62 + 15
        assert d.calls("cancel") == 2 and d.checkout.last_outcome(tx) == "expired"


def test_a_transaction_upstream_does_not_know_is_read_again_soon(desk):
    for interval, wait in ((15, 15), (25, 20)):
        d = desk(watch_interval=interval, payment_timeout=60)
        with time_machine.travel(T0, tick=False) as clock:
            tx = d.start()
            d.vanish(tx)
            clock.move_to(T0 + 5)
            assert d.watch_now(tx) == T0 + 5 + wait
            clock.move_to(T0 + 60)  # past the deadline too: still the short wait, no DELETE
            assert d.watch_now(tx) == T0 + 60 + wait
            assert d.calls("cancel") == 0 and d.checkout.last_outcome(tx) == "waiting"
            clock.move_to(T0 + 65)  # three answers over a minute: lost, a person has to look
            assert d.watch_now(tx) == T0 + 65 + interval
            assert d.checkout.last_outcome(tx) == "see_cashier"
            assert d.attention()[tx]["kind"] == "see_cashier"


def test_overdue_lists_checkouts_whose_job_was_lost(desk):
    d = desk(watch_interval=15)
    with time_machine.travel(T0, tick=False) as clock:
        first = d.start()
        clock.shift(10)
        second = d.start(owner="kiosk:b")
        clock.move_to(T0 + 15 + 30)
        assert d.checkout.overdue(30) == [(first, T0 + 15)]
        clock.shift(9.999)
        assert d.checkout.overdue(30) == [(first, T0 + 15)]
        clock.shift(0.001)
        assert d.checkout.overdue(30) == [(first, T0 + 15), (second, T0 + 25)]
        assert d.checkout.overdue(30, limit=1) == [(first, T0 + 15)]
        assert d.checkout.watched() == 2
        for n in range(500):  # a sweep queues 500 at most; the next sweep the rest
            d.store.schedule(WATCHED, f"tx{n:03d}", T0 + n / 1000)
        assert d.checkout.watched() == 502 and len(d.checkout.overdue(30)) == 500


def test_the_store_keeps_only_short_lived_things_and_the_ledger_the_history(desk):
    """The record lives as long as upstream reserves the wallet (15 days), the one-time guards
    as long; what happened to each sale (its result, partly paid, the cancel's reason and
    refusals, the lost count, the late coins, the attention items) is in the ledger, which
    keeps it for ever. So the store does not grow for ever, and no history is lost."""
    d = desk(watch_interval=15, payment_timeout=60, share_seconds=1.5)
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        d.sandbox.pay(tx, share="half")
        d.view(tx)  # partly paid, the shared answer
        gone = d.vanish(tx)
        clock.shift(2)
        d.view(tx)  # a 404
        d.reappear(gone)
        clock.move_to(T0 + 60)
        d.sandbox.faults(fail_next=1, fail_status=400, only="cancel")
        d.view(tx)  # refused at the deadline
        clock.shift(2)
        d.view(tx)  # cancelled: kept with part of the money
        d.sandbox.pay(tx, share="half")
        clock.shift(2)
        d.view(tx)  # the rest of the coins after the close: paid late
        other = d.start(owner="kiosk:b")
        d.vanish(other)
        for moment in (100, 130, 160):  # lost upstream
            clock.move_to(T0 + moment)
            d.view(other)
        ended = d.start(owner="kiosk:c")
        d.sandbox.state.cancel(ended)  # ended upstream, unseen by the kiosk
        timed_out = d.start(owner="kiosk:d")
        d.sandbox.state.expire(timed_out)
        d.checkout.cancel(d.checkout.record(timed_out))  # refused: upstream had ended it
        clock.move_to(T0 + 3600)
        d.sandbox.state.create(Decimal("75"), "TRX", "TRX", None, None)  # unknown to the kiosk
        clock.move_to(T0 + 3600 + 120)
        found = d.checkout.reconcile()
        assert (found.unknown, found.ended_upstream) == (1, 1)
        left = {key.split(":", 1)[0] for key, _ in d.store.items("")}
        assert left == {"tx", "form", "reconciled", "detail"}  # guards, records, one shared answer
        rows = {row.tx_id: row for row in d.ledger.all()}
        history = {tx_id: (row.status, row.cancel_reason, row.attention) for tx_id, row in rows.items()}
        assert history == {
            tx: ("paid", "deadline", ["paid_late", "partial"]), other: ("see_cashier", None, ["see_cashier"]),
            ended: ("cancelled", None, []), timed_out: ("expired", "customer", [])}
        assert rows[tx].cancel_refusals == 1 and rows[other].lost_count == 3
        items = {tx_id: item["kind"] for tx_id, item in d.attention().items()}
        (stranger,) = [tx_id for tx_id, kind in items.items() if kind == "unknown"]
        assert stranger not in rows
        assert items == {tx: "paid_late", other: "see_cashier", ended: "ended_upstream", stranger: "unknown"}
        clock.move_to(T0 + 3600 + 120 + 15 * 24 * 3600)
        assert d.store.items("") == []
        rows = {row.tx_id: row for row in d.ledger.all()}
        assert {t: (row.status, row.cancel_reason, row.attention) for t, row in rows.items()} == history
        assert set(d.attention()) == set(items)

