"""Money in code: a Decimal, rounded half up to its currency's digits. Babel only says how many
digits a currency has (ISO 4217: 2 for TRY and EUR, 0 for JPY, 3 for KWD) and formats."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import get_currency_precision


def digits(currency: str) -> int:
    """The currency's minor-unit digits (an unknown code: 2)."""
    return int(get_currency_precision(currency.upper()))


def step(currency: str) -> Decimal:
    """The smallest amount of the currency: 0.01 for TRY, 1 for JPY."""
    return Decimal(1).scaleb(-digits(currency))


def rounded(amount: Decimal, currency: str) -> Decimal:
    """`amount` to the currency's digits, half up (0.005 lira is 0.01)."""
    return amount.quantize(step(currency), rounding=ROUND_HALF_UP)
