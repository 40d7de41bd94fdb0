"""The hourly reconciliation in this process, at the edges of its window: what upstream made in
the last day (but not in the last two minutes) is read, a transaction the kiosk does not know or
thinks open while upstream has ended it becomes an attention item once, and the pages of history
are read only as far back as the window. The checkout service talks to the sandbox over real
HTTP; the clock is moved with time-machine."""

from __future__ import annotations

from decimal import Decimal

import time_machine

from kiosk.checkout import Outcome
from kiosk.checkout.start import with_reference

from ..desk import T0

DAY = 24 * 3600
NOW = T0 + 2 * DAY  # the moment of the reconciliation


def foreign(d, at: float, amount: str = "75", note: str | None = None) -> str:
    """A transaction made upstream at `at` by someone else on the account."""
    with time_machine.travel(at, tick=False):
        return d.sandbox.state.create(Decimal(amount), "TRX", "TRX", None, note)["_id"]


def test_the_window_is_the_last_day_but_the_last_two_minutes(desk, caplog):
    d = desk()
    # Upstream's times have milliseconds: 10 ms is the nearest a float of this size gets.
    before = foreign(d, NOW - DAY - 0.01)
    first = foreign(d, NOW - DAY)
    last = foreign(d, NOW - 120)
    recent = foreign(d, NOW - 119.99)  # may be a create still on its way
    with time_machine.travel(NOW, tick=False):
        found = d.checkout.reconcile()
        assert (found.pages, found.read, found.unknown, found.ended_upstream) == (1, 2, 2, 0)
        items = d.attention()
        assert set(items) == {first, last} and before not in items and recent not in items
        assert items[first] == {"kind": "unknown", "at": NOW, "amount": "75", "coin": "TRX", "network": "TRX",
                                "received": "0", "expected": d.upstream(first)["coinAmount"]}
        d.checkout.dismiss(first)
        again = d.checkout.reconcile()  # each finding once: what was dismissed stays dismissed
        assert (again.read, again.unknown) == (2, 0) and set(d.attention()) == {last}
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [f"upstream holds transaction {tx} that this kiosk does not know"
                        for tx in (last, first)]


def test_a_shorter_window(desk):
    d = desk()
    inside = foreign(d, NOW - 3600)
    outside = foreign(d, NOW - 3600.01)
    with time_machine.travel(NOW, tick=False):
        found = d.checkout.reconcile(window=3600)
        assert (found.read, found.unknown) == (1, 1) and set(d.attention()) == {inside}
    assert outside not in d.attention()


def test_history_is_read_page_by_page_only_as_far_back_as_the_window(desk):
    d = desk()
    for n in range(150):  # older than the window
        foreign(d, NOW - DAY - 1000 + n)
    for n in range(150):
        foreign(d, NOW - DAY + 1 + n)
    with time_machine.travel(NOW, tick=False):
        pages = d.calls("history")
        found = d.checkout.reconcile()
        # Newest first: page 1 is in the window, page 2 reaches past it: no page 3.
        assert (found.pages, found.read, found.unknown) == (2, 150, 150)
        assert d.calls("history") == pages + 2
    d.sandbox.reset()
    for n in range(150):
        foreign(d, NOW - 1000 + n)
    with time_machine.travel(NOW, tick=False):
        found = d.checkout.reconcile()
        assert (found.pages, found.read) == (2, 150)  # the last page has no next


def test_transactions_at_the_very_start_of_the_window_over_two_pages_are_all_read(desk):
    d = desk()
    for _ in range(101):  # a busy millisecond: the first page ends exactly at the window's start
        foreign(d, NOW - DAY)
    with time_machine.travel(NOW, tick=False):
        found = d.checkout.reconcile()
        assert (found.pages, found.read, found.unknown) == (2, 101, 101)


def test_rows_without_a_creation_time_are_passed_over(desk):
    """Upstream rows that do not say when they were made are neither findings nor a failure;
    a page of nothing else ends the reading."""
    d = desk()
    for _ in range(101):
        tx = foreign(d, NOW - 600)
        d.sandbox.state.transactions[tx]["createdAt"] = ""
    with time_machine.travel(NOW, tick=False):
        found = d.checkout.reconcile()
        assert (found.pages, found.read, found.unknown) == (1, 0, 0) and d.attention() == {}
    counted = foreign(d, NOW - 600)
    with time_machine.travel(NOW, tick=False):
        found = d.checkout.reconcile()
        assert (found.pages, found.read) == (2, 1) and set(d.attention()) == {counted}


def test_a_create_that_got_no_answer_is_left_to_its_resolution(desk):
    d = desk()
    with time_machine.travel(NOW - 600, tick=False):
        d.store.set("create:0123456789abcdef", "{}")  # written before its create was sent
    foreign(d, NOW - 600, note=with_reference("0123456789abcdef", "table 4"))
    stranger = foreign(d, NOW - 600, note="kiosk:fedcba9876543210 kiosk:")
    with time_machine.travel(NOW, tick=False):
        found = d.checkout.reconcile()
        assert (found.read, found.unknown) == (2, 1) and set(d.attention()) == {stranger}


def test_a_checkout_upstream_ended_unseen_is_closed_and_noted_once(desk):
    d = desk()
    with time_machine.travel(NOW - 3600, tick=False):
        ended, paid, kept, still_open = (d.start(owner=f"kiosk:{n}") for n in "abcd")
    d.sandbox.state.cancel(ended)
    d.sandbox.pay(paid, share="full")
    d.sandbox.pay(kept, share="half")
    d.sandbox.state.cancel(kept)
    with time_machine.travel(NOW, tick=False):
        found = d.checkout.reconcile()
        assert (found.read, found.unknown, found.ended_upstream) == (4, 0, 3)
        items = d.attention()
        assert {tx: item["kind"] for tx, item in items.items()} == {
            ended: "ended_upstream", paid: "ended_upstream", kept: "partial"}
        assert items[ended] == {"kind": "ended_upstream", "at": NOW, "amount": "300", "coin": "TRX",
                                "network": "TRX", "received": "0",
                                "expected": d.upstream(ended)["coinAmount"]}
        assert [d.checkout.last_outcome(tx) for tx in (ended, paid, kept, still_open)] == [
            Outcome.CANCELLED, Outcome.PAID, Outcome.PARTIAL_KEPT, Outcome.WAITING]
        d.checkout.dismiss(ended)
        again = d.checkout.reconcile()
        assert (again.ended_upstream, again.unknown) == (0, 0) and ended not in d.attention()


def test_a_checkout_the_kiosk_closed_itself_is_not_a_finding(desk):
    d = desk()
    with time_machine.travel(NOW - 3600, tick=False):
        cancelled = d.start(owner="kiosk:a")
        d.checkout.cancel(d.checkout.record(cancelled))
        paid = d.start(owner="kiosk:b")
        d.sandbox.pay(paid, share="full")
        d.view(paid)
    with time_machine.travel(NOW, tick=False):
        reads = d.calls("detail")
        found = d.checkout.reconcile()
        assert (found.read, found.ended_upstream, found.unknown) == (2, 0, 0)
        assert d.attention() == {} and d.calls("detail") == reads


def test_a_reconciliation_reads_a_hundred_pages_at_most(desk):
    d = desk()
    with time_machine.travel(NOW - 60, tick=False):  # made in the last two minutes: only paged
        for _ in range(100 * 100 + 1):
            d.sandbox.state.create(Decimal("75"), "TRX", "TRX", None, None)
    with time_machine.travel(NOW, tick=False):
        found = d.checkout.reconcile()
        assert (found.pages, found.read) == (100, 0)


def test_an_ended_checkout_upstream_does_not_answer_for_is_noted_once_and_closed_later(desk):
    d = desk()
    with time_machine.travel(NOW - 3600, tick=False):
        tx = d.start()
    d.sandbox.state.cancel(tx)
    with time_machine.travel(NOW, tick=False):
        d.sandbox.faults(fail_next=2, fail_status=503, only="detail")
        found = d.checkout.reconcile()
        assert found.ended_upstream == 1 and not d.checkout.is_closed(tx)
        assert d.attention()[tx]["kind"] == "ended_upstream"
        d.checkout.dismiss(tx)
        again = d.checkout.reconcile()
        assert again.ended_upstream == 0 and d.checkout.is_closed(tx) and d.attention() == {}


def test_old_entries_of_the_kiosks_records_are_trimmed(desk):
    d = desk()
    with time_machine.travel(NOW - 2 * DAY, tick=False):
        old = d.start(owner="kiosk:a")
    with time_machine.travel(NOW - 2 * DAY + 0.001, tick=False):
        kept = d.start(owner="kiosk:b")
    with time_machine.travel(NOW, tick=False):
        d.checkout.reconcile()
    assert d.store.when("records", old) is None and d.store.when("records", kept) == NOW - 2 * DAY + 0.001
