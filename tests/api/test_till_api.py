"""The till API over real HTTP against `kiosk serve` (gunicorn, two workers) and the sandbox:
every endpoint and every error code, keys from the real `kiosk keys` command."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from kiosk import money

from ..api_support import (
    DisplayBrowser,
    Till,
    display_paired_by,
    error,
    keys_cli,
    make_key,
    store_of,
    till_of,
)
from ..conftest import free_port
from ..support import Gunicorn

DOCUMENT = json.loads((Path(__file__).parent.parent.parent / "kiosk/api/openapi.json").read_text())
CHECKOUT_FIELDS = DOCUMENT["components"]["schemas"]["Checkout"]["required"]


# -- keys -----------------------------------------------------------------------------------------


def test_no_key_a_wrong_key_and_a_revoked_key_get_401(server, sandbox):
    assert error(Till(server.url, None).get("/displays")) == (401, "unauthorized")
    assert error(Till(server.url, "kiosk_" + "A" * 43).get("/displays")) == (401, "unauthorized")
    assert error(Till(server.url, server.key[:-1]).get("/displays")) == (401, "unauthorized")
    basic = requests.get(server.url + "/api/v1/displays", auth=("till-1", server.key), timeout=5)
    assert error(basic) == (401, "unauthorized")
    key = make_key(server.state, "till-2")
    [line] = [row for row in keys_cli(server.state, "list").stdout.splitlines() if row.startswith("till-2")]
    assert line.endswith("\tnever used")
    assert Till(server.url, key).get("/displays").status_code == 200
    listed = keys_cli(server.state, "list").stdout
    assert "till-2" in listed and key not in listed and key[-4:] in listed
    [line] = [row for row in listed.splitlines() if row.startswith("till-2")]
    assert re.search(r"\tlast used \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$", line)
    assert keys_cli(server.state, "revoke", "till-2").returncode == 0
    assert error(Till(server.url, key).get("/displays")) == (401, "unauthorized")
    assert keys_cli(server.state, "revoke", "till-2").returncode == 1
    # Only the hash is stored.
    assert key not in (server.state / "kiosk.sqlite3").read_bytes().decode("latin-1")


def test_the_key_is_never_logged(server, till, display):
    till.create(display.id)
    assert server.key not in server.log_path.read_text()


def test_the_openapi_document_needs_no_key(server):
    response = requests.get(server.url + "/api/v1/openapi.json", timeout=5)
    assert response.status_code == 200 and response.json()["openapi"] == "3.1.0"


def test_unknown_routes_answer_json_404(till):
    assert error(till.get("/nothing")) == (404, "not_found")
    assert error(till.post("/displays/abc")) == (404, "not_found")


# -- displays --------------------------------------------------------------------------------------


def test_pair_list_and_unpair_a_display(server, till):
    browser = DisplayBrowser(server.url)
    response = till.post("/displays", {"pairing_code": browser.code(), "name": "Counter 9", "mode": "till"})
    assert response.status_code == 201
    made = response.json()
    assert set(made) == {"id", "name", "mode", "online", "busy", "last_seen_at"}
    assert (made["name"], made["mode"], made["online"], made["busy"]) == ("Counter 9", "till", True, False)
    assert made["last_seen_at"].endswith("Z")
    listed = {d["id"]: d for d in till.get("/displays").json()["data"]}
    assert listed[made["id"]] == made
    assert "display-idle" in browser.look().text
    assert till.delete(f"/displays/{made['id']}").status_code == 204
    assert made["id"] not in {d["id"] for d in till.get("/displays").json()["data"]}
    assert 'data-testid="pairing-code"' in browser.look().text
    assert error(till.delete(f"/displays/{made['id']}")) == (404, "not_found")


def test_pairing_errors(server, till):
    browser = DisplayBrowser(server.url)
    code = browser.code()
    assert error(till.post("/displays", {"pairing_code": "ABCDEF", "name": "X"})) == (404, "not_found")
    assert error(till.post("/displays", {"pairing_code": code})) == (400, "invalid_request")
    assert error(till.post("/displays", {"pairing_code": code, "name": 5})) == (400, "invalid_request")
    assert error(till.post("/displays", {"pairing_code": code, "name": "X", "mode": "tv"})) \
        == (400, "invalid_request")
    assert error(till.post("/displays", {"pairing_code": code, "name": "X" * 41})) == (400, "invalid_request")
    # Nothing was paired by the refusals: the code still works.
    assert till.post("/displays", {"pairing_code": code, "name": "X" * 40}).status_code == 201


# -- creating --------------------------------------------------------------------------------------


def test_create_sends_the_checkout_to_the_display(server, till, display, sandbox):
    lines = [{"name": "Çay", "quantity": 2, "unit_amount": "15.00"},
             {"name": "Simit", "quantity": 1, "unit_amount": "95.00"}]
    response = till.create(display.id, "125.00", currency="TRY", reference="till-4711", note="Table 4",
                           lines=lines)
    assert response.status_code == 201, response.text
    made = response.json()
    assert sorted(made) == sorted(CHECKOUT_FIELDS)
    assert made["status"] == "pending" and made["display_id"] == display.id
    assert (made["amount"], made["currency"], made["reference"], made["note"], made["lines"]) == \
        ("125.00", "TRY", "till-4711", "Table 4", lines)
    for name in ("coin", "network", "coin_amount", "received", "transaction_id", "sequence_id",
                 "cancel_reason"):
        assert made[name] is None
    assert made["created_at"].endswith("Z") and made["deadline_at"] > made["created_at"]
    assert sandbox.transactions() == []  # nothing upstream until the display shows it
    busy = {d["id"]: d for d in till.get("/displays").json()["data"]}[display.id]["busy"]
    assert busy is True
    tx_id = display.tx_id()
    looked = till.get(f"/checkouts/{made['id']}").json()
    assert looked["status"] == "waiting" and looked["transaction_id"] == tx_id
    assert (looked["coin"], looked["network"]) == ("TRX", "TRX")
    assert looked["received"] == "0" and float(looked["coin_amount"]) > 0
    assert isinstance(looked["sequence_id"], int)
    sandbox.pay(tx_id)
    time.sleep(1.1)  # the shared answer lives half a poll interval (1 s)
    paid = till.get(f"/checkouts/{made['id']}").json()
    assert paid["status"] == "paid" and paid["received"] == paid["coin_amount"]
    assert paid["updated_at"] >= looked["updated_at"]


def test_idempotency_key_is_required_and_at_most_64_characters(till, display):
    body = {"display_id": display.id, "amount": "20.00"}
    assert error(till.post("/checkouts", body)) == (400, "invalid_request")
    assert error(till.post("/checkouts", body, headers={"Idempotency-Key": ""})) == (400, "invalid_request")
    assert error(till.post("/checkouts", body, headers={"Idempotency-Key": "k" * 65})) == \
        (400, "invalid_request")
    assert till.post("/checkouts", body, headers={"Idempotency-Key": "k" * 64}).status_code == 201


def test_the_same_key_replays_and_another_body_conflicts(till, display):
    first = till.create(display.id, "30.00", key="sale-1")
    again = till.create(display.id, "30.00", key="sale-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert error(till.create(display.id, "31.00", key="sale-1")) == (409, "idempotency_conflict")
    assert error(till.create(display.id, "30.00", key="sale-1", reference="x")) == \
        (409, "idempotency_conflict")


@pytest.mark.parametrize(("amount", "expected"), [
    ("10.00", 201), ("9.99", 422), ("5000", 201), ("5000.01", 422), ("12.345", 422), ("12.3", 201),
    (12, 422), ("12,50", 422), ("-5", 422), ("1e3", 422), ("", 422), ("NaN", 422), (None, 400),
])
def test_amounts_at_their_edges(till, display, amount, expected):
    response = till.create(display.id, amount) if amount is not None else till.post(
        "/checkouts", {"display_id": display.id}, headers={"Idempotency-Key": "a"})
    assert response.status_code == expected, response.text
    if expected != 201:
        assert error(response)[1] == ("invalid_amount" if expected == 422 else "invalid_request")


def test_lines_must_add_up_and_be_well_formed(till, display):
    one = {"name": "Çay", "quantity": 2, "unit_amount": "15.00"}
    assert error(till.create(display.id, "31.00", lines=[one])) == (422, "invalid_amount")
    for bad in ([{"name": "", "quantity": 1, "unit_amount": "30.00"}],
                [{"name": "Çay", "quantity": 0, "unit_amount": "30.00"}],
                [{"name": "Çay", "quantity": 1.5, "unit_amount": "30.00"}],
                [{"name": "Çay", "quantity": 1, "unit_amount": 30}],
                [{"name": "Çay", "quantity": 1, "unit_amount": "30.001"}],
                "Çay", [one] * 51):
        assert error(till.create(display.id, "30.00", lines=bad)) == (400, "invalid_request"), bad
    assert till.create(display.id, "30.00", lines=[one]).status_code == 201


def test_another_currency_is_refused_and_creates_nothing(till, display, server):
    """The shop prices in TRY: a till that sends USD (or "try") is told so, with 422
    invalid_currency, and no checkout reaches the display."""
    before = till.get("/checkouts", params={"limit": 100}).json()["data"]
    for other in ("USD", "try", "XYZ"):
        answer = till.create(display.id, currency=other)
        assert error(answer) == (422, "invalid_currency"), other
        assert "TRY" in answer.json()["error"]["message"] and other in answer.json()["error"]["message"]
    assert till.get("/checkouts", params={"limit": 100}).json()["data"] == before


def test_bad_requests(till, display, server):
    assert error(till.create(display.id, reference=5)) == (400, "invalid_request")
    assert error(till.create(display.id, reference="r" * 65)) == (400, "invalid_request")
    assert error(till.create(display.id, note="n" * 121)) == (400, "invalid_request")
    assert error(till.create(123)) == (400, "invalid_request")
    headers = {"Idempotency-Key": "x", "Content-Type": "application/json"}
    for raw in (b"{", b"[1]", b'"x"', b"", b'{"amount": NaN}', b"\xff\xfe"):
        assert error(till.post("/checkouts", data=raw, headers=headers)) == (400, "invalid_request"), raw
    form = till.post("/checkouts", data={"display_id": display.id, "amount": "20"},
                     headers={"Idempotency-Key": "y"})
    assert error(form) == (400, "invalid_request")
    huge = b'{"note": "' + b"x" * 40000 + b'"}'
    assert error(till.post("/checkouts", data=huge, headers=headers)) == (400 + 13, "invalid_request")
    deep = b"[" * 100000 + b"]" * 100000
    assert error(till.post("/checkouts", data=deep[:30000], headers=headers))[1] == "invalid_request"
    assert till.get("/displays").status_code == 200  # the workers are fine


def test_unknown_display_busy_display_keypad_display_and_offline_display(till, display, server):
    assert error(till.create("0123456789ab")) == (404, "not_found")
    assert error(till.create("../../etc")) == (404, "not_found")
    assert till.create(display.id).status_code == 201
    assert error(till.create(display.id)) == (409, "display_busy")
    keypad = DisplayBrowser(server.url)
    till.pair(keypad, "Keypad", "keypad")
    assert error(till.create(keypad.id)) == (409, "display_busy")
    quiet = DisplayBrowser(server.url)
    till.pair(quiet, "Quiet")
    store = store_of(server.state)
    store.set(f"display-seen:{quiet.id}", repr(time.time() - 29))
    assert till.create(quiet.id, key="q-1").status_code == 201
    till.post(f"/checkouts/{till.create(quiet.id, key='q-1').json()['id']}/cancel")
    store.set(f"display-seen:{quiet.id}", repr(time.time() - 31))
    assert error(till.create(quiet.id)) == (409, "display_offline")


# -- reading ---------------------------------------------------------------------------------------


def test_get_unknown_and_forged_ids(till):
    for forged in ("chk_0011223344556677", "chk_x", "..%2Fdisplays", "%00", "a" * 300,
                   "CHK_0011223344556677"):
        assert error(till.get(f"/checkouts/{forged}")) == (404, "not_found"), forged
        assert error(till.post(f"/checkouts/{forged}/cancel")) == (404, "not_found"), forged


def test_list_newest_first_with_filters(till, server):
    displays = []
    for n in range(2):
        browser = DisplayBrowser(server.url)
        till.pair(browser, f"List {n}")
        displays.append(browser)
    ids = []
    for browser in displays:
        made = till.create(browser.id, "40.00").json()
        ids.append(made["id"])
    till.post(f"/checkouts/{ids[0]}/cancel")
    listed = till.get("/checkouts", params={"limit": 100}).json()["data"]
    mine = [c["id"] for c in listed if c["id"] in ids]
    assert mine == [ids[1], ids[0]]
    one = till.get("/checkouts", params={"display_id": displays[0].id}).json()["data"]
    assert [c["id"] for c in one] == [ids[0]] and one[0]["status"] == "cancelled"
    pending = till.get("/checkouts", params={"status": "pending", "limit": 100}).json()["data"]
    assert ids[1] in {c["id"] for c in pending} and ids[0] not in {c["id"] for c in pending}
    assert len(till.get("/checkouts", params={"limit": 1}).json()["data"]) == 1
    for bad in ({"limit": 0}, {"limit": 101}, {"limit": "x"}, {"status": "done"}):
        assert error(till.get("/checkouts", params=bad)) == (400, "invalid_request"), bad


# -- cancelling ------------------------------------------------------------------------------------


def test_cancel_before_the_customer_saw_it(till, display, sandbox):
    made = till.create(display.id).json()
    cancelled = till.post(f"/checkouts/{made['id']}/cancel")
    assert cancelled.status_code == 200
    assert (cancelled.json()["status"], cancelled.json()["cancel_reason"]) == ("cancelled", "till")
    assert sandbox.transactions() == []
    assert "display-idle" in display.look().text or "result" in display.look().text
    assert till.create(display.id).status_code == 201  # the display is free again


def test_cancel_while_waiting_cancels_upstream(till, display, sandbox):
    made = till.create(display.id).json()
    tx_id = display.tx_id()
    cancelled = till.post(f"/checkouts/{made['id']}/cancel").json()
    assert (cancelled["status"], cancelled["cancel_reason"]) == ("cancelled", "till")
    assert sandbox.transactions()[0]["status"] == "CANCELLED"
    assert cancelled["transaction_id"] == tx_id
    again = till.post(f"/checkouts/{made['id']}/cancel").json()
    assert again["status"] == "cancelled" and sandbox.calls("cancel") == 1


def test_cancel_after_payment_stays_paid(till, display, sandbox):
    made = till.create(display.id).json()
    sandbox.pay(display.tx_id())
    answer = till.post(f"/checkouts/{made['id']}/cancel").json()
    assert answer["status"] == "paid" and answer["cancel_reason"] is None


def test_cancel_while_upstream_is_away_is_unavailable(till, display, sandbox):
    made = till.create(display.id).json()
    display.tx_id()
    sandbox.faults(fail_next=50, only="cancel")
    assert error(till.post(f"/checkouts/{made['id']}/cancel")) == (503, "unavailable")
    sandbox.clear_faults()
    assert till.get(f"/checkouts/{made['id']}").json()["status"] == "waiting"
    assert till.post(f"/checkouts/{made['id']}/cancel").json()["status"] == "cancelled"


# -- races and limits ------------------------------------------------------------------------------


def test_two_identical_requests_at_once_on_two_workers_make_one_checkout(till, server, sandbox):
    """However the two land, one checkout and one upstream transaction."""
    for attempt in range(6):
        browser = DisplayBrowser(server.url)
        till.pair(browser, f"Race {attempt}")
        key = uuid.uuid4().hex
        start = threading.Barrier(2)
        answers: list[requests.Response] = []

        def send(browser=browser, key=key, start=start, answers=answers) -> None:
            one = Till(server.url, server.key)
            start.wait()
            answers.append(one.create(browser.id, "77.00", key=key))

        threads = [threading.Thread(target=send) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(a.status_code for a in answers) == [200, 201], [a.text for a in answers]
        assert answers[0].json()["id"] == answers[1].json()["id"]
        browser.tx_id()
        till.post(f"/checkouts/{answers[0].json()['id']}/cancel")
        pids = server.workers("/api/v1/checkouts")[-2:]
        if len(set(pids)) == 2:
            break
    else:
        pytest.fail("the two requests never landed on two workers")
    assert len(sandbox.transactions()) == attempt + 1


def test_rate_limited_per_key(sandbox_server, tmp_path):
    kiosk = Gunicorn(sandbox_server.url, tmp_path, free_port(), API_RATE_LIMIT="5/60")
    try:
        one, other = Till(kiosk.url, make_key(tmp_path, "a")), Till(kiosk.url, make_key(tmp_path, "b"))
        assert [one.get("/displays").status_code for _ in range(5)] == [200] * 5
        limited = one.get("/displays")
        assert error(limited) == (429, "rate_limited") and int(limited.headers["Retry-After"]) >= 1
        assert other.get("/displays").status_code == 200  # another key has its own count
    finally:
        kiosk.stop()


@pytest.mark.parametrize(("currency", "accepted", "refused", "upstream"), [
    ("JPY", "12500", "125.00", "12500"),  # no decimals in yen: "125.00" is refused
    ("KWD", "1.250", "1.2500", "1.25"),  # three in dinar, not four
])
def test_a_shop_in_another_currency_takes_its_digits_end_to_end(sandbox_server, sandbox, tmp_path,
                                                                 currency, accepted, refused, upstream):
    """`kiosk serve` pricing in yen or dinar: the till sends that currency with its digits, the
    display's customer pays it, and upstream is asked for it in that currency."""
    kiosk = Gunicorn(sandbox_server.url, tmp_path, free_port(), CURRENCY=currency, MIN_AMOUNT="1",
                     COINS="TRX:TRX", API_RATE_LIMIT="1000/60", POLL_INTERVAL="2")
    kiosk.state = tmp_path
    kiosk.key = make_key(tmp_path, "till-1")
    try:
        till = till_of(kiosk)
        display = display_paired_by(kiosk, till)
        answer = till.create(display.id, refused, currency=currency)
        assert error(answer) == (422, "invalid_amount")
        assert f"at most {money.digits(currency)} decimals in {currency}" in answer.json()["error"]["message"]
        assert error(till.create(display.id, accepted, currency="TRY")) == (422, "invalid_currency")
        made = till.create(display.id, accepted, currency=currency,
                           lines=[{"name": "Çay", "quantity": 2, "unit_amount": str(Decimal(accepted) / 2)}])
        assert made.status_code == 201, made.text
        assert (made.json()["amount"], made.json()["currency"]) == (accepted, currency)
        tx_id = display.tx_id()  # one coin: showing the order starts its transaction
        [tx] = [t for t in sandbox.transactions() if t["_id"] == tx_id]
        assert (tx["currency"], tx["currencyAmount"]) == (currency, upstream)
    finally:
        kiosk.stop()
