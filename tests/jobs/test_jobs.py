"""The job queue itself: a host that dies half way through leaves nothing another cannot finish,
periodic jobs run once per period, and the queue holds JSON, never pickles. The real consumer
runs in threads of this process; the kiosk talks to the sandbox over real HTTP."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
import time_machine

from kiosk.checkout.base import CREATES, WATCHED
from kiosk.jobs.queue import JsonSerializer

from ..support import Customer
from ..system.test_watcher import wait_for


def open_checkout(app, sandbox) -> str:
    return Customer(app.test_client(), sandbox).enter("300").headers["Location"].rsplit("/", 1)[1]


def test_a_host_that_died_sending_the_delete_is_finished_by_another(make_app, sandbox, watcher):
    """A host claimed the checkout and the cancel, then died before sending the DELETE: its
    guards expire, the sweep queues the checkout again, and another consumer cancels it once."""
    app = make_app(COINS="TRX:TRX", PAYMENT_TIMEOUT=5)
    services = app.extensions["kiosk"]
    tx_id = open_checkout(app, sandbox)
    start = time.time()
    store = services.store
    with time_machine.travel(start + 6, tick=False):  # the dead host's traces, at the deadline
        store.add(f"watching:{tx_id}", "1", ttl=120)
        store.add(f"cancel:{tx_id}", "deadline", ttl=60)
        store.schedule(WATCHED, tx_id, start + 6)
    watcher(app)
    with time_machine.travel(start + 60, tick=True):
        services.jobs._sweep(lag=15)
        wait_for("the job to be taken", lambda: services.jobs.huey.pending_count() == 0)
        assert sandbox.calls("cancel") == 0  # its claim still holds: nobody steps on it
    with time_machine.travel(start + 130, tick=True):
        services.jobs._sweep(lag=15)
        wait_for("the DELETE", lambda: sandbox.calls("cancel") == 1, seconds=10)
        wait_for("the result", lambda: services.checkout.last_outcome(tx_id) == "expired", seconds=10)
    assert sandbox.calls("cancel") == 1 and sandbox.transactions()[0]["status"] == "CANCELLED"


def test_a_periodic_job_runs_once_per_period_across_hosts(make_app, sandbox):
    """Two hosts' jobs on one store: the first to take the period's guard runs the sweep."""
    one, two = make_app(), make_app()
    start = time.time()
    with time_machine.travel(start, tick=False):
        one.extensions["kiosk"].jobs._periodic("sweep", lambda: {"host": 1})
        two.extensions["kiosk"].jobs._periodic("sweep", lambda: {"host": 2})
    last = json.loads(one.extensions["kiosk"].store.get("jobs:last:sweep"))
    assert last["host"] == 1
    with time_machine.travel(start + 60, tick=False):  # the next minute
        two.extensions["kiosk"].jobs._periodic("sweep", lambda: {"host": 2})
    assert json.loads(one.extensions["kiosk"].store.get("jobs:last:sweep"))["host"] == 2


def test_the_queue_holds_json_never_pickles(make_app, sandbox, tmp_path):
    app = make_app(COINS="TRX:TRX")
    open_checkout(app, sandbox)  # queues the checkout's first watch
    rows = sqlite3.connect(tmp_path / "state" / "jobs.sqlite3").execute(
        "SELECT data FROM schedule UNION ALL SELECT data FROM task").fetchall()
    assert rows and all(json.loads(bytes(data)) for (data,) in rows)
    with pytest.raises(TypeError, match="plain data"):
        JsonSerializer().serialize({"args": [object()]})
    with pytest.raises(ValueError):
        JsonSerializer().deserialize(b"\x80\x04\x95pickle")


def test_closed_checkouts_are_watched_a_day_less_often_as_they_age(make_app, sandbox):
    """After close the watcher reads a checkout for 24 h after its deadline, half its age apart
    (at least every KIOSK_WATCH_INTERVAL, at most every two hours), then lets it go."""
    app = make_app(COINS="TRX:TRX", PAYMENT_TIMEOUT=60, WATCH_INTERVAL=10)
    checkout = app.extensions["kiosk"].checkout
    tx_id = open_checkout(app, sandbox)
    deadline = checkout.record(tx_id).deadline
    due = lambda: checkout.store.when(WATCHED, tx_id)  # noqa: E731
    with time_machine.travel(deadline + 1, tick=False):
        checkout.watch(tx_id)  # cancels it: expired
        assert checkout.is_closed(tx_id) and due() == deadline + 1 + 10  # young: the interval
    gaps = []
    moment = due()
    while moment is not None and len(gaps) < 100:
        run_at = moment + 0.001  # the job runs a moment after it is due
        with time_machine.travel(run_at, tick=False):
            checkout.watch(tx_id)
        following = due()
        if following is not None:
            gaps.append((round(run_at - deadline, 2), round(following - run_at, 2)))
        moment = following
    steady = gaps[:-1]  # the last look is moved to the end of the day
    assert gaps[0] == (11, 10) and all(b >= a for (_, a), (_, b) in zip(steady, steady[1:]))
    assert max(gap for _, gap in gaps) == 7200  # at least every two hours
    age, gap = gaps[-1]
    assert round(age + gap) == 24 * 3600  # the last look a day after the deadline, then no more
    assert moment is None and len(gaps) < 40  # about thirty reads in a day, not one a minute


def test_a_paid_checkout_is_no_longer_watched(make_app, sandbox):
    app = make_app(COINS="TRX:TRX")
    checkout = app.extensions["kiosk"].checkout
    tx_id = open_checkout(app, sandbox)
    sandbox.pay(tx_id, share="full")
    with time_machine.travel(checkout.store.when(WATCHED, tx_id), tick=False):
        checkout.watch(tx_id)
    assert checkout.is_closed(tx_id) and checkout.store.when(WATCHED, tx_id) is None


def test_the_watcher_reuses_a_screens_recent_answer(make_app, sandbox):
    """A screen that polls keeps the checkout fresh: the watcher adds no upstream read."""
    app = make_app(share=True, COINS="TRX:TRX", WATCH_INTERVAL=15)
    checkout = app.extensions["kiosk"].checkout
    customer = Customer(app.test_client(), sandbox)
    tx_id = customer.enter("300").headers["Location"].rsplit("/", 1)[1]
    start = time.time()
    with time_machine.travel(start + 14, tick=False):
        customer.status(tx_id)  # the screen polls
        reads = sandbox.calls("detail")
    with time_machine.travel(start + 15, tick=False):
        checkout.watch(tx_id)
        assert sandbox.calls("detail") == reads  # the screen's answer of a second ago
    with time_machine.travel(start + 30, tick=False):
        checkout.watch(tx_id)  # nobody looked for 16 s: the watcher reads
        assert sandbox.calls("detail") == reads + 1


@pytest.mark.parametrize("age, reads", [(1.999, 0), (2, 1), (14, 1)])
def test_the_watcher_reads_afresh_once_no_screen_is_polling(make_app, sandbox, age, reads):
    """A screen polls every POLL_INTERVAL (2 s): an answer older than that means nobody is looking,
    so the watcher reads upstream itself and a payment is noticed within one watch interval, not
    two (an answer of 14 s ago would otherwise do for another 15 s)."""
    app = make_app(share=True, COINS="TRX:TRX", WATCH_INTERVAL=15, POLL_INTERVAL=2)
    checkout = app.extensions["kiosk"].checkout
    customer = Customer(app.test_client(), sandbox)
    tx_id = customer.enter("300").headers["Location"].rsplit("/", 1)[1]
    due = checkout.store.when(WATCHED, tx_id)
    with time_machine.travel(due - age, tick=False):
        customer.status(tx_id)  # the screen's last poll, then it went dark
        before = sandbox.calls("detail")
    with time_machine.travel(due, tick=False):
        assert checkout.watch(tx_id, due) == due + 15
        assert sandbox.calls("detail") == before + reads


UNREADABLE = ["not json", "[]", "{}", '{"tx_id": "x", "amount": "lots", "coin": "TRX", "network": "TRX",'
              ' "created": 0, "deadline": 0}', '{"tx_id": "x", "amount": "1", "coin": "TRX",'
              ' "network": "TRX", "created": null, "deadline": 0}']


@pytest.mark.parametrize("text", UNREADABLE)
def test_an_unreadable_entry_is_set_aside_not_retried_forever(make_app, sandbox, caplog, text):
    """A record or an unanswered create that cannot be read (written by hand, by another version,
    or by whoever can write the fleet's Redis) is dropped from the watcher's lists with a
    warning, once: the sweep would otherwise queue a failing job every minute for ever. The
    screens answer it as an unknown id."""
    app = make_app()
    checkout = app.extensions["kiosk"].checkout
    store = checkout.store
    store.set("tx:6b06a0000000000000000000", text)
    store.schedule(WATCHED, "6b06a0000000000000000000", 0)
    store.set("create:0123456789abcdef", text)
    store.schedule(CREATES, "0123456789abcdef", 0)
    assert checkout.watch("6b06a0000000000000000000", 0) is None
    checkout.resolve_create("0123456789abcdef")
    assert checkout.overdue(0) == [] and checkout.unanswered() == []
    assert any("cannot be read" in r.getMessage() for r in caplog.records)
    assert checkout.record_for("6b06a0000000000000000000", "kiosk:x") is None
    browser = app.test_client()
    browser.get("/")  # a kiosk id in its session: the record is read, then refused
    assert browser.get("/pay/6b06a0000000000000000000").status_code == 404
