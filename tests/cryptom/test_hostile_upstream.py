"""Upstream that lies or sends what the document does not promise: the kiosk and the sandbox over
real HTTP, the sandbox's answers bent in its own state. A lie never becomes a payment screen, and
a malformed field never crashes a screen or a job."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ..support import Customer, field


@pytest.mark.parametrize(
    "bend",
    [
        {"currencyAmount": "30.00"},
        {"currency": "USD"},
        {"coin": "USDT"},
        {"network": "ETH"},
    ],
    ids=["amount", "currency", "coin", "network"],
)
def test_a_created_transaction_unlike_the_request_is_cancelled_not_shown(kiosk, sandbox, crashes,
                                                                        monkeypatch, bend):
    """Upstream answers the create for 300 TRY with another sale: the customer would pay for a
    different amount. The kiosk cancels it upstream and shows no pay screen."""
    made = sandbox.state.create

    def lying(*args, **kwargs):
        tx = made(*args, **kwargs)
        sandbox.state.transactions[tx["_id"]].update(bend)
        return {**tx, **bend}

    monkeypatch.setattr(sandbox.state, "create", lying)
    screen = Customer.over_http(kiosk().url)
    html = screen.get("/").text
    answer = screen.post("/", {"csrf_token": field(html, "csrf_token"), "nonce": field(html, "nonce"),
                               "amount": "300"})
    assert answer.status_code == 503 and "/pay/" not in answer.headers.get("Location", "")
    [tx] = sandbox.transactions()
    assert tx["status"] == "CANCELLED" and sandbox.calls("cancel") == 1
    monkeypatch.setattr(sandbox.state, "create", made)
    tx_id = screen.start("300")  # the next try, answered truthfully, goes ahead
    assert screen.poll(tx_id) == ("waiting", None)
    assert [crash for crash in crashes() if crash.levelname == "ERROR"] == []


def test_the_same_amount_in_another_notation_is_what_was_asked(kiosk, sandbox, monkeypatch):
    """300 and 300.00 are one amount: only a different value is a different sale."""
    made = sandbox.state.create

    def plain(*args, **kwargs):
        tx = made(*args, **kwargs)
        return {**tx, "currencyAmount": 300, "currency": "try"}

    monkeypatch.setattr(sandbox.state, "create", plain)
    screen = Customer.over_http(kiosk().url)
    tx_id = screen.start("300")
    assert screen.poll(tx_id) == ("waiting", None) and sandbox.calls("cancel") == 0


@pytest.mark.parametrize(
    "field_name, value",
    [
        ("createdAt", "99999999999999999"),
        ("createdAt", 10**20),
        ("updatedAt", "+275760-09-13T00:00:00Z"),
        ("statusNote", 12345),
        ("statusNote", {"note": "x"}),
        ("userMobile", 905551234567),
        ("wallet", "not an object"),
        ("sequenceID", "9" * 5000),
        ("sequenceID", "²"),
        ("wallet", {"ID": "9" * 5000, "address": "TXYZ"}),
        ("coinAmount", "1e999999"),
        ("coinAmount", "-5"),
        ("conversionRate", "0"),
    ],
)
def test_a_malformed_field_keeps_the_screen_and_the_watcher_going(make_app, watcher, sandbox, crashes,
                                                                  field_name, value):
    app = make_app(COINS="TRX:TRX")
    screen = Customer(app.test_client(), sandbox)
    tx_id = screen.start("300")
    sandbox.state.transactions[tx_id][field_name] = value
    assert screen.poll(tx_id)[0] == "waiting"
    assert screen.get(f"/pay/{tx_id}").status_code == 200
    found = app.extensions["kiosk"].checkout.reconcile()  # reads the same row in the history
    assert found.pages == 1
    sandbox.pay(tx_id, share="full")
    assert screen.poll(tx_id)[1] == f"/result/{tx_id}" and screen.result(tx_id) == "paid"
    assert crashes() == []


def test_a_transaction_without_an_id_is_upstream_unavailable(kiosk, sandbox, crashes):
    screen = Customer.over_http(kiosk().url)
    tx_id = screen.start("300")
    row = sandbox.state.transactions[tx_id]
    row["_id"] = row["id"] = ""
    assert screen.poll(tx_id) == ("waiting+reconnecting", None)
    row["_id"] = row["id"] = tx_id
    sandbox.pay(tx_id, amount=Decimal("1"))
    assert screen.poll(tx_id)[0] == "partly_paid"
    assert crashes() == []


@pytest.mark.parametrize("note", [12345, ["kiosk:abc"], {"note": "x"}])
def test_reconciliation_reads_another_tills_odd_note(make_app, sandbox, note):
    """A transaction another till made, with a statusNote that is not text, in the last day of
    the history: the hourly reconciliation still reads it and notes it once."""
    from datetime import UTC, datetime, timedelta

    app = make_app(COINS="TRX:TRX")
    other = sandbox.state.create(Decimal("50"), "TRX", "TRX", None, None)
    row = sandbox.state.transactions[other["_id"]]
    row["statusNote"] = note
    row["createdAt"] = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    found = app.extensions["kiosk"].checkout.reconcile()
    assert (found.read, found.unknown) == (1, 1)


def test_a_negative_amount_received_counts_as_nothing_received(kiosk, sandbox, crashes):
    """No payment takes money back: a negative totalTransferAmount is read as nothing received,
    never as more due than the price, and never as a partial payment."""
    server = kiosk()
    screen = Customer.over_http(server.url)
    tx_id = screen.start("300")
    row = sandbox.state.transactions[tx_id]
    row["totalTransferAmount"] = "-5"
    assert screen.poll(tx_id) == ("waiting", None)
    client = server.app.extensions["kiosk"].client
    tx = client.transaction(tx_id)
    assert tx.total_transfer_amount == 0 and tx.amount_due == Decimal(row["coinAmount"])
    row["totalTransferAmount"] = "-0.000001"  # the edge: the least below nothing
    assert client.transaction(tx_id).amount_due == Decimal(row["coinAmount"])
    assert crashes() == []
