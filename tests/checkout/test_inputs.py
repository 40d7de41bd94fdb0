"""What the amount form accepts, pinned at its edges, with the exact message for each refusal."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kiosk.checkout.inputs import (
    NOTE_MAX,
    REFERENCE_MAX,
    InputError,
    check_amount,
    parse_amount,
    parse_mobile,
    parse_note,
    parse_reference,
)

LOW, HIGH = Decimal("1.00"), Decimal("100000.00")
TWO_DECIMALS = "Enter the amount with at most %(num)d decimals."


@pytest.mark.parametrize(("raw", "value"), [
    ("1", Decimal("1.00")),  # exactly the smallest amount
    ("1.00", Decimal("1.00")),
    ("100000", Decimal("100000.00")),  # exactly the largest
    ("99999.99", Decimal("99999.99")),
    ("12,50", Decimal("12.50")),  # a Turkish decimal comma
    ("12.5", Decimal("12.50")),
    ("  7 ", Decimal("7.00")),
])
def test_amounts_accepted(raw, value):
    parsed = parse_amount(raw, LOW, HIGH, "TRY")
    assert parsed == value and str(parsed) == str(value)  # always two decimals


@pytest.mark.parametrize(("raw", "message", "amount"), [
    (None, "Enter an amount.", None),
    ("", "Enter an amount.", None),
    ("   ", "Enter an amount.", None),
    ("abc", TWO_DECIMALS, None),
    ("1.234", TWO_DECIMALS, None),
    ("1e3", TWO_DECIMALS, None),
    ("-5", TWO_DECIMALS, None),
    ("0", "The amount must be more than zero.", None),
    ("0.00", "The amount must be more than zero.", None),
    ("0.99", "The smallest amount is %(amount)s.", LOW),  # one cent under the smallest
    ("100000.01", "The largest amount is %(amount)s.", HIGH),  # one cent over the largest
])
def test_amounts_refused_with_their_message(raw, message, amount):
    with pytest.raises(InputError) as refused:
        parse_amount(raw, LOW, HIGH, "TRY")
    shown = refused.value.plural if refused.value.plural else refused.value.message
    assert shown == message
    assert refused.value.amount == amount


def test_the_limits_themselves_come_from_the_settings():
    assert parse_amount("5", Decimal("5"), Decimal("5"), "TRY") == Decimal("5.00")
    with pytest.raises(InputError):
        parse_amount("4.99", Decimal("5"), Decimal("5"), "TRY")
    with pytest.raises(InputError):
        parse_amount("5.01", Decimal("5"), Decimal("5"), "TRY")


@pytest.mark.parametrize(("raw", "value"), [
    (None, None), ("", None), ("  ", None),
    ("+90 555 123 45 67", "+905551234567"), ("(0555) 123-45-67", None),
])
def test_mobile_numbers(raw, value):
    if raw == "(0555) 123-45-67":
        with pytest.raises(InputError) as refused:
            parse_mobile(raw)
        assert refused.value.message == (
            "Enter the mobile number with its country code, e.g. +90 555 123 45 67.")
        return
    assert parse_mobile(raw) == value


def test_notes_are_tidied_and_limited_at_their_edge():
    assert parse_note(None) is None and parse_note("   ") is None
    assert parse_note("  two\n words ") == "two words"
    assert parse_note("x" * NOTE_MAX) == "x" * NOTE_MAX  # exactly at the limit
    with pytest.raises(InputError) as refused:
        parse_note("x" * (NOTE_MAX + 1))
    assert refused.value.message == "The note can be at most %(max)d characters."
    assert refused.value.params == {"max": 120} and NOTE_MAX == 120


def test_a_tills_reference_is_tidied_and_limited_at_its_edge():
    assert parse_reference(None) is None and parse_reference(" \t ") is None
    assert parse_reference("  receipt\n 42 ") == "receipt 42"
    assert parse_reference("r" * REFERENCE_MAX) == "r" * REFERENCE_MAX  # exactly at the limit
    assert parse_reference(" " + "r" * REFERENCE_MAX + " ") == "r" * REFERENCE_MAX
    for refused in ("r" * (REFERENCE_MAX + 1), "receipt\x0042", "receipt\u200b42", "r\x1b[2J"):
        with pytest.raises(InputError) as error:
            parse_reference(refused)
        assert error.value.message == "The reference can be at most %(max)d characters."
        assert error.value.params == {"max": 64} and REFERENCE_MAX == 64


@pytest.mark.parametrize("amount", ["NaN", "sNaN", "Infinity", "-Infinity", "10.001", "10.0000001"])
def test_an_amount_from_a_till_with_more_than_the_currencys_digits_is_refused(amount):
    """A till sends a number, not the form's text: anything but whole units and cents is refused with
    the form's own message."""
    with pytest.raises(InputError) as refused:
        check_amount(Decimal(amount), Decimal("1"), Decimal("50000"), "TRY")
    assert refused.value.plural == TWO_DECIMALS and refused.value.params == {"num": 2}
    assert check_amount(Decimal("10.10"), Decimal("1"), Decimal("50000"), "TRY") == Decimal("10.10")


@pytest.mark.parametrize(("currency", "raw", "value"), [
    ("JPY", "123", Decimal("123")),  # no decimals at all
    ("JPY", "100000", Decimal("100000")),
    ("KWD", "1.250", Decimal("1.250")),  # three
    ("KWD", "1,25", Decimal("1.250")),
    ("BHD", "99999.999", Decimal("99999.999")),
    ("EUR", "12.5", Decimal("12.50")),
])
def test_an_amount_has_its_currencys_digits(currency, raw, value):
    parsed = parse_amount(raw, LOW, HIGH, currency)
    assert parsed == value and str(parsed) == str(value)


@pytest.mark.parametrize(("currency", "raw", "message", "params"), [
    ("JPY", "123.0", "Enter a whole amount, without decimals.", {}),  # one decimal past none
    ("JPY", "1,5", "Enter a whole amount, without decimals.", {}),
    ("KWD", "1.2505", "Enter the amount with at most %(num)d decimals.", {"num": 3}),  # one past three
    ("EUR", "1.234", "Enter the amount with at most %(num)d decimals.", {"num": 2}),
])
def test_one_decimal_past_the_currencys_digits_is_refused(currency, raw, message, params):
    with pytest.raises(InputError) as refused:
        parse_amount(raw, LOW, HIGH, currency)
    assert (refused.value.plural or refused.value.message) == message
    assert refused.value.params == params


def test_a_tills_amount_in_yen_has_no_decimals_and_in_dinar_three():
    assert check_amount(Decimal("125"), LOW, HIGH, "JPY") == Decimal("125")
    with pytest.raises(InputError):
        check_amount(Decimal("125.5"), LOW, HIGH, "JPY")
    assert str(check_amount(Decimal("1.001"), LOW, HIGH, "KWD")) == "1.001"
    with pytest.raises(InputError):
        check_amount(Decimal("1.0001"), LOW, HIGH, "KWD")
