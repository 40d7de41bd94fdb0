"""Faults, for real: the kiosk and the sandbox over HTTP, faults injected with the sandbox's
controls or by stopping and starting processes. Each scenario checks what the screen says, how
many transactions and DELETEs reached upstream, and that nothing crashed."""

from __future__ import annotations

import threading
import time

import pytest
import requests
import time_machine

from kiosk.sandbox import create_sandbox_app

from ..support import Customer, LiveServer, Sandbox, field


@pytest.mark.parametrize(
    "fault",
    [
        {"fail_next": 100},
        {"fail_next": 100, "fail_status": 502, "fail_body": "html"},
        {"fail_next": 100, "fail_body": "garbage"},
        {"fail_next": 100, "fail_status": 503, "only": "detail"},
    ],
    ids=["5xx-burst", "html-502", "not-json", "503-detail"],
)
def test_upstream_error_bursts(kiosk, sandbox, crashes, fault):
    screen = Customer.over_http(kiosk().url)
    tx_id = screen.start()
    sandbox.faults(**fault)
    seen = {screen.poll(tx_id)[0] for _ in range(4)}
    assert seen == {"waiting+reconnecting"}
    sandbox.clear_faults()
    assert screen.poll(tx_id) == ("waiting", None)
    sandbox.pay(tx_id, share="full")
    assert screen.poll(tx_id)[1] == f"/result/{tx_id}" and screen.result(tx_id) == "paid"
    assert len(sandbox.transactions()) == 1 and sandbox.calls("cancel") == 0
    assert crashes() == []


def test_answers_slower_than_the_read_timeout(kiosk, sandbox, crashes):
    screen = Customer.over_http(kiosk().url)
    tx_id = screen.start()
    sandbox.faults(latency_ms=5600)
    started = time.monotonic()
    assert screen.poll(tx_id)[0] == "waiting+reconnecting"
    assert time.monotonic() - started < 8  # inside htmx's 8 s request timeout
    sandbox.clear_faults()
    sandbox.pay(tx_id, share="half")
    assert screen.poll(tx_id)[0] == "partly_paid"
    assert crashes() == []


def test_sandbox_stopped_then_started_again_with_its_state(make_app, crashes):
    app = create_sandbox_app()
    upstream = Sandbox(app)
    port = upstream.port
    kiosk = LiveServer(make_app(COINS="TRX:TRX", API_URL=upstream.url))
    try:
        screen = Customer.over_http(kiosk.url)
        tx_id = screen.start()
        upstream.stop()  # connection refused
        assert screen.poll(tx_id)[0] == "waiting+reconnecting"
        assert screen.cancel(tx_id).status_code == 200  # cannot cancel now: still waiting, says so
        upstream = Sandbox(app, port=port)
        upstream.pay(tx_id, share="full")
        assert screen.poll(tx_id)[1] == f"/result/{tx_id}" and screen.result(tx_id) == "paid"
        assert len(upstream.transactions()) == 1 and upstream.calls("cancel") == 0
    finally:
        kiosk.stop()
        upstream.stop()
    assert crashes() == []


def test_revoked_token_is_invisible_to_the_customer(kiosk, sandbox, crashes):
    screen = Customer.over_http(kiosk().url)
    tx_id = screen.start()
    sandbox.faults(revoke_tokens=True)
    assert screen.poll(tx_id) == ("waiting", None)
    assert sandbox.calls("auth") == 2
    assert crashes() == []


def test_unknown_status_keeps_waiting_until_complete(kiosk, sandbox, crashes):
    screen = Customer.over_http(kiosk().url)
    tx_id = screen.start()
    sandbox.state.transactions[tx_id]["status"] = "SETTLING_V2"
    assert screen.poll(tx_id) == ("waiting", None)
    sandbox.state.transactions[tx_id]["isTransferComplete"] = True
    assert screen.poll(tx_id)[1] == f"/result/{tx_id}" and screen.result(tx_id) == "paid"
    assert crashes() == []


def test_transaction_vanishing_while_waiting(kiosk, sandbox, crashes):
    """Lost only after repeated "not found" answers over a minute: one 404 may be upstream's
    passing fault, and the screen keeps waiting meanwhile."""
    screen = Customer.over_http(kiosk().url)
    tx_id = screen.start()
    requests.post(f"{sandbox.url}/sandbox/transactions/{tx_id}/vanish", timeout=5)
    start = time.time()
    for moment in (0, 1, 59):  # three answers, all inside the minute
        with time_machine.travel(start + moment, tick=False):
            assert screen.poll(tx_id) == ("waiting+reconnecting", None)
    with time_machine.travel(start + 60, tick=False):
        assert screen.poll(tx_id)[1] == f"/result/{tx_id}"
    html = screen.get(f"/result/{tx_id}").text
    assert 'data-testid="result-attention"' in html and "Lütfen kasaya başvurun" in html
    assert 'data-testid="reference">' in html
    assert crashes() == []


def test_two_not_found_answers_over_a_minute_are_not_enough(kiosk, sandbox, crashes):
    screen = Customer.over_http(kiosk().url)
    tx_id = screen.start()
    requests.post(f"{sandbox.url}/sandbox/transactions/{tx_id}/vanish", timeout=5)
    start = time.time()
    for moment in (0, 61):
        with time_machine.travel(start + moment, tick=False):
            assert screen.poll(tx_id) == ("waiting+reconnecting", None)
    with time_machine.travel(start + 62, tick=False):
        assert screen.poll(tx_id)[1] == f"/result/{tx_id}"
    assert crashes() == []


def test_one_not_found_while_waiting_then_paid(kiosk, sandbox, crashes):
    screen = Customer.over_http(kiosk().url)
    tx_id = screen.start()
    sandbox.faults(fail_next=1, fail_status=404, only="detail")
    assert screen.poll(tx_id) == ("waiting+reconnecting", None)
    sandbox.pay(tx_id, share="full")
    assert screen.poll(tx_id)[1] == f"/result/{tx_id}" and screen.result(tx_id) == "paid"
    assert crashes() == []


def test_not_found_page_in_html_is_upstream_unavailable(kiosk, sandbox, crashes):
    screen = Customer.over_http(kiosk().url)
    tx_id = screen.start()
    start = time.time()
    sandbox.faults(fail_next=100, fail_status=404, fail_body="html", only="detail")
    for moment in (0, 30, 61, 90):
        with time_machine.travel(start + moment, tick=False):
            assert screen.poll(tx_id) == ("waiting+reconnecting", None)
    sandbox.clear_faults()
    assert screen.poll(tx_id) == ("waiting", None)
    assert crashes() == []


def test_kiosk_restart_while_waiting(make_app, sandbox, crashes):
    first = LiveServer(make_app(COINS="TRX:TRX"))
    screen = Customer.over_http(first.url)
    tx_id = screen.start()
    port = first.port
    first.stop()
    second = LiveServer(make_app(COINS="TRX:TRX"), port=port)
    try:
        assert screen.get("/").headers["Location"] == f"/pay/{tx_id}"  # the same session resumes
        sandbox.pay(tx_id, share="full")
        assert screen.poll(tx_id)[1] == f"/result/{tx_id}"
    finally:
        second.stop()
    assert len(sandbox.transactions()) == 1 and crashes() == []


def test_two_tabs_on_one_checkout_end_alike(kiosk, sandbox, crashes):
    server = kiosk()
    one = Customer.over_http(server.url)
    tx_id = one.start()
    two = Customer.over_http(server.url, one.web.http)  # same browser, same cookie
    sandbox.pay(tx_id, share="half")
    assert one.poll(tx_id)[0] == two.poll(tx_id)[0] == "partly_paid"
    one.cancel(tx_id)
    assert two.poll(tx_id)[1] == f"/result/{tx_id}"
    assert one.result(tx_id) == two.result(tx_id) == "partial"
    assert sandbox.calls("cancel") == 1 and crashes() == []


def test_payment_completes_between_the_last_poll_and_the_delete(kiosk, sandbox, crashes):
    screen = Customer.over_http(kiosk().url)
    tx_id = screen.start()
    assert screen.poll(tx_id) == ("waiting", None)
    token = screen.token(f"/pay/{tx_id}")  # the screen as the customer sees it, before the tap
    sandbox.pay(tx_id, share="full")
    response = screen.cancel(tx_id, token)
    assert response.headers["Location"] == f"/result/{tx_id}" and screen.result(tx_id) == "paid"
    assert crashes() == []


def test_delete_failing_at_the_deadline_is_retried(kiosk, sandbox, crashes):
    server = kiosk()
    screen = Customer.over_http(server.url)
    tx_id = screen.start()
    server.app.extensions["kiosk"].checkout.clock = lambda: time.time() + 601
    sandbox.faults(fail_next=3, only="cancel")
    for _ in range(3):
        outcome, redirect = screen.poll(tx_id)
        assert redirect is None and outcome == "waiting+reconnecting"  # never "expired" unconfirmed
    assert screen.poll(tx_id)[1] == f"/result/{tx_id}" and screen.result(tx_id) == "expired"
    assert sandbox.calls("cancel") == 4 and crashes() == []


def test_partial_payment_then_deadline(kiosk, sandbox, crashes):
    server = kiosk()
    screen = Customer.over_http(server.url)
    tx_id = screen.start()
    sandbox.pay(tx_id, share="half")
    assert screen.poll(tx_id)[0] == "partly_paid"
    server.app.extensions["kiosk"].checkout.clock = lambda: time.time() + 601
    assert screen.poll(tx_id)[1] == f"/result/{tx_id}" and screen.result(tx_id) == "partial"
    assert sandbox.calls("cancel") == 1 and crashes() == []


def test_cancel_pressed_during_an_outage(kiosk, sandbox, crashes):
    screen = Customer.over_http(kiosk().url)
    tx_id = screen.start()
    sandbox.faults(fail_next=100)
    response = screen.cancel(tx_id)
    assert response.status_code == 200 and "şu anda iptal edilemedi" in response.text
    assert sandbox.transactions()[0]["status"] == "PENDING"
    sandbox.clear_faults()
    assert screen.cancel(tx_id).headers["Location"] == f"/result/{tx_id}"
    assert screen.result(tx_id) == "cancelled" and crashes() == []


def test_double_submit_at_the_same_moment_creates_one(kiosk, sandbox, crashes):
    server = kiosk()
    screen = Customer.over_http(server.url)
    html = screen.get("/").text
    form = {"csrf_token": field(html, "csrf_token"), "nonce": field(html, "nonce"), "amount": "300"}
    sandbox.faults(latency_ms=300)  # both requests are in flight together
    answers: list[str] = []

    def submit() -> None:
        answers.append(screen.post("/", form).headers.get("Location", ""))

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sandbox.clear_faults()
    assert len(set(answers)) == 1 and answers[0].startswith("/pay/")
    assert sandbox.calls("create") == 1 and crashes() == []
    # Whichever request's session was saved last, the payment is this browser's own.
    assert screen.get(answers[0]).status_code == 200


def test_create_without_an_answer_is_adopted_not_made_twice(kiosk, sandbox, crashes):
    """Upstream makes the transaction but answers after the kiosk's read timeout: the kiosk says
    it could not start, and the customer's next try adopts that transaction."""
    screen = Customer.over_http(kiosk().url)
    html = screen.get("/").text
    sandbox.faults(latency_ms=5800, only="create")
    response = screen.post("/", {"csrf_token": field(html, "csrf_token"), "nonce": field(html, "nonce"),
                                 "amount": "300"})
    assert response.status_code == 503 and "yanıt vermiyor" in response.text
    sandbox.clear_faults()
    deadline = time.monotonic() + 10
    while not sandbox.transactions() and time.monotonic() < deadline:  # upstream finishes it
        time.sleep(0.05)
    assert len(sandbox.transactions()) == 1
    tx_id = screen.start("300")  # the customer tries again
    assert tx_id == sandbox.transactions()[0]["_id"]
    assert sandbox.calls("create") == 1 and len(sandbox.transactions()) == 1
    assert crashes() == []
