"""Webhooks of the till API for real: `kiosk serve` posts every status change to a local
receiver, signed by the Standard Webhooks spec, in order, and again until a receiver that was
down takes them."""

from __future__ import annotations

import json

import pytest

from ..api_support import DisplayBrowser, kiosk_with_webhooks


@pytest.fixture(scope="module")
def server(sandbox_server, tmp_path_factory, receiver):
    kiosk = kiosk_with_webhooks(sandbox_server.url, tmp_path_factory.mktemp("hooks"), receiver, "hooks",
                                POLL_INTERVAL="1")
    yield kiosk
    kiosk.stop()


def test_every_status_change_arrives_signed_and_in_order(server, till, receiver, sandbox):
    display = DisplayBrowser(server.url)
    till.pair(display)
    made = till.create(display.id, "60.00").json()
    tx_id = display.tx_id()
    sandbox.pay(tx_id)
    assert display.poll_until(tx_id, "paid")  # the display's own poll sees it
    assert receiver.wait_for(made["id"], "paid") == ["pending", "waiting", "paid"]
    # The paid event carries what was received; each event has its own id; times never go back.
    events = [e for e in receiver.events if e["data"]["id"] == made["id"]]
    assert {e["type"] for e in events} == {"checkout.updated"}
    assert events[-1]["data"]["received"] == events[-1]["data"]["coin_amount"]
    assert events[-1]["data"]["transaction_id"] == tx_id
    times = [e["data"]["updated_at"] for e in events]
    assert times == sorted(times)
    assert len(set(receiver.ids)) == len(receiver.ids)
    assert till.get(f"/checkouts/{made['id']}").json()["status"] == "paid"


def test_a_forged_signature_is_refused_by_the_receiver(receiver):
    import requests

    body = json.dumps({"type": "checkout.updated", "data": {}})
    headers = {"webhook-id": "msg_x", "webhook-timestamp": "1700000000", "webhook-signature": "v1,AAAA"}
    assert requests.post(receiver.url, data=body, headers=headers, timeout=5).status_code == 500


def test_a_receiver_down_for_a_while_gets_every_event_when_back(server, till, receiver, sandbox):
    display = DisplayBrowser(server.url)
    till.pair(display)
    receiver.down()
    try:
        made = till.create(display.id, "70.00").json()
        display.tx_id()
        assert till.post(f"/checkouts/{made['id']}/cancel").json()["status"] == "cancelled"
    finally:
        receiver.up()
    assert receiver.wait_for(made["id"], "cancelled") == ["pending", "waiting", "cancelled"]
    reasons = [e["data"]["cancel_reason"] for e in receiver.events if e["data"]["id"] == made["id"]]
    assert reasons[-1] == "till"
