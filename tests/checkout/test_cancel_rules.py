"""Cancelling, in this process, at the edges of each rule: who asked (the customer sees a notice
when it fails, the till, the operator and the deadline do not), one DELETE however many ask,
refusals waited out longer each time, a refusal because upstream had ended or completed the
transaction, failures of upstream and of the store. The checkout service talks to the sandbox over
real HTTP; the clock is moved with time-machine."""

from __future__ import annotations

import sqlite3
import threading
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy.exc import OperationalError

from kiosk.checkout import LocalStore, Outcome
from kiosk.cryptom import NotFound
from kiosk.cryptom.tokens import MemoryTokenStore
from kiosk.ledger import Ledger, make_engine

from ..desk import T0
from ..system.test_watcher import wait_for


def cancel(d, tx: str, reason: str = "customer"):
    return d.checkout.cancel(d.checkout.record(tx), reason)


@pytest.mark.parametrize(("reason", "notice"), [("customer", "cancel_failed"), ("till", None)])
def test_a_cancel_upstream_does_not_answer_is_never_claimed(desk, caplog, reason, notice):
    d = desk()
    with time_machine.travel(T0, tick=False):
        tx = d.start()
        d.sandbox.faults(fail_next=1, fail_status=503, only="cancel")
        view = cancel(d, tx, reason)
        assert view.outcome is Outcome.WAITING and view.reconnecting and view.notice == notice
        assert view.tx.id == tx and d.checkout.cancel_reason(tx) is None
        assert d.upstream(tx)["status"] == "PENDING"
        view = cancel(d, tx, reason)  # tried again at once: nothing was left behind
        assert view.outcome is Outcome.CANCELLED and view.notice is None and not view.reconnecting
        assert d.calls("cancel") == 2 and d.checkout.cancel_reason(tx) == reason
    assert not any(r.exc_info for r in caplog.records)  # an expected answer, not a failure


def test_a_delete_upstream_confirms_but_has_not_applied_yet_is_read_once(desk):
    """Upstream confirms the DELETE but still shows the transaction open for a moment (past the
    deadline): the kiosk reads it once, shows it waiting, and sends nothing more."""
    d = desk(payment_timeout=60)
    with time_machine.travel(T0 + 60, tick=False):
        tx = d.start()
    with time_machine.travel(T0 + 120, tick=False):

        def lagging():  # the DELETE is applied; upstream's reads lag behind it
            wait_for("the DELETE", lambda: d.calls("cancel") == 1, seconds=10)
            d.set_status(tx, "PENDING")

        helper = threading.Thread(target=lagging)
        helper.start()
        d.sandbox.faults(latency_ms=700, latency_next=1, only="detail")
        reads = d.calls("detail")
        view = cancel(d, tx)
        helper.join()
        assert view.outcome is Outcome.WAITING and not view.reconnecting
        assert d.calls("detail") == reads + 1 and d.calls("cancel") == 1
        assert d.checkout.cancel_reason(tx) == "customer"
    with time_machine.travel(T0 + 181, tick=False):  # the DELETE's lease has gone; its reason stays
        assert d.store.get(f"cancel:{tx}") is None
        cancel(d, tx, "till")
        assert d.calls("cancel") == 1 and d.checkout.cancel_reason(tx) == "customer"


def test_one_delete_however_many_ask(desk):
    d = desk()
    with time_machine.travel(T0, tick=False):
        tx = d.start()
        assert cancel(d, tx).outcome is Outcome.CANCELLED
        assert cancel(d, tx, "till").outcome is Outcome.CANCELLED  # has its result: no DELETE
        d.checkout.cancel_by_operator(tx)
        assert d.calls("cancel") == 1 and d.checkout.cancel_reason(tx) == "customer"
        assert d.events(tx) == ["created", "cancelled"]


def test_while_a_delete_is_on_its_way_others_only_look(desk):
    d = desk()
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        assert d.store.add(f"cancel:{tx}", "till", ttl=60)  # another host's DELETE, which then died
        clock.shift(59.999)
        view = cancel(d, tx)
        assert view.outcome is Outcome.WAITING and d.calls("cancel") == 0
        clock.shift(0.001)  # its marker lives a minute
        assert cancel(d, tx).outcome is Outcome.CANCELLED and d.calls("cancel") == 1


def test_a_delete_on_its_way_holds_its_marker_for_a_minute(desk):
    """A process that hangs while upstream takes the DELETE blocks the others for a minute at
    most."""
    d = desk()
    seen = []
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()

        def meanwhile():
            wait_for("the DELETE to reach upstream", lambda: d.calls("cancel") == 1, seconds=10)
            seen.append(d.store.add(f"cancel:{tx}", "other", ttl=1))
            clock.shift(59.999)
            seen.append(d.store.add(f"cancel:{tx}", "other", ttl=1))
            clock.shift(0.001)
            seen.append(d.store.add(f"cancel:{tx}", "other", ttl=1))

        helper = threading.Thread(target=meanwhile)
        helper.start()
        d.sandbox.faults(latency_ms=1500, latency_next=1, only="cancel")
        view = cancel(d, tx)
        helper.join()
    assert seen == [False, False, True]
    assert view.outcome is Outcome.CANCELLED and d.checkout.cancel_reason(tx) == "customer"


def test_a_cancel_reason_is_kept_with_the_result_and_outlives_the_record(desk):
    """The record goes with the wallet's reservation (15 days); the sale's history stays."""
    d = desk()
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        cancel(d, tx, "till")
        clock.shift(15 * 24 * 3600 - 1)
        assert d.checkout.cancel_reason(tx) == "till" and d.checkout.record(tx) is not None
        clock.shift(1)
        assert d.checkout.record(tx) is None
        assert d.checkout.cancel_reason(tx) == "till" and d.checkout.last_outcome(tx) is Outcome.CANCELLED


def test_a_transaction_upstream_does_not_know_is_not_cancelled(desk):
    d = desk()
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        d.vanish(tx)
        for moment in (0, 30):
            clock.move_to(T0 + moment)
            view = cancel(d, tx)
            assert view.reconnecting and view.outcome is Outcome.WAITING
            assert d.checkout.cancel_reason(tx) is None
        clock.move_to(T0 + 60)  # three answers over a minute: every tap tried a DELETE
        assert cancel(d, tx).outcome is Outcome.SEE_CASHIER and d.calls("cancel") == 3


def test_the_operator_cancels_this_kiosks_checkout_with_its_guard(desk):
    d = desk()
    with time_machine.travel(T0, tick=False):
        tx = d.start()
        d.checkout.cancel_by_operator(tx)
        assert d.checkout.cancel_reason(tx) == "operator" and d.checkout.is_closed(tx)
        assert d.upstream(tx)["status"] == "CANCELLED" and d.calls("cancel") == 1


def test_the_operator_cancels_another_kiosks_transaction_directly(desk):
    d, other = desk(), desk()
    with time_machine.travel(T0, tick=False):
        tx = other.start()
        d.checkout.cancel_by_operator(tx)
        assert d.upstream(tx)["status"] == "CANCELLED" and d.calls("cancel") == 1
        assert d.checkout.record(tx) is None and d.store.items("") == []
        d.checkout.cancel_by_operator(tx)  # refused upstream (already cancelled): the detail shows it
        assert d.calls("cancel") == 2
        d.sandbox.faults(fail_next=1, fail_status=503, only="cancel")
        d.checkout.cancel_by_operator(tx)
        assert d.calls("cancel") == 3
        d.vanish(tx)
        with pytest.raises(NotFound):
            d.checkout.cancel_by_operator(tx)


def test_refusals_are_waited_out_twice_as_long_each_time_up_to_a_minute(desk, caplog):
    d = desk(payment_timeout=60)
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        clock.move_to(T0 + 60)
        d.sandbox.faults(fail_next=7, fail_status=429, only="cancel")
        view = d.view(tx)
        assert view.outcome is Outcome.WAITING and view.notice is None and d.calls("cancel") == 1
        for n, wait in enumerate([2, 4, 8, 16, 32, 60, 60], start=1):
            clock.shift(wait - 0.001)  # a poll a moment before the wait ends: no DELETE
            view = d.view(tx)
            assert view.outcome is Outcome.WAITING and view.notice is None and d.calls("cancel") == n
            clock.shift(0.001)
            assert d.view(tx).notice is None and d.calls("cancel") == n + 1, (n, wait)
        assert d.checkout.last_outcome(tx) is Outcome.EXPIRED
    refusals = [r.getMessage() for r in caplog.records if r.getMessage().startswith("upstream refused")]
    assert refusals == [f"upstream refused to cancel {tx} (Internal server error); trying again in {wait} s"
                        for wait in (2, 4, 8, 16, 32, 60, 60)]


def test_a_refusal_because_upstream_completed_it_shows_the_payment(desk):
    d = desk()
    with time_machine.travel(T0, tick=False):
        tx = d.start()
        d.sandbox.pay(tx, share="full")  # meanwhile, unseen by the kiosk
        view = cancel(d, tx)
        assert view.outcome is Outcome.PAID and view.notice is None and d.calls("cancel") == 1
        assert d.checkout.last_outcome(tx) is Outcome.PAID


def test_a_refusal_because_upstream_had_ended_it_keeps_who_asked(desk):
    """The deadline is decided on an answer shared between tabs (a second old); upstream had
    ended the transaction meanwhile and refuses the DELETE: it was the kiosk's deadline."""
    d = desk(payment_timeout=60, share_seconds=1.5)
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        clock.move_to(T0 + 59)
        assert d.view(tx).outcome is Outcome.WAITING
        d.sandbox.state.cancel(tx)  # someone else, unseen by the kiosk
        clock.move_to(T0 + 60)
        assert d.view(tx).outcome is Outcome.EXPIRED and d.calls("cancel") == 1
        assert d.checkout.cancel_reason(tx) == "deadline" and d.attention() == {}
        other = d.start(owner="kiosk:b")
        d.sandbox.state.expire(other)
        assert cancel(d, other).outcome is Outcome.EXPIRED and d.checkout.cancel_reason(other) == "customer"
        clock.shift(3600)  # kept with the result, not only while a DELETE is on its way
        assert d.checkout.cancel_reason(tx) == "deadline" and d.checkout.cancel_reason(other) == "customer"


@pytest.mark.parametrize(("reason", "notice"), [("customer", "cancel_failed"), ("till", None)])
def test_a_refusal_upstream_then_does_not_explain_waits_too(desk, caplog, reason, notice):
    d = desk()
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        d.sandbox.faults(fail_next=2, fail_status=400, only="")  # the DELETE, then the read
        view = cancel(d, tx, reason)
        assert view.reconnecting and view.notice == notice and view.outcome is Outcome.WAITING
        assert not any(r.exc_info for r in caplog.records)
        clock.shift(1.999)
        assert cancel(d, tx).outcome is Outcome.WAITING and d.calls("cancel") == 1
        clock.shift(0.001)
        assert cancel(d, tx).outcome is Outcome.CANCELLED and d.calls("cancel") == 2


@pytest.mark.parametrize(("coins", "outcome"), [(None, Outcome.WAITING), ("half", Outcome.PARTLY_PAID)])
def test_a_customers_cancel_refused_shows_the_payment_still_open(desk, coins, outcome):
    d = desk()
    with time_machine.travel(T0, tick=False):
        tx = d.start()
        if coins:
            d.sandbox.pay(tx, share=coins)
        d.sandbox.faults(fail_next=1, fail_status=403, only="cancel")
        view = cancel(d, tx)
        assert view.outcome is outcome and view.notice == "cancel_failed" and not view.reconnecting
        assert view.tx.id == tx and d.checkout.cancel_reason(tx) is None
        view = cancel(d, tx, "till")  # within the refusal's wait: only a look
        assert view.outcome is outcome and view.notice is None
        other = d.start(owner="kiosk:b")
        d.sandbox.faults(fail_next=1, fail_status=403, only="cancel")
        view = cancel(d, other, "till")
        assert view.outcome is Outcome.WAITING and view.notice is None and d.calls("cancel") == 2


def test_a_customers_cancel_of_a_status_upstream_will_not_cancel(desk):
    """Before the deadline the customer is told the cancel failed; from the deadline on a
    person has to look."""
    d = desk(payment_timeout=60)
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        d.set_status(tx, "MANUAL_CHECK")
        clock.move_to(T0 + 59.999)
        view = cancel(d, tx)
        assert view.outcome is Outcome.WAITING and view.notice == "cancel_failed"
        assert not d.checkout.is_closed(tx)
        clock.move_to(T0 + 60 + 2)  # the refusal's wait is over, at the deadline
        view = cancel(d, tx)
        assert view.outcome is Outcome.SEE_CASHIER and d.calls("cancel") == 2


AWAY = "OperationalError: (builtins.Exception) could not connect to server"  # in one line, as logged


class FailingLedger(Ledger):
    """The ledger fails its next write (the database does not answer)."""

    failing = False

    def advance(self, row, entry, values):
        if self.failing:
            self.failing = False
            raise OperationalError("UPDATE checkouts", {}, Exception("could not connect to server"))
        return super().advance(row, entry, values)


def test_a_ledger_that_fails_while_cancelling_gives_the_calm_state(desk, tmp_path, caplog):
    """Upstream confirmed the DELETE, but the result cannot be written: the screen shows the
    result upstream shows (never reconnecting), unwritten; nothing lost, and no second DELETE:
    the DELETE's lease is kept for its minute, and its reason is the result's when the next look
    writes it."""
    d = desk(ledger=FailingLedger(make_engine(f"sqlite:///{tmp_path / 'failing-ledger.sqlite3'}")))
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        d.ledger.failing = True
        view = cancel(d, tx)
        assert not view.reconnecting and view.notice is None and view.outcome is Outcome.CANCELLED
        assert (view.record.tx_id, view.tx.id, view.tx.status) == (tx, tx, "CANCELLED")
        assert d.calls("cancel") == 1 and d.upstream(tx)["status"] == "CANCELLED"
        said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        assert said == [f"the ledger is not answering ({AWAY}): {tx} waits"]
        assert d.checkout.cancel_reason(tx) is None and d.store.get(f"cancel:{tx}") == "customer"
        view = cancel(d, tx, "till")  # the lease holds: only a look, which writes the result
        assert view.outcome is Outcome.CANCELLED and d.calls("cancel") == 1
        assert d.checkout.cancel_reason(tx) == "customer"
        clock.shift(60)
        assert d.store.get(f"cancel:{tx}") is None  # the lease has gone; the reason stays
        assert cancel(d, tx, "till").outcome is Outcome.CANCELLED and d.calls("cancel") == 1
        assert d.checkout.cancel_reason(tx) == "customer"


def test_the_deadlines_cancel_the_ledger_fails_to_write_shows_expired(desk, tmp_path):
    """The deadline's DELETE confirmed, its result unwritten: the lease's reason tells the screen
    expired (not cancelled), with the transaction upstream showed."""
    d = desk(payment_timeout=60,
             ledger=FailingLedger(make_engine(f"sqlite:///{tmp_path / 'failing-ledger.sqlite3'}")))
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        clock.shift(60)
        d.ledger.failing = True
        view = d.view(tx)
        assert (view.outcome, view.reconnecting) == (Outcome.EXPIRED, False)
        assert view.tx.id == tx and view.tx.status_raw == "CANCELLED"
        assert d.checkout.cancel_reason(tx) is None and d.store.get(f"cancel:{tx}") == "deadline"
        assert d.view(tx).outcome is Outcome.EXPIRED and d.calls("cancel") == 1  # the next look writes it
        assert d.checkout.cancel_reason(tx) == "deadline"


class FailingStore(LocalStore):
    """The store fails a write (its file locked by another process for too long): `failing`
    names the operations that fail, once each, for keys starting with `prefix`."""

    prefix = "cancel:"
    failing: set[str] = set()

    def _fail(self, op: str, key: str) -> None:
        if op in self.failing and key.startswith(self.prefix):
            self.failing.discard(op)
            raise sqlite3.OperationalError("database is locked")

    def add(self, key, value, ttl=None):
        self._fail("add", key)
        return super().add(key, value, ttl)

    def delete(self, key):
        self._fail("delete", key)
        super().delete(key)


@pytest.mark.parametrize("failing", [{"add"}, {"delete"}], ids=["lease", "clearing"])
def test_a_store_that_fails_while_cancelling_gives_the_calm_state(desk, tmp_path, caplog, failing):
    """The lease cannot be taken (nothing is sent) or cleared (it holds for its minute)."""
    d = desk()
    d.store = d.checkout.store = FailingStore(tmp_path / "failing.sqlite3")
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        d.store.failing = set(failing)
        view = cancel(d, tx)
        if "add" in failing:
            assert view.reconnecting and view.notice == "cancel_failed" and view.outcome is Outcome.WAITING
            assert d.calls("cancel") == 0 and d.upstream(tx)["status"] == "PENDING"
            assert [r.exc_info is not None for r in caplog.records
                    if r.getMessage() == f"cancelling {tx} failed"] == [True]
        else:
            assert view.outcome is Outcome.CANCELLED and d.calls("cancel") == 1
            assert any(r.getMessage() == f"could not clear the cancel marker of {tx}" for r in caplog.records)
        assert cancel(d, tx, "till").outcome is Outcome.CANCELLED
        clock.shift(60)
        assert cancel(d, tx, "till").outcome is Outcome.CANCELLED and d.calls("cancel") == 1
        assert d.checkout.cancel_reason(tx) == ("till" if "add" in failing else "customer")


@pytest.mark.parametrize("status", [404, 503], ids=["not found", "no answer"])
def test_a_delete_without_an_answer_while_the_store_is_away_leaves_the_lease_to_expire(desk, tmp_path, caplog,
                                                                                       status):
    d = desk()
    d.store = d.checkout.store = FailingStore(tmp_path / "failing.sqlite3")
    with time_machine.travel(T0, tick=False):
        tx = d.start()
        d.store.failing = {"delete"}
        d.sandbox.faults(fail_next=1, fail_status=status, only="cancel")
        view = cancel(d, tx)
        assert (view.outcome, view.reconnecting) == (Outcome.WAITING, True) and d.calls("cancel") == 1
        assert d.store.get(f"cancel:{tx}") == "customer" and d.checkout.cancel_reason(tx) is None
        said = f"could not clear the cancel marker of {tx}"
        assert [r.getMessage() for r in caplog.records].count(said) == 1


class TokensAway(MemoryTokenStore):
    """The fleet's token store (Redis) away for the next read: not an answer of upstream's."""

    away = False

    def load(self):
        if self.away:
            self.away = False
            raise ConnectionError("Error 111 connecting to the token store")
        return super().load()


def test_a_cancel_whose_client_fails_unexpectedly_is_never_claimed_and_is_logged(desk, caplog):
    d = desk()
    d.client.tokens = TokensAway()
    with time_machine.travel(T0, tick=False):
        tx = d.start()
        d.client.tokens.away = True
        view = cancel(d, tx)
        assert (view.outcome, view.reconnecting, view.notice) == (Outcome.WAITING, True, "cancel_failed")
        assert d.calls("cancel") == 0 and d.store.get(f"cancel:{tx}") is None
        failed = [r for r in caplog.records if r.getMessage() == f"cancelling {tx} failed"]
        assert len(failed) == 1 and failed[0].exc_info[0] is ConnectionError
        assert cancel(d, tx).outcome is Outcome.CANCELLED and d.calls("cancel") == 1


def test_a_client_failing_unexpectedly_while_the_store_is_away_too_leaves_the_lease_to_expire(
        desk, tmp_path, caplog):
    d = desk()
    d.client.tokens = TokensAway()
    d.store = d.checkout.store = FailingStore(tmp_path / "failing.sqlite3")
    with time_machine.travel(T0, tick=False):
        tx = d.start()
        d.client.tokens.away = True
        d.store.failing = {"delete"}
        view = cancel(d, tx)
        assert (view.outcome, view.reconnecting, view.notice) == (Outcome.WAITING, True, "cancel_failed")
        assert d.calls("cancel") == 0 and d.store.get(f"cancel:{tx}") == "customer"
        said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        assert f"could not clear the cancel marker of {tx}" in said


def test_a_transaction_made_while_the_ledger_fails_is_told_and_written_at_the_next_look(desk, tmp_path,
                                                                                          caplog):
    d = desk(ledger=FailingLedger(make_engine(f"sqlite:///{tmp_path / 'failing-ledger.sqlite3'}")))
    told: list[dict] = []
    d.checkout.listeners.append(lambda record, facts: told.append(facts))
    with time_machine.travel(T0, tick=False):
        d.ledger.failing = True
        tx = d.start()
        said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        assert said == [f"the ledger is not answering ({AWAY}): {tx} is written at its next look"]
        assert d.events(tx) == ["created"]  # told once, though not written
        assert told == [{"coin_amount": str(Decimal(d.upstream(tx)["coinAmount"]))}]
        assert d.view(tx).outcome is Outcome.WAITING
        row = d.ledger.get(tx_id=tx)
        assert (row.status, row.coin_amount) == ("waiting", Decimal(d.upstream(tx)["coinAmount"]))
        assert d.events(tx) == ["created"]


class StopsAnswering(Ledger):
    """The ledger answers `answers` more reads of a row, then stops (None: it answers)."""

    answers: int | None = None

    def row(self, tx_id):
        if self.answers is not None:
            if self.answers == 0:
                raise OperationalError("SELECT checkouts", {}, Exception("could not connect to server"))
            self.answers -= 1
        return super().row(tx_id)


@pytest.mark.parametrize("store_fails", [False, True], ids=["lease freed", "store away too"])
def test_a_ledger_that_stops_answering_once_the_lease_is_taken_sends_no_delete(desk, tmp_path, caplog,
                                                                               store_fails):
    """The lease is taken, then the row cannot be read again: nothing is sent, the screen says
    reconnecting, and the lease is freed (when the store can) so the next tap cancels at once."""
    d = desk(ledger=StopsAnswering(make_engine(f"sqlite:///{tmp_path / 'stops.sqlite3'}")))
    d.store = d.checkout.store = FailingStore(tmp_path / "failing.sqlite3")
    with time_machine.travel(T0, tick=False):
        tx = d.start()
        d.ledger.answers = 1  # the cancel's first read of the row; not the one under the lease
        d.store.failing = {"delete"} if store_fails else set()
        view = cancel(d, tx)
        assert (view.outcome, view.reconnecting, view.notice) == (Outcome.WAITING, True, "cancel_failed")
        assert d.calls("cancel") == 0 and d.upstream(tx)["status"] == "PENDING"
        assert d.store.get(f"cancel:{tx}") == ("customer" if store_fails else None)
        said = f"could not clear the cancel marker of {tx}"
        assert any(r.getMessage() == said for r in caplog.records) is store_fails
        d.ledger.answers = None
        view = cancel(d, tx, "till")
        assert view.outcome is (Outcome.WAITING if store_fails else Outcome.CANCELLED)
        assert d.calls("cancel") == (0 if store_fails else 1)



@pytest.mark.parametrize(("asked", "notice"), [(None, None), ("till", None), ("customer", "cancel_failed")])
def test_while_the_ledger_is_away_only_the_customers_own_cancel_says_it_failed(desk, tmp_path, asked, notice):
    """Reconnecting, nothing moves; the customer who tapped cancel is told it did not go
    through. A look, or a till's cancel, tells the screen nothing of a cancel."""
    d = desk(ledger=StopsAnswering(make_engine(f"sqlite:///{tmp_path / 'stops.sqlite3'}")))
    with time_machine.travel(T0, tick=False):
        tx = d.start()
        d.ledger.answers = 0
        view = d.view(tx) if asked is None else cancel(d, tx, asked)
        assert (view.outcome, view.reconnecting, view.notice) == (Outcome.WAITING, True, notice)
        assert d.calls("cancel") == 0 and d.upstream(tx)["status"] == "PENDING"


def test_while_the_ledger_is_away_the_screen_shows_what_upstream_says_of_the_money(desk, tmp_path, caplog):
    """Reconnecting, with upstream's latest answer: coins that arrived meanwhile read partly
    paid, and that answer is what this process remembers of the checkout."""
    d = desk(ledger=StopsAnswering(make_engine(f"sqlite:///{tmp_path / 'stops.sqlite3'}")))
    with time_machine.travel(T0, tick=False):
        tx = d.start()
        assert d.view(tx).outcome is Outcome.WAITING
        d.sandbox.pay(tx, share="half")
        d.ledger.answers = 0
        view = d.view(tx)
        assert (view.outcome, view.reconnecting, view.record.tx_id) == (Outcome.PARTLY_PAID, True, tx)
        assert view.tx.is_partial and d.checkout.memory.last(tx).is_partial
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert said == [f"the ledger is not answering ({AWAY}): {tx} waits"]


class NeverWins(Ledger):
    """Another writer always changes the row first."""

    def advance(self, row, entry, values):
        return False


class KeepsNoRow(Ledger):
    """A ledger that takes every write and keeps nothing."""

    def row(self, tx_id):
        return None

    def record(self, entry):
        return None


@pytest.mark.parametrize(("kind", "why"), [(NeverWins, "other writers kept changing the row"),
                                           (KeepsNoRow, "the ledger keeps no row of this checkout")])
def test_a_ledger_that_will_not_keep_the_step_says_why_and_nothing_moves(desk, tmp_path, caplog, kind, why):
    d = desk(ledger=kind(make_engine(f"sqlite:///{tmp_path / 'odd.sqlite3'}")))
    with time_machine.travel(T0, tick=False):
        tx = d.start()
        d.sandbox.pay(tx, share="half")
        view = d.view(tx)
        assert (view.outcome, view.reconnecting) == (Outcome.PARTLY_PAID, True)
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert f"the ledger is not answering ({why}): {tx} waits" in said
