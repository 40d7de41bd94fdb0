"""The till API as an outsider meets it: forged keys and headers, ids of other shapes, hostile
JSON, idempotency keys at their edges, races between tills, displays and customers. Over real
HTTP against `kiosk serve` (gunicorn, two workers) and the sandbox. Whatever is refused is refused
with the API's own error, changes nothing, and leaves no traceback in the log."""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid

import pytest
import requests

from ..api_support import DisplayBrowser, Till, error, make_key


def tracebacks(server) -> int:
    return server.log_path.read_text().count("Traceback")


# -- query parameters ------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["²", "١٢", "𝟓", "9" * 10, "1e2", "-1", "+5", " 5"])
def test_a_limit_that_is_not_ascii_digits_is_a_400_never_a_5xx(server, till, limit):
    before = tracebacks(server)
    assert error(till.get("/checkouts", params={"limit": limit})) == (400, "invalid_request")
    assert tracebacks(server) == before


@pytest.mark.parametrize(("limit", "status"), [("1", 200), ("100", 200), ("101", 400), ("0", 400)])
def test_the_limit_at_its_edges(till, limit, status):
    assert till.get("/checkouts", params={"limit": limit}).status_code == status


# -- the routes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1", "/api/v1/"])
def test_the_api_root_answers_as_the_api_does(server, path):
    with_key = requests.get(server.url + path, headers={"Authorization": f"Bearer {server.key}"}, timeout=5)
    assert error(with_key) == (404, "not_found")
    assert error(requests.get(server.url + path, timeout=5)) == (401, "unauthorized")


# -- bodies ----------------------------------------------------------------------------------------


def line(**fields):
    return [{"name": "Çay", "quantity": 1, "unit_amount": "30.00", **fields}]


@pytest.mark.parametrize("lines", [
    line(unit_amount="٣٠.٠٠"),  # Arabic-Indic digits: Decimal reads them, the contract does not
    line(unit_amount="3_0.00"),
    line(unit_amount="3.0E+1"),
    line(unit_amount=" 30.00"),
    line(unit_amount="30.00\n"),
    line(unit_amount="+30.00"),
    line(unit_amount="30."),
    [{"name": "Çay", "quantity": 1, "unit_amount": "-0.00"}, *line()],
    line(name=5),
    line(name=["Çay"]),
    line(name={"Çay": 1}),
    line(name=True),
], ids=["arabic-indic", "underscore", "exponent", "space", "newline", "plus", "dot", "minus-zero",
        "name-number", "name-list", "name-object", "name-true"])
def test_a_line_is_written_as_the_contract_says_or_refused(till, display, sandbox, lines):
    assert error(till.create(display.id, "30.00", lines=lines)) == (400, "invalid_request")
    assert till.get("/checkouts", params={"display_id": display.id}).json()["data"] == []


@pytest.mark.parametrize("unit", ["30", "30.0", "30.00", "30.000"])
def test_unit_amounts_the_contract_allows(till, display, unit):
    made = till.create(display.id, "30.00", lines=line(unit_amount=unit))
    assert made.status_code == 201, made.text
    assert made.json()["lines"][0]["unit_amount"] == "30.00"


# -- a customer's keypad checkout is out of a till's reach -----------------------------------------


def test_a_keypad_checkout_of_a_display_is_unknown_to_the_till(server, till, sandbox):
    from ..support import Customer

    keypad = DisplayBrowser(server.url)
    till.pair(keypad, "Keypad", "keypad")
    tx_id = Customer.over_http(server.url, keypad.http).start("300")
    for forged in (tx_id, f"chk_{tx_id[:16]}", f"chk_{tx_id[-16:]}", tx_id.upper()):
        assert error(till.get(f"/checkouts/{forged}")) == (404, "not_found"), forged
        assert error(till.post(f"/checkouts/{forged}/cancel")) == (404, "not_found"), forged
    listed = till.get("/checkouts", params={"limit": 100}).json()["data"]
    assert tx_id not in {c["transaction_id"] for c in listed}
    assert sandbox.calls("cancel") == 0 and sandbox.transactions()[0]["status"] == "PENDING"
    assert 'data-outcome="waiting"' in keypad.poll(tx_id).text  # the customer pays on


# -- keys and the Authorization header -------------------------------------------------------------


def test_only_a_bearer_key_of_the_shop_opens_the_api(server, sandbox):
    key = server.key
    refused = [
        "", "Bearer", "Bearer ", key, f"Basic {key}", f"Token {key}", f"Bearer\t{key}",
        f"Bearer {key}x", f"Bearer {key[:-1]}", f"Bearer {key.upper()}", f"Bearer {key},{key}",
        f"Bearer {key} {key}", f"Bearer kiosk_{'A' * 43}", f"Bearer {key[6:]}", "Bearer " + "k" * 8000,
        f"Bearer {key[:-1]}\u00e9",
    ]
    for header in refused:
        status, headers, text = raw_get(server, "/api/v1/displays", header.encode("utf-8"))
        assert (status, json.loads(text)["error"]["code"]) == (401, "unauthorized"), header[:40]
        assert headers["WWW-Authenticate"] == 'Bearer realm="kiosk"'
        assert key not in text
    # The scheme's case and the spaces around the key are free (RFC 6750: "Bearer" 1*SP token;
    # HTTP drops the spaces around a header's value).
    for header in (f"bearer {key}", f"BEARER {key}", f"Bearer   {key}", f"Bearer {key}  ", f" Bearer {key}"):
        assert raw_get(server, "/api/v1/displays", header.encode())[0] == 200, header


def raw_get(server, path: str, authorization: bytes) -> tuple[int, dict[str, str], str]:
    """A GET with the Authorization header's bytes as given (requests refuses some of them)."""
    connection = http.client.HTTPConnection(server.url.removeprefix("http://"), timeout=5)
    try:
        connection.putrequest("GET", path)
        connection.putheader("Authorization", authorization)
        connection.endheaders()
        answer = connection.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read().decode()
    finally:
        connection.close()


def test_a_refused_request_changes_nothing(server, till, display, sandbox):
    body = {"display_id": display.id, "amount": "20.00"}
    for key in (None, "kiosk_" + "B" * 43):
        other = Till(server.url, key)
        assert error(other.post("/checkouts", body, headers={"Idempotency-Key": "x-1"}))[0] == 401
        assert error(other.delete(f"/displays/{display.id}"))[0] == 401
        assert error(other.post("/displays", {"pairing_code": DisplayBrowser(server.url).code(),
                                               "name": "Stranger"}))[0] == 401
    assert till.get("/checkouts", params={"display_id": display.id}).json()["data"] == []
    assert display.id in {d["id"] for d in till.get("/displays").json()["data"]}
    assert "Stranger" not in {d["name"] for d in till.get("/displays").json()["data"]}
    # The refused key's idempotency key was not spent either.
    assert till.post("/checkouts", body, headers={"Idempotency-Key": "x-1"}).status_code == 201


# -- idempotency keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "status"), [
    ("k", 201), ("k" * 64, 201), ("k" * 65, 400), ("a b", 400), ("ş", 400), ("a\tb", 400),
    ("!~:/?#", 201), ("%00", 201),
])
def test_idempotency_keys_at_their_edges(till, display, key, status):
    answer = till.post("/checkouts", {"display_id": display.id, "amount": "20.00"},
                       headers={"Idempotency-Key": key.encode("utf-8")})
    assert answer.status_code == status, answer.text
    if status == 400:
        assert error(answer) == (400, "invalid_request")
        assert till.get("/checkouts", params={"display_id": display.id}).json()["data"] == []


def test_the_same_key_for_another_display_conflicts_and_sends_nothing(server, till, display):
    key = uuid.uuid4().hex
    first = till.create(display.id, "20.00", key=key)
    assert first.status_code == 201
    other = DisplayBrowser(server.url)
    till.pair(other, "Other")
    assert error(till.create(other.id, "20.00", key=key)) == (409, "idempotency_conflict")
    assert till.get("/checkouts", params={"display_id": other.id}).json()["data"] == []
    # Still the first one, even after it was cancelled: a retry never makes a second checkout.
    till.post(f"/checkouts/{first.json()['id']}/cancel")
    again = till.create(display.id, "20.00", key=key)
    assert (again.status_code, again.json()["id"], again.json()["status"]) == \
        (200, first.json()["id"], "cancelled")


def test_idempotency_keys_are_kept_per_api_key(server, till, display):
    other = Till(server.url, make_key(server.state, f"till-{uuid.uuid4().hex[:6]}"))
    made = till.create(display.id, "20.00", key="sale-1")
    assert made.status_code == 201
    # Another till's "sale-1" is another sale: it does not get the first till's checkout.
    assert error(other.create(display.id, "20.00", key="sale-1")) == (409, "display_busy")


def test_one_key_two_bodies_at_once_sends_at_most_one(server, till, display):
    key = uuid.uuid4().hex
    start = threading.Barrier(2)
    answers: list[requests.Response] = []

    def send(amount: str) -> None:
        one = Till(server.url, server.key)
        start.wait()
        answers.append(one.create(display.id, amount, key=key))

    threads = [threading.Thread(target=send, args=(amount,)) for amount in ("20.00", "21.00")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    assert len(till.get("/checkouts", params={"display_id": display.id}).json()["data"]) == 1


# -- races -----------------------------------------------------------------------------------------


def test_many_tills_at_one_idle_display_one_wins(server, till, display):
    start = threading.Barrier(6)
    answers: list[requests.Response] = []

    def send() -> None:
        one = Till(server.url, server.key)
        start.wait()
        answers.append(one.create(display.id, "20.00"))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted((a.status_code, a.json().get("error", {}).get("code")) for a in answers)
    assert codes == [(201, None)] + [(409, "display_busy")] * 5
    listed = till.get("/checkouts", params={"display_id": display.id}).json()["data"]
    assert [c["id"] for c in listed] == [a.json()["id"] for a in answers if a.status_code == 201]


def test_cancel_and_pay_at_once_ends_as_upstream_says(server, till, sandbox):
    for attempt in range(4):
        browser = DisplayBrowser(server.url)
        till.pair(browser, f"Race {attempt}")
        made = till.create(browser.id, "50.00").json()
        tx_id = browser.tx_id()
        start = threading.Barrier(2)
        threads = [threading.Thread(target=lambda: (start.wait(), sandbox.pay(tx_id))),
                   threading.Thread(target=lambda: (start.wait(), Till(server.url, server.key).post(
                       f"/checkouts/{made['id']}/cancel")))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        expected = "paid"  # the coins arrived, before or after the cancel
        deadline = time.monotonic() + 10
        while (status := till.get(f"/checkouts/{made['id']}").json()["status"]) != expected:
            assert time.monotonic() < deadline, (attempt, status, sandbox.transactions())
            time.sleep(0.2)
        assert [t["isTransferComplete"] for t in sandbox.transactions() if t["_id"] == tx_id] == [True]


# -- hostile bodies --------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", ["١٢٣", "１２３", "0.001", "-0.00", "0.00", "1e3", "1E3", "12.", ".5",
                                    " 12.00", "12.00 ", "12,00", "NaN", "Infinity", "0x10", "1_000",
                                    "1" * 10, 123, 12.5, True, None, [], {}])
def test_amounts_of_every_other_shape_are_refused(till, display, amount):
    answer = till.post("/checkouts", {"display_id": display.id, "amount": amount},
                       headers={"Idempotency-Key": uuid.uuid4().hex})
    assert error(answer) in ((422, "invalid_amount"), (400, "invalid_request")), answer.text
    assert till.get("/checkouts", params={"display_id": display.id}).json()["data"] == []


def test_json_numbers_never_go_through_a_float(till, display):
    headers = {"Idempotency-Key": uuid.uuid4().hex, "Content-Type": "application/json"}
    raw = b'{"display_id": "%s", "amount": "30.00", "lines": [{"name": "x", "quantity": 1.0, ' \
          b'"unit_amount": "30.00"}]}' % display.id.encode()
    assert error(till.post("/checkouts", data=raw, headers=headers)) == (400, "invalid_request")
    raw = raw.replace(b"1.0", b"1e0")
    assert error(till.post("/checkouts", data=raw, headers=headers)) == (400, "invalid_request")


def test_duplicate_names_in_the_body_read_the_last_and_replay_the_same(till, display):
    headers = {"Idempotency-Key": uuid.uuid4().hex, "Content-Type": "application/json"}
    raw = b'{"display_id": "%s", "amount": "5.00", "amount": "20.00"}' % display.id.encode()
    first = till.post("/checkouts", data=raw, headers=headers)
    assert first.status_code == 201 and first.json()["amount"] == "20.00"
    plain = b'{"display_id": "%s", "amount": "20.00"}' % display.id.encode()
    assert till.post("/checkouts", data=plain, headers=headers).json()["id"] == first.json()["id"]


@pytest.mark.parametrize(("field", "value"), [
    ("reference", "a\x00b"), ("reference", "a\x07b"), ("reference", "\u200b"), ("reference", "a\ufeffb"),
    ("note", "\x1b[31mred"), ("note", "a\u202eb"), ("note", "\ud800"), ("reference", "r" * 65),
    ("note", "n" * 121), ("reference", 5), ("note", ["x"]),
])
def test_text_fields_refuse_control_characters_and_overlong_values(till, display, field, value):
    answer = till.create(display.id, "20.00", **{field: value})
    assert error(answer) == (400, "invalid_request"), answer.text
    assert till.get("/checkouts", params={"display_id": display.id}).json()["data"] == []


def test_text_fields_at_their_edges_and_whitespace_folded(till, display):
    made = till.create(display.id, "20.00", reference="r" * 64, note="Masa\t4\n  ve\u20285")
    assert made.status_code == 201, made.text
    assert (made.json()["reference"], made.json()["note"]) == ("r" * 64, "Masa 4 ve 5")


@pytest.mark.parametrize("lines", [
    [{"name": "x", "quantity": 0, "unit_amount": "20.00"}],
    [{"name": "x", "quantity": -1, "unit_amount": "20.00"}],
    [{"name": "x", "quantity": 10000, "unit_amount": "0.00"}],
    [{"name": "x", "quantity": 10 ** 30, "unit_amount": "0.00"}],
    [{"name": "x" * 81, "quantity": 1, "unit_amount": "20.00"}],
    [{"name": "x\x00", "quantity": 1, "unit_amount": "20.00"}],
    [{"name": "x", "quantity": 1, "unit_amount": "20.00", "extra": 1}] * 51,
    {"name": "x", "quantity": 1, "unit_amount": "20.00"},
    [["x", 1, "20.00"]],
])
def test_lines_out_of_bounds(till, display, lines):
    assert error(till.create(display.id, "20.00", lines=lines)) == (400, "invalid_request")


def test_lines_that_do_not_add_up_by_a_cent(till, display):
    lines = [{"name": "x", "quantity": 3, "unit_amount": "6.67"}]
    assert error(till.create(display.id, "20.00", lines=lines)) == (422, "invalid_amount")
    assert till.create(display.id, "20.01", lines=lines).status_code == 201
    big = [{"name": "x" * 80, "quantity": 9999, "unit_amount": "0.00"}] * 49 + \
        [{"name": "y", "quantity": 1, "unit_amount": "20.00"}]
    assert till.create(display.id, "20.00", lines=big).status_code == 409  # well formed; busy now


def test_bodies_too_large_or_too_deep_are_refused_by_every_route(till, display, server):
    before = tracebacks(server)
    headers = {"Idempotency-Key": uuid.uuid4().hex, "Content-Type": "application/json"}
    exactly = b'{"display_id": "%s", "amount": "20.00", "x": "' % display.id.encode()
    exactly += b"x" * (32 * 1024 - len(exactly) - 2) + b'"}'
    assert len(exactly) == 32 * 1024
    assert till.post("/checkouts", data=exactly, headers=headers).status_code == 201
    over = exactly[:-2] + b'x"}'
    assert error(till.post("/checkouts", data=over, headers=headers)) == (413, "invalid_request")
    assert error(till.post("/displays", data=over, headers=headers)) == (413, "invalid_request")
    deep = b'{"display_id": "%s", "amount": "20.00", "x": ' % display.id.encode() + \
        b"[" * 5000 + b"]" * 5000 + b"}"
    assert error(till.post("/checkouts", data=deep, headers={**headers, "Idempotency-Key": "deep"})) \
        == (400, "invalid_request")
    chunked = till.http.post(till.url + "/checkouts", data=iter([over]), headers=headers, timeout=10)
    assert error(chunked) == (413, "invalid_request")
    assert tracebacks(server) == before


# -- a proxy that lies -----------------------------------------------------------------------------


def test_forwarded_addresses_from_a_peer_not_trusted_buy_no_more_pairing_codes(server, till):
    """The kiosk is not behind a proxy here: X-Forwarded-For is whatever a client typed."""
    answers = [requests.get(server.url + "/display", timeout=5,
                            headers={"X-Forwarded-For": f"203.0.113.{n}", "X-Real-IP": f"198.51.100.{n}",
                                     "Forwarded": f"for=192.0.2.{n}"}).status_code for n in range(31)]
    assert answers == [200] * 30 + [429]



def test_unpairing_a_display_with_an_open_checkout_cancels_it_as_the_till(server, till, display, sandbox):
    made = till.create(display.id, "40.00").json()
    tx_id = display.tx_id()
    assert till.delete(f"/displays/{display.id}").status_code == 204
    ended = till.get(f"/checkouts/{made['id']}").json()
    assert (ended["status"], ended["cancel_reason"]) == ("cancelled", "till")
    assert [t["status"] for t in sandbox.transactions() if t["_id"] == tx_id] == ["CANCELLED"]
    assert 'data-testid="pairing-code"' in display.look().text
    assert error(till.create(display.id, "40.00")) == (404, "not_found")


def test_unpairing_a_keypad_display_mid_payment_cancels_its_customers_checkout(server, till, sandbox):
    """A keypad display's customer is paying when the till unpairs it: the browser is no longer
    that display and cannot show the payment, so the kiosk cancels it upstream as the till, never
    leaving a payment open that nobody in front of the screen can follow. A checkout of
    another keypad display, and one already paid, are left alone."""
    from ..support import Customer

    keypad, other = DisplayBrowser(server.url), DisplayBrowser(server.url)
    till.pair(keypad, "Keypad", "keypad")
    till.pair(other, "Other", "keypad")
    paid = Customer.over_http(server.url, keypad.http).start("200")
    sandbox.pay(paid, share="full")
    assert 'data-outcome="paid"' in keypad.poll(paid).text
    tx_id = Customer.over_http(server.url, keypad.http).start("300")
    kept = Customer.over_http(server.url, other.http).start("100")
    assert till.delete(f"/displays/{keypad.id}").status_code == 204
    status = {t["_id"]: t["status"] for t in sandbox.transactions()}
    assert status[tx_id] == "CANCELLED" and status[kept] == "PENDING"
    assert status[paid] != "CANCELLED"
    assert sandbox.calls("cancel") == 1
    assert 'data-testid="pairing-code"' in keypad.look().text


@pytest.mark.parametrize("forged", ["..", "%2e%2e", "ABCDEF012345", "abcdef0123456", "abcdef01234",
                                    "abcdef01234%00", "ａbcdef012345", "abcdef012345%2F", "*"])
def test_unpairing_a_display_id_of_another_shape_unpairs_nothing(till, display, forged):
    lookalike = forged.replace("abcdef012345", display.id).replace("ABCDEF012345", display.id.upper())
    if lookalike == display.id:  # an id of digits only has no capitals: one capital letter, then
        lookalike = display.id[:-1] + "A"
    answer = till.delete(f"/displays/{lookalike}")
    assert answer.status_code in (404, 308), (lookalike, answer.status_code)
    assert display.id in {d["id"] for d in till.get("/displays").json()["data"]}


# -- last: what the log kept -----------------------------------------------------------------------


def test_the_log_holds_no_key_and_no_traceback(server):
    log = server.log_path.read_text()
    assert server.key not in log and server.key[6:] not in log
    assert "Traceback" not in log
