"""The shop's currency: its digits from Babel, rounding in code half up, Babel only formatting."""

from __future__ import annotations

from decimal import Decimal

import pytest
from babel.numbers import format_currency
from hypothesis import given
from hypothesis import strategies as st

from kiosk import money


@pytest.mark.parametrize(("currency", "digits"), [
    ("JPY", 0), ("KWD", 3), ("BHD", 3), ("TRY", 2), ("EUR", 2), ("USD", 2), ("GBP", 2)])
def test_a_currency_has_the_digits_babel_knows(currency, digits):
    assert money.digits(currency) == digits
    assert money.step(currency) == Decimal(1).scaleb(-digits)


@pytest.mark.parametrize(("code", "known"), [
    ("TRY", True), ("EUR", True), ("JPY", True), ("KWD", True), ("AED", True),
    ("XYZ", False), ("DEM", False),  # no such currency; the mark, no longer tender anywhere
    ("try", False), ("", False)])
def test_only_currencies_in_use_are_known(code, known):
    assert money.is_known(code) is known


@pytest.mark.parametrize(("amount", "currency", "rounded"), [
    ("0.125", "USD", "0.13"),  # Babel alone would write $0.12 (half to even)
    ("0.135", "USD", "0.14"),
    ("0.124999", "USD", "0.12"),  # just under the half
    ("2.5", "JPY", "3"), ("3.5", "JPY", "4"),  # Babel: 2 and 4
    ("1.0005", "KWD", "1.001"), ("1.00049", "KWD", "1.000"),
])
def test_rounding_is_half_up_where_babel_rounds_half_to_even(amount, currency, rounded):
    assert str(money.rounded(Decimal(amount), currency)) == rounded


def test_babel_would_have_rounded_half_to_even_and_the_kiosk_does_not():
    assert format_currency(Decimal("0.125"), "USD", locale="en") == "$0.12"
    assert money.display(Decimal("0.125"), "USD", "en") == "$0.13"
    assert money.display(Decimal("2.5"), "JPY", "en") == "¥3"


@pytest.mark.parametrize(("currency", "language", "text"), [
    ("TRY", "tr", "₺1.234,50"), ("TRY", "en", "₺1,234.50"),  # one sign in every language
    ("EUR", "de", "1.234,50\u00a0€"), ("EUR", "en", "€1,234.50"), ("EUR", "ru", "1\u00a0234,50\u00a0€"),
    ("JPY", "en", "¥1,235"), ("JPY", "tr", "¥1.235"),
    ("KWD", "en", "KWD\u00a01,234.500"),  # a code gets a space, never KWD1,234.500
    ("KWD", "de", "1.234,500\u00a0KWD"),
    ("EUR", "ar", "\u200f1,234.50\u00a0€"),
])
def test_an_amount_reads_in_the_languages_pattern(currency, language, text):
    assert money.display(Decimal("1234.5"), currency, language) == text


def test_direction_marks_never_reach_a_file():
    text = money.display(Decimal("10"), "EUR", "ar")
    assert "\u200f" in text and money.plain(text) == "10.00\u00a0€"


@pytest.mark.parametrize("currency", ["TRY", "EUR", "JPY", "KWD", "AED"])
@pytest.mark.parametrize("language", ["tr", "en", "de", "ru", "ar"])
def test_the_keypads_format_writes_what_the_server_writes(currency, language):
    """kiosk.js builds the text from these pieces: rebuilt here the same way, it matches Babel's."""
    k = money.keypad_format(currency, language)
    places = int(k["digits"])
    for amount in ("0", "1", "12.5", "1234", "1234567.891"):
        value = money.rounded(Decimal(amount), currency)
        whole, _, frac = f"{value:f}".partition(".")
        grouped = f"{int(whole):,}".replace(",", k["group"])
        text = k["prefix"] + grouped + (k["decimal"] + frac if places else "") + k["suffix"]
        assert text == money.display(value, currency, language)


@given(st.decimals(min_value=0, max_value=10**7, allow_nan=False, allow_infinity=False, places=6),
       st.sampled_from(["TRY", "EUR", "JPY", "KWD", "BHD"]))
def test_every_rounded_amount_is_in_its_currencys_digits(amount, currency):
    value = money.rounded(amount, currency)
    assert money.is_exact(value, currency) and -value.as_tuple().exponent == money.digits(currency)
    assert abs(value - amount) <= money.step(currency) / 2


@given(st.lists(st.tuples(st.integers(1, 99), st.integers(1, 10**6)), min_size=1, max_size=20),
       st.sampled_from(["TRY", "JPY", "KWD"]))
def test_lines_in_the_currencys_digits_add_up_to_their_total_exactly(lines, currency):
    """Each line's unit amount is a whole number of the currency's steps: the sum of the parts is
    the total, never a rounding away from it."""
    step = money.step(currency)
    totals = [quantity * money.rounded(units * step, currency) for quantity, units in lines]
    total = sum(totals, Decimal(0))
    assert money.is_exact(total, currency)
    assert total == sum(quantity * units for quantity, units in lines) * step


@pytest.mark.parametrize(("amount", "currency", "sent"), [
    ("300", "TRY", "300.00"), ("123", "JPY", "123"), ("1.25", "KWD", "1.250"), ("0.125", "USD", "0.13")])
def test_upstream_gets_the_amount_to_the_currencys_digits(amount, currency, sent):
    from kiosk.cryptom.wire import dump_json

    assert dump_json({"currencyAmount": money.wire(Decimal(amount), currency)}) == (
        f'{{"currencyAmount": {sent}}}')


def test_every_known_currencys_sign_is_the_one_cldr_gives():
    # The table of signs saves a worker CLDR's data of five languages: it must say what they say.
    assert {code: money.symbol(code) for code in money.known()} == {
        code: money.cldr_symbol(code) for code in money.known()}
    assert money.symbol("TRY") == "₺" and money.symbol("KWD") == "KWD"
