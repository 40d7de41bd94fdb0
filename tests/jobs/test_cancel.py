"""Cancel and deadline never get stuck: a DELETE that upstream refuses or that fails leaves no
marker behind, the kiosk reads the transaction and tries again later with back-off, and any
error in the cancel path gives the calm reconnecting state. Real HTTP to the sandbox; time is
moved with time-machine (the kiosk and the sandbox run in this process)."""

from __future__ import annotations

import sqlite3
import time

import pytest
import time_machine

from ..support import Customer

REFUSALS = {
    "400": {"fail_status": 400},
    "403": {"fail_status": 403},
    "429": {"fail_status": 429},
    "status-false": {"fail_status": 200},  # HTTP 200 with {"status": false}
}


@pytest.fixture
def screen(kiosk):
    return Customer.over_http(kiosk().url)


@pytest.mark.parametrize("refusal", REFUSALS.values(), ids=REFUSALS.keys())
def test_refused_delete_at_the_deadline_is_tried_again_with_back_off(screen, sandbox, crashes, refusal):
    tx_id = screen.start()
    start = time.time()
    sandbox.faults(fail_next=1, only="cancel", **refusal)
    with time_machine.travel(start + 601, tick=False):
        # Refused: never "expired" before upstream confirms; the screen keeps waiting.
        assert screen.poll(tx_id) == ("waiting", None)
        assert sandbox.calls("cancel") == 1
        assert screen.poll(tx_id) == ("waiting", None)  # backing off: no second DELETE yet
        assert sandbox.calls("cancel") == 1
    with time_machine.travel(start + 601 + 1.9, tick=False):
        assert screen.poll(tx_id) == ("waiting", None)  # just inside the first wait (2 s)
        assert sandbox.calls("cancel") == 1
    with time_machine.travel(start + 601 + 2.1, tick=False):
        assert screen.poll(tx_id)[1] == f"/result/{tx_id}"
        assert screen.result(tx_id) == "expired"
    assert sandbox.calls("cancel") == 2 and sandbox.transactions()[0]["status"] == "CANCELLED"
    assert crashes() == []


def test_refusals_wait_longer_each_time(screen, sandbox, crashes):
    tx_id = screen.start()
    start = time.time() + 601
    sandbox.faults(fail_next=2, fail_status=400, only="cancel")
    with time_machine.travel(start, tick=False):
        screen.poll(tx_id)
    with time_machine.travel(start + 2.1, tick=False):
        assert screen.poll(tx_id) == ("waiting", None)  # second refusal: now 4 s
        assert sandbox.calls("cancel") == 2
    with time_machine.travel(start + 2.1 + 3.9, tick=False):
        screen.poll(tx_id)
        assert sandbox.calls("cancel") == 2
    with time_machine.travel(start + 2.1 + 4.1, tick=False):
        assert screen.poll(tx_id)[1] == f"/result/{tx_id}"
    assert sandbox.calls("cancel") == 3 and crashes() == []


def test_customer_cancel_refused_then_tapped_again(screen, sandbox, crashes):
    tx_id = screen.start()
    sandbox.faults(fail_next=1, fail_status=400, only="cancel")
    token = screen.token(f"/pay/{tx_id}")
    refused = screen.cancel(tx_id, token)
    assert refused.status_code == 200 and 'data-testid="error"' in refused.text
    assert 'data-outcome="waiting"' in refused.text
    with time_machine.travel(time.time() + 2.1, tick=False):
        again = screen.cancel(tx_id, token)
    assert again.headers["Location"] == f"/result/{tx_id}" and screen.result(tx_id) == "cancelled"
    assert sandbox.calls("cancel") == 2 and crashes() == []


def test_login_refused_while_cancelling_is_calm(screen, sandbox):
    tx_id = screen.start()
    token = screen.token(f"/pay/{tx_id}")
    sandbox.faults(fail_next=2, fail_status=401, only="cancel")  # the DELETE and its retry
    response = screen.cancel(tx_id, token)
    assert response.status_code == 200 and 'data-testid="reconnecting"' in response.text
    assert sandbox.transactions()[0]["status"] == "PENDING"
    assert screen.cancel(tx_id, token).headers["Location"] == f"/result/{tx_id}"
    assert screen.result(tx_id) == "cancelled"


def test_login_refused_at_the_deadline_keeps_waiting(screen, sandbox):
    tx_id = screen.start()
    sandbox.faults(fail_next=2, fail_status=401, only="cancel")
    with time_machine.travel(time.time() + 601, tick=False):
        assert screen.poll(tx_id) == ("waiting+reconnecting", None)
        assert screen.poll(tx_id)[1] == f"/result/{tx_id}"
    assert sandbox.calls("cancel") == 3


def test_store_failing_while_cancelling_is_calm(screen, sandbox, tmp_path):
    tx_id = screen.start()
    token = screen.token(f"/pay/{tx_id}")
    # Another process holds the store's write lock longer than the kiosk waits for it.
    blocker = sqlite3.connect(tmp_path / "state" / "kiosk.sqlite3", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        response = screen.cancel(tx_id, token)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert response.status_code == 200 and 'data-testid="reconnecting"' in response.text
    assert sandbox.calls("cancel") == 0
    assert screen.cancel(tx_id, token).headers["Location"] == f"/result/{tx_id}"
    assert sandbox.calls("cancel") == 1


@pytest.mark.parametrize("ending", ["paid", "cancelled", "expired"])
def test_a_cancel_from_a_stale_tab_after_the_result_sends_no_delete(screen, sandbox, crashes, ending):
    """A second tab still shows the pay screen once the payment has its result: its Cancel sends
    nothing upstream (a DELETE on a completed payment is a risk, never a help) and shows the
    result."""
    tx_id = screen.start()
    token = screen.token(f"/pay/{tx_id}")
    if ending == "paid":
        sandbox.pay(tx_id, share="full")
    elif ending == "cancelled":
        screen.cancel(tx_id, token)
    else:
        with time_machine.travel(time.time() + 601, tick=False):
            screen.poll(tx_id)
    assert screen.result(tx_id) == ending
    deletes = sandbox.calls("cancel")
    answer = screen.cancel(tx_id, token)
    assert answer.headers["Location"] == f"/result/{tx_id}" and screen.result(tx_id) == ending
    assert sandbox.calls("cancel") == deletes
    assert crashes() == []
