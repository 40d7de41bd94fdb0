"""The hourly reconciliation: the kiosk's records of the last day against upstream's history,
run by the real consumer (in threads of this process) over real HTTP to the sandbox."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import requests
import time_machine

from kiosk.checkout.watch import RECENT
from kiosk.cryptom import CryptomClient
from kiosk.sandbox import DEFAULT_EMAIL, DEFAULT_PASSWORD

from ..support import Customer
from ..system.test_watcher import wait_for


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_reconciliation_finds_unknown_and_ended_transactions_once(make_app, sandbox, watcher):
    # The watcher looks at open checkouts rarely here, so only the reconciliation can notice.
    app = make_app(COINS="TRX:TRX", WATCH_INTERVAL=600)
    services = app.extensions["kiosk"]
    other = CryptomClient(sandbox.url, DEFAULT_EMAIL, DEFAULT_PASSWORD)  # another customer on the account
    old = [other.create_transaction("TRY", Decimal(10 + n), "TRX", "TRX") for n in range(150)]
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    for tx in old:  # made before the window: reconciliation stops at the first page older than it
        sandbox.state.transactions[tx.id]["createdAt"] = iso(two_days_ago)
    customer = Customer(app.test_client(), sandbox)
    known_open = customer.enter("300").headers["Location"].rsplit("/", 1)[1]
    customer.next_customer()
    ended = customer.enter("200").headers["Location"].rsplit("/", 1)[1]
    foreign = other.create_transaction("TRY", Decimal("75"), "TRX", "TRX")
    requests.post(f"{sandbox.url}/sandbox/transactions/{ended}/cancel", timeout=5)  # ended upstream
    watcher(app)
    start = time.time()
    pages = sandbox.calls("history")
    # The next hour, old enough for every transaction made above: the consumer's scheduler runs
    # the real hour's reconciliation when it starts at minute 7, and that hour's period is taken.
    first = (start + RECENT + 1) // 3600 * 3600 + 3600 + 1
    with time_machine.travel(first, tick=True):
        services.jobs.reconcile_task()

        def last() -> dict | None:
            # This run's record: the consumer's own first run, at start, may have written one
            # before the clock moved, when every transaction was still too young to read.
            text = services.store.get("jobs:last:reconcile")
            run = json.loads(text) if text else None
            return run if run and run["started"] >= start + RECENT else None

        run = wait_for("the reconciliation", last, seconds=15)
        assert run["ok"] and run["pages"] == 1 and run["read"] == 3
        assert sandbox.calls("history") - pages == 1
        items = dict(services.checkout.attention())
        assert items[foreign.id]["kind"] == "unknown" and items[foreign.id]["amount"] == "75"
        assert items[ended]["kind"] == "ended_upstream"
        assert known_open not in items and not any(tx.id in items for tx in old)
        assert services.checkout.is_closed(ended)  # and the kiosk now knows it ended
        # Once per period across hosts: queued again this hour, it does not run again.
        services.checkout.dismiss(foreign.id)
        services.jobs.reconcile_task()
        wait_for("the job to be taken", lambda: services.jobs.huey.pending_count() == 0)
        assert last() == run
    # Next hour: it runs, and what was dismissed stays dismissed.
    with time_machine.travel(first + 3600, tick=True):
        services.jobs.reconcile_task()
        wait_for("the next run", lambda: last()["at"] > run["at"], seconds=15)
        assert foreign.id not in dict(services.checkout.attention())
