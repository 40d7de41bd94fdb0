"""The sandbox is faithful to the API document: shapes, JSON types, tokens, addresses, history."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path

import requests

from kiosk.cryptom import Page, Transaction
from kiosk.sandbox import DEFAULT_EMAIL, DEFAULT_PASSWORD, jwt
from kiosk.sandbox.tron import is_valid_address

FIXTURES = Path(__file__).parent / "fixtures"


def example(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def json_type(value) -> str:
    return {bool: "boolean", int: "number", float: "number", str: "string", type(None): "null",
            dict: "object", list: "array"}[type(value)]


def assert_same_shape(expected, actual, path="$"):
    """Every field of the example is in the actual response, with the same JSON type."""
    assert json_type(actual) == json_type(expected), f"{path}: {json_type(actual)} != {json_type(expected)}"
    if isinstance(expected, dict):
        for key, value in expected.items():
            assert key in actual, f"{path}.{key} is missing"
            assert_same_shape(value, actual[key], f"{path}.{key}")
    elif isinstance(expected, list) and expected:
        for i, item in enumerate(actual):
            assert_same_shape(expected[0], item, f"{path}[{i}]")


def login(sandbox) -> tuple[dict, str]:
    r = requests.post(f"{sandbox.url}/auth", json={"email": DEFAULT_EMAIL, "password": DEFAULT_PASSWORD},
                      timeout=5)
    assert r.status_code == 200
    return r.json(), r.json()["accessToken"]


def create(sandbox, token, **body):
    payload = {"currency": "TRY", "currencyAmount": 300, "coin": "TRX", "network": "TRX", **body}
    return requests.post(f"{sandbox.url}/api/transaction/create", json=payload,
                         headers={"Authorization": f"Bearer {token}"}, timeout=5)


def test_auth_matches_the_document(sandbox):
    data, _ = login(sandbox)
    assert_same_shape(example("auth_response"), data)
    now_ms = time.time() * 1000
    assert data["expires"]["accessToken"] == 3_600_000
    assert abs(data["expiresIn"]["accessToken"] - (now_ms + 3_600_000)) < 5000


def test_jwt_exp_is_1000_times_too_long_as_upstream(sandbox):
    data, token = login(sandbox)
    claims = jwt.decode(token, sandbox.state.key)
    assert claims["exp"] - claims["iat"] == data["expires"]["accessToken"]  # ms read as seconds


def test_create_and_detail_match_the_document(sandbox):
    _, token = login(sandbox)
    r = create(sandbox, token, userMobile="+905363922143", statusNote="A sample description.")
    body = r.json()
    assert_same_shape(example("create_response"), body)
    tx = body["data"]
    assert len(tx["_id"]) == 24 and int(tx["_id"], 16) and tx["id"] == tx["_id"]
    assert is_valid_address(tx["wallet"]["address"])
    assert tx["wallet"]["ID"] > 2**53
    detail = requests.get(f"{sandbox.url}/api/transaction/detail/{tx['_id']}",
                          headers={"Authorization": f"Bearer {token}"}, timeout=5).json()
    assert_same_shape(example("create_response"), detail)
    second = create(sandbox, token).json()["data"]
    assert second["sequenceID"] == tx["sequenceID"] + 1


def test_history_matches_the_document(sandbox):
    _, token = login(sandbox)
    create(sandbox, token, userMobile="+905363925261", statusNote="A sample description.")
    r = requests.get(f"{sandbox.url}/api/transaction", headers={"Authorization": f"Bearer {token}"},
                     timeout=5)
    assert_same_shape(example("history_response"), r.json())
    data = r.json()["data"]
    assert (data["page"], data["limit"], data["totalPages"], data["pagingCounter"]) == (1, 10, 1, 1)


def test_empty_history_still_has_one_page(sandbox):
    _, token = login(sandbox)
    data = requests.get(f"{sandbox.url}/api/transaction?page=3", headers={"Authorization": f"Bearer {token}"},
                        timeout=5).json()["data"]
    assert data["results"] == [] and data["totalPages"] == 1 and data["totalDocs"] == 0


def test_invalid_bodies_get_400_with_a_message(sandbox):
    _, token = login(sandbox)
    for body in ({"coin": "BTC", "network": "TRX"}, {"currencyAmount": 0}, {"currencyAmount": -5},
                 {"currencyAmount": "abc"}, {"currencyAmount": True}):
        r = create(sandbox, token, **body)
        assert r.status_code == 400 and r.json()["status"] is False and r.json()["message"]
    assert sandbox.transactions() == []


def test_tokens_missing_bad_or_expired_get_401(sandbox):
    r = requests.get(f"{sandbox.url}/api/transaction", timeout=5)
    assert r.status_code == 401 and r.json() == {"status": False, "message": "Unauthorized"}
    forged = jwt.encode({"jti": "x", "iat": int(time.time())}, b"not-the-sandbox-key-but-32-bytes!")
    r = requests.get(f"{sandbox.url}/api/transaction", headers={"Authorization": f"Bearer {forged}"},
                     timeout=5)
    assert r.status_code == 401
    r = requests.post(f"{sandbox.url}/auth", json={"email": DEFAULT_EMAIL, "password": "nope"}, timeout=5)
    assert r.status_code == 401


def test_unknown_id_is_404(sandbox):
    _, token = login(sandbox)
    r = requests.get(f"{sandbox.url}/api/transaction/detail/6338cb9cd4cb3327e706ddb1",
                     headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert r.status_code == 404 and r.json()["status"] is False


def test_payments_accumulate_until_complete(sandbox):
    _, token = login(sandbox)
    tx = create(sandbox, token).json()["data"]
    due = Decimal(tx["coinAmount"])
    after = sandbox.pay(tx["_id"], amount=due / 4)
    assert after["status"] == "TRANSFERRED" and after["isTransferComplete"] is False
    after = sandbox.pay(tx["_id"], amount=due)
    assert after["isTransferComplete"] is True and Decimal(after["totalTransferAmount"]) == due * 5 / 4


def test_documented_examples_parse_into_typed_models():
    tx = Transaction.from_json(example("create_response")["data"])
    assert tx.currency_amount == Decimal(200) and tx.coin_amount == Decimal("148.874")
    assert tx.wallet.id == 428048732580321540 and tx.merchant_id == "6338caa212f17299558072a6"
    page = Page.from_json(example("history_response")["data"])
    row = page.results[0]
    assert row.merchant_id == "633370faa57f56e76dc8beaa" and row.created_by == "6333707ba1b31559f9493d2f"
    assert row.wallet.id == 427467512825878800 and row.status_note == "A sample description."
    assert page.total_pages == 1 and page.next_page is None


def test_sandbox_pay_command(sandbox):
    from kiosk.cli import main

    _, token = login(sandbox)
    tx = create(sandbox, token).json()["data"]
    assert main(["sandbox", "pay", tx["_id"], "--amount", "1.5", "--url", sandbox.url]) == 0
    assert sandbox.transactions()[0]["totalTransferAmount"] == "1.5"
    assert main(["sandbox", "pay", tx["_id"], "--url", sandbox.url]) == 0
    assert sandbox.transactions()[0]["isTransferComplete"] is True
    assert main(["sandbox", "pay", "nope", "--url", sandbox.url]) == 1


def test_a_token_with_another_algorithm_or_none_is_refused(sandbox):
    """Only HS256 with the sandbox's own key: a token that names `none`, or signs with the key as
    another algorithm, is not a login."""
    import base64
    import json as _json

    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(_json.dumps(data).encode()).rstrip(b"=").decode()

    unsigned = f"{part({'alg': 'none', 'typ': 'JWT'})}.{part({'jti': 'x'})}."
    assert jwt.decode(unsigned, sandbox.state.key) is None
    assert jwt.decode("not.a.token", sandbox.state.key) is None
    good = jwt.encode({"jti": "x"}, sandbox.state.key)
    assert jwt.decode(good, sandbox.state.key) == {"jti": "x"}
    assert jwt.decode(good[:-2] + ("AA" if not good.endswith("AA") else "BB"), sandbox.state.key) is None


def test_it_quotes_in_every_currency_of_its_rate_table(sandbox):
    """KIOSK_SANDBOX_RATES prices a coin per currency: the coin amount is the fiat amount over
    that price, rounded up to the coin's six decimals."""
    _, token = login(sandbox)
    for currency, amount, coins in (("EUR", "27.00", "100"), ("JPY", "4450", "100"),
                                    ("KWD", "1.001", "10.880435")):
        tx = create(sandbox, token, currency=currency, currencyAmount=amount).json()["data"]
        assert (tx["currency"], Decimal(tx["currencyAmount"]), Decimal(tx["coinAmount"])) == (
            currency, Decimal(amount), Decimal(coins))


def test_a_currency_without_a_rate_gets_the_bad_request_answer(sandbox):
    _, token = login(sandbox)
    before = len(sandbox.transactions())
    for currency in ("CHF", "XYZ", "", None):
        r = create(sandbox, token, currency=currency)
        assert r.status_code == 400 and r.json()["status"] is False
        assert r.json()["message"] == f"Unsupported currency: {currency or ''}"
    assert len(sandbox.transactions()) == before  # nothing was made


def test_its_page_writes_each_amount_to_its_currencys_digits(sandbox):
    _, token = login(sandbox)
    for currency, amount in (("KWD", "12.5"), ("JPY", "4450"), ("EUR", "27"), ("TRY", "42.5")):
        assert create(sandbox, token, currency=currency, currencyAmount=amount).status_code in (200, 201)
    page = requests.get(sandbox.url + "/sandbox", timeout=10).text
    for written in ("12.500 KWD", "4450 JPY", "27.00 EUR", "42.50 TRY"):
        assert f"<td>{written}</td>" in page, written
