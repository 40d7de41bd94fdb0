"""Looking at a checkout, in this process, at the edges of each rule: the answer shared between
screens and the watcher, a transaction upstream says it does not know, the kiosk's deadline,
statuses upstream will not cancel, coins that arrive after the kiosk closed a checkout, the QR
image. The checkout service talks to the sandbox over real HTTP; the clock is moved with
time-machine."""

from __future__ import annotations

import pytest
import time_machine

from kiosk.checkout import Outcome
from kiosk.ledger import FINAL, Entry, Ledger, make_engine

from ..desk import T0


@pytest.mark.parametrize(("share", "interval"), [(0.5, 15), (1.5, 15), (20, 15)])
def test_screens_and_the_watcher_share_an_answer_while_it_is_fresh(desk, share, interval):
    """Two tabs or a reload within `share` seconds (half a poll interval) get one upstream
    answer. The watcher takes one younger than a poll interval (a screen is looking), never
    older than its own interval; a screen takes the watcher's."""
    d = desk(share_seconds=share, watch_interval=interval)
    watcher_age = min(interval, 2 * share)
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        reads = d.calls("detail")
        d.view(tx)
        clock.shift(share - 0.001)
        assert d.view(tx).outcome is Outcome.WAITING and d.calls("detail") == reads + 1
        clock.shift(0.001)  # as old as the shared time: read again
        d.view(tx)
        assert d.calls("detail") == reads + 2
        clock.shift(watcher_age - 0.001)  # the watcher: the screen's answer will do
        d.watch_now(tx)
        assert d.calls("detail") == reads + 2
        clock.shift(0.001)
        d.watch_now(tx)
        assert d.calls("detail") == reads + 3
        clock.shift(share - 0.001)  # a screen: the watcher's answer will do
        d.view(tx)
        assert d.calls("detail") == reads + 3
        clock.shift(0.001)
        d.view(tx)
        assert d.calls("detail") == reads + 4


def test_without_a_shared_time_every_look_reads_upstream(desk):
    d = desk(share_seconds=0, watch_interval=15)
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        reads = d.calls("detail")
        d.view(tx)
        d.view(tx)
        clock.shift(1)
        d.watch_now(tx)  # the screen's answer of a second ago is not kept for the watcher
        assert d.calls("detail") == reads + 3


def test_coins_on_their_way_are_shown_and_noted_once(desk):
    d = desk()
    told = []
    d.checkout.listeners.append(lambda record, facts: told.append(facts))
    with time_machine.travel(T0, tick=False):
        tx = d.start()
        assert d.checkout.last_outcome(tx) is Outcome.WAITING and not d.checkout.is_closed(tx)
        d.sandbox.pay(tx, share="half")
        first, second = d.view(tx), d.view(tx)
        assert first.outcome is second.outcome is Outcome.PARTLY_PAID
        assert str(first.tx.total_transfer_amount) == d.upstream(tx)["totalTransferAmount"]
        assert d.checkout.last_outcome(tx) is Outcome.PARTLY_PAID and not d.checkout.is_closed(tx)
        assert d.events(tx) == ["created", "partly paid"] and d.attention() == {}
        upstream = d.upstream(tx)
        assert told[-1] == {"received": upstream["totalTransferAmount"],
                            "coin_amount": upstream["coinAmount"]}


# A GET that fails with 5xx is tried twice; a refusal is not.
@pytest.mark.parametrize("fault", [{"fail_status": 503, "fail_next": 2}, {"fail_status": 400, "fail_next": 1},
                                   {"fail_status": 200, "fail_next": 1}], ids=["503", "400", "status-false"])
def test_while_upstream_is_away_the_screen_shows_what_it_last_saw(desk, fault):
    d = desk()
    with time_machine.travel(T0, tick=False):
        tx = d.start()
        d.sandbox.faults(only="detail", **fault)
        away = d.view(tx)
        assert away.reconnecting and away.outcome is Outcome.WAITING and away.tx.id == tx
        assert d.view(tx).reconnecting is False
        d.sandbox.pay(tx, share="half")
        assert d.view(tx).outcome is Outcome.PARTLY_PAID
        d.sandbox.faults(only="detail", **fault)
        away = d.view(tx)
        assert away.reconnecting and away.outcome is Outcome.PARTLY_PAID and away.tx.is_partial
        assert not d.checkout.is_closed(tx) and d.calls("cancel") == 0


def test_a_new_process_that_has_seen_nothing_shows_waiting_while_upstream_is_away(desk):
    d = desk()
    with time_machine.travel(T0, tick=False):
        tx = d.start()
        d.sandbox.pay(tx, share="half")
        other = d.another_worker()  # another worker
        d.sandbox.faults(fail_next=2, only="detail")
        away = other.view(other.record(tx))
        assert away.reconnecting and away.outcome is Outcome.WAITING and away.tx is None


def test_a_transaction_upstream_does_not_know_is_lost_after_three_answers_over_a_minute(desk):
    d = desk()
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        d.vanish(tx)
        for moment in (0, 30, 59.999, 59.9995):  # four answers, but not a minute apart yet
            clock.move_to(T0 + 10 + moment)
            view = d.view(tx)
            assert view.reconnecting and view.outcome is Outcome.WAITING, moment
        assert d.checkout.last_outcome(tx) is Outcome.WAITING and d.attention() == {}
        clock.move_to(T0 + 70)  # a minute after the first
        view = d.view(tx)
        assert view.outcome is Outcome.SEE_CASHIER and not view.reconnecting
        assert d.checkout.is_closed(tx) and d.attention()[tx]["kind"] == "see_cashier"
        assert d.events(tx) == ["created", "needs a check"] and d.calls("cancel") == 0


def test_two_answers_over_a_minute_are_not_enough(desk):
    d = desk()
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        d.vanish(tx)
        clock.move_to(T0 + 10)
        assert d.view(tx).reconnecting
        clock.move_to(T0 + 100)
        assert d.view(tx).reconnecting  # the second answer
        clock.move_to(T0 + 101)
        assert d.view(tx).outcome is Outcome.SEE_CASHIER  # the third


def test_a_transaction_that_answers_again_starts_the_count_afresh(desk):
    d = desk()
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        gone = d.vanish(tx)
        clock.move_to(T0 + 10)
        d.view(tx)
        clock.move_to(T0 + 20)
        d.view(tx)
        d.reappear(gone)  # the 404s were a passing fault
        clock.move_to(T0 + 30)
        assert not d.view(tx).reconnecting
        d.vanish(tx)
        for moment in (80, 141):  # two answers over a minute: the earlier ones no longer count
            clock.move_to(T0 + moment)
            assert d.view(tx).reconnecting, moment
        clock.move_to(T0 + 142)
        assert d.view(tx).outcome is Outcome.SEE_CASHIER


def test_after_answering_again_a_minute_counts_from_the_next_first_answer(desk):
    d = desk()
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        gone = d.vanish(tx)
        clock.move_to(T0 + 10)
        d.view(tx)
        d.reappear(gone)
        clock.move_to(T0 + 20)
        d.view(tx)
        d.vanish(tx)
        for moment in (80, 90, 139.999):
            clock.move_to(T0 + moment)
            assert d.view(tx).reconnecting, moment
        clock.move_to(T0 + 140)
        assert d.view(tx).outcome is Outcome.SEE_CASHIER


def test_what_the_kiosk_said_stays_said_when_upstream_forgets_the_transaction(desk):
    d = desk()
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        d.sandbox.pay(tx, share="full")
        assert d.view(tx).outcome is Outcome.PAID
        d.vanish(tx)
        for moment in (10, 40, 80):
            clock.move_to(T0 + moment)
            assert d.view(tx).outcome is Outcome.PAID
        assert d.checkout.last_outcome(tx) is Outcome.PAID and d.attention() == {}
        assert d.events(tx) == ["created", "paid"]


def test_the_deadline_cancels_upstream_once_and_then_it_is_expired(desk):
    d = desk(payment_timeout=60)
    with time_machine.travel(T0 + 59.999, tick=False) as clock:
        tx = d.start()
        clock.move_to(T0 + 59.999 + 59.999)
        assert d.view(tx).outcome is Outcome.WAITING and d.calls("cancel") == 0
        clock.shift(0.001)
        view = d.view(tx)
        assert view.outcome is Outcome.EXPIRED and d.calls("cancel") == 1
        assert d.checkout.cancel_reason(tx) == "deadline" and d.upstream(tx)["status"] == "CANCELLED"
        assert d.view(tx).outcome is Outcome.EXPIRED and d.calls("cancel") == 1


def test_past_the_deadline_while_another_host_cancels_the_screen_keeps_waiting(desk):
    d = desk(payment_timeout=60)
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        d.sandbox.pay(tx, share="half")
        clock.move_to(T0 + 60)
        assert d.store.add(f"cancel:{tx}", "deadline", ttl=60)  # another host's DELETE on its way
        view = d.view(tx)
        assert view.outcome is Outcome.PARTLY_PAID and not view.reconnecting
        assert d.calls("cancel") == 0 and not d.checkout.is_closed(tx)
        d.sandbox.pay(tx, share="full")
        assert d.view(tx).outcome is Outcome.PAID


@pytest.mark.parametrize(("coins", "outcome", "kind"), [
    (None, Outcome.SEE_CASHIER, "see_cashier"),
    ("0.000001", Outcome.PARTIAL_KEPT, "partial"),  # the smallest amount a wallet sends
    ("12", Outcome.PARTIAL_KEPT, "partial"),
])
def test_a_status_upstream_will_not_cancel_past_the_deadline_needs_a_person(desk, coins, outcome, kind):
    """Upstream has moved the transaction into a state of its own (a manual check): the kiosk
    cannot cancel it, and past the deadline a person has to look, with what was received."""
    d = desk(payment_timeout=60)
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        if coins:
            d.sandbox.pay(tx, amount=coins)
        d.set_status(tx, "MANUAL_CHECK")
        clock.move_to(T0 + 59.999)
        assert d.view(tx).outcome is (Outcome.PARTLY_PAID if coins else Outcome.WAITING)
        clock.move_to(T0 + 60)
        view = d.view(tx)  # the DELETE is refused: upstream will not cancel it
        assert view.outcome is outcome and d.calls("cancel") == 1
        assert d.checkout.last_outcome(tx) is outcome and d.attention()[tx]["kind"] == kind
        assert d.upstream(tx)["status"] == "MANUAL_CHECK"


@pytest.mark.parametrize(("coins", "outcome"),
                         [(None, Outcome.SEE_CASHIER), ("0.000001", Outcome.PARTIAL_KEPT)])
def test_a_status_upstream_will_not_cancel_while_another_host_cancels(desk, coins, outcome):
    d = desk(payment_timeout=60)
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        if coins:
            d.sandbox.pay(tx, amount=coins)
        d.set_status(tx, "MANUAL_CHECK")
        clock.move_to(T0 + 60)
        assert d.store.add(f"cancel:{tx}", "deadline", ttl=60)
        assert d.view(tx).outcome is outcome and d.calls("cancel") == 0


def test_money_on_a_transaction_upstream_had_ended_is_a_late_payment(desk):
    d = desk()
    with time_machine.travel(T0, tick=False):
        tx = d.start()
        d.sandbox.state.cancel(tx)  # ended upstream, by someone else
        d.sandbox.pay(tx, share="full")
        assert d.view(tx).outcome is Outcome.PAID
        assert d.attention()[tx]["kind"] == "paid_late" and d.events(tx) == ["created", "paid late"]


def test_a_cancel_from_a_stale_tab_of_a_checkout_closed_as_lost_sends_no_delete(desk):
    """The kiosk gave the transaction up as lost; it answers again, open, past the deadline: a
    cancel tapped on a tab still open shows the result and asks nothing of upstream."""
    d = desk(payment_timeout=60)
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        gone = d.vanish(tx)
        for moment in (10, 40, 70):
            clock.move_to(T0 + moment)
            d.view(tx)
        d.reappear(gone)
        clock.move_to(T0 + 100)
        assert d.checkout.cancel(d.checkout.record(tx)).outcome is Outcome.SEE_CASHIER
        assert d.calls("cancel") == 0 and d.upstream(tx)["status"] == "PENDING"


def test_a_checkout_closed_as_lost_that_answers_again_keeps_its_result(desk):
    """What the kiosk said stays said: screens looking at a checkout it gave up as lost show
    that result when upstream answers again with the transaction open, and cancel nothing."""
    d = desk(payment_timeout=60)
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        gone = d.vanish(tx)
        for moment in (10, 20, 30, 40, 70):
            clock.move_to(T0 + moment)
            d.view(tx)
        d.reappear(gone)
        clock.move_to(T0 + 71)  # before... and after the deadline (here passed already)
        for _ in range(2):
            view = d.view(tx)
            assert view.outcome is Outcome.SEE_CASHIER and view.tx.id == tx
            clock.shift(120)
        assert d.calls("cancel") == 0 and d.upstream(tx)["status"] == "PENDING"
        assert d.events(tx) == ["created", "needs a check"]


@pytest.mark.parametrize("ending", [Outcome.PAID, Outcome.EXPIRED])
def test_a_closed_checkout_keeps_its_result_while_upstream_is_away(desk, ending):
    d = desk(payment_timeout=60)
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        if ending is Outcome.PAID:
            d.sandbox.pay(tx, share="full")
        clock.move_to(T0 + 60)
        assert d.view(tx).outcome is ending
        d.sandbox.faults(fail_next=4, fail_status=503, only="detail")
        assert d.view(tx).outcome is ending
        assert d.checkout.cancel(d.checkout.record(tx)).outcome is ending
        assert d.calls("cancel") == (1 if ending is Outcome.EXPIRED else 0)


def test_a_payment_completed_in_time_is_no_attention_item(desk):
    d = desk()
    with time_machine.travel(T0, tick=False):
        tx = d.start()
        d.sandbox.pay(tx, share="full")
        assert d.view(tx).outcome is Outcome.PAID and d.view(tx).outcome is Outcome.PAID
        assert d.attention() == {} and d.events(tx) == ["created", "paid"]


def test_coins_after_the_customer_cancelled_are_noted_once_each(desk):
    d = desk()
    with time_machine.travel(T0, tick=False):
        tx = d.start()
        assert d.checkout.cancel_reason(tx) is None
        assert d.checkout.cancel(d.checkout.record(tx)).outcome is Outcome.CANCELLED
        assert d.checkout.cancel_reason(tx) == "customer"
        assert d.view(tx).outcome is Outcome.CANCELLED and d.attention() == {}
        d.sandbox.pay(tx, share="half")
        assert d.view(tx).outcome is Outcome.PARTIAL_KEPT
        assert d.view(tx).outcome is Outcome.PARTIAL_KEPT
        assert d.checkout.last_outcome(tx) is Outcome.PARTIAL_KEPT
        item = d.attention()[tx]
        assert (item["kind"], item["received"]) == ("partial_late", d.upstream(tx)["totalTransferAmount"])
        d.sandbox.pay(tx, share="full")
        assert d.view(tx).outcome is Outcome.PAID and d.view(tx).outcome is Outcome.PAID
        item = d.attention()[tx]
        assert (item["kind"], item["received"]) == ("paid_late", d.upstream(tx)["totalTransferAmount"])
    assert d.events(tx) == ["created", "cancelled", "partly paid after close", "paid late"]


class ClosedMeanwhile(Ledger):
    """Another host closes the checkout between this one's read of its row and its write: the
    compare and set fails, and this host takes its step anew from the row as it is then."""

    outcome = "expired"
    raced = False

    def advance(self, row, entry, values):
        if not self.raced and entry.status in FINAL and row["status"] not in FINAL:
            self.raced = True
            assert super().advance(row, Entry(at=entry.at, tx_id=entry.tx_id, status=self.outcome), {})
        return super().advance(row, entry, values)


def racing(tmp_path, first: str) -> ClosedMeanwhile:
    ledger = ClosedMeanwhile(make_engine(f"sqlite:///{tmp_path / 'racing.sqlite3'}"))
    ledger.outcome = first
    return ledger


@pytest.mark.parametrize(("first", "late"), [("expired", "paid_late"), ("paid", None)])
def test_a_result_another_host_wrote_just_now_is_kept_or_corrected(desk, tmp_path, first, late):
    d = desk(ledger=racing(tmp_path, first))
    with time_machine.travel(T0, tick=False):
        tx = d.start()
        d.sandbox.pay(tx, share="full")
        assert d.view(tx).outcome is Outcome.PAID
        assert d.checkout.last_outcome(tx) is Outcome.PAID and d.ledger.raced
        assert d.attention().get(tx, {}).get("kind") == late
        assert d.events(tx) == ["created"] + (["paid late"] if late else [])


def test_a_partial_result_another_host_wrote_just_now_is_not_noted_twice(desk, tmp_path):
    d = desk(ledger=racing(tmp_path, "partial"))
    with time_machine.travel(T0, tick=False):
        tx = d.start()
        d.sandbox.pay(tx, share="half")
        d.sandbox.state.cancel(tx)
        assert d.view(tx).outcome is Outcome.PARTIAL_KEPT and d.ledger.raced
        assert d.attention() == {} and d.events(tx) == ["created"]


def test_an_answer_with_numbers_is_shared_exactly(desk):
    """Upstream sends some amounts as JSON numbers: the answer shared between screens keeps
    every digit."""
    d = desk(share_seconds=1.5)
    with time_machine.travel(T0, tick=False):
        tx = d.start()
        d.sandbox.state.transactions[tx]["totalTransferAmount"] = 12.000001  # a JSON number
        d.sandbox.state.transactions[tx]["status"] = "TRANSFERRED"
        first, shared = d.view(tx), d.view(tx)
        assert str(first.tx.total_transfer_amount) == str(shared.tx.total_transfer_amount) == "12.000001"
        assert shared.outcome is Outcome.PARTLY_PAID


def test_an_unreadable_record_is_an_unknown_id_with_a_warning(desk, caplog):
    d = desk()
    d.store.set("tx:6b06a0000000000000000000", "not json")
    assert d.checkout.record("6b06a0000000000000000000") is None
    assert d.checkout.record_for("6b06a0000000000000000000", "kiosk:a") is None
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        "the record of 6b06a0000000000000000000 cannot be read: set aside as unknown"] * 2


def test_the_qr_image_is_upstreams_and_kept(desk):
    d = desk()
    with time_machine.travel(T0, tick=False):
        tx = d.start()
        record = d.checkout.record(tx)
        image = d.checkout.qr_png(record)
        assert image.startswith(b"\x89PNG") and d.checkout.qr_png(record) == image
        assert d.calls("qr") == 1


# The sandbox's TRON address, and a long one (a Cardano address), which needs a larger symbol.
LONG = ("addr1qx2fxv2umyhttkxyxp8x0dlpdt3k6cwng5pxj3jhsydzer3n0d3vllmyqwsx5wktcd8cc3sq835lu7drv2xwl2"
        "wywfgse35a3x")


@pytest.mark.parametrize("address", [None, LONG], ids=["tron", "long"])
def test_when_upstream_has_no_qr_image_the_kiosk_draws_the_same_one(desk, address):
    d = desk()
    with time_machine.travel(T0, tick=False):
        tx = d.start()
        if address:
            d.sandbox.state.transactions[tx]["wallet"]["address"] = address
            d.view(tx)  # the kiosk has seen it
        record = d.checkout.record(tx)
        reads = d.calls("detail")
        d.sandbox.faults(fail_next=2, only="qr")
        drawn = d.checkout.qr_png(record)  # from the address the kiosk last saw: no read
        assert d.calls("detail") == reads
        assert drawn == d.checkout.qr_png(record)  # upstream's, asked again: the same image
        assert d.calls("qr") == 3
        other = d.another_worker()  # another worker
        d.sandbox.faults(fail_next=2, only="qr")
        assert other.qr_png(record) == drawn and d.calls("detail") == reads + 1
        d.sandbox.faults(fail_next=4, only="")  # neither the image nor the transaction
        assert d.another_worker().qr_png(record) is None
