"""Checking what the amount form sends. Anything can post it, so nothing is trusted."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from .. import money

_AMOUNT = re.compile(r"[0-9]{1,9}(?:[.,]([0-9]+))?")
_MOBILE = re.compile(r"\+?[1-9][0-9]{9,14}")
NOTE_MAX = 120


def N_(message: str) -> str:  # noqa: N802 - marks a message for translation, translated later
    return message


def Nn_(singular: str, plural: str) -> tuple[str, str]:  # noqa: N802 - the same, with a plural form
    return singular, plural


class InputError(ValueError):
    """Bad input; the message (English, translated by the screen) is shown on the same screen.
    `amount` fills its %(amount)s, formatted by the screen for the customer's locale. A message
    with a `plural` form is chosen by its `num` parameter (ngettext)."""

    def __init__(self, message: str, amount: Decimal | None = None, *, plural: str | None = None,
                 **params: object) -> None:
        super().__init__(message)
        self.message = message
        self.amount = amount
        self.plural = plural
        self.params = params


def digits_error(currency: str) -> InputError:
    """The amount has more decimals than the currency counts (or is no amount at all)."""
    places = money.digits(currency)
    if places == 0:
        return InputError(N_("Enter a whole amount, without decimals."))
    singular, plural = Nn_("Enter the amount with at most %(num)d decimal.",
                           "Enter the amount with at most %(num)d decimals.")
    return InputError(singular, plural=plural, num=places)


def parse_amount(raw: str | None, low: Decimal, high: Decimal, currency: str) -> Decimal:
    """The amount typed, in the shop's currency: at most its digits (none for JPY, three for KWD)."""
    text = (raw or "").strip()
    if not text:
        raise InputError(N_("Enter an amount."))
    match = _AMOUNT.fullmatch(text)
    if not match or len(match.group(1) or "") > money.digits(currency):
        raise digits_error(currency)
    try:
        amount = Decimal(text.replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the pattern already refuses these
        raise digits_error(currency) from None
    return check_amount(amount, low, high, currency)


def check_amount(amount: Decimal, low: Decimal, high: Decimal, currency: str) -> Decimal:
    """An amount already a Decimal (from a till, say): positive, in the currency's digits,
    within limits."""
    if not amount.is_finite():
        raise digits_error(currency)
    if amount <= 0:
        raise InputError(N_("The amount must be more than zero."))
    if amount < low:
        raise InputError(N_("The smallest amount is %(amount)s."), low)
    if amount > high:
        raise InputError(N_("The largest amount is %(amount)s."), high)
    if not money.is_exact(amount, currency):  # bounded above, so rounding cannot overflow
        raise digits_error(currency)
    return money.rounded(amount, currency)


def parse_mobile(raw: str | None) -> str | None:
    text = re.sub(r"[\s()-]", "", raw or "")
    if not text:
        return None
    if not _MOBILE.fullmatch(text):
        raise InputError(N_("Enter the mobile number with its country code, e.g. +90 555 123 45 67."))
    return text


def parse_note(raw: str | None) -> str | None:
    text = " ".join((raw or "").split())
    if len(text) > NOTE_MAX:
        raise InputError(N_("The note can be at most %(max)d characters."), max=NOTE_MAX)
    return text or None



REFERENCE_MAX = 64


def parse_reference(raw: str | None) -> str | None:
    """The till's own reference for a sale (a receipt number): shown to staff, never to upstream."""
    text = " ".join((raw or "").split())
    if len(text) > REFERENCE_MAX or not text.isprintable():
        raise InputError(N_("The reference can be at most %(max)d characters."), max=REFERENCE_MAX)
    return text or None
