"""Creates that got no answer: found again by the kiosk's own reference in `statusNote`, never by
amount and time, adopted by the same kiosk's next try, or resolved by the watcher. The kiosks
and the sandbox talk over real HTTP; the watcher is the real consumer, in threads of this process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import unicodedata
from decimal import Decimal

import pytest
import time_machine

from kiosk.checkout.start import CREATE_GRACE, REF_MARK, with_reference
from kiosk.checkout.watch import CREATE_GIVE_UP
from kiosk.displays.orders import ORDER_START_GRACE
from kiosk.sandbox import DEFAULT_EMAIL, DEFAULT_PASSWORD
from kiosk.web.callers import COOKIE

from ..conftest import SECRET
from ..support import Customer, LiveServer, field
from ..system.test_watcher import wait_for


def submit(screen: Customer, amount: str = "300"):
    html = screen.get("/").text
    return screen.post("/", {"csrf_token": field(html, "csrf_token"), "nonce": field(html, "nonce"),
                             "amount": amount})


def shown_address(screen: Customer, tx_id: str) -> str:
    html = screen.get(f"/pay/{tx_id}").text
    block = html.split('data-testid="wallet-address">', 1)[1].split("</p>", 1)[0]
    return block.replace("<span>", "").replace("</span>", "")


def upstream(sandbox, tx_id: str) -> dict:
    return next(tx for tx in sandbox.transactions() if tx["_id"] == tx_id)


def test_slow_create_then_the_customers_retry_makes_one_transaction(kiosk, sandbox, crashes):
    screen = Customer.over_http(kiosk().url)
    sandbox.faults(latency_ms=5800, latency_next=1, only="create")
    refused = submit(screen)
    assert refused.status_code == 503 and "yanıt vermiyor" in refused.text
    wait_for("upstream to finish the create", lambda: len(sandbox.transactions()) == 1, seconds=10)
    tx_id = screen.start("300")  # the customer tries again
    made = sandbox.transactions()
    assert [tx["_id"] for tx in made] == [tx_id] and sandbox.calls("create") == 1
    assert shown_address(screen, tx_id) == made[0]["wallet"]["address"]
    assert crashes() == []


def test_two_kiosks_same_amount_same_moment_one_slow_each_gets_its_own(make_app, sandbox, crashes,
                                                                      tmp_path):
    """Kiosk A's create is slow; kiosk B (another shop on the same account) asks for the same
    amount meanwhile and is answered at once. A never adopts B's transaction."""
    a = LiveServer(make_app(COINS="TRX:TRX", STATE_DIR=str(tmp_path / "a")))
    b = LiveServer(make_app(COINS="TRX:TRX", STATE_DIR=str(tmp_path / "b")))
    try:
        first, second = Customer.over_http(a.url), Customer.over_http(b.url)
        sandbox.faults(latency_ms=5800, latency_next=1, only="create")
        answers = {}
        slow = threading.Thread(target=lambda: answers.update(a=submit(first)))
        slow.start()
        wait_for("A's create to reach upstream", lambda: sandbox.calls("create") == 1)
        b_tx = second.start("300")
        slow.join()
        assert answers["a"].status_code == 503  # not B's transaction
        wait_for("upstream to finish A's create", lambda: len(sandbox.transactions()) == 2, seconds=10)
        a_tx = first.start("300")
        assert a_tx != b_tx and len(sandbox.transactions()) == 2 and sandbox.calls("create") == 2
        assert shown_address(first, a_tx) == upstream(sandbox, a_tx)["wallet"]["address"]
        assert shown_address(second, b_tx) == upstream(sandbox, b_tx)["wallet"]["address"]
    finally:
        a.stop()
        b.stop()
    assert crashes() == []


def test_the_reference_travels_with_the_customers_note(make_app, sandbox):
    server = LiveServer(make_app(COINS="TRX:TRX", ASK_NOTE=True))
    screen = Customer.over_http(server.url)
    html = screen.get("/").text
    response = screen.post("/", {"csrf_token": field(html, "csrf_token"), "nonce": field(html, "nonce"),
                                 "amount": "300", "note": "table 4"})
    tx_id = response.headers["Location"].rsplit("/", 1)[1]
    note = upstream(sandbox, tx_id)["statusNote"]
    words = note.split()
    assert words[:2] == ["table", "4"] and len(words) == 3 and words[2].startswith("kiosk:")
    server.stop()



# -- the kiosk's reference cannot be forged ------------------------------------------------------

REF = "0123456789abcdef"


@pytest.mark.parametrize("note", [
    f"kiosk:{REF}", f"KIOSK:{REF}", f"Kiosk:{REF}", f"table 4 kiosk:{REF}", f"kiosk:{REF} table 4",
    f"x-kiosk:{REF}", f"(kiosk:{REF})", f"kiosk:{REF}kiosk:{REF}", "kiosk:",
    f"\uff4b\uff49\uff4f\uff53\uff4b\uff1a{REF}", f"kiosk\uff1a{REF}",
    f"table\tkiosk:{REF}", f"table\u00a0kiosk:{REF}",
])
def test_no_note_carries_the_kiosks_marker_upstream(note):
    words = with_reference("fedcba9876543210", note).split()
    assert words[-1] == "kiosk:fedcba9876543210"
    assert not [w for w in words[:-1] if REF_MARK in unicodedata.normalize("NFKC", w).casefold()], words


@pytest.mark.parametrize(("note", "sent"), [
    ("table 4", "table 4"), ("kiosk", "kiosk"), ("kiosk-4", "kiosk-4"), ("kiosk :4", "kiosk :4"),
    ("kiosk; 4", "kiosk; 4"), (None, None), ("", None),
])
def test_a_note_without_the_marker_goes_upstream_as_written(note, sent):
    expected = f"{sent} kiosk:fedcba9876543210" if sent else "kiosk:fedcba9876543210"
    assert with_reference("fedcba9876543210", note) == expected


def test_a_customers_note_never_makes_another_customers_retry_adopt_its_payment(make_app, sandbox, crashes):
    """Customer A's create is refused on its way (upstream made nothing) and A will try again.
    Customer B writes A's reference in the note of a payment of the same amount. A's retry looks
    for its create by the reference: it must not find B's payment and show it to A."""
    server = LiveServer(make_app(COINS="TRX:TRX", ASK_NOTE=True))
    try:
        first, second = Customer.over_http(server.url), Customer.over_http(server.url)
        sandbox.faults(fail_next=1, fail_status=503, only="create")
        assert submit(first).status_code == 503
        store = server.app.extensions["kiosk"].store
        [(_key, ref)] = store.items("unanswered:")
        html = second.get("/").text
        made = second.post("/", {"csrf_token": field(html, "csrf_token"), "nonce": field(html, "nonce"),
                                 "amount": "300", "note": f"kiosk:{ref}"})
        b_tx = made.headers["Location"].rsplit("/", 1)[1]
        a_tx = first.start("300")
        assert a_tx != b_tx and len(sandbox.transactions()) == 2
        assert REF_MARK + ref not in upstream(sandbox, b_tx)["statusNote"]
    finally:
        server.stop()
    assert crashes() == []


@pytest.fixture
def unanswered(make_app, sandbox, watcher):
    """A kiosk with its watcher, and a create that gets no answer because of `fault`: the kiosk
    app and the moment of the create."""
    servers: list[LiveServer] = []

    def create(**fault) -> tuple:
        app = make_app(COINS="TRX:TRX")
        servers.append(LiveServer(app))
        watcher(app)
        sandbox.faults(only="create", **fault)
        started = time.time()
        assert submit(Customer.over_http(servers[-1].url)).status_code == 503
        return app, started

    yield create
    for server in servers:
        server.stop()


def test_an_unanswered_create_nobody_retried_is_cancelled_by_the_watcher(unanswered, sandbox):
    app, started = unanswered(latency_ms=5800, latency_next=1)
    wait_for("upstream to finish the create", lambda: len(sandbox.transactions()) == 1, seconds=10)
    jobs = app.extensions["kiosk"].jobs
    with time_machine.travel(started + CREATE_GRACE - 1, tick=False):
        assert jobs.checkout.unanswered() == []  # not yet: the customer may still try again
    with time_machine.travel(started + CREATE_GRACE + 6, tick=True):
        assert len(jobs.checkout.unanswered()) == 1
        jobs._sweep(lag=0)
        wait_for("the watcher's DELETE", lambda: sandbox.calls("cancel") == 1, seconds=10)
    tx_id = sandbox.transactions()[0]["_id"]
    assert sandbox.transactions()[0]["status"] == "CANCELLED"
    assert app.extensions["kiosk"].checkout.record(tx_id) is not None  # known: never "unknown"


def test_an_unanswered_create_upstream_never_made_is_forgotten(unanswered, sandbox):
    app, started = unanswered(fail_next=1)  # upstream fails before making anything
    jobs = app.extensions["kiosk"].jobs
    ref = jobs.checkout.unanswered(until=started + CREATE_GRACE + 6)[0]
    for moment in (CREATE_GRACE + 6, CREATE_GIVE_UP - 5):  # not found, but not long enough
        looks = sandbox.calls("history")
        with time_machine.travel(started + moment, tick=True):
            jobs._sweep(lag=0)
            wait_for("a look upstream", lambda: sandbox.calls("history") > looks, seconds=10)
            wait_for("the next look to be planned", lambda: jobs.checkout.unanswered() == [])
        assert jobs.store.get(f"create:{ref}") is not None
    with time_machine.travel(started + CREATE_GIVE_UP + 65, tick=True):
        refs = jobs.checkout.unanswered()
        assert len(refs) == 1
        jobs._sweep(lag=0)
        wait_for("the create to be forgotten",
                 lambda: jobs.store.get(f"create:{refs[0]}") is None, seconds=10)
    assert jobs.checkout.unanswered() == [] and sandbox.calls("cancel") == 0
    assert sandbox.transactions() == []


# -- an order whose worker was killed in the middle of its create --------------------------------

BEGIN = """
import sys
from kiosk import create_app
services = create_app().extensions["kiosk"]
services.orders.begin(services.orders.get(sys.argv[1]), "TRX", "TRX")
"""


@pytest.mark.parametrize("upstream_made_it", [True, False], ids=["made", "never-made"])
def test_an_order_whose_worker_was_killed_mid_create_is_finished_by_the_watcher(
        make_app, sandbox, watcher, tmp_path, upstream_made_it):
    """The worker creating an order's transaction is killed after sending the create, before the
    answer. The order must not stay pending (and its display busy) for ever: the watcher adopts
    what upstream made for the order, or ends the order once its time is up."""
    app = make_app(COINS="TRX:TRX", CREATE_LIMIT="1000/60")
    services = app.extensions["kiosk"]
    issued = services.displays.issue("127.0.0.1")  # the browser the kiosk issued a credential to
    assert issued is not None
    credential, code = issued
    display = services.displays.pair(code.code, "Counter 1", "till")
    screen = app.test_client()  # the display's browser collects its own credential, as it does at pairing
    screen.set_cookie(COOKIE, credential)
    assert 'data-testid="pairing-code"' not in screen.get("/display").get_data(as_text=True)
    order = services.orders.send(display, Decimal("300.00"))
    sandbox.faults(latency_ms=6000, latency_next=1, only="create",
                   **({} if upstream_made_it else {"fail_next": 1, "fail_status": 503}))
    env = {**os.environ, "KIOSK_API_URL": sandbox.url, "KIOSK_API_EMAIL": DEFAULT_EMAIL,
           "KIOSK_API_PASSWORD": DEFAULT_PASSWORD, "KIOSK_SECRET_KEY": SECRET,
           "KIOSK_STATE_DIR": str(tmp_path / "state")}
    worker = subprocess.Popen([sys.executable, "-c", BEGIN, order.id], env=env)
    wait_for("the create to reach upstream",
             lambda: sandbox.calls("create") == 1 or worker.poll() is not None)
    assert worker.poll() is None, "the worker ended by itself"
    started = time.time()
    worker.send_signal(signal.SIGKILL)  # waiting for upstream's answer: it never reads it
    worker.wait(10)
    orders = services.orders
    jobs = services.jobs
    watcher(app)
    if upstream_made_it:
        wait_for("upstream to make it", lambda: len(sandbox.transactions()) == 1, seconds=15)
        with time_machine.travel(started + CREATE_GRACE + 6, tick=True):
            jobs._sweep(lag=0)
            tx_id = wait_for("the watcher to adopt it for the order", lambda: orders.tx_of(order), seconds=15)
            assert screen.get("/display").headers["Location"] == f"/pay/{tx_id}"
            assert orders.state(order, look=True).status == "waiting"
            sandbox.pay(tx_id, share="full")
            assert orders.state(order, look=True).status == "paid"
        assert sandbox.calls("cancel") == 0 and sandbox.calls("create") == 1
        assert [tx["_id"] for tx in sandbox.transactions()] == [tx_id]
    else:
        with time_machine.travel(order.deadline + ORDER_START_GRACE + 1, tick=True):
            jobs._sweep(lag=0)
            wait_for("the order to end", lambda: orders.state(order).status == "expired", seconds=15)
            assert not orders.busy(display)
            assert 'data-testid="result-expired"' in screen.get("/display").get_data(as_text=True)
        assert sandbox.transactions() == [] and sandbox.calls("create") == 1
