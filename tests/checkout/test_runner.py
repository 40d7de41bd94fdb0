"""The runner: hosts, screens and consumers racing over one checkout make one transition and
one upstream DELETE. Real threads and real processes, one store and one ledger (SQLite, and a
real PostgreSQL), the sandbox counting what reached it over HTTP."""

from __future__ import annotations

import multiprocessing
import secrets
import threading
from dataclasses import replace
from decimal import Decimal

import pytest
import time_machine

from kiosk.checkout import Checkout, LocalStore, Outcome
from kiosk.checkout.record import Record
from kiosk.checkout.runner import LedgerAway, Runner, columns, kept, sale_entry, state_of
from kiosk.checkout.states import StartAsked, State
from kiosk.cryptom import CryptomClient, Transaction
from kiosk.ledger import Ledger, make_engine
from kiosk.sandbox import DEFAULT_EMAIL, DEFAULT_PASSWORD

from ..desk import T0

RACERS = 6


def race(jobs) -> list:
    """Run the jobs at once, each in its own thread; their results in order."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = jobs[i]()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    return results


@pytest.fixture
def hosts(desk, ledger_url):
    """A desk whose ledger is on `ledger_url`, and `RACERS` hosts of the same kiosk over it:
    the same store and ledger, nothing in common in memory."""
    ledger = Ledger(make_engine(ledger_url))
    ledger.upgrade()
    d = desk(ledger=ledger, payment_timeout=60)
    return d, [d.another_worker(payment_timeout=60) for _ in range(RACERS)]


def test_hosts_cancelling_at_once_send_one_delete_and_make_one_transition(hosts):
    d, others = hosts
    with time_machine.travel(T0, tick=False):
        tx = d.start()
        record = d.checkout.record(tx)
        d.sandbox.faults(latency_ms=300, latency_next=1, only="cancel")  # a DELETE slow to answer
        views = race([lambda c=c, n=n: c.cancel(record, ("customer", "till")[n % 2])
                      for n, c in enumerate(others)])
    assert d.calls("cancel") == 1
    assert d.events(tx).count("cancelled") == 1
    row = d.ledger.get(tx_id=tx)
    assert (row.status, row.version) == ("cancelled", 2)
    assert row.cancel_reason in ("customer", "till")
    # Who lost the race saw the result, or waited on the DELETE on its way: never a second one.
    assert {v.outcome for v in views} <= {Outcome.CANCELLED, Outcome.WAITING}


def test_screens_and_the_watcher_at_the_deadline_send_one_delete(hosts):
    d, others = hosts
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        d.sandbox.pay(tx, share="half")
        record = d.checkout.record(tx)
        clock.shift(60)
        jobs = [lambda c=c: c.view(record) for c in others[:-1]]
        jobs.append(lambda: d.watch_now(tx))
        race(jobs)
        assert d.calls("cancel") == 1
        assert d.view(tx).outcome is Outcome.PARTIAL_KEPT
    events = d.events(tx)
    assert events.count("ended with partial payment") == 1 and events.count("partly paid") <= 1
    row = d.ledger.get(tx_id=tx)
    assert (row.status, row.cancel_reason, row.attention) == ("partial", "deadline", ["partial"])
    assert len([i for i in d.attention() if i == tx]) == 1


def test_many_screens_seeing_a_payment_tell_it_once(hosts):
    d, others = hosts
    with time_machine.travel(T0, tick=False):
        tx = d.start()
        d.sandbox.pay(tx, share="full")
        record = d.checkout.record(tx)
        views = race([lambda c=c: c.view(record) for c in others])
    assert {v.outcome for v in views} == {Outcome.PAID}
    assert d.events(tx) == ["created", "paid"]
    assert d.ledger.get(tx_id=tx).version == 2


def test_a_write_that_lost_the_race_takes_its_step_anew(hosts):
    """Compare and set: a state written from an old version is refused; the runner reads the
    row again and its step finds the result another host wrote."""
    d, _ = hosts
    with time_machine.travel(T0, tick=False):
        tx = d.start()
        record = d.checkout.record(tx)
        row = d.ledger.row(tx)
        runner: Runner = d.checkout.runner
        state = state_of(row, record, None)
        assert state == State(deadline=record.deadline, status="waiting")
        d.sandbox.pay(tx, share="full")
        assert d.view(tx).outcome is Outcome.PAID  # another host, meanwhile
        from kiosk.checkout.runner import sale_entry

        stale = sale_entry(record, T0, "TRY", None, State(deadline=record.deadline, status="cancelled"))
        assert not d.ledger.advance(row, stale, columns(state))  # the old version: refused
        assert d.ledger.get(tx_id=tx).status == "paid"
        assert runner.state(record).status == "paid"


# -- processes ---------------------------------------------------------------------------------

def _cancel_in_a_process(sandbox_url: str, store_path: str, ledger_url: str, tx: str, start, out) -> None:
    """Another process of the kiosk: its own client, store and ledger connections."""
    client = CryptomClient(sandbox_url, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    checkout = Checkout(client, LocalStore(store_path), ledger=Ledger(make_engine(ledger_url)),
                        payment_timeout=600)
    record = checkout.record(tx)
    start.wait(30)
    out.put(checkout.cancel(record, "till").outcome.value)


def test_processes_cancelling_at_once_send_one_delete(desk, tmp_path, ledger_url):
    ledger = Ledger(make_engine(ledger_url))
    ledger.upgrade()
    d = desk(ledger=ledger)
    tx = d.checkout.start(secrets.token_hex(8), Decimal("300"), "TRX", "TRX", owner="kiosk:a")
    d.sandbox.faults(latency_ms=300, latency_next=1, only="cancel")
    spawn = multiprocessing.get_context("spawn")
    start, out = spawn.Event(), spawn.Queue()
    procs = [spawn.Process(target=_cancel_in_a_process,
                           args=(d.sandbox.url, d.store.path, ledger_url, tx, start, out))
             for _ in range(4)]
    for p in procs:
        p.start()
    start.set()
    outcomes = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert d.calls("cancel") == 1 and d.upstream(tx)["status"] == "CANCELLED"
    assert "cancelled" in outcomes and set(outcomes) <= {"cancelled", "waiting"}
    row = ledger.get(tx_id=tx)
    assert (row.status, row.cancel_reason, row.version) == ("cancelled", "till", 2)


class CancelledMeanwhile(LocalStore):
    """Another host cancels the checkout from start to end between this host's read of the row
    and its read of the lease: this host then finds no lease, and takes one after the other's
    is gone."""

    other = None  # the other host's call, run once
    fails_after = False  # this host's clearing of its lease fails (the store away for a moment)

    def get(self, key):
        if key.startswith("cancel:") and self.other is not None:
            other, self.other = self.other, None
            other()
            self.failing = self.fails_after
        return super().get(key)

    def delete(self, key):
        if key.startswith("cancel:") and getattr(self, "failing", False):
            self.failing = False
            raise OSError("the store is away")
        super().delete(key)


@pytest.mark.parametrize("store_fails", [False, True], ids=["lease freed", "store away"])
def test_a_host_that_read_the_row_before_another_cancelled_sends_no_second_delete(desk, tmp_path, caplog,
                                                                                  store_fails):
    d = desk(payment_timeout=60)
    d.store = d.checkout.store = CancelledMeanwhile(tmp_path / "meanwhile.sqlite3")
    d.store.fails_after = store_fails
    other = d.another_worker(payment_timeout=60)
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        record = d.checkout.record(tx)
        clock.shift(60)
        d.store.other = lambda: other.cancel(record, "till")
        assert d.view(record.tx_id).outcome is Outcome.CANCELLED
        # This host's lease, taken after the other's was gone, is freed (or left to expire).
        assert d.store.get(f"cancel:{tx}") == ("deadline" if store_fails else None)
    assert d.calls("cancel") == 1 and d.checkout.cancel_reason(tx) == "till"
    assert d.events(tx).count("cancelled") == 1
    said = f"could not clear the cancel marker of {tx}"
    assert any(r.getMessage() == said for r in caplog.records) is store_fails


def test_a_host_that_finds_another_was_refused_reads_upstream_afresh(desk, tmp_path):
    """Under its lease this host finds another host's refused DELETE and its wait: it sends none,
    and looks at upstream as it is now (coins came meanwhile), never at the answer the screens
    share."""
    d = desk(payment_timeout=60, share_seconds=1.5)
    d.store = d.checkout.store = CancelledMeanwhile(tmp_path / "meanwhile.sqlite3")
    other = d.another_worker(payment_timeout=60, share_seconds=1.5)

    def refused() -> None:
        d.sandbox.pay(tx, share="half")
        d.sandbox.faults(fail_next=1, fail_status=403, only="cancel")
        other.cancel(record, "till")

    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        record = d.checkout.record(tx)
        clock.shift(60)
        d.store.other = refused
        view = d.view(tx)
        assert (view.outcome, view.tx.is_partial) == (Outcome.PARTLY_PAID, True)
        assert d.calls("cancel") == 1 and d.store.get(f"cancel:{tx}") is None
    row = d.ledger.get(tx_id=tx)
    assert (row.status, row.cancel_refusals, row.cancel_reason) == ("partly_paid", 1, None)


class Follower:
    def __init__(self) -> None:
        self.flags: list[tuple[str, str]] = []
        self.changes: list[str] = []

    def changed(self, change) -> None:
        self.changes.append(change.event)

    def flagged(self, tx_id: str, kind: str, at: float) -> None:
        self.flags.append((tx_id, kind))


def test_an_attention_item_says_what_was_received_and_expected_and_is_told(desk):
    d = desk(payment_timeout=60)
    follower = Follower()
    d.checkout.followers.append(follower)
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        d.sandbox.pay(tx, share="half")
        clock.shift(60)
        assert d.view(tx).outcome is Outcome.PARTIAL_KEPT
    upstream = d.upstream(tx)
    assert d.attention()[tx] == {"kind": "partial", "at": T0 + 60, "amount": "300", "coin": "TRX",
                                 "network": "TRX", "received": upstream["totalTransferAmount"],
                                 "expected": upstream["coinAmount"]}
    assert follower.flags == [(tx, "partial")]
    assert follower.changes == ["created", "ended with partial payment"]


class NoItems(Ledger):
    """A ledger that takes the row but not the operator's item."""

    def note(self, *args, **kwargs):
        raise OSError("disk full")


def test_an_item_the_ledger_will_not_take_leaves_the_result_and_says_so(desk, tmp_path, caplog):
    d = desk(payment_timeout=60, ledger=NoItems(make_engine(f"sqlite:///{tmp_path / 'noitems.sqlite3'}")))
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        d.vanish(tx)
        for moment in (0, 30, 60):
            clock.move_to(T0 + moment)
            view = d.view(tx)
    assert view.outcome is Outcome.SEE_CASHIER
    assert d.ledger.get(tx_id=tx).attention == ["see_cashier"]
    said = f"the attention item of {tx} could not be written"
    failed = [r for r in caplog.records if r.getMessage() == said]
    assert len(failed) == 1 and failed[0].exc_info is not None


class TakenMeanwhile(LocalStore):
    """Another host takes the cancel's lease between this host's read of it and its own try."""

    take = False
    then_gone = False  # ... and lets it go at this host's next read of it (its DELETE got no answer)

    def get(self, key):
        if key.startswith("cancel:") and self.take:
            self.take = False
            super().add(key, "till", ttl=60)
            return None
        if key.startswith("cancel:") and self.then_gone and super().get(key) is not None:
            self.then_gone = False
            super().delete(key)
        return super().get(key)


def test_a_lease_another_host_took_first_means_only_a_look(desk, tmp_path):
    d = desk(share_seconds=1.5)
    d.store = d.checkout.store = TakenMeanwhile(tmp_path / "taken.sqlite3")
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        assert d.view(tx).outcome is Outcome.WAITING  # an answer shared with the other screens
        d.sandbox.pay(tx, share="half")
        d.store.take = True
        reads = d.calls("detail")
        view = d.checkout.cancel(d.checkout.record(tx))  # reads afresh: never the shared answer
        assert (view.outcome, view.reconnecting, view.notice) == (Outcome.PARTLY_PAID, False, None)
        assert d.calls("cancel") == 0 and d.calls("detail") == reads + 1 and view.tx.is_partial
        clock.shift(60)  # the other host's lease has gone, and nothing came of it: this one cancels
        assert d.checkout.cancel(d.checkout.record(tx)).outcome is Outcome.PARTIAL_KEPT
        assert d.calls("cancel") == 1 and d.checkout.cancel_reason(tx) == "customer"


def test_a_lease_another_host_took_and_let_go_means_only_a_look_in_this_run(desk, tmp_path):
    """Past the deadline, another host takes the lease first and lets it go with nothing done:
    this run only looks (one DELETE per run at most); the next look sends it."""
    d = desk(payment_timeout=60)
    d.store = d.checkout.store = TakenMeanwhile(tmp_path / "taken.sqlite3")
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        clock.shift(60)
        d.store.take = d.store.then_gone = True
        view = d.view(tx)
        assert (view.outcome, d.calls("cancel"), d.store.get(f"cancel:{tx}")) == (Outcome.WAITING, 0, None)
        assert d.view(tx).outcome is Outcome.EXPIRED and d.calls("cancel") == 1


def test_the_watchers_look_at_a_closed_checkout_reads_upstream_afresh(desk):
    """Coins after the close are what the watcher looks for: never an answer a screen shared."""
    d = desk(payment_timeout=60, share_seconds=1.5)
    with time_machine.travel(T0, tick=False) as clock:
        tx = d.start()
        clock.shift(60)
        assert d.view(tx).outcome is Outcome.EXPIRED
        reads = d.calls("detail")
        clock.shift(0.5)
        d.watch_now(tx)
        assert d.calls("detail") == reads + 1


def test_a_process_forgets_a_checkouts_last_answer_once_it_ends(desk):
    """The last answer each open checkout got is kept in memory (shown while upstream is away);
    an ended checkout's is let go, so memory holds only what may still be shown."""
    d = desk()
    with time_machine.travel(T0, tick=False):
        tx, other = d.start(), d.start()
        assert d.view(tx).outcome is Outcome.WAITING and d.view(other).outcome is Outcome.WAITING
        assert d.checkout.memory.last(tx).id == tx
        d.sandbox.pay(tx, share="full")
        assert d.view(tx).outcome is Outcome.PAID
        assert d.checkout.memory.last(tx) is None and d.checkout.memory.last(other).id == other


def test_a_start_is_never_run_its_step_shows_nothing(desk):
    d = desk()
    with time_machine.travel(T0, tick=False):
        tx = d.start()
        with pytest.raises(TypeError, match="^StartAsked is not run: its step shows nothing$"):
            d.checkout.runner.run(d.checkout.record(tx), StartAsked())
        assert d.calls("create") == 1 and d.view(tx).outcome is Outcome.WAITING


def test_followers_get_the_transaction_that_brought_the_event(desk):
    """A follower (the webhooks) is given upstream's answer that moved the checkout, never the
    one a screen saw before it."""
    d = desk()
    changes = []
    d.checkout.followers.append(type("Follower", (), {"changed": lambda self, c: changes.append(c),
                                                      "flagged": lambda self, *a: None})())
    with time_machine.travel(T0, tick=False):
        tx = d.start()
        assert d.view(tx).outcome is Outcome.WAITING  # the waiting answer, remembered
        d.sandbox.pay(tx, share="full")
        assert d.view(tx).outcome is Outcome.PAID
    assert [c.event for c in changes] == ["created", "paid"]
    assert changes[-1].tx.is_transfer_complete and changes[-1].tx.total_transfer_amount > 0


@pytest.mark.parametrize(("error", "told"), [
    (ConnectionError("could not connect\n[SQL: SELECT 1]\n(link)"), "ConnectionError: could not connect"),
    (ConnectionError(), "ConnectionError: "),  # nothing said: the kind alone
    (TimeoutError("\nafter 5 s"), "TimeoutError: "),
])
def test_the_ledgers_error_is_told_in_one_line(error, told):
    assert str(LedgerAway.of(error)) == told


def test_each_step_writes_upstreams_latest_word_with_the_status(desk):
    """The row keeps what upstream last said of the transaction with each change it made:
    its status word next to the kiosk's, for whoever reads the ledger later."""
    d = desk()
    with time_machine.travel(T0, tick=False):
        tx = d.start()
        assert d.ledger.get(tx_id=tx).upstream_status == d.upstream(tx)["status"] == "PENDING"
        d.sandbox.pay(tx, share="half")
        assert d.view(tx).outcome is Outcome.PARTLY_PAID
        row = d.ledger.get(tx_id=tx)
        assert (row.status, row.upstream_status) == ("partly_paid", d.upstream(tx)["status"])
        assert row.upstream_status != "PENDING"


# -- the row and the state, both ways -------------------------------------------------------------

RECORD = Record("tx-1", Decimal("300.00"), "USDT", "TRC20", T0, T0 + 600, owner="display:d-1",
                ref="0123456789abcdef", display="d-1", tip=Decimal("15.00"))


def test_a_sale_entry_says_everything_the_kiosks_record_knows():
    """What the ledger is told when it has no row yet (the start written while it was away)."""
    entry = sale_entry(RECORD, T0 + 5, "TRY")
    assert (entry.at, entry.tx_id, entry.order_id, entry.started_by_kind, entry.started_by) == (
        T0 + 5, "tx-1", None, "display", "d-1")
    assert (entry.display_id, entry.kiosk_ref, entry.amount, entry.tip, entry.currency) == (
        "d-1", "0123456789abcdef", Decimal("300.00"), Decimal("15.00"), "TRY")
    assert (entry.coin, entry.network, entry.created, entry.deadline) == ("USDT", "TRC20", T0, T0 + 600)
    assert entry.status is None and entry.coin_amount is None  # no state, no transaction: nothing more
    ordered = sale_entry(replace(RECORD, order="chk_00000000000000aa", ref=""), T0, "EUR")
    assert (ordered.order_id, ordered.started_by_kind, ordered.kiosk_ref, ordered.currency) == (
        "chk_00000000000000aa", None, None, "EUR")  # an order's sender is the order's to say


def test_a_sale_entry_carries_the_state_and_upstreams_quote():
    tx = Transaction.from_json({
        "_id": "tx-1", "sequenceID": 10042, "status": "TRANSFERRED", "currency": "EUR",
        "currencyAmount": "315", "coin": "USDT", "network": "TRC20", "coinAmount": "340.5",
        "conversionRate": "0.925", "exchangeFee": "1.25", "commission": "0.75",
        "totalTransferAmount": "100", "isTransferComplete": False,
        "wallet": {"address": "TQ8examplewalletaddress0000000001"},
        "statusNote": "table 4 kiosk:0123456789abcdef"})
    state = State(deadline=T0 + 600, status="partly_paid", cancel_reason="till", received=Decimal("100"),
                  flags=frozenset({"partial"}))
    entry = sale_entry(RECORD, T0 + 9, "TRY", tx, state)
    assert (entry.status, entry.cancel_reason, entry.received, entry.attention) == (
        "partly_paid", "till", Decimal("100"), frozenset({"partial"}))
    assert (entry.coin_amount, entry.conversion_rate, entry.exchange_fee, entry.commission) == (
        Decimal("340.5"), Decimal("0.925"), Decimal("1.25"), Decimal("0.75"))
    assert (entry.address, entry.sequence_id, entry.upstream_status, entry.note, entry.currency) == (
        "TQ8examplewalletaddress0000000001", 10042, "TRANSFERRED", "table 4", "EUR")  # upstream's currency
    assert sale_entry(RECORD, T0, "TRY", None, replace(state, status="pending")).status is None  # no news
    bare = sale_entry(RECORD, T0, "TRY", Transaction.from_json({"_id": "tx-1", "status": ""}))
    assert (bare.address, bare.upstream_status, bare.note, bare.currency) == (None, None, None, "TRY")


def test_a_state_is_read_whole_from_its_row_and_the_lease():
    row = {"status": "partly_paid", "cancel_reason": "till", "cancel_refusals": 2, "cancel_retry_at": T0 + 40,
           "lost_since": T0 + 1, "lost_count": 1, "received": Decimal("6.5"), "attention": ["partial"]}
    assert state_of(row, RECORD, "customer") == State(
        deadline=T0 + 600, status="partly_paid", cancel_reason="till", cancelling="customer", refusals=2,
        retry_at=T0 + 40, lost_since=T0 + 1, lost_count=1, received=Decimal("6.5"),
        flags=frozenset({"partial"}))
    assert state_of({**row, "attention": None}, RECORD, None).flags == frozenset()
    assert kept(state_of(row, RECORD, "customer")).cancelling is None  # the lease is the store's


def test_a_row_made_while_upstream_does_not_answer_is_in_the_kiosks_currency(desk):
    """A checkout the ledger has no row of (its start was written while the ledger was away),
    looked at while upstream does not answer: the row is made from the kiosk's record alone."""
    d = desk(currency="EUR")
    with time_machine.travel(T0, tick=False):
        tx = d.start()
        with d.ledger.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM checkouts")
        d.sandbox.faults(fail_next=5, fail_status=503, only="detail")
        view = d.view(tx)
        assert view.reconnecting and d.calls("detail") >= 1
        row = d.ledger.get(tx_id=tx)
        assert (row.currency, row.amount, row.coin, row.coin_amount) == ("EUR", Decimal("300"), "TRX", None)
