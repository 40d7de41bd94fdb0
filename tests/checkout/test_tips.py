"""Tips: the rules at their edges (presets rounded half up to the currency's digits, a custom tip
at most the amount, never negative or malformed, KIOSK_TIPS itself), and the tip kept apart from
the amount from the screen to upstream, the ledger, the export, the till API and the console:
a keypad kiosk and a till-mode display against the sandbox over HTTP."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal

import pytest

from kiosk.checkout import tips
from kiosk.checkout.inputs import InputError
from kiosk.config import ConfigError
from kiosk.settings_parse import tips as parse_tips
from kiosk.tills.keys import ApiKeys

from ..support import STAFF_PIN, Customer, field, pair_display, unlock_staff

D = Decimal
FIVE_TEN_FIFTEEN = (D(5), D(10), D(15))


# -- the rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("amount", "percent", "tip"), [
    ("100.00", "10", "10.00"),
    ("33.33", "15", "5.00"),  # 4.9995: half up
    ("0.10", "5", "0.01"),  # 0.005, exactly half a kuruş: up
    ("0.09", "5", "0.00"),  # 0.0045: down
    ("99999.99", "100", "99999.99"),
    ("12.34", "12.5", "1.54"),  # 1.5425
])
def test_a_preset_is_its_percentage_rounded_half_up_to_the_kurus(amount, percent, tip):
    assert tips.preset_tip(D(amount), D(percent), "TRY") == D(tip)
    assert str(tips.preset_tip(D(amount), D(percent), "TRY")) == tip


def test_the_currencys_digits_decide_the_rounding():
    assert tips.preset_tip(D("1005"), D("10"), "JPY") == D("101")  # 100.5: half up, no decimals
    assert tips.preset_tip(D("1.000"), D("12.5"), "KWD") == D("0.125")  # three digits


@pytest.mark.parametrize(("raw", "tip"), [("100.00", "100.00"), ("100", "100.00"), ("7,5", "7.50"),
                                          (" 5 ", "5.00"), ("0", "0.00"), ("0.01", "0.01")])
def test_a_custom_tip_up_to_the_amount_itself(raw, tip):
    assert str(tips.parse_custom(raw, D("100.00"), "TRY")) == tip


@pytest.mark.parametrize(("raw", "message"), [
    ("100.01", "The tip can be at most the amount itself, %(amount)s."),
    ("-1", "Enter the tip as an amount, with at most %(num)d decimals."),
    ("-0.01", "Enter the tip as an amount, with at most %(num)d decimals."),
    ("1.234", "Enter the tip as an amount, with at most %(num)d decimals."),
    ("1e2", "Enter the tip as an amount, with at most %(num)d decimals."),
    ("abc", "Enter the tip as an amount, with at most %(num)d decimals."),
    ("NaN", "Enter the tip as an amount, with at most %(num)d decimals."),
    ("٣", "Enter the tip as an amount, with at most %(num)d decimals."),
    ("1.", "Enter the tip as an amount, with at most %(num)d decimals."),
    ("", "Enter the tip, or choose No tip."),
    (None, "Enter the tip, or choose No tip."),
])
def test_a_bad_custom_tip_is_refused_with_its_reason(raw, message):
    with pytest.raises(InputError) as caught:
        tips.parse_custom(raw, D("100.00"), "TRY")
    assert (caught.value.plural or caught.value.message) == message


@pytest.mark.parametrize(("currency", "raw", "message"), [
    ("JPY", "1.5", "Enter the tip as a whole amount, without decimals."),
    ("KWD", "1.2345", "Enter the tip as an amount, with at most %(num)d decimals."),
])
def test_a_custom_tip_has_the_currencys_digits(currency, raw, message):
    with pytest.raises(InputError) as caught:
        tips.parse_custom(raw, D("100"), currency)
    assert (caught.value.plural or caught.value.message) == message


def test_a_choice_is_a_preset_shown_no_tip_or_a_custom_one():
    assert tips.choose("10", None, D("100.00"), FIVE_TEN_FIFTEEN, "TRY") == D("10.00")
    assert tips.choose("none", "50", D("100.00"), FIVE_TEN_FIFTEEN, "TRY") == D("0.00")
    assert tips.choose("custom", "2,50", D("100.00"), FIVE_TEN_FIFTEEN, "TRY") == D("2.50")
    for bad in ("7", "", None, "10.0", "custom-", "-5"):
        with pytest.raises(InputError, match="Choose one of the tips shown"):
            tips.choose(bad, None, D("100.00"), FIVE_TEN_FIFTEEN, "TRY")


@pytest.mark.parametrize(("raw", "parsed"), [(None, ()), ("", ()), ("5,10,15", FIVE_TEN_FIFTEEN),
                                             (" 5% , 12.5 ", (D(5), D("12.5"))), ("100", (D(100),)),
                                             ("0.01", (D("0.01"),)),
                                             ("1,2,3,4,5,6", tuple(map(D, "123456")))])
def test_the_tips_setting(raw, parsed):
    assert parse_tips(raw) == parsed


@pytest.mark.parametrize("raw", ["0", "100.01", "-5", "abc", "5,5", "1,2,3,4,5,6,7", "5;10", "1.234",
                                 "5,,10"])
def test_a_tips_setting_that_is_not_one_stops_the_start(raw):
    with pytest.raises(ConfigError, match="KIOSK_TIPS"):
        parse_tips(raw)


# -- a keypad kiosk -------------------------------------------------------------------------------


@pytest.fixture
def shop(make_app):
    return make_app(TIPS="5,10,15", COINS="TRX:TRX", OPERATOR_PIN=STAFF_PIN, DEFAULT_LOCALE="en")


def exported(app) -> list[dict[str, str]]:
    operator = app.test_client()
    unlock_staff(operator)
    day = datetime.now(app.extensions["kiosk"].settings.timezone).date().isoformat()
    body = operator.get(f"/operator/export.csv?from={day}&to={day}").get_data().decode()
    return list(csv.DictReader(io.StringIO(body, newline="")))


def tip_form(customer: Customer) -> dict[str, str]:
    html = customer.get("/tip").text
    return {"csrf_token": field(html, "csrf_token"), "nonce": field(html, "nonce")}


def test_a_ten_percent_tip_is_asked_upstream_and_kept_apart_everywhere(shop, sandbox):
    customer = Customer(shop.test_client(), sandbox)
    entered = customer.enter("100.00")
    assert entered.status_code == 302 and entered.headers["Location"] == "/tip"
    html = customer.get("/tip").text
    for key, money in (("5", "₺5.00"), ("10", "₺10.00"), ("15", "₺15.00")):
        assert f'data-testid="tip-{key}"' in html and money in html
    assert 'data-testid="tip-none"' in html and 'data-testid="tip-custom"' in html
    assert "data-idle-reset" in html  # a customer who walks away leaves the next one a fresh screen
    assert customer.get("/coin").headers["Location"] == "/tip"  # no coin before the tip's answer

    paid = customer.post("/tip", {**tip_form(customer), "tip": "10"})
    assert paid.status_code == 303
    tx = paid.headers["Location"].rsplit("/", 1)[1]
    assert D(customer.sandbox.state.transactions[tx]["currencyAmount"]) == D("110.00")
    record = shop.extensions["kiosk"].checkout.record(tx)
    assert (record.amount, record.tip, record.total) == (D("100.00"), D("10.00"), D("110.00"))
    page = customer.get(f"/pay/{tx}").text
    assert 'data-testid="fiat-amount">₺110.00<' in page and "₺100.00 + tip ₺10.00" in page
    sandbox.pay(tx, share="full")
    assert customer.poll(tx)[0] == "paid"
    result = customer.get(f"/result/{tx}").text
    assert 'data-testid="fiat-amount">₺110.00<' in result and "₺100.00 + tip ₺10.00" in result
    row = shop.extensions["kiosk"].ledger.get(tx_id=tx)
    assert (row.amount, row.tip, row.status) == (D("100.00"), D("10.00"), "paid")
    [line] = exported(shop)
    assert (line["amount"], line["tip"], line["total"]) == ("100.00", "10.00", "110.00")


def test_no_tip_and_a_custom_tip(shop, sandbox):
    customer = Customer(shop.test_client(), sandbox)
    customer.enter("80.00")
    none = customer.post("/tip", {**tip_form(customer), "tip": "none"})
    tx = none.headers["Location"].rsplit("/", 1)[1]
    assert D(sandbox.state.transactions[tx]["currencyAmount"]) == D("80.00")
    assert shop.extensions["kiosk"].checkout.record(tx).tip == 0

    other = Customer(shop.test_client(), sandbox)
    other.enter("80.00")
    assert 'data-testid="tip-submit"' in other.get("/tip?custom=1").text
    custom = other.post("/tip", {**tip_form(other), "tip": "custom", "custom": "7,50"})
    tx = custom.headers["Location"].rsplit("/", 1)[1]
    assert D(sandbox.state.transactions[tx]["currencyAmount"]) == D("87.50")
    assert shop.extensions["kiosk"].checkout.record(tx).tip == D("7.50")


@pytest.mark.parametrize(("choice", "custom", "message"), [
    ("custom", "80.01", "The tip can be at most the amount itself, ₺80.00."),
    ("custom", "-1", "Enter the tip as an amount, with at most 2 decimals."),
    ("custom", "1.005", "Enter the tip as an amount, with at most 2 decimals."),
    ("custom", "ten", "Enter the tip as an amount, with at most 2 decimals."),
    ("custom", "", "Enter the tip, or choose No tip."),
    ("20", "", "Choose one of the tips shown."),
    ("", "", "Choose one of the tips shown."),
])
def test_a_bad_tip_gets_a_clear_message_and_starts_nothing(shop, sandbox, choice, custom, message):
    customer = Customer(shop.test_client(), sandbox)
    customer.enter("80.00")
    creates = sandbox.calls("create")
    answer = customer.post("/tip", {**tip_form(customer), "tip": choice, "custom": custom})
    assert answer.status_code == 422
    assert f'data-testid="error">{message}<' in answer.text
    assert sandbox.calls("create") == creates
    # Nothing changed: the same amount waits for a good answer.
    good = customer.post("/tip", {**tip_form(customer), "tip": "5"})
    tx = good.headers["Location"].rsplit("/", 1)[1]
    assert D(sandbox.state.transactions[tx]["currencyAmount"]) == D("84.00")


def test_without_the_setting_there_is_no_tip_screen(make_app, sandbox):
    app = make_app(COINS="TRX:TRX")
    customer = Customer(app.test_client(), sandbox)
    tx = customer.start("100.00")
    assert D(sandbox.state.transactions[tx]["currencyAmount"]) == D("100.00")
    assert customer.get("/tip").headers["Location"] == "/"


# -- a till-mode display, the till API and the console -------------------------------------------


def paired(app):
    staff = app.test_client()
    unlock_staff(staff)
    display = app.test_client()
    display_id = pair_display(staff, display, "Counter 1", "till")
    display.get("/display")
    return staff, display, display_id


def api(app, method: str, path: str, key: str, **kw):
    return app.test_client().open(f"/api/v1{path}", method=method, headers={
        "Authorization": f"Bearer {key}", "Idempotency-Key": kw.pop("idem", "k-1")}, **kw)


def test_a_till_mode_display_asks_for_the_tip_a_till_wants(shop, sandbox):
    _staff, display, display_id = paired(shop)
    key = ApiKeys(shop.extensions["kiosk"].store).create("front")
    made = api(shop, "POST", "/checkouts", key, json={"display_id": display_id, "amount": "125.00"})
    assert made.status_code == 201, made.get_data(as_text=True)
    body = made.get_json()
    assert (body["amount"], body["tip_amount"], body["total_amount"], body["ask_tip"]) == (
        "125.00", "0.00", "125.00", True)
    html = display.get("/display").get_data(as_text=True)
    assert 'data-testid="tip-10"' in html and "₺12.50" in html
    bad = display.post("/display/tip", data={"csrf_token": field(html, "csrf_token"), "order": body["id"],
                                             "tip": "custom", "custom": "125.01"})
    assert bad.status_code == 422 and "at most the amount itself, ₺125.00" in bad.get_data(as_text=True)
    display.post("/display/tip", data={"csrf_token": field(html, "csrf_token"), "order": body["id"],
                                       "tip": "10"})
    # One coin: the display starts the payment as it shows the order again.
    paying = display.get("/display")
    tx = paying.headers["Location"].rsplit("/", 1)[1]
    assert D(sandbox.state.transactions[tx]["currencyAmount"]) == D("137.50")
    # A second answer changes nothing.
    display.post("/display/tip", data={"csrf_token": field(html, "csrf_token"), "order": body["id"],
                                       "tip": "15"})
    sandbox.pay(tx, share="full")
    seen = api(shop, "GET", f"/checkouts/{body['id']}", key).get_json()
    assert (seen["status"], seen["amount"], seen["tip_amount"], seen["total_amount"]) == (
        "paid", "125.00", "12.50", "137.50")
    row = shop.extensions["kiosk"].ledger.get(order_id=body["id"])
    assert (row.amount, row.tip) == (D("125.00"), D("12.50"))


def test_a_till_that_turns_the_tip_off_gets_none(shop, sandbox):
    _staff, display, display_id = paired(shop)
    key = ApiKeys(shop.extensions["kiosk"].store).create("front")
    body = api(shop, "POST", "/checkouts", key, json={"display_id": display_id, "amount": "50.00",
                                                      "ask_tip": False}).get_json()
    assert body["ask_tip"] is False
    paying = display.get("/display")
    tx = paying.headers["Location"].rsplit("/", 1)[1]  # straight to the payment: no tip screen
    assert D(sandbox.state.transactions[tx]["currencyAmount"]) == D("50.00")
    wrong = api(shop, "POST", "/checkouts", key, idem="k-2", json={"display_id": display_id,
                                                                   "amount": "5.00", "ask_tip": "no"})
    assert wrong.status_code == 400 and wrong.get_json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize(("ask", "screen"), [("1", "tip-10"), (None, "coin-")])
def test_the_console_has_the_same_switch(make_app, sandbox, ask, screen):
    app = make_app(TIPS="5,10,15", OPERATOR_PIN=STAFF_PIN, DEFAULT_LOCALE="en")
    staff, display, display_id = paired(app)
    html = staff.get("/till").get_data(as_text=True)
    assert 'data-testid="till-ask-tip"' in html
    form = {"csrf_token": field(html, "csrf_token"), "nonce": field(html, "nonce"), "display": display_id,
            "amount": "40.00", **({"ask_tip": ask} if ask else {})}
    assert staff.post("/till/charge", data=form).status_code == 303
    assert f'data-testid="{screen}' in display.get("/display").get_data(as_text=True)


def test_a_coin_before_the_tips_answer_starts_nothing(make_app, sandbox):
    app = make_app(TIPS="5,10,15", OPERATOR_PIN=STAFF_PIN, DEFAULT_LOCALE="en")
    _staff, display, display_id = paired(app)
    key = ApiKeys(app.extensions["kiosk"].store).create("front")
    body = api(app, "POST", "/checkouts", key, json={"display_id": display_id, "amount": "60.00"}).get_json()
    html = display.get("/display").get_data(as_text=True)
    creates = sandbox.calls("create")
    early = display.post("/display/coin", data={"csrf_token": field(html, "csrf_token"), "order": body["id"],
                                                "coin": "TRX-TRX"})
    assert early.status_code == 303 and early.headers["Location"] == "/display"
    assert sandbox.calls("create") == creates
    assert 'data-testid="tip-5"' in display.get("/display").get_data(as_text=True)


# -- the total within KIOSK_MAX_AMOUNT ------------------------------------------------------------
# The limit guards what the customer is charged and what upstream accepts: amount + tip.


@pytest.mark.parametrize(("currency", "amount", "limit", "fits", "past"), [
    ("TRY", "100.00", "110.00", "10.00", "10.01"),
    ("JPY", "1000", "1100", "100", "101"),
    ("KWD", "1.000", "1.100", "0.100", "0.101"),
])
def test_a_custom_tip_keeps_the_total_within_the_largest_amount(currency, amount, limit, fits, past):
    assert tips.parse_custom(fits, D(amount), currency, D(limit)) == D(fits)  # the total exactly at it
    with pytest.raises(InputError) as caught:
        tips.parse_custom(past, D(amount), currency, D(limit))  # one minor unit more
    assert caught.value.message.startswith("The tip can be at most %(amount)s: the total may not pass")
    assert caught.value.amount == D(fits)


def test_only_the_presets_that_fit_are_offered():
    shown = tips.presets(D("100.00"), FIVE_TEN_FIFTEEN, "TRY", D("110.00"))
    assert [p.key for p in shown] == ["5", "10"]  # 110.00 exactly is taken; 115.00 is not
    assert [p.key for p in tips.presets(D("100.00"), FIVE_TEN_FIFTEEN, "TRY", D("109.99"))] == ["5"]
    assert tips.choose("10", None, D("100.00"), FIVE_TEN_FIFTEEN, "TRY", D("110.00")) == D("10.00")
    with pytest.raises(InputError, match="Choose one of the tips shown"):
        tips.choose("15", None, D("100.00"), FIVE_TEN_FIFTEEN, "TRY", D("110.00"))
    assert tips.most(D("100.00"), D("100.00")) == 0 and tips.most(D("100.00"), D("1000.00")) == D("100.00")


def test_the_tip_screen_offers_what_fits_and_says_why(make_app, sandbox):
    app = make_app(TIPS="5,10,15", COINS="TRX:TRX", MAX_AMOUNT="110.00", DEFAULT_LOCALE="en")
    customer = Customer(app.test_client(), sandbox)
    customer.enter("100.00")
    html = customer.get("/tip").text
    assert 'data-testid="tip-5"' in html and 'data-testid="tip-10"' in html
    assert 'data-testid="tip-15"' not in html
    assert 'data-testid="tip-limit"' in html and "A payment is at most ₺110.00, tip included" in html
    assert "Tip, at most ₺10.00" in customer.get("/tip?custom=1").text
    refused = customer.post("/tip", {**tip_form(customer), "tip": "custom", "custom": "10.01"})
    assert refused.status_code == 422 and "The tip can be at most ₺10.00" in refused.text
    refused = customer.post("/tip", {**tip_form(customer), "tip": "15"})
    assert refused.status_code == 422
    paid = customer.post("/tip", {**tip_form(customer), "tip": "custom", "custom": "10.00"})
    assert paid.status_code == 303
    tx = paid.headers["Location"].rsplit("/", 1)[1]
    assert D(sandbox.state.transactions[tx]["currencyAmount"]) == D("110.00")


def test_a_till_order_at_the_limit_takes_no_tip(make_app, sandbox):
    app = make_app(TIPS="5,10,15", MAX_AMOUNT="125.00", OPERATOR_PIN=STAFF_PIN, DEFAULT_LOCALE="en")
    _staff, display, display_id = paired(app)
    key = ApiKeys(app.extensions["kiosk"].store).create("front")
    body = api(app, "POST", "/checkouts", key, json={"display_id": display_id, "amount": "125.00"}).get_json()
    html = display.get("/display").get_data(as_text=True)
    assert 'data-testid="tip-5"' not in html and 'data-testid="tip-custom"' not in html
    assert 'data-testid="tip-none"' in html and 'data-testid="tip-limit"' in html
    bad = display.post("/display/tip", data={"csrf_token": field(html, "csrf_token"), "order": body["id"],
                                             "tip": "custom", "custom": "0.01"})
    assert bad.status_code == 422
    orders = app.extensions["kiosk"].orders
    order = orders.get(body["id"])  # below the screen too: the orders refuse a tip past the limit
    assert orders.choose_tip(order, D("0.01")) is False and orders.tip_of(order) is None
    assert api(app, "GET", f"/checkouts/{body['id']}", key).get_json()["tip_amount"] == "0.00"
