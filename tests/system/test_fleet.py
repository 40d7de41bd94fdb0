"""A fleet as docs/deployment.md describes it, for real: two `kiosk serve` instances (gunicorn,
its workers and the watcher its master starts) on one PostgreSQL and one Redis, against the
sandbox over HTTP. The module starts its own PostgreSQL (it stops it in one test), its own Redis
and its own sandbox, and the two hosts once; host B has one worker, so the test that kills a
worker knows which one is creating. Short settings (a 10 s deadline, a 1 s watch interval) and
bounded waits on conditions: real processes keep real time."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from decimal import Decimal

import pytest
import redis
import requests

from kiosk.ledger import Ledger, make_engine

from ..conftest import free_port
from ..support import Customer, Gunicorn, field
from .fleet_setup import running_fleet

TIMEOUT = 10  # seconds a customer has to pay
FLEET = {"PAYMENT_TIMEOUT": str(TIMEOUT), "WATCH_INTERVAL": "1", "POLL_INTERVAL": "1",
         "CREATE_LIMIT": "1000/60", "THREADS": "16", "LOG_FORMAT": "text"}


def wait_for(what: str, check: Callable[[], object], seconds: float = 30.0) -> object:
    """Poll `check` until it returns something true; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
    return value


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    with running_fleet(tmp_path_factory.mktemp("fleet"), {**FLEET, "WORKERS": "2"},
                       {**FLEET, "WORKERS": "1"}) as fleet:
        yield fleet


def start_checkout(url: str, amount: str, http: requests.Session) -> str:
    html = http.get(url + "/", timeout=10).text
    response = http.post(url + "/", data={"csrf_token": field(html, "csrf_token"),
                                          "nonce": field(html, "nonce"), "amount": amount},
                         allow_redirects=False, timeout=30)
    assert response.status_code == 303, response.text[:300]
    return response.headers["Location"].rsplit("/", 1)[1]


def test_a_checkout_started_on_one_host_finishes_on_the_other(fleet):
    a, b = fleet.hosts
    http = requests.Session()  # one customer: the load balancer sends each request anywhere
    tx_id = start_checkout(a.url, "123.45", http)
    on_b = Customer.over_http(b.url, http)
    assert on_b.poll(tx_id) == ("waiting", None)
    fleet.sandbox.pay(tx_id, share="full")
    # The screen's next polls (an answer is shared for half a poll interval) see it paid.
    seen = wait_for("paid on B", lambda: (p := on_b.poll(tx_id))[0] == "paid" and p, seconds=10)
    assert seen == ("paid", f"/result/{tx_id}")
    assert on_b.result(tx_id) == "paid"
    assert a.workers("/pay/") == [] and b.workers(f"/pay/{tx_id}/status")  # B served the screen
    row = wait_for("the paid row", lambda: (r := fleet.ledger.get(tx_id=tx_id)) and r.status == "paid" and r)
    assert (row.amount, row.currency, row.started_by_kind) == (Decimal("123.45"), "TRY", "kiosk")
    assert row.received == Decimal(fleet.sandbox.state.transactions[tx_id]["coinAmount"])
    assert row.paid_at is not None and row.closed_at is not None


CUSTOMERS = 50


def test_fifty_checkouts_at_once_across_both_hosts_each_end_once(fleet):
    """A third pay in full, a third cancel on their screen, a third walk away (the deadline):
    fifty rows, fifty upstream transactions, each in its final state, one create each."""
    creates = fleet.sandbox.calls("create")
    started: dict[int, str] = {}
    results: dict[int, str] = {}
    errors: list[str] = []
    go = threading.Barrier(CUSTOMERS)
    ready = threading.Event()

    def customer(n: int) -> None:
        try:
            http = requests.Session()
            here, there = fleet.hosts[n % 2], fleet.hosts[(n + 1) % 2]
            html = http.get(here.url + "/", timeout=10).text
            go.wait(30)  # all press Pay together
            response = http.post(here.url + "/", data={
                "csrf_token": field(html, "csrf_token"), "nonce": field(html, "nonce"),
                "amount": f"{200 + n}.25"}, allow_redirects=False, timeout=30)
            assert response.status_code == 303, response.text[:300]
            tx_id = started[n] = response.headers["Location"].rsplit("/", 1)[1]
            screen = Customer.over_http(there.url, http)  # the screen's polls reach the other host
            ready.wait(30)
            if n % 3 == 1:
                assert screen.cancel(tx_id).status_code == 303
            deadline = time.monotonic() + TIMEOUT + 30
            while time.monotonic() < deadline:
                outcome, redirect = screen.poll(tx_id)
                if redirect:
                    results[n] = screen.result(tx_id)
                    return
                time.sleep(0.5)
            errors.append(f"{n}: still {outcome}")
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(f"{n}: {exc!r}")

    threads = [threading.Thread(target=customer, args=(n,)) for n in range(CUSTOMERS)]
    for t in threads:
        t.start()
    wait_for("fifty started", lambda: len(started) == CUSTOMERS or errors, seconds=60)
    assert errors == []
    for n, tx_id in started.items():
        if n % 3 == 0:
            fleet.sandbox.pay(tx_id, share="full")
    ready.set()
    for t in threads:
        t.join(TIMEOUT + 60)
    assert errors == []
    expected = {n: ("paid", "cancelled", "expired")[n % 3] for n in range(CUSTOMERS)}
    assert results == expected
    ids = set(started.values())
    assert len(ids) == CUSTOMERS and fleet.sandbox.calls("create") - creates == CUSTOMERS
    upstream = fleet.upstream(ids)
    assert len(upstream) == CUSTOMERS
    # Paid is isTransferComplete, whatever the status word; the others the kiosk cancelled.
    assert {n: upstream[started[n]]["isTransferComplete"] or upstream[started[n]]["status"]
            for n in range(CUSTOMERS)} == {n: n % 3 == 0 or "CANCELLED" for n in range(CUSTOMERS)}

    def all_final() -> dict:
        rows = fleet.rows(ids)
        return rows if {n: rows[started[n]].status if started[n] in rows else None
                        for n in range(CUSTOMERS)} == expected else {}

    rows = wait_for("fifty final rows", all_final, seconds=30)
    assert len(rows) == CUSTOMERS
    for n in range(CUSTOMERS):
        row = rows[started[n]]
        assert row.amount == Decimal(f"{200 + n}.25") and row.closed_at is not None
        assert row.received == (Decimal(upstream[started[n]]["coinAmount"]) if n % 3 == 0 else 0)
        assert row.cancel_reason == (None, "customer", "deadline")[n % 3]


def answers(host: Gunicorn) -> bool:
    try:
        return requests.get(host.url + "/healthz", timeout=5).ok
    except requests.RequestException:  # its new worker is still starting
        return False


def only_worker(host: Gunicorn) -> int:
    """The pid of `host`'s only web worker (host B runs one), not its watcher."""
    from .test_serve import children, watchers

    master = host.proc.pid
    workers = [pid for pid in children(master) if pid not in watchers(master)]
    assert len(workers) == 1, workers
    return workers[0]


def test_a_worker_killed_in_the_middle_of_a_create_leaves_one_transaction(fleet):
    """The worker creating the customer's payment is killed (kill -9) while upstream is making
    it: upstream makes one transaction, the customer's next try at the same amount adopts it
    instead of making a second, and the checkout ends (the customer cancels it)."""
    a, b = fleet.hosts
    before = {tx["_id"] for tx in fleet.sandbox.transactions()}
    creates = fleet.sandbox.calls("create")
    worker = only_worker(b)
    http = requests.Session()
    html = http.get(b.url + "/", timeout=10).text
    fleet.sandbox.faults(latency_ms=3000, latency_next=1, only="create")
    failed: list[BaseException] = []

    def press_pay() -> None:
        try:
            http.post(b.url + "/", data={"csrf_token": field(html, "csrf_token"),
                                         "nonce": field(html, "nonce"), "amount": "77.70"},
                      allow_redirects=False, timeout=30)
        except requests.RequestException as exc:
            failed.append(exc)

    pressing = threading.Thread(target=press_pay)
    pressing.start()
    wait_for("the create upstream", lambda: fleet.sandbox.calls("create") == creates + 1, seconds=10)
    os.kill(worker, signal.SIGKILL)
    pressing.join(30)
    assert len(failed) == 1  # the customer's Pay got no answer
    made = lambda: [tx for tx in fleet.sandbox.transactions() if tx["_id"] not in before]  # noqa: E731
    [tx] = wait_for("upstream to finish making it", made, seconds=10)
    # The customer presses Pay again (a new form: the page was drawn again), on either host.
    tx_id = start_checkout(a.url, "77.70", http)
    assert tx_id == tx["_id"]
    assert fleet.sandbox.calls("create") == creates + 1 and len(made()) == 1
    screen = Customer.over_http(a.url, http)
    assert screen.cancel(tx_id).status_code == 303
    assert screen.result(tx_id) == "cancelled"
    assert fleet.upstream([tx_id])[tx_id]["status"] == "CANCELLED"
    row = wait_for("the row", lambda: (r := fleet.ledger.get(tx_id=tx_id)) and r.status == "cancelled" and r)
    assert (row.cancel_reason, row.started_by_kind) == ("customer", "kiosk")
    assert [r.tx_id for r in fleet.ledger.all() if r.amount == Decimal("77.70")] == [tx_id]  # one row
    # Host B's master started a new worker: it serves again.
    wait_for("host B's new worker", lambda: answers(b), seconds=60)


class Screen(threading.Thread):
    """A customer's waiting screen: polls its status every half second through `host` until it is
    sent to the result, noting every answer (code, outcome, whether it said reconnecting)."""

    def __init__(self, host: Gunicorn, http: requests.Session, tx_id: str) -> None:
        super().__init__(daemon=True)
        self.screen = Customer.over_http(host.url, http)
        self.tx_id = tx_id
        self.answers: list[tuple[int, str, bool]] = []
        self.result: str | None = None
        self.start()

    def run(self) -> None:
        deadline = time.monotonic() + TIMEOUT + 40
        while time.monotonic() < deadline:
            try:
                response = self.screen.status(self.tx_id)
            except requests.RequestException as exc:
                self.answers.append((0, repr(exc), False))
            else:
                text = response.text
                outcome = text.split('data-outcome="', 1)[-1].split('"', 1)[0]
                self.answers.append((response.status_code, outcome, 'data-testid="reconnecting"' in text))
                if response.headers.get("HX-Redirect"):
                    self.result = self.screen.result(self.tx_id)
                    return
            time.sleep(0.5)


def waiting_entries(fleet) -> int:
    """The ledger's entries kept in the fleet's Redis while the database was away."""
    from kiosk.checkout import RedisStore

    return RedisStore(redis.Redis.from_url(fleet.redis_url)).size("ledger")


def not_ready(host: Gunicorn) -> str | None:
    """Why /readyz of `host` says it is not ready (None: it is ready)."""
    answer = requests.get(host.url + "/readyz", timeout=10)
    return None if answer.ok else answer.json()["reason"]


def test_the_database_down_while_customers_wait_loses_no_sale(fleet):
    """PostgreSQL stops while six customers wait (and a seventh starts): payments go on, every
    screen keeps polling and says it is reconnecting while its checkout is open, none fails; a
    payment upstream shows is given to its customer at once (never saying it), unwritten; nothing
    is decided or cancelled while the ledger is away, even past the deadline; after the database
    is back, each checkout goes on from where upstream is and every sale is in the ledger in its
    final state."""
    sessions = [requests.Session() for _ in range(7)]
    ids = [start_checkout(fleet.hosts[n % 2].url, f"{300 + n}.10", sessions[n]) for n in range(6)]
    assert wait_for("six rows", lambda: len(fleet.rows(ids)) == 6)
    screens = [Screen(fleet.hosts[(n + 1) % 2], sessions[n], ids[n]) for n in range(6)]
    fleet.postgres.halt()
    try:
        down = time.monotonic()
        ids.append(start_checkout(fleet.hosts[0].url, "306.10", sessions[6]))  # a payment starts
        screens.append(Screen(fleet.hosts[1], sessions[6], ids[6]))
        for n in (0, 1, 6):
            fleet.sandbox.pay(ids[n], share="full")
        for n in (2, 3):
            fleet.sandbox.pay(ids[n], share="half")
        for host in fleet.hosts:  # the probes say why (each process asks at most every 5 s)
            reason = wait_for("readyz to fail", lambda h=host: not_ready(h), seconds=15)
            assert reason == "ledger: not reachable"
        for n in (0, 1, 6):  # paid: their customers see it while the ledger is away
            screens[n].join(TIMEOUT + 45)
            assert screens[n].result == "paid"
        # Past every deadline, the others still wait, reconnecting: nothing cancelled meanwhile.
        wait_for("the deadlines to pass", lambda: time.monotonic() - down > TIMEOUT + 2, seconds=TIMEOUT + 10)
        assert all(screens[n].is_alive() for n in (2, 3, 4, 5))
        assert all(screens[n].answers[-1][2] for n in (2, 3, 4, 5))
        assert {tx["status"] for tx in fleet.upstream(ids[2:6]).values()} <= {"PENDING", "TRANSFERRED"}
        outage = time.monotonic() - down
    finally:
        fleet.postgres.start()
    for screen in screens:
        screen.join(TIMEOUT + 45)
    assert all(not screen.is_alive() for screen in screens)
    results = [screen.result for screen in screens]
    assert results == ["paid", "paid", "partial", "partial", "expired", "expired", "paid"]
    answers = [answer for screen in screens for answer in screen.answers]
    assert {code for code, _, _ in answers} == {200}  # every poll answered, none failed
    assert any(reconnecting for _, _, reconnecting in answers)
    final = {"paid", "cancelled", "expired", "partial", "see_cashier"}
    assert not [a for a in answers if a[1] in final and a[2]]  # a result never says reconnecting

    expected = ["paid", "paid", "partial", "partial", "expired", "expired", "paid"]

    def caught_up() -> dict:
        rows = fleet.rows(ids)
        return rows if [rows[i].status if i in rows else None for i in ids] == expected else {}

    back = time.monotonic()
    rows = wait_for("every sale in the ledger", caught_up, seconds=30)
    assert time.monotonic() - back < 15, "the ledger caught up long after the database came back"
    wait_for("no entry left waiting", lambda: waiting_entries(fleet) == 0, seconds=15)
    for host in fleet.hosts:
        wait_for("ready again", lambda h=host: not_ready(h) is None, seconds=15)
    upstream = fleet.upstream(ids)
    for n, tx_id in enumerate(ids):
        row = rows[tx_id]
        assert row.amount == Decimal(f"{300 + n}.10") and row.closed_at is not None
        assert row.received == Decimal(upstream[tx_id]["totalTransferAmount"]), n
        assert row.coin_amount == Decimal(upstream[tx_id]["coinAmount"]), n  # what upstream quoted
    assert outage < TIMEOUT + 30
    # The screens of later customers say nothing of reconnecting once the ledger caught up.
    later = requests.Session()
    tx_id = start_checkout(fleet.hosts[1].url, "99.90", later)
    assert wait_for("no reconnecting", lambda: Customer.over_http(fleet.hosts[0].url, later).poll(tx_id)
                    == ("waiting", None), seconds=15)


def test_an_upgrade_from_the_store_keeps_its_open_checkouts(fleet, tmp_path):
    """An install from before the ledger, its checkouts open in the fleet's Redis; two hosts of
    this version start at once on a new PostgreSQL database: one upgrade, the open checkouts
    imported once, and the watchers take them to their end (paid, partial, expired)."""
    import re
    from concurrent.futures import ThreadPoolExecutor

    from kiosk.checkout import RedisStore
    from kiosk.ledger import migrate

    from .. import old_store

    redis_url = fleet.redis_url.rsplit("/", 1)[0] + "/1"  # a fleet of its own on the same Redis
    before = RedisStore(redis.Redis.from_url(redis_url))  # written as the kiosk before the ledger wrote it
    ids = [old_store.checkout(before, fleet.sandbox, f"4{n}.50", f"kiosk:k{n}", at=time.time(),
                              timeout=TIMEOUT + 5) for n in range(3)]
    url = fleet.postgres.database()
    for name in ("c", "d"):
        (tmp_path / name).mkdir(mode=0o700)
    settings = {**FLEET, "REDIS_URL": redis_url, "DATABASE_URL": url.replace("+psycopg", "")}
    with ThreadPoolExecutor(2) as pool:
        hosts = list(pool.map(lambda name: Gunicorn(fleet.sandbox.url, tmp_path / name, free_port(),
                                                    **settings), ("c", "d")))
    try:
        fleet.sandbox.pay(ids[0], share="full")
        fleet.sandbox.pay(ids[1], share="half")
        ledger = Ledger(make_engine(url))
        expected = ["paid", "partial", "expired"]

        def ended() -> dict:
            rows = {row.tx_id: row for row in ledger.all()}
            return rows if [rows[i].status if i in rows else None for i in ids] == expected else {}

        rows = wait_for("the imported checkouts to end", ended, seconds=TIMEOUT + 90)
    finally:
        logs = [host.stop() for host in hosts]
    assert len(ledger.all()) == 3  # imported once, though two hosts upgraded at once
    with ledger.engine.connect() as conn:
        assert migrate.current(conn) == migrate.head()
    imports = [m for log in logs for m in re.findall(r"upgraded from nothing to \S+; (\d+) checkouts", log)]
    assert imports == ["3"]
    upstream = fleet.upstream(ids)
    for n, tx_id in enumerate(ids):
        row = rows[tx_id]
        assert (row.amount, row.started_by_kind, row.started_by) == (Decimal(f"4{n}.50"), "kiosk", f"k{n}")
        assert row.received == Decimal(upstream[tx_id]["totalTransferAmount"])
        assert row.coin_amount == Decimal(upstream[tx_id]["coinAmount"])  # filled in by the next event
    assert [upstream[i]["status"] for i in ids[1:]] == ["CANCELLED", "CANCELLED"]
    for log in logs:
        assert "Traceback" not in log
