"""The job queue itself: a host that dies half way through leaves nothing another cannot finish,
periodic jobs run once per period, and the queue holds JSON, never pickles. The real consumer
runs in threads of this process; the kiosk talks to the sandbox over real HTTP."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
import time_machine

from kiosk.checkout.base import WATCHED
from kiosk.jobs.queue import JsonSerializer

from .support import Customer
from .test_watcher import wait_for


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
        wait_for("the result", lambda: store.get(f"final:{tx_id}") == "expired", seconds=10)
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
